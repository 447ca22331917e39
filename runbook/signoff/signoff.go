package signoff

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/report"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// SchemaVersion is the version of the JSON report.
const SchemaVersion = 1

// Verdicts.
const (
	VerdictGo           = "GO"
	VerdictGoOverrides  = "GO WITH OVERRIDES"
	VerdictGoWarnings   = "GO WITH WARNINGS"
	VerdictNoGo         = "NO-GO"
	VerdictIncompleteNo = "NO-GO (INCOMPLETE)"
)

// Report is the sign-off of one run.
type Report struct {
	Schema      int    `json:"schema"`
	Runbook     string `json:"runbook"`
	Description string `json:"description,omitempty"`
	File        string `json:"file"`
	Digest      string `json:"digest"`
	Journal     string `json:"journal"`
	Events      int    `json:"events"`
	// Torn is set when the journal's last line was cut by a crash.
	Torn     bool   `json:"torn,omitempty"`
	Cockpit  string `json:"cockpit,omitempty"`
	Hostname string `json:"hostname,omitempty"`

	Verdict string `json:"verdict"`
	// Reason says why: the failing gate, the abort, the phase the run
	// stopped in.
	Reason    string    `json:"reason,omitempty"`
	Started   time.Time `json:"started"`
	Ended     time.Time `json:"ended"`
	Operators []string  `json:"operators"`

	// Mode is "read-only" or "actions enabled" (--allow-actions), as the
	// run was last started or resumed, or "read-only since its last resume;
	// actions were enabled before" when the two differ that way.
	Mode string `json:"mode"`
	// actionsEver: some start or resume of the run allowed actions.
	actionsEver bool
	Phases      []Phase `json:"phases"`
	Loads       []Load  `json:"loads,omitempty"`
	loadIx      loadIndex
	// Changes are what the run's actions did, in order: every execution,
	// undo and cleanup, with the objects touched and their versions.
	Changes       []Change   `json:"changes"`
	Overrides     []Decision `json:"overrides"`
	Confirmations []Decision `json:"confirmations"`
	Skips         []Decision `json:"skips,omitempty"`
	Timeline      []Entry    `json:"timeline"`
}

// Phase is one phase's gate and steps.
type Phase struct {
	ID          string    `json:"id"`
	Title       string    `json:"title,omitempty"`
	Status      string    `json:"status"`
	Gate        string    `json:"gate"`
	GateMessage string    `json:"gateMessage,omitempty"`
	Entered     time.Time `json:"entered,omitzero"`
	Left        time.Time `json:"left,omitzero"`
	Override    *Decision `json:"override,omitempty"`
	Steps       []Step    `json:"steps"`
}

// Step is one row of a phase table: what was wanted, what was measured.
type Step struct {
	ID       string    `json:"id"`
	Title    string    `json:"title,omitempty"`
	Kind     string    `json:"kind"`
	Target   string    `json:"target"`
	Achieved string    `json:"achieved"`
	Status   string    `json:"status"`
	Evidence string    `json:"evidence,omitempty"`
	Optional bool      `json:"optional,omitempty"`
	Attempts int       `json:"attempts,omitempty"`
	At       time.Time `json:"at,omitzero"`
	// Record is the journal record (its seq) that justifies a passed,
	// warned, overridden or skipped status: the last observation, the
	// confirmation, the override, the skip.
	Record uint64 `json:"record,omitempty"`
}

// Load is a load step's final measurement.
type Load struct {
	Step    string          `json:"step"`
	Phase   string          `json:"phase"`
	Target  string          `json:"target"`
	Summary report.Document `json:"summary"`
	// RunID is the run whose verdict this is; Intervals are the
	// load.interval events it journaled (Window merges any span of them);
	// OtherRuns the step's runs that reached no verdict, with theirs.
	RunID     uint64            `json:"runId,omitempty"`
	Intervals []loader.Interval `json:"-"`
	OtherRuns []LoadRun         `json:"otherRuns,omitempty"`
	// Workers says how a distributed load step's workers reported ("3 of
	// 3 workers reporting", the lost ones, the incomplete intervals); nil
	// for a load test run in the cockpit.
	Workers *runbook.LoadWorkersReport `json:"workers,omitempty"`
}

