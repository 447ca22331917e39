package tui

import (
	"fmt"
	"strings"
	"unicode"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
)

// maxInput bounds a typed note or reason.
const maxInput = 300

type dialogKind uint8

const (
	dlgConfirm dialogKind = iota
	dlgSkip
	dlgOverrideStep
	dlgOverrideGate
	dlgAdvance
	dlgAbort
)

// dialog is a modal question: what is being decided, an optional or
// required line of text, and the event it sends on submit. While it is
// open it takes every key.
type dialog struct {
	kind  dialogKind
	title string
	lines []string // what is being decided, e.g. what an override accepts
	// prompt labels the text field; empty means the dialog has none.
	prompt   string
	required bool
	input    string
	err      string
	build    func(text string) runbook.Event
}

func (d *dialog) paste(s string) {
	if d.prompt == "" {
		return
	}
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, s)
	d.input += s
	if r := []rune(d.input); len(r) > maxInput {
		d.input = string(r[:maxInput])
	}
	d.err = ""
}

func (m *Model) dialogKey(msg tea.KeyPressMsg) tea.Cmd {
	d := m.dlg
	switch {
	case key.Matches(msg, m.keys.Cancel):
		m.dlg = nil
		m.setNotice("cancelled", false)
		return nil
	case key.Matches(msg, m.keys.Submit):
		text := strings.TrimSpace(d.input)
		if d.required && text == "" {
			d.err = "a " + strings.ToLower(strings.TrimSuffix(d.prompt, ":")) + " is required"
			return nil
		}
		m.dlg = nil
		return m.send(d.build(text))
	case msg.String() == "ctrl+c":
		m.dlg = nil
		return nil
	}
	if d.prompt == "" {
		return nil
	}
	switch msg.String() {
	case "backspace":
		if r := []rune(d.input); len(r) > 0 {
			d.input = string(r[:len(r)-1])
		}
	case "ctrl+u":
		d.input = ""
	default:
		if msg.Text != "" && msg.Mod&^tea.ModShift == 0 {
			d.paste(msg.Text)
		}
	}
	return nil
}

func (m *Model) openConfirm() {
	st, ss, ok := m.selected()
	if !ok {
		return
	}
	if st.Manual == nil {
		m.setNotice(fmt.Sprintf("step %q is a %s step: only manual steps are confirmed (r runs it)", st.ID, st.StepKind()), true)
		return
	}
	if ss.Status == runbook.StepPassed {
		m.setNotice(fmt.Sprintf("step %q is already confirmed", st.ID), false)
		return
	}
	required := st.Manual.Note == "required"
	prompt := "Note (optional):"
	if required {
		prompt = "Note:"
	}
	id, op := st.ID, m.opts.Operator
	m.dlg = &dialog{
		kind: dlgConfirm, title: "Confirm " + st.ID,
		lines:  []string{st.Manual.Prompt, "", "Confirmed as " + op + "; recorded in the journal."},
		prompt: prompt, required: required,
		build: func(text string) runbook.Event { return runbook.Confirmed{Step: id, Operator: op, Note: text} },
	}
}

func (m *Model) openSkip() {
	st, _, ok := m.selected()
	if !ok {
		return
	}
	if !st.Optional {
		m.setNotice(fmt.Sprintf("step %q is required: only optional steps can be skipped (o overrides a failed one)", st.ID), true)
		return
	}
	id, op := st.ID, m.opts.Operator
	m.dlg = &dialog{
		kind: dlgSkip, title: "Skip " + st.ID,
		lines:  []string{"Skip the optional step " + stepTitle(st) + "?"},
		prompt: "Reason (optional):",
		build:  func(text string) runbook.Event { return runbook.Skipped{Step: id, Operator: op, Reason: text} },
	}
}

