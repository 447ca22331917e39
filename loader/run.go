package loader

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Errors from Control.
var (
	// ErrNotRunning: the run has stopped or is stopping.
	ErrNotRunning = errors.New("the run is not running")
	// ErrNotSupported: the change does not apply to this executor.
	ErrNotSupported = errors.New("not supported by this executor")
)

// run is one load test in flight. Contexts are passed to the goroutines
// that need them, never stored.
type run struct {
	cfg   Config
	prep  *prepared
	clock Clock
	start time.Time

	// Stopping: requestStop closes stopCh once; workers poll stopping.
	stopOnce sync.Once
	stopCh   chan struct{}
	stopping atomic.Bool
	reason   atomic.Value // StopReason

	// Pause: workers poll paused; resumeCh is closed on Resume.
	pauseMu  sync.Mutex
	paused   atomic.Bool
	resumeCh chan struct{}
	// Each Resume bumps resumes after storing its elapsed time in
	// resumedAt: the pacer skips what fell due before it, even when it never
	// saw the pause itself.
	resumes   atomic.Int64
	resumedAt atomic.Int64

	ctrl chan command // to the driver: rate, VUs, wake-ups

	iterLeft atomic.Int64 // when Executor.Iterations > 0
	target   atomic.Int64 // closed models: VUs wanted
	maxVUs   atomic.Int64 // open models: VU cap
	alive    atomic.Int64
	inflight atomic.Int64
	dropped  atomic.Int64
	starved  atomic.Bool   // the pacer waits for a VU with an iteration due
	warned   bool          // EventInsufficientVUs recorded (pacer only)
	rate     atomic.Uint64 // open models: current target rate (float64 bits)

	vuMu sync.Mutex
	vus  []*vu
	wg   sync.WaitGroup // VU goroutines
	work chan int64     // open models: intended start times (ns)

	evMu   sync.Mutex
	events []Event

	snaps       chan Snapshot
	windowReq   chan windowReq
	workersDone chan struct{} // closed by the driver when every VU has stopped
	finished    chan struct{} // closed by the owner after the last snapshot
}

type command struct {
	rate float64 // > 0: SetRate
	vus  int     // > 0: SetVUs
}

type windowReq struct {
	d     time.Duration
	reply chan Stats
}

// vu is one virtual user. Its batch is the only thing it shares with the
// owner of the histograms.
type vu struct {
	id      int
	running atomic.Bool
	pick    int
	client  doer
	res     result
	batch   batch
}

// batch is a VU's results since the owner last collected them. The mutex is
// uncontended but for the owner's swap, ten times a second.
type batch struct {
	mu  sync.Mutex
	buf []result
}

func (b *batch) add(r *result) {
	b.mu.Lock()
	b.buf = append(b.buf, *r)
	b.mu.Unlock()
}

func (b *batch) swap(spare []result) []result {
	b.mu.Lock()
	out := b.buf
	b.buf = spare[:0]
	b.mu.Unlock()
	return out
}

// Run validates cfg, starts the load test and returns its snapshots and a
// Control. Validation errors are *FieldError and come back before anything
// starts. Run owns the channel and closes it after the last snapshot (Done
// set); read it until then. Cancelling ctx stops the run at once (in-flight
// requests are cancelled and counted as interrupted); every other stop is
// graceful.
func Run(ctx context.Context, cfg Config) (<-chan Snapshot, *Control, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, nil, err
	}
	prep, err := prepare(cfg)
	if err != nil {
		return nil, nil, err
	}
	e := cfg.Executor
	r := &run{
		cfg:         cfg,
		prep:        prep,
		clock:       cfg.Clock,
		stopCh:      make(chan struct{}),
		resumeCh:    make(chan struct{}),
		ctrl:        make(chan command, 16),
		work:        make(chan int64),
		snaps:       make(chan Snapshot, 1),
		windowReq:   make(chan windowReq),
		workersDone: make(chan struct{}),
		finished:    make(chan struct{}),
	}
	r.iterLeft.Store(e.Iterations)
	r.maxVUs.Store(int64(e.MaxVUs))
	if e.Kind.Open() {
		r.rate.Store(math.Float64bits(newSchedule(e).rateAt(0)))
	}
	ringLen := max(minRing, int(cfg.Window/interval))
	for _, t := range cfg.Thresholds {
		ringLen = max(ringLen, int(t.Window/interval))
	}
	r.start = r.clock.Now()
	var log *hdrLog
	if cfg.HDRLog != nil {
		log = newHDRLog(cfg.HDRLog, r.start, func(err error) {
			r.event(EventError, 0, fmt.Sprintf("hdr log: %v", err))
		})
	}
	agg := newAggregator(e.Kind.Open(), ringLen, log)
	r.event(EventStart, 0, string(e.Kind))

	reqCtx, cancelReqs := context.WithCancel(ctx)
	go r.drive(ctx, reqCtx, cancelReqs)
	go r.own(agg)
	return r.snaps, &Control{r: r}, nil
}

