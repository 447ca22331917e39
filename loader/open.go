package loader

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"time"
)

// pace is the one pacing goroutine of the open models: it hands intended
// start times to idle VUs, asks the grower for a VU when none is idle and
// the cap allows one, and waits for one (recording the lateness) when the
// cap is reached. It never starts a VU itself: growth is off its path.
func (r *run) pace(ctx, reqCtx context.Context) {
	e := r.cfg.Executor
	sched := newSchedule(e)
	defer func() { r.paceEnd.Store(max(r.now(), 1)) }()
	for range e.PreAllocatedVUs {
		r.startOpenVU(reqCtx)
	}
	r.wg.Add(1) // the grower adds VUs to wg: it must be counted in it itself
	go r.grow(reqCtx)
	end := r.clock.NewTimer(max(e.Duration-r.elapsed(), 0))
	defer end.Stop()
	var wait Timer
	defer func() {
		if wait != nil {
			wait.Stop()
		}
	}()
	precise := pacerWaker(r.clock)
	if precise != nil {
		defer func() { _ = precise.close() }()
	}
	stage := -1
	if e.Kind == RampingArrivalRate {
		stage = r.stageEvent(stage)
	}
	apply := func(cmd command) {
		if cmd.rate > 0 {
			sched.setRate(r.elapsed(), cmd.rate)
		}
	}
	// What await calls, made once: the pacer's loop allocates nothing.
	var due <-chan time.Time
	applyWaiting := func(cmd command) {
		if due != nil {
			wait.Stop() // no stale tick follows Stop (Go 1.23 timers; the fake clock too)
		}
		apply(cmd)
	}
	skipPaused := func() {} // what fell due while paused is skipped, not dropped
	dropUnsent := func() { r.dropUnsent(sched) }
	var resumes int64
	for {
		if n := r.resumes.Load(); n != resumes {
			resumes = n
			sched.skipTo(time.Duration(r.resumedAt.Load())) // iterations due while paused are not sent
		}
		if r.paused.Load() {
			r.pauseMu.Lock()
			resume := r.resumeCh
			r.pauseMu.Unlock()
			if !await(ctx, r, resume, end, apply, skipPaused) {
				return
			}
			continue
		}
		now := r.elapsed()
		if e.Kind == RampingArrivalRate {
			stage = r.stageEvent(stage)
		}
		r.rate.Store(math.Float64bits(sched.rateAt(now)))
		t, ok := sched.next()
		if ok && t > now && precise != nil && t-now <= coarseMargin {
			r.waitUntil(precise, t) // the last stretch, on time (wake.go)
			continue
		}
		due = nil
		if ok && t > now {
			d := t - now
			if precise != nil {
				d -= coarseMargin
			}
			if wait == nil {
				wait = r.clock.NewTimer(d)
			} else {
				wait.Reset(d)
			}
			due = wait.C()
		}
		if !ok || t > now {
			if !await(ctx, r, due, end, applyWaiting, dropUnsent) {
				return
			}
			continue
		}
		// The iteration is due.
		if r.stopping.Load() {
			return
		}
		if lag := now - t; lag > e.MaxLag {
			n := sched.skipTo(now - e.MaxLag)
			if n == 0 { // float rounding put t just before the cut: drop it alone
				sched.advance()
				n = 1
			}
			r.dropped.Add(n)
			continue
		}
		if !r.claim() {
			r.requestStop(ReasonIterations)
			return
		}
		select {
		case r.work <- int64(t):
			r.sent.Add(1)
			sched.advance()
			if precise != nil {
				// The VU is ready to run on this processor: let it send
				// now rather than when the pacer next sleeps.
				runtime.Gosched()
			}
			continue
		default:
		}
		if r.alive.Load() < r.maxVUs.Load() {
			r.wantVU()
		} else {
			r.starved.Store(true)
			if !r.capReached.Swap(true) {
				r.event(EventInsufficientVUs, float64(r.maxVUs.Load()),
					fmt.Sprintf("all %d VUs busy with an iteration due: raise MaxVUs or lower the rate", r.maxVUs.Load()))
			}
		}
		select {
		case r.work <- int64(t):
			r.starved.Store(false)
			r.sent.Add(1)
			sched.advance()
		case cmd := <-r.ctrl:
			r.starved.Store(false)
			r.iterLeft.Add(1) // not sent: give the claim back
			apply(cmd)
		case <-end.C():
			r.iterLeft.Add(1) // not sent: give the claim back
			r.dropUnsent(sched)
			r.requestStop(ReasonDuration)
			return
		case <-r.stopCh:
			return
		case <-ctx.Done():
			r.requestStop(ReasonCancelled)
			return
		}
	}
}

