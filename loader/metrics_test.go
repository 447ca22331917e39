package loader

import (
	"bytes"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// second is what one interval recorded, kept raw as the reference.
type second struct {
	us     [numSeries][]int64
	status map[int]int64
	reqs   int64
}

// fakeResults returns n results of one second: latencies spread log-uniformly
// from below the histogram's range to above it (both ends clamp), a few
// values repeated so that some buckets count in the hundreds, new
// connections now and then, and a mix of status codes and transport errors.
func fakeResults(rng *rand.Rand, n int, spread float64) []result {
	out := make([]result, n)
	for i := range out {
		ns := func() int64 { return int64(math.Pow(10, 2+spread*rng.Float64())) } // 100ns .. 10^(2+spread) ns
		r := &out[i]
		if rng.IntN(4) == 0 {
			r.end = 3_000_000 // the same 3ms again and again: big counts
		} else {
			r.end = ns()
		}
		r.start = r.end / int64(1+rng.IntN(4))
		r.sending, r.waiting, r.receiving = ns(), ns(), ns()
		r.gotResponse = true
		switch x := rng.IntN(20); {
		case x == 0:
			r.gotResponse, r.class = false, ClassRefused
		case x == 1:
			r.status, r.class = 503, ClassHTTP5xx
		case x == 2:
			r.status, r.class = 404, ClassHTTP4xx
		default:
			r.status = 200
		}
		if rng.IntN(10) == 0 {
			r.newConn = true
			r.dns, r.connect, r.tlsHandshake = ns(), ns(), -1
		}
	}
	return out
}

// reference records r into sec as the aggregator should.
func (sec *second) add(a *aggregator, r *result) {
	sec.reqs++
	if r.gotResponse {
		sec.status[r.status]++
	}
	rec := func(s int, ns int64) { sec.us[s] = append(sec.us[s], clampUS(ns)) }
	rec(seriesLatency, r.end-r.intended)
	if a.open {
		rec(seriesRaw, r.end-r.start)
		sec.us[seriesLag] = append(sec.us[seriesLag], min(max(r.start-r.intended, 0)/1000, highestUS)) // 0 is kept
	}
	if r.newConn {
		rec(seriesDNS, r.dns)
		rec(seriesConnect, r.connect)
	}
	if r.gotResponse {
		rec(seriesSending, r.sending)
		rec(seriesWaiting, r.waiting)
		rec(seriesReceiving, r.receiving)
	}
}

// Windows merged from the ring are exactly the histograms and counts of the
// seconds they cover, recorded directly, with or without the current partial
// interval, before and after the ring wraps; every second's rate and spread
// differ, so the ring's log wraps round and grows along the way. The HDR
// log's intervals are the seconds' own histograms too.
func TestRingWindowsAreExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var log bytes.Buffer
	a := newAggregator(true, minRing, newHDRLog(&log, time.Unix(0, 0), func(err error) { t.Fatal(err) }))
	var secs []*second
	ref := hdr.New(lowestUS, highestUS, sigFigs)
	check := func(d time.Duration, partial *second) {
		t.Helper()
		now := a.curAt
		if partial != nil {
			now += interval / 2
		}
		v := a.window(d, now)
		n := int(d / interval)
		cover := []*second{}
		if partial != nil {
			cover = append(cover, partial)
			n--
		}
		n = min(n, len(secs), minRing)
		cover = append(cover, secs[len(secs)-n:]...)
		var reqs int64
		status := map[int]int64{}
		for _, sec := range cover {
			reqs += sec.reqs
			for code, c := range sec.status {
				status[code] += c
			}
		}
		st := v.stats()
		if st.Requests != reqs || !maps.Equal(st.Status, status) {
			t.Fatalf("%d s in, window %s: %d requests %v, want %d %v", len(secs), d, st.Requests, st.Status, reqs, status)
		}
		for s := range numSeries {
			ref.Reset()
			for _, sec := range cover {
				for _, us := range sec.us[s] {
					_ = ref.RecordValue(us)
				}
			}
			if got := v.hist(s); !got.Equals(ref) {
				t.Fatalf("%d s in, window %s, series %d: %d values (p99 %d), want %d (p99 %d)",
					len(secs), d, s, got.TotalCount(), got.ValueAtQuantile(99), ref.TotalCount(), ref.ValueAtQuantile(99))
			}
		}
	}
	windows := []time.Duration{time.Second, 2 * time.Second, 10 * time.Second, 30 * time.Second, 60 * time.Second}
	// Every window is checked each second around where the ring wraps
	// (minRing) and at the end, every seventh second elsewhere: each check
	// rebuilds its reference from every value, and under -race the checks
	// of every second cost minutes for no more cover.
	wrap := func(i int) bool { return i%7 == 3 || (i >= minRing-5 && i <= minRing+10) || i >= 140 }
	for i := range 150 {
		sec := &second{status: map[int]int64{}}
		rs := fakeResults(rng, rng.IntN(1+i*4), 1+float64(i%40)/5)
		half := len(rs) / 2
		for j := range rs[:half] {
			a.record(&rs[j])
			sec.add(a, &rs[j])
		}
		if i%7 == 0 && len(secs) > 0 {
			for _, d := range windows {
				check(d, sec)
			}
		}
		for j := range rs[half:] {
			a.record(&rs[half+j])
			sec.add(a, &rs[half+j])
		}
		a.rotate(a.curAt + interval)
		secs = append(secs, sec)
		if !wrap(i) {
			continue
		}
		for _, d := range windows {
			check(d, nil)
		}
	}

	lr := hdr.NewHistogramLogReader(&log)
	for i, sec := range secs {
		for _, s := range []int{seriesLatency, seriesRaw, seriesLag} {
			h, err := lr.NextIntervalHistogram()
			if err != nil {
				t.Fatalf("log interval %d series %d: %v", i, s, err)
			}
			ref.Reset()
			for _, us := range sec.us[s] {
				_ = ref.RecordValue(us)
			}
			if !h.Equals(ref) {
				t.Fatalf("log interval %d series %d: %d values, want %d", i, s, h.TotalCount(), ref.TotalCount())
			}
		}
	}
	if h, err := lr.NextIntervalHistogram(); err != io.EOF && (h != nil || err != nil) {
		t.Fatalf("log has more intervals than seconds: %v, %v", h, err)
	}
}

