package loader

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Interval is one stretch of a run's load: its latency histograms and its
// counts. It is the one encoding of a run over time, for every stream of
// intervals: the journal's load.interval events and the one JSON line a
// second of a remote load worker.
//
// Encoding. An Interval is a JSON object. Latency and Raw are HdrHistogram
// histograms in the standard V2 compressed base64 encoding (the
// "Interval_Compressed_Histogram" column of HdrHistogram's interval log,
// the form HistogramLogProcessor and every HdrHistogram library decode:
// DecodeHistogram, or hdrhistogram-go's Decode). Values are microseconds,
// from 1µs to 60s, three significant digits — the geometry the loader
// records with, so merging decoded intervals is exact: the histogram of
// any span of whole intervals, the whole run included, is the merge of its
// intervals (MergeIntervals), bucket for bucket.
//
// Length. The loader closes an interval every Config.Intervals (a whole
// number of seconds) on the run's one-second boundaries, and a last,
// shorter one when the run ends. IntervalLength is the rule the runbook
// runner uses: 1 s for runs planned up to LongRun, 5 s beyond.
type Interval struct {
	// Index counts the run's intervals from 0.
	Index int `json:"index"`
	// Start and End are elapsed run time, in nanoseconds; Time is the wall
	// clock at End.
	Start time.Duration `json:"startNs"`
	End   time.Duration `json:"endNs"`
	Time  time.Time     `json:"time"`
	// Latency is http_req_duration (corrected for coordinated omission in
	// open models), encoded; Raw the latency from the actual send, set in
	// open models only — in closed models the two are the same measure and
	// Raw is left out (RawHistogram returns Latency's).
	Latency string `json:"latency"`
	Raw     string `json:"raw,omitempty"`
	// Requests completed in the interval (by end time), failed included;
	// Failed and Errored as in Stats; Interrupted requests count nowhere
	// else; Dropped iterations were due and never sent.
	Requests    int64 `json:"requests"`
	Failed      int64 `json:"failed,omitempty"`
	Errored     int64 `json:"errored,omitempty"`
	Interrupted int64 `json:"interrupted,omitempty"`
	Dropped     int64 `json:"dropped,omitempty"`
	// ChecksPassed and ChecksFailed count check outcomes; BytesIn and
	// BytesOut bytes on the wire.
	ChecksPassed int64 `json:"checksPassed,omitempty"`
	ChecksFailed int64 `json:"checksFailed,omitempty"`
	BytesIn      int64 `json:"bytesIn,omitempty"`
	BytesOut     int64 `json:"bytesOut,omitempty"`
	// Status counts responses by status code; Errors requests by error
	// class name (ErrorClass.String), non-zero classes only.
	Status map[int]int64    `json:"status,omitempty"`
	Errors map[string]int64 `json:"errors,omitempty"`
	// VUs is the number of VUs alive when the interval closed.
	VUs int `json:"vus"`
	// MaxVUs is an open model's VU cap when the interval closed (the
	// workers' caps summed, merged): what a run rebuilt from its intervals
	// reports as vus_max.
	MaxVUs int `json:"maxVus,omitempty"`
	// Open models: TargetRate is the schedule's rate (iterations per
	// second) as read before the collection that closed the interval — 0
	// once the run is stopping; Due
	// and Sent are the iterations the schedule made due and handed to a
	// VU in the interval (Due = Sent + Dropped), as counted when it closed.
	TargetRate float64 `json:"targetRate,omitempty"`
	Due        int64   `json:"due,omitempty"`
	Sent       int64   `json:"sent,omitempty"`
	// Thresholds are every threshold's state at End, evaluated exactly as
	// at the end of a run that stopped there. They are set on the first
	// interval and on every interval at whose end some threshold's verdict
	// (pass, samples, aborted) differs from the last one written; nil
	// means unchanged.
	Thresholds []IntervalThreshold `json:"thresholds,omitempty"`
}

// IntervalThreshold is a threshold's state at the end of an interval.
type IntervalThreshold struct {
	// Threshold is the threshold as ThresholdState.String writes it
	// ("http_req_duration: p(95)<200"); Metric and Expr are its parts.
	Threshold  string  `json:"threshold"`
	Metric     string  `json:"metric"`
	Expr       string  `json:"expr"`
	Value      float64 `json:"value"`
	HasSamples bool    `json:"hasSamples"`
	Pass       bool    `json:"pass"`
	Aborted    bool    `json:"aborted,omitempty"`
}

// Span is the interval's length.
func (iv Interval) Span() time.Duration { return iv.End - iv.Start }

// Rate is the completed requests per second of the interval.
func (iv Interval) Rate() float64 { return perSecond(iv.Requests, iv.Span()) }

// DeliveredRate is the iterations per second handed to a VU (open models).
func (iv Interval) DeliveredRate() float64 { return perSecond(iv.Sent, iv.Span()) }

// ErrorRate is Failed out of Requests (http_req_failed); 0 without requests.
func (iv Interval) ErrorRate() float64 {
	if iv.Requests == 0 {
		return 0
	}
	return float64(iv.Failed) / float64(iv.Requests)
}

