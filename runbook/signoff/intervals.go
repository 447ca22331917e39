package signoff

import (
	"fmt"
	"slices"
	"time"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/runbook"
)

// LoadRun is one run of a load step as journaled: its load.interval
// events, in order. A run that never reached a verdict (the cockpit died,
// the step was re-run or its phase left) keeps the intervals it wrote.
type LoadRun struct {
	RunID     uint64            `json:"runId"`
	Intervals []loader.Interval `json:"-"`
	// Count is len(Intervals), for the JSON report.
	Count int `json:"intervals"`
}

// loadIndex gathers the journaled intervals of every load step by run,
// and which run's verdict the engine accepted last.
type loadIndex struct {
	runs  map[string][]*LoadRun // by step, in order of first interval
	final map[string]uint64     // by step: the run of the accepted verdict
}

// note records an interval, or the run a LoadResult the engine accepted
// (the step's summary changed) belongs to.
func (lx *loadIndex) note(prev, s runbook.State, ev runbook.Event) {
	switch ev := ev.(type) {
	case runbook.LoadInterval:
		if lx.runs == nil {
			lx.runs = map[string][]*LoadRun{}
		}
		runs := lx.runs[ev.Step]
		i := slices.IndexFunc(runs, func(r *LoadRun) bool { return r.RunID == ev.RunID })
		if i < 0 {
			runs = append(runs, &LoadRun{RunID: ev.RunID})
			i = len(runs) - 1
			lx.runs[ev.Step] = runs
		}
		runs[i].Intervals = append(runs[i].Intervals, ev.Interval)
		runs[i].Count++
	case runbook.LoadResult:
		pi, si, ok := s.Find(ev.Step)
		if !ok || s.Phases[pi].Steps[si].Load == prev.Phases[pi].Steps[si].Load {
			return // stale: the engine kept nothing of it
		}
		if lx.final == nil {
			lx.final = map[string]uint64{}
		}
		lx.final[ev.Step] = ev.RunID
	}
}

// attachIntervals gives each load its run's intervals, and the step's
// other runs.
func (r *Report) attachIntervals() {
	for i := range r.Loads {
		l := &r.Loads[i]
		final, ok := r.loadIx.final[l.Step]
		for _, run := range r.loadIx.runs[l.Step] {
			if ok && run.RunID == final {
				l.RunID, l.Intervals = run.RunID, run.Intervals
				continue
			}
			l.OtherRuns = append(l.OtherRuns, *run)
		}
	}
}

// Window merges the load's intervals that lie within [from, to] (whole
// intervals: one that straddles either end is left out) into the Stats of
// that span — exactly what the loader measured over it. The zero times
// leave that side open.
func (l Load) Window(from, to time.Time) (loader.Stats, error) {
	var in []loader.Interval
	for _, iv := range l.Intervals {
		start := iv.Time.Add(-iv.Span())
		if (!from.IsZero() && start.Before(from)) || (!to.IsZero() && iv.Time.After(to)) {
			continue
		}
		in = append(in, iv)
	}
	st, err := loader.MergeIntervals(in)
	if err != nil {
		return st, fmt.Errorf("load %s: %w", l.Step, err)
	}
	return st, nil
}
