package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// detailPane is the selected step in full: its status, what it observes
// or does, its last result with items, decisions and history; for an
// action its dry run, result, output tail, undo, cleanup and the phase's
// access review; and, without a load band, a load step's numbers.
type detailPane struct {
	env  *env
	run  runView
	w, h int
	// outCache holds the last output tail drawn, so a frame does not
	// split up to actions.OutputLimit bytes again.
	outCache outputCache
}

func newDetailPane(e *env) *detailPane { return &detailPane{env: e} }

// SetSize gives the pane its size.
func (p *detailPane) SetSize(w, h int) { p.w, p.h = w, h }

// ShortHelp is empty: the detail follows the selection and has no keys.
func (p *detailPane) ShortHelp() []key.Binding { return nil }

// Update takes the run as it now is.
func (p *detailPane) Update(msg tea.Msg) tea.Cmd {
	if msg, ok := msg.(runViewMsg); ok {
		p.run = msg.run
	}
	return nil
}

// View draws the selected step.
func (p *detailPane) View() string {
	title, lines := p.content(p.w-frameSize, p.h-frameSize)
	return p.env.box(p.w, p.h, title, false, lines)
}

// content draws the selected step for a w×h pane: status, result, items,
// history.
func (p *detailPane) content(w, h int) (string, []string) {
	st, ss, ok := p.run.selected()
	if !ok {
		return "detail", nil
	}
	s := p.env.styles
	title := "step " + st.ID
	switch {
	case st.Probe != nil:
		title += " · " + st.Probe.Kind
	case st.Action != nil:
		title += " · " + kindGlyph(st) + " action " + st.Action.Kind
		return title, p.actionDetail(st, ss, w, h)
	default:
		if kind := st.StepKind(); kind != "" {
			title += " · " + kind
		}
	}
	out := p.stepHead(st, ss, w)
	add := func(text string) { out = append(out, p.env.wrap(text, w)...) }
	if st.Probe != nil {
		if d, ok := st.Probe.Spec.(probes.Describer); ok {
			add(s.Muted.Render(d.Describe()))
		}
	}
	if st.Manual != nil {
		add("prompt: " + st.Manual.Prompt)
		if st.Manual.Note == "required" {
			add(s.Muted.Render("a note is required"))
		}
	}
	out = append(out, p.decisionLines(st, ss, w)...)
	if st.Every > 0 {
		line := fmt.Sprintf("every %s", time.Duration(st.Every))
		if !ss.NextDue.IsZero() && ss.Status == runbook.StepRunning {
			line += " · next in " + shortDuration(ss.NextDue.Sub(p.env.now()))
		}
		line += fmt.Sprintf(" · %d failed in a row (breach at %d)", ss.Consecutive, max(st.FailAfter, 1))
		if ss.Breached {
			line += " · " + s.Fail.Render("BREACHED")
		}
		add(line)
	}
	if ss.HasResult {
		r := ss.Last
		add(s.status(r.Status).Render(statusGlyph(r.Status)+" "+r.Status.String()) + " " + r.Summary)
		if r.Message != "" {
			add(r.Message)
		}
		add(s.Muted.Render(fmt.Sprintf("observed %s ago in %s", shortDuration(p.env.now().Sub(r.ObservedAt)), r.Duration.Round(time.Millisecond))))
	}
	if ss.Why != "" {
		add(s.step(ss.Status).Render(ss.Status.String() + ": " + ss.Why))
	}
	if len(ss.History) > 0 {
		out = append(out, "history "+p.historyStrip(ss.History))
	}
	if ls := p.run.loads[st.ID]; ls != nil && !p.run.loadBand {
		out = append(out, "")
		out = append(out, ls.lines(p.env.styles, w)...)
	}
	if ss.HasResult && len(ss.Last.Items) > 0 {
		out = append(out, "")
		out = append(out, p.itemLines(ss.Last.Items, w)...)
	}
	return title, out
}

func stepFlags(st *runbook.Step) string {
	var f []string
	if st.Optional {
		f = append(f, "optional")
	}
	if len(st.Needs) > 0 {
		f = append(f, "needs "+strings.Join(st.Needs, ", "))
	}
	if len(f) == 0 {
		return ""
	}
	return " · " + strings.Join(f, " · ")
}

