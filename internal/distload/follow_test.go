package distload

import (
	"testing"
	"time"
)

// TestBlindClockStandsStillWhileAStreamIsBroken: the merger's clock does
// not advance while any stream is broken, for at most its bound per
// outage, and runs on from where it stood once every stream is mended.
func TestBlindClockStandsStillWhileAStreamIsBroken(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	wall := t0
	b := newBlindClock(time.Minute)
	b.now = func() time.Time { return wall }
	at := func(d time.Duration) { wall = t0.Add(d) }
	want := func(d time.Duration) {
		t.Helper()
		if got := b.Now().Sub(t0); got != d {
			t.Fatalf("at wall %s: clock %s, want %s", wall.Sub(t0), got, d)
		}
	}
	at(10 * time.Second)
	want(10 * time.Second)
	if !b.Break(0) || b.Break(1) || b.Break(0) {
		t.Fatal("Break reports the outage's beginning only")
	}
	at(20 * time.Second)
	want(10 * time.Second)
	if b.Mend(0) {
		t.Fatal("mended with stream 1 still broken")
	}
	at(25 * time.Second)
	want(10 * time.Second)
	if !b.Mend(1) || b.Mend(1) {
		t.Fatal("Mend reports the outage's end only")
	}
	want(10 * time.Second)
	at(30 * time.Second)
	want(15 * time.Second)
	// An outage longer than the bound stops the clock for the bound only.
	b.Break(2)
	at(30*time.Second + 3*time.Minute)
	want(15*time.Second + 2*time.Minute)
	b.Mend(2)
	at(31*time.Second + 3*time.Minute)
	want(16*time.Second + 2*time.Minute)
	// A lost worker's stream stops holding the clock, and breaks no more.
	b.Break(3)
	at(41*time.Second + 3*time.Minute)
	b.Forget(3)
	if b.Break(3) {
		t.Fatal("a forgotten stream broke again")
	}
	at(51*time.Second + 3*time.Minute)
	want(26*time.Second + 2*time.Minute)
}
