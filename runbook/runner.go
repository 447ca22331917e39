package runbook

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockpit-dev/cockpit/probes"
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

	mu     sync.Mutex
	probes map[string]probeRun // built probes by step id
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
func (r *Runner) Run(ctx context.Context, s State, pending []Effect, ops <-chan Event) (State, error) {
	results := make(chan ProbeResult, 64)
	var wg sync.WaitGroup
	runCtx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		wg.Wait()
	}()
	every := r.TickEvery
	if every <= 0 {
		every = time.Second
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
		r.execute(runCtx, &wg, s, effects, results)
		return nil
	}
	r.execute(runCtx, &wg, s, pending, results)
	if !s.Started {
		if err := apply(Started{Operator: r.Operator, Headless: r.Autopilot != nil}); err != nil {
			return s, err
		}
	}
	for !s.Finished() {
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

// execute starts the probes the effects ask for.
func (r *Runner) execute(ctx context.Context, wg *sync.WaitGroup, s State, effects []Effect, results chan<- ProbeResult) {
	for _, eff := range effects {
		sp, ok := eff.(StartProbe)
		if !ok {
			continue
		}
		pi, si, _ := s.Find(sp.Step)
		step := &s.Runbook.Phases[pi].Steps[si]
		run := r.build(step)
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
}

// build makes a step's probe once and keeps it: probes hold state between
// observations (a previous scrape, an informer).
func (r *Runner) build(step *Step) probeRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.probes == nil {
		r.probes = map[string]probeRun{}
	}
	if run, ok := r.probes[step.ID]; ok {
		return run
	}
	p, rules, err := step.Probe.Spec.Build(r.Env)
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