// historyStrip draws the last statuses oldest first, one glyph each.
func (p *detailPane) historyStrip(h []probes.Status) string {
	var b strings.Builder
	for _, st := range h {
		b.WriteString(p.env.styles.status(st).Render(statusGlyph(st)))
	}
	return b.String()
}

// modeLine says how the run treats this action; once it has left its
// dry run behind, only that it is mutating.
func (p *detailPane) modeLine(st *runbook.Step, ss *runbook.StepState) string {
	s := p.env.styles
	switch {
	case !st.Mutating():
		return s.Muted.Render(glyphObserving + " observes only: runs by itself, like a probe")
	case ss.Status != runbook.StepPending:
		return s.Warn.Render(glyphMutating + " mutating")
	case p.run.actions:
		return s.Warn.Render(glyphMutating+" mutating") + " · runs once you confirm its dry run"
	}
	return s.Warn.Render(glyphMutating+" mutating") + " · " + s.ModeReadOnly.Render("read-only") + ": dry run only (--allow-actions executes)"
}

// stepHead returns the first lines of a step's detail, wrapped to w: its
// status with its flags (and attempt, when retried), then its title.
func (p *detailPane) stepHead(st *runbook.Step, ss *runbook.StepState, w int) []string {
	status := p.env.styles.step(ss.Status).Render(stepGlyph(ss.Status)+" "+ss.Status.String()) + stepFlags(st)
	if ss.Attempt > 1 {
		status += fmt.Sprintf(" · attempt %d of %d", ss.Attempt, st.Retries+1)
	}
	out := []string{status}
	if st.Title != "" {
		out = append(out, p.env.wrap(st.Title, w)...)
	}
	return out
}

// decisionLines returns what stands between a step and its run, wrapped
// to w: the steps it still needs, and who confirmed, skipped or overrode
// it, when.
func (p *detailPane) decisionLines(st *runbook.Step, ss *runbook.StepState, w int) []string {
	var out []string
	add := func(text string) { out = append(out, p.env.wrap(text, w)...) }
	if unmet := p.run.state.UnmetNeeds(st.ID); unmet != "" && ss.Status == runbook.StepPending {
		add("needs " + unmet + " to pass first")
	}
	for _, d := range []struct {
		what string
		d    *runbook.Decision
	}{{"confirmed", ss.Confirm}, {"skipped", ss.Skip}, {"overridden", ss.Override}} {
		if d.d != nil {
			add(p.env.styles.Warn.Render(fmt.Sprintf("%s by %s at %s", d.what, d.d.Operator, d.d.At.Format("15:04:05"))) + prefixed(": ", d.d.Text))
		}
	}
	return out
}

