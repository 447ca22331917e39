package runbook

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/probes"
)

// RandomRun drives the engine through a random run of closingRunbook:
// random results (stale ones too), ticks, window ends, re-runs, overrides,
// advances, aborts and restarts. It returns the events applied, in order,
// with their times. Other packages' property tests replay them too.
func RandomRun(rng *rand.Rand, rb *Runbook, n int) []At {
	statuses := []probes.Status{probes.StatusPass, probes.StatusWarn, probes.StatusFail, probes.StatusError, probes.StatusPending, probes.StatusForbidden}
	now := time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)
	s := NewState(rb)
	var out []At
	apply := func(ev Event) {
		at := At{Time: now, Event: ev}
		s, _ = Apply(s, at)
		out = append(out, at)
	}
	apply(Started{Operator: "lead"})
	for range n {
		if s.Finished() {
			break
		}
		ps := s.Phases[s.Current]
		ss := ps.Steps[rng.IntN(len(ps.Steps))]
		switch k := rng.IntN(100); {
		case k < 45: // a result for what is out (or, now and then, a stale one)
			run := ss.RunID
			if rng.IntN(10) == 0 {
				run = uint64(rng.IntN(int(s.nextRun) + 2))
			}
			st := statuses[rng.IntN(len(statuses))]
			apply(ProbeResult{Step: ss.ID, RunID: run, Result: probes.Result{Status: st, Summary: "saw " + st.String(), ObservedAt: now}})
		case k < 75:
			now = now.Add(time.Duration(rng.IntN(180)) * time.Second)
			apply(Tick{})
		case k < 80:
			apply(RunStep{Step: ss.ID})
		case k < 85:
			apply(Overridden{Phase: ps.ID, Operator: "lead", Reason: "accepted"})
		case k < 88:
			apply(Overridden{Step: ss.ID, Operator: "lead", Reason: "accepted"})
		case k < 95:
			apply(Advance{Operator: "lead"})
		case k < 97:
			now = now.Add(time.Duration(rng.IntN(900)) * time.Second)
			apply(Resumed{Operator: "lead", Events: len(out)})
		default:
			apply(Aborted{Operator: "lead", Reason: "enough"})
		}
	}
	return out
}

// PassedOnEvidence reports the first step of s that is passed or warned
// while its last observation did not pass (or warn), "" if none.
func PassedOnEvidence(s State) string {
	for pi, ps := range s.Phases {
		for si, ss := range ps.Steps {
			st := &s.Runbook.Phases[pi].Steps[si]
			if st.Manual != nil {
				continue // a confirmation is its evidence
			}
			switch ss.Status {
			case StepPassed:
				if !ss.HasResult || ss.Last.Status != probes.StatusPass {
					return fmt.Sprintf("%s passed, last observation %s (has result: %v)", ss.ID, ss.Last.Status, ss.HasResult)
				}
			case StepWarned:
				if !ss.HasResult || !ss.Last.Status.OK() {
					return fmt.Sprintf("%s warned, last observation %s", ss.ID, ss.Last.Status)
				}
			}
		}
	}
	return ""
}

// For every generated run: no step is passed unless its last observation
// passed, after every event.
func TestPropertyNoPassWithoutPassingObservation(t *testing.T) {
	rb := mustParse(t, closingRunbook)
	for seed := range uint64(2000) {
		events := RandomRun(rand.New(rand.NewPCG(seed, 0x5eed)), rb, 60)
		s := NewState(rb)
		for i, at := range events {
			s, _ = Apply(s, at)
			if bad := PassedOnEvidence(s); bad != "" {
				t.Fatalf("seed %d, after event %d (%s %+v): %s\nevents:\n%s", seed, i, at.Event.EventType(), at.Event, bad, describeEvents(events[:i+1]))
			}
		}
	}
}

func describeEvents(events []At) string {
	var b strings.Builder
	for _, at := range events {
		fmt.Fprintf(&b, "  %s %s %+v\n", at.Time.Format("15:04:05"), at.Event.EventType(), at.Event)
	}
	return b.String()
}
