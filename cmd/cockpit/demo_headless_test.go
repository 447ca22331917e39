package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The demo runbook end to end against the sandbox, headless: without an
// override the seed's failing issuer stops it (NO-GO); with one, recorded
// with its reason, it goes through deploy (the simulated rollout), the load
// test and the monitor window to GO WITH OVERRIDES — and the sign-off report
// says the same.
func TestDemoHeadless(t *testing.T) {
	noKubeconfig(t)
	short := []string{"--var", "deployWindow=10s", "--var", "loadDuration=3s", "--var", "monitorWindow=3s"}
	tests := []struct {
		name        string
		args        []string
		wantCode    int
		wantVerdict string
		wantStdout  []string
	}{
		{name: "the seed's issuer stops it", wantCode: exitFailed, wantVerdict: "NO-GO",
			wantStdout: []string{"cluster-issuers", "failed", "internal-ca-issuer"}},
		{name: "overridden, all four phases", args: []string{"--override", "cluster-issuers=internal CA unused by gravl; OPS-112"},
			wantCode: exitWarned, wantVerdict: "GO WITH OVERRIDES",
			wantStdout: []string{"PHASE monitor", "backend-rollout", "baseline", "reqs", "health-watch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			journal := filepath.Join(t.TempDir(), "demo.journal.jsonl")
			args := append([]string{"demo", "--headless", "--journal", journal}, append(short, tt.args...)...)
			code, stdout, stderr := cockpit(t, args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, "verdict: "+tt.wantVerdict+" —") {
				t.Errorf("stdout lacks the verdict %q:\n%s", tt.wantVerdict, stdout)
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			md, err := os.ReadFile(strings.TrimSuffix(journal, ".journal.jsonl") + ".signoff.md")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(md), "## Verdict: **"+tt.wantVerdict+"**") {
				t.Errorf("the report's verdict differs:\n%s", md)
			}
			// The HTML beside it, rendered from the real run's journal.
			html := strings.TrimSuffix(journal, ".journal.jsonl") + ".signoff.html"
			if page, err := os.ReadFile(html); err != nil || !strings.Contains(string(page), ">"+tt.wantVerdict+"<") {
				t.Errorf("the HTML report's verdict differs (%v)", err)
			}
			checkInBrowser(t, html)
		})
	}
}
