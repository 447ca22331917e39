package loader

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/loader/threshold"
)

// runToEnd runs cfg and returns its final snapshot, failing the test if the
// run does not end within its own bounds plus a margin.
func runToEnd(t *testing.T, cfg Config) Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	snaps, _, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var last Snapshot
	for s := range snaps {
		last = s
	}
	if !last.Done {
		t.Fatal("the channel closed without a final snapshot")
	}
	return last
}

var clients = []ClientKind{ClientH1, ClientNetHTTP}

// Every iteration of a bounded run reaches the server once and is counted
// once, with its status and bytes, by both clients.
func TestRunCountsEveryRequest(t *testing.T) {
	for _, client := range clients {
		t.Run(string(client), func(t *testing.T) {
			var served atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				served.Add(1)
				fmt.Fprint(w, `{"status":"ok"}`)
			}))
			defer srv.Close()
			last := runToEnd(t, Config{
				Executor: Executor{Kind: ConstantVUs, VUs: 4, Duration: 30 * time.Second, Iterations: 200},
				Requests: []Request{{URL: srv.URL + "/health", Checks: Checks{Status: []int{200}, JSON: []JSONCheck{{Path: "status", Equals: "ok"}}}}},
				Client:   client,
			})
			tot := last.Total
			if tot.Requests != 200 || served.Load() != 200 {
				t.Fatalf("counted %d, served %d, want 200 and 200", tot.Requests, served.Load())
			}
			if tot.Status[200] != 200 || tot.Failed != 0 || tot.Errored != 0 {
				t.Errorf("status %v failed %d errored %d", tot.Status, tot.Failed, tot.Errored)
			}
			if tot.ChecksPassed != 400 || tot.ChecksFailed != 0 {
				t.Errorf("checks %d passed %d failed, want 400 and 0", tot.ChecksPassed, tot.ChecksFailed)
			}
			if tot.BytesIn < 200*int64(len(`{"status":"ok"}`)) || tot.BytesOut < 200*int64(len("GET /health HTTP/1.1\r\n")) {
				t.Errorf("bytes in %d out %d: too few for 200 exchanges", tot.BytesIn, tot.BytesOut)
			}
			if last.Reason != ReasonIterations {
				t.Errorf("reason %q, want %q", last.Reason, ReasonIterations)
			}
			if tot.Latency.Count != 200 || tot.Latency.Min <= 0 || tot.Latency.Max < tot.Latency.P50 {
				t.Errorf("latency %+v", tot.Latency)
			}
		})
	}
}

// Failures are classified: 5xx, 4xx, failed checks, refused connections.
func TestRunClassifiesFailures(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/5xx":
			http.Error(w, "down", http.StatusServiceUnavailable)
		case "/4xx":
			http.NotFound(w, r)
		default:
			fmt.Fprint(w, "wrong body")
		}
	}))
	defer srv.Close()
	// A port that was just free: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String() + "/"
	l.Close()
	tests := []struct {
		name  string
		req   Request
		check func(Stats) bool
	}{
		{"5xx", Request{URL: srv.URL + "/5xx"}, func(s Stats) bool { return s.Errors.HTTP5xx == 20 && s.Failed == 20 && s.Status[503] == 20 }},
		{"4xx", Request{URL: srv.URL + "/4xx"}, func(s Stats) bool { return s.Errors.HTTP4xx == 20 && s.Failed == 20 }},
		{"check", Request{URL: srv.URL + "/ok", Checks: Checks{BodyContains: "exercises"}},
			func(s Stats) bool {
				return s.Errors.CheckFailed == 20 && s.Failed == 0 && s.Errored == 20 && s.ChecksFailed == 20
			}},
		{"refused", Request{URL: refused}, func(s Stats) bool { return s.Errors.Refused == 20 && s.Failed == 20 }},
	}
	for _, client := range clients {
		for _, tt := range tests {
			t.Run(string(client)+"/"+tt.name, func(t *testing.T) {
				last := runToEnd(t, Config{
					Executor: Executor{Kind: ConstantVUs, VUs: 2, Duration: 30 * time.Second, Iterations: 20},
					Requests: []Request{tt.req},
					Client:   client,
				})
				if last.Total.Requests != 20 || !tt.check(last.Total) {
					t.Errorf("requests %d failed %d errored %d errors %+v status %v", last.Total.Requests,
						last.Total.Failed, last.Total.Errored, last.Total.Errors, last.Total.Status)
				}
			})
		}
	}
}

