package probes

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/cockpit-dev/cockpit/internal/promtest"
)

// gravlExposition is what the test's /metrics target serves: two routes'
// error ratios (one above 1 %) and an up-style gauge.
const gravlExposition = `# HELP gravl_error_ratio Share of failed requests per route.
# TYPE gravl_error_ratio gauge
gravl_error_ratio{route="/health"} 0.001
gravl_error_ratio{route="/api/exercises"} 0.02
# HELP gravl_up Whether the API is up.
# TYPE gravl_up gauge
gravl_up 1
`

// startScrapedPrometheus serves gravlExposition on loopback, starts a real
// Prometheus scraping it and waits until both metrics are queryable.
func startScrapedPrometheus(t *testing.T) *promtest.Prometheus {
	t.Helper()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, gravlExposition)
	}))
	t.Cleanup(target.Close)
	prom := promtest.StartPrometheus(t, promtest.PrometheusOptions{
		Targets:  []string{target.Listener.Addr().String()},
		Interval: 200 * time.Millisecond,
	})
	waitForSeries(t, prom.URL, `count(gravl_error_ratio) + count(gravl_up)`, 3)
	return prom
}

// waitForSeries polls the query until its single value is want.
func waitForSeries(t *testing.T, base, query string, want float64) {
	t.Helper()
	spec := PrometheusSpec{URL: base, Query: query, Expect: fmt.Sprintf("== %v", want)}
	p, rules, err := spec.Build(Env{})
	if err != nil {
		t.Fatal(err)
	}
	promtest.Eventually(t, 30*time.Second, "series "+query, func() (bool, string) {
		res := Run(t.Context(), p, rules, time.Now)
		return res.Status == StatusPass, res.Status.String() + ": " + res.Summary + " " + res.Message
	})
}

