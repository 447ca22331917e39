package runbook

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/probes"
)

const closingRunbook = `
apiVersion: cockpit/v1
kind: Runbook
metadata: {name: closing-test}
phases:
- id: deploy
  duration: 10m
  steps:
  - id: rollout
    every: 1m
    failAfter: 3
    probe: {kind: http, url: "http://127.0.0.1:1/rollout"}
  - id: smoke
    optional: true
    retries: 2
    probe: {kind: http, url: "http://127.0.0.1:1/smoke"}
- id: monitor
  steps:
  - id: later
    probe: {kind: http, url: "http://127.0.0.1:1/later"}
`

// observe feeds rollout one result per minute, as its schedule asks.
func (m *sim) observe(step string, seq ...probes.Status) {
	m.t.Helper()
	for _, st := range seq {
		m.do(ProbeResult{Step: step, RunID: m.runs[step], Result: probes.Result{Status: st, Summary: "saw " + st.String()}})
		m.advance(time.Minute)
	}
}

// A repeating step is judged at its window's end by its latest observation
// and its history together, never passed for having run.
func TestWindowEndJudgesLatestObservation(t *testing.T) {
	const (
		P = probes.StatusPass
		W = probes.StatusWarn
		F = probes.StatusFail
		E = probes.StatusError
		N = probes.StatusPending
	)
	tests := []struct {
		name     string
		seq      []probes.Status
		want     StepStatus
		wantSays string
	}{
		{"nothing observed", nil, StepFailed, "watched the whole window and observed nothing"},
		{"passing", []probes.Status{N, P, P}, StepPassed, "saw pass"},
		{"not settled", []probes.Status{P, N}, StepFailed, "not settled when the window closed — last: saw pending"},
		{"failing, not yet a breach", []probes.Status{P, F, F}, StepFailed, "failing when the window closed (2 of failAfter 3) — last: saw fail"},
		{"an error last", []probes.Status{P, E}, StepFailed, "failing when the window closed (1 of failAfter 3) — last: saw error"},
		{"failures not in a row", []probes.Status{F, P, F, P}, StepPassed, "saw pass (2 failed observations, not in a row)"},
		{"failures in a row, under failAfter", []probes.Status{F, F, P}, StepPassed, "saw pass (2 failed observations, at most 2 in a row of failAfter 3)"},
		{"a breach stands", []probes.Status{F, F, F, P, P}, StepFailed, "breached at 08:02:00: 3 failed observations in a row (failAfter 3) — last: saw pass"},
		{"a warn in the window", []probes.Status{W, P}, StepWarned, "saw pass"},
		{"warn last", []probes.Status{P, W}, StepWarned, "saw warn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newSim(t, closingRunbook)
			m.do(Started{Operator: "lead"})
			m.observe("rollout", tt.seq...)
			if ss := m.step("rollout"); ss.Status != StepRunning && !ss.Breached {
				t.Fatalf("before the window closed: %s", ss.Status)
			}
			m.now = m.s.Phases[0].EnteredAt.Add(10 * time.Minute)
			m.do(Tick{})
			ss := m.step("rollout")
			if ss.Status != tt.want || ss.Says() != tt.wantSays {
				t.Errorf("after %v: %s %q, want %s %q", tt.seq, ss.Status, ss.Says(), tt.want, tt.wantSays)
			}
		})
	}
}

