package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/runbook"
)

// crashRunbook has a probe, a manual step and a monitor window with a
// repeating probe: enough events to kill the run at many points.
func crashRunbook(t *testing.T, dir, url string) string {
	t.Helper()
	src := fmt.Sprintf(`apiVersion: cockpit/v1
kind: Runbook
metadata: {name: crash-test}
phases:
- id: preflight
  steps:
  - id: health
    probe: {kind: http, url: "%[1]s/health"}
  - id: notify
    manual: {prompt: "Stakeholders notified?"}
- id: monitor
  duration: 1s
  steps:
  - id: watch
    every: 50ms
    probe: {kind: http, url: "%[1]s/health"}
`, url)
	path := filepath.Join(dir, "crash.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// child starts the CLI as a separate process (the test binary itself).
func child(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	argv, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "COCKPIT_CHILD_ARGS="+string(argv), "KUBECONFIG=", "HOME="+t.TempDir())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd
}

func lines(path string) int {
	data, _ := os.ReadFile(path)
	return bytes.Count(data, []byte("\n"))
}

// SIGKILL a real headless run at many points of its journal, resume it
// each time: nothing is lost, nothing is duplicated, the chain holds and the
// verdict is the uninterrupted run's.
func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	t.Cleanup(srv.Close)
	// An uninterrupted run first: how many lines a whole run writes here.
	refDir := t.TempDir()
	ref := child(t, "run", crashRunbook(t, refDir, srv.URL), "--operator", "ci", "--confirm", "notify=mail sent")
	if err := ref.Run(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, ref.Stdout)
	}
	total := lines(filepath.Join(refDir, "crash.journal.jsonl"))
	const killPoints = 22
	if total < killPoints+4 {
		t.Fatalf("the reference run wrote %d journal lines; too few to kill at %d points", total, killPoints)
	}
	for k := range killPoints {
		killAt := 2 + k*(total-4)/(killPoints-1) // journal lines written when the kill comes
		t.Run(fmt.Sprintf("kill-after-%d-lines", killAt), func(t *testing.T) {
			dir := t.TempDir()
			rb := crashRunbook(t, dir, srv.URL)
			journal := filepath.Join(dir, "crash.journal.jsonl")
			args := []string{"run", rb, "--operator", "ci", "--confirm", "notify=mail sent"}

			first := child(t, args...)
			if err := first.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- first.Wait() }()
			deadline := time.After(30 * time.Second)
		wait:
			for lines(journal) < killAt {
				select {
				case err := <-exited:
					// Faster than the reference run: the kill point is past
					// the end. Resuming a finished run must still hold.
					t.Logf("the run ended (%v) before %d journal lines (had %d)", err, killAt, lines(journal))
					exited <- err
					break wait
				case <-deadline:
					first.Process.Kill()
					t.Fatalf("no %d journal lines within 30s", killAt)
				case <-time.After(time.Millisecond):
					continue wait
				}
			}
			_ = first.Process.Signal(syscall.SIGKILL) // fails only when it has exited already
			<-exited

			second := child(t, args...)
			if err := second.Run(); err != nil {
				t.Fatalf("resume failed: %v\n%s", err, second.Stdout)
			}
			rr, err := runbook.ReadJournal(journal) // chain and sequence verified
			if err != nil {
				t.Fatal(err)
			}
			counts := map[string]int{}
			seen := map[string]bool{}
			for _, rec := range rr.Records {
				counts[rec.Type]++
				if rec.Type == "probe.result" {
					var pr struct {
						Step  string `json:"step"`
						RunID uint64 `json:"runId"`
					}
					json.Unmarshal(rec.Payload, &pr)
					key := fmt.Sprintf("%s/%d", pr.Step, pr.RunID)
					if seen[key] {
						t.Errorf("probe result %s journaled twice", key)
					}
					seen[key] = true
				}
			}
			if counts["run.started"] != 1 || counts["step.confirmed"] != 1 || counts["run.resumed"] > 1 {
				t.Errorf("record counts %v: want one start, one confirmation, at most one resume", counts)
			}
			events, err := rr.Events()
			if err != nil {
				t.Fatal(err)
			}
			rbk, err := runbook.ParseFile(rb, runbook.Options{})
			if err != nil {
				t.Fatal(err)
			}
			s := runbook.NewState(rbk)
			for _, at := range events {
				s, _ = runbook.Apply(s, at)
			}
			if s.Outcome != runbook.OutcomePassed {
				t.Errorf("replayed outcome %s (%s), want passed", s.Outcome, s.Reason)
			}
		})
	}
}