// actionDetail draws an action step in a w×h detail pane: what it does,
// the mode, its dry run, its result with the objects' versions, an undo,
// the tail of its output, a cleanup, and the phase's access review. What
// the pane cannot show is not drawn.
func (p *detailPane) actionDetail(st *runbook.Step, ss *runbook.StepState, w, h int) []string {
	s := p.env.styles
	out := p.stepHead(st, ss, w)
	add := func(text string) { out = append(out, p.env.wrap(text, w)...) }
	if d := describe(st); d != "" {
		add(s.Muted.Render(d))
	}
	add(p.modeLine(st, ss))
	access := p.run.state.Phases[p.run.phase].Access
	if access != nil && !access.Status.OK() {
		add(s.Fail.Render(statusGlyph(access.Status)+" access review: "+access.Summary) + " (below)")
	}
	out = append(out, p.decisionLines(st, ss, w)...)

	// What happened last comes first: a short pane cuts the end.
	plan := func(compact bool) {
		if st.Mutating() {
			out = append(out, "")
			out = append(out, p.planLines(ss, w, compact)...)
		}
	}
	executed := ss.Status == runbook.StepRunning || ss.Action != nil && ss.Status != runbook.StepPending && !ss.Planning()
	if !executed {
		plan(false)
	}
	res := ss.Action
	if ss.Status == runbook.StepRunning {
		res = p.run.progress[st.ID] // interim, while it runs
		out = append(out, "")
		if res == nil {
			verb := "running…"
			if st.Mutating() {
				verb = "executing…"
			}
			add(s.Running.Render("↻ " + verb))
		}
	} else if res != nil {
		out = append(out, "")
	}
	if res != nil {
		out = append(out, p.resultLines(ss, res, w)...)
	}
	switch {
	case ss.Undoing():
		add(s.Running.Render("↻ undo in progress…" + undoTarget(ss)))
	case ss.Undo != nil:
		u := ss.Undo
		add(s.status(u.Status).Render("undo "+statusGlyph(u.Status)+" "+u.Status.String()) + " " + u.Summary)
		if u.Message != "" {
			add(u.Message)
		}
		out = append(out, p.env.objectLines(u.Objects, w, true)...)
	}
	if res != nil && len(out) < h {
		out = append(out, p.outputLines(res, w)...)
	}
	if executed && len(out) < h {
		plan(true)
	}
	switch {
	case ss.Cleaned != nil:
		c := ss.Cleaned
		add(s.status(c.Status).Render("cleanup "+statusGlyph(c.Status)+" "+c.Status.String()) + " " + c.Summary)
		if c.Message != "" {
			add(c.Message)
		}
	case ss.Stage == runbook.ActionCleaning:
		add(s.Running.Render("↻ cleanup in progress…"))
	case ss.Action != nil && ss.Action.Cleanup != "":
		add(s.Muted.Render("taken back at the end of its window: " + ss.Action.Cleanup))
	}
	if len(ss.History) > 0 {
		out = append(out, "history "+p.historyStrip(ss.History))
	}
	if access != nil && len(out) < h {
		out = append(out, "")
		out = append(out, p.accessLines(access, w)...)
	}
	return out
}

// planLines draws a mutating action's dry run: its verdict, what it
// would change, the diff's hint and (unless compact) each object's op.
func (p *detailPane) planLines(ss *runbook.StepState, w int, compact bool) []string {
	s := p.env.styles
	var out []string
	add := func(text string) { out = append(out, p.env.wrap(text, w)...) }
	switch {
	case ss.Planning():
		add(s.Running.Render("↻ dry run in progress…"))
		return out
	case ss.Plan == nil:
		add(s.Muted.Render("no dry run yet"))
		return out
	}
	plan := ss.Plan
	verdict := "dry run " + statusGlyph(plan.Status)
	if !plan.Status.OK() {
		verdict += " " + plan.Status.String()
	}
	add(s.status(plan.Status).Render(verdict) + " " + plan.Summary)
	if compact {
		return out
	}
	if plan.Message != "" {
		add(plan.Message)
	}
	line := changes(plan.Changes)
	if c := objectCounts(plan.Objects); c != "" {
		line += " · " + c
	}
	add(line)
	if plan.Diff != "" {
		add(s.Muted.Render(fmt.Sprintf("d shows the diff (%d lines)", strings.Count(strings.TrimRight(plan.Diff, "\n"), "\n")+1)))
	} else {
		add(s.Muted.Render("no diff: the objects would not change"))
	}
	return append(out, p.env.objectLines(plan.Objects, w, false)...)
}

// resultLines draws an execution's result (or, while it runs, its
// progress): verdict, message, objects with their versions, items, and
// the undo a failed rollout offers.
func (p *detailPane) resultLines(ss *runbook.StepState, res *actions.Result, w int) []string {
	s := p.env.styles
	var out []string
	add := func(text string) { out = append(out, p.env.wrap(text, w)...) }
	label := "result"
	if ss.Status == runbook.StepRunning {
		label = "progress"
	}
	add(s.status(res.Status).Render(label+" "+statusGlyph(res.Status)+" "+res.Status.String()) + " " + res.Summary)
	if res.UndoRevision > 0 && ss.Undo == nil && !ss.Undoing() {
		if p.run.actions {
			add(s.Warn.Render(fmt.Sprintf("u undoes the rollout to revision %d", res.UndoRevision)))
		} else {
			add(s.Warn.Render(fmt.Sprintf("an undo to revision %d is offered; a read-only run cannot do it", res.UndoRevision)))
		}
	}
	if res.Message != "" {
		add(res.Message)
	}
	out = append(out, p.env.objectLines(res.Objects, w, true)...)
	return append(out, p.itemLines(res.Items, w)...)
}