// LatencyHistogram decodes Latency.
func (iv Interval) LatencyHistogram() (*hdr.Histogram, error) { return DecodeHistogram(iv.Latency) }

// RawHistogram decodes Raw, or Latency in closed models.
func (iv Interval) RawHistogram() (*hdr.Histogram, error) {
	if iv.Raw == "" {
		return DecodeHistogram(iv.Latency)
	}
	return DecodeHistogram(iv.Raw)
}

// Durations of the interval rule.
const (
	// LongRun is the planned duration above which a run's intervals are
	// coarsened from 1 s to 5 s (IntervalLength).
	LongRun = 15 * time.Minute
	// LongRunInterval is the interval length of a long run.
	LongRunInterval = 5 * time.Second
)

// IntervalLength is the interval rule: one-second intervals for a run
// planned to last up to LongRun, five-second ones for a longer run or one
// bounded only by its iterations. A one-second interval is the live
// snapshots' resolution; five seconds bound a long run's journal to a
// fifth of the events (README: Performance, journal growth).
func IntervalLength(planned time.Duration) time.Duration {
	if planned <= 0 || planned > LongRun {
		return LongRunInterval
	}
	return time.Second
}

// ErrHistogram is a histogram that does not decode, or was not recorded
// with the loader's geometry.
var ErrHistogram = errors.New("not a loader latency histogram")

// EncodeHistogram encodes h in HdrHistogram's V2 compressed base64 form.
func EncodeHistogram(h *hdr.Histogram) (string, error) {
	b, err := h.EncodeV2()
	if err != nil {
		return "", fmt.Errorf("encode histogram: %w", err)
	}
	return string(b), nil
}

// NewHistogram returns an empty histogram of the loader's geometry
// (microseconds, 1µs to 60s, three significant digits).
func NewHistogram() *hdr.Histogram { return hdr.New(lowestUS, highestUS, sigFigs) }

// DecodeHistogram decodes an encoded interval histogram, checking it has
// the loader's geometry (anything else would not merge exactly).
func DecodeHistogram(s string) (*hdr.Histogram, error) {
	h, err := hdr.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHistogram, err)
	}
	if h.LowestTrackableValue() != lowestUS || h.HighestTrackableValue() < highestUS || h.SignificantFigures() != sigFigs {
		return nil, fmt.Errorf("%w: geometry %d..%d µs, %d digits (want %d..%d, %d)", ErrHistogram,
			h.LowestTrackableValue(), h.HighestTrackableValue(), h.SignificantFigures(), lowestUS, highestUS, sigFigs)
	}
	return h, nil
}

// MergeIntervals merges intervals into the Stats of the span they cover:
// the counts summed, Latency and Raw from the merged histograms — exactly
// what a snapshot over the same intervals reports. Span is the sum of the
// intervals' spans and Rate the requests over it. Intervals carry neither
// the generator lag nor the connection phases: those stay zero.
func MergeIntervals(ivs []Interval) (Stats, error) {
	cor, raw := NewHistogram(), NewHistogram()
	var st Stats
	st.Status = map[int]int64{}
	for _, iv := range ivs {
		c, err := iv.LatencyHistogram()
		if err != nil {
			return Stats{}, fmt.Errorf("interval %d latency: %w", iv.Index, err)
		}
		r, err := iv.RawHistogram()
		if err != nil {
			return Stats{}, fmt.Errorf("interval %d raw: %w", iv.Index, err)
		}
		cor.Merge(c)
		raw.Merge(r)
		st.Span += iv.Span()
		st.Requests += iv.Requests
		st.Failed += iv.Failed
		st.Errored += iv.Errored
		st.Interrupted += iv.Interrupted
		st.Dropped += iv.Dropped
		st.ChecksPassed += iv.ChecksPassed
		st.ChecksFailed += iv.ChecksFailed
		st.BytesIn += iv.BytesIn
		st.BytesOut += iv.BytesOut
		for code, n := range iv.Status {
			st.Status[code] += n
		}
		for _, c := range ErrorClasses() {
			if f := st.Errors.count(c); f != nil {
				*f += iv.Errors[c.String()]
			}
		}
	}
	st.Rate = perSecond(st.Requests, st.Span)
	st.Latency = latencyOf(cor)
	st.Raw = latencyOf(raw)
	return st, nil
}

// IntervalLatency is the percentiles of one interval, for charts.
type IntervalLatency struct {
	Corrected, Raw Latency
}

// Percentiles decodes the interval's histograms into their summaries.
func (iv Interval) Percentiles() (IntervalLatency, error) {
	c, err := iv.LatencyHistogram()
	if err != nil {
		return IntervalLatency{}, err
	}
	r, err := iv.RawHistogram()
	if err != nil {
		return IntervalLatency{}, err
	}
	return IntervalLatency{Corrected: latencyOf(c), Raw: latencyOf(r)}, nil
}

