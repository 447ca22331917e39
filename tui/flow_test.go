package tui

import (
	"bytes"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/cockpit-dev/cockpit/runbook"
)

// engineLoop stands in for the Runner: it applies the cockpit's events
// and sends the resulting state back through a Feed.
func engineLoop(t *testing.T, e *engine, ops <-chan runbook.Event, feed *Feed, seen chan<- runbook.Event) {
	t.Helper()
	go func() {
		for ev := range ops {
			seen <- ev
			msg := e.apply(ev)
			feed.Observe(msg.State, msg.At, msg.Effects)
		}
	}()
}

func contains(s string) func([]byte) bool {
	return func(b []byte) bool { return bytes.Contains(b, []byte(s)) }
}

// A teatest flow through the real program loop: override the failed step
// with a reason, then advance while the gate is still red (notify is not
// confirmed) and see the engine's refusal.
func TestFlowOverrideThenAdvanceRefused(t *testing.T) {
	e := preflightFailing(t)
	ops := make(chan runbook.Event)
	seen := make(chan runbook.Event, 8)
	now := e.now
	m := New(Options{Ops: ops, Operator: "lead", Cluster: "simulated cluster", Journal: "j.jsonl",
		Now: func() time.Time { return now }, Tick: -1})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 30))
	feed := NewFeed(tm.Send)
	defer feed.Close()
	for _, msg := range e.msgs {
		feed.Observe(msg.State, msg.At, msg.Effects)
	}
	engineLoop(t, e, ops, feed, seen)
	teatest.WaitFor(t, tm.Output(), contains("internal-ca-issuer"), teatest.WithDuration(10*time.Second))

	tm.Send(tea.KeyPressMsg{Code: 'o', Text: "o"})
	teatest.WaitFor(t, tm.Output(), contains("Reason:"), teatest.WithDuration(10*time.Second))
	tm.Type("CA restored Monday")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	ev := <-seen
	if want := (runbook.Overridden{Step: "cluster-issuers", Operator: "lead", Reason: "CA restored Monday"}); ev != want {
		t.Fatalf("sent %#v, want %#v", ev, want)
	}
	teatest.WaitFor(t, tm.Output(), contains("overridden by lead"), teatest.WithDuration(10*time.Second))

	tm.Send(tea.KeyPressMsg{Code: 'a', Text: "a"})
	if ev := <-seen; ev != (runbook.Advance{Operator: "lead"}) {
		t.Fatalf("sent %#v, want an Advance", ev)
	}
	teatest.WaitFor(t, tm.Output(), contains("waiting for notify"), teatest.WithDuration(10*time.Second))
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
	if fm.run.state.Current != 0 || !noticeBad(fm) {
		t.Errorf("after a refused advance: phase %d, notice %q", fm.run.state.Current, notice(fm))
	}
}
