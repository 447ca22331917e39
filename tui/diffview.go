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
func (m *Model) openDiff(id string) {
	pi, si, ok := m.state.Find(id)
	if !ok {
		return
	}
	st := &m.state.Runbook.Phases[pi].Steps[si]
	if st.Action == nil {
		m.setNotice(fmt.Sprintf("step %q is a %s step: only actions have a dry-run diff", st.ID, st.StepKind()), true)
		return
	}
	if !st.Mutating() {
		m.setNotice(fmt.Sprintf("action %q changes nothing: it has no dry run (r re-runs it)", st.ID), false)
		return
	}
	m.diff = &diffViewer{step: id}
	m.buildDiff()
}

// buildDiff (re)builds the open viewer's content for the step's current
// dry run and the current size, keeping the scroll position.
func (m *Model) buildDiff() {
	d := m.diff
	pi, si, ok := m.state.Find(d.step)
	if !ok || m.lay.TooSmall || m.width == 0 {
		return
	}
	st, ss := &m.state.Runbook.Phases[pi].Steps[si], &m.state.Phases[pi].Steps[si]
	r := m.lay.diffRect()
	w, h := r.W-frameSize, r.H-frameSize
	d.plan, d.planning, d.width = ss.Plan, ss.Planning(), w
	d.head = m.diffHead(st, ss, w)
	var body []string
	switch {
	case ss.Planning():
		body = []string{m.styles.Running.Render("↻ dry run in progress…")}
	case ss.Plan == nil:
		msg := "no dry run yet: r runs one"
		if unmet := m.state.UnmetNeeds(st.ID); unmet != "" {
			msg = "no dry run yet: it runs once " + unmet + " passed"
		}
		body = []string{m.styles.Muted.Render(msg)}
	default:
		if ss.Plan.Message != "" {
			for _, l := range strings.Split(ss.Plan.Message, "\n") {
				body = append(body, m.wrap(cleanLine(l), w)...)
			}
			body = append(body, "")
		}
		if ss.Plan.Diff == "" {
			body = append(body, m.styles.Muted.Render("no diff: the objects would not change"))
		} else {
			body = append(body, diffRows(m.styles, ss.Plan.Diff, w)...)
		}
	}
	y := d.vp.YOffset()
	d.vp = viewport.New(viewport.WithWidth(w), viewport.WithHeight(max(h-len(d.head), 1)))
	d.vp.KeyMap = m.keys.Scroll
	d.vp.SetContentLines(body)
	d.vp.SetYOffset(y)
}

// diffHead is the viewer's fixed top: what the action does, the dry run's
// verdict, what confirming would do in this run's mode, and a rule.
func (m *Model) diffHead(st *runbook.Step, ss *runbook.StepState, w int) []string {
	s := m.styles
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
		case !m.actionsAllowed():
			mode = s.ModeReadOnly.Render("READ-ONLY") + " run: dry run only — start with --allow-actions to execute"
		case ss.Status == runbook.StepPending && ss.Plan != nil && !ss.Planning():
			mode = s.ModeActions.Render("ACTIONS ENABLED") + " c confirms and executes it as " + m.opts.Operator
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
func (m *Model) diffKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.keys
	d := m.diff
	switch {
	case key.Matches(msg, k.ViewClose):
		m.diff = nil
	case key.Matches(msg, k.ViewConfirm):
		if m.dlg != nil { // opened from the confirmation: back to it
			m.diff = nil
			return nil
		}
		m.openConfirmAction(d.step)
		if m.dlg != nil {
			m.diff = nil
		}
	case key.Matches(msg, k.Top):
		d.vp.GotoTop()
	case key.Matches(msg, k.Bottom):
		d.vp.GotoBottom()
	default:
		d.vp, _ = d.vp.Update(msg)
	}
	return nil
}

// diffView draws the open viewer into r.
func (m *Model) diffView(r Rect) string {
	d := m.diff
	if d.width == 0 {
		return m.box(r, "dry run · "+d.step, true, []string{"the terminal is too small for the diff"})
	}
	lines := append([]string(nil), d.head...)
	lines = append(lines, strings.Split(d.vp.View(), "\n")...)
	title := "dry run · " + d.step
	if total := d.vp.TotalLineCount(); total > d.vp.VisibleLineCount() {
		first := d.vp.YOffset() + 1
		last := min(d.vp.YOffset()+d.vp.VisibleLineCount(), total)
		title += fmt.Sprintf(" · lines %d–%d of %d (%d%%)", first, last, total, int(d.vp.ScrollPercent()*100))
	}
	return m.box(r, title, true, lines)
}

// refreshDiff follows the step while the viewer is open: a new dry run
// (a re-run) or one going out replaces what is shown, so a confirmation
// from the viewer always follows the dry run on screen; otherwise only
// the fixed top (status, mode) is drawn again.
func (m *Model) refreshDiff() {
	d := m.diff
	pi, si, ok := m.state.Find(d.step)
	if !ok {
		m.diff = nil
		return
	}
	st, ss := &m.state.Runbook.Phases[pi].Steps[si], &m.state.Phases[pi].Steps[si]
	if ss.Plan != d.plan || ss.Planning() != d.planning {
		if d.plan != nil && ss.Plan != d.plan {
			m.setNotice("the dry run of "+d.step+" changed: the viewer shows the new one", false)
		}
		m.buildDiff()
		return
	}
	if d.width > 0 {
		d.head = m.diffHead(st, ss, d.width)
		d.vp.SetHeight(max(m.lay.diffRect().H-frameSize-len(d.head), 1))
	}
}