// The ring's memory is set when its first interval closes and does not
// grow as the intervals fill: the same after 1, 10, 60 and 300 seconds of
// a steady load, and after a second three times as busy. Only a load that
// stays heavier (here ten times the rate, with latencies spread over more
// buckets) grows it.
func TestRingSizeDoesNotGrowWithDuration(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	a := newAggregator(true, minRing, nil)
	second := func(n int, spread float64) {
		for _, r := range fakeResults(rng, n, spread) {
			a.record(&r)
		}
		a.rotate(a.curAt + interval)
	}
	second(200, 4)
	first := a.ringBytes()
	for i := 2; i <= 300; i++ {
		if i == 150 {
			second(600, 4)
		} else {
			second(200, 4)
		}
		if i == 10 || i == 60 || i == 151 || i == 300 {
			if got := a.ringBytes(); got != first {
				t.Errorf("ring %d B after %d s, %d B after the first", got, i, first)
			}
		}
	}
	t.Logf("ring at 200 requests/s: %d B (%d slots)", first, len(a.ring))
	for range 60 {
		second(2000, 6)
	}
	if got := a.ringBytes(); got <= first {
		t.Errorf("ring %d B after a minute ten times as busy, %d B before: want more", got, first)
	}
}

// The log's records, of any size, never overlap: every interval still in
// the ring reads back what was written for it, however the log wrapped
// round or grew, and after stretches of empty intervals.
func TestRingLogKeepsEveryRecord(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	a := newAggregator(false, 10, nil)
	want := make([][]byte, len(a.ring))
	grown := 0
	for seq := range 20000 {
		i := a.head
		var rec []byte
		s := &a.ring[i]
		for k := range s.n {
			m := rng.IntN(4)
			switch rng.IntN(50) {
			case 0:
				m = 0
			case 1:
				m *= 10
			}
			if seq%500 < 20 {
				m = 0 // idle seconds: the ring empties
			}
			s.n[k] = int32(m)
		}
		if rng.IntN(4) == 0 {
			// The edges: a record the size of the larger free space, after
			// the newest record or at the start of the log, one byte less
			// or one more.
			gap := len(a.data) - a.w
			for j := range a.live(i) {
				if a.ring[j].size() > 0 {
					if start := a.ring[j].off; start > a.w {
						gap = start - a.w
					} else if start > gap {
						gap = start
					}
					break
				}
			}
			if gap <= 200 {
				m := gap + rng.IntN(3) - 1
				if m > gap && len(a.data) > 4<<10 {
					m = gap // one byte more may grow the log, doubling it: not past 4 KiB
				}
				s.n = [numParts]int32{}
				s.n[rng.IntN(numParts)] = int32(max(m, 0))
			}
		}
		for range s.size() {
			rec = append(rec, byte(seq))
		}
		size := len(a.data)
		a.put(i, rec)
		if len(a.data) != size {
			grown++
		}
		want[i] = rec
		a.head = (a.head + 1) % len(a.ring)
		a.filled = min(a.filled+1, len(a.ring))
		var owner []int // the slot using each byte of the log, or -1
		for j := range a.ring[:a.filled] {
			if n := a.ring[j].size(); n > 0 {
				off := a.ring[j].off
				if off+n > len(a.data) {
					t.Fatalf("record %d: slot %d at %d+%d past the log's %d B", seq, j, off, n, len(a.data))
				}
				for len(owner) < off+n {
					owner = append(owner, -1)
				}
				for b := off; b < off+n; b++ {
					if owner[b] >= 0 {
						t.Fatalf("record %d: slot %d at %d+%d overlaps slot %d", seq, j, off, n, owner[b])
					}
					owner[b] = j
				}
			}
			var got []byte
			for k := range numParts {
				got = append(got, a.part(k, j)...)
			}
			if !bytes.Equal(got, want[j]) {
				t.Fatalf("record %d: slot %d reads back %d bytes unlike the %d written", seq, j, len(got), len(want[j]))
			}
		}
	}
	t.Logf("log of %d B, grown %d times", len(a.data), grown)
}
