package loader

import (
	"fmt"
	"net/http"
	"net/http/httptest"
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
	if tot.Requests+tot.Dropped != 300 || tot.Dropped != 0 {
		t.Fatalf("requests %d dropped %d, want 300 and 0", tot.Requests, tot.Dropped)
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
