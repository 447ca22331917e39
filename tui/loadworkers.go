package tui

import (
	"fmt"
	"slices"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/cockpit-dev/cockpit/runbook"
)

// workersState is what the cockpit knows of a distributed load step's
// workers: from its journaled intervals while it runs (how many are merged
// in the latest, who owed it and is missing, since which interval), then
// from its verdict (who reported, who was lost and why).
type workersState struct {
	runID   uint64
	workers int
	merged  int
	index   int
	// missing maps a worker missing from the latest interval to the first
	// interval of its current absence.
	missing map[int]int
	// final is the verdict's report, once the step has one.
	final *runbook.LoadWorkersReport
}

// addWorkers takes what an applied event says of a distributed load
// step's workers: a merged interval, or the verdict.
func (v *runView) addWorkers(at runbook.At) {
	var step string
	var runID uint64
	var taken func(*runbook.StepState) bool
	switch ev := at.Event.(type) {
	case runbook.LoadInterval:
		if ev.Workers == 0 {
			return // a load test run in the cockpit
		}
		step, runID = ev.Step, ev.RunID
		taken = func(ss *runbook.StepState) bool { return ss.RunID == ev.RunID }
	case runbook.LoadResult:
		if ev.Workers == nil {
			return
		}
		step, runID = ev.Step, ev.RunID
		taken = func(ss *runbook.StepState) bool { return ss.Workers == ev.Workers }
	default:
		return
	}
	if _, ss, ok := v.step(step); !ok || !taken(ss) {
		return // not the step's current run, or a verdict the engine did not take
	}
	ws := v.workers[step]
	if ws == nil || ws.runID != runID {
		ws = &workersState{runID: runID, index: -1, missing: map[int]int{}}
		v.workers[step] = ws
	}
	if ls := v.loads[step]; ls != nil {
		ls.workers = ws
	}
	switch ev := at.Event.(type) {
	case runbook.LoadInterval:
		if ev.Interval.Index < ws.index {
			return // an older interval, merged late
		}
		ws.workers, ws.merged, ws.index = ev.Workers, ev.Merged, ev.Interval.Index
		missing := map[int]int{}
		for _, w := range ev.Missing {
			from, ok := ws.missing[w]
			if !ok {
				from = ev.Interval.Index
			}
			missing[w] = from
		}
		ws.missing = missing
	case runbook.LoadResult:
		ws.final = ev.Workers
	}
}

// line is the workers in one line, and whether it is a warning: "2 of 2
// workers reporting", or who is missing or lost.
func (ws *workersState) line() (string, bool) {
	if ws.final != nil {
		return "workers: " + ws.final.String(), !ws.final.Complete()
	}
	s := fmt.Sprintf("workers: %d of %d reporting in interval %d", ws.merged, ws.workers, ws.index)
	if ws.merged == ws.workers && len(ws.missing) == 0 {
		s = fmt.Sprintf("workers: %d of %d workers reporting", ws.merged, ws.workers)
	}
	ids := make([]int, 0, len(ws.missing))
	for w := range ws.missing {
		ids = append(ids, w)
	}
	slices.Sort(ids)
	var parts []string
	for _, w := range ids {
		parts = append(parts, fmt.Sprintf("worker %d missing since interval %d", w, ws.missing[w]))
	}
	if len(parts) > 0 {
		s += " · " + strings.Join(parts, " · ")
	}
	return s, len(parts) > 0 || ws.merged < ws.workers
}

// workersLines draws a distributed step's workers line, w cells wide
// (wrapped); nothing for a load test run in the cockpit.
func (l *loadState) workersLines(st Styles, w int) []string {
	if l.workers == nil || l.workers.workers == 0 && l.workers.final == nil {
		return nil
	}
	s, warn := l.workers.line()
	var out []string
	for _, part := range wrapWords(s, max(w, 10)) {
		part = ansi.Truncate(part, w, "…")
		if warn {
			part = st.Warn.Render(part)
		}
		out = append(out, part)
	}
	return out
}

// wrapWords breaks s into lines at most w cells wide, at spaces.
func wrapWords(s string, w int) []string {
	var out []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case len([]rune(line))+1+len([]rune(word)) <= w:
			line += " " + word
		default:
			out = append(out, line)
			line = word
		}
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}
