package runbook

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// A headless run executes confirmed actions once, journals their plans and
// results, and takes back what they left when the window ends.
func TestRunnerExecutesActionsAndCleansUp(t *testing.T) {
	m, specs := actionSim(t)
	rb := m.s.Runbook
	for id, spec := range specs {
		spec.action = &fakeAction{plan: result(probes.StatusPass, id+" planned"), exec: result(probes.StatusPass, id+" done"),
			clean: result(probes.StatusPass, "expired")}
	}
	specs["silence"].action.exec.Cleanup = "sil-1"
	specs["apply"].perms = nil // no cluster here: no access review

	clock := &fakeClock{t: time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC), step: 100 * time.Millisecond}
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := CreateJournal(path, Header{Runbook: rb.Metadata.Name, Digest: rb.Digest}, clock.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var progress atomic.Int32
	r := &Runner{Journal: j, Operator: "ci", Now: clock.Now, TickEvery: time.Millisecond, AllowActions: true,
		OnProgress: func(string, actions.Result) { progress.Add(1) },
		Autopilot:  &Autopilot{Operator: "ci", ConfirmActions: true, Confirm: map[string]string{"done": "signed"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	final, err := r.Run(ctx, NewState(rb), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	if final.Outcome != OutcomePassed {
		t.Fatalf("outcome %s %q", final.Outcome, final.Reason)
	}
	for id, spec := range specs {
		if spec.action.execs != 1 {
			t.Errorf("%s executed %d times, want once", id, spec.action.execs)
		}
	}
	if specs["apply"].action.plans != 1 || specs["watch"].action.plans != 0 {
		t.Errorf("plans: apply %d (want 1), watch %d (an observing action is not dry-run)", specs["apply"].action.plans, specs["watch"].action.plans)
	}
	if got := specs["silence"].action.cleaned; len(got) != 1 || got[0] != "sil-1" {
		t.Errorf("silence cleanups: %v", got)
	}
	if progress.Load() != 3 {
		t.Errorf("progress reports: %d, want one per execution", progress.Load())
	}
	pi, si, _ := final.Find("silence")
	if c := final.Phases[pi].Steps[si].Cleaned; c == nil || c.Summary != "expired" {
		t.Errorf("final state lacks the cleanup: %+v", c)
	}
	pi, si, _ = final.Find("apply")
	if c := final.Phases[pi].Steps[si].Confirm; c == nil || c.Text != AutoConfirmActionNote {
		t.Errorf("the confirmation says who gave it: %+v", c)
	}

	events := journalEvents(t, path)
	joined := typesOf(events)
	for _, want := range []string{"action.planned", "action.done", "action.cleaned"} {
		if !strings.Contains(joined, want) {
			t.Errorf("journal lacks %s: %s", want, joined)
		}
	}
	if st, ok := events[0].Event.(Started); !ok || !st.AllowActions {
		t.Errorf("the journal records the run's mode: %+v", events[0].Event)
	}
}

// A read-only headless run dry-runs its actions and stops, saying how to
// execute them.
func TestRunnerReadOnlyStopsAtActions(t *testing.T) {
	m, specs := actionSim(t)
	for id, spec := range specs {
		spec.action = &fakeAction{plan: result(probes.StatusPass, id+" planned"), exec: result(probes.StatusPass, id+" done")}
	}
	specs["apply"].perms = nil
	r := &Runner{Operator: "ci", TickEvery: time.Millisecond, Autopilot: &Autopilot{Operator: "ci", ConfirmActions: true}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	final, err := r.Run(ctx, NewState(m.s.Runbook), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if final.Outcome != OutcomeFailed || !strings.Contains(final.Reason, "--allow-actions") {
		t.Fatalf("outcome %s %q", final.Outcome, final.Reason)
	}
	if specs["apply"].action.plans != 1 || specs["apply"].action.execs != 0 {
		t.Errorf("read-only: apply planned %d, executed %d", specs["apply"].action.plans, specs["apply"].action.execs)
	}
}

// blockingAction executes until its context is cancelled, then reports
// what it did: a silence created, to be taken back.
type blockingAction struct {
	fakeAction
	started chan struct{}
}

func (b *blockingAction) Execute(ctx context.Context, _ func(actions.Result)) actions.Result {
	close(b.started)
	<-ctx.Done()
	res := result(probes.StatusError, "cancelled after creating silence sil-9")
	res.Cleanup = "sil-9"
	return res
}

// Aborting a run while an action executes cancels the action, journals
// what it did after the run's end and takes back what it left: nothing
// the cockpit did is lost from the journal or left behind.
func TestRunnerAbortDuringExecutionKeepsWhatItDid(t *testing.T) {
	m, specs := actionSim(t)
	for id, spec := range specs {
		spec.action = &fakeAction{plan: result(probes.StatusPass, id+" planned"), exec: result(probes.StatusPass, id+" done")}
		spec.perms = nil
	}
	block := &blockingAction{started: make(chan struct{}), fakeAction: fakeAction{plan: result(probes.StatusPass, "would create a silence"), clean: result(probes.StatusPass, "expired")}}
	specs["apply"].action = nil
	specs["apply"].build = block
	path := filepath.Join(t.TempDir(), "j.jsonl")
	rb := m.s.Runbook
	j, err := CreateJournal(path, Header{Runbook: rb.Metadata.Name, Digest: rb.Digest}, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ops := make(chan Event, 1)
	go func() {
		<-block.started
		ops <- Aborted{Operator: "lead", Reason: "rollback decided"}
	}()
	r := &Runner{Journal: j, Operator: "ci", TickEvery: time.Millisecond, AllowActions: true,
		Autopilot: &Autopilot{Operator: "ci", ConfirmActions: true}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	final, err := r.Run(ctx, NewState(rb), nil, ops)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	pi, si, _ := final.Find("apply")
	ss := final.Phases[pi].Steps[si]
	if final.Outcome != OutcomeFailed || ss.Action == nil || ss.Action.Cleanup != "sil-9" || ss.Cleaned == nil || ss.Cleaned.Summary != "expired" {
		for _, at := range journalEvents(t, path) {
			t.Logf("%s %+v", at.Event.EventType(), at.Event)
		}
		t.Fatalf("outcome %s; apply: action %+v, cleaned %+v", final.Outcome, ss.Action, ss.Cleaned)
	}
	if len(block.cleaned) != 1 || block.cleaned[0] != "sil-9" {
		t.Errorf("cleanups: %v", block.cleaned)
	}
	// The journal replays to the same: the report sees the change.
	if joined := typesOf(journalEvents(t, path)); !strings.Contains(joined, "aborted action.done action.cleaned") {
		t.Errorf("journal: %s", joined)
	}
}

// typesOf is the events' types, space-separated, in order.
func typesOf(events []At) string {
	types := make([]string, len(events))
	for i, at := range events {
		types[i] = at.Event.EventType()
	}
	return strings.Join(types, " ")
}