func TestPrometheusProbe(t *testing.T) {
	prom := startScrapedPrometheus(t)
	tests := []struct {
		name        string
		spec        PrometheusSpec
		wantStatus  Status
		wantSummary string // substring
		wantMsg     string // substring
		wantServer  string // a second message substring: the server's own words
		wantItem    string // an item summary or name substring
		wantValues  map[string]float64
		noValues    []string // values that must be absent
	}{
		{name: "single series passes", spec: PrometheusSpec{Query: `gravl_up{job="test"}`, Expect: "== 1"},
			wantStatus: StatusPass, wantSummary: `gravl_up{instance="127.0.0.1:`,
			wantValues: map[string]float64{"series": 1, "failing": 0, "value": 1, "min": 1, "max": 1}},
		{name: "per series: one route misses the threshold", spec: PrometheusSpec{Query: "gravl_error_ratio", Expect: "< 0.01"},
			wantStatus: StatusFail, wantSummary: "2 series, 1 miss < 0.01", wantMsg: "1 of 2 series miss < 0.01",
			wantItem:   "0.02 (want < 0.01)",
			wantValues: map[string]float64{"series": 2, "failing": 1, "min": 0.001, "max": 0.02, "sum": 0.021},
			noValues:   []string{"value"}},
		{name: "per series: filtered to the good route", spec: PrometheusSpec{Query: `gravl_error_ratio{route="/health"}`, Expect: "< 0.01"},
			wantStatus: StatusPass, wantValues: map[string]float64{"value": 0.001}},
		{name: "aggregate in PromQL", spec: PrometheusSpec{Query: "max(gravl_error_ratio)", Expect: "<= 0.02"},
			wantStatus: StatusPass, wantSummary: "value 0.02"},
		{name: "scalar result", spec: PrometheusSpec{Query: "scalar(gravl_up) * 100", Expect: ">= 100"},
			wantStatus: StatusPass, wantSummary: "value 100", wantValues: map[string]float64{"value": 100}},
		{name: "empty result fails by default", spec: PrometheusSpec{Query: "gravl_missing", Expect: "< 1"},
			wantStatus: StatusFail, wantSummary: "no series", wantMsg: "the query returned no series",
			wantValues: map[string]float64{"series": 0}, noValues: []string{"value", "min", "max", "sum", "avg"}},
		{name: "empty: pass", spec: PrometheusSpec{Query: "gravl_error_ratio > 0.5", Expect: "< 0.5", Empty: "pass"},
			wantStatus: StatusPass},
		{name: "empty: warn", spec: PrometheusSpec{Query: "gravl_missing", Expect: "< 1", Empty: "warn"},
			wantStatus: StatusWarn},
		{name: "alerting-style query: any series fails", spec: PrometheusSpec{Query: "gravl_error_ratio > 0.01", Empty: "pass",
			Outcomes: []OutcomeSpec{{Fail: &RuleSpec{When: "series > 0", Message: "{{series}} route(s) above 1%"}}, {Pass: &RuleSpec{}}}},
			wantStatus: StatusFail, wantMsg: "1 route(s) above 1%", wantItem: `route="/api/exercises"`},
		{name: "outcomes over aggregates", spec: PrometheusSpec{Query: "gravl_error_ratio", Outcomes: []OutcomeSpec{
			{Fail: &RuleSpec{When: "max > 0.05"}}, {Warn: &RuleSpec{When: "max > 0.01", Message: "max {{max}}"}}, {Pass: &RuleSpec{}}}},
			wantStatus: StatusWarn, wantMsg: "max 0.02"},
		{name: "NaN fails the expectation and stays out of the values", spec: PrometheusSpec{Query: "(gravl_up - gravl_up) / (gravl_up - gravl_up)", Expect: "< 1"},
			wantStatus: StatusFail, wantItem: "NaN (want < 1)", wantValues: map[string]float64{"failing": 1}, noValues: []string{"value", "min"}},
		{name: "bad PromQL is an error with the server's message", spec: PrometheusSpec{Query: "sum(rate(gravl_up[5m])", Expect: "< 1"},
			wantStatus: StatusError, wantMsg: "bad_data: ", wantServer: "unclosed left parenthesis"},
		{name: "range vector is an error", spec: PrometheusSpec{Query: "gravl_up[1m]", Expect: "< 1"},
			wantStatus: StatusError, wantMsg: "range vector"},
		{name: "a PromQL warning is an item", spec: PrometheusSpec{Query: "quantile(2, gravl_error_ratio)", Expect: "> 1"},
			wantStatus: StatusPass, wantItem: "quantile value should be between 0 and 1"},
		{name: "a PromQL info is an item", spec: PrometheusSpec{Query: "rate(gravl_up[1m])", Expect: ">= 0"},
			wantStatus: StatusPass, wantItem: "might not be a counter"},
	}
	// rate needs two samples in its range.
	waitForSeries(t, prom.URL, `count_over_time(gravl_up[1m]) >= bool 2`, 1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.URL = prom.URL
			if err := tt.spec.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			p, rules, err := tt.spec.Build(Env{})
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			res := Run(context.Background(), p, rules, time.Now)
			if res.Status != tt.wantStatus {
				t.Errorf("status = %s (%s), want %s; summary %q items %+v", res.Status, res.Message, tt.wantStatus, res.Summary, res.Items)
			}
			if !strings.Contains(res.Summary, tt.wantSummary) {
				t.Errorf("summary = %q, want %q", res.Summary, tt.wantSummary)
			}
			if !strings.Contains(res.Message, tt.wantMsg) {
				t.Errorf("message = %q, want %q", res.Message, tt.wantMsg)
			}
			if !strings.Contains(res.Message, tt.wantServer) {
				t.Errorf("message = %q, want the server's %q", res.Message, tt.wantServer)
			}
			if tt.wantItem != "" && !hasItemText(res.Items, tt.wantItem) {
				t.Errorf("no item with %q in %+v", tt.wantItem, res.Items)
			}
			for k, v := range tt.wantValues {
				if got, ok := res.Values[k]; !ok || !approx(got, v) {
					t.Errorf("value %s = %v (present %v), want %v", k, got, ok, v)
				}
			}
			for _, k := range tt.noValues {
				if v, ok := res.Values[k]; ok {
					t.Errorf("value %s = %v, want absent", k, v)
				}
			}
			if _, err := json.Marshal(res); err != nil {
				t.Errorf("result does not encode (the journal needs it): %v", err)
			}
		})
	}
}

