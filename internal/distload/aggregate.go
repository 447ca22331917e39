package distload

import (
	"fmt"
	"time"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/threshold"
)

// Aggregate turns a run's merged intervals into the loader's snapshots,
// so the live progress, the thresholds and the summary of a distributed
// run are those of `cockpit load`, computed from the merged data.
//
// Intervals carry the latency histograms (corrected and raw) and the
// counts, not the connection phases nor the generator's lag: thresholds
// on http_req_duration, http_req_failed, errors, checks, http_reqs,
// iterations, dropped_iterations, data_received and data_sent are
// evaluated; a threshold on another metric has no samples, and fails.
//
// The merged intervals are summed as they come (loader.IntervalSums): a
// snapshot costs the same at the end of a long run as after its first
// intervals, and the memory held is that of the longest window (the
// WindowSize and the thresholds' windows), not the run's. The fields are
// read at the first Add: set them before.
type Aggregate struct {
	// Thresholds are the test's, evaluated on the merged intervals.
	Thresholds []threshold.Threshold
	// Executor, Planned, Iterations and WindowSize describe the test.
	Executor   loader.ExecutorKind
	Planned    time.Duration
	Iterations int64
	WindowSize time.Duration

	sums       *loader.IntervalSums
	err        error // the first interval that did not decode
	n          int
	last       loader.Interval // Elapsed, VUs and TargetRate come from it
	incomplete int
	seq        int
	peakVUs    int
	maxVUs     int // the highest VU cap the merged intervals carried (open models)
	aborted    []bool
}

// init creates the sums, keeping the intervals of the longest window.
func (a *Aggregate) init() {
	if a.sums != nil {
		return
	}
	keep := a.WindowSize
	for _, t := range a.Thresholds {
		keep = max(keep, t.Window)
	}
	a.sums = loader.NewIntervalSums(keep)
}

// Add takes intervals merged by a loader.WorkerMerger, in order. It keeps
// their Status and Errors maps while they are in a window: they must not
// change. An interval whose histograms do not decode fails every
// snapshot from then on.
func (a *Aggregate) Add(ivs ...loader.MergedInterval) {
	a.init()
	for _, m := range ivs {
		a.n++
		a.last = m.Interval
		a.last.Latency, a.last.Raw = "", ""
		a.peakVUs = max(a.peakVUs, m.VUs)
		a.maxVUs = max(a.maxVUs, m.MaxVUs)
		if !m.Complete() {
			a.incomplete++
		}
		if a.err == nil {
			if err := a.sums.Add(m.Interval); err != nil {
				a.err = fmt.Errorf("merged intervals: %w", err)
			}
		}
	}
}

// Intervals counts the intervals merged so far.
func (a *Aggregate) Intervals() int { return a.n }

// Incomplete counts the intervals merged without some worker that owed them.
func (a *Aggregate) Incomplete() int { return a.incomplete }

// Snapshot is the run so far, as a loader.Snapshot: Total over every
// merged interval, Window over the last WindowSize, Thresholds evaluated
// on them. An abortOnFail threshold that fails (after its delay) is
// marked Aborted and abort is true: the caller stops the workers.
func (a *Aggregate) Snapshot(now time.Time, done bool, reason loader.StopReason) (s loader.Snapshot, abort bool, err error) {
	a.init()
	a.seq++
	s = loader.Snapshot{Seq: a.seq, Time: now, Done: done, Reason: reason, Executor: a.Executor,
		Planned: a.Planned, Iterations: a.Iterations, WindowSize: a.WindowSize, PeakVUs: a.peakVUs}
	if a.err != nil {
		return s, false, a.err
	}
	total := a.sums.Total()
	s.Total = total.Stats()
	win, err := a.sums.Window(a.WindowSize)
	if err != nil {
		return s, false, fmt.Errorf("merged intervals: %w", err)
	}
	s.Window = win.Stats()
	if a.n > 0 {
		s.Elapsed, s.VUs, s.TargetRate = a.last.End, a.last.VUs, a.last.TargetRate
	}
	if a.Executor.Open() {
		s.MaxVUs = a.maxVUs // vus_max: the workers' caps summed, at their highest
		c := &total.Counts
		s.Delivery = loader.Delivery{Active: s.Elapsed, Due: c.Due, Sent: c.Sent, Dropped: c.Dropped}
	}
	if a.aborted == nil {
		a.aborted = make([]bool, len(a.Thresholds))
	}
	for i, t := range a.Thresholds {
		span, err := a.sums.Window(t.Window)
		if err != nil {
			return s, false, fmt.Errorf("threshold %s: %w", t, err)
		}
		v, ok := span.Value(t)
		st := loader.ThresholdState{Threshold: t, Value: v, HasSamples: ok, Pass: t.Eval(v, ok), Aborted: a.aborted[i]}
		if !done && t.AbortOnFail && ok && !st.Pass && s.Elapsed >= t.DelayAbortEval && !a.aborted[i] {
			a.aborted[i], st.Aborted, abort = true, true, true
		}
		s.Thresholds = append(s.Thresholds, st)
	}
	s.Intervals = nil
	return s, abort, nil
}
