package tui

import (
	"fmt"
	"strings"

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
	prev   runbook.State // the state before the next applied event
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
		if msg.At.Event == nil {
			p.prev = msg.State
			break
		}
		lines := journalLines(p.prev, msg)
		p.prev = msg.State
		if len(lines) > 0 {
			p.events++
			p.lines = append(p.lines, lines...)
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

// journalLines renders one applied event for the journal tail, in the
// words every front end uses (runbook.Narrate); a quiet tick has none.
func journalLines(prev runbook.State, msg StateMsg) []string {
	var out []string
	for _, ln := range runbook.Narrate(prev, msg.State, msg.At, msg.Effects) {
		where := ln.Step
		if where == "" {
			where = ln.Phase
		}
		out = append(out, strings.Join(strings.Fields(msg.At.Time.Format("15:04:05")+" "+where), " ")+" "+ln.Text())
	}
	return out
}
