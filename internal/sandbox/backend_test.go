package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// noWait is a WaitFunc that adds no latency, keeping real-server tests fast.
func noWait(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// startSandbox starts a sandbox for the test and closes it at cleanup.
func startSandbox(t *testing.T, opts Options) *Sandbox {
	t.Helper()
	if opts.Wait == nil {
		opts.Wait = noWait
	}
	s, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func newClient(s *Sandbox) *http.Client {
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: s.ClientTLSConfig()},
	}
}

func get(t *testing.T, c *http.Client, url string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, resp.Header, body
}

func TestBackendRoutes(t *testing.T) {
	s := startSandbox(t, Options{})
	c := newClient(s)
	tests := []struct {
		name   string
		method string
		path   string
		code   int
		check  func(t *testing.T, body []byte)
	}{
		{
			name: "health", method: http.MethodGet, path: "/health", code: http.StatusOK,
			check: func(t *testing.T, body []byte) {
				var got map[string]string
				if err := json.Unmarshal(body, &got); err != nil || got["status"] != "ok" || len(got) != 1 {
					t.Errorf("body %s (err %v), want {\"status\":\"ok\"}", body, err)
				}
			},
		},
		{
			name: "exercises", method: http.MethodGet, path: "/api/exercises", code: http.StatusOK,
			check: func(t *testing.T, body []byte) {
				var got []Exercise
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatalf("decode: %v", err)
				}
				if len(got) != 20 {
					t.Errorf("%d exercises, want 20", len(got))
				}
				ids := map[int]bool{}
				for _, e := range got {
					if e.ID == 0 || e.Name == "" || e.Muscle == "" || e.Equipment == "" || ids[e.ID] {
						t.Errorf("incomplete or duplicate exercise %+v", e)
					}
					ids[e.ID] = true
				}
			},
		},
		{
			name: "unknown path", method: http.MethodGet, path: "/api/nope", code: http.StatusNotFound,
			check: func(t *testing.T, body []byte) {
				var got errorBody
				if err := json.Unmarshal(body, &got); err != nil || got.Error != "not found" || got.Path != "/api/nope" {
					t.Errorf("body %s (err %v)", body, err)
				}
			},
		},
		{name: "wrong method", method: http.MethodPost, path: "/health", code: http.StatusMethodNotAllowed},
	}
	for _, base := range []string{s.HTTPURL, s.HTTPSURL} {
		for _, tt := range tests {
			t.Run(strings.SplitN(base, ":", 2)[0]+"/"+tt.name, func(t *testing.T) {
				req, err := http.NewRequestWithContext(t.Context(), tt.method, base+tt.path, nil)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tt.code {
					t.Fatalf("status %d, want %d (body %s)", resp.StatusCode, tt.code, body)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
				if tt.check != nil {
					tt.check(t, body)
				}
			})
		}
	}
}

func TestErrorRateIsHonoured(t *testing.T) {
	const requests = 400
	tests := []struct {
		rate float64
		tol  float64
	}{
		{rate: 0, tol: 0},
		{rate: 0.1, tol: 0.05},
		{rate: 0.5, tol: 0.08},
		{rate: 1, tol: 0},
	}
	s := startSandbox(t, Options{Seed: 3})
	c := newClient(s)
	for _, tt := range tests {
		t.Run(fmt.Sprintf("rate=%v", tt.rate), func(t *testing.T) {
			if err := s.Faults.SetErrorRate(tt.rate); err != nil {
				t.Fatal(err)
			}
			codes := map[int]int{}
			for range requests {
				code, _, _ := get(t, c, s.HTTPURL+"/api/exercises")
				codes[code]++
			}
			for code := range codes {
				switch code {
				case http.StatusOK, http.StatusInternalServerError, http.StatusServiceUnavailable:
				default:
					t.Errorf("unexpected status %d", code)
				}
			}
			failed := codes[http.StatusInternalServerError] + codes[http.StatusServiceUnavailable]
			got := float64(failed) / requests
			if math.Abs(got-tt.rate) > tt.tol {
				t.Errorf("failure fraction %.3f, want %.2f ± %.2f (%v)", got, tt.rate, tt.tol, codes)
			}
			if tt.rate == 0.5 && (codes[http.StatusInternalServerError] == 0 || codes[http.StatusServiceUnavailable] == 0) {
				t.Errorf("want both 500 and 503 among failures: %v", codes)
			}
		})
	}
}

func TestMetricsIsExcludedFromFaults(t *testing.T) {
	s := startSandbox(t, Options{})
	c := newClient(s)
	if err := s.Faults.SetErrorRate(1); err != nil {
		t.Fatal(err)
	}
	s.Faults.SetStall(true)
	code, hdr, _ := get(t, c, s.HTTPURL+"/metrics")
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Errorf("/metrics under faults: status %d, Content-Type %q", code, hdr.Get("Content-Type"))
	}
}

