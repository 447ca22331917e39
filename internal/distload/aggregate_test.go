package distload

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/threshold"
)

// reference is the Aggregate computed from scratch at every snapshot:
// every interval kept, each span merged again by loader.MergeIntervals
// over the intervals it covers, the latency histogram of a threshold
// decoded and merged again interval by interval.
type reference struct {
	ths        []threshold.Threshold
	exec       loader.ExecutorKind
	window     time.Duration
	ivs        []loader.Interval
	incomplete int
	seq        int
	peakVUs    int
	aborted    []bool
}

func (r *reference) add(ivs ...loader.MergedInterval) {
	for _, m := range ivs {
		r.ivs = append(r.ivs, m.Interval)
		r.peakVUs = max(r.peakVUs, m.VUs)
		if !m.Complete() {
			r.incomplete++
		}
	}
}

// last returns the intervals that end within d of the last one's end
// (all of them when d is 0).
func (r *reference) last(d time.Duration) []loader.Interval {
	n := len(r.ivs)
	if d <= 0 || n == 0 {
		return r.ivs
	}
	end := r.ivs[n-1].End
	i := n
	for i > 0 && r.ivs[i-1].End > end-d {
		i--
	}
	return r.ivs[i:]
}

func (r *reference) snapshot(t *testing.T, now time.Time, done bool, reason loader.StopReason) (loader.Snapshot, bool) {
	t.Helper()
	r.seq++
	s := loader.Snapshot{Seq: r.seq, Time: now, Done: done, Reason: reason, Executor: r.exec,
		Planned: time.Hour, Iterations: 7, WindowSize: r.window, PeakVUs: r.peakVUs}
	// Spans over the same intervals share their merge (of this snapshot).
	stats, hists := map[time.Duration]loader.Stats{}, map[time.Duration]*hdr.Histogram{}
	merge := func(d time.Duration) loader.Stats {
		if d < 0 {
			d = 0
		}
		st, ok := stats[d]
		if !ok {
			var err error
			if st, err = loader.MergeIntervals(r.last(d)); err != nil {
				t.Fatal(err)
			}
			stats[d] = st
		}
		return st
	}
	s.Total, s.Window = merge(0), merge(r.window)
	// Each its own Status map, as two merges make.
	s.Window.Status = maps.Clone(s.Window.Status)
	if n := len(r.ivs); n > 0 {
		s.Elapsed, s.VUs, s.TargetRate = r.ivs[n-1].End, r.ivs[n-1].VUs, r.ivs[n-1].TargetRate
	}
	if r.exec.Open() {
		d := loader.Delivery{Active: s.Elapsed}
		for _, iv := range r.ivs {
			d.Due += iv.Due
			d.Sent += iv.Sent
			d.Dropped += iv.Dropped
		}
		s.Delivery = d
	}
	if r.aborted == nil {
		r.aborted = make([]bool, len(r.ths))
	}
	abort := false
	for i, th := range r.ths {
		ivs := r.last(th.Window)
		st := merge(th.Window)
		v, ok := loader.ThresholdValue(th, &st, func(metric string) *hdr.Histogram {
			if metric != "http_req_duration" {
				return nil
			}
			if h := hists[th.Window]; h != nil {
				return h
			}
			h := loader.NewHistogram()
			for _, iv := range ivs {
				c, err := iv.LatencyHistogram()
				if err != nil {
					t.Fatal(err)
				}
				h.Merge(c)
			}
			hists[th.Window] = h
			return h
		})
		ts := loader.ThresholdState{Threshold: th, Value: v, HasSamples: ok, Pass: th.Eval(v, ok), Aborted: r.aborted[i]}
		if !done && th.AbortOnFail && ok && !ts.Pass && s.Elapsed >= th.DelayAbortEval && !r.aborted[i] {
			r.aborted[i], ts.Aborted, abort = true, true, true
		}
		s.Thresholds = append(s.Thresholds, ts)
	}
	return s, abort
}

