package loader

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// BenchmarkClosedThroughput drives 50 VUs of constant-vus for 5 s against
// LOADER_BENCH_URL (a loopback URL; bench/load.sh's target pinned to
// another core is the one to use) or an in-process server, and reports
// requests/s and requests per CPU-second of the process: the figure
// bench/load.sh compares with wrk's. For a profile:
//
//	LOADER_BENCH_URL=http://127.0.0.1:18080/ taskset -c 0 go test ./loader -run '^$' \
//	    -bench BenchmarkClosedThroughput -benchtime 1x -cpuprofile cpu.out
func BenchmarkClosedThroughput(b *testing.B) {
	url := benchTarget(b)
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cpu0, _ := processCPU()
		snaps, _, err := Run(ctx, Config{
			Executor: Executor{Kind: ConstantVUs, VUs: 50, Duration: 5 * time.Second},
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
		cancel()
		b.ReportMetric(last.Total.Rate, "req/s")
		b.ReportMetric(float64(last.Total.Requests)/(cpu1-cpu0).Seconds(), "req/CPU-s")
	}
}

// benchTarget returns the URL the load benchmarks drive: LOADER_BENCH_URL,
// which must be a loopback one, or else an in-process server answering at
// once that closes with the benchmark.
func benchTarget(b *testing.B) string {
	url := os.Getenv("LOADER_BENCH_URL")
	if url == "" {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) }))
		b.Cleanup(srv.Close)
		return srv.URL
	}
	if !strings.HasPrefix(url, "http://127.") {
		b.Fatalf("LOADER_BENCH_URL %q: loopback only", url)
	}
	return url
}