// now returns the elapsed run time in nanoseconds.
func (r *run) now() int64 { return int64(r.clock.Now().Sub(r.start)) }

func (r *run) elapsed() time.Duration { return r.clock.Now().Sub(r.start) }

func (r *run) event(kind EventKind, value float64, msg string) {
	r.evMu.Lock()
	r.events = append(r.events, Event{Elapsed: r.elapsed(), Kind: kind, Value: value, Message: msg})
	r.evMu.Unlock()
}

func (r *run) requestStop(reason StopReason) {
	r.stopOnce.Do(func() {
		r.reason.Store(reason)
		r.stopping.Store(true)
		close(r.stopCh)
		r.event(EventStopping, 0, string(reason))
	})
}

func (r *run) stopReason() StopReason {
	s, _ := r.reason.Load().(StopReason)
	return s
}

// claim takes one iteration from the limit; false when none is left.
func (r *run) claim() bool {
	if r.cfg.Executor.Iterations <= 0 {
		return true
	}
	return r.iterLeft.Add(-1) >= 0
}

// waitResume blocks while the run is paused; false if it is stopping.
func (r *run) waitResume() bool {
	r.pauseMu.Lock()
	ch, paused := r.resumeCh, r.paused.Load()
	r.pauseMu.Unlock()
	if !paused {
		return true
	}
	select {
	case <-ch:
		return true
	case <-r.stopCh:
		return false
	}
}

// vu returns VU i, creating it if needed.
func (r *run) vu(i int) *vu {
	r.vuMu.Lock()
	defer r.vuMu.Unlock()
	for len(r.vus) <= i {
		r.vus = append(r.vus, &vu{id: len(r.vus)})
	}
	return r.vus[i]
}

func (r *run) allVUs() []*vu {
	r.vuMu.Lock()
	defer r.vuMu.Unlock()
	return slices.Clone(r.vus)
}

// drive runs the executor, then the graceful stop. It closes workersDone
// when every VU has returned.
func (r *run) drive(ctx, reqCtx context.Context, cancelReqs context.CancelFunc) {
	defer close(r.workersDone)
	defer cancelReqs()
	if r.cfg.Executor.Kind.Open() {
		r.pace(ctx, reqCtx)
	} else {
		r.closedLoop(ctx, reqCtx)
	}
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	grace := r.cfg.Executor.GracefulStop
	if grace < 0 {
		cancelReqs()
		<-done
	} else {
		t := r.clock.NewTimer(grace)
		select {
		case <-done:
		case <-t.C():
			r.event(EventGraceExpired, 0, fmt.Sprintf("%d requests still in flight after %s: cancelled", r.inflight.Load(), grace))
			cancelReqs()
			<-done
		case <-ctx.Done():
			<-done
		}
		t.Stop()
	}
	for _, v := range r.allVUs() {
		if v.client != nil {
			v.client.close()
		}
	}
}

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

