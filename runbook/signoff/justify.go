package signoff

import (
	"fmt"
	"reflect"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
)

// The sign-off's invariant: every step it reports passed, warned,
// overridden or skipped points at the journal record that justifies it —
// its last observation (read from that record's own payload), the
// confirmation, the override, the skip. A report whose replayed state
// claims more than its journal shows is not rendered: Build fails and
// names the step.

// justification is what the journal holds for one step: the sequence
// numbers of the records that last changed it, by kind.
type justification struct {
	obs     uint64        // the last accepted observation (probe, load, action result)
	obsSaid probes.Status // the status that record carries
	confirm uint64
	over    uint64
	skip    uint64
}

// evidenceIndex maps a step id to its justification.
type evidenceIndex map[string]*justification

// note records what the event at seq did to its step, if it changed it
// (a stale result changes nothing and justifies nothing).
func (ix evidenceIndex) note(prev, s runbook.State, seq uint64, ev runbook.Event) {
	var step string
	var said probes.Status
	obs := false
	switch ev := ev.(type) {
	case runbook.ProbeResult:
		step, said, obs = ev.Step, ev.Result.Status, true
	case runbook.LoadResult:
		step, said, obs = ev.Step, ev.Result.Status, true
	case runbook.ActionDone:
		step, said, obs = ev.Step, ev.Result.Status, true
	case runbook.ActionPlanned:
		step, said, obs = ev.Step, ev.Result.Status, !ev.Result.Status.OK() // a failed dry run is its step's result
	case runbook.Confirmed:
		step = ev.Step
	case runbook.Overridden:
		step = ev.Step
	case runbook.Skipped:
		step = ev.Step
	default:
		return
	}
	pi, si, ok := s.Find(step)
	if !ok || reflect.DeepEqual(prev.Phases[pi].Steps[si], s.Phases[pi].Steps[si]) {
		return
	}
	j := ix[step]
	if j == nil {
		j = &justification{}
		ix[step] = j
	}
	switch ev.(type) {
	case runbook.Confirmed:
		j.confirm = seq
	case runbook.Overridden:
		j.over = seq
	case runbook.Skipped:
		j.skip = seq
	default:
		if obs {
			j.obs, j.obsSaid = seq, said
		}
	}
}

// justify returns the journal record that justifies a step's reported
// status (0 for a status that claims nothing: pending, running, failed),
// or an error naming the step when the journal does not show it.
func (ix evidenceIndex) justify(st *runbook.Step, ss runbook.StepState) (uint64, error) {
	j := ix[ss.ID]
	if j == nil {
		j = &justification{}
	}
	claim := func(seq uint64, ok bool, what string) (uint64, error) {
		if seq == 0 || !ok {
			return 0, fmt.Errorf("step %q is reported %s, but the journal shows %s", ss.ID, ss.Status, what)
		}
		return seq, nil
	}
	lastObs := "no observation of it"
	if j.obs != 0 {
		lastObs = fmt.Sprintf("its last observation (record %d) %s", j.obs, j.obsSaid)
	}
	switch ss.Status {
	case runbook.StepOverridden:
		return claim(j.over, true, "no override of it")
	case runbook.StepSkipped:
		return claim(j.skip, true, "no skip of it")
	case runbook.StepPassed:
		if st.Manual != nil {
			return claim(j.confirm, true, "no confirmation of it")
		}
		return claim(j.obs, j.obsSaid == probes.StatusPass, lastObs)
	case runbook.StepWarned:
		return claim(j.obs, j.obsSaid.OK(), lastObs)
	}
	return 0, nil
}
