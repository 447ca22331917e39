package loader

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/loader/threshold"
)

// segCfg is a valid test of executor e against one loopback URL.
func segCfg(e Executor) Config {
	p95, err := threshold.Parse("http_req_duration", "p(95)<200")
	if err != nil {
		panic(err)
	}
	return Config{Executor: e, Requests: []Request{{URL: "http://127.0.0.1:1/x"}}, Thresholds: []threshold.Threshold{p95}}
}

// parts splits cfg across n workers and returns every worker's executor.
func parts(t *testing.T, cfg Config, n int) []Executor {
	t.Helper()
	out := make([]Executor, n)
	for i := range n {
		c, err := Segment(cfg, i, n)
		if err != nil {
			t.Fatalf("worker %d of %d: %v", i, n, err)
		}
		out[i] = c.Executor
	}
	return out
}

// The parts of every quantity, worker by worker, and what a worker keeps.
func TestSegmentSplitsEveryQuantity(t *testing.T) {
	s := func(d time.Duration, target float64) Stage { return Stage{Duration: d, Target: target} }
	tests := []struct {
		name string
		e    Executor
		n    int
		want []Executor
	}{
		{"one worker is the whole", Executor{Kind: ConstantVUs, VUs: 7, Duration: time.Minute, Iterations: 100},
			1, []Executor{{Kind: ConstantVUs, VUs: 7, Duration: time.Minute, Iterations: 100}}},
		{"vus and iterations, odd remainders", Executor{Kind: ConstantVUs, VUs: 10, Duration: time.Minute, Iterations: 7},
			4, []Executor{
				{Kind: ConstantVUs, VUs: 2, Duration: time.Minute, Iterations: 1},
				{Kind: ConstantVUs, VUs: 3, Duration: time.Minute, Iterations: 2},
				{Kind: ConstantVUs, VUs: 2, Duration: time.Minute, Iterations: 2},
				{Kind: ConstantVUs, VUs: 3, Duration: time.Minute, Iterations: 2},
			}},
		{"vus exactly one each", Executor{Kind: ConstantVUs, VUs: 3, Duration: time.Second, ThinkTime: time.Second},
			3, []Executor{
				{Kind: ConstantVUs, VUs: 1, Duration: time.Second, ThinkTime: time.Second},
				{Kind: ConstantVUs, VUs: 1, Duration: time.Second, ThinkTime: time.Second},
				{Kind: ConstantVUs, VUs: 1, Duration: time.Second, ThinkTime: time.Second},
			}},
		{"ramping vus: stage targets split, durations kept, zero parts for a while",
			Executor{Kind: RampingVUs, VUs: 1, Stages: []Stage{s(10*time.Second, 5), s(time.Minute, 2), s(5*time.Second, 0)}},
			3, []Executor{
				{Kind: RampingVUs, VUs: 0, Stages: []Stage{s(10*time.Second, 1), s(time.Minute, 0), s(5*time.Second, 0)}},
				{Kind: RampingVUs, VUs: 0, Stages: []Stage{s(10*time.Second, 2), s(time.Minute, 1), s(5*time.Second, 0)}},
				{Kind: RampingVUs, VUs: 1, Stages: []Stage{s(10*time.Second, 2), s(time.Minute, 1), s(5*time.Second, 0)}},
			}},
		{"constant arrival rate, explicit VUs", Executor{Kind: ConstantArrivalRate, Rate: 100, Duration: time.Minute,
			PreAllocatedVUs: 10, MaxVUs: 20, MaxLag: time.Second, GracefulStop: 5 * time.Second},
			3, []Executor{
				{Kind: ConstantArrivalRate, Rate: 33, Duration: time.Minute, PreAllocatedVUs: 3, MaxVUs: 6, MaxLag: time.Second, GracefulStop: 5 * time.Second},
				{Kind: ConstantArrivalRate, Rate: 33, Duration: time.Minute, PreAllocatedVUs: 3, MaxVUs: 7, MaxLag: time.Second, GracefulStop: 5 * time.Second},
				{Kind: ConstantArrivalRate, Rate: 34, Duration: time.Minute, PreAllocatedVUs: 4, MaxVUs: 7, MaxLag: time.Second, GracefulStop: 5 * time.Second},
			}},
		{"constant arrival rate, VUs sized per worker", Executor{Kind: ConstantArrivalRate, Rate: 5, Duration: time.Minute},
			2, []Executor{
				{Kind: ConstantArrivalRate, Rate: 2, Duration: time.Minute},
				{Kind: ConstantArrivalRate, Rate: 3, Duration: time.Minute},
			}},
		{"maxVUs unset: preAllocatedVUs is the cap, split", Executor{Kind: ConstantArrivalRate, Rate: 9, Duration: time.Minute, PreAllocatedVUs: 5},
			2, []Executor{
				{Kind: ConstantArrivalRate, Rate: 4, Duration: time.Minute, PreAllocatedVUs: 2, MaxVUs: 2},
				{Kind: ConstantArrivalRate, Rate: 5, Duration: time.Minute, PreAllocatedVUs: 3, MaxVUs: 3},
			}},
		{"preAllocatedVUs capped by the worker's maxVUs", Executor{Kind: ConstantArrivalRate, Rate: 50, Duration: time.Minute,
			PreAllocatedVUs: 2, MaxVUs: 5},
			5, []Executor{
				{Kind: ConstantArrivalRate, Rate: 10, Duration: time.Minute, PreAllocatedVUs: 0, MaxVUs: 1},
				{Kind: ConstantArrivalRate, Rate: 10, Duration: time.Minute, PreAllocatedVUs: 0, MaxVUs: 1},
				{Kind: ConstantArrivalRate, Rate: 10, Duration: time.Minute, PreAllocatedVUs: 1, MaxVUs: 1},
				{Kind: ConstantArrivalRate, Rate: 10, Duration: time.Minute, PreAllocatedVUs: 0, MaxVUs: 1},
				{Kind: ConstantArrivalRate, Rate: 10, Duration: time.Minute, PreAllocatedVUs: 1, MaxVUs: 1},
			}},
		{"fractional rate in thousandths", Executor{Kind: ConstantArrivalRate, Rate: 2.5, Duration: time.Minute},
			3, []Executor{
				{Kind: ConstantArrivalRate, Rate: 0.833, Duration: time.Minute},
				{Kind: ConstantArrivalRate, Rate: 0.833, Duration: time.Minute},
				{Kind: ConstantArrivalRate, Rate: 0.834, Duration: time.Minute},
			}},
		{"ramping arrival rate: start rate zero for one worker, targets split",
			Executor{Kind: RampingArrivalRate, Rate: 2, Stages: []Stage{s(30*time.Second, 100), s(time.Minute, 101), s(10*time.Second, 0.5)}},
			3, []Executor{
				{Kind: RampingArrivalRate, Rate: 0, Stages: []Stage{s(30*time.Second, 33), s(time.Minute, 33), s(10*time.Second, 0.166)}},
				{Kind: RampingArrivalRate, Rate: 1, Stages: []Stage{s(30*time.Second, 33), s(time.Minute, 34), s(10*time.Second, 0.167)}},
				{Kind: RampingArrivalRate, Rate: 1, Stages: []Stage{s(30*time.Second, 34), s(time.Minute, 34), s(10*time.Second, 0.167)}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := segCfg(tt.e)
			got := parts(t, cfg, tt.n)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("parts:\n got %+v\nwant %+v", got, tt.want)
			}
			for i := range tt.n {
				c, _ := Segment(cfg, i, tt.n)
				if c.Thresholds != nil {
					t.Errorf("worker %d keeps thresholds %v: the coordinator evaluates them", i, c.Thresholds)
				}
				if c.Intervals != time.Second {
					t.Errorf("worker %d: intervals %s, want 1s", i, c.Intervals)
				}
				if !reflect.DeepEqual(c.Requests, cfg.Requests) {
					t.Errorf("worker %d: requests changed", i)
				}
			}
			if len(cfg.Executor.Stages) > 0 && &got[0].Stages[0] == &cfg.Executor.Stages[0] {
				t.Error("a worker's stages share the whole's array")
			}
		})
	}
}