// stageEvent records entering a new stage of a ramping executor.
func (r *run) stageEvent(prev int) int {
	now := r.elapsed()
	var at time.Duration
	cur := len(r.cfg.Executor.Stages) - 1
	for i, st := range r.cfg.Executor.Stages {
		if now < at+st.Duration {
			cur = i
			break
		}
		at += st.Duration
	}
	if cur != prev {
		st := r.cfg.Executor.Stages[cur]
		r.event(EventStage, float64(cur), fmt.Sprintf("stage %d: to %g over %s", cur+1, st.Target, st.Duration))
	}
	return cur
}

// setTarget makes n VUs run in a closed model; VUs beyond n stop after
// their current iteration.
func (r *run) setTarget(reqCtx context.Context, n int) {
	r.target.Store(int64(n))
	for i := range n {
		v := r.vu(i)
		if v.running.CompareAndSwap(false, true) {
			r.wg.Add(1)
			r.alive.Add(1)
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

// iterate runs one iteration on VU v. intended < 0 means "now" (closed
// models).
func (r *run) iterate(ctx context.Context, v *vu, intended int64) {
	if v.client == nil {
		v.client = r.newDoer(ctx)
	}
	pr := r.prep.reqs[r.prep.order[(v.pick+v.id)%len(r.prep.order)]]
	v.pick++
	res := &v.res
	*res = result{dns: -1, connect: -1, tlsHandshake: -1}
	res.start = r.now()
	if intended < 0 {
		intended = res.start
	}
	res.intended = intended
	r.inflight.Add(1)
	body := v.client.do(ctx, pr, res)
	r.inflight.Add(-1)
	res.end = r.now()
	pr.judge(res, body)
	v.batch.add(res)
}

func (r *run) newDoer(ctx context.Context) doer {
	if r.prep.client == ClientNetHTTP {
		return newStdClient(ctx, r.prep.std, r.prep.reqs, r.now)
	}
	return newH1Client(r.prep.endpoints, r.cfg.Timeout, r.now)
}

// own is the goroutine that owns the aggregator: it collects the VUs'
// batches on every tick, publishes snapshots and evaluates thresholds.
func (r *run) own(a *aggregator) {
	defer close(r.finished)
	defer close(r.snaps)
	tick := r.clock.NewTicker(r.cfg.SnapshotInterval)
	defer tick.Stop()
	o := &owner{r: r, a: a, aborted: make([]bool, len(r.cfg.Thresholds))}
	for {
		select {
		case <-tick.C():
			now := r.elapsed()
			o.collect(now)
			o.publish(now, false)
		case req := <-r.windowReq:
			now := r.elapsed()
			o.collect(now)
			req.reply <- a.window(req.d, now).stats()
		case <-r.workersDone:
			now := r.elapsed()
			o.collect(now)
			if now > a.curAt {
				a.rotate(now) // close the partial interval: windows end with the run
			}
			o.publish(now, true)
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
}

// collect swaps out every VU's batch and records it, splitting the results
// at interval boundaries by their end time.
func (o *owner) collect(now time.Duration) {
	r, a := o.r, o.a
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
		a.rotate(a.curAt + interval)
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

func (o *owner) publish(now time.Duration, done bool) {
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
		InFlight:   int(r.inflight.Load()),
		WindowSize: r.cfg.Window,
		Window:     a.window(r.cfg.Window, now).stats(),
		Total:      a.window(0, now).stats(),
	}
	if r.cfg.Executor.Kind.Open() {
		s.MaxVUs = int(r.maxVUs.Load())
		s.Starved = r.starved.Load()
		if !r.stopping.Load() {
			s.TargetRate = math.Float64frombits(r.rate.Load())
		}
	} else {
		s.TargetVUs = int(r.target.Load())
	}
	s.Thresholds = o.thresholds(now, done)
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
	case <-o.r.snaps:
	default:
	}
	o.r.snaps <- s // the owner is the only sender and the buffer is empty now
}

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
	r.paused.Store(false)
	r.resumedAt.Store(r.now())
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
// to the end of the run, replacing the remaining stages.
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
