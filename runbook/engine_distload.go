package runbook

import (
	"fmt"

	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// Distributed load steps in the engine. A load step with workers: creates
// objects in a cluster (a Job, a ConfigMap, a ServiceAccount, a Role and
// its RoleBinding), so it goes the way of a mutating action: dry-run
// (PlanAction: a server-side dry run of the objects, ActionPlanned), then
// confirmed in a run started with --allow-actions, then run (StartLoad).
// The confirmed plan names the run (its Cleanup: "namespace/name"); the
// engine keeps it as the step's LoadRun from the confirmation — before
// anything is created — until the runner reports the run's objects
// deleted (LoadWorkersChanged). A run the cockpit died in is found that way on
// resume: its objects are deleted (CleanupLoad) before the step is
// planned and run again.

// LoadWorkersChanged is what a distributed load step did to the cluster: its
// run's objects created, or deleted (when the step ended, was aborted, or
// found orphaned on resume). Journaled as a change, listed in the
// sign-off's changes made.
type LoadWorkersChanged struct {
	Step  string `json:"step"`
	RunID uint64 `json:"runId,omitempty"`
	// Run is the run's "namespace/name".
	Run string `json:"run"`
	// What is LoadCreated, LoadDeleted or LoadOrphansDeleted.
	What   string         `json:"what"`
	Result actions.Result `json:"result"`
}

// LoadWorkersChanged.What values.
const (
	LoadCreated        = "created"
	LoadDeleted        = "deleted"
	LoadOrphansDeleted = "orphans deleted"
)

// EventType names the event in the journal.
func (LoadWorkersChanged) EventType() string { return "load.workers" }
func (e LoadWorkersChanged) stepOf() string  { return e.Step }

// LoadWorkersReport is how a distributed load step's workers reported,
// carried by its LoadResult: "3 of 3 workers reporting", the lost ones
// and why, and how many merged intervals lack a worker that owed them —
// figures computed without a worker are never passed off as complete.
type LoadWorkersReport struct {
	// Run is the run's "namespace/name".
	Run string `json:"run"`
	// Workers is how many the run had; Reporting how many reported to the
	// end; MinWorkers the step's minWorkers (0: none).
	Workers    int `json:"workers"`
	Reporting  int `json:"reporting"`
	MinWorkers int `json:"minWorkers,omitempty"`
	// Lost are the workers lost, with their reasons.
	Lost []LostWorker `json:"lost,omitempty"`
	// Intervals merged, and how many of them lack a worker that owed them.
	Intervals  int `json:"intervals"`
	Incomplete int `json:"incomplete,omitempty"`
}

// LostWorker is a worker a distributed run lost.
type LostWorker struct {
	Worker int `json:"worker"`
	// From is the first interval merged without it.
	From   int    `json:"from"`
	Reason string `json:"reason,omitempty"`
}

// Complete reports whether every worker reported every interval it owed.
func (r *LoadWorkersReport) Complete() bool { return len(r.Lost) == 0 && r.Incomplete == 0 }

// String is "3 of 3 workers reporting", then the lost workers and the
// incomplete intervals.
func (r *LoadWorkersReport) String() string {
	s := fmt.Sprintf("%d of %d workers reporting", r.Reporting, r.Workers)
	for _, l := range r.Lost {
		s += fmt.Sprintf(" · worker %d lost from interval %d", l.Worker, l.From)
		if l.Reason != "" {
			s += " (" + l.Reason + ")"
		}
	}
	if r.Incomplete > 0 {
		s += fmt.Sprintf(" · %d of %d intervals merged without a worker that owed them: not the whole test's figures", r.Incomplete, r.Intervals)
	}
	return s
}

// CleanupLoad deletes what a distributed load step's run left (Run:
// "namespace/name"), found on resume; the result comes back as a
// LoadWorkersChanged with What LoadOrphansDeleted.
type CleanupLoad struct {
	Step string
	Run  string
}

func (CleanupLoad) isEffect() {}

// loadWorkers records a distributed load step's change to the cluster:
// once its run's objects are deleted, there is nothing left to find on
// resume. Taken after the run ends too: what a run left is deleted then.
func (e *engine) loadWorkers(ev LoadWorkersChanged) {
	pi, si, ok := e.s.Find(ev.Step)
	if !ok {
		return
	}
	ss := &e.s.Phases[pi].Steps[si]
	if ev.What != LoadCreated && ss.LoadRun == ev.Run {
		ss.LoadRun = "" // deleted, or what is left is named in the event
	}
}

// resumeLoads asks to delete the objects of the distributed load runs that
// were out when the previous process died.
func (e *engine) resumeLoads() {
	for pi := range e.s.Phases {
		for si := range e.s.Phases[pi].Steps {
			if ss := &e.s.Phases[pi].Steps[si]; ss.LoadRun != "" {
				e.emit(CleanupLoad{Step: ss.ID, Run: ss.LoadRun})
			}
		}
	}
}
