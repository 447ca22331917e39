package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/signoff"
	"github.com/cockpit-dev/cockpit/tui"
)

// A deploy window that closes while the rollout is still in progress does
// not pass the rollout: the demo is NO-GO, or GO only with an override of
// that step. The headless log, the run summary, the TUI, the Markdown and
// the JSON sign-off give the step the same final word.
func TestUnsettledRolloutIsNotPassed(t *testing.T) {
	noKubeconfig(t)
	// The simulated rollout of the release the deploy phase applies moves
	// a step a second and needs more than three: a three-second window
	// always closes on it unsettled.
	short := []string{"--var", "deployWindow=3s", "--var", "loadDuration=2s", "--var", "monitorWindow=2s",
		"--allow-actions", "--auto-confirm-actions",
		"--override", "cluster-issuers=internal CA unused by gravl; OPS-112"}
	const why = "not settled when the window closed — last: "
	t.Run("no-go", func(t *testing.T) {
		journal := filepath.Join(t.TempDir(), "demo.journal.jsonl")
		code, stdout, stderr := cockpit(t, append([]string{"demo", "--headless", "--journal", journal}, short...)...)
		if code != exitFailed || !strings.Contains(stdout, "verdict: NO-GO —") {
			t.Fatalf("exit %d, want %d and NO-GO\nstdout: %s\nstderr: %s", code, exitFailed, stdout, stderr)
		}
		wantLine(t, "headless log", stderr, "backend-rollout", "failed", why)
		wantLine(t, "run summary", stdout, "backend-rollout", "failed", why)

		r, err := signoff.FromJournal(journal)
		if err != nil {
			t.Fatal(err)
		}
		var md strings.Builder
		if err := signoff.WriteMarkdown(&md, r); err != nil {
			t.Fatal(err)
		}
		wantLine(t, "markdown sign-off", md.String(), "`backend-rollout`", "❌ failed", "not settled when the window closed")
		js, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Phases []struct {
				Steps []struct{ ID, Status, Evidence string }
			}
		}
		if err := json.Unmarshal(js, &doc); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range doc.Phases {
			for _, st := range p.Steps {
				if st.ID == "backend-rollout" {
					found = true
					if st.Status != "failed" || !strings.HasPrefix(st.Evidence, "not settled when the window closed") {
						t.Errorf("JSON sign-off: %s %q", st.Status, st.Evidence)
					}
				}
			}
		}
		if !found {
			t.Error("JSON sign-off lacks backend-rollout")
		}
		screen := tuiScreen(t, journal)
		wantLine(t, "TUI step list", screen, "✗", "backend-rollout not settled")
		wantLine(t, "TUI detail", screen, "failed: not settled when the window closed")
	})
	t.Run("go only with its override", func(t *testing.T) {
		journal := filepath.Join(t.TempDir(), "demo.journal.jsonl")
		args := append([]string{"demo", "--headless", "--journal", journal}, short...)
		args = append(args, "--override", "backend-rollout=rollout finishing after the window; watched by hand, OPS-114",
			// Not this test's subject: a two-second baseline on a machine
			// busy with the race detector may miss its thresholds.
			"--override", "baseline=measured again after the window")
		code, stdout, stderr := cockpit(t, args...)
		if code != exitWarned || !strings.Contains(stdout, "verdict: GO WITH OVERRIDES —") {
			t.Fatalf("exit %d, want %d and GO WITH OVERRIDES\nstdout: %s\nstderr: %s", code, exitWarned, stdout, stderr)
		}
		md, err := os.ReadFile(strings.TrimSuffix(journal, ".journal.jsonl") + ".signoff.md")
		if err != nil {
			t.Fatal(err)
		}
		wantLine(t, "markdown sign-off", string(md), "`backend-rollout`", "🟧 overridden", "not settled when the window closed")
		wantLine(t, "markdown overrides", string(md), "`backend-rollout` (deploy)", "fail", "OPS-114")
	})
}

// wantLine fails unless some line of text holds every part.
func wantLine(t *testing.T, where, text string, parts ...string) {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			return
		}
	}
	t.Errorf("%s has no line with %q:\n%s", where, parts, text)
}

// tuiScreen draws the cockpit over the state the journal ends in, on the
// phase the run stopped in, as a 200×60 terminal shows it.
func tuiScreen(t *testing.T, journal string) string {
	t.Helper()
	rr, err := runbook.ReadJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := runbook.Parse(rr.Header.File, []byte(rr.Header.Source), runbook.Options{Vars: rr.Header.Vars, LookupEnv: func(string) (string, bool) { return "", true }})
	if err != nil {
		t.Fatal(err)
	}
	events, err := rr.Events()
	if err != nil {
		t.Fatal(err)
	}
	s := runbook.NewState(rb)
	for _, at := range events {
		s, _ = runbook.Apply(s, at)
	}
	m := tui.New(tui.Options{Operator: "lead", Now: func() time.Time { return s.Now }})
	m.Update(tea.WindowSizeMsg{Width: 200, Height: 60})
	m.Update(tui.StateMsg{State: s, At: events[len(events)-1], Seq: 1})
	for range 3 { // from change-approved past release and rollout to backend-rollout
		m.Update(tea.KeyPressMsg{Code: tea.KeyDown})
	}
	return ansi.Strip(m.View().Content)
}