// Whatever the split, every quantity's parts sum to the whole, and no two
// parts differ by more than one unit.
func TestSegmentPartsSumToTheWhole(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 8, 13, 100} {
		for _, x := range []int64{100, 101, 997, 1000, 12345} {
			e := Executor{Kind: RampingArrivalRate, Rate: float64(x) / 10, PreAllocatedVUs: int(x / 2), MaxVUs: int(x), Iterations: x * 3,
				Stages: []Stage{{Duration: time.Second, Target: float64(x)}, {Duration: time.Second, Target: float64(x+7) / 1000}}}
			if float64(x+7)/1000*1000 < float64(n) {
				e.Stages[1].Target = 0
			}
			ps := parts(t, segCfg(e), n)
			var rate, t0, t1 float64
			var maxVUs, iters int64
			lo, hi := ps[0].MaxVUs, ps[0].MaxVUs
			for _, p := range ps {
				rate += p.Rate
				t0 += p.Stages[0].Target
				t1 += p.Stages[1].Target
				maxVUs += int64(p.MaxVUs)
				iters += p.Iterations
				lo, hi = min(lo, p.MaxVUs), max(hi, p.MaxVUs)
				if p.PreAllocatedVUs > p.MaxVUs {
					t.Errorf("n=%d x=%d: preAllocatedVUs %d above maxVUs %d", n, x, p.PreAllocatedVUs, p.MaxVUs)
				}
			}
			near := func(a, b float64) bool { return a-b < 1e-6 && b-a < 1e-6 }
			if !near(rate, e.Rate) || !near(t0, e.Stages[0].Target) || !near(t1, e.Stages[1].Target) || maxVUs != int64(e.MaxVUs) || iters != e.Iterations {
				t.Errorf("n=%d x=%d: sums rate %v t0 %v t1 %v maxVUs %d iterations %d, want %v %v %v %d %d",
					n, x, rate, t0, t1, maxVUs, iters, e.Rate, e.Stages[0].Target, e.Stages[1].Target, e.MaxVUs, e.Iterations)
			}
			if hi-lo > 1 {
				t.Errorf("n=%d x=%d: maxVUs parts from %d to %d", n, x, lo, hi)
			}
		}
	}
}

