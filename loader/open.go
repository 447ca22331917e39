package loader

import (
	"context"
	"fmt"
	"math"
	"time"
)

// pace is the one pacing goroutine of the open models: it hands intended
// start times to idle VUs, starts VUs up to the cap when none is idle, and
// waits for one (recording the lateness) when the cap is reached.
func (r *run) pace(ctx, reqCtx context.Context) {
	e := r.cfg.Executor
	sched := newSchedule(e)
	for range e.PreAllocatedVUs {
		r.startOpenVU(reqCtx)
	}
	end := r.clock.NewTimer(max(e.Duration-r.elapsed(), 0))
	defer end.Stop()
	var wait Timer
	defer func() {
		if wait != nil {
			wait.Stop()
		}
	}()
	stage := -1
	if e.Kind == RampingArrivalRate {
		stage = r.stageEvent(stage)
	}
	apply := func(cmd command) {
		if cmd.rate > 0 {
			sched.setRate(r.elapsed(), cmd.rate)
		}
	}
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
			select {
			case <-resume:
			case cmd := <-r.ctrl:
				apply(cmd)
			case <-end.C():
				r.requestStop(ReasonDuration) // what fell due while paused is skipped, not dropped
				return
			case <-r.stopCh:
				return
			case <-ctx.Done():
				r.requestStop(ReasonCancelled)
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
		var due <-chan time.Time
		if ok && t > now {
			if wait == nil {
				wait = r.clock.NewTimer(t - now)
			} else {
				wait.Reset(t - now)
			}
			due = wait.C()
		}
		if !ok || t > now {
			select {
			case <-due:
			case cmd := <-r.ctrl:
				if due != nil {
					wait.Stop() // no stale tick follows Stop (Go 1.23 timers; the fake clock too)
				}
				apply(cmd)
			case <-end.C():
				r.dropUnsent(sched)
				r.requestStop(ReasonDuration)
				return
			case <-r.stopCh:
				return
			case <-ctx.Done():
				r.requestStop(ReasonCancelled)
				return
			}
			continue
		}
		// The iteration is due.
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
			sched.advance()
			continue
		default:
		}
		if r.alive.Load() < r.maxVUs.Load() {
			r.startOpenVU(reqCtx)
		} else {
			r.starved.Store(true)
			if !r.warned {
				r.warned = true
				r.event(EventInsufficientVUs, float64(r.maxVUs.Load()),
					fmt.Sprintf("all %d VUs busy with an iteration due: raise MaxVUs or lower the rate", r.maxVUs.Load()))
			}
		}
		select {
		case r.work <- int64(t):
			r.starved.Store(false)
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
	r.alive.Add(1)
	go r.openVU(reqCtx, v)
}

func (r *run) openVU(ctx context.Context, v *vu) {
	defer r.wg.Done()
	for {
		select {
		case t := <-r.work:
			r.iterate(ctx, v, t)
		case <-r.stopCh:
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
	}
}
