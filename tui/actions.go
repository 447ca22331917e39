package tui

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/charmbracelet/x/ansi"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// Action steps in the cockpit. The engine owns every rule (a mutating
// action is dry-run on entering its phase, waits for a confirmation that a
// read-only run refuses, is never repeated unasked); the cockpit shows
// where a step stands — planning, its dry run, executing, its result, an
// undo, a cleanup — and turns c, d and u into events or views.

// outputTailLines bounds the captured output the detail pane shows.
const outputTailLines = 12

// Kind glyphs of the step list: an action that changes something, and one
// that only observes (it runs by itself, like a probe).
const (
	glyphMutating  = "Δ"
	glyphObserving = "◇"
)

// actionsAllowed reports the run's mode: the engine's State once the run
// has started, the command line's flag before.
func (m *Model) actionsAllowed() bool {
	if m.hasState && m.state.Started {
		return m.state.AllowActions
	}
	return m.opts.AllowActions
}

// kindGlyph marks an action step in the step list ("" for other kinds).
func kindGlyph(st *runbook.Step) string {
	switch {
	case st.Action == nil:
		return ""
	case st.Action.Spec != nil && st.Action.Spec.Mutating():
		return glyphMutating
	}
	return glyphObserving
}

// describe is the action's one-line description ("" without a spec).
func describe(st *runbook.Step) string {
	if st.Action == nil || st.Action.Spec == nil {
		return ""
	}
	return st.Action.Spec.Describe()
}

// opOrder is the order ops are counted and listed in.
var opOrder = []string{actions.OpCreated, actions.OpConfigured, actions.OpDeleted, actions.OpUnchanged, actions.OpFailed, actions.OpSkipped}

// opGlyph marks what happened (or would happen) to an object.
func opGlyph(op string) string {
	switch op {
	case actions.OpCreated:
		return "+"
	case actions.OpConfigured:
		return "~"
	case actions.OpDeleted:
		return "-"
	case actions.OpUnchanged:
		return "="
	case actions.OpFailed:
		return "✗"
	case actions.OpSkipped:
		return "–"
	}
	return "·"
}

// opStyle colours an object's op like a diff line.
func (s Styles) op(op string) func(...string) string {
	switch op {
	case actions.OpCreated:
		return s.DiffAdd.Render
	case actions.OpConfigured:
		return s.Warn.Render
	case actions.OpDeleted, actions.OpFailed:
		return s.Fail.Render
	}
	return s.Muted.Render
}

// objectCounts says what a result did to its objects: "3 objects:
// 1 created, 1 configured, 1 unchanged" ("" without objects).
func objectCounts(objs []actions.Object) string {
	if len(objs) == 0 {
		return ""
	}
	counts := map[string]int{}
	for _, o := range objs {
		counts[o.Op]++
	}
	var parts []string
	for _, op := range opOrder {
		if n := counts[op]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, op))
			delete(counts, op)
		}
	}
	for op, n := range counts { // an op this cockpit does not know yet
		parts = append(parts, fmt.Sprintf("%d %s", n, op))
	}
	return fmt.Sprintf("%d %s: %s", len(objs), plural(len(objs), "object", "objects"), strings.Join(parts, ", "))
}

// planWhat is a plan's one-line gist: its object counts, else its summary.
func planWhat(plan *actions.Result) string {
	if c := objectCounts(plan.Objects); c != "" {
		return c
	}
	return plan.Summary
}

