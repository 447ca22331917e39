package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Setenv("GRAVL_TOKEN", "s3cr3t-token")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{name: "valid", args: []string{"check", "../../runbook/testdata/valid.yaml"}, wantCode: exitOK,
			wantStdout: []string{"Runbook gravl-go-live: valid", "GET https://gravl.app/health", "[every 30s; optional]", "digest sha256:"}},
		{name: "var override", args: []string{"check", "../../runbook/testdata/valid.yaml", "--var", "apiURL=https://staging.gravl.app"}, wantCode: exitOK,
			wantStdout: []string{"GET https://staging.gravl.app/health"}},
		{name: "invalid lists every problem", args: []string{"check", "../../runbook/testdata/invalid.yaml"}, wantCode: exitInvalid,
			wantStderr: []string{"23 problem(s)", "invalid.yaml:12:19: phases[0].steps[0].probe.kind: unknown probe kind \"htp\"", "invalid.yaml:28:23: phases[1].steps[0].needs[2]"}},
		{name: "missing file", args: []string{"check", "nope.yaml"}, wantCode: exitInvalid, wantStderr: []string{"nope.yaml"}},
		{name: "no argument", args: []string{"check"}, wantCode: exitInvalid, wantStderr: []string{"takes 1 argument(s), got 0"}},
		{name: "bad var", args: []string{"check", "x.yaml", "--var", "novalue"}, wantCode: exitInvalid, wantStderr: []string{"want name=value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := cockpit(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
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
			if strings.Contains(stdout+stderr, "s3cr3t-token") {
				t.Error("output shows the secret from the environment")
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	t.Setenv("GRAVL_TOKEN", "x")
	code, stdout, stderr := cockpit(t, "check", "../../runbook/testdata/valid.yaml", "-o", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sum runbookSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if len(sum.Phases) != 3 || sum.Phases[2].Duration != "2h0m0s" || sum.Phases[1].Steps[0].Needs[0] != "health" {
		t.Errorf("summary = %+v", sum)
	}
}

// The runbook README.md shows is a valid one.
func TestReadmeRunbookIsValid(t *testing.T) {
	t.Setenv("GRAVL_TOKEN", "x")
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	i := strings.Index(s, "## Runbook reference")
	j := strings.Index(s[i:], "```yaml\n")
	if i < 0 || j < 0 {
		t.Fatal("README has no runbook reference example")
	}
	body := s[i+j+len("```yaml\n"):]
	body = body[:strings.Index(body, "```")]
	path := filepath.Join(t.TempDir(), "readme.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := cockpit(t, "check", path); code != exitOK {
		t.Errorf("README's runbook: exit %d\n%s", code, stderr)
	}
}
