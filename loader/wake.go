package loader

import (
	"runtime"
	"time"
)

// The pacer's precise wake-up. Go's timers fire up to a millisecond late
// on Linux, because the runtime's netpoller sleeps in whole milliseconds;
// every request of an open model would carry that lateness into its
// corrected latency although the server never saw it. So the pacer sleeps
// on a Go timer only to within coarseMargin of the due time — where it can
// still see a pause, a rate change or the end — then on a timer the kernel
// fires on time (a timerfd on Linux) to within spinMargin of it, then
// yields the processor until the due time has come. The yield costs CPU:
// at most spinMargin plus the kernel timer's own jitter per iteration.
// Without a precise timer (other systems, or a test's fake clock) the Go
// timer alone paces.
const (
	coarseMargin = 2 * time.Millisecond
	spinMargin   = 50 * time.Microsecond
)

// waker sleeps precisely.
type waker interface {
	// sleep blocks for d (> 0), to within tens of microseconds.
	sleep(d time.Duration) error
	close() error
}

// pacerWaker is newPacerWaker; the pacer benchmark swaps it to measure the
// Go timer alone.
var pacerWaker = newPacerWaker

// newPacerWaker returns the precise waker for a run on the real clock, or
// nil when there is none: fake clocks and systems without one pace on the
// Go timer alone.
func newPacerWaker(c Clock) waker {
	if _, ok := c.(realClock); !ok {
		return nil
	}
	w, err := newWaker()
	if err != nil {
		return nil
	}
	return w
}

// waitUntil blocks until the elapsed run time reaches t: a precise sleep to
// spinMargin before it, then yields. A failing sleep leaves the yields to
// finish the wait (within coarseMargin by construction).
func (r *run) waitUntil(w waker, t time.Duration) {
	if d := t - r.elapsed() - spinMargin; d > 0 {
		_ = w.sleep(d)
	}
	for r.elapsed() < t {
		runtime.Gosched()
	}
}
