package runbook

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/probes"
)

const sessionRunbook = `apiVersion: cockpit/v1
kind: Runbook
metadata: {name: session-test}
vars: {target: staging}
phases:
- id: preflight
  steps:
  - id: health
    probe: {kind: tcp, host: 127.0.0.1, port: 1}
  - id: notify
    manual: {prompt: "Stakeholders notified (${target})?"}
`

func parseSession(t *testing.T, dir string, vars map[string]string) *Runbook {
	t.Helper()
	path := filepath.Join(dir, "golive.yaml")
	if err := os.WriteFile(path, []byte(sessionRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	rb, err := ParseFile(path, Options{Vars: vars, LookupEnv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	return rb
}

func TestDefaultJournalPath(t *testing.T) {
	for in, want := range map[string]string{
		"ops/gravl.yaml": "ops/gravl.journal.jsonl",
		"gravl.yml":      "gravl.journal.jsonl",
		"runbook":        "runbook.journal.jsonl",
	} {
		if got := DefaultJournalPath(in); got != want {
			t.Errorf("DefaultJournalPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpenNewResumeFresh(t *testing.T) {
	dir := t.TempDir()
	rb := parseSession(t, dir, nil)
	now := time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }

	s, err := Open(rb, OpenOptions{Operator: "lead", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if s.Resumed || s.Journal.Path() != filepath.Join(dir, "golive.journal.jsonl") {
		t.Fatalf("new session: resumed=%v path=%s", s.Resumed, s.Journal.Path())
	}
	// Record a start, a confirmation and a probe out (in flight at the "crash").
	st := s.State
	for _, ev := range []Event{Started{Operator: "lead"}, Confirmed{Step: "notify", Operator: "lead", Note: "mail sent"}} {
		at := At{Time: now, Event: ev}
		st, _ = Apply(st, at)
		if err := s.Journal.Append(at, "lead", "preflight"); err != nil {
			t.Fatal(err)
		}
	}
	s.Journal.Close()

	r, err := Open(rb, OpenOptions{Operator: "lead", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Resumed || r.Replayed != 2 {
		t.Fatalf("resume: resumed=%v replayed=%d", r.Resumed, r.Replayed)
	}
	notify := r.State.Phases[0].Steps[1]
	if notify.Status != StepPassed || notify.Confirm == nil || notify.Confirm.Text != "mail sent" {
		t.Errorf("confirmation lost on resume: %+v", notify)
	}
	var rerun bool
	for _, e := range r.Pending {
		if sp, ok := e.(StartProbe); ok && sp.Step == "health" {
			rerun = true
		}
	}
	if !rerun {
		t.Errorf("the in-flight probe is not run again: %#v", r.Pending)
	}
	r.Journal.Close()
	rr, err := ReadJournal(r.Journal.Path())
	if err != nil {
		t.Fatal(err)
	}
	if last := rr.Records[len(rr.Records)-1]; last.Type != (Resumed{}).EventType() {
		t.Errorf("last record %s, want the resume journaled", last.Type)
	}
	if rr.Header.Source != sessionRunbook {
		t.Errorf("header does not keep the runbook source")
	}

	f, err := Open(rb, OpenOptions{Fresh: true, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	f.Journal.Close()
	if f.Resumed || f.Kept == "" {
		t.Fatalf("fresh: resumed=%v kept=%q", f.Resumed, f.Kept)
	}
	if old, err := ReadJournal(f.Kept); err != nil || len(old.Records) != len(rr.Records) {
		t.Errorf("the old journal was not kept intact: %v", err)
	}
}

func TestOpenRefuses(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(t *testing.T, path string)
		vars    map[string]string
		wantErr error
		want    string
	}{
		{name: "other variables", vars: map[string]string{"target": "production"}, wantErr: ErrJournalMismatch, want: "--fresh"},
		{name: "tampered line", damage: func(t *testing.T, path string) {
			data, _ := os.ReadFile(path)
			data = []byte(strings.Replace(string(data), "mail sent", "mail sEnt", 1))
			os.WriteFile(path, data, 0o600)
		}, wantErr: ErrJournalCorrupt, want: "hash chain broken"},
		{name: "not a journal", damage: func(t *testing.T, path string) {
			os.WriteFile(path, []byte("{}\n"), 0o600)
		}, wantErr: ErrJournalCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			rb := parseSession(t, dir, nil)
			s, err := Open(rb, OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range []Event{Started{Operator: "lead"}, Confirmed{Step: "notify", Operator: "lead", Note: "mail sent"},
				ProbeResult{Step: "health", RunID: 1, Result: probes.Result{Status: probes.StatusPass}}} {
				if err := s.Journal.Append(At{Time: time.Now(), Event: ev}, "lead", "preflight"); err != nil {
					t.Fatal(err)
				}
			}
			s.Journal.Close()
			if tt.damage != nil {
				tt.damage(t, s.Journal.Path())
			}
			before, _ := os.ReadFile(s.Journal.Path())
			_, err = Open(parseSession(t, dir, tt.vars), OpenOptions{})
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.wantErr, tt.want)
			}
			if after, _ := os.ReadFile(s.Journal.Path()); string(after) != string(before) {
				t.Error("a refused journal was changed")
			}
		})
	}
}

func TestAutopilotStopAfterAndConfirmAll(t *testing.T) {
	rb := mustParse(t, `apiVersion: cockpit/v1
kind: Runbook
metadata: {name: stop}
phases:
- id: preflight
  steps:
  - id: notify
    manual: {prompt: ok?}
- id: deploy
  steps:
  - id: go
    manual: {prompt: go?}
`)
	a := Autopilot{Operator: "ci", ConfirmAll: true, StopAfter: "preflight"}
	s, _ := Apply(NewState(rb), At{Time: time.Now(), Event: Started{Operator: "ci"}})
	for range 10 {
		if a.Done(s) {
			break
		}
		for _, ev := range a.Next(s) {
			s, _ = Apply(s, At{Time: time.Now(), Event: ev})
		}
	}
	if !a.Done(s) || s.Current != 0 || s.Finished() {
		t.Fatalf("done=%v current=%d finished=%v", a.Done(s), s.Current, s.Finished())
	}
	if c := s.Phases[0].Steps[0].Confirm; c == nil || c.Text != AutoConfirmNote {
		t.Errorf("confirmation = %+v, want the auto-confirm note", c)
	}
}