// intervals builds a run's Interval records on the owner goroutine: the
// aggregator feeds it each one-second interval it rotates, and the owner
// closes a record every Config.Intervals.
type intervals struct {
	every    time.Duration
	start    time.Duration // of the record being filled
	n        int           // its index
	cor, raw *hdr.Histogram
	c        counters
	lastSent int64
	lastTh   []IntervalThreshold
	out      []Interval // closed, not yet published
}

func newIntervals(every time.Duration) *intervals {
	return &intervals{every: every, cor: NewHistogram(), raw: NewHistogram()}
}

// add takes the aggregator's current (one-second) interval before it is
// reset.
func (iv *intervals) add(a *aggregator) {
	iv.cor.Merge(a.cur[seriesLatency])
	if a.open {
		iv.raw.Merge(a.cur[seriesRaw])
	}
	iv.c.add(&a.curC)
}

// closeInterval closes the record being filled at end when it spans
// every, or at the run's end (final) whatever its length.
func (o *owner) closeInterval(end time.Duration, final bool) {
	iv := o.a.iv
	if iv == nil || end <= iv.start || (!final && end-iv.start < iv.every) {
		return
	}
	r := o.r
	rec := Interval{Index: iv.n, Start: iv.start, End: end, Time: r.start.Add(end), VUs: int(r.alive.Load()),
		Requests: iv.c.requests, Failed: iv.c.failed, Errored: iv.c.errored, Interrupted: iv.c.interrupted,
		Dropped: iv.c.dropped, ChecksPassed: iv.c.checksPassed, ChecksFailed: iv.c.checksFailed,
		BytesIn: iv.c.bytesIn, BytesOut: iv.c.bytesOut}
	if r.cfg.Executor.Kind.Open() {
		rec.MaxVUs = int(r.maxVUs.Load())
	}
	if len(iv.c.status) > 0 {
		rec.Status = maps.Clone(iv.c.status)
	}
	for _, c := range ErrorClasses() {
		if n := iv.c.classes[c]; n > 0 {
			if rec.Errors == nil {
				rec.Errors = map[string]int64{}
			}
			rec.Errors[c.String()] = n
		}
	}
	var err error
	if rec.Latency, err = EncodeHistogram(iv.cor); err != nil {
		r.event(EventError, 0, fmt.Sprintf("interval %d: %v", iv.n, err))
	}
	if o.a.open {
		if rec.Raw, err = EncodeHistogram(iv.raw); err != nil {
			r.event(EventError, 0, fmt.Sprintf("interval %d: %v", iv.n, err))
		}
		if !o.ivStopping {
			rec.TargetRate = math.Float64frombits(o.ivRate)
		}
		sent := r.sent.Load()
		rec.Sent = sent - iv.lastSent
		rec.Due = rec.Sent + rec.Dropped
		iv.lastSent = sent
	}
	rec.Thresholds = o.intervalThresholds(end)
	iv.out = append(iv.out, rec)
	iv.n++
	iv.start = end
	iv.cor.Reset()
	iv.raw.Reset()
	iv.c.reset()
}

// intervalThresholds evaluates the thresholds at end, right after the
// interval closing there rotated into the ring, and returns them when a
// verdict changed since the last record that carried them.
func (o *owner) intervalThresholds(end time.Duration) []IntervalThreshold {
	iv := o.a.iv
	if len(o.r.cfg.Thresholds) == 0 {
		return nil
	}
	out := make([]IntervalThreshold, len(o.r.cfg.Thresholds))
	changed := iv.lastTh == nil
	for i, t := range o.r.cfg.Thresholds {
		v, ok := o.a.window(t.Window, end).value(t)
		pass := t.Eval(v, ok)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			v = 0 // JSON has neither; Eval has failed it
		}
		out[i] = IntervalThreshold{Threshold: t.String(), Metric: t.Metric, Expr: t.Expr(), Value: v,
			HasSamples: ok, Pass: pass, Aborted: o.aborted[i]}
		if !changed {
			p := iv.lastTh[i]
			changed = p.Pass != out[i].Pass || p.HasSamples != out[i].HasSamples || p.Aborted != out[i].Aborted
		}
	}
	if !changed {
		return nil
	}
	iv.lastTh = out
	return out
}

// AddCounts adds iv's counters — requests, failures, errors, drops,
// checks, bytes, due and sent, and the counts by status and error class —
// to r. Histograms, times, VUs and rates are the caller's to combine.
func (r *Interval) AddCounts(iv Interval) {
	r.Requests += iv.Requests
	r.Failed += iv.Failed
	r.Errored += iv.Errored
	r.Interrupted += iv.Interrupted
	r.Dropped += iv.Dropped
	r.ChecksPassed += iv.ChecksPassed
	r.ChecksFailed += iv.ChecksFailed
	r.BytesIn += iv.BytesIn
	r.BytesOut += iv.BytesOut
	r.Due += iv.Due
	r.Sent += iv.Sent
	for code, n := range iv.Status {
		if r.Status == nil {
			r.Status = map[int]int64{}
		}
		r.Status[code] += n
	}
	for class, n := range iv.Errors {
		if r.Errors == nil {
			r.Errors = map[string]int64{}
		}
		r.Errors[class] += n
	}
}