// WorkersLine is a distributed load's workers in one line, "" for a local
// one: "Workers: 3 of 3 workers reporting; every interval complete." or,
// with a worker missing, why the figures are not the whole test's.
func (l Load) WorkersLine() string {
	w := l.Workers
	if w == nil {
		return ""
	}
	if w.Complete() {
		return fmt.Sprintf("Workers: %s (run %s); every interval complete.", w, w.Run)
	}
	return fmt.Sprintf("Workers: %s (run %s). INCOMPLETE: these figures are not the whole test's.", w, w.Run)
}

// Change is one thing an action did to the world.
type Change struct {
	Phase string `json:"phase"`
	Step  string `json:"step"`
	Kind  string `json:"kind"`
	// What is "executed", "undo" or "cleanup".
	What     string           `json:"what"`
	Target   string           `json:"target"`
	Operator string           `json:"operator,omitempty"` // who confirmed (or asked for the undo)
	Status   string           `json:"status"`
	Summary  string           `json:"summary"`
	Message  string           `json:"message,omitempty"`
	Objects  []actions.Object `json:"objects,omitempty"`
	At       time.Time        `json:"at"`
}

// Decision is an operator's override, confirmation or skip.
type Decision struct {
	Phase    string    `json:"phase"`
	Step     string    `json:"step,omitempty"` // empty: the phase gate
	Operator string    `json:"operator"`
	Text     string    `json:"text,omitempty"`
	At       time.Time `json:"at"`
	// Overrode is what was accepted red (the step's result or the gate's
	// message at the time).
	Overrode string `json:"overrode,omitempty"`
}

// Entry is one line of the timeline.
type Entry struct {
	At    time.Time `json:"at"`
	Phase string    `json:"phase,omitempty"`
	Step  string    `json:"step,omitempty"`
	What  string    `json:"what"`
}

// redactedEnv stands in for every ${env:…} value when the runbook is
// rebuilt from the journal: a report never reads secrets.
func redactedEnv(string) (string, bool) { return "[REDACTED]", true }

// FromJournal reads and verifies the journal at path and builds its report.
func FromJournal(path string) (*Report, error) {
	rr, err := runbook.ReadJournal(path)
	if err != nil {
		return nil, err
	}
	return Build(rr, path)
}

// Build makes the report of a verified journal.
func Build(rr *runbook.ReadResult, path string) (*Report, error) {
	h := rr.Header
	if h.Source == "" {
		return nil, fmt.Errorf("%s: the journal does not keep its runbook (written by an older cockpit); no report can be built from it alone", path)
	}
	rb, err := runbook.Parse(h.File, []byte(h.Source), runbook.Options{Vars: h.Vars, LookupEnv: redactedEnv})
	if err != nil {
		return nil, fmt.Errorf("%s: rebuild the runbook kept in the journal: %w", path, err)
	}
	events, err := rr.Events()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r := &Report{Schema: SchemaVersion, Runbook: h.Runbook, Description: rb.Metadata.Description, File: h.File,
		Digest: h.Digest, Journal: path, Events: len(events), Torn: rr.Torn, Cockpit: h.Cockpit, Hostname: h.Hostname,
		Overrides: []Decision{}, Confirmations: []Decision{}, Timeline: []Entry{}, Changes: []Change{}, Mode: "read-only"}
	if len(rr.Records) > 0 {
		r.Started = rr.Records[0].Time
		r.Ended = rr.Records[len(rr.Records)-1].Time
	}
	s, ix, operators := r.replay(rb, rr, events)
	r.Operators = slices.Sorted(func(yield func(string) bool) {
		for k := range operators {
			if !yield(k) {
				return
			}
		}
	})
	r.Verdict, r.Reason = Verdict(s)
	switch {
	case s.AllowActions:
		r.Mode = "actions enabled"
	case r.actionsEver:
		r.Mode = "read-only since its last resume; actions were enabled before"
	}
	if err := r.phases(s, ix); err != nil {
		return nil, fmt.Errorf("%s: the report is not rendered: %w", path, err)
	}
	r.attachIntervals()
	return r, nil
}

