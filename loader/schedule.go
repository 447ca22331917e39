package loader

import (
	"math"
	"time"
)

// A rate schedule is a piecewise-linear rate (iterations per second) over
// the run's elapsed time. Iteration k (from 0) is intended at T(k), the time
// the integral of the rate N(t) reaches k, so the first one starts at once
// and a constant rate r gives exactly r·D iterations in D. The pacer asks
// for T(k) of each iteration; everything here is pure arithmetic, table
// tested without a clock.

// segment is one linear piece of a rate schedule.
type segment struct {
	start, dur time.Duration // elapsed
	r0, r1     float64       // rate at start and at start+dur
	before     float64       // N(start): iterations due before the segment
}

// count returns the iterations due in [start, start+tau).
func (s segment) count(tau time.Duration) float64 {
	if s.dur <= 0 || tau <= 0 {
		return 0
	}
	if tau > s.dur {
		tau = s.dur
	}
	t, d := tau.Seconds(), s.dur.Seconds()
	return s.r0*t + (s.r1-s.r0)*t*t/(2*d)
}

// at returns the offset tau at which count(tau) == n, for 0 <= n <= count(dur).
func (s segment) at(n float64) time.Duration {
	if n <= 0 {
		return 0
	}
	d := s.dur.Seconds()
	a := (s.r1 - s.r0) / (2 * d)
	b := s.r0
	var t float64
	if a == 0 {
		t = n / b
	} else {
		// a·t² + b·t − n = 0, in the form that stays accurate when a is small.
		disc := b*b + 4*a*n
		if disc < 0 {
			disc = 0
		}
		t = 2 * n / (b + math.Sqrt(disc))
	}
	if math.IsNaN(t) || t > d {
		t = d
	}
	return time.Duration(math.Round(t * float64(time.Second))) // 4.1 s, not 4.099999999 s
}

// rateAt returns the rate at offset tau.
func (s segment) rateAt(tau time.Duration) float64 {
	if s.dur <= 0 {
		return s.r1
	}
	return s.r0 + (s.r1-s.r0)*tau.Seconds()/s.dur.Seconds()
}

// schedule is the pacer's plan: segments in order, and the index of the next
// iteration.
type schedule struct {
	segs []segment
	end  time.Duration
	k    float64 // iterations issued or skipped so far
	i    int     // segment holding T(k)
}

// newSchedule builds the schedule of an arrival-rate executor.
func newSchedule(e Executor) *schedule {
	s := &schedule{}
	if e.Kind == ConstantArrivalRate {
		s.add(e.Duration, e.Rate, e.Rate)
		return s
	}
	from := e.Rate
	for _, st := range e.Stages {
		s.add(st.Duration, from, st.Target)
		from = st.Target
	}
	return s
}

func (s *schedule) add(dur time.Duration, r0, r1 float64) {
	seg := segment{start: s.end, dur: dur, r0: r0, r1: r1}
	if n := len(s.segs); n > 0 {
		last := s.segs[n-1]
		seg.before = last.before + last.count(last.dur)
	}
	s.segs = append(s.segs, seg)
	s.end += dur
}

// eps absorbs float error when comparing iteration counts.
const eps = 1e-9

// next returns the intended elapsed time of the next iteration, or false
// when no iteration is due before the end.
func (s *schedule) next() (time.Duration, bool) {
	for s.i < len(s.segs) {
		seg := s.segs[s.i]
		if n := s.k - seg.before; n < seg.count(seg.dur)-eps {
			return seg.start + seg.at(n), true
		}
		s.i++
	}
	return 0, false
}

// advance marks the next iteration as issued.
func (s *schedule) advance() { s.k++ }

// total returns N(t), the iterations due before t.
func (s *schedule) total(t time.Duration) float64 {
	if len(s.segs) == 0 {
		return 0
	}
	for i := len(s.segs) - 1; i >= 0; i-- {
		seg := s.segs[i]
		if t >= seg.start || i == 0 {
			return seg.before + seg.count(t-seg.start)
		}
	}
	return 0
}

// skipTo moves past the iterations intended before t and returns how many
// it skipped.
func (s *schedule) skipTo(t time.Duration) int64 {
	due := math.Ceil(s.total(t) - eps)
	if due <= s.k {
		return 0
	}
	n := due - s.k
	s.k = due
	return int64(n)
}

// rateAt returns the target rate at elapsed time t (0 once it is over).
func (s *schedule) rateAt(t time.Duration) float64 {
	for _, seg := range s.segs {
		if t < seg.start+seg.dur {
			if t < seg.start {
				return seg.r0
			}
			return seg.rateAt(t - seg.start)
		}
	}
	return 0
}

// setRate replaces the plan from t to the end with a constant rate.
func (s *schedule) setRate(t time.Duration, rate float64) {
	if t >= s.end {
		return
	}
	if t < 0 {
		t = 0
	}
	var kept []segment
	for _, seg := range s.segs {
		switch {
		case seg.start+seg.dur <= t:
			kept = append(kept, seg)
		case seg.start < t:
			// Cut the segment at t, keeping its shape before the cut.
			cut := seg
			cut.dur = t - seg.start
			cut.r1 = seg.rateAt(cut.dur)
			kept = append(kept, cut)
		}
	}
	end := s.end
	s.segs, s.end = kept, t
	s.add(end-t, rate, rate)
	// The segment holding T(k) may have changed; next() walks forward.
	s.i = 0
}

// vusAt returns the VUs a ramping-vus executor wants at elapsed time t:
// linear between stage targets, rounded to the nearest VU.
func vusAt(start int, stages []Stage, t time.Duration) int {
	from := float64(start)
	var at time.Duration
	for _, st := range stages {
		if t < at+st.Duration {
			f := float64(t-at) / float64(st.Duration)
			return int(math.Round(from + (st.Target-from)*f))
		}
		at += st.Duration
		from = st.Target
	}
	return int(from)
}
