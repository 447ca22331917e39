package loader

import (
	"sync"
	"time"
)

// fakeClock is a manual clock: time moves only in Advance. Timers and
// tickers fire during Advance, in time order; like Go 1.23 timers, Stop and
// Reset discard a tick not yet received.
type fakeClock struct {
	mu     sync.Mutex
	cond   *sync.Cond
	now    time.Time
	timers []*fakeTimer
}

func newFakeClock() *fakeClock {
	c := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	c.cond = sync.NewCond(&c.mu)
	return c
}

type fakeTimer struct {
	c      *fakeClock
	ch     chan time.Time
	when   time.Time
	period time.Duration // > 0 for tickers
	active bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) add(d, period time.Duration) *fakeTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1), when: c.now.Add(d), period: period, active: true}
	c.timers = append(c.timers, t)
	c.cond.Broadcast()
	return t
}

func (c *fakeClock) NewTimer(d time.Duration) Timer { return timerOf{c.add(d, 0)} }

func (c *fakeClock) NewTicker(d time.Duration) Ticker { return tickerOf{c.add(d, d)} }

type timerOf struct{ t *fakeTimer }

func (t timerOf) C() <-chan time.Time { return t.t.ch }
func (t timerOf) Stop() bool          { return t.t.stop() }
func (t timerOf) Reset(d time.Duration) {
	c := t.t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	drain(t.t.ch)
	t.t.when = c.now.Add(d)
	t.t.active = true
	c.cond.Broadcast()
}

type tickerOf struct{ t *fakeTimer }

func (t tickerOf) C() <-chan time.Time { return t.t.ch }
func (t tickerOf) Stop()               { t.t.stop() }

func (t *fakeTimer) stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	was := t.active
	t.active = false
	drain(t.ch)
	c.cond.Broadcast()
	return was
}

func drain(ch chan time.Time) {
	select {
	case <-ch:
	default:
	}
}

// Advance moves time forward by d, firing timers due on the way in order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := c.now.Add(d)
	for {
		var next *fakeTimer
		for _, t := range c.timers {
			if t.active && !t.when.After(end) && (next == nil || t.when.Before(next.when)) {
				next = t
			}
		}
		if next == nil {
			break
		}
		if next.when.After(c.now) {
			c.now = next.when
		}
		select {
		case next.ch <- c.now:
		default: // a ticker whose last tick is unread drops this one
		}
		if next.period > 0 {
			next.when = next.when.Add(next.period)
		} else {
			next.active = false
		}
	}
	c.now = end
	c.cond.Broadcast()
}

// WaitTimer blocks until an active timer (not a ticker) is set to fire at
// offset from the clock's start: the sign that a goroutine is waiting on it.
func (c *fakeClock) WaitTimer(start time.Time, offset time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for _, t := range c.timers {
			if t.active && t.period == 0 && t.when.Equal(start.Add(offset)) {
				return
			}
		}
		c.cond.Wait()
	}
}
