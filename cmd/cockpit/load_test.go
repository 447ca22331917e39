package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cockpit-dev/cockpit/loader/report"
)

// loadServer is a loopback target: /ok answers 200, /fail 500. It counts
// what it served and the Authorization headers it saw.
func loadServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.URL.Path == "/fail" {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, &served
}

func TestLoadSummaryAndThresholds(t *testing.T) {
	srv, served := loadServer(t)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
	}{
		{name: "passing thresholds", args: []string{"--vus", "2", "--iterations", "40", "--duration", "1m",
			"--threshold", "http_req_duration: p(95)<60000", "--threshold", "http_req_failed: rate<0.01", srv.URL + "/ok"},
			wantCode: exitOK, wantStdout: []string{"✓ 'p(95)<60000'", "✓ 'rate<0.01' rate=0.00%", "http_reqs", " 40 ", "stopped: iterations"}},
		{name: "failing threshold exits 3", args: []string{"--vus", "2", "--iterations", "20", "--duration", "1m",
			"--threshold", "http_req_failed: rate<0.01", srv.URL + "/fail"},
			wantCode: exitFailed, wantStdout: []string{"✗ 'rate<0.01' rate=100.00%", "http_5xx", "20"}},
		{name: "a threshold without samples fails", args: []string{"--vus", "1", "--iterations", "5", "--duration", "1m",
			"--threshold", "checks: rate>0.9", srv.URL + "/ok"},
			wantCode: exitFailed, wantStdout: []string{"✗ 'rate>0.9' no samples"}},
		{name: "open model shows raw and corrected", args: []string{"--rate", "50", "--vus", "2", "--iterations", "25", "--duration", "1m", srv.URL + "/ok"},
			wantCode: exitOK, wantStdout: []string{"http_req_duration (corrected)", "raw (from the actual send)", "dropped_iterations", "constant-arrival-rate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := served.Load()
			code, stdout, stderr := cockpit(t, append([]string{"load"}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("summary lacks %q:\n%s", w, stdout)
				}
			}
			if served.Load() == before {
				t.Error("the server saw no request")
			}
		})
	}
}

func TestLoadJSONAndHDRLog(t *testing.T) {
	srv, served := loadServer(t)
	logPath := filepath.Join(t.TempDir(), "run.hlog")
	code, stdout, stderr := cockpit(t, "load", "--vus", "3", "--iterations", "90", "--duration", "1m",
		"-H", "Authorization: Bearer s3cr3t-token", "--output", "json", "--hdr-log", logPath, srv.URL+"/ok")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var doc report.Document
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("stdout is not the JSON document: %v\n%s", err, stdout)
	}
	if doc.Schema != report.SchemaVersion || doc.Requests != 90 || served.Load() != 90 || doc.Status["200"] != 90 ||
		doc.Latency.Count != 90 || doc.Reason != "iterations" || !doc.Passed {
		t.Errorf("document %+v (server saw %d)", doc, served.Load())
	}
	if strings.Contains(stdout+stderr, "s3cr3t") {
		t.Error("the Authorization value leaked into the output")
	}
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := hdr.NewHistogramLogReader(f)
	var total int64
	for {
		h, err := r.NextIntervalHistogram()
		if err != nil {
			t.Fatalf("HdrHistogram's reader: %v", err)
		}
		if h == nil {
			break
		}
		total += h.TotalCount()
	}
	if total != 90 {
		t.Errorf("the HDR log holds %d samples, want 90", total)
	}
}

func TestLoadRejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no URL", []string{}, "at least one URL is required"},
		{"zero VUs", []string{"--vus", "0", "http://127.0.0.1:1/"}, "--vus: must be > 0"},
		{"negative rate", []string{"--rate", "-5", "http://127.0.0.1:1/"}, "--rate: must be > 0"},
		{"zero duration", []string{"--duration", "0s", "http://127.0.0.1:1/"}, "--duration: must be > 0"},
		{"bad scheme", []string{"ftp://127.0.0.1/x"}, "URL argument 1"},
		{"second URL bad", []string{"http://127.0.0.1:1/", "::nope"}, "URL argument 2"},
		{"unknown metric", []string{"--threshold", "http_req_durations: p(95)<200", "http://127.0.0.1:1/"}, "unknown metric"},
		{"bad threshold points at the character", []string{"--threshold", "http_req_duration: p(95)<<200", "http://127.0.0.1:1/"}, "^"},
		{"bad stages", []string{"--stages", "30s", "http://127.0.0.1:1/"}, "--stages: stage 1"},
		{"bad header", []string{"-H", "Bearer-token-without-colon", "http://127.0.0.1:1/"}, "want 'Name: value'"},
		{"bad output", []string{"--output", "xml", "http://127.0.0.1:1/"}, "--output: want text or json"},
		{"bad flag", []string{"--vuz", "3", "http://127.0.0.1:1/"}, "unknown flag: --vuz"},
		{"missing body file", []string{"--body", "@/nonexistent/body.json", "http://127.0.0.1:1/"}, "--body:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := cockpit(t, append([]string{"load"}, tt.args...)...)
			if code != exitInvalid {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitInvalid, stdout, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, stderr)
			}
			if strings.Contains(stderr, "Bearer-token") {
				t.Error("a malformed header's content was echoed")
			}
		})
	}
}
