package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockpit-dev/cockpit/runbook/signoff"
)

// goLiveRunbook is a small go-live against a loopback server: a health
// probe, a failing "issuer" endpoint, a manual step and a load test.
func goLiveRunbook(t *testing.T, url string) string {
	t.Helper()
	src := fmt.Sprintf(`apiVersion: cockpit/v1
kind: Runbook
metadata: {name: mini-go-live, description: a go-live on loopback}
vars: {api: %q}
phases:
- id: preflight
  steps:
  - id: health
    title: API health
    probe: {kind: http, url: "${api}/health", json: {status: ok}, headers: {Authorization: "Bearer ${env:MINI_TOKEN}"}}
  - id: issuer
    title: internal CA issuer ready
    probe: {kind: http, url: "${api}/issuer"}
  - id: notify
    manual: {prompt: "Stakeholders notified?"}
- id: validate
  steps:
  - id: baseline
    load:
      vus: 2
      iterations: 40
      duration: 30s
      baseURL: ${api}
      requests: [{url: /health, checks: {status: [200]}}]
      thresholds:
        http_req_duration: ["p(95)<5000"]
        http_req_failed: ["rate<0.01"]
`, url)
	path := filepath.Join(t.TempDir(), "golive.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func goLiveServer(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"status":"ok"}`) })
	mux.HandleFunc("/issuer", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "issuer internal-ca-issuer not ready", http.StatusServiceUnavailable)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestRunHeadless(t *testing.T) {
	noKubeconfig(t)
	t.Setenv("MINI_TOKEN", "tok-3f9a8b7c6d5e")
	srv := goLiveServer(t)
	tests := []struct {
		name        string
		args        []string
		wantCode    int
		wantVerdict string
		wantStdout  []string
		wantStderr  []string
	}{
		{name: "red gate is NO-GO", args: []string{"--confirm", "notify=mail sent"}, wantCode: exitFailed,
			wantVerdict: signoff.VerdictNoGo,
			wantStdout:  []string{"verdict: NO-GO", `gate of phase "preflight" is fail`, "issuer"},
			wantStderr:  []string{"issuer", "failed", "503"}},
		{name: "override with a reason", args: []string{"--auto-confirm-manual", "--override", "issuer=not used by gravl; OPS-112"},
			wantCode: exitWarned, wantVerdict: signoff.VerdictGoOverrides,
			wantStdout: []string{"verdict: GO WITH OVERRIDES", "overridden by ci: not used by gravl; OPS-112", "baseline", "40 reqs"},
			wantStderr: []string{"OVERRIDDEN by ci", "validate   phase entered"}},
		{name: "unconfirmed manual step stops", args: []string{"--override", "issuer=accepted"}, wantCode: exitFailed,
			wantVerdict: signoff.VerdictNoGo, wantStdout: []string{"manual step(s) notify need a confirmation"}},
		{name: "several confirmations at once", args: []string{"--confirm", "notify", "--override", "issuer=accepted", "--phase", "preflight"},
			wantCode: exitWarned, wantVerdict: signoff.VerdictIncompleteNo, wantStdout: []string{"confirmed by ci: confirmed with --confirm"}},
		{name: "stop after a phase", args: []string{"--auto-confirm-manual", "--override", "issuer=accepted", "--phase", "preflight"},
			wantCode: exitWarned, wantVerdict: signoff.VerdictIncompleteNo, wantStdout: []string{"phase preflight: gate warn — 0 warned, 1 overridden", "stopped after it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb := goLiveRunbook(t, srv.URL)
			journal := filepath.Join(filepath.Dir(rb), "golive.journal.jsonl")
			code, stdout, stderr := cockpit(t, append([]string{"run", rb, "--operator", "ci"}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			data, err := os.ReadFile(journal)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(data)+stdout+stderr, "tok-3f9a8b7c6d5e") {
				t.Error("the token leaked into the journal or the output")
			}
			// The report is built from the journal alone and agrees.
			r, err := signoff.FromJournal(journal)
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict != tt.wantVerdict {
				t.Errorf("report verdict %q, want %q (%s)", r.Verdict, tt.wantVerdict, r.Reason)
			}
		})
	}
}

// Running the same command again resumes from the journal: a finished run
// is reported, not re-run; --fresh starts over and keeps the old journal.
func TestRunResumeAndFresh(t *testing.T) {
	noKubeconfig(t)
	t.Setenv("MINI_TOKEN", "tok")
	srv := goLiveServer(t)
	rb := goLiveRunbook(t, srv.URL)
	args := []string{"run", rb, "--operator", "ci", "--auto-confirm-manual", "--override", "issuer=accepted", "--phase", "preflight"}
	if code, stdout, stderr := cockpit(t, args...); code != exitWarned {
		t.Fatalf("first run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// Continue past preflight: resumed, not started again.
	code, stdout, stderr := cockpit(t, args[:len(args)-2]...)
	if code != exitWarned || !strings.Contains(stderr, "resumed after") || !strings.Contains(stdout, "verdict: GO WITH OVERRIDES") {
		t.Fatalf("resume: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if strings.Count(stderr, "run started") != 0 {
		t.Errorf("the resumed run started again:\n%s", stderr)
	}
	code, _, stderr = cockpit(t, args[:len(args)-2]...)
	if code != exitWarned || !strings.Contains(stderr, "the run finished already") {
		t.Fatalf("finished run: exit %d\n%s", code, stderr)
	}
	code, _, stderr = cockpit(t, append(args[:len(args)-2], "--fresh")...)
	if code != exitWarned || !strings.Contains(stderr, "the previous one kept as") {
		t.Fatalf("fresh: exit %d\n%s", code, stderr)
	}
}

func TestRunAndReportBadInput(t *testing.T) {
	noKubeconfig(t)
	t.Setenv("MINI_TOKEN", "tok")
	srv := goLiveServer(t)
	rb := goLiveRunbook(t, srv.URL)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"override without reason", []string{"run", rb, "--override", "issuer"}, "an override needs a reason"},
		{"override of no step", []string{"run", rb, "--override", "ghost=x"}, `no step "ghost"`},
		{"confirm a probe", []string{"run", rb, "--confirm", "health"}, `no manual or action step "health"`},
		{"skip a required step", []string{"run", rb, "--skip", "health"}, "only optional steps"},
		{"unknown phase", []string{"run", rb, "--phase", "deploy"}, `--phase "deploy"`},
		{"missing runbook", []string{"run", "nope.yaml"}, "nope.yaml"},
		{"report of no journal", []string{"report", "nope.jsonl"}, "nope.jsonl"},
		{"report format", []string{"report", "x.jsonl", "-o", "pdf"}, "want markdown, json or html"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := cockpit(t, tt.args...)
			if code != exitInvalid || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 containing %q", code, stderr, tt.want)
			}
		})
	}
}

func TestReportCommand(t *testing.T) {
	noKubeconfig(t)
	t.Setenv("MINI_TOKEN", "tok-3f9a8b7c6d5e")
	srv := goLiveServer(t)
	rb := goLiveRunbook(t, srv.URL)
	if code, _, stderr := cockpit(t, "run", rb, "--operator", "ci", "--auto-confirm-manual", "--override", "issuer=not used by gravl"); code != exitWarned {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	journal := filepath.Join(filepath.Dir(rb), "golive.journal.jsonl")
	code, md, stderr := cockpit(t, "report", journal)
	if code != exitWarned {
		t.Fatalf("report: exit %d\n%s", code, stderr)
	}
	for _, w := range []string{"## Verdict: **GO WITH OVERRIDES**", "| `issuer` (preflight) | failed: 503", "not used by gravl", "### `baseline` (validate)", "| http_req_duration |", "## Sign-off"} {
		if !strings.Contains(md, w) {
			t.Errorf("markdown lacks %q:\n%s", w, md)
		}
	}
	if strings.Contains(md, "tok-3f9a8b7c6d5e") {
		t.Error("the token leaked into the report")
	}
	code, js, _ := cockpit(t, "report", journal, "-o", "json")
	var doc signoff.Report
	if err := json.Unmarshal([]byte(js), &doc); err != nil || code != exitWarned {
		t.Fatalf("json: exit %d, %v", code, err)
	}
	if len(doc.Loads) != 1 || doc.Loads[0].Summary.Requests != 40 || len(doc.Overrides) != 1 {
		t.Errorf("json report: %d loads, %d overrides", len(doc.Loads), len(doc.Overrides))
	}
	// A tampered journal is refused.
	data, _ := os.ReadFile(journal)
	os.WriteFile(journal, []byte(strings.Replace(string(data), "not used by gravl", "not used by gravL", 1)), 0o600)
	if code, _, stderr := cockpit(t, "report", journal); code != exitInvalid || !strings.Contains(stderr, "hash chain broken") {
		t.Errorf("tampered: exit %d, %s", code, stderr)
	}
}
