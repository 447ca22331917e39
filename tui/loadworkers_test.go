package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

const distYAML = `apiVersion: cockpit/v1
kind: Runbook
metadata: {name: distributed-load}
clusters:
  lt: {context: loadtest, namespace: gravl-loadtest}
phases:
- id: load
  steps:
  - id: peak
    load:
      executor: constant-arrival-rate
      rate: 300
      duration: 10s
      baseURL: http://backend.gravl-prod.svc:3000
      requests: [{url: /health}]
      thresholds: {http_req_failed: ["rate<0.01"]}
      workers: {count: 3, cluster: lt, image: cockpit:test}
`

// distEngine is a run of one distributed load step, planned and
// confirmed: the step runs.
func distEngine(t *testing.T) *engine {
	t.Helper()
	rb, err := runbook.Parse("dist.yaml", []byte(distYAML), runbook.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &engine{t: t, s: runbook.NewState(rb), now: t0, runs: map[string]uint64{}}
	e.apply(runbook.Started{Operator: "lead", AllowActions: true})
	e.apply(runbook.AccessReviewed{Phase: "load", Result: probes.Result{Status: probes.StatusPass}})
	plan := actions.Result{Cleanup: "gravl-loadtest/cockpit-load-abc123"}
	plan.Status, plan.ObservedAt = probes.StatusPass, e.now
	e.apply(runbook.ActionPlanned{Step: "peak", RunID: e.runs["peak"], Result: plan})
	e.apply(runbook.Confirmed{Step: "peak", Operator: "lead"})
	pi, si, _ := e.s.Find("peak")
	if ss := e.s.Phases[pi].Steps[si]; ss.Status != runbook.StepRunning || ss.LoadRun == "" {
		t.Fatalf("confirmed, the step is %s (run %q): want it running", ss.Status, ss.LoadRun)
	}
	e.runs["peak"] = e.s.Phases[pi].Steps[si].RunID
	return e
}

// interval is interval i of the step's run, merged from merged of the
// three workers, missing those named.
func (e *engine) interval(i, merged int, missing ...int) StateMsg {
	e.advanceClock(time.Second)
	return e.apply(runbook.LoadInterval{Step: "peak", RunID: e.runs["peak"], Interval: loader.Interval{Index: i},
		Workers: 3, Merged: merged, Missing: missing})
}

// The load pane of a distributed step says how many workers report,
// who is missing from which interval on, and, after the verdict, who was
// lost and why; a local load step's pane has no workers line.
func TestLoadPaneDistributedWorkers(t *testing.T) {
	e := distEngine(t)
	m := newTestModel(e, 120, 40, Options{})
	runID := e.runs["peak"]
	if runID == 0 {
		t.Fatalf("the step never started: %+v", e.s.Phases[0].Steps[0])
	}
	for i := 0; i < 4; i++ {
		m.Update(e.interval(i, 3))
		m.Update(LoadMsg{Step: "peak", Snapshot: loadSnap(i+1, time.Duration(i+1)*time.Second, 40*time.Millisecond, 0)})
	}
	scr := screen(m)
	if !strings.Contains(scr, "workers: 3 of 3 workers reporting") || strings.Contains(scr, "missing") {
		t.Errorf("all reporting: the pane lacks %q or names a missing worker:\n%s", "3 of 3 workers reporting", scr)
	}
	golden(t, "load-workers-120x40", scr)

	// Worker 1 stops reporting from interval 4 on.
	for i := 4; i < 7; i++ {
		m.Update(e.interval(i, 2, 1))
		m.Update(LoadMsg{Step: "peak", Snapshot: loadSnap(i+1, time.Duration(i+1)*time.Second, 40*time.Millisecond, 0)})
	}
	m.Update(e.interval(2, 3))                                                                                                          // an older interval merged late changes nothing
	m.Update(e.apply(runbook.LoadInterval{Step: "peak", RunID: runID - 1, Interval: loader.Interval{Index: 9}, Workers: 3, Merged: 3})) // nor another run's
	scr = screen(m)
	if want := "workers: 2 of 3 reporting in interval 6 · worker 1 missing since interval 4"; !strings.Contains(scr, want) {
		t.Errorf("the pane lacks %q:\n%s", want, scr)
	}
	golden(t, "load-workers-missing-120x40", scr)

	// The verdict: worker 1 lost, with the cluster's reason.
	rep := &runbook.LoadWorkersReport{Run: "gravl-loadtest/cockpit-load-abc123", Workers: 3, Reporting: 2, Intervals: 10, Incomplete: 6,
		Lost: []runbook.LostWorker{{Worker: 1, From: 4, Reason: "pod cockpit-load-abc123-1-x deleted"}}}
	e.advanceClock(time.Second)
	deleted := runbook.LoadWorkersChanged{Step: "peak", RunID: runID, Run: rep.Run, What: runbook.LoadDeleted}
	deleted.Result.Status = probes.StatusPass
	m.Update(e.apply(deleted))
	m.Update(e.apply(runbook.LoadResult{Step: "peak", RunID: runID, Workers: rep,
		Result: probes.Result{Status: probes.StatusWarn, Summary: "2 of 3 workers reporting", ObservedAt: e.now}}))
	m.Update(LoadMsg{Step: "peak", Snapshot: func() loader.Snapshot {
		s := loadSnap(11, 10*time.Second, 40*time.Millisecond, 0)
		s.Done, s.Reason = true, loader.ReasonDuration
		return s
	}()})
	scr = strings.Join(strings.Fields(screen(m)), " ")
	if want := "workers: 2 of 3 workers reporting · worker 1 lost from interval 4 (pod cockpit-load-abc123-1-x deleted)"; !strings.Contains(scr, want) {
		t.Errorf("after the verdict the pane lacks %q:\n%s", want, screen(m))
	}
	if line, warn := m.run.workers["peak"].line(); !warn || !strings.HasSuffix(line, "· 6 of 10 intervals merged without a worker that owed them: not the whole test's figures") {
		t.Errorf("after the verdict the workers line is %q (warning %v)", line, warn)
	}
	golden(t, "load-workers-lost-120x40", screen(m))

	// A new run of the step starts without the last one's workers.
	m.Update(LoadMsg{Step: "peak", Snapshot: loadSnap(1, time.Second, 40*time.Millisecond, 0)})
	if scr := screen(m); strings.Contains(scr, "workers:") {
		t.Errorf("a new run shows the last run's workers:\n%s", scr)
	}
}

// A load step run in the cockpit has no workers line.
func TestLoadPaneLocalHasNoWorkers(t *testing.T) {
	m := newTestModel(preflightFailing(t), 160, 48, Options{})
	for i := 1; i <= 3; i++ {
		m.Update(LoadMsg{Step: "health", Snapshot: loadSnap(i, time.Duration(i)*time.Second, 40*time.Millisecond, 0)})
	}
	if scr := screen(m); strings.Contains(scr, "workers") || !strings.Contains(scr, "load · health") {
		t.Errorf("a local load pane:\n%s", scr)
	}
}
