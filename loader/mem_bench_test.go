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

// BenchmarkMemoryFlat shows the loader's memory does not grow with the
// duration of a run: constant-arrival-rate at 200 requests/s (of loader
// time) against a loopback server, for 10s, 60s and 300s of loader time on
// a clock running 10× fast (1 s, 6 s and 30 s of wall time). Each run
// reports HeapInuse after a GC taken while it is still running, in its last
// second (heap-end-B), and the same 5s in (heap-5s-B); heap-growth-B is
// the difference. Up to 60s the ring of per-second histograms fills (60
// slots of packed, sparse histograms); after that nothing is added: no raw
// samples, no per-request state.
//
//	go test ./loader -run '^$' -bench BenchmarkMemoryFlat -benchtime 1x
func BenchmarkMemoryFlat(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	for _, d := range []time.Duration{10 * time.Second, 60 * time.Second, 300 * time.Second} {
		b.Run(d.String(), func(b *testing.B) {
			var at5, end uint64
			var reqs int64
			for range b.N {
				at5, end, reqs = memRun(b, srv.URL, d)
			}
			b.ReportMetric(float64(at5), "heap-5s-B")
			b.ReportMetric(float64(end), "heap-end-B")
			b.ReportMetric(float64(int64(end)-int64(at5)), "heap-growth-B")
			b.ReportMetric(float64(reqs), "requests")
		})
	}
}

func memRun(b *testing.B, url string, d time.Duration) (at5, end uint64, reqs int64) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d) // wall time: a 10× margin
	defer cancel()
	clk := scaledClock{start: time.Now(), speed: 10}
	snaps, _, err := Run(ctx, Config{
		Executor: Executor{Kind: ConstantArrivalRate, Rate: 200, Duration: d, PreAllocatedVUs: 10, MaxVUs: 50},
		Requests: []Request{{URL: url}},
		Clock:    clk,
	})
	if err != nil {
		b.Fatal(err)
	}
	var last Snapshot
	for s := range snaps {
		last = s
		if at5 == 0 && s.Elapsed >= 5*time.Second {
			at5 = heapInuse()
		}
		if end == 0 && s.Elapsed >= d-time.Second && !s.Done {
			end = heapInuse()
		}
	}
	if last.Reason != ReasonDuration || last.Total.Failed != 0 {
		b.Fatalf("reason %q, failed %d (errors %+v)", last.Reason, last.Total.Failed, last.Total.Errors)
	}
	if want := int64(200 * d.Seconds()); last.Total.Requests < want*9/10 {
		b.Fatalf("%d requests of %d scheduled (dropped %d): the run did not keep its rate", last.Total.Requests, want, last.Total.Dropped)
	}
	return at5, end, last.Total.Requests
}