// A server that takes at least 20ms per response cannot be measured faster
// than that: the latency floor is a fact of the server, not of timing luck.
func TestRunLatencyIsNeverBelowTheServersDelay(t *testing.T) {
	const delay = 20 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay) // the fixture's service time
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	for _, client := range clients {
		t.Run(string(client), func(t *testing.T) {
			last := runToEnd(t, Config{
				Executor: Executor{Kind: ConstantVUs, VUs: 2, Duration: 30 * time.Second, Iterations: 10},
				Requests: []Request{{URL: srv.URL}},
				Client:   client,
			})
			l := last.Total.Latency
			if l.Count != 10 || l.Min < delay || l.P50 < delay || last.Total.Waiting.Min < delay {
				t.Errorf("latency %+v waiting %+v, want every value >= %v", l, last.Total.Waiting, delay)
			}
		})
	}
}

// An abortOnFail threshold stops the run once it fails; the final snapshot
// says which threshold and why.
func TestRunAbortsOnAFailingThreshold(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer srv.Close()
	th, err := threshold.ParseLine("http_req_failed: rate<0.01, abortOnFail")
	if err != nil {
		t.Fatal(err)
	}
	if !th.AbortOnFail {
		t.Fatalf("parsed %+v without abortOnFail", th)
	}
	last := runToEnd(t, Config{
		Executor:   Executor{Kind: ConstantVUs, VUs: 1, Duration: 30 * time.Second},
		Requests:   []Request{{URL: srv.URL}},
		Thresholds: []threshold.Threshold{th},
	})
	if last.Reason != ReasonThreshold {
		t.Fatalf("reason %q, want %q", last.Reason, ReasonThreshold)
	}
	if len(last.Thresholds) != 1 || last.Thresholds[0].Pass || !last.Thresholds[0].Aborted || last.Thresholds[0].Value != 1 {
		t.Errorf("thresholds %+v", last.Thresholds)
	}
	if last.Elapsed >= 30*time.Second {
		t.Errorf("ran %v: the abort did not stop it", last.Elapsed)
	}
}

// Control.Stop ends an unbounded run gracefully; later control calls say
// the run is over.
func TestRunStopsOnControl(t *testing.T) {
	srv, hits := hitServer(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	snaps, ctl, err := Run(ctx, Config{
		Executor: Executor{Kind: ConstantVUs, VUs: 2, Duration: time.Hour},
		Requests: []Request{{URL: srv.URL}},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitHits(t, hits, 10)
	ctl.Stop()
	last := drainAll(t, snaps)[0:]
	final := last[len(last)-1]
	if final.Reason != ReasonStopped || final.Total.Requests < 10 || final.Total.Interrupted != 0 {
		t.Errorf("reason %q requests %d interrupted %d", final.Reason, final.Total.Requests, final.Total.Interrupted)
	}
	<-ctl.Done()
	if err := ctl.SetVUs(3); !errors.Is(err, ErrNotRunning) {
		t.Errorf("SetVUs after the end = %v, want ErrNotRunning", err)
	}
	if err := ctl.SetRate(3); !errors.Is(err, ErrNotSupported) {
		t.Errorf("SetRate on constant-vus = %v, want ErrNotSupported", err)
	}
}

// Invalid configurations are refused before anything starts, naming the
// field.
func TestRunRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"no requests", Config{Executor: Executor{Kind: ConstantVUs, VUs: 1, Duration: time.Second}}, "requests"},
		{"no vus", Config{Executor: Executor{Kind: ConstantVUs, Duration: time.Second}, Requests: []Request{{URL: "http://127.0.0.1:1/"}}}, "executor.vus"},
		{"bad url", Config{Executor: Executor{Kind: ConstantVUs, VUs: 1, Duration: time.Second}, Requests: []Request{{URL: "ftp://127.0.0.1/"}}}, "requests[0].url"},
		{"no rate", Config{Executor: Executor{Kind: ConstantArrivalRate, Duration: time.Second, PreAllocatedVUs: 1}, Requests: []Request{{URL: "http://127.0.0.1:1/"}}}, "executor.rate"},
		{"unknown executor", Config{Executor: Executor{Kind: "shared-iterations"}, Requests: []Request{{URL: "http://127.0.0.1:1/"}}}, "executor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Run(t.Context(), tt.cfg)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FieldError", err)
			}
			if !strings.HasPrefix(fe.Path, tt.field) {
				t.Errorf("field %q, want %q (%v)", fe.Path, tt.field, err)
			}
		})
	}
}
