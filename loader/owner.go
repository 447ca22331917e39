package loader

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"time"
)

// own is the goroutine that owns the aggregator: it collects the VUs'
// batches on every tick, publishes snapshots and evaluates thresholds.
func (r *run) own(a *aggregator) {
	defer close(r.finished)
	defer close(r.snaps)
	tick := r.clock.NewTicker(r.cfg.SnapshotInterval)
	defer tick.Stop()
	o := &owner{r: r, a: a, aborted: make([]bool, len(r.cfg.Thresholds))}
	o.cpu0, o.cpuOK = processCPU()
	o.cpuLast = o.cpu0
	for {
		select {
		case <-tick.C():
			// Read before the time: a snapshot of a run still scheduling
			// at now shows its target, however late this goroutine runs.
			stopping, rate := r.stopping.Load(), r.rate.Load()
			o.ivStopping, o.ivRate = stopping, rate
			now := r.elapsed()
			o.collect(now)
			o.publish(now, false, stopping, rate)
		case req := <-r.windowReq:
			o.ivStopping, o.ivRate = r.stopping.Load(), r.rate.Load()
			now := r.elapsed()
			o.collect(now)
			req.reply <- a.window(req.d, now).stats()
		case <-r.workersDone:
			now := r.elapsed()
			o.collect(now)
			if now > a.curAt {
				o.closeCPU(a.curAt, now)
				a.rotate(now) // close the partial interval: windows end with the run
			}
			o.ivStopping = true
			o.closeInterval(now, true)
			o.publish(now, true, true, 0)
			return
		}
	}
}

// owner is the state of the owner goroutine.
type owner struct {
	r        *run
	a        *aggregator
	seq      int
	spare    [][]result
	pending  []result
	lastDrop int64
	lastIn   int64
	lastOut  int64
	aborted  []bool
	// ivStopping and ivRate are read before the time of the collection
	// that closes intervals: the target an interval closing in it ran at.
	ivStopping bool
	ivRate     uint64

	// The process's CPU: at the start, at the last sample, and in the
	// current interval; the seconds with drops, and those of them with the
	// CPU saturated (Delivery).
	cpu0, cpuLast, cpuCur time.Duration
	cpuOK                 bool
	dropSecs, satSecs     int
}

// sampleCPU adds the process's CPU since the last sample to the current
// interval.
func (o *owner) sampleCPU() {
	if !o.cpuOK {
		return
	}
	if c, ok := processCPU(); ok {
		o.cpuCur += c - o.cpuLast
		o.cpuLast = c
	}
}

// closeCPU judges the interval about to rotate: it counts when iterations
// were dropped in it, and as saturated when the process used at least 90 %
// of its cores meanwhile.
func (o *owner) closeCPU(start, end time.Duration) {
	if o.a.curC.dropped > 0 && end > start {
		o.dropSecs++
		if o.cpuOK && o.cpuCur.Seconds()/(end-start).Seconds() >= saturatedCPU*float64(runtime.GOMAXPROCS(0)) {
			o.satSecs++
		}
	}
	o.cpuCur = 0
}

// delivery is an open model's Delivery so far.
func (o *owner) delivery(now time.Duration) Delivery {
	r := o.r
	end := now
	if pe := time.Duration(r.paceEnd.Load()); pe > 0 {
		end = pe
	}
	end = min(end, r.cfg.Executor.Duration)
	paused := time.Duration(r.pausedNs.Load())
	if r.paused.Load() {
		paused += max(end-time.Duration(r.pausedAt.Load()), 0)
	}
	d := Delivery{
		Sent: r.sent.Load(), Dropped: r.dropped.Load(), Active: max(end-paused, 0),
		MaxVUs: int(r.maxVUs.Load()), VUCapReached: r.capReached.Load(),
		Cores: runtime.GOMAXPROCS(0), DropSeconds: o.dropSecs, SaturatedSeconds: o.satSecs,
	}
	d.Due = d.Sent + d.Dropped
	if o.cpuOK {
		d.CPU = o.cpuLast - o.cpu0
	}
	return d
}

