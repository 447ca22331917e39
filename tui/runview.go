package tui

import (
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// runView is the run as the panes draw it. The root keeps it and hands a
// copy to every pane after each change (runViewMsg): the engine's latest
// state, the phase shown and the step selected (the steps pane's), the
// run's mode, whether the load pane has a band of its own, the load runs
// and the executing actions' interim results.
type runView struct {
	state    runbook.State
	hasState bool

	phase int // the phase shown in the step list
	sel   int // the selected step of the shown phase

	// actions is the run's mode: the engine's once the run has started,
	// the command line's before.
	actions bool
	// loadBand is set when the load pane has a band of its own; without
	// it a load step's numbers take the detail pane.
	loadBand bool

	loads    map[string]*loadState
	lastLoad string
	// workers is what a distributed load step's intervals and verdict
	// say of its workers.
	workers map[string]*workersState
	// progress is the latest interim result of each executing action.
	progress map[string]*actions.Result
}

func newRunView() runView {
	return runView{loads: map[string]*loadState{}, workers: map[string]*workersState{}, progress: map[string]*actions.Result{}}
}

// selected returns the selected step's runbook entry and state.
func (v *runView) selected() (*runbook.Step, *runbook.StepState, bool) {
	if !v.hasState {
		return nil, nil, false
	}
	ph := &v.state.Runbook.Phases[v.phase]
	if v.sel < 0 || v.sel >= len(ph.Steps) {
		return nil, nil, false
	}
	return &ph.Steps[v.sel], &v.state.Phases[v.phase].Steps[v.sel], true
}

// step returns a step's runbook entry and state by id.
func (v *runView) step(id string) (*runbook.Step, *runbook.StepState, bool) {
	pi, si, ok := v.state.Find(id)
	if !ok {
		return nil, nil, false
	}
	return &v.state.Runbook.Phases[pi].Steps[si], &v.state.Phases[pi].Steps[si], true
}

// loadTarget is the load step the load pane shows and its keys act on:
// the selected step if it has load data, else the latest one seen.
func (v *runView) loadTarget() *loadState {
	if st, _, ok := v.selected(); ok {
		if ls := v.loads[st.ID]; ls != nil {
			return ls
		}
	}
	return v.loads[v.lastLoad]
}

// addLoad takes a load snapshot, keeping keep seconds of sparklines, and
// reports whether it was kept. Snapshots of a step the runbook does not
// have, and older ones than shown, are dropped; a new run of a step (Seq
// back to 1) starts its sparklines afresh.
func (v *runView) addLoad(msg LoadMsg, keep int) bool {
	if msg.Step == "" {
		return false
	}
	if v.hasState {
		if _, _, ok := v.state.Find(msg.Step); !ok {
			return false
		}
	}
	ls := v.loads[msg.Step]
	if ls != nil && msg.Snapshot.Seq <= ls.snap.Seq && msg.Snapshot.Seq != 1 {
		return false
	}
	if ls == nil || msg.Snapshot.Seq == 1 && ls.snap.Seq > 1 {
		if ws := v.workers[msg.Step]; ws != nil && ws.final != nil {
			delete(v.workers, msg.Step) // a new run: the last one's workers are its verdict's
		}
		ls = newLoadState(msg.Step, keep)
		v.loads[msg.Step] = ls
	}
	ls.workers = v.workers[msg.Step]
	ls.add(msg.Snapshot)
	v.lastLoad = msg.Step
	return true
}

// addProgress keeps an executing action's interim result.
func (v *runView) addProgress(msg ProgressMsg) {
	if !v.hasState {
		return
	}
	if _, ss, ok := v.step(msg.Step); !ok || ss.Status != runbook.StepRunning {
		return // late: its result has landed
	}
	res := msg.Result
	v.progress[msg.Step] = &res
}

// pruneProgress drops the progress of steps no longer running.
func (v *runView) pruneProgress() {
	for id := range v.progress {
		if _, ss, ok := v.step(id); !ok || ss.Status != runbook.StepRunning {
			delete(v.progress, id)
		}
	}
}
