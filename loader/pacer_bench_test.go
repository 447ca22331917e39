package loader

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// BenchmarkPacer measures the open model's pacing: the generator lag (from
// the intended start to the send) and the process's CPU, at 100, 1,000 and
// 10,000 requests/s, with the precise wake-up (a Go timer to 2ms before the
// due time, a timerfd to 50µs before it, then yields: wake.go) and with the
// Go timer alone. The difference in CPU is what the precision costs.
//
// The target is an in-process loopback server answering at once, or
// LOADER_BENCH_URL (a loopback URL: bench/pacer.sh starts bench/target on
// another core so that the CPU measured is the loader's alone). Each run
// lasts LOADER_BENCH_SECONDS (default 5).
//
// Reported: lag-p50-µs, lag-p90-µs, lag-p99-µs, cpu-%-of-a-core,
// delivered-% (of the iterations due), corrected-minus-raw-p50-µs.
//
//	go test ./loader -run '^$' -bench BenchmarkPacer -benchtime 1x
func BenchmarkPacer(b *testing.B) {
	url := benchTarget(b)
	secs := 5
	if s := os.Getenv("LOADER_BENCH_SECONDS"); s != "" {
		if _, err := fmt.Sscan(s, &secs); err != nil || secs <= 0 {
			b.Fatalf("LOADER_BENCH_SECONDS %q", s)
		}
	}
	for _, rate := range []float64{100, 200, 1000, 2000, 10_000} {
		for _, mode := range []string{"precise", "timer"} {
			b.Run(fmt.Sprintf("rate=%g/wake=%s", rate, mode), func(b *testing.B) {
				if mode == "timer" {
					pacerWaker = func(Clock) waker { return nil }
					defer func() { pacerWaker = newPacerWaker }()
				}
				for range b.N {
					pacerRun(b, url, rate, time.Duration(secs)*time.Second)
				}
			})
		}
	}
}

func pacerRun(b *testing.B, url string, rate float64, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d+time.Minute)
	defer cancel()
	cpu0, _ := processCPU()
	start := time.Now()
	snaps, _, err := Run(ctx, Config{
		Executor: Executor{Kind: ConstantArrivalRate, Rate: rate, Duration: d},
		Requests: []Request{{URL: url}},
	})
	if err != nil {
		b.Fatal(err)
	}
	var last Snapshot
	for s := range snaps {
		last = s
	}
	cpu1, _ := processCPU()
	wall := time.Since(start)
	t := last.Total
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	b.ReportMetric(us(t.Lag.P50), "lag-p50-µs")
	b.ReportMetric(us(t.Lag.P90), "lag-p90-µs")
	b.ReportMetric(us(t.Lag.P99), "lag-p99-µs")
	b.ReportMetric(us(t.Latency.P50-t.Raw.P50), "corrected-minus-raw-p50-µs")
	b.ReportMetric(100*(cpu1-cpu0).Seconds()/wall.Seconds(), "cpu-%-of-a-core")
	b.ReportMetric(100*last.Delivery.Ratio(), "delivered-%")
}
