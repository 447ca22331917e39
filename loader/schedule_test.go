package loader

import (
	"math"
	"testing"
	"time"
)

const ms = time.Millisecond

// times drains a schedule: the intended times of every iteration.
func times(s *schedule, limit int) []time.Duration {
	var out []time.Duration
	for len(out) < limit {
		t, ok := s.next()
		if !ok {
			break
		}
		out = append(out, t)
		s.advance()
	}
	return out
}

func TestScheduleTimes(t *testing.T) {
	tests := []struct {
		name string
		e    Executor
		want []time.Duration
	}{
		{
			name: "constant 10/s for 1s: ten iterations from t=0",
			e:    Executor{Kind: ConstantArrivalRate, Rate: 10, Duration: time.Second},
			want: []time.Duration{0, 100 * ms, 200 * ms, 300 * ms, 400 * ms, 500 * ms, 600 * ms, 700 * ms, 800 * ms, 900 * ms},
		},
		{
			name: "constant 4/s for 1.1s: the fifth would be at 1s",
			e:    Executor{Kind: ConstantArrivalRate, Rate: 4, Duration: 1100 * ms},
			want: []time.Duration{0, 250 * ms, 500 * ms, 750 * ms, 1000 * ms},
		},
		{
			name: "ramp 0→2/s over 2s: N(t)=t²/2, T(k)=sqrt(2k)",
			e:    Executor{Kind: RampingArrivalRate, Stages: []Stage{{Duration: 2 * time.Second, Target: 2}}},
			want: []time.Duration{0, 1414213562},
		},
		{
			name: "two constant stages carry the fraction across the boundary",
			e: Executor{Kind: RampingArrivalRate, Rate: 2, Stages: []Stage{
				{Duration: 1250 * ms, Target: 2}, {Duration: 0, Target: 4}, {Duration: time.Second, Target: 4}}},
			// 2/s: 0, 500, 1000 (2.5 due by 1.25s); then 1/4s at 4/s from k=3 at
			// 1.25s + (3-2.5)/4 s = 1.375s.
			want: []time.Duration{0, 500 * ms, 1000 * ms, 1375 * ms, 1625 * ms, 1875 * ms, 2125 * ms},
		},
		{
			name: "a zero-duration stage jumps the rate",
			e: Executor{Kind: RampingArrivalRate, Rate: 1, Stages: []Stage{
				{Duration: time.Second, Target: 1}, {Duration: 0, Target: 10}, {Duration: 500 * ms, Target: 10}}},
			want: []time.Duration{0, 1000 * ms, 1100 * ms, 1200 * ms, 1300 * ms, 1400 * ms},
		},
		{
			name: "a stage at rate 0 sends nothing",
			e: Executor{Kind: RampingArrivalRate, Rate: 0, Stages: []Stage{
				{Duration: time.Second, Target: 0}, {Duration: 0, Target: 2}, {Duration: time.Second, Target: 2}}},
			want: []time.Duration{1000 * ms, 1500 * ms},
		},
		{
			name: "ramp down 2→0/s over 2s: N(t)=2t−t²/2",
			e:    Executor{Kind: RampingArrivalRate, Rate: 2, Stages: []Stage{{Duration: 2 * time.Second, Target: 0}}},
			// N=1 at t=2−sqrt(2).
			want: []time.Duration{0, 585786437},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.e
			if e.Kind == ConstantArrivalRate {
				e.PreAllocatedVUs = 1
			}
			got := times(newSchedule(e), 1000)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d iterations %v, want %d %v", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if d := got[i] - tt.want[i]; d < -time.Microsecond || d > time.Microsecond {
					t.Fatalf("iteration %d at %v, want %v (all: %v)", i, got[i], tt.want[i], got)
				}
			}
		})
	}
}

func TestScheduleCounts(t *testing.T) {
	// The number of iterations is the integral of the rate, rounded up.
	tests := []struct {
		e    Executor
		want int
	}{
		{Executor{Kind: ConstantArrivalRate, Rate: 1000, Duration: 5 * time.Second}, 5000},
		{Executor{Kind: ConstantArrivalRate, Rate: 3, Duration: time.Second}, 3},
		{Executor{Kind: ConstantArrivalRate, Rate: 0.5, Duration: 3 * time.Second}, 2},
		{Executor{Kind: RampingArrivalRate, Rate: 0, Stages: []Stage{{Duration: 10 * time.Second, Target: 100}}}, 500},
		{Executor{Kind: RampingArrivalRate, Rate: 100, Stages: []Stage{
			{Duration: 10 * time.Second, Target: 200}, {Duration: 5 * time.Second, Target: 0}}}, 1500 + 500},
	}
	for _, tt := range tests {
		if got := len(times(newSchedule(tt.e), 100000)); got != tt.want {
			t.Errorf("%+v: %d iterations, want %d", tt.e, got, tt.want)
		}
	}
}

