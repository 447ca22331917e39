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

// dialogPane holds the open dialog, if any, in the detail pane's place:
// it opens one on c, s, o, O, u, a and ctrl+x for the selected step or the
// current phase, takes every key while one is open, and closes it on
// submit (sending its event), on esc, or when what it showed goes stale.
// Whether the engine would take a confirmation or an undo is the engine's
// answer (State.CanConfirm, CanUndo): a refusal is said at once, in the
// engine's words, instead of a dialog.
type dialogPane struct {
	env  *env
	run  runView
	w, h int
	dlg  *dialog
}

func newDialogPane(e *env) *dialogPane { return &dialogPane{env: e} }

// SetSize gives the pane its size.
func (p *dialogPane) SetSize(w, h int) { p.w, p.h = w, h }

// isOpen reports whether a dialog is open.
func (p *dialogPane) isOpen() bool { return p.dlg != nil }

// current is the open dialog (nil when none).
func (p *dialogPane) current() *dialog { return p.dlg }

// ShortHelp is the open dialog's keys: an action's confirmation offers
// its diff too.
func (p *dialogPane) ShortHelp() []key.Binding {
	if p.dlg != nil && p.dlg.kind == dlgConfirmAction {
		return actionDialogKeys{p.env.keys}.ShortHelp()
	}
	return dialogKeys{p.env.keys}.ShortHelp()
}

// Update takes the run as it now is (a dialog whose subject changed
// closes), the keys that open a dialog, every key while one is open, a
// paste into its field, and c from the diff viewer.
func (p *dialogPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case runViewMsg:
		p.run = msg.run
		if p.dlg != nil && p.dlg.stale != nil {
			if why := p.dlg.stale(p.run.state); why != "" {
				p.env.notify(p.dlg.title+" closed: "+why, true)
				p.dlg = nil
			}
		}
	case tea.PasteMsg:
		if p.dlg != nil {
			p.dlg.paste(msg.Content)
		}
	case viewConfirmMsg:
		if p.dlg == nil { // not opened over a confirmation: open one
			p.openConfirmAction(msg.step)
		}
		if p.dlg != nil {
			p.env.post(closeDiffMsg{}) // back to the confirmation
		}
	case tea.KeyPressMsg:
		if p.dlg != nil {
			return p.dialogKey(msg)
		}
		return p.open(msg)
	}
	return nil
}

// open opens the dialog a key asks for, or says why not.
func (p *dialogPane) open(msg tea.KeyPressMsg) tea.Cmd {
	k := p.env.keys
	switch {
	case key.Matches(msg, k.Confirm):
		p.openConfirm()
	case key.Matches(msg, k.Undo):
		p.openUndo()
	case key.Matches(msg, k.Skip):
		p.openSkip()
	case key.Matches(msg, k.Override):
		p.openOverrideStep()
	case key.Matches(msg, k.OverrideGate):
		p.openOverrideGate()
	case key.Matches(msg, k.Advance):
		return p.advance()
	case key.Matches(msg, k.Abort):
		p.openAbort()
	}
	return nil
}

// View draws the open dialog.
func (p *dialogPane) View() string {
	if p.dlg == nil {
		return ""
	}
	return p.env.box(p.w, p.h, p.dlg.title, true, p.dialogLines(p.w-frameSize, p.h-frameSize))
}

// finished reports whether the run has finished, and tells the operator
// so: nothing is left to advance, override or abort.
func (p *dialogPane) finished() bool {
	s := &p.run.state
	if s.Finished() {
		p.env.notify("the run has finished ("+s.Outcome.String()+")", true)
	}
	return s.Finished()
}

