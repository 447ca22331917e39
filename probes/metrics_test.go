package probes

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// exposition serves a hand-written text exposition on loopback; set
// replaces it between scrapes.
type exposition struct {
	mu     sync.Mutex
	body   string
	status int
	srv    *httptest.Server
}

func serveExposition(t *testing.T, body string) *exposition {
	t.Helper()
	e := &exposition{body: body, status: http.StatusOK}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		e.mu.Lock()
		defer e.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.WriteHeader(e.status)
		_, _ = w.Write([]byte(e.body))
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *exposition) set(status int, body string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.status, e.body = status, body
}

func (e *exposition) url() string { return e.srv.URL + "/metrics" }

// manualClock is a clock the test advances between scrapes.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const exposition1 = `# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{method="GET",code="200"} 1000
http_requests_total{method="POST",code="200"} 200
http_requests_total{method="GET",code="500"} 5
http_requests_total{method="POST",code="503"} 3
# HELP process_open_fds Open file descriptors.
# TYPE process_open_fds gauge
process_open_fds 42
# HELP http_request_duration_seconds Request latency.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.1"} 600
http_request_duration_seconds_bucket{le="0.5"} 900
http_request_duration_seconds_bucket{le="1"} 1000
http_request_duration_seconds_bucket{le="+Inf"} 1000
http_request_duration_seconds_sum 180
http_request_duration_seconds_count 1000
`

// 10 s later: +100 GET 200, +50 POST 200, +10 GET 500, the POST 503
// counter reset to 1 (a restart), buckets +100 all under 0.1 s.
const exposition2 = `# TYPE http_requests_total counter
http_requests_total{method="GET",code="200"} 1100
http_requests_total{method="POST",code="200"} 250
http_requests_total{method="GET",code="500"} 15
http_requests_total{method="POST",code="503"} 1
# TYPE process_open_fds gauge
process_open_fds 40
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.1"} 700
http_request_duration_seconds_bucket{le="0.5"} 1000
http_request_duration_seconds_bucket{le="1"} 1100
http_request_duration_seconds_bucket{le="+Inf"} 1100
http_request_duration_seconds_sum 190
http_request_duration_seconds_count 1100
`

// The metrics probe against a real loopback /metrics: a selector's value,
// label matchers, a rate between two scrapes (the first pending), a
// histogram quantile, a missing metric, and broken endpoints.
func TestMetricsProbe(t *testing.T) {
	q := func(v float64) *float64 { return &v }
	tests := []struct {
		name   string
		spec   MetricsSpec // URL filled in
		second string      // the exposition of a second scrape ("": one scrape)
		// want is the judgement of the last scrape; wantFirst that of the
		// first one when there are two.
		want, wantFirst Status
		value           float64
		series          float64
		summary         string // a substring of the last summary or message
	}{
		{name: "a gauge's value", spec: MetricsSpec{Metric: "process_open_fds", Expect: "< 100"},
			want: StatusPass, value: 42, series: 1, summary: "process_open_fds: value 42 (1 series)"},
		{name: "a selector sums its series", spec: MetricsSpec{Metric: `http_requests_total{code="200"}`, Expect: ">= 1000"},
			want: StatusPass, value: 1200, series: 2},
		{name: "label matchers", spec: MetricsSpec{Metric: `http_requests_total{code=~"5..",method!="POST"}`, Expect: "== 0"},
			want: StatusFail, value: 5, series: 1, summary: "value 5, want == 0"},
		{name: "a negative regex matcher", spec: MetricsSpec{Metric: `http_requests_total{code!~"2.."}`, Expect: "< 10"},
			want: StatusPass, value: 8, series: 2},
		{name: "a missing metric", spec: MetricsSpec{Metric: "grpc_server_handled_total", Expect: "> 0"},
			want: StatusFail, series: 0, summary: "no series matches grpc_server_handled_total"},
		{name: "a missing label value", spec: MetricsSpec{Metric: `http_requests_total{code="418"}`, Expect: "> 0"},
			want: StatusFail, series: 0, summary: `no series matches http_requests_total{code="418"}`},
		{name: "a rate between two scrapes", spec: MetricsSpec{Metric: `http_requests_total{code="200"}`, Rate: true, Expect: "> 10"},
			second: exposition2, wantFirst: StatusPending, want: StatusPass, value: 15, series: 2, summary: "rate 15/s over 10s"},
		{name: "a rate across a counter reset", spec: MetricsSpec{Metric: `http_requests_total{code=~"5.."}`, Rate: true, Expect: "< 0.5"},
			second: exposition2, wantFirst: StatusPending, want: StatusFail, value: 1.1, series: 2},
		{name: "a quantile of the buckets' totals", spec: MetricsSpec{Metric: "http_request_duration_seconds_bucket", Quantile: q(0.9), Expect: "< 1"},
			want: StatusPass, value: 0.5, series: 4, summary: "p90 of 1000 observations"},
		{name: "a quantile over the last interval", spec: MetricsSpec{Metric: "http_request_duration_seconds_bucket", Quantile: q(0.99), Rate: true, Expect: "< 0.2"},
			second: exposition2, wantFirst: StatusPending, want: StatusPass, value: 0.099, series: 4, summary: "p99 over the last 10s (100 observations)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := serveExposition(t, exposition1)
			clk := &manualClock{t: time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC)}
			spec := tt.spec
			spec.URL = srv.url()
			if err := spec.Validate(); err != nil {
				t.Fatal(err)
			}
			p, rules, err := spec.Build(Env{Now: clk.now})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res := Run(ctx, p, rules, clk.now)
			if tt.second != "" {
				if res.Status != tt.wantFirst {
					t.Fatalf("first scrape = %s %q (%s), want %s", res.Status, res.Summary, res.Message, tt.wantFirst)
				}
				if tt.wantFirst == StatusPending && !strings.Contains(res.Message, "a rate needs a second one") {
					t.Errorf("first scrape message %q", res.Message)
				}
				srv.set(http.StatusOK, tt.second)
				clk.advance(10 * time.Second)
				res = Run(ctx, p, rules, clk.now)
			}
			if res.Status != tt.want {
				t.Fatalf("= %s %q (%s), want %s", res.Status, res.Summary, res.Message, tt.want)
			}
			if res.Values["series"] != tt.series {
				t.Errorf("series = %v, want %v", res.Values["series"], tt.series)
			}
			if v, ok := res.Values["value"]; tt.series > 0 && (!ok || !approx(v, tt.value)) {
				t.Errorf("value = %v (%t), want %v", v, ok, tt.value)
			}
			if _, ok := res.Values["value"]; tt.series == 0 && ok {
				t.Errorf("value set with no series: %v", res.Values)
			}
			if !strings.Contains(res.Summary+" | "+res.Message, tt.summary) {
				t.Errorf("summary %q, message %q: want %q", res.Summary, res.Message, tt.summary)
			}
		})
	}
}

// Endpoints that do not serve an exposition are errors, never a value.
func TestMetricsProbeErrors(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		wantMsg string
	}{
		{name: "garbage", status: http.StatusOK, body: "<html><body>Welcome</body></html>\n", wantMsg: "parse"},
		{name: "a sample without a value", status: http.StatusOK, body: "# TYPE up gauge\nup{job=\"api\"}\n", wantMsg: "parse"},
		{name: "a bad label", status: http.StatusOK, body: "up{job=api} 1\n", wantMsg: "parse"},
		{name: "a server error", status: http.StatusServiceUnavailable, body: "down\n", wantMsg: "503 Service Unavailable"},
		{name: "not found", status: http.StatusNotFound, body: "404 page not found\n", wantMsg: "404 Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := serveExposition(t, "")
			srv.set(tt.status, tt.body)
			spec := MetricsSpec{URL: srv.url(), Metric: "up", Expect: "== 1"}
			p, rules, err := spec.Build(Env{})
			if err != nil {
				t.Fatal(err)
			}
			res := Run(context.Background(), p, rules, time.Now)
			if res.Status != StatusError || !strings.Contains(res.Message, tt.wantMsg) || !strings.Contains(res.Message, "scrape http://127.0.0.1:") {
				t.Errorf("= %s %q, want error containing %q", res.Status, res.Message, tt.wantMsg)
			}
			if _, ok := res.Values["value"]; ok {
				t.Errorf("an error with a value: %v", res.Values)
			}
		})
	}

	// Nothing listening.
	srv := serveExposition(t, "")
	url := srv.url()
	srv.srv.Close()
	p, rules, err := (&MetricsSpec{URL: url, Metric: "up", Expect: "== 1"}).Build(Env{})
	if err != nil {
		t.Fatal(err)
	}
	if res := Run(context.Background(), p, rules, time.Now); res.Status != StatusError || !strings.Contains(res.Message, "connection refused") {
		t.Errorf("closed port = %s %q", res.Status, res.Message)
	}
}
