package sandbox

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Default fault settings: a healthy service whose latency resembles the seed
// document's baseline (median ≈ 1.94 ms, p99 ≈ 14.59 ms).
const (
	DefaultLatencyMedian = 2 * time.Millisecond
	DefaultLatencyP99    = 15 * time.Millisecond
)

// z99 is the standard normal quantile at 0.99: a log-normal latency with
// median m and p99 q has sigma = ln(q/m) / z99.
const z99 = 2.3263478740408408

// tailCap bounds a single drawn latency to this multiple of the p99, so an
// extreme draw from the log-normal tail cannot hold a request for minutes.
const tailCap = 10

// ErrInvalidFault is returned when a fault setting is out of range.
var ErrInvalidFault = errors.New("invalid fault setting")

// WaitFunc waits for d or until ctx ends, whichever comes first, and returns
// ctx's error in the latter case. The backend injects latency through it so
// tests can record the drawn durations instead of sleeping.
type WaitFunc func(ctx context.Context, d time.Duration) error

// TimerWait is the real WaitFunc: a timer that honours ctx.
func TimerWait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// FaultState is a point-in-time copy of the injected faults.
type FaultState struct {
	// LatencyMedian and LatencyP99 describe the log-normal latency added to
	// every application request; zero median means no added latency.
	LatencyMedian time.Duration
	LatencyP99    time.Duration
	// ErrorRate is the fraction of application requests answered 500 or 503.
	ErrorRate float64
	// Stalled reports whether application requests are being held.
	Stalled bool
	// Held is the number of requests held by the stall right now.
	Held int
}

// String renders the state for a status line, e.g.
// "latency p50=2ms p99=15ms · errors 0% · stall off".
func (s FaultState) String() string {
	stall := "off"
	if s.Stalled {
		stall = fmt.Sprintf("ON (%d held)", s.Held)
	}
	return fmt.Sprintf("latency p50=%v p99=%v · errors %.0f%% · stall %s",
		s.LatencyMedian, s.LatencyP99, s.ErrorRate*100, stall)
}

// Faults holds the faults the sandbox backend injects into its application
// endpoints (/health, /api/…; never /metrics, so the cockpit can watch the
// damage it caused). All methods are safe for concurrent use; changes apply to
// requests that arrive afterwards, and releasing a stall frees held requests.
type Faults struct {
	mu        sync.Mutex
	rng       *rand.Rand
	median    time.Duration
	p99       time.Duration
	sigma     float64
	errorRate float64
	// stall is non-nil while stalled and is closed to release held requests.
	stall chan struct{}
	held  int
	// changed is closed and replaced whenever held changes, so waiters can
	// block on a condition instead of polling.
	changed chan struct{}
	// closed is set by close: stalls can no longer be switched on.
	closed bool
}

// NewFaults returns healthy fault settings (the default latency, no errors,
// no stall) whose random draws come from a generator seeded with seed, so a
// sequence of requests is reproducible.
func NewFaults(seed uint64) *Faults {
	f := &Faults{
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		changed: make(chan struct{}),
	}
	f.setLatencyLocked(DefaultLatencyMedian, DefaultLatencyP99)
	return f
}

// SetLatency sets the latency distribution: log-normal with the given median
// and 99th percentile. A zero median disables added latency; p99 equal to the
// median makes it constant.
func (f *Faults) SetLatency(median, p99 time.Duration) error {
	if median < 0 || p99 < median {
		return fmt.Errorf("latency median %v, p99 %v: want 0 <= median <= p99: %w", median, p99, ErrInvalidFault)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setLatencyLocked(median, p99)
	return nil
}

func (f *Faults) setLatencyLocked(median, p99 time.Duration) {
	f.median, f.p99, f.sigma = median, p99, 0
	if median > 0 && p99 > median {
		f.sigma = math.Log(float64(p99)/float64(median)) / z99
	}
}

// SetErrorRate sets the fraction (0 to 1) of application requests answered
// with an injected 500 or 503.
func (f *Faults) SetErrorRate(rate float64) error {
	if math.IsNaN(rate) || rate < 0 || rate > 1 {
		return fmt.Errorf("error rate %v: want 0 <= rate <= 1: %w", rate, ErrInvalidFault)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errorRate = rate
	return nil
}

// SetStall holds every application request (on) until the stall is switched
// off, the request's context ends, or the sandbox closes. After the sandbox
// has closed, switching a stall on has no effect.
func (f *Faults) SetStall(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case on && f.stall == nil && !f.closed:
		f.stall = make(chan struct{})
	case !on && f.stall != nil:
		close(f.stall)
		f.stall = nil
	}
}

// Reset restores the healthy defaults and releases any stall.
func (f *Faults) Reset() {
	f.SetStall(false)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setLatencyLocked(DefaultLatencyMedian, DefaultLatencyP99)
	f.errorRate = 0
}

// Snapshot returns the current settings.
func (f *Faults) Snapshot() FaultState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return FaultState{
		LatencyMedian: f.median,
		LatencyP99:    f.p99,
		ErrorRate:     f.errorRate,
		Stalled:       f.stall != nil,
		Held:          f.held,
	}
}

// close releases any stall for good; used when the sandbox shuts down.
func (f *Faults) close() {
	f.SetStall(false)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
}

// hold blocks while a stall is on, until it is released or ctx ends.
func (f *Faults) hold(ctx context.Context) error {
	f.mu.Lock()
	release := f.stall
	if release == nil {
		f.mu.Unlock()
		return nil
	}
	f.addHeldLocked(1)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.addHeldLocked(-1)
		f.mu.Unlock()
	}()
	select {
	case <-release:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stalled request: %w", ctx.Err())
	}
}

func (f *Faults) addHeldLocked(n int) {
	f.held += n
	close(f.changed)
	f.changed = make(chan struct{})
}

// heldState returns the number of held requests and a channel closed at the
// next change of that number.
func (f *Faults) heldState() (int, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.held, f.changed
}

// draw picks this request's latency and, with probability ErrorRate, the
// status code of an injected failure (0 for none). One lock covers both draws
// so concurrent requests keep the sequence reproducible per arrival order.
func (f *Faults) draw() (time.Duration, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.median
	if f.sigma > 0 {
		d = time.Duration(float64(f.median) * math.Exp(f.sigma*f.rng.NormFloat64()))
		d = min(d, tailCap*f.p99)
	}
	code := 0
	if f.errorRate > 0 {
		switch u := f.rng.Float64(); {
		case u < f.errorRate/2:
			code = http.StatusServiceUnavailable
		case u < f.errorRate:
			code = http.StatusInternalServerError
		}
	}
	return d, code
}
