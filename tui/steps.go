package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/cockpit-dev/cockpit/runbook"
)

// stepsPane is the step list: the shown phase's gate and steps, each with
// its glyph, a live summary and the age of its last observation. It owns
// the selection — the shown phase, the selected step, whether the shown
// phase follows the current one — which the root hands on to the other
// panes (Selection).
type stepsPane struct {
	env  *env
	run  runView
	w, h int

	phase, sel int
	follow     bool // the shown phase follows the current one
	focused    bool
}

func newStepsPane(e *env) *stepsPane { return &stepsPane{env: e, follow: true, focused: true} }

// SetSize gives the pane its size.
func (p *stepsPane) SetSize(w, h int) { p.w, p.h = w, h }

// Focus says whether the pane has the keys (no dialog over the detail).
func (p *stepsPane) Focus(focused bool) { p.focused = focused }

// Selection is the shown phase and the selected step in it.
func (p *stepsPane) Selection() (phase, sel int) { return p.phase, p.sel }

// ShortHelp is the step list's keys.
func (p *stepsPane) ShortHelp() []key.Binding {
	k := p.env.keys
	return []key.Binding{k.Up, k.Down, k.PrevPhase, k.NextPhase}
}

// Update takes a new run (the shown phase follows the current one unless
// the operator moved away) and the moving keys.
func (p *stepsPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case runViewMsg:
		p.follows(msg.run)
	case tea.KeyPressMsg:
		if !p.run.hasState {
			return nil
		}
		k := p.env.keys
		switch {
		case key.Matches(msg, k.Up):
			p.sel = max(p.sel-1, 0)
		case key.Matches(msg, k.Down):
			p.sel = min(p.sel+1, max(len(p.run.state.Phases[p.phase].Steps)-1, 0))
		case key.Matches(msg, k.PrevPhase):
			p.showPhase(p.phase - 1)
		case key.Matches(msg, k.NextPhase):
			p.showPhase(p.phase + 1)
		}
	}
	return nil
}

// follows takes a new run: when the current phase changes, or the shown
// one follows it, the list shows the current phase.
func (p *stepsPane) follows(run runView) {
	prevCurrent := p.run.state.Current
	p.run = run
	if !run.hasState {
		return
	}
	s := &p.run.state
	if p.follow || prevCurrent != s.Current {
		if p.phase != s.Current {
			p.sel = 0
		}
		p.phase, p.follow = s.Current, true
	}
	p.phase = min(p.phase, len(s.Phases)-1)
	p.sel = clamp(p.sel, 0, max(len(s.Phases[p.phase].Steps)-1, 0))
	p.run.phase, p.run.sel = p.phase, p.sel
}

func (p *stepsPane) showPhase(i int) {
	if i < 0 || i >= len(p.run.state.Phases) || i == p.phase {
		return
	}
	p.phase, p.sel = i, 0
	p.follow = i == p.run.state.Current
}

// View draws the list.
func (p *stepsPane) View() string {
	return p.env.box(p.w, p.h, p.title(), p.focused, p.lines(p.w-frameSize, p.h-frameSize))
}

func (p *stepsPane) title() string {
	if !p.run.hasState {
		return "steps"
	}
	ph := p.run.state.Runbook.Phases[p.phase]
	t := ph.ID
	if ph.Title != "" {
		t += " · " + ph.Title
	}
	return fmt.Sprintf("%s (%d/%d)", t, p.phase+1, len(p.run.state.Phases))
}

// lines draws the shown phase's steps: glyph, title, live summary and the
// age of the last observation; the gate's verdict first.
func (p *stepsPane) lines(w, h int) []string {
	if !p.run.hasState {
		return []string{"waiting for the runbook engine…"}
	}
	s, state := p.env.styles, &p.run.state
	ph, ps := &state.Runbook.Phases[p.phase], &state.Phases[p.phase]
	var gate string
	switch {
	case p.phase == state.Current && !state.Finished():
		v := state.Gate(p.phase)
		gate = s.status(v.Status).Render("gate "+statusGlyph(v.Status)+" "+v.Status.String()) + " " + v.Message
	case ps.Status == runbook.PhaseWaiting:
		gate = s.Pending.Render("not reached yet")
	default:
		gate = s.phase(ps.Status).Render(phaseGlyph(ps.Status)+" "+ps.Status.String()) + " " + ps.Verdict.Message
	}
	lines := p.env.wrap(gate, w)
	if len(lines) > 2 {
		lines = lines[:2]
	}
	nameW, kinds := 0, false
	for i := range ph.Steps {
		nameW = max(nameW, ansi.StringWidth(stepTitle(&ph.Steps[i])))
		kinds = kinds || ph.Steps[i].Action != nil
	}
	if kinds {
		nameW += 2 // a kind glyph before the names of actions
	}
	nameW = min(nameW, max(w/2-3, 8))
	const ageW = 4
	rows := h - len(lines)
	first := 0
	if p.sel >= rows && rows > 0 {
		first = p.sel - rows + 1
	}
	for i := first; i < len(ph.Steps) && i-first < rows; i++ {
		st, ss := &ph.Steps[i], &ps.Steps[i]
		marker := " "
		if i == p.sel {
			marker = "▸"
		}
		title := stepTitle(st)
		if kinds {
			title = fit(kindGlyph(st), 1) + " " + title
		}
		name := fit(title, nameW)
		age := p.age(ss)
		sumW := max(w-3-nameW-1-ageW-1, 0)
		sum := p.stepSummary(st, ss, sumW)
		line := marker + s.step(ss.Status).Render(stepGlyph(ss.Status)) + " " + name + " " +
			fit(sum, sumW) + " " + s.Muted.Render(fmt.Sprintf("%*s", ageW, age))
		if i == p.sel {
			line = marker + s.step(ss.Status).Render(stepGlyph(ss.Status)) + " " + s.Bold.Render(name) + " " +
				fit(sum, sumW) + " " + s.Muted.Render(fmt.Sprintf("%*s", ageW, age))
		}
		lines = append(lines, line)
	}
	return lines
}

