package loader

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Segment returns worker's part of cfg when the test is split across
// workers load workers, the way k6 splits execution segments: worker i owns
// the fraction [i/n, (i+1)/n) of the test, and every quantity the test
// adds up — the VUs, the iteration limit, the rate, preAllocatedVUs and
// maxVUs, each stage's target — is divided so that the parts sum exactly
// to the whole. Worker i's part of x is
//
//	floor(x·(i+1)/n) − floor(x·i/n)
//
// so the parts differ by at most one unit and the remainders are spread
// over the workers (10 over 4 gives 2, 3, 2, 3), the same workers for every
// quantity of the same size. VUs and iterations are whole numbers; a whole
// rate (iterations per second, total or a stage's target) is split in whole
// iterations per second, a fractional one in thousandths (a finer rate is
// refused, naming its field). Because the stage targets are split as the
// rate is and a ramp is linear between them, the workers' rate schedules
// add up to the whole schedule at every instant.
//
// What is not a quantity is kept: durations, stages' durations, think
// time, maxLag, gracefulStop, requests, timeouts. Thresholds are dropped:
// the coordinator evaluates them on the merged intervals, never a worker
// on its part. Intervals is set to one second when unset, the resolution
// of the workers' streams (WorkerLine); a set value is kept.
//
// A worker left with nothing to do is refused, not run idle. k6 allows
// empty segments, but here a worker's part is one executor, and its zero
// values mean something else — no VUs is invalid for constant-vus, an
// iteration limit of 0 means no limit, a maxVUs of 0 means sized from the
// rate — and an idle pod would count as "reporting" while it generates
// nothing. So Segment fails, for every worker alike, when n exceeds the
// plan's peak VUs (closed models), its peak rate in the unit it is split
// in (open models), the iteration limit, or an explicit maxVUs
// (preAllocatedVUs when maxVUs is unset); the error names the field and
// the most workers the test can use. A part that is zero for a while is
// fine: a stage target, the starting rate or VUs of a ramp.
//
// preAllocatedVUs is a pool started up front, not a bound: a worker's part
// is capped by its part of maxVUs (the floor formula does not keep
// preAllocatedVUs ≤ maxVUs part by part), so the parts sum to at most the
// whole. A worker whose preAllocatedVUs part is 0 sizes a small pool as
// AutoVUs does, within its maxVUs. Left unset, both are sized per worker
// from the worker's own peak rate.
//
// The iteration counts of open models add up to the whole's when each
// worker's rate times the duration is whole (a whole rate over whole
// seconds, split in whole iterations per second); otherwise each worker
// rounds its own count up, by less than one iteration. Every worker's
// schedule starts its first iteration at the shared start, as the whole's
// does. A closed model's ramp rounds each worker's VUs to the nearest
// whole VU, so mid-ramp the sum may differ from the whole's by up to n/2.
func Segment(cfg Config, worker, workers int) (Config, error) {
	if workers < 1 {
		return Config{}, fieldErr("workers", "must be at least 1, got %d", workers)
	}
	if worker < 0 || worker >= workers {
		return Config{}, fieldErr("worker", "must be from 0 to %d (workers − 1), got %d", workers-1, worker)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	e := cfg.Executor
	if err := segmentable(e, workers); err != nil {
		return Config{}, err
	}
	out := cfg
	out.Thresholds = nil
	if out.Intervals == 0 {
		out.Intervals = time.Second
	}
	p := &out.Executor
	p.Stages = nil
	if len(e.Stages) > 0 {
		p.Stages = make([]Stage, len(e.Stages))
	}
	p.VUs = int(splitInt(int64(e.VUs), worker, workers))
	p.Iterations = splitInt(e.Iterations, worker, workers)
	if e.Kind.Open() {
		p.Rate = splitRate(e.Rate, worker, workers)
		if e.PreAllocatedVUs > 0 || e.MaxVUs > 0 {
			most := e.MaxVUs
			if most == 0 {
				most = e.PreAllocatedVUs // k6's default, made explicit before it is split
			}
			p.MaxVUs = int(splitInt(int64(most), worker, workers))
			p.PreAllocatedVUs = min(int(splitInt(int64(e.PreAllocatedVUs), worker, workers)), p.MaxVUs)
		}
	}
	for k, s := range e.Stages {
		p.Stages[k] = Stage{Duration: s.Duration, Target: float64(splitInt(int64(s.Target), worker, workers))}
		if e.Kind == RampingArrivalRate {
			p.Stages[k].Target = splitRate(s.Target, worker, workers)
		}
	}
	if err := out.Validate(); err != nil {
		// segmentable refuses every split that leaves a part invalid.
		return Config{}, fmt.Errorf("worker %d of %d: %w", worker, workers, err)
	}
	return out, nil
}

// splitInt is worker i's part of x out of n: floor(x·(i+1)/n) − floor(x·i/n).
// x is at most maxRate·1000 and n an int, so the products fit in 64 bits
// for any n up to 9·10⁸.
func splitInt(x int64, i, n int) int64 {
	return x*int64(i+1)/int64(n) - x*int64(i)/int64(n)
}

// rateUnit is the unit a rate is split in: 1 when it is a whole number of
// iterations per second, a thousandth otherwise.
func rateUnit(r float64) float64 {
	if r == math.Trunc(r) {
		return 1
	}
	return 1000
}

// splitRate is worker i's part of the rate r out of n, in r's unit.
func splitRate(r float64, i, n int) float64 {
	u := rateUnit(r)
	return float64(splitInt(int64(math.Round(r*u)), i, n)) / u
}

var errIdleWorker = errors.New("a worker would have nothing to do")

// segmentable checks that every worker's part of e is a test of its own:
// that no worker is left idle, without an iteration limit it should have,
// or without a VU it may start.
func segmentable(e Executor, n int) error {
	idle := func(path string, x float64, unit string, most int64) error {
		return &FieldError{Path: path, Err: fmt.Errorf("%w: %v %s cannot be split across %d workers (at most %d)", errIdleWorker, x, unit, n, most)}
	}
	if e.Iterations > 0 && e.Iterations < int64(n) {
		return &FieldError{Path: "executor.iterations", Err: fmt.Errorf(
			"%w: %d iterations cannot be split across %d workers: a part of 0 would mean no limit (at most %d)",
			errIdleWorker, e.Iterations, n, e.Iterations)}
	}
	// Worker 0 gets the least of every quantity, and nothing of them all
	// only when each is below n in its unit: the plan's peak decides.
	if !e.Kind.Open() {
		path, peak := "executor.vus", e.VUs
		for k, s := range e.Stages {
			if int(s.Target) > peak {
				path, peak = fmt.Sprintf("executor.stages[%d].target", k), int(s.Target)
			}
		}
		if peak < n {
			return idle(path, float64(peak), "VUs at the peak", int64(peak))
		}
		return nil
	}
	path, peak, units := "", 0.0, int64(-1)
	for k, r := range append([]float64{e.Rate}, stageTargets(e.Stages)...) {
		p := "executor.rate"
		if k > 0 {
			p = fmt.Sprintf("executor.stages[%d].target", k-1)
		}
		u := rateUnit(r)
		if math.Abs(r*u-math.Round(r*u)) > 1e-6 {
			return fieldErr(p, "%v/s cannot be split exactly: give a rate in whole thousandths of an iteration per second", r)
		}
		if x := int64(math.Round(r * u)); x > units {
			path, peak, units = p, r, x
		}
	}
	if units < int64(n) {
		return idle(path, peak, "iterations/s at the peak", units)
	}
	switch {
	case e.MaxVUs > 0 && e.MaxVUs < n:
		return idle("executor.maxVUs", float64(e.MaxVUs), "VUs", int64(e.MaxVUs))
	case e.MaxVUs == 0 && e.PreAllocatedVUs > 0 && e.PreAllocatedVUs < n:
		return idle("executor.preAllocatedVUs", float64(e.PreAllocatedVUs), "VUs (maxVUs unset)", int64(e.PreAllocatedVUs))
	}
	return nil
}

func stageTargets(stages []Stage) []float64 {
	t := make([]float64, len(stages))
	for i, s := range stages {
		t[i] = s.Target
	}
	return t
}
