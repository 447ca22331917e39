package probes

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// fakeProbe is a scripted Probe for the Watcher's scheduling.
type fakeProbe struct {
	// started receives one value when each Observe begins (nil: none).
	started chan struct{}
	// block, when set, is waited for (or ctx, unless ignoreCtx) before
	// Observe returns; closing it lets every observation through. skip
	// lets the first that many observations through at once.
	block     chan struct{}
	skip      int
	ignoreCtx bool
	// inFlight and maxInFlight count concurrent Observe calls across the
	// probes sharing them.
	inFlight *concurrencyMeter

	mu       sync.Mutex
	calls    int
	canceled int // observations that ended by ctx
	returned int // observations that returned
}

type concurrencyMeter struct {
	mu       sync.Mutex
	cur, max int
}

func (m *concurrencyMeter) enter() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cur++
	m.max = max(m.max, m.cur)
}

func (m *concurrencyMeter) leave() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cur--
}

func (p *fakeProbe) Observe(ctx context.Context) Observation {
	p.mu.Lock()
	p.calls++
	n := p.calls
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.returned++
		p.mu.Unlock()
	}()
	if p.inFlight != nil {
		p.inFlight.enter()
		defer p.inFlight.leave()
	}
	if p.started != nil {
		p.started <- struct{}{}
	}
	if p.block != nil && n > p.skip {
		if p.ignoreCtx {
			<-p.block
		} else {
			select {
			case <-p.block:
			case <-ctx.Done():
				p.mu.Lock()
				p.canceled++
				p.mu.Unlock()
				return Observation{Err: ctx.Err()}
			}
		}
	}
	return Observation{Summary: "ok", Values: map[string]float64{"n": float64(n)}}
}

func (p *fakeProbe) counts() (calls, canceled int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls, p.canceled
}

// changerProbe is a fakeProbe that reports changes.
type changerProbe struct {
	*fakeProbe
	ch chan struct{}
}

func (p changerProbe) Changes() <-chan struct{} { return p.ch }

var passAll = Outcomes{{Status: StatusPass}}

// recv returns the next update, failing the test after a real-time
// deadline (a bound on a hang, not a wait for something to happen).
func recv(t *testing.T, ch <-chan Update) Update {
	t.Helper()
	select {
	case u, ok := <-ch:
		if !ok {
			t.Fatal("updates closed early")
		}
		return u
	case <-time.After(10 * time.Second):
		t.Fatal("no update within 10s")
	}
	return Update{}
}

// waitFor polls cond until it holds or a real-time deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// waitStarted waits for one Observe of p to begin.
func waitStarted(t *testing.T, p *fakeProbe) {
	t.Helper()
	select {
	case <-p.started:
	case <-time.After(10 * time.Second):
		t.Fatal("observation did not start within 10s")
	}
}

// drain reads until the channel closes.
func drain(t *testing.T, ch <-chan Update) []Update {
	t.Helper()
	var out []Update
	deadline := time.After(10 * time.Second)
	for {
		select {
		case u, ok := <-ch:
			if !ok {
				return out
			}
			out = append(out, u)
		case <-deadline:
			t.Fatal("updates not closed within 10s of cancelling")
		}
	}
}

var t0 = time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC)

func TestWatcherBadTargets(t *testing.T) {
	p := &fakeProbe{}
	tests := []struct {
		name    string
		targets []Target
		want    string
	}{
		{name: "no ID", targets: []Target{{Probe: p}}, want: "target 0: bad watch target: no ID"},
		{name: "duplicate ID", targets: []Target{{ID: "a", Probe: p}, {ID: "a", Probe: p}}, want: `target "a": bad watch target: duplicate ID`},
		{name: "no probe", targets: []Target{{ID: "a"}}, want: `target "a": bad watch target: no probe`},
		{name: "negative interval", targets: []Target{{ID: "a", Probe: p, Every: -time.Second}}, want: "negative interval or timeout"},
		{name: "negative timeout", targets: []Target{{ID: "a", Probe: p, Timeout: -time.Second}}, want: "negative interval or timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := (&Watcher{}).Watch(context.Background(), tt.targets)
			if ch != nil || !errors.Is(err, ErrBadTarget) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("= %v, %v; want ErrBadTarget %q", ch, err, tt.want)
			}
		})
	}
}

