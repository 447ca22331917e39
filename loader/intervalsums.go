package loader

import (
	"fmt"
	"maps"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cockpit-dev/cockpit/loader/threshold"
)

// IntervalSums merges a stream of a run's intervals as they come, for the
// snapshots of a run rebuilt from its intervals (a distributed run's
// coordinator): the whole run so far, and windows over its last
// intervals. Each interval's histograms are decoded once, when it is
// added, and its buckets added to the whole run's; the decoded buckets of
// the intervals that end within Keep of the latest stay for the windows,
// older ones are dropped. So an interval costs its buckets once, a window
// the intervals in it, the whole run nothing more: neither the cost of a
// snapshot nor the memory held grows with the run.
//
// Every span is exactly what MergeIntervals makes of the same intervals:
// the counts summed, the histograms merged bucket for bucket.
//
// Windows hold the intervals that end within d of the latest End, which
// takes a run's Ends to be non-decreasing, as a merged run's are: an
// interval that ends before one added earlier counts as ending with it.
// An IntervalSums is not safe for concurrent use.
type IntervalSums struct {
	keep    time.Duration
	n       int
	end     time.Duration // the latest End
	total   IntervalSpan
	tail    []keptInterval // a ring: the intervals within keep of end
	first   int            // the oldest's position in tail
	kept    int
	windows map[time.Duration]*IntervalSpan
	stale   bool // windows were computed before the last Add
	dec     countsDecoder
	cor     []bucketCount // the interval being added's
	raw     []bucketCount
}

// keptInterval is an interval of the tail: its counts and span, its
// histograms as the buckets they populate.
type keptInterval struct {
	end      time.Duration // non-decreasing (IntervalSums)
	iv       Interval      // without Latency and Raw
	cor, raw []bucketCount
	closed   bool // no Raw: raw is cor's
}

// NewIntervalSums returns sums whose windows may reach keep back from the
// latest interval's end (0: the whole run only).
func NewIntervalSums(keep time.Duration) *IntervalSums {
	return &IntervalSums{keep: max(keep, 0)}
}

// Add adds the run's next interval, decoding its histograms. An interval
// that does not decode is not added: the error wraps ErrHistogram. Add
// keeps iv's Status and Errors maps while iv is within Keep: they must
// not change. Add invalidates the spans returned before it.
func (s *IntervalSums) Add(iv Interval) error {
	var err error
	if s.cor, err = s.dec.decode(s.cor[:0], iv.Latency); err != nil {
		return fmt.Errorf("interval %d latency: %w", iv.Index, err)
	}
	closed := iv.Raw == ""
	if !closed {
		if s.raw, err = s.dec.decode(s.raw[:0], iv.Raw); err != nil {
			return fmt.Errorf("interval %d raw: %w", iv.Index, err)
		}
	}
	iv.Latency, iv.Raw = "", ""
	if s.n == 0 || iv.End > s.end {
		s.end = iv.End
	}
	s.n++
	k := keptInterval{end: s.end, iv: iv, cor: s.cor, raw: s.raw, closed: closed}
	s.total.add(&k)
	s.stale = true
	if s.keep == 0 {
		return nil
	}
	for s.kept > 0 && s.tail[s.first].end <= s.end-s.keep {
		s.first = (s.first + 1) % len(s.tail)
		s.kept--
	}
	if s.kept == len(s.tail) {
		s.grow()
	}
	slot := &s.tail[(s.first+s.kept)%len(s.tail)]
	// The slot's buckets are an interval's that left the tail: reuse them.
	k.cor = append(slot.cor[:0], s.cor...)
	k.raw = slot.raw[:0]
	if !closed {
		k.raw = append(k.raw, s.raw...)
	}
	*slot = k
	s.kept++
	return nil
}

// grow doubles the tail's ring, the oldest interval first.
func (s *IntervalSums) grow() {
	t := make([]keptInterval, max(2*len(s.tail), 8))
	for i := range s.kept {
		t[i] = s.tail[(s.first+i)%len(s.tail)]
	}
	s.tail, s.first = t, 0
}

// Len counts the intervals added.
func (s *IntervalSums) Len() int { return s.n }

// Keep is how far back from the latest interval's end windows may reach.
func (s *IntervalSums) Keep() time.Duration { return s.keep }

// Total is the whole run so far, valid until the next Add.
func (s *IntervalSums) Total() *IntervalSpan { return &s.total }