// TestPrometheusProbeOver checks a window: a gauge Prometheus saw at 5 and
// then at 1 is 5 at worst (max), 1 at best and at last.
func TestPrometheusProbeOver(t *testing.T) {
	var depth atomic.Int64
	depth.Store(5)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "# TYPE gravl_queue_depth gauge\ngravl_queue_depth %d\n", depth.Load())
	}))
	t.Cleanup(target.Close)
	prom := promtest.StartPrometheus(t, promtest.PrometheusOptions{
		Targets:  []string{target.Listener.Addr().String()},
		Interval: 100 * time.Millisecond,
	})
	waitForSeries(t, prom.URL, "gravl_queue_depth", 5)
	depth.Store(1)
	waitForSeries(t, prom.URL, "gravl_queue_depth", 1)

	window := Duration(time.Minute)
	step := Duration(100 * time.Millisecond)
	tests := []struct {
		name        string
		spec        PrometheusSpec
		wantStatus  Status
		wantSummary string
		wantItem    string
		wantValue   float64 // 0: not checked
	}{
		{name: "upper bound: max by default", spec: PrometheusSpec{Expect: "< 3"}, wantStatus: StatusFail,
			wantSummary: "= 5 (max over 1m0s)", wantItem: "5 (want < 3)", wantValue: 5},
		{name: "lower bound: min by default", spec: PrometheusSpec{Expect: ">= 2"}, wantStatus: StatusFail,
			wantSummary: "= 1 (min over 1m0s)", wantValue: 1},
		{name: "last", spec: PrometheusSpec{Expect: "< 3", Reduce: "last"}, wantStatus: StatusPass, wantValue: 1},
		{name: "min", spec: PrometheusSpec{Expect: "< 3", Reduce: "min"}, wantStatus: StatusPass, wantValue: 1},
		{name: "avg lies between", spec: PrometheusSpec{Expect: "< 5", Reduce: "avg"}, wantStatus: StatusPass},
		{name: "outcomes with an explicit reduce", spec: PrometheusSpec{Reduce: "max", Outcomes: []OutcomeSpec{
			{Warn: &RuleSpec{When: "value > 4", Message: "peak {{value}}"}}, {Pass: &RuleSpec{}}}}, wantStatus: StatusWarn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.URL, tt.spec.Query, tt.spec.Over, tt.spec.Step = prom.URL, "gravl_queue_depth", window, step
			if err := tt.spec.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			p, rules, err := tt.spec.Build(Env{})
			if err != nil {
				t.Fatal(err)
			}
			res := Run(context.Background(), p, rules, time.Now)
			if res.Status != tt.wantStatus {
				t.Errorf("status = %s (%s), want %s; summary %q", res.Status, res.Message, tt.wantStatus, res.Summary)
			}
			if !strings.Contains(res.Summary, tt.wantSummary) {
				t.Errorf("summary = %q, want %q", res.Summary, tt.wantSummary)
			}
			if tt.wantItem != "" && !hasItemText(res.Items, tt.wantItem) {
				t.Errorf("no item with %q in %+v", tt.wantItem, res.Items)
			}
			if tt.wantValue != 0 && res.Values["value"] != tt.wantValue {
				t.Errorf("value = %v, want %v", res.Values["value"], tt.wantValue)
			}
			if tt.spec.Reduce == "avg" {
				if v := res.Values["value"]; v <= 1 || v >= 5 {
					t.Errorf("avg = %v, want strictly between 1 and 5", v)
				}
			}
		})
	}
}

func TestReducePoints(t *testing.T) {
	pts := []model.SamplePair{{Timestamp: 1, Value: 3}, {Timestamp: 2, Value: model.SampleValue(math.NaN())}, {Timestamp: 3, Value: 1}, {Timestamp: 4, Value: 2}}
	for reduce, want := range map[string]float64{"max": 3, "min": 1, "avg": 2, "last": 2} {
		if got := reducePoints(pts, reduce); got != want {
			t.Errorf("%s = %v, want %v", reduce, got, want)
		}
	}
	if got := reducePoints([]model.SamplePair{{Timestamp: 1, Value: model.SampleValue(math.NaN())}}, "max"); !math.IsNaN(got) {
		t.Errorf("max of NaN = %v, want NaN", got)
	}
}

func approx(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}

func hasItemText(items []Item, sub string) bool {
	for _, it := range items {
		if strings.Contains(it.Name, sub) || strings.Contains(it.Summary, sub) || strings.Contains(it.Message, sub) {
			return true
		}
	}
	return false
}

