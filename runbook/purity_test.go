package runbook_test

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/runbooktest"
)

// Two states built apart from the same events are equal, and stay so —
// compared structurally, through every pointer and slice — after one of
// them is handed to Apply: Apply changes nothing it is given.
func TestEngineApplyIsPure(t *testing.T) {
	rb, err := runbook.Parse("property.yaml", []byte(propertyRunbook), runbook.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(200) {
		events := runbooktest.RandomRun(rand.New(rand.NewPCG(seed, 0x9e)), rb, 60)
		a, b := runbook.NewState(rb), runbook.NewState(rb)
		for i, at := range events {
			runbook.Apply(a, at)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("seed %d: Apply of event %d (%s) changed the state it was given", seed, i, at.Event.EventType())
			}
			a, _ = runbook.Apply(a, at)
			b, _ = runbook.Apply(b, at)
		}
	}
}
