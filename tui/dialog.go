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
	dlgConfirmAction
	dlgUndo
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
	// step is the action step a confirmation or an undo is about.
	step string
	// stale, when set, is asked after every engine state: a non-empty
	// answer (why) closes the dialog, because what it showed — the dry
	// run to confirm, the rollout to undo — is no longer what the event
	// would act on.
	stale func(s runbook.State) string
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
	case d.kind == dlgConfirmAction && key.Matches(msg, m.keys.DialogDiff):
		m.openDiff(d.step) // over the dialog; c or esc comes back to it
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
	if st.Action != nil {
		m.openConfirmAction(st.ID)
		return
	}
	if st.Manual == nil {
		m.setNotice(fmt.Sprintf("step %q is a %s step: only manual steps and actions are confirmed (r runs it)", st.ID, st.StepKind()), true)
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

// maxDialogObjects bounds the objects an action's confirmation lists.
const maxDialogObjects = 6

// openConfirmAction opens the confirmation of a mutating action: what it
// does, its dry run, how many objects it changes, with an optional note.
// What the engine would refuse is said at once instead — a read-only run
// above all: the dialog never offers to execute there.
func (m *Model) openConfirmAction(id string) {
	pi, si, ok := m.state.Find(id)
	if !ok {
		return
	}
	st, ss := &m.state.Runbook.Phases[pi].Steps[si], &m.state.Phases[pi].Steps[si]
	switch {
	case !st.Mutating():
		m.setNotice(fmt.Sprintf("action %q changes nothing and runs by itself: r re-runs it", id), true)
		return
	case !m.actionsAllowed():
		m.setNotice("read-only run: start with --allow-actions to execute; d shows the dry run", true)
		return
	case ss.Status == runbook.StepRunning:
		m.setNotice(fmt.Sprintf("action %q is executing: wait for its result", id), true)
		return
	case ss.Planning():
		m.setNotice(fmt.Sprintf("action %q: dry run in progress; confirm once it is back", id), true)
		return
	case ss.Plan == nil:
		msg := fmt.Sprintf("action %q has no dry run yet: r runs one", id)
		if unmet := m.state.UnmetNeeds(id); unmet != "" {
			msg = fmt.Sprintf("action %q needs %s to pass first (its dry run follows)", id, unmet)
		}
		m.setNotice(msg, true)
		return
	case !ss.Plan.Status.OK():
		m.setNotice(fmt.Sprintf("the dry run of %q failed (%s): nothing to confirm; fix it and r re-runs it (d shows it)", id, ss.Plan.Summary), true)
		return
	case ss.Status != runbook.StepPending:
		m.setNotice(fmt.Sprintf("action %q is %s: r re-runs its dry run before executing it again", id, ss.Status), true)
		return
	}
	s, plan, op := m.styles, ss.Plan, m.opts.Operator
	what := "Execute " + id + "?"
	if d := describe(st); d != "" {
		what = "Execute: " + d + "?"
	}
	counts := s.Bold.Render(changes(plan.Changes))
	if c := objectCounts(plan.Objects); c != "" {
		counts += " · " + c
	}
	hint := "ctrl+d shows the diff (d from the step list)"
	if plan.Diff == "" {
		hint = "no diff: the objects would not change"
	}
	// What matters most first: a short pane cuts the end.
	lines := []string{
		what,
		s.ModeActions.Render("! ACTIONS ENABLED") + " changes the cluster as " + op,
		s.status(plan.Status).Render("dry run "+statusGlyph(plan.Status)) + " " + plan.Summary,
		counts,
		s.Muted.Render(hint),
	}
	objs := m.objectLines(plan.Objects, 1<<10, false)
	if len(objs) > maxDialogObjects {
		objs = append(objs[:maxDialogObjects-1], fmt.Sprintf("… and %d more", len(plan.Objects)-maxDialogObjects+1))
	}
	for _, o := range objs {
		lines = append(lines, "  "+strings.TrimRight(o, " "))
	}
	lines = append(lines, "", "The confirmation and its note go to the journal and the report.")
	m.dlg = &dialog{
		kind: dlgConfirmAction, title: "Confirm action " + id, step: id,
		lines: lines, prompt: "Note (optional):",
		build: func(text string) runbook.Event { return runbook.Confirmed{Step: id, Operator: op, Note: text} },
		stale: func(s runbook.State) string {
			pi, si, ok := s.Find(id)
			if !ok {
				return "the step is gone"
			}
			if ss := &s.Phases[pi].Steps[si]; ss.Plan != plan || ss.Planning() || ss.Status != runbook.StepPending {
				return "its dry run changed: review it again (c)"
			}
			if !s.AllowActions {
				return "the run is read-only now"
			}
			return ""
		},
	}
}

// openUndo asks to undo a failed rollout to the revision it offered, with
// a required reason. A read-only run cannot: it says so instead.
func (m *Model) openUndo() {
	st, ss, ok := m.selected()
	if !ok {
		return
	}
	id := st.ID
	switch {
	case st.Action == nil || ss.Action == nil || ss.Action.UndoRevision <= 0:
		m.setNotice(fmt.Sprintf("step %q offers no undo (only a failed rollout does)", id), true)
		return
	case !m.actionsAllowed():
		m.setNotice("read-only run: an undo changes the cluster; start with --allow-actions", true)
		return
	case ss.Undoing():
		m.setNotice(fmt.Sprintf("step %q is already being undone", id), true)
		return
	case ss.Status == runbook.StepRunning:
		m.setNotice(fmt.Sprintf("step %q is still running: wait for its result", id), true)
		return
	}
	s, res, op := m.styles, ss.Action, m.opts.Operator
	rev := res.UndoRevision
	lines := []string{
		fmt.Sprintf("Undo rollout of %s to revision %d?", id, rev),
		s.status(res.Status).Render("result "+statusGlyph(res.Status)) + " " + res.Summary,
	}
	for _, it := range res.Items {
		if it.Status != probes.StatusPass {
			lines = append(lines, fmt.Sprintf("  %s %s %s", statusGlyph(it.Status), it.Name, it.Summary))
		}
	}
	if ss.Undo != nil {
		lines = append(lines, s.Warn.Render("an undo was done already: "+statusGlyph(ss.Undo.Status)+" "+ss.Undo.Summary))
	}
	lines = append(lines, "The step stays failed (the gate needs an override); the undo and its reason are journaled.")
	m.dlg = &dialog{
		kind: dlgUndo, title: "Undo " + id, step: id,
		lines: lines, prompt: "Reason:", required: true,
		build: func(text string) runbook.Event {
			return runbook.UndoRequested{Step: id, Revision: rev, Operator: op, Reason: text}
		},
		stale: func(s runbook.State) string {
			pi, si, ok := s.Find(id)
			if !ok {
				return "the step is gone"
			}
			if ss := &s.Phases[pi].Steps[si]; ss.Action != res || ss.Undoing() {
				return "the rollout's state changed: look again (u)"
			}
			if !s.AllowActions {
				return "the run is read-only now"
			}
			return ""
		},
	}
}

// dialogLines renders the open dialog for a w×h pane. The text field and
// the keys always show: when the pane is too short, what is being decided
// is cut at its end (a dialog puts what matters most first).
func (m *Model) dialogLines(w, h int) []string {
	d := m.dlg
	var body []string
	for _, l := range d.lines {
		body = append(body, m.wrap(l, w)...)
	}
	foot := []string{""}
	if d.prompt != "" {
		field := d.input + "█"
		foot = append(foot, m.styles.Bold.Render(d.prompt))
		for _, l := range m.wrap(field, w-2) {
			foot = append(foot, "> "+l)
		}
		if d.err != "" {
			foot = append(foot, m.styles.Fail.Render("✗ "+d.err))
		}
		foot = append(foot, "")
	}
	foot = append(foot, m.styles.Muted.Render("enter submit · esc cancel"))
	if room := h - len(foot); len(body) > room && room > 0 {
		body = append(body[:room-1], m.styles.Muted.Render("…"))
	}
	return append(body, foot...)
}
