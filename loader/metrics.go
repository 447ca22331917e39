package loader

import (
	"maps"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cockpit-dev/cockpit/loader/threshold"
)

// Histogram geometry: microseconds from 1µs to 60s, three significant digits.
const (
	lowestUS  = 1
	highestUS = 60_000_000
	sigFigs   = 3
	interval  = time.Second // the ring's resolution
	minRing   = 60          // intervals kept at least
)

// The latency series recorded.
const (
	seriesLatency = iota // corrected (== raw in closed models)
	seriesRaw            // open models only
	seriesDNS
	seriesConnect
	seriesTLS
	seriesSending
	seriesWaiting
	seriesReceiving
	numSeries
)

// trendSeries maps trend metrics to their series.
var trendSeries = map[string]int{
	"http_req_duration":        seriesLatency,
	"http_req_dns":             seriesDNS,
	"http_req_connecting":      seriesConnect,
	"http_req_tls_handshaking": seriesTLS,
	"http_req_sending":         seriesSending,
	"http_req_waiting":         seriesWaiting,
	"http_req_receiving":       seriesReceiving,
}

// counters are the countable facts over a span.
type counters struct {
	requests, dropped, interrupted, failed, errored int64
	checksPassed, checksFailed                      int64
	bytesIn, bytesOut                               int64
	classes                                         [numClasses]int64
	status                                          map[int]int64
}

func (c *counters) add(o *counters) {
	c.requests += o.requests
	c.dropped += o.dropped
	c.interrupted += o.interrupted
	c.failed += o.failed
	c.errored += o.errored
	c.checksPassed += o.checksPassed
	c.checksFailed += o.checksFailed
	c.bytesIn += o.bytesIn
	c.bytesOut += o.bytesOut
	for i := range c.classes {
		c.classes[i] += o.classes[i]
	}
	if len(o.status) > 0 && c.status == nil {
		c.status = map[int]int64{}
	}
	for k, v := range o.status {
		c.status[k] += v
	}
}

func (c *counters) reset() {
	s := c.status
	clear(s)
	*c = counters{status: s}
}

func (c *counters) count(r *result) {
	if r.class == classInterrupted {
		c.interrupted++
		return
	}
	c.requests++
	c.bytesIn += r.bytesIn
	c.bytesOut += r.bytesOut
	c.checksPassed += int64(r.checksPassed)
	c.checksFailed += int64(r.checksFailed)
	c.classes[r.class]++
	if r.class != ClassNone {
		c.errored++
	}
	if r.class.transport() || r.status >= 400 {
		c.failed++
	}
	if r.gotResponse {
		if c.status == nil {
			c.status = map[int]int64{}
		}
		c.status[r.status]++
	}
}

// slot is one completed interval of the ring.
type slot struct {
	start, end time.Duration
	c          counters
	h          [numSeries]*hdr.PackedHistogram
}

// aggregator holds every histogram and counter of a run. Only the run's
// owner goroutine touches it.
type aggregator struct {
	open bool

	cum    [numSeries]*hdr.Histogram // the whole run
	cur    [numSeries]*hdr.Histogram // the current interval
	curC   counters
	curAt  time.Duration // start of the current interval
	total  counters
	ring   []*slot // completed intervals, oldest overwritten
	head   int     // next slot to write
	filled int

	scratch *hdr.Histogram // window merges
	log     *hdrLog
}

func newAggregator(open bool, ringLen int, log *hdrLog) *aggregator {
	a := &aggregator{open: open, ring: make([]*slot, ringLen), log: log}
	for i := range numSeries {
		a.cum[i] = hdr.New(lowestUS, highestUS, sigFigs)
		a.cur[i] = hdr.New(lowestUS, highestUS, sigFigs)
	}
	a.scratch = hdr.New(lowestUS, highestUS, sigFigs)
	return a
}

// clampUS converts nanoseconds to microseconds within the histogram's range.
func clampUS(ns int64) int64 {
	us := ns / 1000
	if us < lowestUS {
		return lowestUS
	}
	if us > highestUS {
		return highestUS
	}
	return us
}

func (a *aggregator) rec(s int, ns int64) {
	us := clampUS(ns)
	// In range by construction, so RecordValue cannot fail.
	_ = a.cum[s].RecordValue(us)
	_ = a.cur[s].RecordValue(us)
}

// record adds one result to the current interval and the totals.
func (a *aggregator) record(r *result) {
	a.curC.count(r)
	a.total.count(r)
	if r.class == classInterrupted {
		return
	}
	a.rec(seriesLatency, r.end-r.intended)
	if a.open {
		a.rec(seriesRaw, r.end-r.start)
	}
	if r.newConn {
		if r.dns >= 0 {
			a.rec(seriesDNS, r.dns)
		}
		if r.connect >= 0 {
			a.rec(seriesConnect, r.connect)
		}
		if r.tlsHandshake >= 0 {
			a.rec(seriesTLS, r.tlsHandshake)
		}
	}
	if r.gotResponse {
		a.rec(seriesSending, r.sending)
		a.rec(seriesWaiting, r.waiting)
		a.rec(seriesReceiving, r.receiving)
	}
}

// addCounts adds counts that arrive outside results (dropped iterations,
// shared-connection bytes).
func (a *aggregator) addCounts(dropped, bytesIn, bytesOut int64) {
	for _, c := range []*counters{&a.curC, &a.total} {
		c.dropped += dropped
		c.bytesIn += bytesIn
		c.bytesOut += bytesOut
	}
}

