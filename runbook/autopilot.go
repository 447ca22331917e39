package runbook

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cockpit-dev/cockpit/probes"
)

// Autopilot stands in for the operator in a headless run (CI): it confirms
// the manual steps and overrides the steps it was told to up front, with
// the given notes and reasons, advances when the gate is settled green,
// and aborts when it is settled red. It never overrides anything it was
// not told to.
type Autopilot struct {
	Operator string
	// Confirm maps a manual step id to the note of its confirmation.
	Confirm map[string]string
	// Override maps a step id (or "phase:ID") to the reason for accepting
	// it red.
	Override map[string]string
	// Skip lists optional steps not to run.
	Skip []string
	// ConfirmAll confirms every manual step without a note of its own in
	// Confirm, saying so in the note (--auto-confirm-manual).
	ConfirmAll bool
	// ConfirmActions confirms every mutating action whose dry run passed
	// (--auto-confirm-actions; the run must also allow actions). Without
	// it, Confirm names the actions to execute.
	ConfirmActions bool
	// UndoOnFailure asks for the undo a failed rollout offers
	// (--undo-on-failure).
	UndoOnFailure bool
	// StopAfter, when set, ends the run once that phase's gate is green (or
	// overridden) instead of advancing: Done reports it, and the journal is
	// left open to continue from.
	StopAfter string
}

// AutoConfirmNote is the note of a confirmation given by ConfirmAll.
const AutoConfirmNote = "auto-confirmed by --auto-confirm-manual (headless run)"

// AutoConfirmActionNote is the note of a confirmation given by
// ConfirmActions.
const AutoConfirmActionNote = "auto-confirmed by --auto-confirm-actions (headless run)"

// Done reports whether the autopilot has nothing left to do in s: the run
// finished, or the StopAfter phase is settled green.
func (a Autopilot) Done(s State) bool {
	if s.Finished() {
		return true
	}
	if a.StopAfter == "" || !s.Started || s.Phases[s.Current].ID != a.StopAfter {
		return false
	}
	ps := &s.Phases[s.Current]
	return (s.Gate(s.Current).Status.OK() || ps.Override != nil) && !a.probesOut(s)
}

// Next returns the operator events the autopilot sends in state s (none
// while it waits for probes).
func (a Autopilot) Next(s State) []Event {
	if !s.Started || s.Finished() {
		return nil
	}
	ph, ps := &s.Runbook.Phases[s.Current], &s.Phases[s.Current]
	var out []Event
	for i, st := range ph.Steps {
		ss := ps.Steps[i]
		switch {
		case st.Manual != nil && ss.Status == StepPending:
			note, ok := a.Confirm[st.ID]
			if !ok && a.ConfirmAll {
				note, ok = AutoConfirmNote, true
			}
			if ok && s.UnmetNeeds(st.ID) == "" {
				out = append(out, Confirmed{Step: st.ID, Operator: a.Operator, Note: note})
			}
		case a.awaitsConfirmation(s, &st, &ss):
			if needsAccessReview(ph) && ps.Access == nil {
				continue // nothing is confirmed before the phase's access review is in
			}
			note, ok := a.Confirm[st.ID]
			if !ok && a.ConfirmActions && !ss.Interrupted {
				if acc := ps.Access; acc != nil && acc.Status == probes.StatusFail {
					return []Event{Aborted{Operator: a.Operator, Reason: missingAccessReason(ps.ID, acc)}}
				}
				note, ok = AutoConfirmActionNote, true
			}
			if ok {
				out = append(out, Confirmed{Step: st.ID, Operator: a.Operator, Note: note})
			}
		case ss.Undoing():
			continue // an undo is out: nothing is decided about the step meanwhile
		case ss.Status == StepFailed && ss.Override == nil:
			if a.UndoOnFailure && ss.Action != nil && ss.Action.UndoRevision > 0 && ss.Undo == nil && !ss.Undoing() && s.AllowActions {
				out = append(out, UndoRequested{Step: st.ID, Operator: a.Operator, Reason: "--undo-on-failure"})
				continue
			}
			if reason, ok := a.Override[st.ID]; ok {
				out = append(out, Overridden{Step: st.ID, Operator: a.Operator, Reason: reason})
			}
		case st.Optional && slices.Contains(a.Skip, st.ID) && ss.Status != StepSkipped:
			out = append(out, Skipped{Step: st.ID, Operator: a.Operator, Reason: "--skip"})
		}
	}
	if len(out) > 0 {
		return out
	}
	v := s.Gate(s.Current)
	switch {
	case v.Status.OK() || ps.Override != nil:
		if ps.ID == a.StopAfter {
			return nil // Done: the run stops here
		}
		return []Event{Advance{Operator: a.Operator}}
	case v.Status == probes.StatusPending:
		if waiting := a.unconfirmable(s); len(waiting) > 0 && !a.probesOut(s) {
			return []Event{Aborted{Operator: a.Operator, Reason: fmt.Sprintf(
				"manual step(s) %s need a confirmation; headless runs take it from --confirm STEP=NOTE", strings.Join(waiting, ", "))}}
		}
		if waiting := a.unexecuted(s); len(waiting) > 0 && !a.probesOut(s) {
			how := "--confirm STEP or --auto-confirm-actions"
			if !s.AllowActions {
				how = "--allow-actions and " + how
			}
			return []Event{Aborted{Operator: a.Operator, Reason: fmt.Sprintf(
				"action step(s) %s wait for a confirmation (their dry run is in the journal); headless runs execute actions with %s%s", strings.Join(waiting, ", "), how, interruptedNote(s, waiting))}}
		}
		return nil
	}
	if reason, ok := a.Override["phase:"+ps.ID]; ok {
		return []Event{Overridden{Phase: ps.ID, Operator: a.Operator, Reason: reason}}
	}
	if a.probesOut(s) {
		return nil // a retry or a repeating probe may still change it
	}
	return []Event{Aborted{Operator: a.Operator, Reason: fmt.Sprintf("gate of phase %q is %s: %s", ps.ID, v.Status, v.Message)}}
}

