package runbook

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/cockpit-dev/cockpit/internal/distload"
	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/report"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// DefaultProbeTimeout bounds one probe attempt when a step sets none.
const DefaultProbeTimeout = 30 * time.Second

// Runner does the I/O around the engine: it journals each event before
// applying it, runs the probes the engine asks for (each in its own
// goroutine with its step's timeout, so a slow probe delays nothing else),
// feeds their results back, and turns time into Ticks. The engine stays
// pure; the Runner is the only place with goroutines and clocks.
type Runner struct {
	Journal  *Journal
	Env      probes.Env
	Operator string
	// Now is the clock (time.Now when nil); TickEvery the Tick interval
	// (default 1s).
	Now       func() time.Time
	TickEvery time.Duration
	// Autopilot, when set, drives the run headless.
	Autopilot *Autopilot
	// Observe, when set, is told of every state change (the TUI, the
	// headless log). It must not block.
	Observe func(State, At, []Effect)
	// OnLoad, when set, receives every snapshot of a running load step
	// (at most 10 a second). It must not block.
	OnLoad func(step string, snap loader.Snapshot)
	// AllowActions starts a new run with mutating actions allowed (the
	// Started event records it); without it the run is read-only.
	AllowActions bool
	// OnProgress, when set, receives an executing action's interim
	// results (a rollout's per-item progress). It must not block.
	OnProgress func(step string, res actions.Result)
	// WorkerImage is the image of a distributed load step's workers when
	// its workers: block names none (the cockpit's own).
	WorkerImage string

	mu      sync.Mutex
	actions map[string]actionRun        // built actions by step id
	drained chan struct{}               // closed when Run stops awaiting what is out
	probes  map[string]probeRun         // built probes by step id
	loads   map[string]*loader.Control  // running load tests by step id
	dists   map[string]*distload.Driver // running distributed load tests by step id
}

// LoadControl returns the control of the step's running load test (pause,
// resume, rate, VUs, stop), or nil when none runs.
func (r *Runner) LoadControl(step string) *loader.Control {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loads[step]
}

type probeRun struct {
	probe probes.Probe
	rules probes.Outcomes
	err   error
}

func (r *Runner) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// Run drives s to the end (or until ctx is cancelled), starting with the
// effects already pending (those of a Resume). Operator events arrive on
// ops (nil for none). It returns the final state; an error only when the
// journal cannot be written — a run that cannot record must stop.
func (r *Runner) Run(ctx context.Context, s State, pending []Effect, ops <-chan Event) (final State, err error) {
	results := make(chan Event, 64)
	awaited := make(chan Event, 16) // results of cleanups, executions and undos
	r.drained = make(chan struct{})
	var awaiting int // cleanups, executions and undos out: awaited even after the run ends
	var wg sync.WaitGroup
	runCtx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		wg.Wait()
	}()
	every := r.TickEvery
	if every <= 0 {
		every = tickFor(s.Runbook)
	}
	ticker := time.NewTicker(every)
	defer ticker.Stop()

	// apply journals an event, then commits it (write-ahead: what was
	// acted on is on disk). A Tick that changes nothing is not journaled:
	// replaying it would change nothing either.
	apply := func(ev Event) error {
		at := At{Time: r.now(), Event: ev}
		next, effects := Apply(s, at)
		if _, tick := ev.(Tick); tick && len(effects) == 0 && !statusChanged(s, next) {
			s = next
			return nil
		}
		if r.Journal != nil {
			if err := r.Journal.Append(at, r.Operator, s.Phases[s.Current].ID); err != nil {
				return err
			}
		}
		s = next
		if r.Observe != nil {
			r.Observe(s, at, effects)
		}
		awaiting += r.execute(runCtx, &wg, s, effects, results, awaited)
		return nil
	}
	// What a run leaves behind (a silence) is taken back however it
	// ends: the cleanups out are awaited (each bounded by its timeout).
	// Executions and undos still out are cancelled, and what they did
	// is awaited and journaled too.
	defer func() {
		defer close(r.drained)
		cancel()
		for ; awaiting > 0; awaiting-- {
			if aerr := apply(<-awaited); aerr != nil {
				if err == nil {
					err = aerr
				}
				break
			}
		}
		final = s
	}()
	awaiting += r.execute(runCtx, &wg, s, pending, results, awaited)
	if !s.Started {
		if err := apply(Started{Operator: r.Operator, Headless: r.Autopilot != nil, AllowActions: r.AllowActions}); err != nil {
			return s, err
		}
	}
	for !s.Finished() {
		if r.Autopilot != nil && r.Autopilot.Done(s) {
			return s, nil
		}
		if r.Autopilot != nil {
			if evs := r.Autopilot.Next(s); len(evs) > 0 {
				before := s
				for _, ev := range evs {
					if err := apply(ev); err != nil {
						return s, err
					}
				}
				if statusChanged(before, s) || s.Finished() {
					continue
				}
				// Every autopilot event was refused: wait for something else.
			}
		}
		select {
		case <-ctx.Done():
			return s, nil
		case res := <-results:
			if err := apply(res); err != nil {
				return s, err
			}
		case res := <-awaited:
			awaiting--
			if err := apply(res); err != nil {
				return s, err
			}
		case ev := <-ops:
			if err := apply(ev); err != nil {
				return s, err
			}
		case <-ticker.C:
			if err := apply(Tick{}); err != nil {
				return s, err
			}
		}
	}
	return s, nil
}