// dropUnsent counts the iterations that fell due before the end of the
// run but were never started — the pacer was behind, e.g. starved of CPU —
// as dropped, so that every scheduled iteration is either sent or dropped.
func (r *run) dropUnsent(sched *schedule) {
	if n := sched.skipTo(r.cfg.Executor.Duration); n > 0 {
		r.dropped.Add(n)
	}
}

// wantVU asks the grower for one more VU, without waiting.
func (r *run) wantVU() {
	select {
	case r.growCh <- struct{}{}:
	default: // a request is pending already
	}
}

// grow starts VUs for the pacer, so that starting one (a goroutine, and
// later its connection) never holds the schedule: on each request it
// starts VUs until one is idle or the cap is reached. It returns when the
// run stops.
func (r *run) grow(reqCtx context.Context) {
	defer r.wg.Done()
	for {
		select {
		case <-r.growCh:
		case <-r.stopCh:
			return
		}
		for r.idle.Load() < 1 && r.alive.Load() < r.maxVUs.Load() && !r.stopping.Load() {
			r.startOpenVU(reqCtx)
		}
	}
}

// startOpenVU starts a VU of an open model; it counts as idle at once.
func (r *run) startOpenVU(reqCtx context.Context) {
	r.vuMu.Lock()
	var v *vu
	for _, c := range r.vus {
		if !c.running.Load() {
			v = c
			break
		}
	}
	if v == nil {
		v = &vu{id: len(r.vus)}
		r.vus = append(r.vus, v)
	}
	v.running.Store(true)
	r.vuMu.Unlock()
	r.wg.Add(1)
	r.vuStarted()
	r.idle.Add(1)
	go r.openVU(reqCtx, v)
}

// openVU runs the iterations the pacer hands it. A VU that takes the last
// idle one's place asks the grower for another, so the next iteration due
// finds one waiting.
func (r *run) openVU(ctx context.Context, v *vu) {
	defer r.wg.Done()
	for {
		select {
		case t := <-r.work:
			if r.idle.Add(-1) == 0 && r.alive.Load() < r.maxVUs.Load() {
				r.wantVU()
			}
			r.iterate(ctx, v, t)
		case <-r.stopCh:
			r.idle.Add(-1)
			v.running.Store(false)
			r.alive.Add(-1)
			return
		}
		// SetVUs may have lowered the cap: leave if over it.
		for {
			n := r.alive.Load()
			if n <= r.maxVUs.Load() {
				break
			}
			if r.alive.CompareAndSwap(n, n-1) {
				v.running.Store(false)
				return
			}
		}
		r.idle.Add(1)
	}
}

// await waits for the pacer's next wake-up: ready (a resume, a due time;
// nil waits for the rest only), or a control command, which it applies.
// It reports false when the run ends instead: its duration is over
// (atEnd runs first), it was stopped, or ctx ended.
func await[T any](ctx context.Context, r *run, ready <-chan T, end Timer, apply func(command), atEnd func()) bool {
	select {
	case <-ready:
	case cmd := <-r.ctrl:
		apply(cmd)
	case <-end.C():
		atEnd()
		r.requestStop(ReasonDuration)
		return false
	case <-r.stopCh:
		return false
	case <-ctx.Done():
		r.requestStop(ReasonCancelled)
		return false
	}
	return true
}