// Each target runs on its own interval; a target without one and without
// change notifications is observed once.
func TestWatcherIntervals(t *testing.T) {
	fc := clocktesting.NewFakeClock(t0)
	fast, slow, once := &fakeProbe{}, &fakeProbe{}, &fakeProbe{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := (&Watcher{Clock: fc, Timeout: time.Hour}).Watch(ctx, []Target{
		{ID: "fast", Probe: fast, Outcomes: passAll, Every: 10 * time.Second},
		{ID: "slow", Probe: slow, Outcomes: passAll, Every: 30 * time.Second},
		{ID: "once", Probe: once, Outcomes: passAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	first := map[string]bool{}
	for range 3 {
		u := recv(t, ch)
		if u.Result.Status != StatusPass || !u.Result.ObservedAt.Equal(t0) {
			t.Errorf("first update %+v", u)
		}
		first[u.ID] = true
	}
	if len(first) != 3 {
		t.Fatalf("first updates from %v, want all three", first)
	}
	for i := 1; i <= 3; i++ {
		fc.Step(10 * time.Second)
		want := map[string]bool{"fast": true}
		if i == 3 {
			want["slow"] = true
		}
		for range len(want) {
			u := recv(t, ch)
			if !want[u.ID] {
				t.Fatalf("after %ds: update from %s, want %v", i*10, u.ID, want)
			}
			delete(want, u.ID)
			if at := t0.Add(time.Duration(i) * 10 * time.Second); !u.Result.ObservedAt.Equal(at) {
				t.Errorf("%s observed at %v, want %v", u.ID, u.Result.ObservedAt, at)
			}
		}
	}
	cancel()
	if rest := drain(t, ch); len(rest) != 0 {
		t.Errorf("updates after the last tick: %+v", rest)
	}
	for id, want := range map[string]struct {
		p *fakeProbe
		n int
	}{"fast": {fast, 4}, "slow": {slow, 2}, "once": {once, 1}} {
		if n, _ := want.p.counts(); n != want.n {
			t.Errorf("%s observations = %d, want %d", id, n, want.n)
		}
	}
}

// A Changer is observed again on each notification; when its channel
// closes, notifications end and the target waits for ctx.
func TestWatcherChanges(t *testing.T) {
	fc := clocktesting.NewFakeClock(t0)
	p := changerProbe{fakeProbe: &fakeProbe{}, ch: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := (&Watcher{Clock: fc}).Watch(ctx, []Target{{ID: "k8s", Probe: p, Outcomes: passAll}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		u := recv(t, ch)
		if u.ID != "k8s" || u.Result.Values["n"] != float64(i) {
			t.Fatalf("update %d = %+v", i, u)
		}
		if i < 3 {
			p.ch <- struct{}{}
		}
	}
	close(p.ch)
	cancel()
	if rest := drain(t, ch); len(rest) != 0 {
		t.Errorf("updates without a change: %+v", rest)
	}
	if n, _ := p.counts(); n != 3 {
		t.Errorf("observations = %d, want 3", n)
	}
}

// An observation past its timeout yields a timeout error at that moment
// and is cancelled; one that ignores its context is abandoned and each
// tick says it is still running, until it returns.
func TestWatcherTimeouts(t *testing.T) {
	fc := clocktesting.NewFakeClock(t0)
	polite := &fakeProbe{started: make(chan struct{}, 8), block: make(chan struct{})}
	deaf := &fakeProbe{started: make(chan struct{}, 8), block: make(chan struct{}), ignoreCtx: true}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := (&Watcher{Clock: fc}).Watch(ctx, []Target{
		{ID: "polite", Probe: polite, Outcomes: passAll, Timeout: 5 * time.Second},
		{ID: "deaf", Probe: deaf, Outcomes: passAll, Every: 10 * time.Second, Timeout: 5 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitStarted(t, polite)
	waitStarted(t, deaf)
	fc.Step(5 * time.Second)
	got := map[string]Update{}
	for range 2 {
		u := recv(t, ch)
		got[u.ID] = u
	}
	for _, id := range []string{"polite", "deaf"} {
		r := got[id].Result
		if r.Status != StatusError || r.Summary != "timeout after 5s" || r.Message != "no result within 5s; the observation was cancelled" {
			t.Errorf("%s = %s %q (%s), want the timeout", id, r.Status, r.Summary, r.Message)
		}
	}
	waitFor(t, "the polite probe returns when cancelled", func() bool { _, c := polite.counts(); return c == 1 })

	// The deaf probe's next tick does not stack another observation.
	fc.Step(5 * time.Second)
	u := recv(t, ch)
	if u.ID != "deaf" || u.Result.Status != StatusError || !strings.HasPrefix(u.Result.Summary, "still running: the observation started 10s ago") {
		t.Errorf("tick while abandoned = %+v", u)
	}
	if n, _ := deaf.counts(); n != 1 {
		t.Errorf("deaf observations = %d, want 1 (none stacked)", n)
	}

	// Once it returns, the next tick observes afresh.
	close(deaf.block)
	waitFor(t, "the deaf probe returns", func() bool { deaf.mu.Lock(); defer deaf.mu.Unlock(); return deaf.returned == 1 })
	fc.Step(10 * time.Second)
	u = recv(t, ch)
	if u.ID != "deaf" || u.Result.Status != StatusPass || u.Result.Values["n"] != 2 {
		t.Errorf("after it returned = %+v", u)
	}
	cancel()
	drain(t, ch)
}

// With every slot taken, an observation that waits longer than its
// timeout for one yields a timeout naming the busy slots.
func TestWatcherSlotTimeout(t *testing.T) {
	fc := clocktesting.NewFakeClock(t0)
	// The hog's first observation returns at once; the next one, on a
	// change, holds the only slot.
	hog := changerProbe{fakeProbe: &fakeProbe{started: make(chan struct{}, 8), block: make(chan struct{}), skip: 1}, ch: make(chan struct{}, 1)}
	waiter := &fakeProbe{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := (&Watcher{Clock: fc, Concurrency: 1}).Watch(ctx, []Target{
		{ID: "hog", Probe: hog, Outcomes: passAll, Timeout: time.Hour},
		{ID: "waiter", Probe: waiter, Outcomes: passAll, Every: 10 * time.Second, Timeout: 5 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	recv(t, ch)
	recv(t, ch)
	waitStarted(t, hog.fakeProbe)
	hog.ch <- struct{}{}
	waitStarted(t, hog.fakeProbe)
	// Waiters: the waiter's ticker and the hog's timer; then the waiter's
	// timeout timer once its tick has come.
	waitFor(t, "two clock waiters", func() bool { return fc.Waiters() == 2 })
	fc.Step(10 * time.Second)
	waitFor(t, "the waiter's timeout timer", func() bool { return fc.Waiters() == 3 })
	fc.Step(5 * time.Second)
	u := recv(t, ch)
	if u.ID != "waiter" || u.Result.Status != StatusError || u.Result.Message != "no free slot within 5s: 1 observations were running" {
		t.Errorf("= %+v, want a slot timeout", u)
	}
	if n, _ := waiter.counts(); n != 1 {
		t.Errorf("waiter observations = %d, want 1 (the slot timeout never ran it)", n)
	}
	cancel()
	drain(t, ch)
}

// A stuck probe never delays the others: they keep their intervals.
func TestWatcherSlowProbeDoesNotDelayOthers(t *testing.T) {
	fc := clocktesting.NewFakeClock(t0)
	stuck := &fakeProbe{started: make(chan struct{}, 8), block: make(chan struct{})}
	fast := &fakeProbe{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := (&Watcher{Clock: fc, Timeout: time.Hour}).Watch(ctx, []Target{
		{ID: "stuck", Probe: stuck, Outcomes: passAll, Every: 2 * time.Second},
		{ID: "fast", Probe: fast, Outcomes: passAll, Every: time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitStarted(t, stuck)
	for i := range 6 {
		if i > 0 {
			fc.Step(time.Second)
		}
		u := recv(t, ch)
		if u.ID != "fast" || !u.Result.ObservedAt.Equal(t0.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("tick %d: %+v, want fast observed at +%ds", i, u, i)
		}
	}
	if n, _ := stuck.counts(); n != 1 {
		t.Errorf("stuck observations = %d, want 1", n)
	}
	cancel()
	drain(t, ch)
	if _, c := stuck.counts(); c != 1 {
		t.Errorf("the stuck observation was not cancelled with ctx")
	}
}

// No more observations run at once than Concurrency allows, and every
// target still gets its turn.
func TestWatcherConcurrency(t *testing.T) {
	meter := &concurrencyMeter{}
	release := make(chan struct{})
	started := make(chan struct{}, 16)
	var targets []Target
	for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
		targets = append(targets, Target{ID: id, Probe: &fakeProbe{started: started, block: release, inFlight: meter}, Outcomes: passAll})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := (&Watcher{Concurrency: 2, Timeout: time.Hour}).Watch(ctx, targets)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("observations did not start within 10s")
		}
	}
	close(release)
	seen := map[string]bool{}
	for range targets {
		u := recv(t, ch)
		if u.Result.Status != StatusPass {
			t.Errorf("%s = %+v", u.ID, u.Result)
		}
		seen[u.ID] = true
	}
	if len(seen) != len(targets) {
		t.Errorf("updates from %v, want all %d targets", seen, len(targets))
	}
	meter.mu.Lock()
	most := meter.max
	meter.mu.Unlock()
	if most != 2 {
		t.Errorf("at most %d observations ran at once, want 2", most)
	}
	cancel()
	drain(t, ch)
}

// Cancelling ctx stops everything: the channel closes after every
// goroutine Watch started has returned, a probe blocked in Observe
// included, and none is left behind.
func TestWatcherCancel(t *testing.T) {
	base := runtime.NumGoroutine()
	blocked := &fakeProbe{started: make(chan struct{}, 8), block: make(chan struct{})}
	ticking := &fakeProbe{}
	changer := changerProbe{fakeProbe: &fakeProbe{}, ch: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := (&Watcher{}).Watch(ctx, []Target{
		{ID: "blocked", Probe: blocked, Outcomes: passAll},
		{ID: "ticking", Probe: ticking, Outcomes: passAll, Every: time.Millisecond},
		{ID: "changer", Probe: changer, Outcomes: passAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitStarted(t, blocked)
	for range 5 {
		recv(t, ch)
	}
	cancel()
	drain(t, ch)
	if _, c := blocked.counts(); c != 1 {
		t.Errorf("the blocked observation was not cancelled")
	}
	waitFor(t, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= base })

	// A consumer that stops reading does not keep the Watcher alive.
	ctx, cancel = context.WithCancel(context.Background())
	ch, err = (&Watcher{}).Watch(ctx, []Target{{ID: "ticking", Probe: &fakeProbe{}, Outcomes: passAll, Every: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	recv(t, ch)
	recv(t, ch)
	cancel()
	drain(t, ch)
	waitFor(t, "goroutines back to the baseline (unread updates)", func() bool { return runtime.NumGoroutine() <= base })
}