// replay applies the journal's events to a new state of rb, recording the
// timeline and decisions, and indexes the records that justify each
// step's status.
func (r *Report) replay(rb *runbook.Runbook, rr *runbook.ReadResult, events []runbook.At) (runbook.State, evidenceIndex, map[string]bool) {
	s := runbook.NewState(rb)
	operators := map[string]bool{}
	ix := evidenceIndex{}
	for i, at := range events {
		prev := s
		var effects []runbook.Effect
		s, effects = runbook.Apply(s, at)
		r.record(prev, s, at, effects, operators)
		ix.note(prev, s, rr.Records[i+1].Seq, at.Event)
		r.loadIx.note(prev, s, at.Event)
	}
	return s, ix, operators
}

// Verdict computes the sign-off verdict of a state and why.
func Verdict(s runbook.State) (verdict, reason string) {
	switch s.Outcome {
	case runbook.OutcomePassed:
		return VerdictGo, "every gate passed"
	case runbook.OutcomeWarned:
		if n := overrides(s); n > 0 {
			return VerdictGoOverrides, fmt.Sprintf("%d override(s) recorded with a reason", n)
		}
		return VerdictGoWarnings, "gates passed with warnings"
	case runbook.OutcomeFailed:
		return VerdictNoGo, s.Reason
	}
	if !s.Started {
		return VerdictIncompleteNo, "the run never started"
	}
	ps := s.Phases[s.Current]
	v := s.Gate(s.Current)
	return VerdictIncompleteNo, fmt.Sprintf("the run stopped in phase %q (gate %s: %s); later phases never ran", ps.ID, v.Status, v.Message)
}

func overrides(s runbook.State) int {
	n := 0
	for _, ps := range s.Phases {
		if ps.Override != nil {
			n++
		}
		for _, ss := range ps.Steps {
			if ss.Override != nil {
				n++
			}
		}
	}
	return n
}

// record adds what one event changed to the timeline (in the words every
// front end uses: runbook.Narrate) and to the decisions and changes.
func (r *Report) record(prev, s runbook.State, at runbook.At, effects []runbook.Effect, operators map[string]bool) {
	refused := slices.ContainsFunc(effects, func(e runbook.Effect) bool { _, ok := e.(runbook.Refused); return ok })
	switch ev := at.Event.(type) {
	case runbook.Started:
		operators[ev.Operator] = true
		r.actionsEver = r.actionsEver || ev.AllowActions
	case runbook.Resumed:
		operators[ev.Operator] = true
		r.actionsEver = r.actionsEver || ev.AllowActions
	case runbook.ActionDone:
		r.change(prev, s, at, ev.Step, "executed", ev.Result)
	case runbook.ActionUndone:
		r.change(prev, s, at, ev.Step, "undo", ev.Result)
	case runbook.ActionCleaned:
		r.change(prev, s, at, ev.Step, "cleanup", ev.Result)
	case runbook.LoadWorkersChanged:
		r.loadChange(s, at, ev)
	case runbook.UndoRequested:
		if !refused {
			operators[ev.Operator] = true
		}
	case runbook.Confirmed:
		if !refused {
			operators[ev.Operator] = true
			r.Confirmations = append(r.Confirmations, Decision{Phase: phaseOf(s, ev.Step), Step: ev.Step, Operator: ev.Operator, Text: ev.Note, At: at.Time})
		}
	case runbook.Skipped:
		if !refused {
			operators[ev.Operator] = true
			r.Skips = append(r.Skips, Decision{Phase: phaseOf(s, ev.Step), Step: ev.Step, Operator: ev.Operator, Text: ev.Reason, At: at.Time})
		}
	case runbook.Overridden:
		if !refused {
			operators[ev.Operator] = true
			d := Decision{Phase: ev.Phase, Step: ev.Step, Operator: ev.Operator, Text: ev.Reason, At: at.Time}
			if ev.Step != "" {
				d.Phase = phaseOf(prev, ev.Step)
				if pi, si, ok := prev.Find(ev.Step); ok {
					was := prev.Phases[pi].Steps[si]
					d.Overrode = strings.TrimSuffix(was.Status.String()+": "+was.Says()+" — "+was.Last.Message, " — ")
				}
			} else if pi := phaseIndex(prev, ev.Phase); pi >= 0 {
				v := prev.Gate(pi)
				d.Overrode = "gate " + v.Status.String() + ": " + v.Message
			}
			r.Overrides = append(r.Overrides, d)
		}
	case runbook.LoadControl:
		if !refused {
			operators[ev.Operator] = true
		}
	case runbook.Aborted:
		operators[ev.Operator] = true
	}
	for _, ln := range runbook.Narrate(prev, s, at, effects) {
		if ln.Kind == runbook.LineResult || ln.Kind == runbook.LinePlan {
			continue // results show as status changes; dry runs change nothing
		}
		r.Timeline = append(r.Timeline, Entry{At: at.Time, Phase: ln.Phase, Step: ln.Step, What: ln.Text()})
	}
}