// outputLines draws the tail of a result's captured output.
func (p *detailPane) outputLines(res *actions.Result, w int) []string {
	tail, total := p.outputTail(res)
	if len(tail) == 0 {
		return nil
	}
	s := p.env.styles
	head := "output"
	if total > len(tail) {
		head = fmt.Sprintf("output (last %d of %d lines)", len(tail), total)
	}
	out := []string{s.Bold.Render(head)}
	for _, l := range tail {
		out = append(out, s.Muted.Render("│ ")+l) // the pane cuts long lines
	}
	return out
}

// itemLines lists a result's items like a probe's: glyph, name, summary,
// and for those not passing their reason and message.
func (p *detailPane) itemLines(items []probes.Item, w int) []string {
	if len(items) == 0 {
		return nil
	}
	s := p.env.styles
	nameW := 0
	for _, it := range items {
		nameW = max(nameW, ansi.StringWidth(it.Name))
	}
	nameW = min(nameW, w/2)
	var out []string
	for _, it := range items {
		line := s.status(it.Status).Render(statusGlyph(it.Status)) + " " + fit(it.Name, nameW) + " " + it.Summary
		if !it.Since.IsZero() {
			line += s.Muted.Render(" · " + shortDuration(p.env.now().Sub(it.Since)))
		}
		out = append(out, fit(line, w))
		if it.Status != probes.StatusPass {
			for _, extra := range []string{it.Reason, it.Message} {
				if extra != "" {
					for _, l := range p.env.wrap(extra, w-4) {
						out = append(out, "    "+s.Muted.Render(l))
					}
				}
			}
		}
	}
	return out
}

// accessLines draws a phase's access review: its verdict, then each
// permission, the missing ones first and highlighted.
func (p *detailPane) accessLines(res *probes.Result, w int) []string {
	s := p.env.styles
	var out []string
	add := func(text string) { out = append(out, p.env.wrap(text, w)...) }
	add(s.Bold.Render("access review") + " " + s.status(res.Status).Render(statusGlyph(res.Status)+" "+res.Status.String()) + " " + res.Summary)
	if res.Message != "" {
		add(res.Message)
	}
	for _, missing := range []bool{true, false} {
		for _, it := range res.Items {
			if (it.Status != probes.StatusPass) != missing {
				continue
			}
			if missing {
				out = append(out, fit(s.Fail.Render(statusGlyph(it.Status)+" "+it.Name+" — "+it.Summary), w))
			} else {
				out = append(out, fit(s.Pass.Render(statusGlyph(it.Status))+" "+s.Muted.Render(it.Name), w))
			}
		}
	}
	return out
}

// outputCache holds the last output tail drawn, so a frame does not split
// up to actions.OutputLimit bytes again.
type outputCache struct {
	res   *actions.Result
	lines []string
	total int
}

// outputTail returns the last lines of a result's captured output, made
// safe to draw, and how many lines it has.
func (p *detailPane) outputTail(res *actions.Result) ([]string, int) {
	if res.Output == "" {
		return nil, 0
	}
	if p.outCache.res == res {
		return p.outCache.lines, p.outCache.total
	}
	out := strings.TrimRight(res.Output, "\n")
	if out == "" {
		return nil, 0
	}
	total := strings.Count(out, "\n") + 1
	start := 0 // of the tail: after the outputTailLines-th newline from the end
	end := len(out)
	for range outputTailLines {
		i := strings.LastIndexByte(out[:end], '\n')
		if i < 0 {
			start = 0
			break
		}
		start, end = i+1, i
	}
	lines := strings.Split(out[start:], "\n")
	for i, l := range lines {
		lines[i] = cleanLine(l)
	}
	p.outCache = outputCache{res: res, lines: lines, total: total}
	return lines, total
}
