package runbook

import (
	"fmt"
	"strings"
	"time"

	"github.com/cockpit-dev/cockpit/probes"
)

// Closing a step. A step still running when its time is up — its phase's
// window closed, its phase was left, the run was aborted — is given its
// final word by what it observed: its latest observation and its history
// together, never by the mere fact that it ran. A breach stays failed; a
// latest observation that is pending (not settled), failing or an error
// makes the step failed, and Why says so; only a latest observation that
// passed (or warned) passes it, and failures that came and went are listed
// even then.

// Tally counts a step's observations since its current run began.
type Tally struct {
	Observed int // results accepted
	Warned   int // of them, warn
	Failed   int // of them, fail, error or forbidden
	// Streak is the longest run of failed results in a row (repeating
	// probes).
	Streak int
	// LastAt is when the latest result was accepted (the engine's time).
	LastAt time.Time
}

func (t *Tally) add(st probes.Status, at time.Time) {
	t.Observed++
	t.LastAt = at
	switch st {
	case probes.StatusPass, probes.StatusPending:
	case probes.StatusWarn:
		t.Warned++
	default:
		t.Failed++
	}
}

// When a running step is closed, as its evidence line says it.
const (
	closeWindow  = "when the window closed"
	closeLeft    = "when the phase was left"
	closeAborted = "when the run was aborted"
)

// afterRestart begins the closing words of a window that closed while
// the cockpit was down.
const afterRestart = "when observed after the restart"

// windowClosed says when a window's steps are judged: at its end, or —
// when it ended while the cockpit was down — at the first observation
// after the restart, saying so.
func (e *engine) windowClosed(ps *PhaseState, ph *Phase) string {
	end := ps.EnteredAt.Add(time.Duration(ph.Duration))
	if e.s.ResumedAt.IsZero() || end.After(e.s.ResumedAt) {
		return closeWindow
	}
	return fmt.Sprintf("%s at %s, the window having closed at %s while the cockpit was down", afterRestart, clock(e.s.ResumedAt), clock(end))
}

// unobservedSinceResume reports whether the step has observed nothing
// since the run was last resumed.
func (e *engine) unobservedSinceResume(ss *StepState) bool {
	return !e.s.ResumedAt.IsZero() && ss.Tally.LastAt.Before(e.s.ResumedAt)
}

// finalStatus is the step status a result earns on its own.
func finalStatus(st probes.Status) StepStatus {
	switch st {
	case probes.StatusPass:
		return StepPassed
	case probes.StatusWarn:
		return StepWarned
	}
	return StepFailed
}

// closeRunning closes every step of the current phase that is still
// running, except a mutating action that is executing: its own result,
// which the runner still awaits, is its word.
func (e *engine) closeRunning(when string) {
	ph, ps := e.phase()
	for i := range ph.Steps {
		st, ss := &ph.Steps[i], &ps.Steps[i]
		if ss.Status != StepRunning || st.Mutating() {
			continue
		}
		e.closeStep(st, ss, when)
	}
}

// closeStep gives a running step its final status from what it observed.
func (e *engine) closeStep(st *Step, ss *StepState, when string) {
	ss.RunID, ss.FinishedAt, ss.UpdatedAt = 0, e.s.Now, e.s.Now
	t := ss.Tally
	if t.Observed == 0 || !ss.HasResult {
		ss.Status = StepFailed
		ss.Why = "no observation " + when
		if st.Every > 0 && when == closeWindow {
			ss.Why = "watched the whole window and observed nothing"
		}
		return
	}
	last := ss.Last
	if last.Status.OK() && e.unobservedSinceResume(ss) {
		// What passed was seen before the cockpit went down: nothing of
		// the time since was observed.
		ss.Status = StepFailed
		ss.Why = fmt.Sprintf("%s it had not been observed since the cockpit restarted at %s (last observed %s)",
			when, clock(e.s.ResumedAt), clock(t.LastAt))
		return
	}
	switch last.Status {
	case probes.StatusPass, probes.StatusWarn:
		ss.Status = StepPassed
		if last.Status == probes.StatusWarn || t.Warned > 0 {
			ss.Status = StepWarned
		}
		ss.Why = failuresNote(st, t)
		if strings.HasPrefix(when, afterRestart) {
			ss.Why = strings.TrimSuffix("observed "+strings.TrimPrefix(when, "when observed ")+"; "+ss.Why, "; ")
		}
	case probes.StatusPending:
		ss.Status = StepFailed
		ss.Why = "not settled " + when
	default:
		ss.Status = StepFailed
		if st.Every > 0 {
			ss.Why = fmt.Sprintf("failing %s (%d of failAfter %d)", when, ss.Consecutive, failAfter(st))
		} else {
			ss.Why = fmt.Sprintf("failing %s (attempt %d of %d)", when, ss.Attempt, st.Retries+1)
		}
	}
}

// failuresNote lists failed observations that did not make a breach, for
// a step that passes: "2 failed observations, not in a row".
func failuresNote(st *Step, t Tally) string {
	switch {
	case t.Failed == 0 || st.Every == 0:
		return ""
	case t.Streak <= 1:
		return fmt.Sprintf("%d failed %s, not in a row", t.Failed, plural(t.Failed, "observation"))
	}
	return fmt.Sprintf("%d failed %s, at most %d in a row of failAfter %d", t.Failed, plural(t.Failed, "observation"), t.Streak, failAfter(st))
}

// Says is a step's word after its status, the same in the TUI, the
// headless log and the run summary: its last result's summary, with the
// evidence line of a status that result alone does not explain —
// "not settled when the window closed — last: 1 of 2 new replicas
// updated", "3/3 ready (2 failed observations, not in a row)".
func (ss StepState) Says() string {
	sum := ""
	if ss.HasResult && ss.Tally.Observed > 0 || ss.HasResult && ss.Why == "" {
		sum = ss.Last.Summary // an earlier run's result does not explain this one
	}
	switch {
	case ss.Why == "":
		return sum
	case sum == "":
		return ss.Why
	case ss.Status == StepPassed || ss.Status == StepWarned:
		return sum + " (" + ss.Why + ")"
	}
	return ss.Why + " — last: " + sum
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// clock is a time of day for an evidence line, in UTC like the journal.
func clock(t time.Time) string { return t.UTC().Format("15:04:05") }
