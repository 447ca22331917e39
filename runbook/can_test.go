package runbook

import (
	"testing"

	"github.com/cockpit-dev/cockpit/probes"
)

// canRunbook has a manual step that needs a probe, for CanConfirm's
// manual cases.
const canRunbook = `
apiVersion: cockpit/v1
kind: Runbook
metadata: {name: can-test}
phases:
- id: preflight
  steps:
  - id: issuers
    probe: {kind: http, url: "http://127.0.0.1:1/issuers"}
  - id: notify
    manual: {prompt: "Stakeholders notified?", note: required}
  - id: go
    needs: [issuers]
    manual: {prompt: "Go?"}
- id: monitor
  steps:
  - id: watch
    manual: {prompt: "Watching?"}
`

// canCase is a state and a step to ask about.
type canCase struct {
	name string
	s    State
	step string
}

// actionStates walks the action runbook through what a confirmation or
// an undo can meet, keeping the state at each point.
func actionStates(t *testing.T) []canCase {
	t.Helper()
	var out []canCase
	keep := func(name string, s State, steps ...string) {
		for _, id := range steps {
			out = append(out, canCase{name: name + "/" + id, s: s, step: id})
		}
	}

	m, _ := actionSim(t)
	keep("not started", m.s, "apply")
	m.act(Started{Operator: "lead"})
	m.act(ActionPlanned{Step: "apply", RunID: m.runs["apply"], Result: result(probes.StatusPass, "1 object: 1 created")})
	keep("read-only", m.s, "apply", "watch", "silence", "nope")

	m, _ = actionSim(t)
	m.act(Started{Operator: "lead", AllowActions: true})
	keep("planning", m.s, "apply", "watch")
	m.act(ActionPlanned{Step: "apply", RunID: m.runs["apply"], Result: result(probes.StatusPass, "ok")})
	keep("planned", m.s, "apply")
	noPlan := m.s.clone()
	pi, si, _ := noPlan.Find("apply")
	noPlan.Phases[pi].Steps[si].Plan = nil
	keep("no plan", noPlan, "apply")
	m.act(Confirmed{Step: "apply", Operator: "lead"})
	keep("executing", m.s, "apply")
	failed := result(probes.StatusFail, "ProgressDeadlineExceeded")
	failed.UndoRevision = 3
	m.act(ActionDone{Step: "apply", RunID: m.runs["apply"], Result: failed})
	keep("rollout failed", m.s, "apply", "watch")
	m.act(UndoRequested{Step: "apply", Operator: "lead", Reason: "api 5xx"})
	keep("undoing", m.s, "apply")
	m.act(ActionUndone{Step: "apply", RunID: m.runs["apply"], Result: result(probes.StatusPass, "rolled back")})
	keep("undone", m.s, "apply")
	m.act(RunStep{Step: "apply"})
	keep("re-planning", m.s, "apply")
	m.act(Aborted{Operator: "lead", Reason: "rollback"})
	keep("finished", m.s, "apply")

	// A mutating action whose execution failed without offering an undo.
	m, _ = actionSim(t)
	m.act(Started{Operator: "lead", AllowActions: true})
	m.act(ActionPlanned{Step: "apply", RunID: m.runs["apply"], Result: result(probes.StatusPass, "ok")})
	m.act(Confirmed{Step: "apply", Operator: "lead"})
	m.act(ActionDone{Step: "apply", RunID: m.runs["apply"], Result: result(probes.StatusFail, "1 of 2 applied")})
	keep("failed without undo", m.s, "apply")
	// A failed dry run.
	m, _ = actionSim(t)
	m.act(Started{Operator: "lead", AllowActions: true})
	m.act(ActionPlanned{Step: "apply", RunID: m.runs["apply"], Result: result(probes.StatusForbidden, "forbidden: patch configmaps")})
	keep("dry run failed", m.s, "apply")
	// A rollout that failed, in a run resumed read-only.
	m, _ = actionSim(t)
	m.act(Started{Operator: "lead", AllowActions: true})
	m.act(ActionPlanned{Step: "apply", RunID: m.runs["apply"], Result: result(probes.StatusPass, "ok")})
	m.act(Confirmed{Step: "apply", Operator: "lead"})
	m.act(ActionDone{Step: "apply", RunID: m.runs["apply"], Result: failed})
	m.act(Resumed{Operator: "lead", Events: 5})
	keep("resumed read-only", m.s, "apply")

	// Manual and probe steps.
	m = newSim(t, canRunbook)
	m.do(Started{Operator: "lead"})
	keep("manual", m.s, "issuers", "notify", "go", "watch")
	m.result("issuers", probes.StatusPass)
	keep("needs met", m.s, "go")
	return out
}

// refusalOf is the reason of the Refused among effs, or "".
func refusalOf(t *testing.T, effs []Effect) string {
	t.Helper()
	var why []string
	for _, e := range effs {
		if r, ok := e.(Refused); ok {
			why = append(why, r.Reason)
		}
	}
	if len(why) > 1 {
		t.Fatalf("%d refusals: %q", len(why), why)
	}
	if len(why) == 0 {
		return ""
	}
	return why[0]
}

// CanConfirm answers what Apply does with a confirmation typed in full
// (an operator, a note): the same yes, or the same refusal word for word.
func TestCanConfirmIsTheEngines(t *testing.T) {
	refusals := 0
	for _, tc := range actionStates(t) {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := tc.s.CanConfirm(tc.step)
			_, effs := Apply(tc.s, At{Time: tc.s.Now, Event: Confirmed{Step: tc.step, Operator: "lead", Note: "a note"}})
			want := refusalOf(t, effs)
			if why != want || ok != (want == "") {
				t.Errorf("CanConfirm = %v, %q; the engine refuses with %q", ok, why, want)
			}
			if want != "" {
				refusals++
			}
		})
	}
	if refusals < 12 {
		t.Errorf("only %d cases are refused: the table no longer covers the engine's refusals", refusals)
	}
}

// CanUndo answers what Apply does with an undo to the offered revision
// with a reason: the same yes, or the same refusal word for word.
func TestCanUndoIsTheEngines(t *testing.T) {
	refusals, oks := 0, 0
	for _, tc := range actionStates(t) {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := tc.s.CanUndo(tc.step)
			_, effs := Apply(tc.s, At{Time: tc.s.Now, Event: UndoRequested{Step: tc.step, Operator: "lead", Reason: "a reason"}})
			want := refusalOf(t, effs)
			if why != want || ok != (want == "") {
				t.Errorf("CanUndo = %v, %q; the engine refuses with %q", ok, why, want)
			}
			if want != "" {
				refusals++
			} else {
				oks++
			}
		})
	}
	if refusals < 10 || oks == 0 {
		t.Errorf("%d cases refused, %d taken: the table no longer covers the engine's answers", refusals, oks)
	}
}

// What the operator types is judged when the event arrives, not by Can*.
func TestCanLeavesInputToTheEvent(t *testing.T) {
	m := newSim(t, canRunbook)
	m.do(Started{Operator: "lead"})
	if ok, why := m.s.CanConfirm("notify"); !ok {
		t.Errorf("CanConfirm(notify) refuses before a note is typed: %q", why)
	}
	_, effs := Apply(m.s, At{Time: m.now, Event: Confirmed{Step: "notify", Operator: "lead"}})
	if got := refusalOf(t, effs); got != `step "notify" needs a note with its confirmation` {
		t.Errorf("the engine's refusal of a missing note: %q", got)
	}
}