// collect swaps out every VU's batch and records it, splitting the results
// at interval boundaries by their end time.
func (o *owner) collect(now time.Duration) {
	r, a := o.r, o.a
	o.sampleCPU()
	pending := o.pending[:0]
	for _, v := range r.allVUs() {
		var spare []result
		if n := len(o.spare); n > 0 {
			spare, o.spare = o.spare[n-1], o.spare[:n-1]
		}
		got := v.batch.swap(spare)
		pending = append(pending, got...)
		o.spare = append(o.spare, got[:0])
	}
	// Results that ended before a boundary belong to the interval before it.
	for now >= a.curAt+interval {
		boundary := int64(a.curAt + interval)
		keep := pending[:0]
		for i := range pending {
			if pending[i].end < boundary {
				a.record(&pending[i])
			} else {
				keep = append(keep, pending[i])
			}
		}
		pending = keep
		o.counts()
		end := a.curAt + interval
		o.closeCPU(a.curAt, end)
		a.rotate(end)
		o.closeInterval(end, false)
	}
	for i := range pending {
		a.record(&pending[i])
	}
	o.counts()
	o.pending = pending[:0]
}

// counts moves the counts kept outside results into the current interval.
func (o *owner) counts() {
	d := o.r.dropped.Load()
	var in, out int64
	if s := o.r.prep.std; s != nil {
		in, out = s.bytesIn.Load(), s.bytesOut.Load()
	}
	o.a.addCounts(d-o.lastDrop, in-o.lastIn, out-o.lastOut)
	o.lastDrop, o.lastIn, o.lastOut = d, in, out
}

// publish sends the snapshot at now; stopping and rate (the pacer's
// target, float64 bits) are as they were when now was read — before the
// collection, which a busy machine can make long — so an open model's
// snapshot shows the target it ran at then, none once it winds down.
func (o *owner) publish(now time.Duration, done, stopping bool, rate uint64) {
	r, a := o.r, o.a
	o.seq++
	s := Snapshot{
		Seq:        o.seq,
		Time:       r.start.Add(now),
		Elapsed:    now,
		Done:       done,
		Reason:     r.stopReason(),
		Executor:   r.cfg.Executor.Kind,
		Paused:     r.paused.Load(),
		VUs:        int(r.alive.Load()),
		PeakVUs:    int(r.peak.Load()),
		InFlight:   int(r.inflight.Load()),
		WindowSize: r.cfg.Window,
		Window:     a.window(r.cfg.Window, now).stats(),
		Total:      a.window(0, now).stats(),
		Planned:    r.cfg.Executor.Duration,
		Iterations: r.cfg.Executor.Iterations,
	}
	if r.cfg.Executor.Kind.Open() {
		s.MaxVUs = int(r.maxVUs.Load())
		s.Starved = r.starved.Load()
		if !stopping {
			s.TargetRate = math.Float64frombits(rate)
		}
		s.Delivery = o.delivery(now)
	} else {
		s.TargetVUs = int(r.target.Load())
	}
	s.Thresholds = o.thresholds(now, done)
	if a.iv != nil {
		s.Intervals, a.iv.out = a.iv.out, nil
	}
	r.evMu.Lock()
	s.Events = slices.Clone(r.events)
	r.evMu.Unlock()
	o.send(s)
}

// thresholds evaluates every threshold and aborts the run when an
// abortOnFail one fails with samples, after its delay.
func (o *owner) thresholds(now time.Duration, done bool) []ThresholdState {
	r := o.r
	if len(r.cfg.Thresholds) == 0 {
		return nil
	}
	out := make([]ThresholdState, len(r.cfg.Thresholds))
	for i, t := range r.cfg.Thresholds {
		v, ok := o.a.window(t.Window, now).value(t)
		st := ThresholdState{Threshold: t, Value: v, HasSamples: ok, Pass: t.Eval(v, ok), Aborted: o.aborted[i]}
		if !done && t.AbortOnFail && ok && !st.Pass && now >= t.DelayAbortEval && !r.stopping.Load() {
			o.aborted[i] = true
			st.Aborted = true
			r.event(EventAbort, v, fmt.Sprintf("%s failed with %g", t.String(), v))
			r.requestStop(ReasonThreshold)
		}
		out[i] = st
	}
	return out
}

// send publishes s, replacing a snapshot the reader has not taken yet: the
// reader always gets the latest and the owner never blocks.
func (o *owner) send(s Snapshot) {
	select {
	case o.r.snaps <- s:
		return
	default:
	}
	select {
	case old := <-o.r.snaps:
		// The reader never took it: its intervals go with the new one.
		s.Intervals = append(old.Intervals, s.Intervals...)
	default:
	}
	o.r.snaps <- s // the owner is the only sender and the buffer is empty now
}
