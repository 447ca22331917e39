package runbook

import (
	"fmt"
	"strings"
)

// Asking before acting. A front end (the cockpit's dialogs) asks the state
// whether the engine would take an operator's event before it offers it,
// so what it offers and what the engine takes cannot drift apart: both
// come from the checks below, and a refusal reads the same wherever it is
// shown. The checks judge the state; what the operator types — their
// name, a note, a reason — is judged only when the event arrives (input).

// CanConfirm reports whether the engine would take a confirmation of step
// now. When it would not, why is the reason the engine's Refused gives for
// that Confirmed, word for word. The operator's name and the note are not
// judged: a required note, or one that looks like a private key, is
// refused when the event arrives.
func (s State) CanConfirm(step string) (ok bool, why string) {
	ev := Confirmed{Step: step}
	if why := s.eventRefusal(); why != "" {
		return false, why
	}
	st, ss, why := s.currentStep(step)
	switch {
	case why != "":
	case st.Action != nil || st.Mutating():
		why = s.confirmActionRefusal(ev, st, ss, false)
	default:
		why = s.confirmManualRefusal(ev, st, false)
	}
	return why == "", why
}

// CanUndo reports whether the engine would take a request to undo step's
// failed rollout to the revision it offered (UndoRequested with Revision
// 0) now. When it would not, why is the reason the engine's Refused gives
// for that request, word for word. The operator's name and the reason are
// not judged: an undo without a reason is refused when it arrives.
func (s State) CanUndo(step string) (ok bool, why string) {
	ev := UndoRequested{Step: step}
	if why := s.eventRefusal(); why != "" {
		return false, why
	}
	_, ss, why := s.currentStep(step)
	if why == "" {
		why = s.undoRefusal(ev, ss, false)
	}
	return why == "", why
}

// eventRefusal is why the engine takes no operator event at all in s: the
// run has not started, or has finished. "" when it takes them.
func (s *State) eventRefusal() string {
	switch {
	case !s.Started:
		return "the run has not started"
	case s.Finished():
		return fmt.Sprintf("the run has finished (%s)", s.Outcome)
	}
	return ""
}

// currentStep finds a step of the current phase, or says why an event
// about it is refused: there is no such step, or it belongs to another
// phase.
func (s *State) currentStep(id string) (*Step, *StepState, string) {
	pi, si, ok := s.Find(id)
	if !ok {
		return nil, nil, fmt.Sprintf("no step %q", id)
	}
	if pi != s.Current {
		return nil, nil, fmt.Sprintf("step %q belongs to phase %q, not the current %q", id, s.Phases[pi].ID, s.Phases[s.Current].ID)
	}
	return &s.Runbook.Phases[pi].Steps[si], &s.Phases[pi].Steps[si], ""
}

// confirmActionRefusal is why the engine refuses ev, the confirmation of
// the action step st of the current phase, or "" when it executes the
// action. input judges what the operator typed too (their name, the note).
func (s *State) confirmActionRefusal(ev Confirmed, st *Step, ss *StepState, input bool) string {
	switch {
	case !st.Mutating():
		return fmt.Sprintf("action %q changes nothing and runs by itself: re-run it instead", ev.Step)
	case !s.AllowActions:
		return fmt.Sprintf("read-only run: %q would change the cluster; start the run with --allow-actions to execute it (its dry run shows what it would do)", ev.Step)
	case input && ev.Operator == "":
		return "a confirmation needs an operator"
	case ss.Status == StepRunning:
		return fmt.Sprintf("action %q is already executing", ev.Step)
	case ss.Undoing():
		return fmt.Sprintf("action %q is being undone: wait for the undo's result", ev.Step)
	case ss.Planning():
		return fmt.Sprintf("action %q: its dry run is still out", ev.Step)
	case ss.LoadRun != "":
		return fmt.Sprintf("load step %q: the objects of its previous run %s are being deleted: wait for that", ev.Step, ss.LoadRun)
	case ss.Plan == nil && s.needsRefusal(ev.Step, st) != "":
		return s.needsRefusal(ev.Step, st) // no dry run before its needs pass
	case ss.Plan == nil:
		return fmt.Sprintf("action %q has no dry run to confirm: re-run it for one", ev.Step)
	case !ss.Plan.Status.OK():
		return fmt.Sprintf("action %q: its dry run failed (%s); fix it and re-run the step", ev.Step, ss.Plan.Summary)
	case ss.Status != StepPending:
		return fmt.Sprintf("action %q is %s: re-run it for a fresh dry run before executing it again", ev.Step, ss.Status)
	case input && looksLikePrivateKey(ev.Note):
		return "the note looks like a private key: it would be written to the journal; describe where the key is instead"
	}
	return s.needsRefusal(ev.Step, st)
}

// confirmManualRefusal is why the engine refuses ev, the confirmation of
// the step st of the current phase that is no action, or "" when it takes
// it. input judges what the operator typed too (the note, their name).
func (s *State) confirmManualRefusal(ev Confirmed, st *Step, input bool) string {
	switch {
	case st.Manual == nil:
		return fmt.Sprintf("step %q is not a manual step", ev.Step)
	case input && st.Manual.Note == "required" && strings.TrimSpace(ev.Note) == "":
		return fmt.Sprintf("step %q needs a note with its confirmation", ev.Step)
	case input && ev.Operator == "":
		return "a confirmation needs an operator"
	}
	return s.needsRefusal(ev.Step, st)
}

// needsRefusal is why a step whose needs have not passed is not confirmed.
func (s *State) needsRefusal(id string, st *Step) string {
	e := engine{s: s}
	if unmet := e.unmetNeeds(st); unmet != "" {
		return fmt.Sprintf("step %q needs %s to pass first", id, unmet)
	}
	return ""
}

// undoRefusal is why the engine refuses ev, an undo of the step ss of the
// current phase, or "" when it sends the undo out. input judges what the
// operator typed too (their name, the reason).
func (s *State) undoRefusal(ev UndoRequested, ss *StepState, input bool) string {
	switch {
	case !s.AllowActions:
		return "read-only run: an undo changes the cluster; start the run with --allow-actions"
	case input && ev.Operator == "":
		return "an undo needs an operator"
	case input && strings.TrimSpace(ev.Reason) == "":
		return "an undo needs a reason"
	case ss.Undoing():
		return fmt.Sprintf("step %q is already being undone", ev.Step)
	case ss.Status == StepRunning:
		return fmt.Sprintf("step %q is still running: wait for its result", ev.Step)
	case ss.Planning():
		return fmt.Sprintf("step %q: a dry run is out; wait for it", ev.Step)
	case ss.Status != StepFailed && ss.Status != StepOverridden:
		return fmt.Sprintf("step %q is %s: only a failed rollout is undone", ev.Step, ss.Status)
	case ss.Action == nil || ss.Action.UndoRevision == 0 && ev.Revision == 0:
		return fmt.Sprintf("step %q offers no undo (only a failed rollout does)", ev.Step)
	case ev.Revision < 0:
		return fmt.Sprintf("a revision must be > 0, got %d", ev.Revision)
	}
	return ""
}
