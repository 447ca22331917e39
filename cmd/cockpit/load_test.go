package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	tea "charm.land/bubbletea/v2"
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
		{"no URL", []string{}, "at least one URL is required (or --config FILE)"},
		{"var without config", []string{"--var", "a=b", "http://127.0.0.1:1/"}, "--var applies to a --config load file only"},
		{"zero VUs", []string{"--vus", "0", "http://127.0.0.1:1/"}, "--vus: must be > 0"},
		{"zero VUs with a rate", []string{"--rate", "10", "--vus", "0", "http://127.0.0.1:1/"}, "--vus: must be > 0"},
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

// writeLoadFile writes a load file into a temporary directory.
func writeLoadFile(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "load.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// --config runs the test a load file describes, with ${var} from --var and
// ${env:…} from the environment; flags given override the file's values
// and --threshold adds to its thresholds.
func TestLoadConfigFile(t *testing.T) {
	var served, authorized atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.Header.Get("Authorization") == "Bearer t0ken-from-env" {
			authorized.Add(1)
		}
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	defer srv.Close()
	t.Setenv("COCKPIT_LOAD_TEST_TOKEN", "t0ken-from-env")
	path := writeLoadFile(t, `vars: {api: "http://127.0.0.1:1"}
executor: constant-vus
vus: 2
duration: 1m
iterations: 10
baseURL: ${api}
requests:
- url: /health
  headers: {Authorization: "Bearer ${env:COCKPIT_LOAD_TEST_TOKEN}"}
  checks: {status: [200], json: {status: ok}}
thresholds:
  http_req_failed: ["rate<0.01"]
  checks: ["rate==1"]
`)
	code, stdout, stderr := cockpit(t, "load", "--config", path, "--var", "api="+srv.URL, "--output", "json")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	var doc report.Document
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("stdout is not the JSON document: %v\n%s", err, stdout)
	}
	if doc.Requests != 10 || served.Load() != 10 || authorized.Load() != 10 || len(doc.Thresholds) != 2 || !doc.Passed {
		t.Errorf("requests %d, served %d (%d authorized), thresholds %d, passed %v", doc.Requests, served.Load(),
			authorized.Load(), len(doc.Thresholds), doc.Passed)
	}
	if strings.Contains(stdout+stderr, "t0ken") {
		t.Error("the Authorization value leaked into the output")
	}

	// Flags override: 25 iterations instead of 10, and a threshold that
	// fails is added (exit 3).
	served.Store(0)
	code, stdout, stderr = cockpit(t, "load", "-c", path, "--var", "api="+srv.URL, "--iterations", "25", "--vus", "5",
		"--threshold", "http_reqs: count>1000")
	if code != exitFailed {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitFailed, stdout, stderr)
	}
	if served.Load() != 25 || !strings.Contains(stdout, "✗ 'count>1000'") || !strings.Contains(stdout, "✓ 'rate<0.01'") {
		t.Errorf("served %d\n%s", served.Load(), stdout)
	}
}

