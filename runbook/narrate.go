package runbook

import (
	"fmt"
)

// Narration: what one applied event did, in the words the operator reads
// wherever it is shown — the headless log, the cockpit's journal pane, the
// sign-off's timeline. Each front end picks the kinds of line it shows and
// lays them out; none words them itself.

// LineKind is what a narrated line tells.
type LineKind uint8

// Kinds of narrated line.
const (
	LineDecision LineKind = iota // the operator's (or the autopilot's) event: start, resume, confirm, skip, override, undo, load control, abort, a re-run
	LineResult                   // a probe's or load test's result
	LinePlan                     // an action's dry run
	LineAction                   // an action's execution, undo or cleanup the engine took; a phase's access review; a distributed load run's objects created or deleted; a load control not applied
	LineStatus                   // a step's status changed
	LinePhase                    // a phase entered or left, the run finished
	LineRefused                  // the engine refused the event
)

// Line is one narrated line: Phase and Step place it ("" where none
// applies); Word, when set, is its verb or status ("failed", "dry run",
// "executed"), What says the rest, and Detail is the result's message
// for those who show more ("" when it adds nothing).
type Line struct {
	Kind   LineKind
	Phase  string
	Step   string
	Word   string
	What   string
	Detail string
}

// Text is the line's words in one string: "failed: not settled when the
// window closed — last: …", "confirmed by lead: OPS-1".
func (l Line) Text() string {
	if l.Word == "" {
		return l.What
	}
	return l.Word + prefixed(": ", l.What)
}

// Narrate says what the event at did to prev, giving s, with the effects
// the engine returned.
func Narrate(prev, s State, at At, effects []Effect) []Line {
	n := narrator{prev: prev, s: s}
	n.event(at.Event, effects)
	n.statuses(at.Event)
	for _, eff := range effects {
		switch e := eff.(type) {
		case PhaseEntered:
			n.add(LinePhase, e.Phase, "", "phase entered")
		case PhaseLeft:
			n.add(LinePhase, e.Phase, "", fmt.Sprintf("phase left, gate %s: %s", e.Verdict.Status, e.Verdict.Message))
		case Refused:
			n.add(LineRefused, n.phase(), "", fmt.Sprintf("%s refused: %s", e.Event, e.Reason))
		case Finished:
			n.add(LinePhase, "", "", "run finished: "+e.Outcome.String())
		}
	}
	return n.lines
}

type narrator struct {
	prev, s State
	lines   []Line
}

func (n *narrator) add(k LineKind, phase, step, what string) {
	n.lines = append(n.lines, Line{Kind: k, Phase: phase, Step: step, What: what})
}

// addResult adds a line with a word, a summary and its message.
func (n *narrator) addResult(k LineKind, phase, step, word, what, detail string) {
	if detail == what {
		detail = ""
	}
	n.lines = append(n.lines, Line{Kind: k, Phase: phase, Step: step, Word: word, What: what, Detail: detail})
}

// phase is the current phase's id ("" before the run started).
func (n *narrator) phase() string {
	if !n.s.Started {
		return ""
	}
	return n.s.Phases[n.s.Current].ID
}

// phaseOf is the phase of a step ("" for no such step).
func (n *narrator) phaseOf(step string) string {
	if pi, _, ok := n.s.Find(step); ok {
		return n.s.Phases[pi].ID
	}
	return ""
}

// took reports whether the event changed step (a refused or stale one
// changes nothing).
func (n *narrator) took(step string, changed func(was, now *StepState) bool) bool {
	pi, si, ok := n.s.Find(step)
	if !ok {
		return false
	}
	if pi >= len(n.prev.Phases) {
		return true // no state before it to compare with
	}
	return changed(&n.prev.Phases[pi].Steps[si], &n.s.Phases[pi].Steps[si])
}