// The ramping workers' schedules add up to the whole schedule at every
// instant, and a whole rate over whole seconds gives the whole's count of
// iterations.
func TestSegmentSchedulesAddUp(t *testing.T) {
	e := Executor{Kind: RampingArrivalRate, Rate: 7, Stages: []Stage{{Duration: 4 * time.Second, Target: 23}, {Duration: 6 * time.Second, Target: 23}, {Duration: 2 * time.Second, Target: 3}}}
	whole := newSchedule(e)
	ps := parts(t, segCfg(e), 5)
	for ms := time.Duration(0); ms <= 12*time.Second; ms += 250 * time.Millisecond {
		var r, n float64
		for _, p := range ps {
			s := newSchedule(p)
			r += s.rateAt(ms)
			n += s.total(ms)
		}
		if d := r - whole.rateAt(ms); d > 1e-9 || d < -1e-9 {
			t.Errorf("at %s the workers' rates sum to %v, want %v", ms, r, whole.rateAt(ms))
		}
		if d := n - whole.total(ms); d > 1e-6 || d < -1e-6 {
			t.Errorf("at %s the workers' due iterations sum to %v, want %v", ms, n, whole.total(ms))
		}
	}
	c := Executor{Kind: ConstantArrivalRate, Rate: 10, Duration: 3 * time.Second}
	count := func(e Executor) int {
		s, k := newSchedule(e), 0
		for _, ok := s.next(); ok; _, ok = s.next() {
			s.advance()
			k++
		}
		return k
	}
	sum := 0
	for _, p := range parts(t, segCfg(c), 3) {
		sum += count(p)
	}
	if sum != count(c) || sum != 30 {
		t.Errorf("the workers send %d iterations, the whole %d, want 30", sum, count(c))
	}
}

