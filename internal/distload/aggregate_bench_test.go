package distload

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/threshold"
)

// benchPool returns payloads of merged one-second intervals of an open
// model, each the merge of workers × 2000 latencies, log-uniform from 1
// to 500 ms (as loader's BenchmarkMergeWorkerStreams records them per
// worker), with a few failures.
func benchPool(b *testing.B, workers int) []loader.Interval {
	b.Helper()
	rng := rand.New(rand.NewPCG(3600, uint64(workers)))
	pool := make([]loader.Interval, 8)
	for p := range pool {
		cor, raw := loader.NewHistogram(), loader.NewHistogram()
		n := workers * 2000
		for range n {
			r := int64(1000 * math.Exp(rng.Float64()*math.Log(500)))
			if err := raw.RecordValue(r); err != nil {
				b.Fatal(err)
			}
			if err := cor.RecordValue(r + rng.Int64N(2_000)); err != nil {
				b.Fatal(err)
			}
		}
		var err error
		iv := &pool[p]
		if iv.Latency, err = loader.EncodeHistogram(cor); err != nil {
			b.Fatal(err)
		}
		if iv.Raw, err = loader.EncodeHistogram(raw); err != nil {
			b.Fatal(err)
		}
		failed := int64(rng.IntN(workers))
		iv.Requests, iv.Failed, iv.Errored = int64(n), failed, failed
		iv.Status = map[int]int64{200: int64(n) - failed, 503: failed}
		iv.Errors = map[string]int64{loader.ClassHTTP5xx.String(): failed}
		iv.BytesIn, iv.BytesOut = int64(n)*1200, int64(n)*180
		iv.VUs, iv.TargetRate = workers*4, float64(n)
		iv.Due, iv.Sent = int64(n), int64(n)
	}
	return pool
}

// merged returns interval k of a replay of pool.
func merged(pool []loader.Interval, k, workers int) loader.MergedInterval {
	iv := pool[k%len(pool)]
	iv.Index = k
	iv.Start, iv.End = time.Duration(k)*time.Second, time.Duration(k+1)*time.Second
	iv.Time = time.Unix(0, 0).Add(iv.End)
	return loader.MergedInterval{Interval: iv, Workers: workers, Merged: workers}
}

// BenchmarkAggregateSnapshot measures the coordinator's cost per merged
// interval after a long run: an op adds one merged interval to an
// Aggregate that already holds `at` of them and takes a snapshot, as
// Driver.Run does for every interval — the snapshot's Total, its 10 s
// Window and four thresholds, two over the whole run and two over
// windows. core-% is the share of one core that costs at one interval a
// second (ns/op ÷ 10⁷), on top of the merge of the workers' lines
// (loader's BenchmarkMergeWorkerStreams).
//
//	go test ./internal/distload -run '^$' -bench BenchmarkAggregateSnapshot -benchmem
func BenchmarkAggregateSnapshot(b *testing.B) {
	var ths []threshold.Threshold
	for _, l := range []string{
		"http_req_duration: p(95)<500",
		"http_req_duration: p(99)<1000 over 30s",
		"http_req_failed: rate<0.01",
		"http_reqs: rate>100 over 10s",
	} {
		t, err := threshold.ParseLine(l)
		if err != nil {
			b.Fatal(err)
		}
		ths = append(ths, t)
	}
	for _, workers := range []int{100, 500} {
		pool := benchPool(b, workers)
		for _, at := range []int{10, 3600} {
			b.Run(fmt.Sprintf("workers=%d/at=%d", workers, at), func(b *testing.B) {
				a := &Aggregate{Thresholds: ths, Executor: loader.ConstantArrivalRate, Planned: 2 * time.Hour, WindowSize: 10 * time.Second}
				for k := range at {
					a.Add(merged(pool, k, workers))
				}
				if _, _, err := a.Snapshot(time.Unix(0, 0), false, ""); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for i := range b.N {
					a.Add(merged(pool, at+i, workers))
					s, _, err := a.Snapshot(time.Unix(0, 0), false, "")
					if err != nil {
						b.Fatal(err)
					}
					if want := int64(at+i+1) * int64(workers) * 2000; s.Total.Requests != want {
						b.Fatalf("%d requests in total, want %d", s.Total.Requests, want)
					}
				}
				b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N)/1e7, "core-%")
			})
		}
	}
}

// BenchmarkAggregateMemory shows the Aggregate's memory does not grow with
// the run: 100 workers' merged intervals replayed for 3600 intervals, a
// snapshot after each as Driver.Run takes them, HeapInuse after a full GC
// at interval 600 and at 3600 (the intervals handed on and dropped, as
// the coordinator does once it has journaled them). The windows are those
// of BenchmarkAggregateSnapshot (10 s and 30 s). The benchmark fails when
// the heap at 3600 is 256 KiB or more above the heap at 600. encoded-B is
// what the intervals' encoded histograms alone weigh over the 3600: what
// keeping every interval held.
//
//	go test ./internal/distload -run '^$' -bench BenchmarkAggregateMemory -benchtime 1x
func BenchmarkAggregateMemory(b *testing.B) {
	const workers, n, flat = 100, 3600, 256 << 10
	ths := []threshold.Threshold{}
	for _, l := range []string{"http_req_duration: p(95)<500", "http_req_duration: p(99)<1000 over 30s"} {
		t, err := threshold.ParseLine(l)
		if err != nil {
			b.Fatal(err)
		}
		ths = append(ths, t)
	}
	pool := benchPool(b, workers)
	var h600, h3600 uint64
	var encoded int64
	for range b.N {
		a := &Aggregate{Thresholds: ths, Executor: loader.ConstantArrivalRate, Planned: 2 * time.Hour, WindowSize: 10 * time.Second}
		encoded = 0
		for k := range n {
			m := merged(pool, k, workers)
			encoded += int64(len(m.Latency) + len(m.Raw))
			a.Add(m)
			if _, _, err := a.Snapshot(time.Unix(0, 0), false, ""); err != nil {
				b.Fatal(err)
			}
			switch k + 1 {
			case 600:
				h600 = heapInuse()
			case n:
				h3600 = heapInuse()
			}
		}
		if a.Intervals() != n {
			b.Fatalf("%d intervals, want %d", a.Intervals(), n)
		}
	}
	b.ReportMetric(float64(h600), "heap-600-B")
	b.ReportMetric(float64(h3600), "heap-3600-B")
	b.ReportMetric(float64(int64(h3600)-int64(h600)), "growth-B")
	b.ReportMetric(float64(encoded), "encoded-B")
	if int64(h3600)-int64(h600) >= flat {
		b.Errorf("heap not flat: %d B at interval 600, %d B at 3600 (%+d B); flat is < %d B", h600, h3600, int64(h3600)-int64(h600), flat)
	}
}

// heapInuse is HeapInuse after a full collection.
func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
