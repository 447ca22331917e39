package runbook

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/loader"
)

// benchInterval is a load.interval event as a second at rate req/s of a
// service answering in 5 ms, every 20th request in 50 ms and every 100th
// in 500 ms (bench/jitter), each with a spread: its histograms are as
// wide as a real one's.
func benchInterval(b *testing.B, rate int) LoadInterval {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	cor, raw := loader.NewHistogram(), loader.NewHistogram()
	for i := range rate {
		base := 5.0
		switch {
		case i%100 == 0:
			base = 500
		case i%20 == 0:
			base = 50
		}
		us := int64(base * 1000 * math.Exp(rng.NormFloat64()*0.05))
		_ = raw.RecordValue(us)
		_ = cor.RecordValue(us + rng.Int64N(200))
	}
	lat, err := loader.EncodeHistogram(cor)
	if err != nil {
		b.Fatal(err)
	}
	rw, err := loader.EncodeHistogram(raw)
	if err != nil {
		b.Fatal(err)
	}
	return LoadInterval{Step: "baseline", RunID: 1, Interval: loader.Interval{Index: 42, Start: 42 * time.Second,
		End: 43 * time.Second, Time: time.Now(), Latency: lat, Raw: rw, Requests: int64(rate), Failed: int64(rate / 100),
		Errored: int64(rate / 100), Status: map[int]int64{200: int64(rate - rate/100), 503: int64(rate / 100)},
		Errors: map[string]int64{"http_5xx": int64(rate / 100)}, VUs: 60, TargetRate: float64(rate),
		Due: int64(rate), Sent: int64(rate), BytesIn: int64(rate) * 120, BytesOut: int64(rate) * 90}}
}

// BenchmarkJournalInterval appends one load.interval event, as the runner
// does once a second of load: encoded, redacted, hash-chained, written
// and fsynced. ns/op is what one event costs; bytes/event its line.
// The 5s case is a long run's interval (loader.IntervalLength) at
// 10,000 req/s: five seconds of values in one event.
func BenchmarkJournalInterval(b *testing.B) {
	for _, tc := range []struct {
		name   string
		values int
	}{{"100rps", 100}, {"10000rps", 10_000}, {"10000rps-5s", 50_000}} {
		b.Run(tc.name, func(b *testing.B) {
			ev := benchInterval(b, tc.values)
			path := filepath.Join(b.TempDir(), "j.jsonl")
			j, err := CreateJournal(path, Header{Runbook: "bench"}, time.Now(), []string{"s3cret"})
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			before := j.size(b)
			for b.Loop() {
				if err := j.Append(At{Time: time.Now(), Event: ev}, "ci", "validate"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(j.size(b)-before)/float64(b.N), "bytes/event")
		})
	}
}

// BenchmarkIntervalEncode is the loader's share of an interval: both
// histograms of a second at 10,000 req/s in HdrHistogram's compressed
// encoding.
func BenchmarkIntervalEncode(b *testing.B) {
	cor, raw := loader.NewHistogram(), loader.NewHistogram()
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10_000 {
		us := int64(5000 * math.Exp(rng.NormFloat64()*0.3))
		_ = cor.RecordValue(us + 100)
		_ = raw.RecordValue(us)
	}
	for b.Loop() {
		if _, err := loader.EncodeHistogram(cor); err != nil {
			b.Fatal(err)
		}
		if _, err := loader.EncodeHistogram(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func (j *Journal) size(b *testing.B) int64 {
	fi, err := j.f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}