// advance asks to leave the phase. A red gate is refused by the engine
// (and journaled as an attempt); the cockpit says why at once.
func (p *dialogPane) advance() tea.Cmd {
	s := &p.run.state
	if p.finished() {
		return nil
	}
	ps := &s.Phases[s.Current]
	v := s.Gate(s.Current)
	op := p.env.operator
	if !v.Status.OK() && ps.Override == nil {
		p.env.notify(fmt.Sprintf("advance refused: gate of phase %q is %s: %s — O overrides it with a reason",
			ps.ID, v.Status, v.Message), true)
		return p.env.send(runbook.Advance{Operator: op})
	}
	next := "finish the run"
	if s.Current+1 < len(s.Phases) {
		next = "enter " + s.Phases[s.Current+1].ID
	}
	lines := []string{
		fmt.Sprintf("Leave phase %s and %s?", ps.ID, next),
		"",
		fmt.Sprintf("gate %s %s: %s", statusGlyph(v.Status), v.Status, v.Message),
	}
	if ps.Override != nil {
		lines = append(lines, "gate overridden by "+ps.Override.Operator+": "+ps.Override.Text)
	}
	p.dlg = &dialog{
		kind: dlgAdvance, title: "Advance " + ps.ID, lines: lines,
		build: func(string) runbook.Event { return runbook.Advance{Operator: op} },
	}
	return nil
}

