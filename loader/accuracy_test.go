package loader

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Coordinated omission: an open model with two VUs against a server that
// stalls every response for one second mid-run. The requests intended during
// the stall go out late; measured from their intended start (corrected) the
// stall shows in p99, measured from the actual send (raw) it does not, and
// both are reported.
func TestCoordinatedOmissionIsCorrected(t *testing.T) {
	const stall = time.Second
	var (
		n       atomic.Int64
		once    sync.Once
		release = make(chan struct{})
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 100 { // about 1 s into the run
			once.Do(func() { time.AfterFunc(stall, func() { close(release) }) })
		}
		if n.Load() >= 100 {
			<-release // the server's stall: every response waits for its end
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	last := runToEnd(t, Config{
		Executor: Executor{Kind: ConstantArrivalRate, Rate: 100, Duration: 3 * time.Second,
			PreAllocatedVUs: 2, MaxVUs: 2, MaxLag: 10 * time.Second},
		Requests: []Request{{URL: srv.URL}},
	})
	tot := last.Total
	// Every scheduled iteration is sent or dropped. MaxLag drops none; an
	// iteration the pacer had not started when the 3 s ran out is dropped,
	// which a loaded machine makes possible for the last few.
	if tot.Requests+tot.Dropped != 300 || tot.Dropped > 3 {
		t.Fatalf("requests %d dropped %d, want 300 in all and at most 3 dropped", tot.Requests, tot.Dropped)
	}
	// ~100 of 300 requests were intended during the stall, late by up to 1 s.
	if tot.Latency.P99 < 700*time.Millisecond || tot.Latency.Max < 900*time.Millisecond {
		t.Errorf("corrected p99 %v max %v: the stall does not show", tot.Latency.P99, tot.Latency.Max)
	}
	// Only the two requests in flight when the stall began waited on it.
	if tot.Raw.P95 > 200*time.Millisecond {
		t.Errorf("raw p95 %v: raw latency should not include the time the requests waited to be sent", tot.Raw.P95)
	}
	if tot.Raw.Max < 900*time.Millisecond {
		t.Errorf("raw max %v: the requests in flight during the stall waited ~1s", tot.Raw.Max)
	}
}

// Rate: an open model at 1,000 requests/s for 5 s sends what the schedule
// says, whatever the target does: every iteration is sent or counted as
// dropped, and on an idle loopback server almost none are dropped.
func TestArrivalRateIsKept(t *testing.T) {
	if testing.Short() {
		t.Skip("5 s of load")
	}
	srv, _ := hitServer(t)
	last := runToEnd(t, Config{
		Executor: Executor{Kind: ConstantArrivalRate, Rate: 1000, Duration: 5 * time.Second, PreAllocatedVUs: 20, MaxVUs: 200},
		Requests: []Request{{URL: srv.URL}},
	})
	tot := last.Total
	if tot.Requests+tot.Dropped != 5000 {
		t.Fatalf("requests %d + dropped %d != 5000 scheduled", tot.Requests, tot.Dropped)
	}
	if tot.Requests < 4900 { // within 2 %
		t.Errorf("achieved %d of 5000 (dropped %d)", tot.Requests, tot.Dropped)
	}
}

// delayServer answers after a delay drawn from a seeded log-uniform
// distribution between lo and hi, and records how long each handler really
// took (the sleep's own overshoot included): the known distribution the
// loader's percentiles are checked against.
type delayServer struct {
	*httptest.Server
	mu      sync.Mutex
	rng     *rand.Rand
	handled []time.Duration
}

func newDelayServer(t *testing.T, seed uint64, lo, hi time.Duration, capacity int) *delayServer {
	t.Helper()
	s := &delayServer{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), handled: make([]time.Duration, 0, capacity)}
	ratio := math.Log(float64(hi) / float64(lo))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.mu.Lock()
		d := time.Duration(float64(lo) * math.Exp(ratio*s.rng.Float64()))
		s.mu.Unlock()
		time.Sleep(d) // the fixture's service time, the distribution under test
		took := time.Since(start)
		s.mu.Lock()
		if len(s.handled) < cap(s.handled) { // bounded: extra requests fail the count check
			s.handled = append(s.handled, took)
		}
		s.mu.Unlock()
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

// atRank returns the value HdrHistogram reports for quantile q (0–100):
// the value at rank round(q/100·n), at least 1, in ascending order.
func atRank(sorted []time.Duration, q float64) time.Duration {
	k := max(int(q/100*float64(len(sorted))+0.5), 1)
	return sorted[min(k, len(sorted))-1]
}

// Accuracy: 1,000 requests against a server whose service times follow a
// seeded log-uniform distribution from 1ms to 100ms (p50 ≈ 10ms, p90 ≈ 63ms,
// p99 ≈ 95ms). The server records each handler's real duration h_i.
//
// Every measured latency y_i is the handler time plus the client's part:
// h_i <= y_i <= h_i + noise. When each sample moves up by at most noise,
// each order statistic does too, so the reported quantile at rank k lies
// between h_(k) and h_(k) + noise, whatever the pairing of requests and
// delays. On top of that HdrHistogram keeps three significant digits: a
// value is reported as the highest value of its bucket, at most 0.1 % above
// it, and recorded in whole µs (truncated, hence the 1µs below).
//
// noise is the loopback round trip (~0.1ms) and the kernel and Go scheduler
// waking the VU after the response is written. On an idle machine that is
// well under 2ms; on this shared 2-core machine under -race, with other
// builds running, we measured up to +5ms at p90 and +25ms at p99 (load
// average ~6). The allowance is 10ms plus 25 % of the value. That still
// fails a percentile mixed up with its neighbour (p50 ≈ 10ms vs p90 ≈ 63ms
// vs p99 ≈ 95ms), a quantile on the wrong scale (0–1 for 0–100) or a unit
// slip; and the lower bound, the server's own time, is exact. The maximum
// is checked from below only: one preempted sample moves it.
func TestPercentilesMatchAKnownDistribution(t *testing.T) {
	const (
		n     = 1000
		noise = 10 * time.Millisecond
		slack = 0.25
	)
	for i, client := range clients {
		t.Run(string(client), func(t *testing.T) {
			srv := newDelayServer(t, uint64(42+i), time.Millisecond, 100*time.Millisecond, n)
			last := runToEnd(t, Config{
				Executor: Executor{Kind: ConstantVUs, VUs: 8, Duration: time.Minute, Iterations: n},
				Requests: []Request{{URL: srv.URL}},
				Client:   client,
			})
			srv.mu.Lock()
			handled := slices.Clone(srv.handled)
			srv.mu.Unlock()
			slices.Sort(handled)
			if len(handled) != n || last.Total.Latency.Count != n || last.Total.Failed != 0 {
				t.Fatalf("server handled %d, loader counted %d (failed %d), want %d", len(handled),
					last.Total.Latency.Count, last.Total.Failed, n)
			}
			l := last.Total.Latency
			for _, c := range []struct {
				name string
				q    float64
				got  time.Duration
			}{{"p50", 50, l.P50}, {"p90", 90, l.P90}, {"p99", 99, l.P99}, {"max", 100, l.Max}} {
				h := atRank(handled, c.q)
				lo := h.Truncate(time.Microsecond) - time.Microsecond
				hi := time.Duration(float64(h+noise)*(1+slack))*1001/1000 + time.Microsecond
				if c.q == 100 {
					hi = time.Hour
				}
				t.Logf("%s %v: the server's %v, +%v", c.name, c.got, h, c.got-h)
				if c.got < lo || c.got > hi {
					t.Errorf("%s = %v, want within [%v, %v] (server's %s %v)", c.name, c.got, lo, hi, c.name, h)
				}
			}
			// The distribution itself is what the seed says: the test would be
			// vacuous if the server's delays bunched up.
			if p50, p99 := atRank(handled, 50), atRank(handled, 99); p50 < 5*time.Millisecond || p50 > 20*time.Millisecond || p99 < 80*time.Millisecond {
				t.Fatalf("the fixture's distribution is off: p50 %v p99 %v", p50, p99)
			}
		})
	}
}