// authProxy fronts a real server and demands credentials, the way an
// oauth2-proxy or an ingress with basic auth would.
func authProxy(t *testing.T, backend string, tlsServer bool, allow func(*http.Request) bool) *httptest.Server {
	t.Helper()
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Authorization") == "":
			http.Error(w, "login required", http.StatusUnauthorized)
		case !allow(r):
			http.Error(w, "not allowed", http.StatusForbidden)
		default:
			r.Header.Del("Authorization")
			rp.ServeHTTP(w, r)
		}
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	if tlsServer {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// redirector answers every request with a redirect (code) to target, the
// path (less a /prefix) and query kept.
func redirector(t *testing.T, target string, code int) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+strings.TrimPrefix(r.URL.RequestURI(), "/prefix"), code)
	}))
	t.Cleanup(srv.Close)
	return srv
}

const (
	testToken    = "tok-9f8e7d6c5b4a" //nolint:gosec // a test credential
	testPassword = "pw-0a1b2c3d4e5f"  //nolint:gosec // a test credential
)

func allowTestCredentials(r *http.Request) bool {
	a := r.Header.Get("Authorization")
	return a == "Bearer "+testToken || a == "Basic "+base64.StdEncoding.EncodeToString([]byte("cockpit:"+testPassword))
}

// Credentials reach the server, never the result; 401 and 403 are
// forbidden; TLS is verified unless told otherwise.
func TestPrometheusProbeAccess(t *testing.T) {
	prom := promtest.StartPrometheus(t, promtest.PrometheusOptions{})
	plain := authProxy(t, prom.URL, false, allowTestCredentials)
	secure := authProxy(t, prom.URL, true, allowTestCredentials)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: secure.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/again"+r.URL.RequestURI(), http.StatusFound)
	}))
	t.Cleanup(loop.Close)
	tests := []struct {
		name       string
		spec       PrometheusSpec
		wantStatus Status
		wantMsg    string
	}{
		{name: "bearer token", spec: PrometheusSpec{URL: plain.URL, BearerToken: testToken}, wantStatus: StatusPass},
		{name: "basic auth", spec: PrometheusSpec{URL: plain.URL, BasicAuth: &BasicAuth{Username: "cockpit", Password: testPassword}}, wantStatus: StatusPass},
		{name: "no credentials: 401", spec: PrometheusSpec{URL: plain.URL}, wantStatus: StatusForbidden, wantMsg: "401 Unauthorized"},
		{name: "wrong token: 403", spec: PrometheusSpec{URL: plain.URL, BearerToken: testToken + "x"}, wantStatus: StatusForbidden, wantMsg: "403 Forbidden"},
		{name: "wrong password: 403", spec: PrometheusSpec{URL: plain.URL, BasicAuth: &BasicAuth{Username: "cockpit", Password: testPassword + "x"}}, wantStatus: StatusForbidden},
		{name: "TLS verified by default", spec: PrometheusSpec{URL: secure.URL, BearerToken: testToken}, wantStatus: StatusError, wantMsg: "certificate"},
		{name: "TLS with caCert", spec: PrometheusSpec{URL: secure.URL, BearerToken: testToken, CACert: caFile}, wantStatus: StatusPass},
		{name: "TLS insecure opt-in", spec: PrometheusSpec{URL: secure.URL, BearerToken: testToken, Insecure: true}, wantStatus: StatusPass},
		{name: "user info in the URL stays out of messages", spec: PrometheusSpec{URL: strings.Replace(plain.URL, "http://", "http://cockpit:"+testPassword+"@", 1)},
			wantStatus: StatusPass},
		{name: "301 keeps the query", spec: PrometheusSpec{URL: redirector(t, prom.URL, http.StatusMovedPermanently).URL}, wantStatus: StatusPass},
		{name: "303 to a path prefix keeps the query", spec: PrometheusSpec{URL: redirector(t, prom.URL, http.StatusSeeOther).URL + "/prefix"}, wantStatus: StatusPass},
		{name: "308 keeps the query", spec: PrometheusSpec{URL: redirector(t, prom.URL, http.StatusPermanentRedirect).URL}, wantStatus: StatusPass},
		{name: "credentials do not follow a redirect to another host", spec: PrometheusSpec{URL: redirector(t, plain.URL, http.StatusTemporaryRedirect).URL, BearerToken: testToken},
			wantStatus: StatusForbidden, wantMsg: "401 Unauthorized"},
		{name: "a redirect loop stops", spec: PrometheusSpec{URL: loop.URL, BearerToken: testToken}, wantStatus: StatusError, wantMsg: "stopped after 5 redirects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Query, tt.spec.Expect = "vector(1)", "== 1"
			if err := tt.spec.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			p, rules, err := tt.spec.Build(Env{})
			if err != nil {
				t.Fatal(err)
			}
			res := Run(context.Background(), p, rules, time.Now)
			if res.Status != tt.wantStatus || !strings.Contains(res.Message, tt.wantMsg) {
				t.Errorf("= %s %q, want %s %q", res.Status, res.Message, tt.wantStatus, tt.wantMsg)
			}
			out, _ := json.Marshal(res)
			for _, secret := range []string{testToken, testPassword, base64.StdEncoding.EncodeToString([]byte("cockpit:" + testPassword))} {
				if strings.Contains(string(out), secret) {
					t.Errorf("result leaks a credential: %s", out)
				}
			}
			if d := tt.spec.Describe(); strings.Contains(d, testPassword) || strings.Contains(d, testToken) {
				t.Errorf("Describe leaks a credential: %s", d)
			}
		})
	}
}

func TestPrometheusProbeUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	spec := PrometheusSpec{URL: "http://" + addr, Query: "up", Expect: "== 1"}
	p, rules, err := spec.Build(Env{})
	if err != nil {
		t.Fatal(err)
	}
	res := Run(context.Background(), p, rules, time.Now)
	if res.Status != StatusError || !strings.Contains(res.Message, "connection refused") {
		t.Errorf("= %s %q, want error: connection refused", res.Status, res.Message)
	}
}

// Answers a real server does not give easily: non-JSON errors, a broken
// envelope, a string result, native histograms, warnings and infos, an
// oversized body, no answer at all.
func TestPrometheusProbeResponses(t *testing.T) {
	const (
		vectorOfHistograms = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"latency"},"histogram":[1,{"count":"2","sum":"3","buckets":[]}]}]}}`
		matrixOfHistograms = `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"latency"},"histograms":[[1,{"count":"2","sum":"3","buckets":[]}]]}]}}`
		upVector           = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up"},"value":[1,"1"]}]}`
	)
	tests := []struct {
		name       string
		code       int
		body       string
		over       bool     // a range query (over: 1m, reduce: max)
		hang       bool     // no answer until the client gives up
		timeout    Duration // the spec's timeout; 0: the default
		wantStatus Status
		wantMsg    string
		wantItem   string
	}{
		{name: "proxy error page", code: http.StatusBadGateway, body: "<html>bad gateway</html>\nmore", wantStatus: StatusError, wantMsg: "502 Bad Gateway: <html>bad gateway</html>"},
		{name: "proxy page with 400", code: http.StatusBadRequest, body: "<html>bad request</html>", wantStatus: StatusError, wantMsg: "400 Bad Request: <html>bad request</html>"},
		{name: "execution error envelope", code: 422, body: `{"status":"error","errorType":"execution","error":"query processing would load too many samples"}`,
			wantStatus: StatusError, wantMsg: "execution: query processing would load too many samples"},
		{name: "timeout error envelope with 503", code: http.StatusServiceUnavailable, body: `{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}`,
			wantStatus: StatusError, wantMsg: "timeout: query timed out in expression evaluation"},
		{name: "error envelope with 200", code: 200, body: `{"status":"error","errorType":"execution","error":"boom"}`, wantStatus: StatusError, wantMsg: "query: execution: boom"},
		{name: "not JSON", code: 200, body: "hello", wantStatus: StatusError, wantMsg: "/prefix/api/v1/query: unexpected response: invalid character 'h'"},
		{name: "neither success nor error", code: 200, body: `{"status":"pending"}`, wantStatus: StatusError, wantMsg: `unexpected response: status "pending"`},
		{name: "string result", code: 200, body: `{"status":"success","data":{"resultType":"string","result":[1,"x"]}}`, wantStatus: StatusError, wantMsg: "returns a string"},
		{name: "bad sample", code: 200, body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}}`, wantStatus: StatusError, wantMsg: "sample value"},
		{name: "unquoted sample", code: 200, body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,1]}]}}`,
			wantStatus: StatusError, wantMsg: "unexpected response: sample value must be a quoted string"},
		{name: "native histogram", code: 200, body: vectorOfHistograms, wantStatus: StatusError, wantMsg: "series latency is a native histogram"},
		{name: "body over the bound", code: 200, body: `{"status":"success","warnings":["` + strings.Repeat("x", maxAPIBody) + `"]}`,
			wantStatus: StatusError, wantMsg: "unexpected response: body larger than 16 MiB"},
		{name: "warnings become items", code: 200, body: upVector + `,"warnings":["PromQL warning: quantile value should be between 0 and 1"]}`,
			wantStatus: StatusPass, wantItem: "quantile value should be between 0 and 1"},
		{name: "infos become items", code: 200, body: upVector + `,"infos":["PromQL info: metric might not be a counter"]}`,
			wantStatus: StatusPass, wantItem: "might not be a counter"},
		{name: "no answer within the timeout", hang: true, timeout: Duration(100 * time.Millisecond), wantStatus: StatusError,
			wantMsg: "/prefix/api/v1/query: timeout after 100ms"},
		{name: "range: a vector", over: true, code: 200, body: upVector + "}", wantStatus: StatusError, wantMsg: "a range query returned a vector"},
		{name: "range: native histograms", over: true, code: 200, body: matrixOfHistograms, wantStatus: StatusError, wantMsg: "series latency is a native histogram"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := PrometheusSpec{Query: "up", Expect: "== 1", Timeout: tt.timeout}
			path := "/prefix/api/v1/query"
			if tt.over {
				spec.Over, spec.Reduce = Duration(time.Minute), "max"
				path += "_range"
			}
			timeout := spec.Timeout.Or(10 * time.Second).String() // the server's evaluation timeout
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != path || r.FormValue("query") != "up" || r.FormValue("timeout") != timeout {
					http.Error(w, "wrong request "+r.URL.String(), http.StatusNotFound)
					return
				}
				if tt.hang {
					<-r.Context().Done()
					return
				}
				w.WriteHeader(tt.code)
				fmt.Fprint(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			spec.URL = srv.URL + "/prefix"
			if err := spec.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			p, rules, err := spec.Build(Env{})
			if err != nil {
				t.Fatal(err)
			}
			res := Run(context.Background(), p, rules, time.Now)
			if res.Status != tt.wantStatus || !strings.Contains(res.Message, tt.wantMsg) {
				t.Errorf("= %s %.300q, want %s %q", res.Status, res.Message, tt.wantStatus, tt.wantMsg)
			}
			if tt.wantItem != "" && !hasItemText(res.Items, tt.wantItem) {
				t.Errorf("no item with %q in %+v", tt.wantItem, res.Items)
			}
		})
	}
}

