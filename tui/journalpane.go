package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/cockpit-dev/cockpit/runbook"
)

// journalKeep is how many journal lines the cockpit keeps for its tail.
const journalKeep = 200

// journalPane is the journal's tail: one line per applied event (quiet
// ticks left out), how many there were, where the journal and the report
// are.
type journalPane struct {
	env    *env
	w, h   int
	path   string
	lines  []string
	events int
	report string
}

func newJournalPane(e *env, path string) *journalPane { return &journalPane{env: e, path: path} }

// SetSize gives the pane its size.
func (p *journalPane) SetSize(w, h int) { p.w, p.h = w, h }

// ShortHelp is empty: the tail has no keys.
func (p *journalPane) ShortHelp() []key.Binding { return nil }

// Events is how many events the cockpit has seen applied.
func (p *journalPane) Events() int { return p.events }

// Update takes an applied event (a StateMsg the root accepted) and the
// end of the run (where its report is).
func (p *journalPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case StateMsg:
		if line, ok := journalLine(msg); ok {
			p.events++
			p.lines = append(p.lines, line)
			if len(p.lines) > journalKeep {
				p.lines = p.lines[len(p.lines)-journalKeep:]
			}
		}
	case RunDoneMsg:
		p.report = msg.Report
	}
	return nil
}

// View draws the tail: the latest lines that fit.
func (p *journalPane) View() string {
	t := fmt.Sprintf("journal · %d events", p.events)
	if p.path != "" {
		t += " · " + p.path
	}
	if p.report != "" {
		t += " · report " + p.report
	}
	lines := p.lines
	if h := p.h - frameSize; h <= 0 {
		lines = nil
	} else if len(lines) > h {
		lines = lines[len(lines)-h:]
	}
	return p.env.box(p.w, p.h, t, false, lines)
}

// journalLine renders one applied event for the journal tail; quiet ticks
// are not shown.
func journalLine(msg StateMsg) (string, bool) {
	var what string
	switch ev := msg.At.Event.(type) {
	case runbook.Started:
		what = "run started by " + ev.Operator + runMode(ev.AllowActions)
	case runbook.Tick:
		if len(msg.Effects) == 0 {
			return "", false
		}
		what = "tick"
	case runbook.RunStep:
		what = "run " + ev.Step
	case runbook.RunPhase:
		what = "run phase"
	case runbook.ProbeResult:
		what = fmt.Sprintf("%s %s %s: %s", ev.Step, statusGlyph(ev.Result.Status), ev.Result.Status, ev.Result.Summary)
	case runbook.LoadResult:
		what = fmt.Sprintf("%s %s load %s: %s", ev.Step, statusGlyph(ev.Result.Status), ev.Result.Status, ev.Result.Summary)
	case runbook.Confirmed:
		what = ev.Step + " confirmed by " + ev.Operator + prefixed(": ", ev.Note)
	case runbook.Skipped:
		what = ev.Step + " skipped by " + ev.Operator + prefixed(": ", ev.Reason)
	case runbook.Overridden:
		target := ev.Step
		if ev.Phase != "" {
			target = "gate " + ev.Phase
		}
		what = fmt.Sprintf("⚑ %s overridden by %s: %s", target, ev.Operator, ev.Reason)
	case runbook.Advance:
		what = "advance by " + ev.Operator
	case runbook.Aborted:
		what = "aborted by " + ev.Operator + prefixed(": ", ev.Reason)
	case runbook.Resumed:
		what = fmt.Sprintf("resumed by %s after %d journaled events", ev.Operator, ev.Events) + runMode(ev.AllowActions)
	case runbook.ActionPlanned:
		what = fmt.Sprintf("%s dry run %s %s: %s (%s)", ev.Step, statusGlyph(ev.Result.Status), ev.Result.Status, ev.Result.Summary, changes(ev.Result.Changes))
	case runbook.ActionDone:
		what = fmt.Sprintf("%s %s %s: %s", ev.Step, statusGlyph(ev.Result.Status), ev.Result.Status, ev.Result.Summary)
		if ev.Result.UndoRevision > 0 {
			what += fmt.Sprintf(" (undo to rev %d offered)", ev.Result.UndoRevision)
		}
	case runbook.UndoRequested:
		what = "↶ " + ev.Step + " undo requested by " + ev.Operator + prefixed(": ", ev.Reason)
	case runbook.ActionUndone:
		what = fmt.Sprintf("%s undo %s %s: %s", ev.Step, statusGlyph(ev.Result.Status), ev.Result.Status, ev.Result.Summary)
	case runbook.ActionCleaned:
		what = fmt.Sprintf("%s cleanup %s %s: %s", ev.Step, statusGlyph(ev.Result.Status), ev.Result.Status, ev.Result.Summary)
	case runbook.AccessReviewed:
		what = fmt.Sprintf("access review of %s %s %s: %s", ev.Phase, statusGlyph(ev.Result.Status), ev.Result.Status, ev.Result.Summary)
	case nil:
		return "", false
	default:
		what = ev.EventType()
	}
	for _, eff := range msg.Effects {
		switch eff := eff.(type) {
		case runbook.Refused:
			what += " → refused: " + eff.Reason
		case runbook.PhaseLeft:
			what += fmt.Sprintf(" → left %s (%s)", eff.Phase, eff.Verdict.Status)
		case runbook.PhaseEntered:
			what += " → entered " + eff.Phase
		case runbook.Finished:
			what += " → finished: " + eff.Outcome.String()
		}
	}
	return msg.At.Time.Format("15:04:05") + " " + what, true
}