func (p *dialogPane) dialogKey(msg tea.KeyPressMsg) tea.Cmd {
	d := p.dlg
	switch {
	case key.Matches(msg, p.env.keys.Cancel):
		p.dlg = nil
		p.env.notify("cancelled", false)
		return nil
	case key.Matches(msg, p.env.keys.Submit):
		text := strings.TrimSpace(d.input)
		if d.required && text == "" {
			d.err = "a " + strings.ToLower(strings.TrimSuffix(d.prompt, ":")) + " is required"
			return nil
		}
		p.dlg = nil
		return p.env.send(d.build(text))
	case msg.String() == "ctrl+c":
		p.dlg = nil
		return nil
	case d.kind == dlgConfirmAction && key.Matches(msg, p.env.keys.DialogDiff):
		p.env.post(openDiffMsg{step: d.step}) // over the dialog; c or esc comes back to it
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

func (p *dialogPane) openConfirm() {
	st, ss, ok := p.run.selected()
	if !ok {
		return
	}
	if st.Manual != nil && ss.Status == runbook.StepPassed {
		// The engine would take it again: a second entry in the journal.
		p.env.notify(fmt.Sprintf("step %q is already confirmed", st.ID), false)
		return
	}
	if ok, why := p.run.state.CanConfirm(st.ID); !ok {
		p.env.notify(why, true)
		return
	}
	if st.Action != nil {
		p.openConfirmAction(st.ID)
		return
	}
	required := st.Manual.Note == "required"
	prompt := "Note (optional):"
	if required {
		prompt = "Note:"
	}
	id, op := st.ID, p.env.operator
	p.dlg = &dialog{
		kind: dlgConfirm, title: "Confirm " + st.ID,
		lines:  []string{st.Manual.Prompt, "", "Confirmed as " + op + "; recorded in the journal."},
		prompt: prompt, required: required,
		build: func(text string) runbook.Event { return runbook.Confirmed{Step: id, Operator: op, Note: text} },
	}
}

func (p *dialogPane) openSkip() {
	st, _, ok := p.run.selected()
	if !ok {
		return
	}
	if !st.Optional {
		p.env.notify(fmt.Sprintf("step %q is required: only optional steps can be skipped (o overrides a failed one)", st.ID), true)
		return
	}
	id, op := st.ID, p.env.operator
	p.dlg = &dialog{
		kind: dlgSkip, title: "Skip " + st.ID,
		lines:  []string{"Skip the optional step " + stepTitle(st) + "?"},
		prompt: "Reason (optional):",
		build:  func(text string) runbook.Event { return runbook.Skipped{Step: id, Operator: op, Reason: text} },
	}
}

func (p *dialogPane) openOverrideStep() {
	st, ss, ok := p.run.selected()
	if !ok {
		return
	}
	if ss.Status != runbook.StepFailed {
		p.env.notify(fmt.Sprintf("step %q is %s, not failed: nothing to override", st.ID, ss.Status), true)
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
	p.openOverride(dlgOverrideStep, "Override "+st.ID, lines, runbook.Overridden{Step: st.ID})
}

func (p *dialogPane) openOverrideGate() {
	if p.finished() {
		return
	}
	ps := &p.run.state.Phases[p.run.state.Current]
	v := p.run.state.Gate(p.run.state.Current)
	if v.Status.OK() {
		p.env.notify(fmt.Sprintf("the gate of phase %q is %s: nothing to override", ps.ID, v.Status), false)
		return
	}
	lines := []string{
		"You are accepting the red gate of phase " + ps.ID + ":", "",
		fmt.Sprintf("gate %s %s: %s", statusGlyph(v.Status), v.Status, v.Message),
	}
	for i, ss := range ps.Steps {
		if ss.Status == runbook.StepFailed || ss.Status == runbook.StepPending || ss.Status == runbook.StepRunning {
			lines = append(lines, fmt.Sprintf("  %s %s %s", stepGlyph(ss.Status), stepTitle(&p.run.state.Runbook.Phases[p.run.state.Current].Steps[i]), ss.Status))
		}
	}
	lines = append(lines, "", "Then a advances. The override goes to the journal and the report.")
	p.openOverride(dlgOverrideGate, "Override gate "+ps.ID, lines, runbook.Overridden{Phase: ps.ID})
}

// openOverride opens an override dialog showing lines: a reason is
// required, and the event sent is ev by the operator with that reason.
func (p *dialogPane) openOverride(kind dialogKind, title string, lines []string, ev runbook.Overridden) {
	ev.Operator = p.env.operator
	p.dlg = &dialog{
		kind: kind, title: title,
		lines: lines, prompt: "Reason:", required: true,
		build: func(text string) runbook.Event {
			e := ev
			e.Reason = text
			return e
		},
	}
}

func (p *dialogPane) openAbort() {
	if p.finished() {
		return
	}
	op := p.env.operator
	p.dlg = &dialog{
		kind: dlgAbort, title: "Abort the run",
		lines: []string{
			"Abort the go-live in phase " + p.run.state.Phases[p.run.state.Current].ID + "?",
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
// What the engine would refuse (State.CanConfirm) is said at once instead,
// in its words — a read-only run above all: the dialog never offers to
// execute there.
func (p *dialogPane) openConfirmAction(id string) {
	st, ss, ok := p.run.step(id)
	if !ok {
		return
	}
	if ok, why := p.run.state.CanConfirm(id); !ok {
		p.env.notify(why, true)
		return
	}
	s, plan, op := p.env.styles, ss.Plan, p.env.operator
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
	objs := p.env.objectLines(plan.Objects, 1<<10, false)
	if len(objs) > maxDialogObjects {
		objs = append(objs[:maxDialogObjects-1], fmt.Sprintf("… and %d more", len(plan.Objects)-maxDialogObjects+1))
	}
	for _, o := range objs {
		lines = append(lines, "  "+strings.TrimRight(o, " "))
	}
	lines = append(lines, "", "The confirmation and its note go to the journal and the report.")
	p.dlg = &dialog{
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
// a required reason. What the engine would refuse (State.CanUndo) — a
// read-only run above all — is said at once instead, in its words.
func (p *dialogPane) openUndo() {
	st, ss, ok := p.run.selected()
	if !ok {
		return
	}
	id := st.ID
	if st.Action == nil || ss.Action == nil || ss.Action.UndoRevision <= 0 {
		// u is for a result that offers an undo, as the step list shows;
		// the words are the engine's for a step without one.
		p.env.notify(fmt.Sprintf("step %q offers no undo (only a failed rollout does)", id), true)
		return
	}
	if ok, why := p.run.state.CanUndo(id); !ok {
		p.env.notify(why, true)
		return
	}
	s, res, op := p.env.styles, ss.Action, p.env.operator
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
	p.dlg = &dialog{
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
func (p *dialogPane) dialogLines(w, h int) []string {
	d := p.dlg
	var body []string
	for _, l := range d.lines {
		body = append(body, p.env.wrap(l, w)...)
	}
	foot := []string{""}
	if d.prompt != "" {
		field := d.input + "█"
		foot = append(foot, p.env.styles.Bold.Render(d.prompt))
		for _, l := range p.env.wrap(field, w-2) {
			foot = append(foot, "> "+l)
		}
		if d.err != "" {
			foot = append(foot, p.env.styles.Fail.Render("✗ "+d.err))
		}
		foot = append(foot, "")
	}
	foot = append(foot, p.env.styles.Muted.Render("enter submit · esc cancel"))
	if room := h - len(foot); len(body) > room && room > 0 {
		body = append(body[:room-1], p.env.styles.Muted.Render("…"))
	}
	return append(body, foot...)
}
