package runbook

import (
	"slices"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// One narration for every front end: each event's lines, with the step
// whose status it changed, and the phases it entered and left.
func TestNarrate(t *testing.T) {
	m := newSim(t, closingRunbook)
	var got []string
	do := func(ev Event) {
		prev := m.s
		effs := m.do(ev)
		for _, ln := range Narrate(prev, m.s, At{Time: m.now, Event: ev}, effs) {
			got = append(got, ln.Phase+"|"+ln.Step+"|"+ln.Text())
		}
	}
	do(Started{Operator: "lead", Headless: true})
	do(ProbeResult{Step: "smoke", RunID: m.runs["smoke"], Result: probes.Result{Status: probes.StatusPass, Summary: "200 OK"}})
	do(Confirmed{Step: "rollout", Operator: "lead", Note: "x"}) // refused: not a manual step
	do(ProbeResult{Step: "rollout", RunID: m.runs["rollout"], Result: probes.Result{Status: probes.StatusPending, Summary: "1 of 2 updated"}})
	m.now = m.now.Add(10 * time.Minute)
	do(Tick{})
	do(Overridden{Step: "rollout", Operator: "lead", Reason: "OPS-1"})
	do(Advance{Operator: "lead"})
	want := []string{
		"||run started by lead (headless, read-only)",
		"deploy||phase entered",
		"deploy|smoke|pass: 200 OK",
		"deploy|smoke|passed: 200 OK",
		`deploy||step.confirmed refused: step "rollout" is not a manual step`,
		"deploy|rollout|pending: 1 of 2 updated",
		"deploy|rollout|failed: not settled when the window closed — last: 1 of 2 updated",
		"deploy|rollout|OVERRIDDEN by lead: OPS-1",
		"deploy||phase left, gate warn: 0 warned, 1 overridden",
		"monitor||phase entered",
	}
	if !slices.Equal(got, want) {
		t.Errorf("narration:\n%q\nwant\n%q", got, want)
	}
}

// A distributed load run's objects created and deleted are narrated as
// actions, the cleanup's failure with what is left.
func TestNarrateLoadWorkers(t *testing.T) {
	m := newSim(t, closingRunbook)
	m.do(Started{Operator: "lead", Headless: true})
	tests := []struct {
		ev   LoadWorkersChanged
		want string
	}{
		{LoadWorkersChanged{Step: "smoke", Run: "lt/cockpit-load-1", What: LoadCreated, Result: actions.Result{Result: probes.Result{
			Status: probes.StatusPass, Summary: "created load run cockpit-load-1 in lt: 2 worker(s)"}}},
			"deploy|smoke|load workers: created load run cockpit-load-1 in lt: 2 worker(s)|"},
		{LoadWorkersChanged{Step: "smoke", Run: "lt/cockpit-load-1", What: LoadDeleted, Result: actions.Result{Result: probes.Result{
			Status: probes.StatusFail, Summary: "load run cockpit-load-1 in lt: not everything was deleted", Message: "still there after 1m0s: pods/x"}}},
			"deploy|smoke|load workers: load run cockpit-load-1 in lt: not everything was deleted|still there after 1m0s: pods/x"},
	}
	for _, tt := range tests {
		var got []string
		for _, ln := range Narrate(m.s, m.s, At{Time: m.now, Event: tt.ev}, nil) {
			if ln.Kind != LineAction {
				t.Errorf("%q: kind %d, want LineAction", ln.Text(), ln.Kind)
			}
			got = append(got, ln.Phase+"|"+ln.Step+"|"+ln.Text()+"|"+ln.Detail)
		}
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("narration %q, want %q", got, tt.want)
		}
	}
}
