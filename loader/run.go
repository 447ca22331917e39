package loader

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
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
	peak     atomic.Int64 // the most VUs alive at once
	inflight atomic.Int64
	dropped  atomic.Int64
	starved  atomic.Bool   // the pacer waits for a VU with an iteration due
	rate     atomic.Uint64 // open models: current target rate (float64 bits)

	// Open models: what the schedule made due, and the evidence of why
	// some of it was not sent.
	sent       atomic.Int64  // iterations handed to a VU
	idle       atomic.Int64  // VUs waiting for an iteration (or starting)
	capReached atomic.Bool   // all MaxVUs busy with an iteration due (EventInsufficientVUs)
	paceEnd    atomic.Int64  // elapsed ns when the pacer stopped (0: pacing)
	pausedNs   atomic.Int64  // time spent paused, pauses that ended
	pausedAt   atomic.Int64  // elapsed ns when the current pause began
	growCh     chan struct{} // the pacer or a VU asks the grower for a VU
	vusSet     atomic.Bool   // SetVUs set the cap: SetRate leaves it alone

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
		growCh:      make(chan struct{}, 1),
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
	if cfg.Intervals > 0 {
		agg.iv = newIntervals(cfg.Intervals)
	}
	r.event(EventStart, 0, string(e.Kind))
	if e.Kind.Open() && e.autoVUs {
		r.event(EventAutoVUs, float64(e.MaxVUs), fmt.Sprintf("VUs sized from the rate: %d started, up to %d (%g/s × %s timeout, at most %d)",
			e.PreAllocatedVUs, e.MaxVUs, e.PeakRate(), cfg.Timeout, AutoMaxVUs))
	}

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

// vuStarted counts a VU as alive, and in the peak.
func (r *run) vuStarted() {
	n := r.alive.Add(1)
	for {
		p := r.peak.Load()
		if n <= p || r.peak.CompareAndSwap(p, n) {
			return
		}
	}
}