// A bad load file, or flags that cannot go with one, are invalid input
// (exit 2) with every problem at its file:line:col, or the flag named.
func TestLoadConfigFileRejectsBadInput(t *testing.T) {
	good := writeLoadFile(t, "vus: 1\nduration: 5s\nrequests: [{url: \"http://127.0.0.1:1/\"}]\n")
	bad := writeLoadFile(t, `vus: ten
duration: 5s
requets: [{url: "http://127.0.0.1:1/"}]
`)
	invalid := writeLoadFile(t, "vus: 0\nexecutor: constant-vus\nduration: 5s\nrequests: [{url: \"ftp://127.0.0.1/\"}]\n")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"every problem at its place", []string{"--config", bad},
			[]string{"2 problem(s) in " + bad, bad + `:1:6: vus: want an integer, got "ten"`, bad + `:3:1: requets: unknown field "requets" (hint: did you mean "requests"?)`}},
		{"semantic problem at its field", []string{"--config", invalid}, []string{invalid + `:4:13: requests[0].url: scheme "ftp" is not http or https`}},
		{"missing file", []string{"--config", "/nonexistent/load.yaml"}, []string{"--config: read load file:"}},
		{"URL with config", []string{"--config", good, "http://127.0.0.1:1/"}, []string{"URL arguments cannot be used with --config"}},
		{"header with config", []string{"--config", good, "-H", "X-A: b"}, []string{"--header cannot be used with --config"}},
		{"override names the flag", []string{"--config", good, "--rate", "100"}, []string{"--rate: rate, preAllocatedVUs and maxVUs apply to the arrival-rate executors only"}},
		{"max-vus on a closed model", []string{"--config", good, "--max-vus", "5"}, []string{"--max-vus: rate, preAllocatedVUs and maxVUs apply to the arrival-rate executors only, not constant-vus"}},
		{"bad override value", []string{"--config", good, "--vus", "-2"}, []string{"--vus: must be > 0"}},
		{"bad stages override", []string{"--config", good, "--stages", "30s"}, []string{"--stages: stage 1"}},
		{"undefined variable", []string{"--config", writeLoadFile(t, "duration: 1s\nrequests: [{url: \"${target}\"}]\n")},
			[]string{`:2:18: requests[0].url: undefined variable ${target} (hint: define it under vars: or pass --var target=…)`}},
		{"bad threshold flag", []string{"--config", good, "--threshold", "http_req_duration: p(95)<<200"}, []string{"^"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := cockpit(t, append([]string{"load"}, tt.args...)...)
			if code != exitInvalid {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitInvalid, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// --http2 speaks h2 over TLS; the server's certificate is verified unless
// --insecure: without its CA every request fails with the tls class, with
// --cacert or -k they pass.
func TestLoadHTTP2AndTLSVerification(t *testing.T) {
	var h2, h1 atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			h2.Add(1)
		} else {
			h1.Add(1)
		}
		fmt.Fprint(w, "ok")
	}))
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (report.Document, string) {
		t.Helper()
		code, stdout, stderr := cockpit(t, append([]string{"load", "--vus", "2", "--iterations", "10", "--duration", "1m",
			"--output", "json", "--threshold", "http_req_failed: rate==0"}, append(args, srv.URL)...)...)
		var doc report.Document
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatalf("exit %d, stdout is not the JSON document: %v\n%s\n%s", code, err, stdout, stderr)
		}
		if (code == exitOK) != doc.Passed {
			t.Errorf("exit %d with passed=%v", code, doc.Passed)
		}
		return doc, stderr
	}
	doc, _ := run("--http2", "--cacert", ca)
	if !doc.Passed || h2.Load() != 10 || h1.Load() != 0 {
		t.Errorf("--http2 --cacert: passed %v, server saw %d h2 and %d HTTP/1", doc.Passed, h2.Load(), h1.Load())
	}
	doc, _ = run()
	if doc.Passed || doc.Errors["tls"] != 10 {
		t.Errorf("default: passed %v, error classes %v; want 10 tls", doc.Passed, doc.Errors)
	}
	doc, _ = run("-k")
	if !doc.Passed || h1.Load() != 10 {
		t.Errorf("-k: passed %v, server saw %d HTTP/1 (want 10)", doc.Passed, h1.Load())
	}
}

// keysAfter is a terminal's input that types keys once gate is closed,
// then blocks until the test ends (an EOF would end the view early).
type keysAfter struct {
	gate, end <-chan struct{}
	keys      string
	sent      atomic.Bool
}

func (k *keysAfter) Read(p []byte) (int, error) {
	if k.sent.CompareAndSwap(false, true) {
		<-k.gate
		return copy(p, k.keys), nil
	}
	<-k.end
	return 0, io.EOF
}

// screenWatch is a terminal's output that closes seen once what has been
// written holds want.
type screenWatch struct {
	want string
	seen chan struct{}
	mu   sync.Mutex
	buf  bytes.Buffer
	once sync.Once
}

func (w *screenWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if bytes.Contains(w.buf.Bytes(), []byte(w.want)) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

func (w *screenWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// onTerminal makes `cockpit load` take its stdout for a terminal of w×h.
func onTerminal(t *testing.T, w, h int) {
	t.Helper()
	prevTerm, prevOpts := loadTerminal, loadProgramOptions
	loadTerminal = func(io.Writer) bool { return true }
	loadProgramOptions = []tea.ProgramOption{tea.WithWindowSize(w, h)}
	t.Cleanup(func() { loadTerminal, loadProgramOptions = prevTerm, prevOpts })
}

// On a terminal the load view shows the run, keeps the final state until
// a key is pressed, and the summary follows with the usual exit code.
func TestLoadViewOnTerminal(t *testing.T) {
	onTerminal(t, 100, 30)
	const iterations = 20
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	out := &screenWatch{want: "press any key", seen: make(chan struct{})}
	end := make(chan struct{})
	t.Cleanup(func() { close(end) })
	in := &keysAfter{gate: out.seen, end: end, keys: " "}
	var errb bytes.Buffer
	code := runContext(context.Background(), []string{"load", "--vus", "2", "--iterations", strconv.Itoa(iterations), "--duration", "1m",
		"--threshold", "http_req_failed: rate<0.01", srv.URL + "/fail"}, in, out, &errb)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d (a threshold failed)\nstdout: %s\nstderr: %s", code, exitFailed, out.String(), errb.String())
	}
	stdout := out.String()
	for _, want := range []string{"done (iterations)", "✗ thresholds failed", "500×20", "[✗ http_req_failed: rate<0.01 1]"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the load view lacks %q:\n%s", want, stdout)
		}
	}
	view := strings.Index(stdout, "press any key")
	summary := strings.Index(stdout, "✗ 'rate<0.01' rate=100.00%")
	if summary < view {
		t.Errorf("the summary does not follow the view (view at %d, summary at %d):\n%s", view, summary, stdout)
	}
	if strings.Contains(errb.String(), "running ") {
		t.Errorf("progress lines on stderr with the view open:\n%s", errb.String())
	}
}