// A split that leaves a worker without work, or an invalid worker index,
// is refused with the field named.
func TestSegmentRefuses(t *testing.T) {
	tests := []struct {
		name      string
		e         Executor
		worker, n int
		field     string
		msg       string
	}{
		{"no workers", Executor{Kind: ConstantVUs, VUs: 2, Duration: time.Second}, 0, 0, "workers", "at least 1"},
		{"worker below range", Executor{Kind: ConstantVUs, VUs: 2, Duration: time.Second}, -1, 2, "worker", "from 0 to 1"},
		{"worker above range", Executor{Kind: ConstantVUs, VUs: 2, Duration: time.Second}, 2, 2, "worker", "from 0 to 1"},
		{"invalid whole", Executor{Kind: ConstantVUs, Duration: time.Second}, 0, 2, "executor.vus", "must be > 0"},
		{"fewer VUs than workers", Executor{Kind: ConstantVUs, VUs: 2, Duration: time.Second}, 2, 3, "executor.vus", "2 VUs at the peak cannot be split across 3 workers (at most 2)"},
		{"refused for the workers that would have work too", Executor{Kind: ConstantVUs, VUs: 2, Duration: time.Second}, 0, 3, "executor.vus", "at most 2"},
		{"ramping peak below workers", Executor{Kind: RampingVUs, VUs: 1, Stages: []Stage{{Duration: time.Second, Target: 3}, {Duration: time.Second, Target: 0}}},
			1, 4, "executor.stages[0].target", "3 VUs at the peak cannot be split across 4 workers (at most 3)"},
		{"iterations below workers mean no limit", Executor{Kind: ConstantVUs, VUs: 10, Duration: time.Second, Iterations: 2},
			0, 3, "executor.iterations", "a part of 0 would mean no limit (at most 2)"},
		{"rate 2 over 3 workers", Executor{Kind: ConstantArrivalRate, Rate: 2, Duration: time.Second}, 1, 3, "executor.rate", "2 iterations/s at the peak cannot be split across 3 workers (at most 2)"},
		{"ramping rate peak", Executor{Kind: RampingArrivalRate, Rate: 1, Stages: []Stage{{Duration: time.Second, Target: 2}}},
			0, 3, "executor.stages[0].target", "2 iterations/s at the peak cannot be split across 3 workers (at most 2)"},
		{"tiny fractional rate", Executor{Kind: ConstantArrivalRate, Rate: 0.002, Duration: time.Second}, 0, 3, "executor.rate", "at most 2)"},
		{"rate finer than thousandths", Executor{Kind: ConstantArrivalRate, Rate: 10.0005, Duration: time.Second}, 0, 2, "executor.rate", "whole thousandths"},
		{"stage rate finer than thousandths", Executor{Kind: RampingArrivalRate, Rate: 10, Stages: []Stage{{Duration: time.Second, Target: 1e-4}}},
			0, 2, "executor.stages[0].target", "whole thousandths"},
		{"maxVUs below workers", Executor{Kind: ConstantArrivalRate, Rate: 100, Duration: time.Second, MaxVUs: 2}, 0, 3, "executor.maxVUs", "2 VUs cannot be split across 3 workers (at most 2)"},
		{"preAllocatedVUs as the cap below workers", Executor{Kind: ConstantArrivalRate, Rate: 100, Duration: time.Second, PreAllocatedVUs: 2},
			0, 3, "executor.preAllocatedVUs", "maxVUs unset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Segment(segCfg(tt.e), tt.worker, tt.n)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v, want a *FieldError", err)
			}
			if fe.Path != tt.field || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %q (path %q), want path %q and %q", err, fe.Path, tt.field, tt.msg)
			}
		})
	}
}

// A set Intervals is the worker's; the whole's config is not changed.
func TestSegmentKeepsIntervalsAndTheWhole(t *testing.T) {
	cfg := segCfg(Executor{Kind: RampingVUs, VUs: 4, Stages: []Stage{{Duration: time.Second, Target: 8}}})
	cfg.Intervals = 5 * time.Second
	before := cfg.Executor.Stages[0]
	c, err := Segment(cfg, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if c.Intervals != 5*time.Second {
		t.Errorf("intervals %s, want 5s", c.Intervals)
	}
	if cfg.Executor.Stages[0] != before || cfg.Thresholds == nil {
		t.Errorf("the whole changed: %+v", cfg)
	}
}
