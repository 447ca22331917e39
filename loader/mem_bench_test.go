package loader

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"
)

// scaledClock runs speed times faster than the wall clock, so a run of a
// minute of loader time takes six seconds: the pacer, the snapshot ticks,
// the per-second intervals and their ring all work as in a real run, only
// sooner. Latencies read speed times longer, which memory does not mind.
type scaledClock struct {
	start time.Time
	speed float64
}

func (c scaledClock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.start)) * c.speed))
}

func (c scaledClock) real(d time.Duration) time.Duration {
	return max(time.Duration(float64(d)/c.speed), time.Nanosecond)
}

func (c scaledClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(c.real(d))} }

func (c scaledClock) NewTicker(d time.Duration) Ticker {
	return realTicker{time.NewTicker(c.real(d))}
}

// heapInuse returns runtime.MemStats.HeapInuse after a full collection.
func heapInuse() uint64 {
	runtime.GC()
	runtime.GC() // the second cycle frees what the first one's finalizers released
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// flatLimit is what "flat" means: the heap 60 s into the run, and 300 s
// into it, exceed the heap 10 s into it by less than 256 KiB, about 5 % of
// the ~5 MB measured (most of it the 17 dense whole-run and
// current-interval histograms of 140 KB each, and the VUs' connections at
// both ends). HeapInuse moves by whole 8 KiB pages, a few of them from one
// GC to the next; the ring of per-second intervals, when it still grew as
// it filled, added ~1 MB here between 10 s and 60 s.
const flatLimit = 256 << 10

// memVUs is both PreAllocatedVUs and MaxVUs. A constant-arrival-rate run
// starts a VU whenever an iteration is due and none is idle, and keeps it,
// so the pool follows the worst stall seen so far (a GC, a scheduling
// hiccup: ten times longer on this clock); a VU costs ~30 KB here, with its
// connection and the in-process server's end of it. That is memory bounded
// by MaxVUs, not growing with the duration; allocating the pool whole
// leaves out the noise it would add.
const memVUs = 50

// BenchmarkMemoryFlat shows the loader's memory does not grow with the
// duration of a run: constant-arrival-rate at 200 requests/s (of loader
// time) against a loopback server for 300 s of loader time, on a clock
// running 10× fast (30 s of wall time). It takes HeapInuse after a full GC,
// while the run is going, 10 s, 60 s and 300 s (in its last second) into
// it: the loader's state at 10 s does not depend on the run's planned
// duration, so these are the heaps of a 10 s, a 60 s and a 300 s run,
// without the noise of comparing separate runs. 10 s → 60 s is when the
// ring of 60 per-second intervals (live windows, "over 30s" thresholds)
// fills.
//
// Reported: heap-10s-B, heap-60s-B, heap-300s-B, growth-10s-60s-B
// (heap-60s − heap-10s), growth-60s-300s-B and requests. Flat means heap-60s and
// heap-300s are each less than flatLimit (256 KiB) above heap-10s; the
// benchmark fails otherwise.
//
//	go test ./loader -run '^$' -bench BenchmarkMemoryFlat -benchtime 1x
func BenchmarkMemoryFlat(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	var h10, h60, h300 uint64
	var reqs int64
	for range b.N {
		h10, h60, h300, reqs = memRun(b, srv.URL, 300*time.Second)
	}
	g60, g300 := int64(h60)-int64(h10), int64(h300)-int64(h10)
	b.ReportMetric(float64(h10), "heap-10s-B")
	b.ReportMetric(float64(h60), "heap-60s-B")
	b.ReportMetric(float64(h300), "heap-300s-B")
	b.ReportMetric(float64(g60), "growth-10s-60s-B")
	b.ReportMetric(float64(int64(h300)-int64(h60)), "growth-60s-300s-B")
	b.ReportMetric(float64(reqs), "requests")
	if g60 >= flatLimit || g300 >= flatLimit {
		b.Errorf("heap not flat: %d B at 10s, %d B at 60s (%+d B), %d B at 300s (%+d B from 10s); flat is < %d B",
			h10, h60, g60, h300, g300, flatLimit)
	}
}

// memRun runs d of loader time and returns HeapInuse 10 s and 60 s into
// it and in its last second, and the requests made. The heap is measured on
// a goroutine of its own while this one keeps reading snapshots: the owner
// of the histograms would otherwise wait to send the next one during the
// two GCs, and the VUs' batches of results, which keep their capacity,
// would grow with every measurement.
func memRun(b *testing.B, url string, d time.Duration) (h10, h60, hEnd uint64, reqs int64) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d) // wall time: a 10× margin
	defer cancel()
	clk := scaledClock{start: time.Now(), speed: 10}
	snaps, _, err := Run(ctx, Config{
		Executor: Executor{Kind: ConstantArrivalRate, Rate: 200, Duration: d, PreAllocatedVUs: memVUs, MaxVUs: memVUs},
		Requests: []Request{{URL: url}},
		Clock:    clk,
	})
	if err != nil {
		b.Fatal(err)
	}
	at := []time.Duration{10 * time.Second, 60 * time.Second, d - time.Second}
	heaps := make([]uint64, len(at))
	measure := make(chan int, len(at))
	measured := make(chan struct{})
	go func() {
		defer close(measured)
		for i := range measure {
			heaps[i] = heapInuse()
		}
	}()
	var last Snapshot
	next := 0
	for s := range snaps {
		last = s
		if next < len(at) && s.Elapsed >= at[next] && !s.Done {
			measure <- next
			next++
		}
	}
	close(measure)
	<-measured
	if last.Reason != ReasonDuration || last.Total.Failed != 0 {
		b.Fatalf("reason %q, failed %d (errors %+v)", last.Reason, last.Total.Failed, last.Total.Errors)
	}
	if want := int64(200 * d.Seconds()); last.Total.Requests < want*9/10 {
		b.Fatalf("%d requests of %d scheduled (dropped %d): the run did not keep its rate", last.Total.Requests, want, last.Total.Dropped)
	}
	if next < len(at) {
		b.Fatalf("heap measured %d times of %d: the run ended at %s", next, len(at), last.Elapsed)
	}
	return heaps[0], heaps[1], heaps[2], last.Total.Requests
}
