package loader

import (
	"encoding/binary"
	"iter"
	"maps"
	"time"
	"unsafe"

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
	seriesLag            // open models only: generator lag, send − intended
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

// The ring of completed intervals keeps, for each, its span and counters
// and, in a record of the ring's log, what varies in size: per series, the
// buckets the interval's histogram populated, as uvarint (value − previous
// value, count) pairs in ascending value order (values are the buckets'
// lowest equivalent values, so merging them into a histogram of the same
// geometry adds each count to the bucket it came from: windows are exact);
// then the status codes, as (varint code, uvarint count) pairs.
//
// The log is one byte array, allocated whole when the first interval that
// recorded anything closes, with room for len(ring) intervals like it and
// half as much again. Records follow one another round it, each written
// over the oldest ones, so its size does not depend on how many intervals
// have filled: under a steady load the ring is at its full size after the
// first second, and a one-hour run costs what a one-minute run does. The
// headroom absorbs busy seconds; the log grows (to twice its size) only
// when the intervals it holds need more than it has, that is when the rate
// or the spread of latencies stays well above the first second's.
const (
	statusPart = numSeries // the record's part of status codes, after the series'
	numParts   = numSeries + 1
)

// slot is one completed interval of the ring.
type slot struct {
	start, end time.Duration
	c          counters        // without status: see statusPart
	off        int             // where its record starts in the log
	n          [numParts]int32 // the bytes of each part of its record
}

func (s *slot) size() int {
	n := 0
	for _, m := range s.n {
		n += int(m)
	}
	return n
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
	ring   []slot // completed intervals, oldest overwritten
	head   int    // next slot to write
	filled int
	data   []byte // the ring's log of records
	w      int    // where the next record goes

	stage   *hdr.PackedHistogram // the interval being moved into the ring
	enc     []byte               // its encoding
	scratch *hdr.Histogram       // window merges
	log     *hdrLog
	iv      *intervals // Config.Intervals: the records being built
}

func newAggregator(open bool, ringLen int, log *hdrLog) *aggregator {
	a := &aggregator{open: open, ring: make([]slot, ringLen), log: log}
	for i := range numSeries {
		a.cum[i] = hdr.New(lowestUS, highestUS, sigFigs)
		a.cur[i] = hdr.New(lowestUS, highestUS, sigFigs)
	}
	a.stage = hdr.NewPacked(lowestUS, highestUS, sigFigs)
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
		// A lag of 0 is a fact worth keeping: the histogram takes it.
		_ = a.cum[seriesLag].RecordValue(min(max(r.start-r.intended, 0)/1000, highestUS))
		_ = a.cur[seriesLag].RecordValue(min(max(r.start-r.intended, 0)/1000, highestUS))
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
	if a.iv != nil {
		a.iv.add(a)
	}
	i := a.head
	s := &a.ring[i]
	s.start, s.end = a.curAt, end
	s.c = a.curC
	s.c.status = nil
	a.enc = a.enc[:0]
	for k := range numSeries {
		a.stage.Reset()
		a.stage.MergeFrom(a.cur[k])
		a.cur[k].Reset()
		from := len(a.enc)
		var prev int64
		for v, n := range a.stage.ForEachBucket {
			a.enc = binary.AppendUvarint(a.enc, uint64(v-prev))
			a.enc = binary.AppendUvarint(a.enc, uint64(n))
			prev = v
		}
		s.n[k] = int32(len(a.enc) - from)
		if a.log != nil && k == seriesLatency {
			a.log.interval(s.start, s.end, a.stage, "")
		}
		if a.log != nil && k == seriesRaw && a.open {
			a.log.interval(s.start, s.end, a.stage, "raw")
		}
		if a.log != nil && k == seriesLag && a.open {
			a.log.interval(s.start, s.end, a.stage, "lag")
		}
	}
	from := len(a.enc)
	for code, n := range a.curC.status {
		a.enc = binary.AppendVarint(a.enc, int64(code))
		a.enc = binary.AppendUvarint(a.enc, uint64(n))
	}
	s.n[statusPart] = int32(len(a.enc) - from)
	a.put(i, a.enc)
	a.head = (a.head + 1) % len(a.ring)
	a.filled = min(a.filled+1, len(a.ring))
	a.curC.reset()
	a.curAt = end
}

// live returns the positions of the intervals in the ring other than i,
// the next to write, oldest first.
func (a *aggregator) live(i int) iter.Seq[int] {
	first, n := 0, a.filled
	if a.filled == len(a.ring) {
		first, n = (i+1)%len(a.ring), len(a.ring)-1
	}
	return func(yield func(int) bool) {
		for j := range n {
			if !yield((first + j) % len(a.ring)) {
				return
			}
		}
	}
}

// put writes rec, slot i's record (its part sizes set), into the log, over
// the oldest records, growing the log if the others leave no room for it.
func (a *aggregator) put(i int, rec []byte) {
	start, used := 0, false // the oldest bytes still in use
	for j := range a.live(i) {
		if a.ring[j].size() > 0 {
			start, used = a.ring[j].off, true
			break
		}
	}
	if !used {
		a.w = 0
	}
	m, w := len(rec), a.w
	var off int
	switch {
	case m == 0:
		off = w
	case !used && m <= len(a.data):
		off = 0
	case used && start < w && w+m <= len(a.data): // free: [w, end) and [0, start)
		off = w
	case used && start < w && m <= start:
		off = 0
	case used && start > w && w+m <= start: // free: [w, start)
		off = w
	default:
		a.grow(i, m)
		off = a.w
	}
	copy(a.data[off:], rec)
	a.ring[i].off = off
	a.w = off + m
}

// grow reallocates the log with room for the records in use and m more
// bytes, and moves them to its start, oldest first.
func (a *aggregator) grow(i, m int) {
	need := m
	for j := range a.live(i) {
		need += a.ring[j].size()
	}
	size := max(2*len(a.data), need+need/2)
	if len(a.data) == 0 {
		size = len(a.ring) * (m + m/2)
	}
	grown := make([]byte, size)
	w := 0
	for j := range a.live(i) {
		s := &a.ring[j]
		n := s.size()
		copy(grown[w:], a.data[s.off:s.off+n])
		s.off = w
		w += n
	}
	a.data, a.w = grown, w
}

// part returns part k of slot i's record.
func (a *aggregator) part(k, i int) []byte {
	s := &a.ring[i]
	off := s.off
	for _, n := range s.n[:k] {
		off += int(n)
	}
	return a.data[off : off+int(s.n[k])]
}

// ringBytes is the memory the ring holds: its slots and log.
func (a *aggregator) ringBytes() int {
	return len(a.ring)*int(unsafe.Sizeof(slot{})) + cap(a.data)
}

// mergePart adds a series' part of a record to h.
func mergePart(h *hdr.Histogram, b []byte) {
	var v int64
	for len(b) > 1 {
		// Most deltas and counts take one byte: decode those inline.
		var d, c uint64
		if b[0] < 0x80 {
			d, b = uint64(b[0]), b[1:]
		} else {
			d, b = uvarint(b)
		}
		if len(b) > 0 && b[0] < 0x80 {
			c, b = uint64(b[0]), b[1:]
		} else {
			c, b = uvarint(b)
		}
		v += int64(d)
		// A bucket of h's own geometry, so RecordValues cannot fail.
		_ = h.RecordValues(v, int64(c))
	}
	if len(b) > 0 {
		panic("loader: corrupt interval in the ring")
	}
}

// uvarint decodes a uvarint at the start of b and returns the rest,
// panicking on what rotate never writes.
func uvarint(b []byte) (uint64, []byte) {
	x, n := binary.Uvarint(b)
	if n <= 0 {
		panic("loader: corrupt interval in the ring")
	}
	return x, b[n:]
}

// addStatus adds the status codes part of a record to c.
func addStatus(c *counters, b []byte) {
	for len(b) > 0 {
		code, n := binary.Varint(b)
		if n <= 0 {
			panic("loader: corrupt interval in the ring")
		}
		var cnt uint64
		cnt, b = uvarint(b[n:])
		if c.status == nil {
			c.status = map[int]int64{}
		}
		c.status[int(code)] += int64(cnt)
	}
}

// view is a span of the run: either the totals or a window of intervals
// plus (while running) the current partial one.
type view struct {
	a       *aggregator
	total   bool
	slots   []int // positions in the ring
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
	for j := 1; j <= n; j++ {
		i := (a.head - j + len(a.ring)) % len(a.ring)
		s := &a.ring[i]
		v.slots = append(v.slots, i)
		v.span += s.end - s.start
		v.c.add(&s.c)
		addStatus(&v.c, a.part(statusPart, i))
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
	for _, i := range v.slots {
		mergePart(h, v.a.part(s, i))
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

// counts renders the view's span and counts, without the counts by
// status nor the latencies.
func (v *view) counts() Stats {
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
		Errors: ErrorCounts{
			Refused: c.classes[ClassRefused], Timeout: c.classes[ClassTimeout], Reset: c.classes[ClassReset],
			DNS: c.classes[ClassDNS], TLS: c.classes[ClassTLS], Protocol: c.classes[ClassProtocol],
			Other: c.classes[ClassOther], HTTP4xx: c.classes[ClassHTTP4xx], HTTP5xx: c.classes[ClassHTTP5xx],
			CheckFailed: c.classes[ClassCheckFailed],
		},
	}
	if v.span > 0 {
		st.Rate = float64(c.requests) / v.span.Seconds()
	}
	return st
}

// stats renders the view.
func (v *view) stats() Stats {
	st := v.counts()
	st.Status = maps.Clone(v.c.status)
	if st.Status == nil {
		st.Status = map[int]int64{}
	}
	st.Latency = latencyOf(v.hist(seriesLatency))
	if v.a.open {
		st.Raw = latencyOf(v.hist(seriesRaw))
		st.Lag = latencyOf(v.hist(seriesLag))
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

// value aggregates a threshold's metric over the view (ThresholdValue).
func (v *view) value(t threshold.Threshold) (float64, bool) {
	st := v.counts()
	return ThresholdValue(t, &st, func(metric string) *hdr.Histogram {
		s, ok := trendSeries[metric]
		if !ok {
			return nil
		}
		return v.hist(s)
	})
}