// rotate closes the current interval at end and moves it into the ring.
func (a *aggregator) rotate(end time.Duration) {
	s := a.ring[a.head]
	if s == nil {
		s = &slot{}
		for i := range numSeries {
			s.h[i] = hdr.NewPacked(lowestUS, highestUS, sigFigs)
		}
		a.ring[a.head] = s
	}
	s.start, s.end = a.curAt, end
	s.c.reset()
	s.c.add(&a.curC)
	for i := range numSeries {
		s.h[i].Reset()
		s.h[i].MergeFrom(a.cur[i])
		a.cur[i].Reset()
	}
	a.head = (a.head + 1) % len(a.ring)
	a.filled = min(a.filled+1, len(a.ring))
	a.curC.reset()
	a.curAt = end
	if a.log != nil {
		a.log.interval(s.start, s.end, s.h[seriesLatency], "")
		if a.open {
			a.log.interval(s.start, s.end, s.h[seriesRaw], "raw")
		}
	}
}

// view is a span of the run: either the totals or a window of intervals
// plus (while running) the current partial one.
type view struct {
	a       *aggregator
	total   bool
	slots   []*slot
	partial bool
	span    time.Duration
	c       counters
}

// window selects the last d of the run (d <= 0: all of it).
func (a *aggregator) window(d, now time.Duration) *view {
	v := &view{a: a}
	if d <= 0 {
		v.total = true
		v.span = now
		v.c.add(&a.total)
		return v
	}
	v.partial = now > a.curAt
	n := int(d / interval)
	if v.partial {
		n--
	}
	n = min(n, a.filled)
	for i := 1; i <= n; i++ {
		s := a.ring[(a.head-i+len(a.ring))%len(a.ring)]
		v.slots = append(v.slots, s)
		v.span += s.end - s.start
		v.c.add(&s.c)
	}
	if v.partial {
		v.span += now - a.curAt
		v.c.add(&a.curC)
	}
	return v
}

// hist returns the series' histogram over the view. The result may be the
// aggregator's scratch histogram: use it before the next call.
func (v *view) hist(s int) *hdr.Histogram {
	if v.total {
		return v.a.cum[s]
	}
	h := v.a.scratch
	h.Reset()
	for _, sl := range v.slots {
		sl.h[s].MergeInto(h)
	}
	if v.partial {
		h.Merge(v.a.cur[s])
	}
	return h
}

var quantiles = []float64{50, 90, 95, 99, 99.9}

func latencyOf(h *hdr.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	q := h.ValueAtPercentilesSlice(quantiles)
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	return Latency{
		Count: h.TotalCount(),
		Min:   us(h.Min()),
		Mean:  time.Duration(h.Mean() * float64(time.Microsecond)),
		P50:   us(q[0]), P90: us(q[1]), P95: us(q[2]), P99: us(q[3]), P999: us(q[4]),
		Max: us(h.Max()),
	}
}

// stats renders the view.
func (v *view) stats() Stats {
	c := &v.c
	st := Stats{
		Span:         v.span,
		Requests:     c.requests,
		Dropped:      c.dropped,
		Interrupted:  c.interrupted,
		Failed:       c.failed,
		Errored:      c.errored,
		ChecksPassed: c.checksPassed,
		ChecksFailed: c.checksFailed,
		BytesIn:      c.bytesIn,
		BytesOut:     c.bytesOut,
		Status:       maps.Clone(c.status),
		Errors: ErrorCounts{
			Refused: c.classes[ClassRefused], Timeout: c.classes[ClassTimeout], Reset: c.classes[ClassReset],
			DNS: c.classes[ClassDNS], TLS: c.classes[ClassTLS], Protocol: c.classes[ClassProtocol],
			Other: c.classes[ClassOther], HTTP4xx: c.classes[ClassHTTP4xx], HTTP5xx: c.classes[ClassHTTP5xx],
			CheckFailed: c.classes[ClassCheckFailed],
		},
	}
	if st.Status == nil {
		st.Status = map[int]int64{}
	}
	if v.span > 0 {
		st.Rate = float64(c.requests) / v.span.Seconds()
	}
	st.Latency = latencyOf(v.hist(seriesLatency))
	if v.a.open {
		st.Raw = latencyOf(v.hist(seriesRaw))
	} else {
		st.Raw = st.Latency
	}
	st.DNS = latencyOf(v.hist(seriesDNS))
	st.Connect = latencyOf(v.hist(seriesConnect))
	st.TLS = latencyOf(v.hist(seriesTLS))
	st.Sending = latencyOf(v.hist(seriesSending))
	st.Waiting = latencyOf(v.hist(seriesWaiting))
	st.Receiving = latencyOf(v.hist(seriesReceiving))
	return st
}

// value aggregates a threshold's metric over the view: the value in the
// metric's unit, and whether there were samples.
func (v *view) value(t threshold.Threshold) (float64, bool) {
	c := &v.c
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
		if v.span <= 0 {
			return 0, false
		}
		return float64(n) / v.span.Seconds(), true
	}
	switch t.Metric {
	case "http_req_failed":
		return ratio(c.failed, c.requests)
	case "errors":
		return ratio(c.errored, c.requests)
	case "checks":
		return ratio(c.checksPassed, c.checksPassed+c.checksFailed)
	case "http_reqs", "iterations":
		return counter(c.requests)
	case "dropped_iterations":
		return counter(c.dropped)
	case "data_received":
		return counter(c.bytesIn)
	case "data_sent":
		return counter(c.bytesOut)
	}
	s, ok := trendSeries[t.Metric]
	if !ok {
		return 0, false
	}
	h := v.hist(s)
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
