package runbook

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/report"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// StepStatus is where a step stands.
type StepStatus uint8

// Step states.
const (
	StepPending    StepStatus = iota // not run yet, or waiting for its needs
	StepRunning                      // a probe is out (or a repeating probe is watching)
	StepPassed                       // passed, or confirmed
	StepWarned                       // passed with a warning
	StepFailed                       // failed after its retries, or breached
	StepSkipped                      // an optional step the operator skipped
	StepOverridden                   // failed, and accepted by the operator with a reason
)

var stepStatusNames = [...]string{"pending", "running", "passed", "warned", "failed", "skipped", "overridden"}

func (s StepStatus) String() string {
	if int(s) < len(stepStatusNames) {
		return stepStatusNames[s]
	}
	return fmt.Sprintf("StepStatus(%d)", s)
}

// MarshalText writes the status by name.
func (s StepStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// done reports whether the step holds no gate back.
func (s StepStatus) done() bool {
	return s == StepPassed || s == StepWarned || s == StepSkipped || s == StepOverridden
}

// PhaseStatus is where a phase stands.
type PhaseStatus uint8

// Phase states.
const (
	PhaseWaiting    PhaseStatus = iota // not reached yet
	PhaseActive                        // the current phase
	PhasePassed                        // left with a passing gate
	PhaseWarned                        // left with a warning gate
	PhaseOverridden                    // left with a red gate, overridden with a reason
	PhaseAborted                       // the run was aborted in it
)

var phaseStatusNames = [...]string{"waiting", "active", "passed", "warned", "overridden", "aborted"}

func (s PhaseStatus) String() string {
	if int(s) < len(phaseStatusNames) {
		return phaseStatusNames[s]
	}
	return fmt.Sprintf("PhaseStatus(%d)", s)
}

// MarshalText writes the status by name.
func (s PhaseStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Outcome is how a run ended.
type Outcome uint8

// Outcomes of a run, from best to worst.
const (
	OutcomeRunning Outcome = iota // not finished
	OutcomePassed                 // every gate passed
	OutcomeWarned                 // passed with warnings or overrides
	OutcomeFailed                 // aborted or left unfinished with a red gate
)

var outcomeNames = [...]string{"running", "passed", "passed with warnings or overrides", "failed"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", o)
}

// MarshalText writes the outcome by name.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// GateVerdict is a gate's judgement of its phase.
type GateVerdict struct {
	Status  probes.Status `json:"status"`
	Message string        `json:"message"`
}

// Decision is an operator's confirmation, skip or override.
type Decision struct {
	Operator string    `json:"operator"`
	Text     string    `json:"text,omitempty"` // the note or reason
	At       time.Time `json:"at"`
}

// historyLen is how many past results a step keeps for its status strip.
const historyLen = 20

// StepState is a step's live state.
type StepState struct {
	ID      string
	Status  StepStatus
	RunID   uint64 // of the run whose result is awaited; older results are dropped
	Attempt int
	// Last is the latest result (HasResult false before any).
	Last      probes.Result
	HasResult bool
	// History is the status of the last results, oldest first.
	History []probes.Status
	// Consecutive counts failed results in a row (repeating probes).
	Consecutive int
	// Tally counts what the step observed since its current run began;
	// the rule that closes a running step reads it.
	Tally Tally
	// Why is the evidence line of a final status that the last result
	// alone does not explain: a window that closed on an unsettled or
	// failing observation, a phase left or a run aborted while the step
	// ran, a breach, failures that were not in a row. Empty otherwise.
	Why string
	// Breached is set when a repeating probe failed FailAfter times in a
	// row during its window.
	Breached bool
	NextDue  time.Time // repeating probes: when the next run is due
	// Load is the summary of a load step's last finished run; Workers how
	// its workers reported, when it ran distributed.
	Load    *report.Document
	Workers *LoadWorkersReport
	// LoadRun is a distributed load step's run ("namespace/name") whose
	// objects may exist: set when the step is confirmed, before anything
	// is created, cleared when they are reported deleted. Found set on
	// resume, they are deleted before the step runs again.
	LoadRun string
	Confirm *Decision
	Skip    *Decision
	// Stage is what of an action step is out with the runner: a dry run,
	// an execution, an undo, a cleanup — one at a time, or none.
	Stage ActionStage
	// Plan is an action's latest dry run, Action its last execution, Undo
	// the last undo of a failed rollout, Cleaned the taking back of what
	// it left (a silence expired).
	Plan   *actions.Result
	Action *actions.Result
	Undo   *actions.Result
	// Interrupted is set when the cockpit died while the step's mutating
	// action executed: what it did is unknown until a person looks, so a
	// headless run's --auto-confirm-actions does not execute it again
	// (an explicit --confirm does). Cleared by a confirmation.
	Interrupted bool
	Cleaned     *actions.Result
	Override    *Decision
	UpdatedAt   time.Time
	StartedAt   time.Time
	FinishedAt  time.Time
}

// PhaseState is a phase's live state.
type PhaseState struct {
	ID        string
	Status    PhaseStatus
	EnteredAt time.Time
	LeftAt    time.Time
	Verdict   GateVerdict // when left
	Override  *Decision
	// Access is the review of the permissions the phase's steps need
	// (phases with Kubernetes actions), nil until it comes back.
	Access *probes.Result
	Steps  []StepState
}

// State is the whole run. Apply never changes a State it is given; it
// returns a new one.
type State struct {
	Runbook  *Runbook
	Operator string
	Started  bool
	// AllowActions is the run's mode: false (read-only) dry-runs mutating
	// actions and refuses to execute them.
	AllowActions bool
	Now          time.Time
	Current      int // index of the current phase
	Phases       []PhaseState
	Outcome      Outcome
	Reason       string // why the run ended early
	// ResumedAt is when the run was last resumed after the cockpit
	// stopped (zero if never): an observation older than it saw nothing
	// of the time the cockpit was down.
	ResumedAt time.Time
	nextRun   uint64
	gates     []probes.Outcomes // compiled gate rules per phase (nil: default)
}

// NewState returns the initial state of a run of rb.
func NewState(rb *Runbook) State {
	s := State{Runbook: rb}
	for _, ph := range rb.Phases {
		ps := PhaseState{ID: ph.ID}
		for _, st := range ph.Steps {
			ps.Steps = append(ps.Steps, StepState{ID: st.ID})
		}
		s.Phases = append(s.Phases, ps)
		var rules probes.Outcomes
		if ph.Gate != nil {
			// Validated at parse time; a compile error cannot happen here.
			rules, _ = probes.CompileOutcomes(ph.Gate.Outcomes, GateValues)
		}
		s.gates = append(s.gates, rules)
	}
	return s
}

// clone copies the state deeply enough that Apply may mutate the copy.
func (s State) clone() State {
	out := s
	out.Phases = slices.Clone(s.Phases)
	for i := range out.Phases {
		out.Phases[i].Steps = slices.Clone(s.Phases[i].Steps)
		for j := range out.Phases[i].Steps {
			out.Phases[i].Steps[j].History = slices.Clone(s.Phases[i].Steps[j].History)
		}
	}
	return out
}

// Find returns the phase and step index of a step id.
func (s State) Find(step string) (phase, index int, ok bool) {
	for pi, ph := range s.Phases {
		for si, st := range ph.Steps {
			if st.ID == step {
				return pi, si, true
			}
		}
	}
	return 0, 0, false
}

// UnmetNeeds names the needs of a step that have not passed, or "".
func (s State) UnmetNeeds(step string) string {
	pi, si, ok := s.Find(step)
	if !ok {
		return ""
	}
	e := engine{s: &s}
	return e.unmetNeeds(&s.Runbook.Phases[pi].Steps[si])
}

// Finished reports whether the run has ended.
func (s State) Finished() bool { return s.Outcome != OutcomeRunning }

// Apply applies one event at its time and returns the new state and the
// effects for the runner. It is pure: no clock, no I/O, no goroutines.
func Apply(s State, at At) (State, []Effect) {
	s = s.clone()
	if at.Time.After(s.Now) {
		s.Now = at.Time
	}
	e := engine{s: &s}
	e.apply(at.Event)
	return s, e.effects
}

type engine struct {
	s       *State
	effects []Effect
}

func (e *engine) emit(eff Effect) { e.effects = append(e.effects, eff) }

func (e *engine) refuse(ev Event, format string, args ...any) {
	e.emit(Refused{Event: ev.EventType(), Reason: fmt.Sprintf(format, args...)})
}

func (e *engine) apply(ev Event) {
	s := e.s
	if _, ok := ev.(Started); !ok && !s.Started {
		e.refuse(ev, "%s", s.eventRefusal())
		return
	}
	switch ev := ev.(type) {
	case LoadInterval, LoadControlFailed:
		return // evidence for the report: it changes no state, even late
	case ActionCleaned:
		e.actionCleaned(ev) // what a run left is taken back after it ends too
		return
	case LoadWorkersChanged:
		e.loadWorkers(ev) // a distributed load's objects are deleted after it ends too
		return
	case ActionDone:
		if s.Finished() {
			e.actionDone(ev) // an execution out when the run was aborted
			return
		}
	case ActionUndone:
		if s.Finished() {
			e.actionUndone(ev)
			return
		}
	case Resumed:
		if s.Finished() {
			// A crash after the end: what is still out is taken back.
			e.resendCleanups()
			e.resumeLoads()
			return
		}
	}
	if s.Finished() {
		e.refuse(ev, "%s", s.eventRefusal())
		return
	}
	switch ev := ev.(type) {
	case Started:
		if s.Started {
			return // a resumed run: the journal's first event again
		}
		s.Started, s.Operator, s.AllowActions = true, ev.Operator, ev.AllowActions
		e.enter(0)
	case Tick:
		e.tick()
	case RunStep:
		e.runStep(ev)
	case RunPhase:
		e.startRunnable(true)
	case ProbeResult:
		e.probeResult(ev)
	case LoadResult:
		e.loadResult(ev)
	case LoadControl:
		e.loadControl(ev)
	case Confirmed:
		e.confirm(ev)
	case Skipped:
		e.skip(ev)
	case Overridden:
		e.override(ev)
	case Advance:
		e.advance(ev)
	case Resumed:
		s.AllowActions, s.ResumedAt = ev.AllowActions, s.Now
		e.resume()
	case ActionPlanned:
		e.actionPlanned(ev)
	case ActionDone:
		e.actionDone(ev)
	case UndoRequested:
		e.undoRequested(ev)
	case ActionUndone:
		e.actionUndone(ev)
	case AccessReviewed:
		e.accessReviewed(ev)
	case Aborted:
		e.closeRunning(closeAborted)
		s.Phases[s.Current].Status = PhaseAborted
		s.Phases[s.Current].LeftAt = s.Now
		e.finish(OutcomeFailed, "aborted by "+ev.Operator+": "+ev.Reason)
	default:
		e.refuse(ev, "unknown event %T", ev)
	}
}

func (e *engine) phase() (*Phase, *PhaseState) {
	return &e.s.Runbook.Phases[e.s.Current], &e.s.Phases[e.s.Current]
}

// enter makes phase i current and starts its runnable probes.
func (e *engine) enter(i int) {
	s := e.s
	s.Current = i
	ps := &s.Phases[i]
	ps.Status, ps.EnteredAt = PhaseActive, s.Now
	e.emit(PhaseEntered{Phase: ps.ID})
	if needsAccessReview(&s.Runbook.Phases[i]) {
		e.emit(ReviewAccess{Phase: ps.ID})
	}
	e.startRunnable(false)
}

// startRunnable starts every probe step of the current phase that is not
// running and whose needs have passed; with again, finished ones too.
func (e *engine) startRunnable(again bool) {
	ph, ps := e.phase()
	for i := range ph.Steps {
		st, ss := &ph.Steps[i], &ps.Steps[i]
		if st.Mutating() {
			if ss.Status == StepPending && ss.Plan == nil && !ss.Planning() && e.unmetNeeds(st) == "" {
				e.plan(st, ss)
			}
			continue
		}
		if !st.runnable() || ss.Status == StepRunning || ss.Status == StepSkipped || ss.Status == StepOverridden {
			continue
		}
		if ss.Status != StepPending && !again {
			continue
		}
		if e.unmetNeeds(st) != "" {
			continue
		}
		e.start(st, ss, 1)
	}
}

// unmetNeeds names the needs of st that have not passed, or "".
func (e *engine) unmetNeeds(st *Step) string {
	var unmet []string
	for _, n := range st.Needs {
		pi, si, ok := e.s.Find(n)
		if !ok || !e.s.Phases[pi].Steps[si].Status.done() || e.s.Phases[pi].Steps[si].Status == StepSkipped {
			unmet = append(unmet, n)
		}
	}
	return strings.Join(unmet, ", ")
}

func (e *engine) start(st *Step, ss *StepState, attempt int) {
	e.s.nextRun++
	ss.RunID, ss.Attempt, ss.Status = e.s.nextRun, attempt, StepRunning
	ss.UpdatedAt = e.s.Now
	if attempt == 1 {
		ss.StartedAt = e.s.Now
		ss.Consecutive, ss.Breached = 0, false
		ss.Tally, ss.Why = Tally{}, ""
	}
	if st.Load != nil {
		e.emit(StartLoad{Phase: e.s.Phases[e.s.Current].ID, Step: st.ID, RunID: ss.RunID, Attempt: attempt})
		return
	}
	if st.Action != nil {
		if st.Mutating() {
			ss.Stage = ActionExecuting
		}
		e.emit(ExecuteAction{Phase: e.s.Phases[e.s.Current].ID, Step: st.ID, RunID: ss.RunID, Attempt: attempt})
		return
	}
	e.emit(StartProbe{Phase: e.s.Phases[e.s.Current].ID, Step: st.ID, RunID: ss.RunID, Attempt: attempt})
}

// resume re-runs what was in flight when the previous process died.
func (e *engine) resume() {
	ph, ps := e.phase()
	if !e.s.Finished() && ps.Status == PhaseActive && needsAccessReview(ph) {
		// The credentials may not be those of the run that stopped: the
		// review is done again before anything is confirmed.
		ps.Access = nil
		e.emit(ReviewAccess{Phase: ps.ID})
	}
	e.resumeActions()
	for i := range ph.Steps {
		st, ss := &ph.Steps[i], &ps.Steps[i]
		if ss.RunID == 0 || st.Mutating() {
			continue
		}
		if st.Every > 0 {
			ss.RunID = 0 // the next Tick schedules it
			continue
		}
		e.start(st, ss, ss.Attempt)
	}
}

func (e *engine) runStep(ev RunStep) {
	pi, si, ok := e.s.Find(ev.Step)
	if !ok {
		e.refuse(ev, "no step %q", ev.Step)
		return
	}
	if pi != e.s.Current {
		e.refuse(ev, "step %q belongs to phase %q, not the current %q", ev.Step, e.s.Phases[pi].ID, e.s.Phases[e.s.Current].ID)
		return
	}
	st, ss := &e.s.Runbook.Phases[pi].Steps[si], &e.s.Phases[pi].Steps[si]
	if st.Mutating() {
		e.replan(ev, st, ss)
		return
	}
	if !st.runnable() {
		e.refuse(ev, "step %q is a manual step: confirm it", ev.Step)
		return
	}
	if unmet := e.unmetNeeds(st); unmet != "" {
		e.refuse(ev, "step %q needs %s to pass first", ev.Step, unmet)
		return
	}
	ss.Override, ss.Skip = nil, nil // a re-run is judged afresh
	e.start(st, ss, 1)
}

func (e *engine) probeResult(ev ProbeResult) {
	pi, si, ok := e.s.Find(ev.Step)
	if !ok || pi != e.s.Current {
		return // a result for a step of a phase already left: stale
	}
	st, ss := &e.s.Runbook.Phases[pi].Steps[si], &e.s.Phases[pi].Steps[si]
	if ev.RunID == 0 || ev.RunID != ss.RunID {
		return // stale: a newer run superseded it, or none is out
	}
	res := ev.Result
	ss.Last, ss.HasResult, ss.UpdatedAt = res, true, e.s.Now
	ss.History = appendHistory(ss.History, res.Status)
	ss.Tally.add(res.Status, e.s.Now)
	if st.Every > 0 {
		e.repeatingResult(st, ss, res)
		return
	}
	ss.RunID = 0
	switch {
	case res.Status == probes.StatusPending:
		e.start(st, ss, ss.Attempt) // not judgeable yet: look again
	case res.Status == probes.StatusPass:
		ss.Status, ss.FinishedAt = StepPassed, e.s.Now
	case res.Status == probes.StatusWarn:
		ss.Status, ss.FinishedAt = StepWarned, e.s.Now
	case ss.Attempt <= st.Retries:
		e.start(st, ss, ss.Attempt+1)
		return
	default:
		ss.Status, ss.FinishedAt = StepFailed, e.s.Now
	}
	if ss.Status.done() {
		e.startRunnable(false) // its dependents may run now
	}
}

// loadResult judges a finished load test like a probe result and keeps
// its summary for the report.
func (e *engine) loadResult(ev LoadResult) {
	pi, si, ok := e.s.Find(ev.Step)
	if !ok || pi != e.s.Current || ev.RunID == 0 || ev.RunID != e.s.Phases[pi].Steps[si].RunID {
		return // stale
	}
	e.s.Phases[pi].Steps[si].Load = ev.Report
	e.s.Phases[pi].Steps[si].Workers = ev.Workers
	e.probeResult(ProbeResult{Step: ev.Step, RunID: ev.RunID, Result: ev.Result})
}

// loadControl passes an operator's change to a running load test of the
// current phase, refusing what its executor cannot do.
func (e *engine) loadControl(ev LoadControl) {
	st, ss, ok := e.currentStep(ev, ev.Step)
	if !ok {
		return
	}
	if st.Load == nil {
		e.refuse(ev, "step %q is not a load test", ev.Step)
		return
	}
	if ss.Status != StepRunning {
		e.refuse(ev, "load test %q is not running (%s)", ev.Step, ss.Status)
		return
	}
	open := loader.ExecutorKind(st.Load.Executor).Open()
	switch ev.Op {
	case LoadPause, LoadResume, LoadStop:
	case LoadRate:
		if !open {
			e.refuse(ev, "load test %q runs VUs (a closed model): change its VUs, not its rate", ev.Step)
			return
		}
		if ev.Value <= 0 {
			e.refuse(ev, "a rate must be > 0, got %v", ev.Value)
			return
		}
	case LoadVUs: // the VUs of a closed model, the VU cap of an open one
		if ev.Value < 1 || ev.Value != float64(int(ev.Value)) {
			e.refuse(ev, "VUs must be a whole number >= 1, got %v", ev.Value)
			return
		}
	default:
		e.refuse(ev, "unknown load control %q (pause, resume, rate, vus, stop)", ev.Op)
		return
	}
	e.emit(ControlLoad{Step: ev.Step, Op: ev.Op, Value: ev.Value})
}

// failAfter is how many failed results in a row make a repeating probe a
// sustained breach.
func failAfter(st *Step) int {
	if st.FailAfter > 0 {
		return st.FailAfter
	}
	return 1
}

func (e *engine) repeatingResult(st *Step, ss *StepState, res probes.Result) {
	ss.NextDue = e.s.Now.Add(time.Duration(st.Every))
	switch res.Status {
	case probes.StatusPass, probes.StatusWarn, probes.StatusPending:
		ss.Consecutive = 0
	default:
		ss.Consecutive++
		ss.Tally.Streak = max(ss.Tally.Streak, ss.Consecutive)
		if ss.Consecutive >= failAfter(st) && !ss.Breached {
			ss.Breached = true
			ss.Why = fmt.Sprintf("breached at %s: %d failed observations in a row (failAfter %d)",
				e.s.Now.UTC().Format("15:04:05"), ss.Consecutive, failAfter(st))
		}
	}
	if ss.Breached {
		ss.Status = StepFailed // a sustained breach stands for the window
	}
	ss.RunID = 0 // no run is out until the next one is due
}

// tick runs due repeating probes and closes a monitor window.
func (e *engine) tick() {
	ph, ps := e.phase()
	windowOver := ph.Duration > 0 && !e.s.Now.Before(ps.EnteredAt.Add(time.Duration(ph.Duration)))
	for i := range ph.Steps {
		st, ss := &ph.Steps[i], &ps.Steps[i]
		if st.Every == 0 || st.Probe == nil {
			continue
		}
		if windowOver {
			switch {
			case ss.Status != StepRunning:
			case e.unobservedSinceResume(ss):
				// The window closed while the cockpit was down: what was
				// seen before says nothing of the time since, so it looks
				// once more before the step is judged.
				if ss.RunID == 0 {
					e.probeAgain(ps, st, ss)
				}
			default:
				e.closeStep(st, ss, e.windowClosed(ps, ph))
			}
			continue
		}
		watching := ss.Status == StepRunning || ss.Breached // a breached probe is still watched
		if watching && ss.RunID == 0 && !e.s.Now.Before(ss.NextDue) && e.unmetNeeds(st) == "" {
			e.probeAgain(ps, st, ss)
		}
	}
}

// probeAgain sends a repeating step's next observation out.
func (e *engine) probeAgain(ps *PhaseState, st *Step, ss *StepState) {
	e.s.nextRun++
	ss.RunID = e.s.nextRun
	e.emit(StartProbe{Phase: ps.ID, Step: st.ID, RunID: ss.RunID, Attempt: 1})
}

func (e *engine) currentStep(ev Event, id string) (*Step, *StepState, bool) {
	st, ss, why := e.s.currentStep(id)
	if why != "" {
		e.refuse(ev, "%s", why)
		return nil, nil, false
	}
	return st, ss, true
}

func (e *engine) confirm(ev Confirmed) {
	st, ss, ok := e.currentStep(ev, ev.Step)
	if !ok {
		return
	}
	if st.Action != nil || st.Mutating() {
		e.confirmAction(ev, st, ss)
		return
	}
	if why := e.s.confirmManualRefusal(ev, st, true); why != "" {
		e.refuse(ev, "%s", why)
		return
	}
	ss.Status, ss.FinishedAt, ss.UpdatedAt = StepPassed, e.s.Now, e.s.Now
	ss.Confirm = &Decision{Operator: ev.Operator, Text: ev.Note, At: e.s.Now}
	e.startRunnable(false)
}

func (e *engine) skip(ev Skipped) {
	st, ss, ok := e.currentStep(ev, ev.Step)
	if !ok {
		return
	}
	if !st.Optional {
		e.refuse(ev, "step %q is required: only optional steps can be skipped (override it with a reason instead)", ev.Step)
		return
	}
	if ss.Undoing() || ss.Status == StepRunning && st.Mutating() {
		e.refuse(ev, "step %q is changing things right now: wait for its result", ev.Step)
		return
	}
	ss.Status, ss.FinishedAt, ss.UpdatedAt, ss.RunID = StepSkipped, e.s.Now, e.s.Now, 0
	ss.Skip = &Decision{Operator: ev.Operator, Text: ev.Reason, At: e.s.Now}
}

func (e *engine) override(ev Overridden) {
	if strings.TrimSpace(ev.Reason) == "" || ev.Operator == "" {
		e.refuse(ev, "an override needs an operator and a reason")
		return
	}
	d := &Decision{Operator: ev.Operator, Text: ev.Reason, At: e.s.Now}
	switch {
	case ev.Step != "" && ev.Phase == "":
		_, ss, ok := e.currentStep(ev, ev.Step)
		if !ok {
			return
		}
		if ss.Status != StepFailed {
			e.refuse(ev, "step %q is %s, not failed: nothing to override", ev.Step, ss.Status)
			return
		}
		if ss.Undoing() {
			e.refuse(ev, "step %q is being undone: wait for the undo's result", ev.Step)
			return
		}
		ss.Status, ss.Override, ss.UpdatedAt, ss.RunID = StepOverridden, d, e.s.Now, 0
		e.startRunnable(false)
	case ev.Phase != "" && ev.Step == "":
		_, ps := e.phase()
		if ev.Phase != ps.ID {
			e.refuse(ev, "phase %q is not the current phase %q", ev.Phase, ps.ID)
			return
		}
		if v := e.gate(e.s.Current); v.Status.OK() {
			e.refuse(ev, "the gate of phase %q is %s: nothing to override", ps.ID, v.Status)
			return
		}
		ps.Override = d
	default:
		e.refuse(ev, "an override names a step or a phase")
	}
}

func (e *engine) advance(ev Advance) {
	_, ps := e.phase()
	if busy := e.busyAction(); busy != "" {
		e.refuse(ev, "step %q is changing things right now: wait for its result before leaving phase %q", busy, ps.ID)
		return
	}
	// Steps still running get their final word before the gate is read:
	// the gate judges what they observed, and a refusal leaves them be.
	was := slices.Clone(ps.Steps)
	e.closeRunning(closeLeft)
	v := e.gate(e.s.Current)
	switch {
	case v.Status.OK():
		ps.Status = PhasePassed
		if v.Status == probes.StatusWarn {
			ps.Status = PhaseWarned
		}
	case ps.Override != nil:
		ps.Status = PhaseOverridden
	default:
		ps.Steps = was
		e.refuse(ev, "gate of phase %q is %s: %s", ps.ID, v.Status, v.Message)
		return
	}
	ps.Verdict, ps.LeftAt = v, e.s.Now
	// Whatever is still out is no longer awaited.
	for i := range ps.Steps {
		ps.Steps[i].RunID = 0
	}
	e.emit(PhaseLeft{Phase: ps.ID, Verdict: v})
	e.cleanups(ps.ID)
	if e.s.Current+1 < len(e.s.Phases) {
		e.enter(e.s.Current + 1)
		return
	}
	outcome := OutcomePassed
	for _, p := range e.s.Phases {
		if p.Status != PhasePassed {
			outcome = OutcomeWarned
		}
	}
	e.finish(outcome, "")
}

func (e *engine) finish(o Outcome, reason string) {
	e.cleanups("")
	e.s.Outcome, e.s.Reason = o, reason
	e.emit(Finished{Outcome: o})
}

// Gate judges phase i from its steps as they stand.
func (s State) Gate(i int) GateVerdict {
	e := engine{s: &s}
	return e.gate(i)
}

func (e *engine) gate(i int) GateVerdict {
	ph, ps := &e.s.Runbook.Phases[i], &e.s.Phases[i]
	vals := map[string]float64{}
	var failed, waiting []string
	for j, st := range ph.Steps {
		ss := ps.Steps[j]
		vals["steps"]++
		if !st.Optional {
			vals["required"]++
			if !ss.Status.done() || ss.Status == StepSkipped {
				vals["required_not_passed"]++
			}
		}
		switch ss.Status {
		case StepPending, StepRunning:
			vals["pending"]++
			if !st.Optional {
				waiting = append(waiting, st.ID)
			}
		case StepPassed:
			vals["passed"]++
		case StepWarned:
			vals["warned"]++
		case StepFailed:
			vals["failed"]++
			if !st.Optional {
				failed = append(failed, st.ID)
			}
		case StepSkipped:
			vals["skipped"]++
		case StepOverridden:
			vals["overridden"]++
		}
	}
	if ph.Duration > 0 && ps.Status == PhaseActive && e.s.Now.Before(ps.EnteredAt.Add(time.Duration(ph.Duration))) && len(failed) == 0 {
		left := ps.EnteredAt.Add(time.Duration(ph.Duration)).Sub(e.s.Now).Round(time.Second)
		return GateVerdict{Status: probes.StatusPending, Message: fmt.Sprintf("monitoring: %s of the window left", left)}
	}
	if rules := e.s.gates[i]; rules != nil {
		if len(waiting) > 0 {
			return GateVerdict{Status: probes.StatusPending, Message: "waiting for " + strings.Join(waiting, ", ")}
		}
		res := probes.Judge(probes.Observation{Values: vals}, rules)
		return GateVerdict{Status: res.Status, Message: res.Message}
	}
	switch {
	case len(failed) > 0:
		return GateVerdict{Status: probes.StatusFail, Message: fmt.Sprintf("%d required step(s) failed: %s", len(failed), strings.Join(failed, ", "))}
	case len(waiting) > 0:
		return GateVerdict{Status: probes.StatusPending, Message: "waiting for " + strings.Join(waiting, ", ")}
	case vals["warned"] > 0 || vals["overridden"] > 0:
		return GateVerdict{Status: probes.StatusWarn, Message: fmt.Sprintf("%v warned, %v overridden", vals["warned"], vals["overridden"])}
	}
	return GateVerdict{Status: probes.StatusPass, Message: fmt.Sprintf("%v of %v required step(s) passed", vals["required"]-vals["required_not_passed"], vals["required"])}
}
