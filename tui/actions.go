package tui

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/charmbracelet/x/ansi"

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

// undoTarget names the revision an undo goes back to (" to rev 3"), when
// known.
func undoTarget(ss *runbook.StepState) string {
	if ss.Action != nil && ss.Action.UndoRevision > 0 {
		return fmt.Sprintf(" to rev %d", ss.Action.UndoRevision)
	}
	return ""
}

// objectLines lists the objects a plan or a result touched, one a line:
// op glyph, ref, op, and (withVersions) the versions after it or the error.
func (e *env) objectLines(objs []actions.Object, w int, withVersions bool) []string {
	s := e.styles
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
			for _, l := range e.wrap(o.Error, w-4) {
				out = append(out, "    "+s.Fail.Render(l))
			}
		}
	}
	return out
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