// stepEnv is the probes environment of a step: with a cluster:, probes
// that name no context of their own use the cluster's, and default to its
// namespace.
func stepEnv(rb *Runbook, step *Step, env probes.Env) probes.Env {
	c, ok := rb.Clusters[step.Cluster]
	if !ok || step.Cluster == "" || env.Kube == nil {
		return env
	}
	kube := env.Kube
	env.Kube = func(name string) (*probes.Cluster, error) {
		if name == "" {
			name = c.Context
		}
		cl, err := kube(name)
		if err != nil || name != c.Context {
			return cl, err
		}
		return cl.WithNamespace(c.Namespace), nil
	}
	return env
}

// tickFor is the default Tick interval: a second, or the shortest every:
// of a repeating probe when that is shorter (at least 10ms), so a probe
// repeats as often as its runbook says.
func tickFor(rb *Runbook) time.Duration {
	every := time.Second
	for _, ph := range rb.Phases {
		for _, st := range ph.Steps {
			if e := time.Duration(st.Every); e > 0 && e < every {
				every = max(e, 10*time.Millisecond)
			}
		}
	}
	return every
}

// execute starts the probes, load tests and actions the effects ask for.
// It returns how many cleanups, executions and undos it started: their
// results come on awaited.
func (r *Runner) execute(ctx context.Context, wg *sync.WaitGroup, s State, effects []Effect, results, awaited chan<- Event) (started int) {
	for _, eff := range effects {
		if r.executeAction(ctx, wg, s, eff, results, awaited) {
			switch eff.(type) {
			case CleanupAction, ExecuteAction, UndoAction:
				started++ // awaited, even after the run ends
			}
			continue
		}
		if sl, ok := eff.(StartLoad); ok {
			if pi, si, _ := s.Find(sl.Step); s.Runbook.Phases[pi].Steps[si].Load.Distributed() {
				r.startDistributed(ctx, wg, s, sl, results, awaited)
				started += 2 // its deletion and its verdict, awaited even after the run ends
				continue
			}
			r.startLoad(ctx, wg, s, sl, results)
			continue
		}
		if cl, ok := eff.(CleanupLoad); ok {
			r.cleanupOrphans(ctx, s, cl, awaited)
			started++
			continue
		}
		if cl, ok := eff.(ControlLoad); ok {
			if !r.controlDistributed(ctx, wg, cl, results) {
				r.controlLoad(ctx, cl, results)
			}
			continue
		}
		sp, ok := eff.(StartProbe)
		if !ok {
			continue
		}
		pi, si, _ := s.Find(sp.Step)
		step := &s.Runbook.Phases[pi].Steps[si]
		run := r.build(s.Runbook, step)
		timeout := time.Duration(step.Timeout)
		if timeout <= 0 {
			timeout = DefaultProbeTimeout
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := r.observe(ctx, run, timeout)
			select {
			case results <- ProbeResult{Step: sp.Step, RunID: sp.RunID, Result: res}:
			case <-ctx.Done():
			}
		}()
	}
	return started
}

