package runbook

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
)

// A load control that did not reach the load test is journaled and
// narrated beside the operator's decision — "load rate 90 NOT APPLIED"
// with the reason — and changes no state: the cockpit never shows a change
// that did not happen as made.
func TestLoadControlFailedIsToldAndChangesNothing(t *testing.T) {
	m := newSim(t, closingRunbook)
	m.do(Started{Operator: "lead"})
	ev := LoadControlFailed{Step: "smoke", Op: LoadRate, Value: 90, Error: `patch configmaps "x": configmaps "x" not found`}
	prev := m.s
	effs := m.do(ev)
	if len(effs) != 0 {
		t.Errorf("effects %v, want none", effs)
	}
	if !reflect.DeepEqual(prev.Phases, m.s.Phases) {
		t.Error("the state changed")
	}
	var got []string
	for _, ln := range Narrate(prev, m.s, At{Time: m.now, Event: ev}, effs) {
		got = append(got, ln.Phase+"|"+ln.Step+"|"+ln.Text())
	}
	want := []string{`deploy|smoke|load rate 90 NOT APPLIED: patch configmaps "x": configmaps "x" not found`}
	if !slices.Equal(got, want) {
		t.Errorf("narration %q, want %q", got, want)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	back, err := decodeEvent(ev.EventType(), b)
	if err != nil || back != Event(ev) {
		t.Errorf("journal round trip: %#v, %v; want %#v", back, err, ev)
	}
}