func (n *narrator) event(ev Event, effects []Effect) {
	refused := false
	for _, e := range effects {
		if _, ok := e.(Refused); ok {
			refused = true
		}
	}
	switch ev := ev.(type) {
	case Started:
		if ev.Headless {
			n.add(LineDecision, "", "", "run started by "+ev.Operator+" (headless, "+runMode(ev.AllowActions)+")")
		} else {
			n.add(LineDecision, "", "", "run started by "+ev.Operator+" ("+runMode(ev.AllowActions)+")")
		}
	case Resumed:
		n.add(LineDecision, n.phase(), "", fmt.Sprintf("resumed by %s after %d journaled event(s) (%s)", ev.Operator, ev.Events, runMode(ev.AllowActions)))
	case RunStep:
		if !refused {
			n.add(LineDecision, n.phaseOf(ev.Step), ev.Step, "run again")
		}
	case RunPhase:
		n.add(LineDecision, n.phase(), "", "every runnable step run again")
	case Confirmed:
		if !refused {
			n.add(LineDecision, n.phaseOf(ev.Step), ev.Step, "confirmed by "+ev.Operator+prefixed(": ", ev.Note))
		}
	case Skipped:
		if !refused {
			n.add(LineDecision, n.phaseOf(ev.Step), ev.Step, "skipped by "+ev.Operator+prefixed(": ", ev.Reason))
		}
	case Overridden:
		if refused {
			break
		}
		if ev.Step != "" {
			n.add(LineDecision, n.phaseOf(ev.Step), ev.Step, fmt.Sprintf("OVERRIDDEN by %s: %s", ev.Operator, ev.Reason))
		} else {
			n.add(LineDecision, ev.Phase, "", fmt.Sprintf("gate OVERRIDDEN by %s: %s", ev.Operator, ev.Reason))
		}
	case UndoRequested:
		if !refused {
			n.add(LineDecision, n.phaseOf(ev.Step), ev.Step, fmt.Sprintf("undo asked by %s: %s", ev.Operator, ev.Reason))
		}
	case LoadControl:
		if !refused {
			n.add(LineDecision, n.phaseOf(ev.Step), ev.Step, loadControlWhat(ev.Op, ev.Value)+" by "+ev.Operator)
		}
	case LoadControlFailed:
		n.add(LineAction, n.phaseOf(ev.Step), ev.Step, ev.what()+" NOT APPLIED: "+ev.Error)
	case Aborted:
		n.add(LineDecision, n.phase(), "", fmt.Sprintf("aborted by %s: %s", ev.Operator, ev.Reason))
	case ProbeResult:
		n.addResult(LineResult, n.phaseOf(ev.Step), ev.Step, ev.Result.Status.String(), ev.Result.Summary, ev.Result.Message)
	case LoadResult:
		n.addResult(LineResult, n.phaseOf(ev.Step), ev.Step, "load "+ev.Result.Status.String(), ev.Result.Summary, ev.Result.Message)
	case ActionPlanned:
		if n.took(ev.Step, func(was, now *StepState) bool { return was.Plan != now.Plan }) {
			n.addResult(LinePlan, n.phaseOf(ev.Step), ev.Step, "dry run", ev.Result.Summary, ev.Result.Message)
		}
	case ActionDone:
		if n.took(ev.Step, func(was, now *StepState) bool { return was.Action != now.Action }) {
			what := ev.Result.Summary
			if ev.Result.UndoRevision > 0 {
				what += fmt.Sprintf(" (undo to revision %d offered)", ev.Result.UndoRevision)
			}
			n.addResult(LineAction, n.phaseOf(ev.Step), ev.Step, "executed", what, ev.Result.Message)
		}
	case ActionUndone:
		if n.took(ev.Step, func(was, now *StepState) bool { return was.Undo != now.Undo }) {
			n.addResult(LineAction, n.phaseOf(ev.Step), ev.Step, "undo", ev.Result.Summary, ev.Result.Message)
		}
	case ActionCleaned:
		if n.took(ev.Step, func(was, now *StepState) bool { return was.Cleaned != now.Cleaned }) {
			n.addResult(LineAction, n.phaseOf(ev.Step), ev.Step, "cleanup", ev.Result.Summary, ev.Result.Message)
		}
	case AccessReviewed:
		n.addResult(LineAction, ev.Phase, "", "access review", ev.Result.Summary, ev.Result.Message)
	case LoadWorkersChanged:
		// A distributed load run's objects created or deleted — the
		// cleanup's result included, what is left named when it failed.
		n.addResult(LineAction, n.phaseOf(ev.Step), ev.Step, "load workers", ev.Result.Summary, ev.Result.Message)
	}
}

// statuses narrates every step whose status the event changed, unless the
// event's own line says it (a confirmation, a skip, an override) or it
// only started running.
func (n *narrator) statuses(ev Event) {
	for pi := range n.s.Phases {
		for si, ss := range n.s.Phases[pi].Steps {
			if pi >= len(n.prev.Phases) {
				continue
			}
			was := n.prev.Phases[pi].Steps[si]
			if ss.Status == was.Status || ss.Status == StepRunning && was.Status == StepPending {
				continue
			}
			switch ev := ev.(type) {
			case Confirmed:
				if ev.Step == ss.ID && ss.Status == StepPassed {
					continue
				}
			case Skipped:
				if ev.Step == ss.ID {
					continue
				}
			case Overridden:
				if ev.Step == ss.ID {
					continue
				}
			}
			detail := ss.Last.Message
			if ss.Status == StepPassed || !ss.HasResult {
				detail = "" // a pass says its summary; a step with no result has no message
			}
			n.addResult(LineStatus, n.s.Phases[pi].ID, ss.ID, ss.Status.String(), ss.Says(), detail)
		}
	}
}

// runMode names a run's mode.
func runMode(allowActions bool) string {
	if allowActions {
		return "actions enabled"
	}
	return "read-only"
}

func prefixed(sep, s string) string {
	if s == "" {
		return ""
	}
	return sep + s
}

// loadControlWhat names a load control: "load pause", "load rate 90".
func loadControlWhat(op string, value float64) string {
	what := "load " + op
	if op == LoadRate || op == LoadVUs {
		what += fmt.Sprintf(" %g", value)
	}
	return what
}