// changes says how many objects a plan would change.
func changes(n int) string {
	switch n {
	case 0:
		return "no changes"
	case 1:
		return "1 change"
	}
	return fmt.Sprintf("%d changes", n)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// actionSummary is an action step's live line in the step list, and a
// form for a list too narrow for it that puts what to do next first, so
// that cutting its end keeps the key ("" when the long one will do).
func (m *Model) actionSummary(st *runbook.Step, ss *runbook.StepState) (long, short string) {
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
		if p := m.progress[st.ID]; p != nil && p.Summary != "" {
			return verb + " " + p.Summary, ""
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
		if !m.actionsAllowed() {
			return "read-only: dry run only · " + planWhat(ss.Plan), "dry run only · " + planWhat(ss.Plan)
		}
		return "dry run: " + planWhat(ss.Plan) + " — c to review & confirm", "c to confirm · dry run: " + planWhat(ss.Plan)
	case ss.Action != nil:
		line := ss.Action.Summary
		switch {
		case ss.Undo != nil:
			line += " · undo " + statusGlyph(ss.Undo.Status) + " " + ss.Undo.Summary
		case ss.Action.UndoRevision > 0 && ss.Status == runbook.StepFailed:
			if m.actionsAllowed() {
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
	if unmet := m.state.UnmetNeeds(st.ID); unmet != "" {
		return "needs " + unmet, ""
	}
	if st.Mutating() {
		return "no dry run yet: r runs one", ""
	}
	return ss.Status.String(), ""
}

// undoTarget names the revision an undo goes back to (" to rev 3"), when
// known.
func undoTarget(ss *runbook.StepState) string {
	if ss.Action != nil && ss.Action.UndoRevision > 0 {
		return fmt.Sprintf(" to rev %d", ss.Action.UndoRevision)
	}
	return ""
}

// modeLine says how the run treats this action; once it has left its
// dry run behind, only that it is mutating.
func (m *Model) modeLine(st *runbook.Step, ss *runbook.StepState) string {
	s := m.styles
	switch {
	case !st.Mutating():
		return s.Muted.Render(glyphObserving + " observes only: runs by itself, like a probe")
	case ss.Status != runbook.StepPending:
		return s.Warn.Render(glyphMutating + " mutating")
	case m.actionsAllowed():
		return s.Warn.Render(glyphMutating+" mutating") + " · runs once you confirm its dry run"
	}
	return s.Warn.Render(glyphMutating+" mutating") + " · " + s.ModeReadOnly.Render("read-only") + ": dry run only (--allow-actions executes)"
}

// actionDetail draws an action step in a w×h detail pane: what it does,
// the mode, its dry run, its result with the objects' versions, an undo,
// the tail of its output, a cleanup, and the phase's access review. What
// the pane cannot show is not drawn.
func (m *Model) actionDetail(st *runbook.Step, ss *runbook.StepState, w, h int) []string {
	s := m.styles
	var out []string
	add := func(text string) { out = append(out, m.wrap(text, w)...) }
	status := s.step(ss.Status).Render(stepGlyph(ss.Status)+" "+ss.Status.String()) + stepFlags(st)
	if ss.Attempt > 1 {
		status += fmt.Sprintf(" · attempt %d of %d", ss.Attempt, st.Retries+1)
	}
	out = append(out, status)
	if st.Title != "" {
		add(st.Title)
	}
	if d := describe(st); d != "" {
		add(s.Muted.Render(d))
	}
	add(m.modeLine(st, ss))
	access := m.state.Phases[m.phase].Access
	if access != nil && !access.Status.OK() {
		add(s.Fail.Render(statusGlyph(access.Status)+" access review: "+access.Summary) + " (below)")
	}
	if unmet := m.state.UnmetNeeds(st.ID); unmet != "" && ss.Status == runbook.StepPending {
		add("needs " + unmet + " to pass first")
	}
	for _, d := range []struct {
		what string
		d    *runbook.Decision
	}{{"confirmed", ss.Confirm}, {"skipped", ss.Skip}, {"overridden", ss.Override}} {
		if d.d != nil {
			add(s.Warn.Render(fmt.Sprintf("%s by %s at %s", d.what, d.d.Operator, d.d.At.Format("15:04:05"))) + prefixed(": ", d.d.Text))
		}
	}

	// What happened last comes first: a short pane cuts the end.
	plan := func(compact bool) {
		if st.Mutating() {
			out = append(out, "")
			out = append(out, m.planLines(ss, w, compact)...)
		}
	}
	executed := ss.Status == runbook.StepRunning || ss.Action != nil && ss.Status != runbook.StepPending && !ss.Planning()
	if !executed {
		plan(false)
	}
	res := ss.Action
	if ss.Status == runbook.StepRunning {
		res = m.progress[st.ID] // interim, while it runs
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
		out = append(out, m.resultLines(ss, res, w)...)
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
		out = append(out, m.objectLines(u.Objects, w, true)...)
	}
	if res != nil && len(out) < h {
		out = append(out, m.outputLines(res, w)...)
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
		out = append(out, "history "+m.historyStrip(ss.History))
	}
	if access != nil && len(out) < h {
		out = append(out, "")
		out = append(out, m.accessLines(access, w)...)
	}
	return out
}

// planLines draws a mutating action's dry run: its verdict, what it
// would change, the diff's hint and (unless compact) each object's op.
func (m *Model) planLines(ss *runbook.StepState, w int, compact bool) []string {
	s := m.styles
	var out []string
	add := func(text string) { out = append(out, m.wrap(text, w)...) }
	switch {
	case ss.Planning():
		add(s.Running.Render("↻ dry run in progress…"))
		return out
	case ss.Plan == nil:
		add(s.Muted.Render("no dry run yet"))
		return out
	}
	p := ss.Plan
	verdict := "dry run " + statusGlyph(p.Status)
	if !p.Status.OK() {
		verdict += " " + p.Status.String()
	}
	add(s.status(p.Status).Render(verdict) + " " + p.Summary)
	if compact {
		return out
	}
	if p.Message != "" {
		add(p.Message)
	}
	line := changes(p.Changes)
	if c := objectCounts(p.Objects); c != "" {
		line += " · " + c
	}
	add(line)
	if p.Diff != "" {
		add(s.Muted.Render(fmt.Sprintf("d shows the diff (%d lines)", strings.Count(strings.TrimRight(p.Diff, "\n"), "\n")+1)))
	} else {
		add(s.Muted.Render("no diff: the objects would not change"))
	}
	return append(out, m.objectLines(p.Objects, w, false)...)
}

// resultLines draws an execution's result (or, while it runs, its
// progress): verdict, message, objects with their versions, items, and
// the undo a failed rollout offers.
func (m *Model) resultLines(ss *runbook.StepState, res *actions.Result, w int) []string {
	s := m.styles
	var out []string
	add := func(text string) { out = append(out, m.wrap(text, w)...) }
	label := "result"
	if ss.Status == runbook.StepRunning {
		label = "progress"
	}
	add(s.status(res.Status).Render(label+" "+statusGlyph(res.Status)+" "+res.Status.String()) + " " + res.Summary)
	if res.UndoRevision > 0 && ss.Undo == nil && !ss.Undoing() {
		if m.actionsAllowed() {
			add(s.Warn.Render(fmt.Sprintf("u undoes the rollout to revision %d", res.UndoRevision)))
		} else {
			add(s.Warn.Render(fmt.Sprintf("an undo to revision %d is offered; a read-only run cannot do it", res.UndoRevision)))
		}
	}
	if res.Message != "" {
		add(res.Message)
	}
	out = append(out, m.objectLines(res.Objects, w, true)...)
	return append(out, m.itemLines(res.Items, w)...)
}

// outputLines draws the tail of a result's captured output.
func (m *Model) outputLines(res *actions.Result, w int) []string {
	tail, total := m.outputTail(res)
	if len(tail) == 0 {
		return nil
	}
	s := m.styles
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

// objectLines lists the objects a plan or a result touched, one a line:
// op glyph, ref, op, and (withVersions) the versions after it or the error.
func (m *Model) objectLines(objs []actions.Object, w int, withVersions bool) []string {
	s := m.styles
	var out []string
	for _, o := range objs {
		line := s.op(o.Op)(opGlyph(o.Op)+" "+o.Ref) + " " + o.Op
		if withVersions {
			if o.ResourceVersion != "" {
				line += s.Muted.Render(" · rv " + o.ResourceVersion)
			}
			if o.Generation > 0 {
				line += s.Muted.Render(fmt.Sprintf(" · gen %d", o.Generation))
			}
		}
		out = append(out, fit(line, w))
		if o.Error != "" {
			for _, l := range m.wrap(o.Error, w-4) {
				out = append(out, "    "+s.Fail.Render(l))
			}
		}
	}
	return out
}

// itemLines lists a result's items like a probe's: glyph, name, summary,
// and for those not passing their reason and message.
func (m *Model) itemLines(items []probes.Item, w int) []string {
	if len(items) == 0 {
		return nil
	}
	s := m.styles
	nameW := 0
	for _, it := range items {
		nameW = max(nameW, ansi.StringWidth(it.Name))
	}
	nameW = min(nameW, w/2)
	var out []string
	for _, it := range items {
		line := s.status(it.Status).Render(statusGlyph(it.Status)) + " " + fit(it.Name, nameW) + " " + it.Summary
		if !it.Since.IsZero() {
			line += s.Muted.Render(" · " + shortDuration(m.now().Sub(it.Since)))
		}
		out = append(out, fit(line, w))
		if it.Status != probes.StatusPass {
			for _, extra := range []string{it.Reason, it.Message} {
				if extra != "" {
					for _, l := range m.wrap(extra, w-4) {
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
func (m *Model) accessLines(res *probes.Result, w int) []string {
	s := m.styles
	var out []string
	add := func(text string) { out = append(out, m.wrap(text, w)...) }
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
func (m *Model) outputTail(res *actions.Result) ([]string, int) {
	if res.Output == "" {
		return nil, 0
	}
	if m.outCache.res == res {
		return m.outCache.lines, m.outCache.total
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
	m.outCache = outputCache{res: res, lines: lines, total: total}
	return lines, total
}

// cleanLine makes text from the cluster safe to draw: escape sequences
// and control characters go (they could move the cursor or fake the
// screen), tabs become spaces.
func cleanLine(s string) string {
	s = ansi.Strip(s)
	s = strings.ReplaceAll(s, "\t", "    ")
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}