// unconfirmable lists pending manual steps the autopilot has no note for.
func (a Autopilot) unconfirmable(s State) []string {
	var out []string
	ph, ps := &s.Runbook.Phases[s.Current], &s.Phases[s.Current]
	for i, st := range ph.Steps {
		if st.Manual != nil && ps.Steps[i].Status == StepPending && !st.Optional && !a.ConfirmAll {
			if _, ok := a.Confirm[st.ID]; !ok {
				out = append(out, st.ID)
			}
		}
	}
	return out
}

// probesOut reports whether any step of the current phase still awaits a
// probe result, a dry run or an undo, or is watching.
func (a Autopilot) probesOut(s State) bool {
	for _, ss := range s.Phases[s.Current].Steps {
		if ss.Status == StepRunning || ss.Planning() || ss.Undoing() || ss.LoadRun != "" {
			return true
		}
	}
	return false
}

// awaitsConfirmation reports whether a mutating action's dry run passed and
// it waits for the operator, in a run that may execute it.
func (a Autopilot) awaitsConfirmation(s State, st *Step, ss *StepState) bool {
	return st.Mutating() && s.AllowActions && ss.Status == StepPending && !ss.Planning() && ss.LoadRun == "" &&
		ss.Plan != nil && ss.Plan.Status.OK() && s.UnmetNeeds(st.ID) == ""
}

// unexecuted lists required mutating actions that wait for a confirmation
// the autopilot will not give.
func (a Autopilot) unexecuted(s State) []string {
	var out []string
	ph, ps := &s.Runbook.Phases[s.Current], &s.Phases[s.Current]
	for i, st := range ph.Steps {
		ss := ps.Steps[i]
		if !st.Mutating() || st.Optional || ss.Status != StepPending || ss.Planning() {
			continue
		}
		if _, ok := a.Confirm[st.ID]; ok && s.AllowActions {
			continue
		}
		if a.ConfirmActions && s.AllowActions && !ss.Interrupted {
			continue
		}
		out = append(out, st.ID)
	}
	return out
}

// missingAccessReason says why --auto-confirm-actions will not start a
// phase whose access review found permissions missing: a deploy that
// stops half way is worse than one not started.
func missingAccessReason(phase string, acc *probes.Result) string {
	var missing []string
	for _, it := range acc.Items {
		if it.Status != probes.StatusPass {
			missing = append(missing, it.Name+" ("+it.Summary+")")
		}
	}
	const most = 5
	if len(missing) > most {
		missing = append(missing[:most], fmt.Sprintf("and %d more", len(missing)-most))
	}
	return fmt.Sprintf("phase %s: %s: %s; --auto-confirm-actions starts no action while permissions are missing — grant them (cockpit rbac prints them) or confirm steps one by one with --confirm",
		phase, acc.Summary, strings.Join(missing, "; "))
}

// interruptedNote explains, for the waiting steps a crash cut off, why
// --auto-confirm-actions did not execute them again.
func interruptedNote(s State, steps []string) string {
	var cut []string
	for _, id := range steps {
		if pi, si, ok := s.Find(id); ok && s.Phases[pi].Steps[si].Interrupted {
			cut = append(cut, id)
		}
	}
	if len(cut) == 0 {
		return ""
	}
	return fmt.Sprintf("; %s was cut off by a crash while executing: check what its fresh dry run shows, then confirm it by name (--confirm STEP=NOTE) — --auto-confirm-actions does not repeat it", strings.Join(cut, ", "))
}
