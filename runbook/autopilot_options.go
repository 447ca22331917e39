package runbook

import (
	"fmt"
	"strings"

	"github.com/cockpit-dev/cockpit/probes"
)

// AutopilotOptions are a headless run's decisions as an operator writes
// them up front (cockpit run's flags), before they are checked against
// the runbook.
type AutopilotOptions struct {
	Operator string
	// Confirm items are "ID=NOTE" or "ID[,ID…]" (the note defaults).
	Confirm []string
	// Override items are "ID=REASON" or "phase:ID=REASON".
	Override []string
	// Skip lists optional steps not to run.
	Skip []string
	// StopAfter names the phase to stop after ("" runs them all).
	StopAfter      string
	ConfirmAll     bool
	ConfirmActions bool
	UndoOnFailure  bool
	// AllowActions is the run's mode: confirming an action, auto-confirming
	// them and undoing need it.
	AllowActions bool
}

// DecisionError is a decision the runbook cannot take: Option names what
// carried it ("confirm", "override", "skip", "phase", or "" for a
// combination), Value is as written.
type DecisionError struct {
	Option string
	Value  string
	Msg    string
}

func (e *DecisionError) Error() string {
	if e.Option == "" {
		return e.Msg
	}
	return fmt.Sprintf("%s %q: %s", e.Option, e.Value, e.Msg)
}

// ConfirmedByOption is the note of a confirmation named without one.
const ConfirmedByOption = "confirmed with --confirm"

// NewAutopilot checks the decisions against rb — every step or phase they
// name exists and can take that decision — and returns the autopilot that
// takes them.
func NewAutopilot(rb *Runbook, o AutopilotOptions) (*Autopilot, error) {
	a := &Autopilot{Operator: o.Operator, Confirm: map[string]string{}, Override: map[string]string{},
		ConfirmAll: o.ConfirmAll, ConfirmActions: o.ConfirmActions, UndoOnFailure: o.UndoOnFailure, Skip: o.Skip, StopAfter: o.StopAfter}
	if !o.AllowActions && (o.ConfirmActions || o.UndoOnFailure) {
		return nil, &DecisionError{Msg: "--auto-confirm-actions and --undo-on-failure need --allow-actions (runs are read-only without it)"}
	}
	steps := map[string]*Step{}
	phases := map[string]bool{}
	for pi := range rb.Phases {
		phases[rb.Phases[pi].ID] = true
		for si := range rb.Phases[pi].Steps {
			steps[rb.Phases[pi].Steps[si].ID] = &rb.Phases[pi].Steps[si]
		}
	}
	var confirms []string
	for _, c := range o.Confirm {
		if strings.Contains(c, "=") {
			confirms = append(confirms, c)
			continue
		}
		confirms = append(confirms, strings.Split(c, ",")...) // --confirm a,b
	}
	for _, c := range confirms {
		id, note, _ := strings.Cut(c, "=")
		st, ok := steps[id]
		if !ok || st.Manual == nil && !st.Mutating() {
			return nil, &DecisionError{"--confirm", c, fmt.Sprintf("no manual or action step %q in %s", id, rb.File)}
		}
		if st.Mutating() && !o.AllowActions {
			return nil, &DecisionError{"--confirm", c, fmt.Sprintf("%q is an action; executing it needs --allow-actions", id)}
		}
		if note == "" {
			note = ConfirmedByOption
		}
		a.Confirm[id] = note
	}
	for _, ov := range o.Override {
		id, reason, ok := strings.Cut(ov, "=")
		if !ok || strings.TrimSpace(reason) == "" {
			return nil, &DecisionError{"--override", ov, "want ID=REASON; an override needs a reason"}
		}
		if p, isPhase := strings.CutPrefix(id, "phase:"); isPhase {
			if !phases[p] {
				return nil, &DecisionError{"--override", ov, fmt.Sprintf("no phase %q", p)}
			}
		} else if _, ok := steps[id]; !ok {
			return nil, &DecisionError{"--override", ov, fmt.Sprintf("no step %q", id)}
		}
		a.Override[id] = reason
	}
	for _, id := range o.Skip {
		if st, ok := steps[id]; !ok || !st.Optional {
			return nil, &DecisionError{"--skip", id, fmt.Sprintf("no optional step %q (only optional steps can be skipped)", id)}
		}
	}
	if o.StopAfter != "" && !phases[o.StopAfter] {
		return nil, &DecisionError{"--phase", o.StopAfter, "no such phase in " + rb.File}
	}
	return a, nil
}

// Outcome is how the autopilot's run ended: the run's own outcome, or —
// stopped after its StopAfter phase — that phase's gate: passed only when
// it passed and nothing anywhere was overridden.
func (a *Autopilot) Outcome(s State) Outcome {
	if s.Finished() || a == nil || !a.Done(s) {
		return s.Outcome
	}
	ps := s.Phases[s.Current]
	if ps.Override != nil || s.Gate(s.Current).Status != probes.StatusPass || overridden(s) {
		return OutcomeWarned
	}
	return OutcomePassed
}

// overridden reports whether any phase or step of s was overridden.
func overridden(s State) bool {
	for _, ps := range s.Phases {
		if ps.Override != nil {
			return true
		}
		for _, ss := range ps.Steps {
			if ss.Override != nil {
				return true
			}
		}
	}
	return false
}