func (m *Model) openOverrideStep() {
	st, ss, ok := m.selected()
	if !ok {
		return
	}
	if ss.Status != runbook.StepFailed {
		m.setNotice(fmt.Sprintf("step %q is %s, not failed: nothing to override", st.ID, ss.Status), true)
		return
	}
	lines := []string{"You are accepting this failed step:", ""}
	lines = append(lines, fmt.Sprintf("%s %s — %s", stepGlyph(ss.Status), stepTitle(st), ss.Status))
	if ss.HasResult {
		lines = append(lines, "  "+ss.Last.Summary)
		if ss.Last.Message != "" {
			lines = append(lines, "  "+ss.Last.Message)
		}
		for _, it := range ss.Last.Items {
			if it.Status != probes.StatusPass {
				lines = append(lines, fmt.Sprintf("  %s %s %s", statusGlyph(it.Status), it.Name, it.Summary))
			}
		}
	}
	lines = append(lines, "", "The override and its reason go to the journal and the report.")
	id, op := st.ID, m.opts.Operator
	m.dlg = &dialog{
		kind: dlgOverrideStep, title: "Override " + st.ID,
		lines: lines, prompt: "Reason:", required: true,
		build: func(text string) runbook.Event { return runbook.Overridden{Step: id, Operator: op, Reason: text} },
	}
}

func (m *Model) openOverrideGate() {
	if m.state.Finished() {
		m.setNotice("the run has finished ("+m.state.Outcome.String()+")", true)
		return
	}
	ps := &m.state.Phases[m.state.Current]
	v := m.state.Gate(m.state.Current)
	if v.Status.OK() {
		m.setNotice(fmt.Sprintf("the gate of phase %q is %s: nothing to override", ps.ID, v.Status), false)
		return
	}
	lines := []string{
		"You are accepting the red gate of phase " + ps.ID + ":", "",
		fmt.Sprintf("gate %s %s: %s", statusGlyph(v.Status), v.Status, v.Message),
	}
	for i, ss := range ps.Steps {
		if ss.Status == runbook.StepFailed || ss.Status == runbook.StepPending || ss.Status == runbook.StepRunning {
			lines = append(lines, fmt.Sprintf("  %s %s %s", stepGlyph(ss.Status), stepTitle(&m.state.Runbook.Phases[m.state.Current].Steps[i]), ss.Status))
		}
	}
	lines = append(lines, "", "Then a advances. The override goes to the journal and the report.")
	id, op := ps.ID, m.opts.Operator
	m.dlg = &dialog{
		kind: dlgOverrideGate, title: "Override gate " + ps.ID,
		lines: lines, prompt: "Reason:", required: true,
		build: func(text string) runbook.Event { return runbook.Overridden{Phase: id, Operator: op, Reason: text} },
	}
}

func (m *Model) openAbort() {
	if m.state.Finished() {
		m.setNotice("the run has finished ("+m.state.Outcome.String()+")", true)
		return
	}
	op := m.opts.Operator
	m.dlg = &dialog{
		kind: dlgAbort, title: "Abort the run",
		lines: []string{
			"Abort the go-live in phase " + m.state.Phases[m.state.Current].ID + "?",
			"The run ends failed; the journal keeps everything so far.",
		},
		prompt: "Reason:", required: true,
		build: func(text string) runbook.Event { return runbook.Aborted{Operator: op, Reason: text} },
	}
}

// dialogLines renders the open dialog for a w-wide pane.
func (m *Model) dialogLines(w int) []string {
	d := m.dlg
	var out []string
	for _, l := range d.lines {
		out = append(out, wrap(l, w)...)
	}
	out = append(out, "")
	if d.prompt != "" {
		field := d.input + "█"
		out = append(out, m.styles.Bold.Render(d.prompt))
		for _, l := range wrap(field, w-2) {
			out = append(out, "> "+l)
		}
		if d.err != "" {
			out = append(out, m.styles.Fail.Render("✗ "+d.err))
		}
		out = append(out, "")
	}
	out = append(out, m.styles.Muted.Render("enter submit · esc cancel"))
	return out
}