// randomInterval returns interval k of a random run, starting at start:
// varied spans (none, as an interval no worker sent; a short last one;
// five-second ones), counts, statuses, error classes and latencies, from
// an empty histogram to values at the geometry's ends.
func randomInterval(t *testing.T, rng *rand.Rand, k int, start time.Duration, open bool) loader.MergedInterval {
	t.Helper()
	spans := []time.Duration{time.Second, time.Second, time.Second, 0, 300 * time.Millisecond, 5 * time.Second, 1500 * time.Millisecond}
	span := spans[rng.IntN(len(spans))]
	iv := loader.Interval{Index: k, Start: start, End: start + span, Time: time.Unix(1_700_000_000, 0).Add(start + span)}
	cor, raw := loader.NewHistogram(), loader.NewHistogram()
	n := 0
	if span > 0 && rng.IntN(8) > 0 {
		n = rng.IntN(300)
	}
	for range n {
		// Log-uniform over the whole geometry, 1 µs to 60 s, both ends included.
		us := min(max(int64(math.Exp(rng.Float64()*math.Log(70e6))), 1), 60_000_000)
		if err := raw.RecordValue(us); err != nil {
			t.Fatal(err)
		}
		if err := cor.RecordValue(min(us+rng.Int64N(5_000), 60_000_000)); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if iv.Latency, err = loader.EncodeHistogram(cor); err != nil {
		t.Fatal(err)
	}
	if open {
		if iv.Raw, err = loader.EncodeHistogram(raw); err != nil {
			t.Fatal(err)
		}
	}
	iv.Requests = int64(n)
	if n > 0 {
		iv.Failed = rng.Int64N(int64(n) + 1)
		iv.Errored = iv.Failed + rng.Int64N(int64(n)-iv.Failed+1)
		iv.Status = map[int]int64{}
		left := int64(n)
		for _, code := range []int{200, 201, 404, 500, 503} {
			if rng.IntN(3) == 0 {
				c := rng.Int64N(left + 1)
				iv.Status[code] = c // a count of 0 too: the key stays
				left -= c
			}
		}
		iv.Errors = map[string]int64{}
		for _, c := range []loader.ErrorClass{loader.ClassTimeout, loader.ClassHTTP5xx, loader.ClassCheckFailed} {
			if rng.IntN(2) == 0 {
				iv.Errors[c.String()] = rng.Int64N(int64(n) + 1)
			}
		}
	}
	iv.Interrupted = rng.Int64N(3)
	iv.ChecksPassed, iv.ChecksFailed = rng.Int64N(int64(n)+1), rng.Int64N(3)
	iv.BytesIn, iv.BytesOut = rng.Int64N(1<<20), rng.Int64N(1<<16)
	if open {
		iv.Dropped = rng.Int64N(4)
		iv.Sent = int64(n) + rng.Int64N(3)
		iv.Due = iv.Sent + iv.Dropped
		iv.TargetRate = float64(rng.IntN(500))
	}
	iv.VUs = rng.IntN(40)
	m := loader.MergedInterval{Interval: iv, Workers: 3, Merged: 3}
	if rng.IntN(6) == 0 {
		m.Merged, m.Missing = 2, []int{rng.IntN(3)}
	}
	return m
}

// TestAggregateMatchesMergingFromScratch feeds the same random intervals
// to an Aggregate and to the reference, which merges every span from
// scratch, and requires the very same snapshot at every step: Total,
// Window, every threshold's value, samples, verdict and abort, Delivery.
func TestAggregateMatchesMergingFromScratch(t *testing.T) {
	var ths []threshold.Threshold
	for _, l := range []string{
		"http_req_duration: p(95)<500",
		"http_req_duration: p(99.9)<2000 over 3s",
		"http_req_duration: avg<300 over 10s",
		"http_req_duration: min<1, abortOnFail",
		"http_req_duration: max<30000 over 3s",
		"http_req_duration: med<100",
		"http_req_duration: count>100 over 10s",
		"http_req_failed: rate<0.5 over 3s, abortOnFail, delayAbortEval=20s",
		"http_req_failed: rate<0.5",
		"errors: rate<0.6 over 10s",
		"checks: rate>0.9",
		"http_reqs: count>1000",
		"http_reqs: rate>100 over 3s",
		"iterations: rate>50 over 10s",
		"dropped_iterations: count<5 over 10s",
		"data_received: rate>1000",
		"data_sent: count>0 over 3s",
		"http_req_waiting: p(95)<200", // not carried by intervals: no samples
	} {
		th, err := threshold.ParseLine(l)
		if err != nil {
			t.Fatal(err)
		}
		ths = append(ths, th)
	}
	for _, tc := range []struct {
		name   string
		exec   loader.ExecutorKind
		window time.Duration
		seed   uint64
	}{
		{"closed/window=0", loader.ConstantVUs, 0, 1},
		{"open/window=3s", loader.ConstantArrivalRate, 3 * time.Second, 2},
		{"open/window=10s", loader.RampingArrivalRate, 10 * time.Second, 3},
		{"closed/window=10s", loader.RampingVUs, 10 * time.Second, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(tc.seed, 16))
			a := &Aggregate{Thresholds: ths, Executor: tc.exec, Planned: time.Hour, Iterations: 7, WindowSize: tc.window}
			ref := &reference{ths: ths, exec: tc.exec, window: tc.window}
			var end time.Duration
			k := 0
			aborts := 0
			const steps = 24
			for step := range steps {
				// Driver.Run adds what each update brought: none, one or several.
				var ivs []loader.MergedInterval
				for range []int{0, 1, 1, 1, 2, 3}[rng.IntN(6)] {
					m := randomInterval(t, rng, k, end, tc.exec.Open())
					ivs = append(ivs, m)
					end = m.End
					k++
				}
				a.Add(ivs...)
				ref.add(ivs...)
				now := time.Unix(1_700_000_000, int64(step))
				done := step == steps-1
				reason := loader.StopReason("")
				if done {
					reason = loader.ReasonDuration
				}
				got, gotAbort, err := a.Snapshot(now, done, reason)
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				want, wantAbort := ref.snapshot(t, now, done, reason)
				if gotAbort != wantAbort {
					t.Fatalf("step %d: abort %v, want %v", step, gotAbort, wantAbort)
				}
				if gotAbort {
					aborts++
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("step %d (%d intervals): snapshots differ:\n%s", step, k, snapshotDiff(got, want))
				}
			}
			if a.Intervals() != k || a.Incomplete() != ref.incomplete {
				t.Fatalf("Intervals %d, Incomplete %d; want %d, %d", a.Intervals(), a.Incomplete(), k, ref.incomplete)
			}
			t.Logf("%d intervals, %d incomplete, %d snapshots that aborted", k, ref.incomplete, aborts)
		})
	}
}

