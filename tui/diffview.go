package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// maxDiffRows bounds the rows the viewer holds (a diff is bounded
// upstream; this guards the screen against a huge one).
const maxDiffRows = 20000

// diffViewer is the overlay showing an action's dry run: what it would do
// and its unified diff in a scrollable viewport. The diff's rows are cut
// and styled when the viewer opens, when its width changes or when a new
// dry run lands — never per frame.
type diffViewer struct {
	step     string
	plan     *actions.Result // the dry run shown; nil while none
	planning bool
	width    int      // the content width the rows were built for
	head     []string // fixed lines above the diff
	vp       viewport.Model
}

// diffPane is the diff viewer's place: closed, or a diffViewer over the
// steps, detail and load panes (and over an action's confirmation when
// opened from it). It opens on d or enter for the selected action, or on
// an openDiffMsg; it takes every key while open; it follows the step's
// dry run as new states arrive.
type diffPane struct {
	env  *env
	run  runView
	w, h int
	d    *diffViewer // nil while closed
}

func newDiffPane(e *env) *diffPane { return &diffPane{env: e} }

// isOpen reports whether the viewer is open.
func (p *diffPane) isOpen() bool { return p.d != nil }

// viewport is the open viewer's viewport (nil while closed).
func (p *diffPane) viewport() *viewport.Model {
	if p.d == nil {
		return nil
	}
	return &p.d.vp
}

// SetSize gives the viewer its size, rebuilding what it shows for it.
func (p *diffPane) SetSize(w, h int) {
	p.w, p.h = w, h
	if p.d != nil {
		p.buildDiff()
	}
}

// ShortHelp is the viewer's keys; c is offered only when the run may
// execute actions.
func (p *diffPane) ShortHelp() []key.Binding {
	return diffKeys{p.env.keys, p.run.actions}.ShortHelp()
}

// Update takes the run as it now is (the viewer follows its step), the
// keys that open it, every key while it is open, and requests to open or
// close it.
func (p *diffPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case runViewMsg:
		p.run = msg.run
		if p.d != nil {
			p.refreshDiff()
		}
	case openDiffMsg:
		p.openDiff(msg.step)
	case closeDiffMsg:
		p.d = nil
	case tea.KeyPressMsg:
		if p.d != nil {
			return p.diffKey(msg)
		}
		k := p.env.keys
		st, _, ok := p.run.selected()
		switch {
		case !ok:
		case key.Matches(msg, k.Diff):
			p.openDiff(st.ID)
		case key.Matches(msg, k.Submit) && st.Mutating():
			p.openDiff(st.ID) // enter on an action opens its dry run
		}
	}
	return nil
}

// diffRect is where the viewer draws: the steps, detail and load panes
// together, the width of the screen.
func (l Layout) diffRect() Rect {
	r := Rect{X: 0, Y: l.Steps.Y, W: l.Width, H: l.Steps.H}
	if !l.Load.Empty() {
		r.H += l.Load.H
	}
	return r
}

// openDiff opens the viewer on an action step's dry run.
func (p *diffPane) openDiff(id string) {
	pi, si, ok := p.run.state.Find(id)
	if !ok {
		return
	}
	st := &p.run.state.Runbook.Phases[pi].Steps[si]
	if st.Action == nil {
		p.env.notify(fmt.Sprintf("step %q is a %s step: only actions have a dry-run diff", st.ID, st.StepKind()), true)
		return
	}
	if !st.Mutating() {
		p.env.notify(fmt.Sprintf("action %q changes nothing: it has no dry run (r re-runs it)", st.ID), false)
		return
	}
	p.d = &diffViewer{step: id}
	p.buildDiff()
}

// buildDiff (re)builds the open viewer's content for the step's current
// dry run and the current size, keeping the scroll position.
func (p *diffPane) buildDiff() {
	d := p.d
	pi, si, ok := p.run.state.Find(d.step)
	if !ok || p.w <= 0 {
		return
	}
	st, ss := &p.run.state.Runbook.Phases[pi].Steps[si], &p.run.state.Phases[pi].Steps[si]
	w, h := p.w-frameSize, p.h-frameSize
	d.plan, d.planning, d.width = ss.Plan, ss.Planning(), w
	d.head = p.diffHead(st, ss, w)
	var body []string
	switch {
	case ss.Planning():
		body = []string{p.env.styles.Running.Render("↻ dry run in progress…")}
	case ss.Plan == nil:
		msg := "no dry run yet: r runs one"
		if unmet := p.run.state.UnmetNeeds(st.ID); unmet != "" {
			msg = "no dry run yet: it runs once " + unmet + " passed"
		}
		body = []string{p.env.styles.Muted.Render(msg)}
	default:
		if ss.Plan.Message != "" {
			for _, l := range strings.Split(ss.Plan.Message, "\n") {
				body = append(body, p.env.wrap(cleanLine(l), w)...)
			}
			body = append(body, "")
		}
		if ss.Plan.Diff == "" {
			body = append(body, p.env.styles.Muted.Render("no diff: the objects would not change"))
		} else {
			body = append(body, diffRows(p.env.styles, ss.Plan.Diff, w)...)
		}
	}
	y := d.vp.YOffset()
	d.vp = viewport.New(viewport.WithWidth(w), viewport.WithHeight(max(h-len(d.head), 1)))
	d.vp.KeyMap = p.env.keys.Scroll
	d.vp.SetContentLines(body)
	d.vp.SetYOffset(y)
}

