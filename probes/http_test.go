package probes

import (
	"context"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// steppingClock advances by step on every call, so latencies are exact.
func steppingClock(step time.Duration) func() time.Time {
	t := time.Date(2026, 3, 8, 5, 59, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(step)
		return t
	}
}

func gravlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"status":"ok","checks":{"db":"up"},"replicas":[{"name":"a"}]}`)
	})
	mux.HandleFunc("GET /broken", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("GET /text", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "plain text") })
	mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/health", http.StatusFound)
	})
	mux.HandleFunc("POST /echo-auth", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cr3t" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	})
	return mux
}

func TestHTTPProbe(t *testing.T) {
	srv := httptest.NewServer(gravlHandler())
	t.Cleanup(srv.Close)

	tests := []struct {
		name        string
		spec        HTTPSpec
		wantStatus  Status
		wantSummary string
		wantItem    string // an item summary substring
		wantValues  map[string]float64
	}{
		{name: "health ok", spec: HTTPSpec{URL: srv.URL + "/health"}, wantStatus: StatusPass, wantSummary: "200 OK in 5ms",
			wantValues: map[string]float64{"status_code": 200, "latency_ms": 5, "checks_failed": 0}},
		{name: "json path", spec: HTTPSpec{URL: srv.URL + "/health", JSON: map[string]string{"status": "ok", "checks.db": "up", "replicas.0.name": "a"}}, wantStatus: StatusPass},
		{name: "json path mismatch", spec: HTTPSpec{URL: srv.URL + "/health", JSON: map[string]string{"checks.db": "down"}}, wantStatus: StatusFail, wantItem: `checks.db = "up" (want down)`},
		{name: "json path missing", spec: HTTPSpec{URL: srv.URL + "/health", JSON: map[string]string{"replicas.3.name": "a"}}, wantStatus: StatusFail, wantItem: "(missing)"},
		{name: "json on non-JSON", spec: HTTPSpec{URL: srv.URL + "/text", JSON: map[string]string{"a": "b"}}, wantStatus: StatusFail, wantItem: "not JSON"},
		{name: "5xx fails by default", spec: HTTPSpec{URL: srv.URL + "/broken"}, wantStatus: StatusFail, wantSummary: "503 Service Unavailable", wantItem: "503 (want 2xx)",
			wantValues: map[string]float64{"status_code": 503, "checks_failed": 1}},
		{name: "expected status set", spec: HTTPSpec{URL: srv.URL + "/broken", Status: []int{200, 503}}, wantStatus: StatusPass},
		{name: "redirect not followed", spec: HTTPSpec{URL: srv.URL + "/redirect", Status: []int{302}}, wantStatus: StatusPass},
		{name: "body contains", spec: HTTPSpec{URL: srv.URL + "/text", BodyContains: "plain"}, wantStatus: StatusPass},
		{name: "body missing text", spec: HTTPSpec{URL: srv.URL + "/text", BodyContains: "json"}, wantStatus: StatusFail, wantItem: `contains "json": false`},
		{name: "latency bound", spec: HTTPSpec{URL: srv.URL + "/health", MaxLatency: Duration(4 * time.Millisecond)}, wantStatus: StatusFail, wantItem: "5ms (bound 4ms)"},
		{name: "method headers body", spec: HTTPSpec{Method: "POST", URL: srv.URL + "/echo-auth", Headers: map[string]string{"Authorization": "Bearer s3cr3t"}, Body: "{}"}, wantStatus: StatusPass},
		{name: "custom outcomes warn", spec: HTTPSpec{URL: srv.URL + "/health", Outcomes: []OutcomeSpec{
			{Fail: &RuleSpec{When: "status_code >= 500"}}, {Warn: &RuleSpec{When: "latency_ms > 1", Message: "slow: {{latency_ms}}ms"}}, {Pass: &RuleSpec{}}}},
			wantStatus: StatusWarn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.spec.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			p, rules, err := tt.spec.Build(Env{})
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			// The probe's own clock gives a 5 ms latency exactly.
			p.(*httpProbe).env.Now = steppingClock(5 * time.Millisecond)
			res := Run(context.Background(), p, rules, time.Now)
			if res.Status != tt.wantStatus {
				t.Errorf("status = %s (%s), want %s; items %+v", res.Status, res.Message, tt.wantStatus, res.Items)
			}
			if !strings.Contains(res.Summary, tt.wantSummary) {
				t.Errorf("summary = %q, want %q", res.Summary, tt.wantSummary)
			}
			if tt.wantItem != "" && !hasItem(res.Items, tt.wantItem) {
				t.Errorf("no item with %q in %+v", tt.wantItem, res.Items)
			}
			for k, v := range tt.wantValues {
				if res.Values[k] != v {
					t.Errorf("value %s = %v, want %v", k, res.Values[k], v)
				}
			}
		})
	}
}

func hasItem(items []Item, sub string) bool {
	for _, it := range items {
		if strings.Contains(it.Summary, sub) {
			return true
		}
	}
	return false
}

func TestHTTPProbeErrors(t *testing.T) {
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://user:pw@" + l.Addr().String() + "/health?token=abc"
	l.Close()

	// A server that never answers within the timeout: the handler waits for
	// the client to go away.
	hang := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hang.Close)

	tests := []struct {
		name    string
		spec    HTTPSpec
		wantMsg string
	}{
		{name: "refused", spec: HTTPSpec{URL: closed}, wantMsg: "connection refused"},
		{name: "timeout", spec: HTTPSpec{URL: hang.URL, Timeout: Duration(50 * time.Millisecond)}, wantMsg: "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rules, err := tt.spec.Build(Env{})
			if err != nil {
				t.Fatal(err)
			}
			res := Run(context.Background(), p, rules, time.Now)
			if res.Status != StatusError || !strings.Contains(res.Message, tt.wantMsg) {
				t.Errorf("= %s %q, want error containing %q", res.Status, res.Message, tt.wantMsg)
			}
			for _, secret := range []string{"pw", "token=abc"} {
				if strings.Contains(res.Message, secret) || strings.Contains(res.Summary, secret) {
					t.Errorf("result leaks %q: %q", secret, res.Message)
				}
			}
		})
	}
}

func TestHTTPProbeTLS(t *testing.T) {
	srv := httptest.NewTLSServer(gravlHandler())
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		spec       HTTPSpec
		wantStatus Status
		wantMsg    string
	}{
		{name: "verification on by default", spec: HTTPSpec{URL: srv.URL + "/health"}, wantStatus: StatusError, wantMsg: "certificate"},
		{name: "caCert", spec: HTTPSpec{URL: srv.URL + "/health", CACert: caFile}, wantStatus: StatusPass},
		{name: "insecure opt-in", spec: HTTPSpec{URL: srv.URL + "/health", Insecure: true}, wantStatus: StatusPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rules, err := tt.spec.Build(Env{})
			if err != nil {
				t.Fatal(err)
			}
			res := Run(context.Background(), p, rules, time.Now)
			if res.Status != tt.wantStatus || !strings.Contains(res.Message, tt.wantMsg) {
				t.Errorf("= %s %q, want %s %q", res.Status, res.Message, tt.wantStatus, tt.wantMsg)
			}
		})
	}
}

func TestHTTPSpecValidate(t *testing.T) {
	tests := []struct {
		name    string
		spec    HTTPSpec
		wantErr []string
	}{
		{name: "no url", spec: HTTPSpec{}, wantErr: []string{"url: required"}},
		{name: "bad scheme", spec: HTTPSpec{URL: "ftp://gravl.app"}, wantErr: []string{`url: scheme must be http or https, got "ftp"`}},
		{name: "no host", spec: HTTPSpec{URL: "http:///health"}, wantErr: []string{"url: no host"}},
		{name: "bad status", spec: HTTPSpec{URL: "http://x", Status: []int{200, 42}}, wantErr: []string{"status[1]: 42 is not an HTTP status code"}},
		{name: "lower method", spec: HTTPSpec{URL: "http://x", Method: "get"}, wantErr: []string{`method: write methods in upper case ("GET")`}},
		{name: "insecure and ca", spec: HTTPSpec{URL: "https://x", Insecure: true, CACert: "ca.pem"}, wantErr: []string{"insecure and caCert exclude each other"}},
		{name: "bad outcome", spec: HTTPSpec{URL: "http://x", Outcomes: []OutcomeSpec{{Fail: &RuleSpec{When: "rps > 1"}}}}, wantErr: []string{`unknown value "rps"`}},
		{name: "several at once", spec: HTTPSpec{URL: "ftp://x", Status: []int{1}}, wantErr: []string{"url:", "status[0]:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			if err == nil {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
