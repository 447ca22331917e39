package loader

import (
	"runtime"
	"testing"
	"time"
)

// The precise waker never wakes early (how late it wakes is for the
// benchmark to show, not a unit test), and the pacer's wait reaches its
// due time. Both only on the real clock.
func TestPreciseWakeNeverEarly(t *testing.T) {
	if newPacerWaker(newFakeClock()) != nil {
		t.Fatal("a fake clock got a precise waker")
	}
	w := newPacerWaker(realClock{})
	if w == nil {
		if runtime.GOOS == "linux" {
			t.Fatal("no precise waker on Linux")
		}
		t.Skip("no precise waker on " + runtime.GOOS)
	}
	defer w.close()
	for _, d := range []time.Duration{time.Microsecond, 200 * time.Microsecond, 3 * time.Millisecond} {
		for range 5 {
			start := time.Now()
			if err := w.sleep(d); err != nil {
				t.Fatal(err)
			}
			if got := time.Since(start); got < d {
				t.Errorf("sleep(%s) returned after %s", d, got)
			}
		}
	}
	r := &run{clock: realClock{}, start: time.Now()}
	for _, at := range []time.Duration{100 * time.Microsecond, 2 * time.Millisecond, 4 * time.Millisecond} {
		r.waitUntil(w, at)
		if got := r.elapsed(); got < at {
			t.Errorf("waitUntil(%s) returned at %s", at, got)
		}
	}
}
