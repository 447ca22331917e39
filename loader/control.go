package loader

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Errors from Control.
var (
	// ErrNotRunning: the run has stopped or is stopping.
	ErrNotRunning = errors.New("the run is not running")
	// ErrNotSupported: the change does not apply to this executor.
	ErrNotSupported = errors.New("not supported by this executor")
)

// Control changes a run while it goes. Every change is recorded in the
// snapshots' event list. Its methods are safe for concurrent use.
type Control struct {
	r *run
}

func (c *Control) active() bool {
	select {
	case <-c.r.finished:
		return false
	default:
	}
	return !c.r.stopping.Load()
}

// Pause holds the run: VUs finish their current request and wait, the pacer
// sends nothing. Iterations due while paused are skipped, not dropped, and
// the duration keeps running.
func (c *Control) Pause() error {
	if !c.active() {
		return ErrNotRunning
	}
	r := c.r
	r.pauseMu.Lock()
	if r.paused.Load() {
		r.pauseMu.Unlock()
		return nil
	}
	r.pausedAt.Store(r.now())
	r.paused.Store(true)
	r.resumeCh = make(chan struct{})
	r.pauseMu.Unlock()
	r.event(EventPaused, 0, "")
	c.wake()
	return nil
}

// Resume ends a pause.
func (c *Control) Resume() error {
	if !c.active() {
		return ErrNotRunning
	}
	r := c.r
	r.pauseMu.Lock()
	if !r.paused.Load() {
		r.pauseMu.Unlock()
		return nil
	}
	now := r.now()
	r.pausedNs.Add(now - r.pausedAt.Load())
	r.paused.Store(false)
	r.resumedAt.Store(now)
	r.resumes.Add(1)
	close(r.resumeCh)
	r.pauseMu.Unlock()
	r.event(EventResumed, 0, "")
	return nil
}

// wake nudges the driver out of a wait so it sees a pause.
func (c *Control) wake() {
	select {
	case c.r.ctrl <- command{}:
	default:
	}
}

// SetRate sets an open model's total rate (iterations per second) from now
// to the end of the run, replacing the remaining stages. When the VU cap
// was sized from the rate (AutoVUs) and SetVUs has not changed it, a higher
// rate raises it to the new rate's bound.
func (c *Control) SetRate(perSecond float64) error {
	if !c.r.cfg.Executor.Kind.Open() {
		return fmt.Errorf("set rate on %s: %w", c.r.cfg.Executor.Kind, ErrNotSupported)
	}
	if perSecond <= 0 || perSecond > maxRate || math.IsNaN(perSecond) {
		return fmt.Errorf("rate must be > 0 and at most %d/s, got %v", maxRate, perSecond)
	}
	if !c.active() {
		return ErrNotRunning
	}
	select {
	case c.r.ctrl <- command{rate: perSecond}:
	case <-c.r.finished:
		return ErrNotRunning
	}
	c.r.event(EventRate, perSecond, fmt.Sprintf("rate set to %g/s", perSecond))
	if c.r.cfg.Executor.autoVUs && !c.r.vusSet.Load() {
		_, most := AutoVUs(perSecond, c.r.cfg.Timeout)
		for {
			cur := c.r.maxVUs.Load()
			if int64(most) <= cur || c.r.maxVUs.CompareAndSwap(cur, int64(most)) {
				break
			}
		}
	}
	return nil
}

// SetVUs sets a closed model's VUs from now on (replacing the remaining
// stages), or an open model's VU cap.
func (c *Control) SetVUs(n int) error {
	if n <= 0 || n > maxVUs {
		return fmt.Errorf("VUs must be > 0 and at most %d, got %d", maxVUs, n)
	}
	if !c.active() {
		return ErrNotRunning
	}
	r := c.r
	if r.cfg.Executor.Kind.Open() {
		r.vusSet.Store(true)
		r.maxVUs.Store(int64(n))
	} else {
		select {
		case r.ctrl <- command{vus: n}:
		case <-r.finished:
			return ErrNotRunning
		}
	}
	r.event(EventVUs, float64(n), fmt.Sprintf("VUs set to %d", n))
	return nil
}

// Stop ends the run gracefully: no new iterations, in-flight requests get
// the grace period.
func (c *Control) Stop() {
	c.r.requestStop(ReasonStopped)
}

// Window returns the stats of the last d of the run (whole seconds, up to
// the intervals kept: at least 60s, more when a threshold window or
// Config.Window needs it), merged on demand by the owner of the histograms.
func (c *Control) Window(ctx context.Context, d time.Duration) (Stats, error) {
	if d <= 0 || d%interval != 0 {
		return Stats{}, fmt.Errorf("window must be whole seconds, got %s", d)
	}
	req := windowReq{d: d, reply: make(chan Stats, 1)}
	select {
	case c.r.windowReq <- req:
	case <-c.r.finished:
		return Stats{}, ErrNotRunning
	case <-ctx.Done():
		return Stats{}, ctx.Err()
	}
	select {
	case s := <-req.reply:
		return s, nil
	case <-ctx.Done():
		return Stats{}, ctx.Err()
	}
}

// Done is closed when the run has published its last snapshot.
func (c *Control) Done() <-chan struct{} { return c.r.finished }