// Window is the intervals that end within d of the latest interval's
// end, valid until the next Add; the whole run when d <= 0. A window
// longer than Keep is refused: its oldest intervals may have been
// dropped.
func (s *IntervalSums) Window(d time.Duration) (*IntervalSpan, error) {
	if d <= 0 {
		return &s.total, nil
	}
	if d > s.keep {
		return nil, fmt.Errorf("a window of %s is longer than the %s of intervals kept", d, s.keep)
	}
	if s.stale {
		for _, w := range s.windows {
			w.valid = false
		}
		s.stale = false
	}
	w := s.windows[d]
	if w == nil {
		if s.windows == nil {
			s.windows = map[time.Duration]*IntervalSpan{}
		}
		w = &IntervalSpan{}
		s.windows[d] = w
	}
	if w.valid {
		return w, nil
	}
	w.reset()
	i := s.kept
	for i > 0 && s.tail[(s.first+i-1)%len(s.tail)].end > s.end-d {
		i--
	}
	for ; i < s.kept; i++ {
		w.add(&s.tail[(s.first+i)%len(s.tail)])
	}
	w.valid = true
	return w, nil
}

// IntervalSpan is the merge of consecutive intervals of a run (an
// IntervalSums' Total or Window): their counts summed, their histograms
// merged.
type IntervalSpan struct {
	// Intervals counts the intervals merged; Span is the sum of their
	// spans.
	Intervals int
	Span      time.Duration
	// Counts are their counters summed, as Interval.AddCounts sums them:
	// requests, failures, errors, drops, checks, bytes, due and sent, by
	// status and by error class. Its other fields are unset.
	Counts Interval

	cor, raw   []int64        // counts arrays of the loader's geometry, nil while empty
	hcor, hraw *hdr.Histogram // built from them on demand, nil when out of date
	valid      bool           // a window's: computed since the last Add
}

// add merges a decoded interval into the span.
func (p *IntervalSpan) add(k *keptInterval) {
	if p.cor == nil {
		p.cor, p.raw = make([]int64, loaderCounts()), make([]int64, loaderCounts())
	}
	addBuckets(p.cor, k.cor)
	if k.closed {
		addBuckets(p.raw, k.cor)
	} else {
		addBuckets(p.raw, k.raw)
	}
	p.Intervals++
	p.Span += k.iv.Span()
	p.Counts.AddCounts(k.iv)
	p.hcor, p.hraw = nil, nil
}

// reset empties the span, keeping its arrays.
func (p *IntervalSpan) reset() {
	clear(p.cor)
	clear(p.raw)
	clear(p.Counts.Status)
	clear(p.Counts.Errors)
	p.Intervals, p.Span = 0, 0
	p.Counts = Interval{Status: p.Counts.Status, Errors: p.Counts.Errors}
	p.hcor, p.hraw = nil, nil
}

// Latency is the span's http_req_duration histogram (microseconds), which
// the span owns: read it, do not change it.
func (p *IntervalSpan) Latency() *hdr.Histogram {
	if p.hcor == nil {
		p.hcor = histogramOf(p.cor)
	}
	return p.hcor
}

// RawLatency is the span's histogram of latencies from the actual send
// (Interval.RawHistogram), which the span owns: read it, do not change it.
func (p *IntervalSpan) RawLatency() *hdr.Histogram {
	if p.hraw == nil {
		p.hraw = histogramOf(p.raw)
	}
	return p.hraw
}

// counts renders the span's counts: Stats without the counts by status
// and the latencies.
func (p *IntervalSpan) counts() Stats {
	c := &p.Counts
	st := Stats{Span: p.Span, Requests: c.Requests, Failed: c.Failed, Errored: c.Errored,
		Interrupted: c.Interrupted, Dropped: c.Dropped, ChecksPassed: c.ChecksPassed,
		ChecksFailed: c.ChecksFailed, BytesIn: c.BytesIn, BytesOut: c.BytesOut}
	for _, class := range ErrorClasses() {
		if f := st.Errors.count(class); f != nil {
			*f = c.Errors[class.String()]
		}
	}
	st.Rate = perSecond(st.Requests, st.Span)
	return st
}

// Stats renders the span as MergeIntervals does: the counts, Latency and
// Raw; the generator lag and the connection phases, which intervals do
// not carry, stay zero.
func (p *IntervalSpan) Stats() Stats {
	st := p.counts()
	st.Status = maps.Clone(p.Counts.Status)
	if st.Status == nil {
		st.Status = map[int]int64{}
	}
	st.Latency = latencyOf(p.Latency())
	st.Raw = latencyOf(p.RawLatency())
	return st
}

// Value aggregates threshold t's metric over the span (ThresholdValue).
// Intervals carry http_req_duration of the trend metrics, not the
// connection phases: a threshold on another trend has no samples.
func (p *IntervalSpan) Value(t threshold.Threshold) (float64, bool) {
	st := p.counts()
	return ThresholdValue(t, &st, func(metric string) *hdr.Histogram {
		if metric != "http_req_duration" {
			return nil
		}
		return p.Latency()
	})
}
