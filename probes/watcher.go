package probes

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Target is one probe the Watcher keeps observing.
type Target struct {
	// ID tags every Update of this target (the runbook's step ID).
	ID       string
	Probe    Probe
	Outcomes Outcomes
	// Every is the interval between observations. Zero: observe once at the
	// start, and again only when the probe reports a change (see Changer).
	Every time.Duration
	// Timeout bounds one observation, including the wait for a free slot;
	// zero: the Watcher's Timeout.
	Timeout time.Duration
}

// Changer is the hook for probes that know when what they observe has
// changed — Kubernetes probes reading a shared informer cache. When a
// Target's Probe implements it, the Watcher observes it again on every
// receive from Changes, besides its interval (a Kubernetes probe may then
// set Every to zero, or keep a long one as a resync).
//
// Contract for implementers: Changes returns the same channel on every
// call; it has a buffer of one and is sent to without blocking
// (select { case ch <- struct{}{}: default: }), so a burst of events
// coalesces into one pending notification and a busy probe is never
// blocked by the Watcher. Closing it ends change notifications; it is
// never closed by the Watcher.
type Changer interface {
	Changes() <-chan struct{}
}

// Update is one judged observation of a Target.
type Update struct {
	ID     string `json:"id"`
	Result Result `json:"result"`
}

// Watcher runs targets on their intervals and streams their results. The
// zero value is usable: the real clock, 8 observations at once, 30 s per
// observation.
type Watcher struct {
	// Clock is the time source (clock.RealClock{} when nil): tests inject a
	// fake one (k8s.io/utils/clock/testing) to drive intervals and timeouts.
	Clock clock.WithTicker
	// Concurrency bounds how many observations run at once (default 8).
	Concurrency int
	// Timeout is the per-observation bound of targets that set none
	// (default 30 s).
	Timeout time.Duration
}

// Defaults of a zero Watcher.
const (
	defaultWatchConcurrency = 8
	defaultWatchTimeout     = 30 * time.Second
)

// ErrBadTarget is returned by Watch for a target it cannot run.
var ErrBadTarget = errors.New("bad watch target")

// Watch observes every target right away and then on its interval (and on
// change, for a Changer), and sends each judged observation on the returned
// channel until ctx is cancelled; then it closes the channel, after every
// goroutine it started has returned.
//
// Each target has its own schedule: a slow or stuck probe delays only
// itself. An observation that has not finished within the target's timeout
// (waiting for a free slot included) yields a StatusError "timeout" update
// at that moment, its context is cancelled, and its slot is freed. A probe
// that ignores its context is abandoned, not waited for: until it returns,
// each of its ticks yields a "still running" error instead of stacking
// another observation on it. Such an abandoned call is the one goroutine
// Watch cannot end; every probe here honours ctx.
//
// A target is never observed concurrently with itself, so probes that keep
// state between observations (a metrics rate) need no more care than that.
func (w *Watcher) Watch(ctx context.Context, targets []Target) (<-chan Update, error) {
	seen := map[string]bool{}
	for i, t := range targets {
		switch {
		case t.ID == "":
			return nil, fmt.Errorf("target %d: %w: no ID", i, ErrBadTarget)
		case seen[t.ID]:
			return nil, fmt.Errorf("target %q: %w: duplicate ID", t.ID, ErrBadTarget)
		case t.Probe == nil:
			return nil, fmt.Errorf("target %q: %w: no probe", t.ID, ErrBadTarget)
		case t.Every < 0 || t.Timeout < 0:
			return nil, fmt.Errorf("target %q: %w: negative interval or timeout", t.ID, ErrBadTarget)
		}
		seen[t.ID] = true
	}
	concurrency := w.Concurrency
	if concurrency <= 0 {
		concurrency = defaultWatchConcurrency
	}
	r := &watchRun{
		clock:   w.Clock,
		sem:     make(chan struct{}, concurrency),
		timeout: w.Timeout,
		out:     make(chan Update, len(targets)),
	}
	if r.clock == nil {
		r.clock = clock.RealClock{}
	}
	if r.timeout <= 0 {
		r.timeout = defaultWatchTimeout
	}
	var wg sync.WaitGroup
	for _, t := range targets {
		if t.Timeout == 0 {
			t.Timeout = r.timeout
		}
		wg.Go(func() { r.loop(ctx, t) })
	}
	go func() {
		wg.Wait()
		close(r.out)
	}()
	return r.out, nil
}

