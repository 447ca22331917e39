package runbook

import (
	"time"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/report"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// Event is something that happened: an operator's decision, a probe's
// result, the passing of time. The engine applies events to a State; the
// journal records every applied event; replaying the journal's events
// rebuilds the State after a crash.
type Event interface {
	// EventType names the event in the journal ("probe.result").
	EventType() string
}

// Started begins a run of the runbook (the first event of a journal).
type Started struct {
	Operator string `json:"operator"`
	Headless bool   `json:"headless,omitempty"`
	// AllowActions is the run's mode: without it (the default) the run is
	// read-only and mutating actions are only dry-run.
	AllowActions bool `json:"allowActions,omitempty"`
}

// Tick is the passing of time: monitor windows and repeating probes are
// driven by it, never by a clock inside the engine.
type Tick struct{}

// RunStep asks to (re-)run a step of the current phase.
type RunStep struct {
	Step string `json:"step"`
}

// RunPhase asks to run every runnable step of the current phase.
type RunPhase struct{}

// ProbeResult is a probe's result for one run of a step.
type ProbeResult struct {
	Step   string        `json:"step"`
	RunID  uint64        `json:"runId"`
	Result probes.Result `json:"result"`
}

// LoadResult is a load test's final verdict for one run of a step, with
// its summary (percentiles, rates, thresholds) for the report.
type LoadResult struct {
	Step   string           `json:"step"`
	RunID  uint64           `json:"runId"`
	Result probes.Result    `json:"result"`
	Report *report.Document `json:"report,omitempty"`
	// Workers says how a distributed load step's workers reported (nil
	// for a load test run in the cockpit).
	Workers *LoadWorkersReport `json:"workers,omitempty"`
}

// LoadInterval is one interval of a running load test (loader.Interval:
// its latency histograms, corrected and raw, in HdrHistogram's compressed
// encoding, its counts, VUs, rates and threshold changes), journaled as
// the loader closes it: the run over time, for the report's charts and
// any window the sign-off reconstructs. The engine keeps nothing of it.
type LoadInterval struct {
	Step     string          `json:"step"`
	RunID    uint64          `json:"runId"`
	Interval loader.Interval `json:"interval"`
	// Workers and Merged, for a distributed load step: how many workers
	// the run has and how many are in the interval; Missing those that
	// owed it and are not in it (the interval is then incomplete).
	Workers int   `json:"workers,omitempty"`
	Merged  int   `json:"merged,omitempty"`
	Missing []int `json:"missing,omitempty"`
}

// Load control operations, as LoadControl.Op.
const (
	LoadPause  = "pause"
	LoadResume = "resume"
	LoadRate   = "rate" // Value: total iterations per second (open models)
	LoadVUs    = "vus"  // Value: VUs (closed models), the VU cap (open models)
	LoadStop   = "stop"
)

// LoadControl is the operator changing a running load test: pause or
// resume it, set its rate or VUs, stop it. Journaled like every decision.
type LoadControl struct {
	Step     string  `json:"step"`
	Op       string  `json:"op"`
	Value    float64 `json:"value,omitempty"`
	Operator string  `json:"operator"`
}

// Confirmed is the operator confirming a manual step.
type Confirmed struct {
	Step     string `json:"step"`
	Operator string `json:"operator"`
	Note     string `json:"note,omitempty"`
}

// Skipped is the operator skipping an optional step.
type Skipped struct {
	Step     string `json:"step"`
	Operator string `json:"operator"`
	Reason   string `json:"reason,omitempty"`
}

// Overridden is the operator accepting a red step or gate, with a reason.
// Exactly one of Step or Phase is set.
type Overridden struct {
	Step     string `json:"step,omitempty"`
	Phase    string `json:"phase,omitempty"`
	Operator string `json:"operator"`
	Reason   string `json:"reason"`
}

// Advance asks to leave the current phase for the next one.
type Advance struct {
	Operator string `json:"operator"`
}

// Aborted ends the run early.
type Aborted struct {
	Operator string `json:"operator"`
	Reason   string `json:"reason"`
}

// Resumed marks a restart from the journal: steps that were in flight when
// the cockpit died are run again — except mutating actions, which are never
// repeated unasked: they get a fresh dry run and wait for a confirmation.
type Resumed struct {
	Operator string `json:"operator"`
	Events   int    `json:"events"` // how many journaled events were replayed
	// AllowActions is the mode of the resumed run (it may differ from the
	// first process's).
	AllowActions bool `json:"allowActions,omitempty"`
}

// ActionPlanned is an action's dry run for one run of a step.
type ActionPlanned struct {
	Step   string         `json:"step"`
	RunID  uint64         `json:"runId"`
	Result actions.Result `json:"result"`
}

// ActionDone is an action's execution result (its inputs, the server's
// answer, the objects' versions after it).
type ActionDone struct {
	Step   string         `json:"step"`
	RunID  uint64         `json:"runId"`
	Result actions.Result `json:"result"`
}

// UndoRequested is the operator asking to undo a failed rollout, to the
// revision it offered or (Revision > 0) a given one.
type UndoRequested struct {
	Step     string `json:"step"`
	Revision int64  `json:"revision,omitempty"`
	Operator string `json:"operator"`
	Reason   string `json:"reason,omitempty"`
}

// ActionUndone is the result of an undo.
type ActionUndone struct {
	Step   string         `json:"step"`
	RunID  uint64         `json:"runId"`
	Result actions.Result `json:"result"`
}

// ActionCleaned is the result of taking an action back at the end of its
// window (a silence expired). It is accepted after the run has finished.
type ActionCleaned struct {
	Step   string         `json:"step"`
	Result actions.Result `json:"result"`
}

// AccessReviewed is the access review before a phase with actions: every
// Kubernetes permission the phase's steps need, checked with
// SelfSubjectAccessReviews; Result.Items name each, failing ones missing.
type AccessReviewed struct {
	Phase  string        `json:"phase"`
	Result probes.Result `json:"result"`
}

// stepEvent is an event about one step: the journal names the step on
// its line.
type stepEvent interface{ stepOf() string }

func (e RunStep) stepOf() string       { return e.Step }
func (e ProbeResult) stepOf() string   { return e.Step }
func (e LoadResult) stepOf() string    { return e.Step }
func (e LoadInterval) stepOf() string  { return e.Step }
func (e LoadControl) stepOf() string   { return e.Step }
func (e Confirmed) stepOf() string     { return e.Step }
func (e Skipped) stepOf() string       { return e.Step }
func (e Overridden) stepOf() string    { return e.Step }
func (e ActionPlanned) stepOf() string { return e.Step }
func (e ActionDone) stepOf() string    { return e.Step }
func (e UndoRequested) stepOf() string { return e.Step }
func (e ActionUndone) stepOf() string  { return e.Step }
func (e ActionCleaned) stepOf() string { return e.Step }

// EventType implementations.
func (Started) EventType() string      { return "run.started" }
func (Tick) EventType() string         { return "tick" }
func (RunStep) EventType() string      { return "step.run" }
func (RunPhase) EventType() string     { return "phase.run" }
func (ProbeResult) EventType() string  { return "probe.result" }
func (LoadResult) EventType() string   { return "load.result" }
func (LoadInterval) EventType() string { return "load.interval" }
func (LoadControl) EventType() string  { return "load.control" }
func (Confirmed) EventType() string    { return "step.confirmed" }
func (Skipped) EventType() string      { return "step.skipped" }
func (Overridden) EventType() string   { return "override" }
func (Advance) EventType() string      { return "phase.advance" }
func (Aborted) EventType() string      { return "run.aborted" }
func (Resumed) EventType() string      { return "run.resumed" }

// EventType implementations of the action events.
func (ActionPlanned) EventType() string  { return "action.planned" }
func (ActionDone) EventType() string     { return "action.done" }
func (UndoRequested) EventType() string  { return "action.undo" }
func (ActionUndone) EventType() string   { return "action.undone" }
func (ActionCleaned) EventType() string  { return "action.cleaned" }
func (AccessReviewed) EventType() string { return "phase.access" }

// Effect is work the engine asks the runner to do. The engine never does
// I/O itself.
type Effect interface{ isEffect() }

// StartProbe runs the probe of a step; its result comes back as a
// ProbeResult carrying RunID (results of older runs are dropped).
type StartProbe struct {
	Phase   string
	Step    string
	RunID   uint64
	Attempt int // 1 for the first try
}

// StartLoad runs the load test of a step; its verdict comes back as a
// LoadResult carrying RunID.
type StartLoad struct {
	Phase   string
	Step    string
	RunID   uint64
	Attempt int
}

// ControlLoad applies a LoadControl to the step's running load test.
type ControlLoad struct {
	Step  string
	Op    string
	Value float64
}

// PlanAction dry-runs a step's action; the plan comes back as an
// ActionPlanned carrying RunID.
type PlanAction struct {
	Phase string
	Step  string
	RunID uint64
}

// ExecuteAction runs a step's action (confirmed, when it is mutating); the
// result comes back as an ActionDone carrying RunID.
type ExecuteAction struct {
	Phase   string
	Step    string
	RunID   uint64
	Attempt int
}

// UndoAction undoes a step's failed rollout; the result comes back as an
// ActionUndone carrying RunID.
type UndoAction struct {
	Step     string
	RunID    uint64
	Revision int64 // 0: the one the failure offered
}

// CleanupAction takes back what a step's action left (Ref: a silence id);
// the result comes back as an ActionCleaned.
type CleanupAction struct {
	Step string
	Ref  string
}

// ReviewAccess checks the Kubernetes permissions a phase's steps need; the
// result comes back as an AccessReviewed.
type ReviewAccess struct{ Phase string }

// Refused tells the operator why an event changed nothing ("gate red:
// 1 required step failed").
type Refused struct {
	Event  string
	Reason string
}

// PhaseEntered and PhaseLeft mark the phase changes an event caused.
type PhaseEntered struct{ Phase string }

// PhaseLeft is emitted when a phase is left, with its gate's verdict.
type PhaseLeft struct {
	Phase   string
	Verdict GateVerdict
}

// Finished is emitted once, when the last phase is left or the run aborts.
type Finished struct{ Outcome Outcome }

func (StartProbe) isEffect()    {}
func (PlanAction) isEffect()    {}
func (ExecuteAction) isEffect() {}
func (UndoAction) isEffect()    {}
func (CleanupAction) isEffect() {}
func (ReviewAccess) isEffect()  {}
func (StartLoad) isEffect()     {}
func (ControlLoad) isEffect()   {}
func (Refused) isEffect()       {}
func (PhaseEntered) isEffect()  {}
func (PhaseLeft) isEffect()     {}
func (Finished) isEffect()      {}

// At pairs an event with the time it happened. The engine reads time only
// from here.
type At struct {
	Time  time.Time
	Event Event
}
