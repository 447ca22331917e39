package distload

import (
	"fmt"
	"math"
	"math/rand/v2"
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