// snapshotDiff names the fields of two snapshots that differ.
func snapshotDiff(got, want loader.Snapshot) string {
	s := ""
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range gv.NumField() {
		name := gv.Type().Field(i).Name
		if name == "Thresholds" {
			continue
		}
		if g, w := gv.Field(i).Interface(), wv.Field(i).Interface(); !reflect.DeepEqual(g, w) {
			s += fmt.Sprintf("%s:\n  got  %+v\n  want %+v\n", name, g, w)
		}
	}
	if len(got.Thresholds) != len(want.Thresholds) {
		return s + fmt.Sprintf("%d thresholds, want %d\n", len(got.Thresholds), len(want.Thresholds))
	}
	for i := range got.Thresholds {
		if g, w := got.Thresholds[i], want.Thresholds[i]; g != w {
			f := func(t loader.ThresholdState) string {
				return fmt.Sprintf("value %v, samples %v, pass %v, aborted %v", t.Value, t.HasSamples, t.Pass, t.Aborted)
			}
			s += fmt.Sprintf("threshold %s:\n  got  %s\n  want %s\n", w.Threshold, f(g), f(w))
		}
	}
	return s
}

// TestAggregateBadInterval: an interval whose histogram does not decode
// fails the snapshots from then on, naming it, as merging every interval
// again did.
func TestAggregateBadInterval(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	a := &Aggregate{Executor: loader.ConstantVUs, WindowSize: 10 * time.Second}
	a.Add(randomInterval(t, rng, 0, 0, false))
	if _, _, err := a.Snapshot(time.Now(), false, ""); err != nil {
		t.Fatal(err)
	}
	bad := randomInterval(t, rng, 1, time.Second, false)
	bad.Latency = "not a histogram"
	a.Add(bad, randomInterval(t, rng, 2, 2*time.Second, false))
	for range 2 {
		_, _, err := a.Snapshot(time.Now(), false, "")
		if !errors.Is(err, loader.ErrHistogram) {
			t.Fatalf("snapshot after a bad interval: %v, want an error wrapping ErrHistogram", err)
		}
		if want := "interval 1 latency"; err != nil && !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not name %q", err, want)
		}
	}
	if a.Intervals() != 3 {
		t.Fatalf("Intervals %d, want 3", a.Intervals())
	}
}

// An open model's vus_max is the VU cap the merged intervals carried (the
// workers' caps summed) at its highest — never 0 for a run whose workers
// had one; a closed model's snapshot carries none.
func TestAggregateMaxVUs(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for _, tc := range []struct {
		open bool
		caps []int
		want int
	}{
		{true, []int{30, 30, 20, 30}, 30}, // a worker lost for an interval, then back
		{true, []int{10, 25}, 25},         // the cap raised (VUs set)
		{false, []int{0, 0}, 0},
	} {
		kind := loader.ConstantVUs
		if tc.open {
			kind = loader.ConstantArrivalRate
		}
		a := &Aggregate{Executor: kind, WindowSize: 10 * time.Second}
		for k, c := range tc.caps {
			iv := randomInterval(t, rng, k, time.Duration(k)*time.Second, tc.open)
			iv.MaxVUs = c
			a.Add(iv)
		}
		s, _, err := a.Snapshot(time.Now(), true, loader.ReasonDuration)
		if err != nil {
			t.Fatal(err)
		}
		if s.MaxVUs != tc.want {
			t.Errorf("%s, caps %v: MaxVUs %d, want %d", kind, tc.caps, s.MaxVUs, tc.want)
		}
	}
}
