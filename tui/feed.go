package tui

import (
	"slices"
	"sync"

	tea "charm.land/bubbletea/v2"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// maxQueued bounds a Feed's backlog; beyond it the oldest load snapshots
// or action progress reports are dropped first (a newer one supersedes
// them), state messages never.
const maxQueued = 4096

// Feed carries the runner's observations to a Bubble Tea program without
// ever blocking the runner: Observe and Load queue, one goroutine sends.
// Runner.Observe must not block, and tea.Program.Send blocks until the
// program reads.
type Feed struct {
	send func(tea.Msg)

	mu     sync.Mutex
	queue  []tea.Msg
	seq    uint64
	wake   chan struct{}
	closed bool
	done   chan struct{}
}

// NewFeed starts a feed that delivers with send (tea.Program.Send). Close
// stops it.
func NewFeed(send func(tea.Msg)) *Feed {
	f := &Feed{send: send, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go f.loop()
	return f
}

// Observe is a runbook.Runner Observe callback.
func (f *Feed) Observe(s runbook.State, at runbook.At, effects []runbook.Effect) {
	f.mu.Lock()
	f.seq++
	f.push(StateMsg{State: s, At: at, Effects: effects, Seq: f.seq})
	f.mu.Unlock()
}

// Load queues a load step's snapshot (a Runner.OnLoad callback). Only the
// latest queued snapshot of a step is kept.
func (f *Feed) Load(step string, snap loader.Snapshot) {
	f.pushLatest(LoadMsg{Step: step, Snapshot: snap}, func(m tea.Msg) bool {
		lm, ok := m.(LoadMsg)
		return ok && lm.Step == step
	})
}

// Progress queues an executing action's interim result (a Runner.OnProgress
// callback). Only the latest queued report of a step is kept.
func (f *Feed) Progress(step string, res actions.Result) {
	f.pushLatest(ProgressMsg{Step: step, Result: res}, func(m tea.Msg) bool {
		pm, ok := m.(ProgressMsg)
		return ok && pm.Step == step
	})
}

// Send queues any message.
func (f *Feed) Send(msg tea.Msg) {
	f.mu.Lock()
	f.push(msg)
	f.mu.Unlock()
}

// pushLatest queues msg in the place of the first queued message it
// supersedes, or else at the end: of such messages only the latest waits.
func (f *Feed) pushLatest(msg tea.Msg, supersedes func(queued tea.Msg) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i := slices.IndexFunc(f.queue, supersedes); i >= 0 {
		f.queue[i] = msg
		return
	}
	f.push(msg)
}

func (f *Feed) push(msg tea.Msg) {
	if f.closed {
		return
	}
	if len(f.queue) >= maxQueued {
		for i, m := range f.queue {
			switch m.(type) {
			case LoadMsg, ProgressMsg:
				f.queue = append(f.queue[:i], f.queue[i+1:]...)
			default:
				continue
			}
			break
		}
	}
	f.queue = append(f.queue, msg)
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *Feed) loop() {
	defer close(f.done)
	for range f.wake {
		for {
			f.mu.Lock()
			if len(f.queue) == 0 || f.closed {
				closed := f.closed
				f.mu.Unlock()
				if closed {
					return
				}
				break
			}
			msg := f.queue[0]
			f.queue = f.queue[1:]
			f.mu.Unlock()
			f.send(msg)
		}
	}
}

// Close stops the feed; queued messages are dropped. It waits for a send
// in progress, so call it after the program has stopped reading only if
// send returns once the program has quit (tea.Program.Send does).
func (f *Feed) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
	<-f.done
}
