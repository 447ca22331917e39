package loader

import (
	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cockpit-dev/cockpit/loader/threshold"
)

// ThresholdValue aggregates threshold t's metric over a span of a run: it
// is the one definition of what each metric means, for the loader's own
// snapshots and for those rebuilt from a run's intervals (IntervalSpan).
// st holds the span's counts and its Span (its latency summaries are not
// read); trend returns the histogram, in microseconds, of a trend metric
// over the span, or nil when the span does not carry that metric.
//
// It returns the value in the metric's unit — a fraction for a rate
// metric, a count or a count per second of Span for a counter,
// milliseconds for a trend — and whether there were samples: a rate with
// nothing counted, a per-second counter over no time, a trend with no
// value or not carried have none.
func ThresholdValue(t threshold.Threshold, st *Stats, trend func(metric string) *hdr.Histogram) (float64, bool) {
	ratio := func(num, den int64) (float64, bool) {
		if den == 0 {
			return 0, false
		}
		return float64(num) / float64(den), true
	}
	counter := func(n int64) (float64, bool) {
		if t.Agg.Func == threshold.Count {
			return float64(n), true
		}
		if st.Span <= 0 {
			return 0, false
		}
		return float64(n) / st.Span.Seconds(), true
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
	}
	h := trend(t.Metric)
	if h == nil {
		return 0, false
	}
	n := h.TotalCount()
	if t.Agg.Func == threshold.Count {
		return float64(n), true
	}
	if n == 0 {
		return 0, false
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	switch t.Agg.Func {
	case threshold.Avg:
		return h.Mean() / 1000, true
	case threshold.Min:
		return ms(h.Min()), true
	case threshold.Max:
		return ms(h.Max()), true
	case threshold.Med:
		return ms(h.ValueAtQuantile(50)), true
	case threshold.Percentile:
		return ms(h.ValueAtQuantile(t.Agg.P)), true
	}
	return 0, false
}