// stepSummary is a step's one live line, for w cells.
func (p *stepsPane) stepSummary(st *runbook.Step, ss *runbook.StepState, w int) string {
	if st.Action != nil {
		long, short := p.actionSummary(st, ss)
		if short != "" && ansi.StringWidth(long) > w {
			return short
		}
		return long
	}
	loads := p.run.loads
	switch {
	case ss.Override != nil:
		return "overridden: " + ss.Override.Text
	case ss.Skip != nil:
		return "skipped" + prefixed(": ", ss.Skip.Text)
	case ss.Confirm != nil:
		return "confirmed by " + ss.Confirm.Operator + prefixed(": ", ss.Confirm.Text)
	case ss.HasResult || ss.Why != "":
		return ss.Says()
	case st.Manual != nil:
		if unmet := p.run.state.UnmetNeeds(st.ID); unmet != "" {
			return "needs " + unmet
		}
		return "confirm: " + st.Manual.Prompt
	case loads[st.ID] != nil && ss.Status == runbook.StepRunning:
		return loads[st.ID].summary()
	case ss.Status == runbook.StepRunning:
		return "running…"
	}
	if unmet := p.run.state.UnmetNeeds(st.ID); unmet != "" {
		return "needs " + unmet
	}
	return ss.Status.String()
}

// actionSummary is an action step's live line in the step list, and a
// form for a list too narrow for it that puts what to do next first, so
// that cutting its end keeps the key ("" when the long one will do).
func (p *stepsPane) actionSummary(st *runbook.Step, ss *runbook.StepState) (long, short string) {
	switch {
	case ss.Override != nil:
		return "overridden: " + ss.Override.Text, ""
	case ss.Skip != nil:
		return "skipped" + prefixed(": ", ss.Skip.Text), ""
	case ss.Undoing():
		return "undoing…" + undoTarget(ss), ""
	case ss.Status == runbook.StepRunning:
		verb := "running…"
		if st.Mutating() {
			verb = "executing…"
		}
		if pr := p.run.progress[st.ID]; pr != nil && pr.Summary != "" {
			return verb + " " + pr.Summary, ""
		}
		return verb, ""
	case ss.Planning():
		return "planning…", ""
	case !st.Mutating():
		if ss.HasResult {
			return ss.Last.Summary, ""
		}
	case ss.Plan != nil && !ss.Plan.Status.OK():
		return "dry run failed: " + ss.Plan.Summary, ""
	case ss.Status == runbook.StepPending && ss.Plan != nil:
		if !p.run.actions {
			return "read-only: dry run only · " + planWhat(ss.Plan), "dry run only · " + planWhat(ss.Plan)
		}
		return "dry run: " + planWhat(ss.Plan) + " — c to review & confirm", "c to confirm · dry run: " + planWhat(ss.Plan)
	case ss.Action != nil:
		line := ss.Action.Summary
		switch {
		case ss.Undo != nil:
			line += " · undo " + statusGlyph(ss.Undo.Status) + " " + ss.Undo.Summary
		case ss.Action.UndoRevision > 0 && ss.Status == runbook.StepFailed:
			if p.run.actions {
				return line + fmt.Sprintf(" — u undo to rev %d", ss.Action.UndoRevision),
					fmt.Sprintf("u undo rev %d · %s", ss.Action.UndoRevision, line)
			}
			line += fmt.Sprintf(" — undo to rev %d needs --allow-actions", ss.Action.UndoRevision)
		}
		if ss.Cleaned != nil {
			line += " · cleaned up"
		}
		return line, ""
	}
	if unmet := p.run.state.UnmetNeeds(st.ID); unmet != "" {
		return "needs " + unmet, ""
	}
	if st.Mutating() {
		return "no dry run yet: r runs one", ""
	}
	return ss.Status.String(), ""
}

// age is how long ago the step was last observed or decided.
func (p *stepsPane) age(ss *runbook.StepState) string {
	t := ss.UpdatedAt
	if ss.HasResult {
		t = ss.Last.ObservedAt
	}
	if t.IsZero() {
		return ""
	}
	return shortDuration(p.env.now().Sub(t))
}
