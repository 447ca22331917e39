package runbook

import (
	"fmt"
	"strings"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// Actions in the engine. A mutating action is dry-run (PlanAction) as soon
// as its needs have passed; the plan waits for the operator's confirmation,
// which is refused in a read-only run and whenever the plan is missing,
// out of date or failed. Only then is it executed (ExecuteAction). A
// mutating action is never repeated unasked: not by retries, not on
// resume. An action that changes nothing runs like a probe.

// untilSpec is implemented by action specs whose effect is taken back when
// a phase ends (a silence until the end of the monitor phase).
type untilSpec interface{ Until() string }

// needsAccessReview reports whether a phase has steps whose Kubernetes
// permissions are reviewed on entering it: those with actions.
func needsAccessReview(ph *Phase) bool {
	for i := range ph.Steps {
		if a := ph.Steps[i].Action; a != nil && a.Kube || ph.Steps[i].Load.Distributed() {
			return true
		}
	}
	return false
}

// plan sends a mutating action's dry run out; the step waits (pending)
// until it comes back and then for a confirmation.
func (e *engine) plan(st *Step, ss *StepState) {
	e.s.nextRun++
	ss.RunID, ss.Attempt, ss.Status = e.s.nextRun, 1, StepPending
	ss.Stage, ss.Plan, ss.UpdatedAt = ActionPlanning, nil, e.s.Now
	e.emit(PlanAction{Phase: e.s.Phases[e.s.Current].ID, Step: st.ID, RunID: ss.RunID})
}

// replan is RunStep on a mutating action: a fresh dry run, judged afresh.
func (e *engine) replan(ev RunStep, st *Step, ss *StepState) {
	switch {
	case ss.Status == StepRunning:
		e.refuse(ev, "action %q is executing: wait for its result", ev.Step)
		return
	case ss.Undoing():
		e.refuse(ev, "action %q is being undone: wait for the undo", ev.Step)
		return
	case ss.Action != nil && ss.Action.Cleanup != "" && ss.Cleaned == nil:
		// A second execution would replace what the run takes back.
		e.refuse(ev, "action %q left %s, which is taken back when its window ends: it is not executed twice", ev.Step, ss.Action.Cleanup)
		return
	}
	if unmet := e.unmetNeeds(st); unmet != "" {
		e.refuse(ev, "step %q needs %s to pass first", ev.Step, unmet)
		return
	}
	ss.Override, ss.Skip, ss.Confirm = nil, nil, nil
	e.plan(st, ss)
}

func (e *engine) actionPlanned(ev ActionPlanned) {
	pi, si, ok := e.s.Find(ev.Step)
	if !ok || pi != e.s.Current {
		return
	}
	ss := &e.s.Phases[pi].Steps[si]
	if ev.RunID == 0 || ev.RunID != ss.RunID || !ss.Planning() {
		return // stale
	}
	res := ev.Result
	ss.RunID, ss.Stage, ss.Plan = 0, ActionIdle, &res
	ss.Last, ss.HasResult, ss.UpdatedAt = res.Result, true, e.s.Now
	if !res.Status.OK() {
		// What cannot be dry-run cannot be done: red until fixed and
		// re-run, or overridden.
		ss.Status, ss.FinishedAt = StepFailed, e.s.Now
		ss.History = appendHistory(ss.History, res.Status)
	}
}

// confirmAction executes a planned mutating action on the operator's word.
func (e *engine) confirmAction(ev Confirmed, st *Step, ss *StepState) {
	if why := e.s.confirmActionRefusal(ev, st, ss, true); why != "" {
		e.refuse(ev, "%s", why)
		return
	}
	ss.Confirm, ss.Interrupted = &Decision{Operator: ev.Operator, Text: ev.Note, At: e.s.Now}, false
	if st.Load.Distributed() {
		ss.LoadRun = ss.Plan.Cleanup // recorded before anything is created
	}
	e.start(st, ss, 1)
}

// looksLikePrivateKey reports whether text carries a PEM private key.
func looksLikePrivateKey(text string) bool {
	return strings.Contains(text, "-----BEGIN") && strings.Contains(text, "PRIVATE KEY")
}

func (e *engine) actionDone(ev ActionDone) {
	pi, si, ok := e.s.Find(ev.Step)
	if !ok {
		return
	}
	st, ss := &e.s.Runbook.Phases[pi].Steps[si], &e.s.Phases[pi].Steps[si]
	if ev.RunID == 0 || ev.RunID != ss.RunID || ss.Planning() {
		return // stale
	}
	res := ev.Result
	ss.Action = &res
	if ss.Stage == ActionExecuting {
		ss.Stage = ActionIdle
	}
	if res.Cleanup != "" {
		ss.Cleaned = nil
	}
	if e.s.Finished() {
		// The run was aborted while it executed: what it did is kept,
		// and what it left is taken back now. The step's word is its
		// execution's own.
		ss.RunID, ss.UpdatedAt = 0, e.s.Now
		if ss.Status == StepRunning {
			ss.Last, ss.HasResult, ss.FinishedAt = res.Result, true, e.s.Now
			ss.History = appendHistory(ss.History, res.Status)
			ss.Tally.add(res.Status, e.s.Now)
			ss.Status, ss.Why = finalStatus(res.Status), "finished after the run was aborted"
		}
		if res.Cleanup != "" {
			ss.Stage = ActionCleaning
			e.emit(CleanupAction{Step: ev.Step, Ref: res.Cleanup})
		}
		return
	}
	if pi != e.s.Current {
		return // its phase was left meanwhile; what it did is kept
	}
	if st.Mutating() && !res.Status.OK() {
		// Never retried unasked: record the failure as it is.
		ss.RunID, ss.Status, ss.FinishedAt, ss.UpdatedAt = 0, StepFailed, e.s.Now, e.s.Now
		ss.Last, ss.HasResult = res.Result, true
		ss.History = appendHistory(ss.History, res.Status)
		return
	}
	e.probeResult(ProbeResult{Step: ev.Step, RunID: ev.RunID, Result: res.Result})
}

// appendHistory adds a status to a step's status strip.
func appendHistory(h []probes.Status, st probes.Status) []probes.Status {
	h = append(h, st)
	if len(h) > historyLen {
		h = h[len(h)-historyLen:]
	}
	return h
}

func (e *engine) undoRequested(ev UndoRequested) {
	_, ss, ok := e.currentStep(ev, ev.Step)
	if !ok {
		return
	}
	if why := e.s.undoRefusal(ev, ss, true); why != "" {
		e.refuse(ev, "%s", why)
		return
	}
	e.s.nextRun++
	ss.RunID, ss.Stage, ss.UpdatedAt = e.s.nextRun, ActionUndoing, e.s.Now
	e.emit(UndoAction{Step: ev.Step, RunID: ss.RunID, Revision: ev.Revision})
}

func (e *engine) actionUndone(ev ActionUndone) {
	pi, si, ok := e.s.Find(ev.Step)
	if !ok {
		return
	}
	ss := &e.s.Phases[pi].Steps[si]
	if ev.RunID == 0 || ev.RunID != ss.RunID || !ss.Undoing() {
		return // stale
	}
	res := ev.Result
	ss.RunID, ss.Stage, ss.Undo, ss.UpdatedAt = 0, ActionIdle, &res, e.s.Now
	// The step stays failed: the rollout did fail; the undo is its
	// evidence, and the gate still needs an override to go on.
}

func (e *engine) actionCleaned(ev ActionCleaned) {
	pi, si, ok := e.s.Find(ev.Step)
	if !ok {
		return
	}
	ss := &e.s.Phases[pi].Steps[si]
	if ss.Stage != ActionCleaning {
		return // stale, or already taken back
	}
	res := ev.Result
	ss.Cleaned, ss.Stage = &res, ActionIdle
}

func (e *engine) accessReviewed(ev AccessReviewed) {
	for i := range e.s.Phases {
		if e.s.Phases[i].ID == ev.Phase {
			res := ev.Result
			e.s.Phases[i].Access = &res
		}
	}
}

// cleanups asks to take back what actions left whose window ends with
// phase (a silence `until: monitor`); phase "" — the run ends — takes back
// everything still out.
func (e *engine) cleanups(phase string) {
	for pi := range e.s.Runbook.Phases {
		for si := range e.s.Runbook.Phases[pi].Steps {
			st, ss := &e.s.Runbook.Phases[pi].Steps[si], &e.s.Phases[pi].Steps[si]
			if st.Action == nil || ss.Action == nil || ss.Action.Cleanup == "" || ss.CleanupAsked() {
				continue
			}
			until := ""
			if u, ok := st.Action.Spec.(untilSpec); ok {
				until = u.Until()
			}
			if phase != "" && until != phase {
				continue
			}
			ss.Stage = ActionCleaning
			e.emit(CleanupAction{Step: st.ID, Ref: ss.Action.Cleanup})
		}
	}
}

// resumeActions handles the actions that were out when the previous
// process died: dry runs are asked again; an execution of a mutating
// action is not repeated — what it did is unknown, so it gets a fresh dry
// run (which shows what landed) and waits for a new confirmation; an
// interrupted undo is reported, not repeated; cleanups are asked again.
func (e *engine) resumeActions() {
	ph, ps := e.phase()
	for i := range ph.Steps {
		st, ss := &ph.Steps[i], &ps.Steps[i]
		if !st.Mutating() {
			continue
		}
		switch {
		case ss.Undoing():
			ss.RunID, ss.Stage = 0, ActionIdle
			ss.Undo = &actions.Result{Result: probes.Result{Status: probes.StatusError, ObservedAt: e.s.Now,
				Summary: "undo interrupted", Message: "the cockpit stopped while the undo ran: check the rollout's revision before asking again"}}
		case ss.Planning():
			e.plan(st, ss)
		case ss.Status == StepRunning && st.Load.Distributed():
			// Its objects are deleted (resumeLoads) before it runs again:
			// a new dry run, a new confirmation, a new run.
			ss.Last = probes.Result{Status: probes.StatusError, ObservedAt: e.s.Now, Summary: "interrupted",
				Message: fmt.Sprintf("the cockpit stopped while the load test %q ran: its workers' objects are deleted and it runs again once confirmed", st.ID)}
			ss.HasResult, ss.Confirm = true, nil
			ss.History = appendHistory(ss.History, probes.StatusError)
			e.plan(st, ss)
		case ss.Status == StepRunning:
			ss.Last = probes.Result{Status: probes.StatusError, ObservedAt: e.s.Now, Summary: "interrupted",
				Message: fmt.Sprintf("the cockpit stopped while %q executed; it is not repeated unasked: a fresh dry run shows what landed, confirm again to finish it", st.ID)}
			ss.HasResult = true
			ss.History = appendHistory(ss.History, probes.StatusError)
			ss.Confirm, ss.Interrupted = nil, true
			e.plan(st, ss)
		}
	}
	e.resendCleanups()
	e.resumeLoads()
}

// resendCleanups asks again for the cleanups that were out when the
// previous process died.
func (e *engine) resendCleanups() {
	for pi := range e.s.Phases {
		for si := range e.s.Phases[pi].Steps {
			ss := &e.s.Phases[pi].Steps[si]
			if ss.Stage == ActionCleaning && ss.Action != nil {
				e.emit(CleanupAction{Step: ss.ID, Ref: ss.Action.Cleanup})
			}
		}
	}
}

// busyAction names a step of the current phase whose action is changing
// things right now (executing a mutation, or undoing): its result must not
// be dropped by leaving the phase or skipping the step.
func (e *engine) busyAction() string {
	ph, ps := e.phase()
	for i := range ph.Steps {
		if ss := &ps.Steps[i]; ss.Undoing() || ss.Status == StepRunning && ph.Steps[i].Mutating() {
			return ph.Steps[i].ID
		}
	}
	return ""
}