// change records an action's execution, undo or cleanup that the engine
// accepted (a stale result changes nothing and is not a change).
func (r *Report) change(prev, s runbook.State, at runbook.At, step, what string, res actions.Result) {
	pi, si, ok := s.Find(step)
	if !ok {
		return
	}
	was, now := prev.Phases[pi].Steps[si], s.Phases[pi].Steps[si]
	switch what {
	case "executed":
		if now.Action == was.Action {
			return
		}
	case "undo":
		if now.Undo == was.Undo {
			return
		}
	case "cleanup":
		if now.Cleaned == was.Cleaned {
			return
		}
	}
	st := &s.Runbook.Phases[pi].Steps[si]
	c := Change{Phase: s.Phases[pi].ID, Step: step, Kind: st.Action.Kind, What: what, Target: st.Action.Spec.Describe(),
		Status: res.Status.String(), Summary: res.Summary, Message: res.Message, Objects: res.Objects, At: at.Time}
	if now.Confirm != nil && what == "executed" {
		c.Operator = now.Confirm.Operator
	}
	r.Changes = append(r.Changes, c)
}

// loadChange records what a distributed load step did to the cluster: its
// run's objects created or deleted (nothing when nothing was touched).
func (r *Report) loadChange(s runbook.State, at runbook.At, ev runbook.LoadWorkersChanged) {
	pi, si, ok := s.Find(ev.Step)
	if !ok || len(ev.Result.Objects) == 0 {
		return
	}
	st, ss := &s.Runbook.Phases[pi].Steps[si], s.Phases[pi].Steps[si]
	c := Change{Phase: s.Phases[pi].ID, Step: ev.Step, Kind: "load workers", What: ev.What, Target: st.Load.Describe(),
		Status: ev.Result.Status.String(), Summary: ev.Result.Summary, Message: ev.Result.Message, Objects: ev.Result.Objects, At: at.Time}
	if ev.What == runbook.LoadCreated && ss.Confirm != nil {
		c.Operator = ss.Confirm.Operator
	}
	r.Changes = append(r.Changes, c)
}

func phaseOf(s runbook.State, step string) string {
	if pi, _, ok := s.Find(step); ok {
		return s.Phases[pi].ID
	}
	return ""
}

func phaseIndex(s runbook.State, id string) int {
	for i, ps := range s.Phases {
		if ps.ID == id {
			return i
		}
	}
	return -1
}