func TestPrometheusSpecValidate(t *testing.T) {
	ok := PrometheusSpec{URL: "http://127.0.0.1:9090", Query: "up", Expect: "== 1"}
	with := func(f func(*PrometheusSpec)) PrometheusSpec {
		s := ok
		f(&s)
		return s
	}
	tests := []struct {
		name    string
		spec    PrometheusSpec
		wantErr []string // empty: valid
	}{
		{name: "valid", spec: ok},
		{name: "valid with outcomes", spec: with(func(s *PrometheusSpec) {
			s.Expect, s.Outcomes = "", []OutcomeSpec{{Fail: &RuleSpec{When: "max > 1"}}, {Pass: &RuleSpec{}}}
		})},
		{name: "no url", spec: with(func(s *PrometheusSpec) { s.URL = "" }), wantErr: []string{"url: required"}},
		{name: "bad scheme", spec: with(func(s *PrometheusSpec) { s.URL = "tcp://x:9090" }), wantErr: []string{`url: scheme must be http or https`}},
		{name: "no query", spec: with(func(s *PrometheusSpec) { s.Query = "  " }), wantErr: []string{"query: required"}},
		{name: "no expect nor outcomes", spec: with(func(s *PrometheusSpec) { s.Expect = "" }), wantErr: []string{"expect: required (or outcomes)"}},
		{name: "expect and outcomes", spec: with(func(s *PrometheusSpec) { s.Outcomes = []OutcomeSpec{{Pass: &RuleSpec{}}} }), wantErr: []string{"expect and outcomes exclude each other"}},
		{name: "bad expect", spec: with(func(s *PrometheusSpec) { s.Expect = "<< 1" }), wantErr: []string{"expect: column"}},
		{name: "expect with two comparisons", spec: with(func(s *PrometheusSpec) { s.Expect = "< 1 && value > 0" }), wantErr: []string{"want one comparison"}},
		{name: "bad empty", spec: with(func(s *PrometheusSpec) { s.Empty = "ok" }), wantErr: []string{`empty: want pass, warn or fail, got "ok"`}},
		{name: "token and basic", spec: with(func(s *PrometheusSpec) { s.BearerToken, s.BasicAuth = "t", &BasicAuth{Username: "u"} }), wantErr: []string{"bearerToken and basicAuth exclude each other"}},
		{name: "basic without user", spec: with(func(s *PrometheusSpec) { s.BasicAuth = &BasicAuth{Password: "p"} }), wantErr: []string{"basicAuth.username: required"}},
		{name: "insecure and ca", spec: with(func(s *PrometheusSpec) { s.Insecure, s.CACert = true, "ca.pem" }), wantErr: []string{"insecure and caCert exclude each other"}},
		{name: "negative timeout", spec: with(func(s *PrometheusSpec) { s.Timeout = -1 }), wantErr: []string{"timeout: must not be negative"}},
		{name: "unknown value in outcome", spec: with(func(s *PrometheusSpec) {
			s.Expect, s.Outcomes = "", []OutcomeSpec{{Fail: &RuleSpec{When: "rate > 1"}}}
		}), wantErr: []string{`outcomes[0].fail.when: unknown value "rate"; this probe observes: series, failing, value, min, max, sum, avg, query_ms`}},
		{name: "window", spec: with(func(s *PrometheusSpec) { s.Over, s.Step, s.Reduce = Duration(time.Hour), Duration(time.Minute), "avg" })},
		{name: "window, reduce from expect", spec: with(func(s *PrometheusSpec) { s.Over, s.Expect = Duration(time.Hour), "> 100" })},
		{name: "negative over", spec: with(func(s *PrometheusSpec) { s.Over = -1 }), wantErr: []string{"over: must not be negative"}},
		{name: "step without over", spec: with(func(s *PrometheusSpec) { s.Step = Duration(time.Second) }), wantErr: []string{"over: step and reduce need a window"}},
		{name: "reduce without over", spec: with(func(s *PrometheusSpec) { s.Reduce = "max" }), wantErr: []string{"over: step and reduce need a window"}},
		{name: "step beyond over", spec: with(func(s *PrometheusSpec) { s.Over, s.Step = Duration(time.Minute), Duration(time.Hour) }), wantErr: []string{"step: want a positive duration up to over (1m0s)"}},
		{name: "too many points", spec: with(func(s *PrometheusSpec) { s.Over, s.Step = Duration(24*time.Hour), Duration(time.Second) }), wantErr: []string{"step: 86400 points per series over 24h0m0s; at most 10000"}},
		{name: "bad reduce", spec: with(func(s *PrometheusSpec) { s.Over, s.Reduce = Duration(time.Hour), "median" }), wantErr: []string{`reduce: want max, min, avg or last, got "median"`}},
		{name: "equality needs an explicit reduce", spec: with(func(s *PrometheusSpec) { s.Over = Duration(time.Hour) }), wantErr: []string{"reduce: required with over here"}},
		{name: "several at once", spec: PrometheusSpec{Empty: "x"}, wantErr: []string{"url: required", "query: required", "expect: required", "empty:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErrors(t, tt.spec.Validate(), tt.wantErr)
		})
	}
}

func TestPrometheusDescribe(t *testing.T) {
	s := PrometheusSpec{URL: "https://u:p@prom.gravl.app/prometheus?tenant=x", Query: "up == 0", BearerToken: "t0k"}
	if got := s.Describe(); got != "PromQL up == 0 at https://prom.gravl.app/prometheus?…" {
		t.Errorf("Describe = %q", got)
	}
	s.Over, s.Expect = Duration(10*time.Minute), "< 0.01"
	if got := s.Describe(); got != "PromQL up == 0 (max over 10m0s) at https://prom.gravl.app/prometheus?…" {
		t.Errorf("Describe = %q", got)
	}
}