// The same rule closes what still runs when a phase is left by override
// or the run is aborted.
func TestClosingOnLeaveAndAbort(t *testing.T) {
	t.Run("phase left by override", func(t *testing.T) {
		m := newSim(t, closingRunbook)
		m.do(Started{Operator: "lead"})
		m.observe("rollout", probes.StatusPass, probes.StatusPending)
		m.do(ProbeResult{Step: "smoke", RunID: m.runs["smoke"], Result: probes.Result{Status: probes.StatusFail, Summary: "503"}})
		m.do(Overridden{Phase: "deploy", Operator: "lead", Reason: "window too short; OPS-1"})
		if r := refused(m.do(Advance{Operator: "lead"})); r != "" {
			t.Fatalf("advance refused: %s", r)
		}
		ps := m.s.Phases[0]
		if ps.Status != PhaseOverridden {
			t.Fatalf("phase %s, want overridden", ps.Status)
		}
		want := map[string]string{
			"rollout": "not settled when the phase was left — last: saw pending",
			"smoke":   "failing when the phase was left (attempt 2 of 3) — last: 503",
		}
		for _, ss := range ps.Steps {
			if ss.Status != StepFailed || ss.Says() != want[ss.ID] {
				t.Errorf("%s: %s %q, want failed %q", ss.ID, ss.Status, ss.Says(), want[ss.ID])
			}
		}
	})
	t.Run("run aborted", func(t *testing.T) {
		m := newSim(t, closingRunbook)
		m.do(Started{Operator: "lead"})
		m.observe("rollout", probes.StatusPass)
		m.do(Aborted{Operator: "lead", Reason: "rollback"})
		m.wantStep("rollout", StepPassed)
		m.wantStep("smoke", StepFailed)
		if why := m.step("smoke").Why; why != "no observation when the run was aborted" {
			t.Errorf("smoke: %q", why)
		}
	})
	t.Run("a refused advance leaves running steps be", func(t *testing.T) {
		m := newSim(t, closingRunbook)
		m.do(Started{Operator: "lead"})
		m.observe("rollout", probes.StatusPass)
		if r := refused(m.do(Advance{Operator: "lead"})); !strings.Contains(r, "gate of phase") {
			t.Fatalf("advance inside the window: refused %q", r)
		}
		m.wantStep("rollout", StepRunning)
		m.wantStep("smoke", StepRunning)
	})
}

// A pass seen before the cockpit went down says nothing of the time it was
// down: a window that closed meanwhile is judged by one more observation,
// after the restart, and says so.
func TestWindowClosedWhileDown(t *testing.T) {
	tests := []struct {
		after    probes.Status
		want     StepStatus
		wantSays string
	}{
		{probes.StatusPass, StepPassed, "saw pass (observed after the restart at 08:21:00, the window having closed at 08:10:00 while the cockpit was down)"},
		{probes.StatusFail, StepFailed, "failing when observed after the restart at 08:21:00, the window having closed at 08:10:00 while the cockpit was down (1 of failAfter 3) — last: saw fail"},
		{probes.StatusPending, StepFailed, "not settled when observed after the restart at 08:21:00, the window having closed at 08:10:00 while the cockpit was down — last: saw pending"},
	}
	for _, tt := range tests {
		t.Run(tt.after.String(), func(t *testing.T) {
			m := newSim(t, closingRunbook)
			m.do(Started{Operator: "lead"})
			m.observe("rollout", probes.StatusPass)
			m.now = m.now.Add(20 * time.Minute) // the cockpit was down; the window closed
			m.do(Resumed{Operator: "lead", Events: 4})
			if got := started(m.do(Tick{})); !slices.Contains(got, "rollout#1") {
				t.Fatalf("after the restart, started %v: want rollout looked at again", got)
			}
			m.wantStep("rollout", StepRunning)
			m.do(Tick{}) // nothing changes while that observation is out
			m.wantStep("rollout", StepRunning)
			m.do(ProbeResult{Step: "rollout", RunID: m.runs["rollout"], Result: probes.Result{Status: tt.after, Summary: "saw " + tt.after.String()}})
			m.do(Tick{})
			if ss := m.step("rollout"); ss.Status != tt.want || ss.Says() != tt.wantSays {
				t.Errorf("rollout: %s %q, want %s %q", ss.Status, ss.Says(), tt.want, tt.wantSays)
			}
		})
	}
	t.Run("a phase left before it is seen again", func(t *testing.T) {
		m := newSim(t, closingRunbook)
		m.do(Started{Operator: "lead"})
		m.observe("rollout", probes.StatusPass)
		m.do(Resumed{Operator: "lead", Events: 4})
		m.do(Overridden{Phase: "deploy", Operator: "lead", Reason: "enough"})
		m.do(Advance{Operator: "lead"})
		want := "when the phase was left it had not been observed since the cockpit restarted at 08:01:00 (last observed 08:00:00) — last: saw pass"
		if ss := m.step("rollout"); ss.Status != StepFailed || ss.Says() != want {
			t.Errorf("rollout: %s %q, want failed %q", ss.Status, ss.Says(), want)
		}
	})
}