// scrape fetches /metrics and parses the text exposition.
func scrape(t *testing.T, c *http.Client, s *Sandbox) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.HTTPURL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	return families
}

// counter returns the value of the gravl_http_requests_total series.
func counter(families map[string]*dto.MetricFamily, path, code string) float64 {
	for _, m := range families["gravl_http_requests_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["path"] == path && labels["code"] == code {
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func histogramCount(families map[string]*dto.MetricFamily, path string) uint64 {
	for _, m := range families["gravl_http_request_duration_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "path" && l.GetValue() == path {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

func TestMetricsCountRequests(t *testing.T) {
	s := startSandbox(t, Options{})
	c := newClient(s)
	before := scrape(t, c, s)
	for range 3 {
		get(t, c, s.HTTPURL+"/health")
	}
	get(t, c, s.HTTPSURL+"/api/exercises")
	get(t, c, s.HTTPURL+"/no/such/thing")
	if err := s.Faults.SetErrorRate(1); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		get(t, c, s.HTTPURL+"/health")
	}
	after := scrape(t, c, s)

	tests := []struct {
		path, code string
		delta      float64
	}{
		{path: "/health", code: "200", delta: 3},
		{path: "/api/exercises", code: "200", delta: 1},
		{path: "other", code: "404", delta: 1},
		{path: "/metrics", code: "200", delta: 1}, // the first scrape
	}
	for _, tt := range tests {
		if got := counter(after, tt.path, tt.code) - counter(before, tt.path, tt.code); got != tt.delta {
			t.Errorf("requests{path=%q,code=%q} grew by %v, want %v", tt.path, tt.code, got, tt.delta)
		}
	}
	injected := counter(after, "/health", "500") + counter(after, "/health", "503")
	if injected != 4 {
		t.Errorf("injected failures counted %v, want 4", injected)
	}
	if got := histogramCount(after, "/health") - histogramCount(before, "/health"); got != 7 {
		t.Errorf("latency histogram for /health grew by %d, want 7", got)
	}
	if _, ok := after["gravl_http_requests_in_flight"]; !ok {
		t.Error("in-flight gauge missing")
	}
}

func TestStallBlocksUntilReleased(t *testing.T) {
	s := startSandbox(t, Options{})
	c := newClient(s)
	s.Faults.SetStall(true)

	const n = 3
	codes := make(chan int, n)
	for range n {
		go func() {
			resp, err := c.Get(s.HTTPURL + "/health")
			if err != nil {
				codes <- 0
				return
			}
			_ = resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	waitHeld(t.Context(), t, s.Faults, n)
	select {
	case code := <-codes:
		t.Fatalf("a request finished (%d) while stalled", code)
	default:
	}
	if got := s.Faults.Snapshot(); !got.Stalled || got.Held != n {
		t.Errorf("snapshot while stalled: %+v", got)
	}
	s.Faults.SetStall(false)
	for range n {
		if code := <-codes; code != http.StatusOK {
			t.Errorf("released request: status %d, want 200", code)
		}
	}
	waitHeld(t.Context(), t, s.Faults, 0)
}

func TestStallReleasesOnClientCancel(t *testing.T) {
	s := startSandbox(t, Options{})
	c := newClient(s)
	s.Faults.SetStall(true)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.HTTPURL+"/health", nil)
		if err != nil {
			errc <- err
			return
		}
		resp, err := c.Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		errc <- err
	}()
	waitHeld(t.Context(), t, s.Faults, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("client error %v, want context.Canceled", err)
	}
	// The server notices the closed connection and lets the handler go.
	waitHeld(t.Context(), t, s.Faults, 0)
}

func TestCloseReleasesStalledRequests(t *testing.T) {
	s, err := Start(t.Context(), Options{Wait: noWait})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(s)
	s.Faults.SetStall(true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := c.Get(s.HTTPURL + "/health"); err == nil {
			_ = resp.Body.Close()
		}
	}()
	waitHeld(t.Context(), t, s.Faults, 1)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	<-done
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if s.Faults.Snapshot().Held != 0 {
		t.Error("requests still held after Close")
	}
}

func TestInjectedLatencyGoesThroughWait(t *testing.T) {
	rec := make(chan time.Duration, 16)
	wait := func(ctx context.Context, d time.Duration) error {
		rec <- d
		return ctx.Err()
	}
	s := startSandbox(t, Options{Wait: wait})
	if err := s.Faults.SetLatency(250*time.Millisecond, 250*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	code, _, _ := get(t, newClient(s), s.HTTPURL+"/health")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if d := <-rec; d != 250*time.Millisecond {
		t.Errorf("waited %v, want 250ms", d)
	}
}