// phases fills the per-phase tables and the load results from the final
// state, each status with the journal record that justifies it.
func (r *Report) phases(s runbook.State, ix evidenceIndex) error {
	for pi, ps := range s.Phases {
		ph := &s.Runbook.Phases[pi]
		p := Phase{ID: ps.ID, Title: ph.Title, Status: ps.Status.String(), Entered: ps.EnteredAt, Left: ps.LeftAt}
		switch ps.Status {
		case runbook.PhaseWaiting:
			p.Gate = "not reached"
		case runbook.PhaseActive, runbook.PhaseAborted:
			v := s.Gate(pi)
			p.Gate, p.GateMessage = v.Status.String(), v.Message
		default:
			p.Gate, p.GateMessage = ps.Verdict.Status.String(), ps.Verdict.Message
		}
		if ps.Override != nil {
			p.Override = &Decision{Phase: ps.ID, Operator: ps.Override.Operator, Text: ps.Override.Text, At: ps.Override.At}
		}
		for si, ss := range ps.Steps {
			st := &ph.Steps[si]
			row := Step{ID: st.ID, Title: st.Title, Kind: st.StepKind(), Status: ss.Status.String(), Optional: st.Optional,
				Attempts: ss.Attempt, At: ss.FinishedAt}
			if row.At.IsZero() {
				row.At = ss.UpdatedAt
			}
			switch {
			case st.Probe != nil:
				row.Kind = st.Probe.Kind
				if d, ok := st.Probe.Spec.(probes.Describer); ok {
					row.Target = d.Describe()
				}
			case st.Load != nil:
				row.Target = st.Load.Describe()
			case st.Manual != nil:
				row.Target = st.Manual.Prompt
			case st.Action != nil:
				row.Kind = st.Action.Kind
				row.Target = st.Action.Spec.Describe()
			}
			seq, err := ix.justify(st, ss)
			if err != nil {
				return err
			}
			row.Record = seq
			if ss.HasResult {
				row.Achieved = ss.Last.Summary
				row.Evidence = evidence(ss.Last)
			}
			if ss.Why != "" {
				row.Evidence = strings.TrimSuffix(ss.Why+"; "+row.Evidence, "; ")
			}
			switch {
			case ss.Confirm != nil && st.Action != nil:
				row.Evidence = strings.TrimPrefix(row.Evidence+"; executed on confirmation by "+ss.Confirm.Operator, "; ")
			case st.Action != nil && ss.Status == runbook.StepPending && ss.Plan != nil:
				row.Achieved = "dry run only: " + ss.Plan.Summary
			case ss.Confirm != nil:
				row.Achieved = "confirmed by " + ss.Confirm.Operator
				row.Evidence = ss.Confirm.Text
			case ss.Skip != nil:
				row.Evidence = "skipped by " + ss.Skip.Operator + ": " + ss.Skip.Text
			case ss.Status == runbook.StepPending:
				row.Achieved = "not run"
			}
			if ss.Override != nil {
				row.Evidence = strings.TrimPrefix(row.Evidence+"; overridden by "+ss.Override.Operator+": "+ss.Override.Text, "; ")
			}
			p.Steps = append(p.Steps, row)
			if ss.Load != nil {
				r.Loads = append(r.Loads, Load{Step: st.ID, Phase: ps.ID, Target: row.Target, Summary: *ss.Load, Workers: ss.Workers})
			}
		}
		r.Phases = append(r.Phases, p)
	}
	return nil
}

// evidence is a result's message and its items that did not pass.
func evidence(res probes.Result) string {
	var parts []string
	if res.Message != "" {
		parts = append(parts, res.Message)
	}
	n := 0
	for _, it := range res.Items {
		if it.Status == probes.StatusPass {
			continue
		}
		if n == 5 {
			parts = append(parts, "…")
			break
		}
		s := it.Name + " " + it.Status.String()
		if it.Reason != "" {
			s += " (" + it.Reason + ")"
		}
		if it.Message != "" {
			s += ": " + it.Message
		} else if it.Summary != "" {
			s += ": " + it.Summary
		}
		parts = append(parts, s)
		n++
	}
	return strings.Join(parts, "; ")
}
