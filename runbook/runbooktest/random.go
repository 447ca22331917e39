package runbooktest

import (
	"math/rand/v2"
	"time"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
)

// RandomRun drives the engine through a random run of rb and returns the
// events it applied, in order, with their times: probe results of every
// status (stale ones too), ticks that pass windows, re-runs, step and gate
// overrides, advances, restarts after a crash and aborts. Every event the
// engine refused is among them too, as in a real journal.
func RandomRun(rng *rand.Rand, rb *runbook.Runbook, n int) []runbook.At {
	statuses := []probes.Status{probes.StatusPass, probes.StatusWarn, probes.StatusFail,
		probes.StatusError, probes.StatusPending, probes.StatusForbidden}
	now := time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)
	s := runbook.NewState(rb)
	var out []runbook.At
	var lastRun uint64
	apply := func(ev runbook.Event) {
		at := runbook.At{Time: now, Event: ev}
		var effects []runbook.Effect
		s, effects = runbook.Apply(s, at)
		for _, e := range effects {
			if sp, ok := e.(runbook.StartProbe); ok {
				lastRun = max(lastRun, sp.RunID)
			}
		}
		out = append(out, at)
	}
	apply(runbook.Started{Operator: "lead"})
	for range n {
		if s.Finished() {
			break
		}
		ps := s.Phases[s.Current]
		ss := ps.Steps[rng.IntN(len(ps.Steps))]
		switch k := rng.IntN(1000); {
		case k < 400: // a result for what is out or, now and then, a stale one
			run := ss.RunID
			if rng.IntN(10) == 0 {
				run = uint64(rng.IntN(int(lastRun) + 2))
			}
			st := statuses[rng.IntN(len(statuses))]
			apply(runbook.ProbeResult{Step: ss.ID, RunID: run,
				Result: probes.Result{Status: st, Summary: "saw " + st.String(), ObservedAt: now}})
		case k < 680:
			now = now.Add(time.Duration(rng.IntN(180)) * time.Second)
			apply(runbook.Tick{})
		case k < 720:
			apply(runbook.RunStep{Step: ss.ID})
		case k < 760:
			apply(runbook.Overridden{Phase: ps.ID, Operator: "lead", Reason: "accepted"})
		case k < 790:
			apply(runbook.Overridden{Step: ss.ID, Operator: "lead", Reason: "accepted"})
		case k < 860:
			apply(runbook.Confirmed{Step: ss.ID, Operator: "lead", Note: "done"})
		case k < 975:
			apply(runbook.Advance{Operator: "lead"})
		case k < 995:
			now = now.Add(time.Duration(rng.IntN(900)) * time.Second)
			apply(runbook.Resumed{Operator: "lead", Events: len(out)})
		default:
			apply(runbook.Aborted{Operator: "lead", Reason: "enough"})
		}
	}
	return out
}
