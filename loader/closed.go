package loader

import (
	"context"
	"time"
)

// closedLoop drives constant-vus and ramping-vus until the run stops.
func (r *run) closedLoop(ctx, reqCtx context.Context) {
	e := r.cfg.Executor
	ramping := e.Kind == RampingVUs
	want := e.VUs
	if ramping {
		want = vusAt(e.VUs, e.Stages, 0)
	}
	r.setTarget(reqCtx, want)
	end := r.clock.NewTimer(max(e.Duration-r.elapsed(), 0))
	defer end.Stop()
	var tick <-chan time.Time
	stage := -1
	if ramping {
		t := r.clock.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		tick = t.C()
		stage = r.stageEvent(stage)
	}
	override := false
	for {
		select {
		case <-end.C():
			r.requestStop(ReasonDuration)
			return
		case <-tick:
			now := r.elapsed()
			stage = r.stageEvent(stage)
			if !override {
				r.setTarget(reqCtx, vusAt(e.VUs, e.Stages, now))
			}
		case cmd := <-r.ctrl:
			if cmd.vus > 0 {
				override = true
				r.setTarget(reqCtx, cmd.vus)
			}
		case <-r.stopCh:
			return
		case <-ctx.Done():
			r.requestStop(ReasonCancelled)
			return
		}
	}
}

// setTarget makes n VUs run in a closed model; VUs beyond n stop after
// their current iteration.
func (r *run) setTarget(reqCtx context.Context, n int) {
	r.target.Store(int64(n))
	for i := range n {
		v := r.vu(i)
		if v.running.CompareAndSwap(false, true) {
			r.wg.Add(1)
			r.vuStarted()
			go r.closedVU(reqCtx, v)
		}
	}
}

func (r *run) closedVU(ctx context.Context, v *vu) {
	defer r.wg.Done()
	defer r.alive.Add(-1)
	think := r.cfg.Executor.ThinkTime
	var timer Timer
	for {
		if r.stopping.Load() {
			return
		}
		if int64(v.id) >= r.target.Load() {
			// Scale down, unless a new target wants this VU back meanwhile.
			v.running.Store(false)
			if int64(v.id) < r.target.Load() && v.running.CompareAndSwap(false, true) {
				continue
			}
			return
		}
		if r.paused.Load() {
			if !r.waitResume() {
				return
			}
			continue
		}
		if !r.claim() {
			r.requestStop(ReasonIterations)
			return
		}
		r.iterate(ctx, v, -1)
		if think > 0 {
			if timer == nil {
				timer = r.clock.NewTimer(think)
			} else {
				timer.Reset(think)
			}
			select {
			case <-timer.C():
			case <-r.stopCh:
				timer.Stop()
				return
			}
		}
	}
}
