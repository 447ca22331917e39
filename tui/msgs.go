package tui

import (
	"time"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// StateMsg is one applied engine event: the state after it, the event with
// its time, and the effects it caused (a Refused among them is shown to the
// operator). Runner.Observe forwards it, through a Feed.
type StateMsg struct {
	State   runbook.State
	At      runbook.At
	Effects []runbook.Effect
	// Seq orders messages (a Feed numbers them from 1); a message whose Seq
	// is not newer than the last one seen is stale and dropped. Zero means
	// unnumbered.
	Seq uint64
}

// LoadMsg is a load step's latest snapshot (at most ~10 a second). The
// standalone LoadView shows one run and ignores Step.
type LoadMsg struct {
	Step     string
	Snapshot loader.Snapshot
}

// ProgressMsg is an executing action's interim result (a rollout's
// per-item progress), from Runner.OnProgress through Feed.Progress. It is
// shown while the step runs and dropped once its result lands.
type ProgressMsg struct {
	Step   string
	Result actions.Result
}

// RunDoneMsg tells the cockpit the runner has stopped: the run finished,
// was cancelled, or could not write its journal (Err).
type RunDoneMsg struct {
	Err error
	// Report is where the sign-off report or journal can be read, when known.
	Report string
}

// tickMsg refreshes ages and the elapsed window time.
type tickMsg time.Time

// sentMsg reports that an operator event reached the runner (or not).
type sentMsg struct {
	event string
	err   error
}

// noticeMsg is the outcome of a load control or sandbox command.
type noticeMsg struct {
	text string
	err  error
}

// Messages between panes, posted through env and delivered by the root at
// once (see pane).

// runViewMsg hands a pane the run as it now is.
type runViewMsg struct{ run runView }

// noticeSet sets the line over the help bar.
type noticeSet struct {
	text string
	bad  bool
}

// openDiffMsg opens the diff viewer on a step's dry run (ctrl+d in an
// action's confirmation: the viewer opens over it).
type openDiffMsg struct{ step string }

// closeDiffMsg closes the diff viewer.
type closeDiffMsg struct{}

// viewConfirmMsg is c in the diff viewer: back to the confirmation it was
// opened over, or one opened for its step (the viewer closes if it opens).
type viewConfirmMsg struct{ step string }