// watchRun is the state one Watch call shares between its targets.
type watchRun struct {
	clock   clock.WithTicker
	sem     chan struct{} // a slot per running observation
	timeout time.Duration
	out     chan Update
}

// targetState is what a target's loop remembers between observations.
type targetState struct {
	// abandoned receives the result of an observation that timed out and
	// had not returned yet; nil when none is outstanding.
	abandoned <-chan Observation
	since     time.Time // when the abandoned observation started
}

// loop is one target's schedule: observe, then wait for a tick or a change.
func (r *watchRun) loop(ctx context.Context, t Target) {
	var tick <-chan time.Time
	if t.Every > 0 {
		tk := r.clock.NewTicker(t.Every)
		defer tk.Stop()
		tick = tk.C()
	}
	var changes <-chan struct{}
	if c, ok := t.Probe.(Changer); ok {
		changes = c.Changes()
	}
	var st targetState
	for {
		if !r.observe(ctx, t, &st) {
			return
		}
		for due := false; !due; {
			select {
			case <-ctx.Done():
				return
			case <-tick:
				due = true
			case _, ok := <-changes:
				if !ok {
					changes = nil // no more notifications; the interval goes on
					if tick == nil {
						<-ctx.Done()
						return
					}
					continue
				}
				due = true
			}
		}
	}
}

// observe runs one observation of t and sends its update. It returns false
// when ctx is done.
func (r *watchRun) observe(ctx context.Context, t Target, st *targetState) bool {
	if st.abandoned != nil {
		select {
		case <-st.abandoned: // it returned at last; its result is stale
			st.abandoned = nil
		default:
			now := r.clock.Now()
			return r.send(ctx, Update{ID: t.ID, Result: Result{
				Status:     StatusError,
				Summary:    fmt.Sprintf("still running: the observation started %s ago has not returned", now.Sub(st.since).Round(time.Millisecond)),
				Message:    "the probe did not stop when its timeout cancelled it",
				ObservedAt: now,
			}})
		}
	}
	start := r.clock.Now()
	timer := r.clock.NewTimer(t.Timeout)
	defer timer.Stop()
	timeout := func(what string) bool {
		return r.send(ctx, Update{ID: t.ID, Result: Result{
			Status:     StatusError,
			Summary:    fmt.Sprintf("timeout after %s", t.Timeout),
			Message:    what,
			ObservedAt: start,
			Duration:   r.clock.Since(start),
		}})
	}

	select {
	case r.sem <- struct{}{}:
	case <-timer.C():
		return timeout(fmt.Sprintf("no free slot within %s: %d observations were running", t.Timeout, cap(r.sem)))
	case <-ctx.Done():
		return false
	}
	released := false
	release := func() {
		if !released {
			released = true
			<-r.sem
		}
	}
	defer release()

	octx, cancel := context.WithCancel(ctx)
	defer cancel()
	began := r.clock.Now()
	done := make(chan Observation, 1) // buffered: an abandoned call can always finish
	go func() { done <- t.Probe.Observe(octx) }()

	select {
	case obs := <-done:
		timer.Stop()
		res := Judge(obs, t.Outcomes)
		res.ObservedAt = began
		res.Duration = r.clock.Since(began)
		release()
		return r.send(ctx, Update{ID: t.ID, Result: res})
	case <-timer.C():
		cancel()
		release()
		select {
		case <-done: // it stopped when cancelled
		default:
			st.abandoned, st.since = done, began
		}
		return timeout(fmt.Sprintf("no result within %s; the observation was cancelled", t.Timeout))
	case <-ctx.Done():
		cancel()
		// A probe honours ctx: wait for it, but never past its timeout.
		select {
		case <-done:
		case <-timer.C():
		}
		return false
	}
}

// send delivers an update unless ctx ends first.
func (r *watchRun) send(ctx context.Context, u Update) bool {
	select {
	case r.out <- u:
		return true
	case <-ctx.Done():
		return false
	}
}