// diffHead is the viewer's fixed top: what the action does, the dry run's
// verdict, what confirming would do in this run's mode, and a rule.
func (p *diffPane) diffHead(st *runbook.Step, ss *runbook.StepState, w int) []string {
	s := p.env.styles
	var head []string
	if d := describe(st); d != "" {
		head = append(head, fit(s.Muted.Render(d), w))
	}
	var mode string
	switch p := ss.Plan; {
	case ss.Planning() || p == nil:
		head = append(head, fit(s.Running.Render("↻ dry run in progress"), w))
	case !p.Status.OK():
		head = append(head, fit(s.status(p.Status).Render("dry run "+statusGlyph(p.Status)+" "+p.Status.String())+" "+p.Summary, w))
		mode = s.Fail.Render("✗ the dry run failed: nothing to confirm; fix it and r re-runs it")
	default:
		line := s.status(p.Status).Render("dry run "+statusGlyph(p.Status)) + " " + p.Summary + " · " + changes(p.Changes)
		if c := objectCounts(p.Objects); c != "" {
			line += " · " + c
		}
		head = append(head, fit(line, w))
	}
	if mode == "" {
		switch {
		case !p.run.actions:
			mode = s.ModeReadOnly.Render("READ-ONLY") + " run: dry run only — start with --allow-actions to execute"
		case ss.Status == runbook.StepPending && ss.Plan != nil && !ss.Planning():
			mode = s.ModeActions.Render("ACTIONS ENABLED") + " c confirms and executes it as " + p.env.operator
		default:
			mode = s.Muted.Render("step " + ss.Status.String())
		}
	}
	head = append(head, fit(mode, w), s.Muted.Render(strings.Repeat("─", max(w, 0))))
	return head
}

// diffRows cuts a unified diff into rows of at most w cells, each styled
// by its kind: + added, - removed, @@ hunk, ---/+++ file headers. A row
// that continues a long line starts with ↪. The glyphs carry the meaning;
// colour only repeats it.
func diffRows(s Styles, diff string, w int) []string {
	lines := strings.Split(strings.TrimRight(diff, "\n"), "\n")
	var rows []string
	for i, raw := range lines {
		if len(rows) >= maxDiffRows {
			rows = append(rows, s.Warn.Render(fmt.Sprintf("… %d more lines not shown", len(lines)-i)))
			break
		}
		line := cleanLine(raw)
		st := lipgloss.NewStyle()
		switch {
		case strings.HasPrefix(line, "--- ") && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "+++ "),
			strings.HasPrefix(line, "+++ ") && i > 0 && strings.HasPrefix(lines[i-1], "--- "):
			st = s.DiffFile
		case strings.HasPrefix(line, "@@"):
			st = s.DiffHunk
		case strings.HasPrefix(line, "+"):
			st = s.DiffAdd
		case strings.HasPrefix(line, "-"):
			st = s.DiffDel
		}
		n := ansi.StringWidth(line)
		if n <= w || w < 2 {
			rows = append(rows, st.Render(line))
			continue
		}
		rows = append(rows, st.Render(ansi.Cut(line, 0, w)))
		for off := w; off < n; off += w - 1 {
			rows = append(rows, st.Render("↪"+ansi.Cut(line, off, off+w-1)))
		}
	}
	return rows
}

// diffKey handles a key while the viewer is open: it takes every key.
func (p *diffPane) diffKey(msg tea.KeyPressMsg) tea.Cmd {
	k := p.env.keys
	d := p.d
	switch {
	case key.Matches(msg, k.ViewClose):
		p.d = nil
	case key.Matches(msg, k.ViewConfirm):
		// Back to the confirmation it was opened over, or a new one;
		// the dialog pane closes the viewer when one is open.
		p.env.post(viewConfirmMsg{step: d.step})
	case key.Matches(msg, k.Top):
		d.vp.GotoTop()
	case key.Matches(msg, k.Bottom):
		d.vp.GotoBottom()
	default:
		d.vp, _ = d.vp.Update(msg)
	}
	return nil
}

// View draws the open viewer.
func (p *diffPane) View() string {
	d := p.d
	if d.width == 0 {
		return p.env.box(p.w, p.h, "dry run · "+d.step, true, []string{"the terminal is too small for the diff"})
	}
	lines := append([]string(nil), d.head...)
	lines = append(lines, strings.Split(d.vp.View(), "\n")...)
	title := "dry run · " + d.step
	if total := d.vp.TotalLineCount(); total > d.vp.VisibleLineCount() {
		first := d.vp.YOffset() + 1
		last := min(d.vp.YOffset()+d.vp.VisibleLineCount(), total)
		title += fmt.Sprintf(" · lines %d–%d of %d (%d%%)", first, last, total, int(d.vp.ScrollPercent()*100))
	}
	return p.env.box(p.w, p.h, title, true, lines)
}

// refreshDiff follows the step while the viewer is open: a new dry run
// (a re-run) or one going out replaces what is shown, so a confirmation
// from the viewer always follows the dry run on screen; otherwise only
// the fixed top (status, mode) is drawn again.
func (p *diffPane) refreshDiff() {
	d := p.d
	pi, si, ok := p.run.state.Find(d.step)
	if !ok {
		p.d = nil
		return
	}
	st, ss := &p.run.state.Runbook.Phases[pi].Steps[si], &p.run.state.Phases[pi].Steps[si]
	if ss.Plan != d.plan || ss.Planning() != d.planning {
		if d.plan != nil && ss.Plan != d.plan {
			p.env.notify("the dry run of "+d.step+" changed: the viewer shows the new one", false)
		}
		p.buildDiff()
		return
	}
	if d.width > 0 {
		d.head = p.diffHead(st, ss, d.width)
		d.vp.SetHeight(max(p.h-frameSize-len(d.head), 1))
	}
}