// startLoad runs a step's load test in its own goroutine, streaming its
// snapshots to OnLoad and its verdict back as a LoadResult. A load test
// still running for the same step (a re-run) is stopped first.
func (r *Runner) startLoad(ctx context.Context, wg *sync.WaitGroup, s State, sl StartLoad, results chan<- Event) {
	pi, si, _ := s.Find(sl.Step)
	step := &s.Runbook.Phases[pi].Steps[si]
	send := func(ev Event) {
		select {
		case results <- ev:
		case <-ctx.Done():
		}
	}
	fail := func(msg string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			send(LoadResult{Step: sl.Step, RunID: sl.RunID, Result: probes.Result{
				Status: probes.StatusError, Summary: "cannot start the load test", Message: msg, ObservedAt: r.now()}})
		}()
	}
	cfg, err := step.Load.Config(filepath.Dir(s.Runbook.File))
	if err != nil {
		fail(err.Error())
		return
	}
	cfg.Intervals = intervalLength(cfg.Executor)
	r.mu.Lock()
	if prev := r.loads[sl.Step]; prev != nil {
		prev.Stop()
	}
	r.mu.Unlock()
	snaps, ctl, err := loader.Run(ctx, cfg)
	if err != nil {
		fail(err.Error())
		return
	}
	r.mu.Lock()
	if r.loads == nil {
		r.loads = map[string]*loader.Control{}
	}
	r.loads[sl.Step] = ctl
	r.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		var last loader.Snapshot
		for snap := range snaps {
			last = snap
			for _, iv := range snap.Intervals {
				send(LoadInterval{Step: sl.Step, RunID: sl.RunID, Interval: iv})
			}
			if r.OnLoad != nil {
				r.OnLoad(sl.Step, snap)
			}
		}
		r.mu.Lock()
		if r.loads[sl.Step] == ctl {
			delete(r.loads, sl.Step)
		}
		r.mu.Unlock()
		doc := report.NewDocument(last)
		send(LoadResult{Step: sl.Step, RunID: sl.RunID, Result: JudgeLoad(last), Report: &doc})
	}()
}

// controlLoad applies an operator's change to a running load test; the
// loader lists it among its snapshots' events. The engine has checked the
// change against the executor; a run that ended meanwhile makes it moot
// (its result is on its way). Any other refusal — a rate or VU count past
// the loader's limits — comes back as LoadControlFailed, journaled beside
// the operator's decision.
func (r *Runner) controlLoad(ctx context.Context, cl ControlLoad, results chan<- Event) {
	ctl := r.LoadControl(cl.Step)
	if ctl == nil {
		return // finished meanwhile: its result is on its way
	}
	var err error
	switch cl.Op {
	case LoadPause:
		err = ctl.Pause()
	case LoadResume:
		err = ctl.Resume()
	case LoadRate:
		err = ctl.SetRate(cl.Value)
	case LoadVUs:
		err = ctl.SetVUs(int(cl.Value))
	case LoadStop:
		ctl.Stop()
	}
	if errors.Is(err, loader.ErrNotRunning) {
		return
	}
	controlFailed(ctx, cl, err, results)
}

// controlFailed sends a control's failure, if any, as LoadControlFailed.
func controlFailed(ctx context.Context, cl ControlLoad, err error, results chan<- Event) {
	if err == nil {
		return
	}
	select {
	case results <- LoadControlFailed{Step: cl.Step, Op: cl.Op, Value: cl.Value, Error: err.Error()}:
	case <-ctx.Done():
	}
}

// build makes a step's probe once and keeps it: probes hold state between
// observations (a previous scrape, an informer).
func (r *Runner) build(rb *Runbook, step *Step) probeRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.probes == nil {
		r.probes = map[string]probeRun{}
	}
	if run, ok := r.probes[step.ID]; ok {
		return run
	}
	env := stepEnv(rb, step, r.Env)
	p, rules, err := step.Probe.Spec.Build(env)
	run := probeRun{probe: p, rules: rules, err: err}
	r.probes[step.ID] = run
	return run
}

func (r *Runner) observe(ctx context.Context, run probeRun, timeout time.Duration) probes.Result {
	start := r.now()
	if run.err != nil {
		return probes.Result{Status: probes.StatusError, Summary: "cannot build probe", Message: run.err.Error(), ObservedAt: start}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res := probes.Run(ctx, run.probe, run.rules, r.now)
	if res.Status == probes.StatusError && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		res.Message = fmt.Sprintf("timed out after %s: %s", timeout, res.Message)
	}
	return res
}

// statusChanged reports whether any phase or step status differs.
func statusChanged(a, b State) bool {
	if a.Current != b.Current || a.Outcome != b.Outcome {
		return true
	}
	for i := range a.Phases {
		if a.Phases[i].Status != b.Phases[i].Status || (a.Phases[i].Override == nil) != (b.Phases[i].Override == nil) {
			return true
		}
		for j := range a.Phases[i].Steps {
			if a.Phases[i].Steps[j].Status != b.Phases[i].Steps[j].Status {
				return true
			}
		}
	}
	return false
}
