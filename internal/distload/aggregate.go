package distload

import (
	"fmt"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

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
type Aggregate struct {
	// Thresholds are the test's, evaluated on the merged intervals.
	Thresholds []threshold.Threshold
	// Executor, Planned, Iterations and WindowSize describe the test.
	Executor   loader.ExecutorKind
	Planned    time.Duration
	Iterations int64
	WindowSize time.Duration

	ivs        []loader.Interval
	incomplete int
	seq        int
	peakVUs    int
	aborted    []bool
}

// Add takes intervals merged by a loader.WorkerMerger, in order.
func (a *Aggregate) Add(ivs ...loader.MergedInterval) {
	for _, m := range ivs {
		a.ivs = append(a.ivs, m.Interval)
		a.peakVUs = max(a.peakVUs, m.VUs)
		if !m.Complete() {
			a.incomplete++
		}
	}
}

// Intervals returns the merged intervals so far.
func (a *Aggregate) Intervals() []loader.Interval { return a.ivs }

// Incomplete counts the intervals merged without some worker that owed them.
func (a *Aggregate) Incomplete() int { return a.incomplete }

// Snapshot is the run so far, as a loader.Snapshot: Total over every
// merged interval, Window over the last WindowSize, Thresholds evaluated
// on them. An abortOnFail threshold that fails (after its delay) is
// marked Aborted and abort is true: the caller stops the workers.
func (a *Aggregate) Snapshot(now time.Time, done bool, reason loader.StopReason) (s loader.Snapshot, abort bool, err error) {
	a.seq++
	s = loader.Snapshot{Seq: a.seq, Time: now, Done: done, Reason: reason, Executor: a.Executor,
		Planned: a.Planned, Iterations: a.Iterations, WindowSize: a.WindowSize, PeakVUs: a.peakVUs}
	if s.Total, err = loader.MergeIntervals(a.ivs); err != nil {
		return s, false, fmt.Errorf("merged intervals: %w", err)
	}
	if s.Window, err = loader.MergeIntervals(a.last(a.WindowSize)); err != nil {
		return s, false, fmt.Errorf("merged intervals: %w", err)
	}
	if n := len(a.ivs); n > 0 {
		last := a.ivs[n-1]
		s.Elapsed, s.VUs, s.TargetRate = last.End, last.VUs, last.TargetRate
	}
	if a.Executor.Open() {
		d := loader.Delivery{Active: s.Elapsed}
		for _, iv := range a.ivs {
			d.Due += iv.Due
			d.Sent += iv.Sent
			d.Dropped += iv.Dropped
		}
		s.Delivery = d
	}
	if a.aborted == nil {
		a.aborted = make([]bool, len(a.Thresholds))
	}
	for i, t := range a.Thresholds {
		v, ok, err := a.value(t)
		if err != nil {
			return s, false, err
		}
		st := loader.ThresholdState{Threshold: t, Value: v, HasSamples: ok, Pass: t.Eval(v, ok), Aborted: a.aborted[i]}
		if !done && t.AbortOnFail && ok && !st.Pass && s.Elapsed >= t.DelayAbortEval && !a.aborted[i] {
			a.aborted[i], st.Aborted, abort = true, true, true
		}
		s.Thresholds = append(s.Thresholds, st)
	}
	s.Intervals = nil
	return s, abort, nil
}

// last returns the intervals that end within d of the last one's end
// (all of them when d is 0).
func (a *Aggregate) last(d time.Duration) []loader.Interval {
	n := len(a.ivs)
	if d <= 0 || n == 0 {
		return a.ivs
	}
	end := a.ivs[n-1].End
	i := n
	for i > 0 && a.ivs[i-1].End > end-d {
		i--
	}
	return a.ivs[i:]
}

// value aggregates a threshold's metric over its window of the merged
// intervals, as the loader does over its own.
func (a *Aggregate) value(t threshold.Threshold) (float64, bool, error) {
	ivs := a.last(t.Window)
	st, err := loader.MergeIntervals(ivs)
	if err != nil {
		return 0, false, err
	}
	ratio := func(num, den int64) (float64, bool, error) {
		if den == 0 {
			return 0, false, nil
		}
		return float64(num) / float64(den), true, nil
	}
	counter := func(n int64) (float64, bool, error) {
		if t.Agg.Func == threshold.Count {
			return float64(n), true, nil
		}
		if st.Span <= 0 {
			return 0, false, nil
		}
		return float64(n) / st.Span.Seconds(), true, nil
	}
	switch t.Metric {
	case "http_req_failed":
		return ratio(st.Failed, st.Requests)
	case "errors":
		return ratio(st.Errored, st.Requests)
	case "checks":
		return ratio(st.ChecksPassed, st.ChecksPassed+st.ChecksFailed)
	case "http_reqs", "iterations":
		return counter(st.Requests)
	case "dropped_iterations":
		return counter(st.Dropped)
	case "data_received":
		return counter(st.BytesIn)
	case "data_sent":
		return counter(st.BytesOut)
	case "http_req_duration":
	default:
		return 0, false, nil // not carried by the intervals
	}
	h := loader.NewHistogram()
	for _, iv := range ivs {
		c, err := iv.LatencyHistogram()
		if err != nil {
			return 0, false, fmt.Errorf("interval %d: %w", iv.Index, err)
		}
		h.Merge(c)
	}
	return trendValue(t, h)
}

// trendValue aggregates a latency histogram (microseconds) in ms.
func trendValue(t threshold.Threshold, h *hdr.Histogram) (float64, bool, error) {
	n := h.TotalCount()
	if t.Agg.Func == threshold.Count {
		return float64(n), true, nil
	}
	if n == 0 {
		return 0, false, nil
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	switch t.Agg.Func {
	case threshold.Avg:
		return h.Mean() / 1000, true, nil
	case threshold.Min:
		return ms(h.Min()), true, nil
	case threshold.Max:
		return ms(h.Max()), true, nil
	case threshold.Med:
		return ms(h.ValueAtQuantile(50)), true, nil
	case threshold.Percentile:
		return ms(h.ValueAtQuantile(t.Agg.P)), true, nil
	}
	return 0, false, nil
}
