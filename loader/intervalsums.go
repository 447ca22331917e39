package loader

import (
	"encoding/binary"
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
// added; its buckets are added to the whole run's and to each window's,
// and kept, compactly, while it is within Keep of the latest interval's
// end, so that a window can take them out again when the interval leaves
// it. An interval costs its buckets, a handful of times; a snapshot the
// histograms it reads and, for a window's counts, the intervals in it.
// Neither grows with the run, nor does the memory held: that of the
// intervals within Keep.
//
// Every span is exactly what MergeIntervals makes of the same intervals:
// the counts summed, the histograms merged bucket for bucket (bucket
// counts are integers: taking an interval out of a window is exact).
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
	tail    []keptInterval // a ring: the intervals within keep of end, oldest at first
	first   int
	kept    int
	windows []*window // by length, as first asked for
	dec     countsDecoder
	cor     []bucketCount // the interval being added's
	raw     []bucketCount
}

// keptInterval is an interval of the tail: its counts and span, and its
// histograms' buckets, compact (appendCompact), the corrected then the
// raw.
type keptInterval struct {
	end     time.Duration // non-decreasing (IntervalSums)
	iv      Interval      // without Latency and Raw
	buckets []byte
	corLen  int  // the corrected histogram's bytes of buckets
	closed  bool // no Raw: the raw histogram is the corrected one
}

// cor and raw return the interval's compact buckets.
func (k *keptInterval) cor() []byte { return k.buckets[:k.corLen] }
func (k *keptInterval) raw() []byte {
	if k.closed {
		return k.cor()
	}
	return k.buckets[k.corLen:]
}

// window is a window of the last d: its histograms follow each Add,
// its counts are summed again when asked for after one.
type window struct {
	d     time.Duration
	from  int // the number (from 0, in the run) of its oldest interval
	span  IntervalSpan
	stale bool // its counts predate the last Add
}

// NewIntervalSums returns sums whose windows may reach keep back from the
// latest interval's end (0: the whole run only).
func NewIntervalSums(keep time.Duration) *IntervalSums {
	return &IntervalSums{keep: max(keep, 0)}
}

// Add adds the run's next interval, decoding its histograms. An interval
// that does not decode is not added: the error wraps ErrHistogram. Add
// keeps iv's Status and Errors maps while iv is within Keep: they must
// not change. Add changes the spans returned before it.
func (s *IntervalSums) Add(iv Interval) error {
	var err error
	if s.cor, err = s.dec.decode(s.cor[:0], iv.Latency); err != nil {
		return fmt.Errorf("interval %d latency: %w", iv.Index, err)
	}
	closed := iv.Raw == ""
	raw := s.cor
	if !closed {
		if s.raw, err = s.dec.decode(s.raw[:0], iv.Raw); err != nil {
			return fmt.Errorf("interval %d raw: %w", iv.Index, err)
		}
		raw = s.raw
	}
	iv.Latency, iv.Raw = "", ""
	if s.n == 0 || iv.End > s.end {
		s.end = iv.End
	}
	s.n++
	s.total.addBuckets(s.cor, raw)
	s.total.addCounts(&iv)
	if s.keep == 0 {
		return nil
	}
	if s.kept == len(s.tail) {
		s.grow()
	}
	k := &s.tail[(s.first+s.kept)%len(s.tail)]
	// The slot's buckets were an interval's that left the tail: reuse them.
	k.buckets = appendCompact(k.buckets[:0], s.cor)
	k.corLen = len(k.buckets)
	if !closed {
		k.buckets = appendCompact(k.buckets, s.raw)
	}
	k.end, k.iv, k.closed = s.end, iv, closed
	s.kept++
	for _, w := range s.windows {
		w.span.addBuckets(s.cor, raw)
		w.expire(s)
	}
	for s.kept > 0 && s.tail[s.first].end <= s.end-s.keep {
		s.tail[s.first].iv = Interval{}
		s.first = (s.first + 1) % len(s.tail)
		s.kept--
	}
	return nil
}

// at returns the kept interval numbered i in the run.
func (s *IntervalSums) at(i int) *keptInterval {
	return &s.tail[(s.first+i-(s.n-s.kept))%len(s.tail)]
}

// expire takes out of w the intervals that left it, and marks its counts
// out of date.
func (w *window) expire(s *IntervalSums) {
	for ; w.from < s.n && s.at(w.from).end <= s.end-w.d; w.from++ {
		k := s.at(w.from)
		addCompact(w.span.cor, k.cor(), -1)
		addCompact(w.span.raw, k.raw(), -1)
		w.span.hcor, w.span.hraw = nil, nil
	}
	w.stale = true
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
// longer than Keep is refused: its oldest intervals may be gone. The
// first call for a length sums the intervals kept; from then on, each
// Add updates the window's histograms.
func (s *IntervalSums) Window(d time.Duration) (*IntervalSpan, error) {
	if d <= 0 {
		return &s.total, nil
	}
	if d > s.keep {
		return nil, fmt.Errorf("a window of %s is longer than the %s of intervals kept", d, s.keep)
	}
	var w *window
	for _, x := range s.windows {
		if x.d == d {
			w = x
		}
	}
	if w == nil {
		w = &window{d: d, from: s.n - s.kept}
		w.span.arrays()
		for i := w.from; i < s.n; i++ {
			k := s.at(i)
			addCompact(w.span.cor, k.cor(), 1)
			addCompact(w.span.raw, k.raw(), 1)
		}
		w.expire(s)
		s.windows = append(s.windows, w)
	}
	if w.stale {
		p := &w.span
		clear(p.Counts.Status)
		clear(p.Counts.Errors)
		p.Counts = Interval{Status: p.Counts.Status, Errors: p.Counts.Errors}
		p.Intervals, p.Span = 0, 0
		for i := w.from; i < s.n; i++ {
			p.addCounts(&s.at(i).iv)
		}
		w.stale = false
	}
	return &w.span, nil
}

// appendCompact appends buckets, in ascending index order, as uvarint
// pairs: the index less the previous one's, the count.
func appendCompact(dst []byte, buckets []bucketCount) []byte {
	var prev int32
	for _, b := range buckets {
		dst = binary.AppendUvarint(dst, uint64(b.idx-prev))
		dst = binary.AppendUvarint(dst, uint64(b.n))
		prev = b.idx
	}
	return dst
}

// addCompact adds sign times the compact buckets b to counts.
func addCompact(counts []int64, b []byte, sign int64) {
	var idx uint64
	for len(b) > 0 {
		var d, c uint64
		d, b = uvarint(b)
		c, b = uvarint(b)
		idx += d
		counts[idx] += sign * int64(c)
	}
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
}

// arrays allocates the span's counts arrays.
func (p *IntervalSpan) arrays() {
	if p.cor == nil {
		p.cor, p.raw = make([]int64, loaderCounts()), make([]int64, loaderCounts())
	}
}

// addBuckets merges an interval's histograms into the span's.
func (p *IntervalSpan) addBuckets(cor, raw []bucketCount) {
	p.arrays()
	addBuckets(p.cor, cor)
	addBuckets(p.raw, raw)
	p.hcor, p.hraw = nil, nil
}

// addCounts adds an interval's counts and span to the span's.
func (p *IntervalSpan) addCounts(iv *Interval) {
	p.Intervals++
	p.Span += iv.Span()
	p.Counts.AddCounts(*iv)
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
