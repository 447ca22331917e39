package main

import (
	"testing"

	"github.com/cockpit-dev/cockpit/runbook"
)

// The cockpit's load keys become engine events (journaled, then applied),
// never direct calls on the load test.
func TestJournaledLoad(t *testing.T) {
	ops := make(chan runbook.Event, 8)
	done := make(chan struct{})
	j := journaledLoad{step: "baseline", operator: "lead", ops: ops, done: done}
	if err := j.Pause(); err != nil {
		t.Fatal(err)
	}
	_ = j.SetRate(125)
	_ = j.SetVUs(12)
	_ = j.Resume()
	j.Stop()
	want := []runbook.LoadControl{
		{Step: "baseline", Op: runbook.LoadPause, Operator: "lead"},
		{Step: "baseline", Op: runbook.LoadRate, Value: 125, Operator: "lead"},
		{Step: "baseline", Op: runbook.LoadVUs, Value: 12, Operator: "lead"},
		{Step: "baseline", Op: runbook.LoadResume, Operator: "lead"},
		{Step: "baseline", Op: runbook.LoadStop, Operator: "lead"},
	}
	for i, w := range want {
		if got := <-ops; got != w {
			t.Errorf("event %d = %#v, want %#v", i, got, w)
		}
	}
	close(done)
	unbuffered := journaledLoad{step: "baseline", ops: make(chan runbook.Event), done: done}
	if err := unbuffered.Pause(); err == nil {
		t.Error("a stopped run took a load control")
	}
}
