package runbook

import "fmt"

// ActionStage is where an action step's life stands: what of it is out
// with the runner. One thing at a time: a dry run, an execution, an undo
// or the taking back of what it left.
type ActionStage uint8

// Action stages.
const (
	ActionIdle      ActionStage = iota // nothing out
	ActionPlanning                     // a dry run is out
	ActionExecuting                    // a confirmed execution is out (the step runs)
	ActionUndoing                      // an undo is out
	ActionCleaning                     // the taking back of what it left is out
)

var actionStageNames = [...]string{"idle", "planning", "executing", "undoing", "cleaning"}

func (a ActionStage) String() string {
	if int(a) < len(actionStageNames) {
		return actionStageNames[a]
	}
	return fmt.Sprintf("ActionStage(%d)", a)
}

// MarshalText writes the stage by name.
func (a ActionStage) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// Planning reports whether the step's dry run is out.
func (ss StepState) Planning() bool { return ss.Stage == ActionPlanning }

// Undoing reports whether the step's undo is out.
func (ss StepState) Undoing() bool { return ss.Stage == ActionUndoing }

// CleanupAsked reports whether the taking back of what the step left has
// been asked for (it may be back already).
func (ss StepState) CleanupAsked() bool { return ss.Stage == ActionCleaning || ss.Cleaned != nil }