// --no-tui and --output json keep the headless behaviour on a terminal.
func TestLoadNoTUIOnTerminal(t *testing.T) {
	onTerminal(t, 80, 24)
	srv, _ := loadServer(t)
	for _, flag := range []string{"--no-tui", "--output=json"} {
		t.Run(flag, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runContext(context.Background(), []string{"load", flag, "--vus", "2", "--iterations", "10", "--duration", "1m", srv.URL + "/ok"},
				strings.NewReader(""), &out, &errb)
			if code != exitOK {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
			}
			if strings.Contains(out.String(), "cockpit load") || strings.Contains(out.String(), "\x1b[?1049h") {
				t.Errorf("the load view opened:\n%q", out.String())
			}
			if flag == "--output=json" && !json.Valid(out.Bytes()) {
				t.Errorf("stdout is not the JSON document:\n%s", out.String())
			}
			if flag == "--no-tui" && !strings.Contains(out.String(), "http_reqs") {
				t.Errorf("no summary:\n%s", out.String())
			}
		})
	}
}

// Without --vus and --max-vus an open model sizes its VUs from the rate;
// with --vus alone it has exactly that many (k6's meaning).
func TestLoadRateSizesVUs(t *testing.T) {
	srv, _ := loadServer(t)
	for _, c := range []struct {
		args        []string
		maxVUs      int
		wantAutoVUs bool
	}{
		{[]string{"--rate", "200"}, 2000, true}, // 200/s × the 10s default timeout
		{[]string{"--rate", "200", "--timeout", "2s"}, 400, true},
		{[]string{"--rate", "200", "--vus", "3"}, 3, false},
		{[]string{"--rate", "200", "--max-vus", "7"}, 7, false},
	} {
		args := append([]string{"load", "--iterations", "20", "--duration", "1m", "--output", "json"}, c.args...)
		code, stdout, stderr := cockpit(t, append(args, srv.URL+"/ok")...)
		if code != exitOK {
			t.Fatalf("%v: exit %d\n%s\n%s", c.args, code, stdout, stderr)
		}
		var doc report.Document
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatalf("%v: %v\n%s", c.args, err, stdout)
		}
		auto := false
		for _, e := range doc.Events {
			auto = auto || e.Kind == "auto-vus"
		}
		if doc.VUsMax != c.maxVUs || auto != c.wantAutoVUs || doc.Delivery == nil || doc.Delivery.Sent != 20 ||
			doc.Lag == nil || doc.Lag.Count != 20 {
			t.Errorf("%v: vus_max %d, auto-vus event %v, delivery %+v, generator lag %+v; want %d, %v, 20 sent and 20 lags",
				c.args, doc.VUsMax, auto, doc.Delivery, doc.Lag, c.maxVUs, c.wantAutoVUs)
		}
	}
}

// A forced shortfall — one VU held by a server that never answers, at
// 100/s — exits 4 with the measured cause under TOTAL RESULTS; a threshold
// on dropped_iterations turns it into a failure (3).
func TestLoadShortfallIsLoud(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // until the client's timeout gives up
	}))
	t.Cleanup(srv.Close)
	base := []string{"load", "--rate", "100", "--vus", "1", "--duration", "1s", "--timeout", "1500ms", "--max-lag", "10s"}
	code, stdout, stderr := cockpit(t, append(base, srv.URL)...)
	if code != exitWarned {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitWarned, stdout, stderr)
	}
	_, total, _ := strings.Cut(stdout, "TOTAL RESULTS\n\n")
	first := strings.SplitN(total, "\n", 3)
	if len(first) < 3 || !strings.Contains(first[0], "delivered_rate") || !strings.Contains(first[0], "of 100 req/s") ||
		!strings.Contains(first[1], "SHORTFALL: the generator, not the service, was the limit: VU cap reached (all 1 VUs busy with iterations due)") ||
		!strings.Contains(first[1], "connection errors (1 timeout)") {
		t.Errorf("the first lines after TOTAL RESULTS do not state the shortfall:\n%s", stdout)
	}
	if !strings.Contains(stderr, "warning: delivered") {
		t.Errorf("stderr lacks the warning:\n%s", stderr)
	}
	code, stdout, stderr = cockpit(t, append(base, "--threshold", "dropped_iterations: count==0", srv.URL)...)
	if code != exitFailed {
		t.Fatalf("with a dropped_iterations threshold: exit %d, want %d\nstdout: %s\nstderr: %s", code, exitFailed, stdout, stderr)
	}
}