func TestScheduleSkipAndRate(t *testing.T) {
	s := newSchedule(Executor{Kind: ConstantArrivalRate, Rate: 10, Duration: 10 * time.Second})
	times(s, 3) // 0, 100, 200ms issued
	if n := s.skipTo(1050 * ms); n != 8 {
		t.Fatalf("skipTo(1.05s) skipped %d, want 8 (300ms…1000ms)", n)
	}
	if next, _ := s.next(); next != 1100*ms {
		t.Fatalf("next after skip = %v, want 1.1s", next)
	}
	if n := s.skipTo(500 * ms); n != 0 {
		t.Fatalf("skipTo backwards skipped %d", n)
	}
	if r := s.rateAt(2 * time.Second); r != 10 {
		t.Fatalf("rateAt = %v", r)
	}
	// From 2s on, 100/s: the iterations before 2s keep their times.
	s.setRate(2*time.Second, 100)
	got := times(s, 12)
	want := []time.Duration{1100 * ms, 1200 * ms, 1300 * ms, 1400 * ms, 1500 * ms, 1600 * ms, 1700 * ms, 1800 * ms, 1900 * ms, 2000 * ms, 2010 * ms, 2020 * ms}
	for i := range want {
		if d := got[i] - want[i]; d < -time.Microsecond || d > time.Microsecond {
			t.Fatalf("after setRate: %v, want %v", got, want)
		}
	}
	if r := s.rateAt(5 * time.Second); r != 100 {
		t.Fatalf("rateAt after setRate = %v, want 100", r)
	}
	if r := s.rateAt(10 * time.Second); r != 0 {
		t.Fatalf("rateAt at the end = %v, want 0", r)
	}
	// 2.03s … 9.99s at 100/s remain: 797.
	if n := len(times(s, 10000)); n != 797 {
		t.Fatalf("%d iterations after 2.02s, want 797", n)
	}
}

func TestScheduleRampRate(t *testing.T) {
	s := newSchedule(Executor{Kind: RampingArrivalRate, Rate: 100, Stages: []Stage{
		{Duration: 10 * time.Second, Target: 200}, {Duration: 10 * time.Second, Target: 200}}})
	tests := []struct {
		at   time.Duration
		want float64
	}{{0, 100}, {5 * time.Second, 150}, {10 * time.Second, 200}, {15 * time.Second, 200}, {20 * time.Second, 0}}
	for _, tt := range tests {
		if got := s.rateAt(tt.at); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("rateAt(%v) = %v, want %v", tt.at, got, tt.want)
		}
	}
}

func TestVUsAt(t *testing.T) {
	stages := []Stage{{Duration: 10 * time.Second, Target: 10}, {Duration: 0, Target: 50}, {Duration: 10 * time.Second, Target: 50}, {Duration: 5 * time.Second, Target: 0}}
	tests := []struct {
		at   time.Duration
		want int
	}{
		{0, 0}, {400 * ms, 0}, {500 * ms, 1}, {5 * time.Second, 5}, {9999 * ms, 10},
		{10 * time.Second, 50}, {15 * time.Second, 50}, {20 * time.Second, 50},
		{22500 * ms, 25}, {25 * time.Second, 0}, {time.Hour, 0},
	}
	for _, tt := range tests {
		if got := vusAt(0, stages, tt.at); got != tt.want {
			t.Errorf("vusAt(%v) = %d, want %d", tt.at, got, tt.want)
		}
	}
	if got := vusAt(4, []Stage{{Duration: time.Second, Target: 4}}, 500*ms); got != 4 {
		t.Errorf("start 4, target 4: %d", got)
	}
}

func TestWeightedOrder(t *testing.T) {
	tests := []struct {
		w    []int
		want []int
	}{
		{[]int{1}, []int{0}},
		{[]int{1, 1}, []int{0, 1}},
		{[]int{3, 1}, []int{0, 0, 1, 0}},
		{[]int{5, 1, 1}, []int{0, 0, 1, 0, 2, 0, 0}},
	}
	for _, tt := range tests {
		got := weightedOrder(tt.w)
		if len(got) != len(tt.want) {
			t.Fatalf("weightedOrder(%v) = %v, want %v", tt.w, got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Fatalf("weightedOrder(%v) = %v, want %v", tt.w, got, tt.want)
			}
		}
	}
}
