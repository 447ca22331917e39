package runbook_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/runbooktest"
)

// PropertyRunbook has what window ends, retries, needs and manual steps
// can meet; property tests here and in the sign-off run it.
const propertyRunbook = `
apiVersion: cockpit/v1
kind: Runbook
metadata: {name: property-test}
phases:
- id: deploy
  duration: 10m
  steps:
  - id: approved
    manual: {prompt: "Approved?"}
  - id: rollout
    every: 1m
    failAfter: 3
    needs: [approved]
    probe: {kind: http, url: "http://127.0.0.1:1/rollout"}
  - id: smoke
    optional: true
    retries: 2
    probe: {kind: http, url: "http://127.0.0.1:1/smoke"}
- id: monitor
  duration: 5m
  steps:
  - id: errors
    every: 30s
    failAfter: 2
    probe: {kind: http, url: "http://127.0.0.1:1/errors"}
  - id: once
    probe: {kind: http, url: "http://127.0.0.1:1/once"}
`

// passedWithoutEvidence names the first step of s that is passed or warned
// while its last observation did not pass (or warn), "" if none.
func passedWithoutEvidence(s runbook.State) string {
	for pi, ps := range s.Phases {
		for si, ss := range ps.Steps {
			if s.Runbook.Phases[pi].Steps[si].Manual != nil {
				continue // a confirmation is its evidence
			}
			switch {
			case ss.Status == runbook.StepPassed && (!ss.HasResult || ss.Last.Status != probes.StatusPass):
				return fmt.Sprintf("%s passed, last observation %s (has result: %v)", ss.ID, ss.Last.Status, ss.HasResult)
			case ss.Status == runbook.StepWarned && (!ss.HasResult || !ss.Last.Status.OK()):
				return fmt.Sprintf("%s warned, last observation %s", ss.ID, ss.Last.Status)
			}
		}
	}
	return ""
}

// For every generated run, after every event: no step is passed unless
// its last observation passed.
func TestPropertyNoPassWithoutPassingObservation(t *testing.T) {
	rb, err := runbook.Parse("property.yaml", []byte(propertyRunbook), runbook.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(2000) {
		events := runbooktest.RandomRun(rand.New(rand.NewPCG(seed, 0x5eed)), rb, 80)
		s := runbook.NewState(rb)
		for i, at := range events {
			s, _ = runbook.Apply(s, at)
			if bad := passedWithoutEvidence(s); bad != "" {
				t.Fatalf("seed %d, after event %d: %s\nevents:\n%s", seed, i, bad, describe(events[:i+1]))
			}
		}
	}
}

func describe(events []runbook.At) string {
	var b strings.Builder
	for _, at := range events {
		fmt.Fprintf(&b, "  %s %s %+v\n", at.Time.Format("15:04:05"), at.Event.EventType(), at.Event)
	}
	return b.String()
}
