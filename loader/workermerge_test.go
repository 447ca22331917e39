package loader

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Merging is exact: random samples spread over workers and intervals,
// the workers' lines fed in a random order with repeats, give intervals
// whose histograms are those of one histogram fed every sample of the
// interval — and so are the whole run's, merged from the intervals or
// from the workers' final lines.
func TestWorkerMergeIsExact(t *testing.T) {
	for _, tc := range []struct{ workers, intervals int }{{1, 3}, {3, 5}, {8, 10}} {
		t.Run(fmt.Sprintf("%d workers", tc.workers), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.workers), 7))
			var lines [][]byte
			wantCor := make([]*hdr.Histogram, tc.intervals)
			wantRaw := make([]*hdr.Histogram, tc.intervals)
			allCor, allRaw := NewHistogram(), NewHistogram()
			var wantRequests int64
			for k := range tc.intervals {
				wantCor[k], wantRaw[k] = NewHistogram(), NewHistogram()
			}
			for w := range tc.workers {
				finCor, finRaw := NewHistogram(), NewHistogram()
				var finReqs int64
				for k := range tc.intervals {
					raw := samples(rng, 200+rng.IntN(2000))
					cor := make([]int64, len(raw))
					for i, v := range raw {
						cor[i] = v + rng.Int64N(3_000) // queueing on top
					}
					for i := range raw {
						for _, h := range []*hdr.Histogram{wantCor[k], allCor, finCor} {
							_ = h.RecordValue(cor[i])
						}
						for _, h := range []*hdr.Histogram{wantRaw[k], allRaw, finRaw} {
							_ = h.RecordValue(raw[i])
						}
					}
					iv := testInterval(t, k, cor, raw)
					wantRequests += iv.Requests
					finReqs += iv.Requests
					lines = append(lines, line(t, WorkerLine{Worker: w, Workers: tc.workers, Interval: &iv}))
				}
				total := Interval{End: time.Duration(tc.intervals) * time.Second, Latency: encode(t, finCor), Raw: encode(t, finRaw), Requests: finReqs}
				lines = append(lines, line(t, WorkerLine{Worker: w, Workers: tc.workers, Final: &WorkerFinal{Intervals: tc.intervals, Total: total}}))
			}
			// Every line once in a random order, then a third of them again.
			feed := append([][]byte{}, lines...)
			for range len(lines) / 3 {
				feed = append(feed, lines[rng.IntN(len(lines))])
			}
			rng.Shuffle(len(feed), func(i, j int) { feed[i], feed[j] = feed[j], feed[i] })
			m, _ := NewWorkerMerger(tc.workers, MergerOptions{Clock: newFakeClock()})
			var got []MergedInterval
			for _, l := range feed {
				out, err := m.AddLine(l)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, out...)
			}
			if len(got) != tc.intervals {
				t.Fatalf("%d intervals emitted, want %d", len(got), tc.intervals)
			}
			var ivs []Interval
			for k, g := range got {
				if g.Index != k || !g.Complete() || g.Merged != tc.workers {
					t.Fatalf("interval %d: index %d, merged %d of %d, missing %v", k, g.Index, g.Merged, g.Workers, g.Missing)
				}
				cor, err := g.LatencyHistogram()
				if err != nil {
					t.Fatal(err)
				}
				raw, err := g.RawHistogram()
				if err != nil {
					t.Fatal(err)
				}
				samePercentiles(t, fmt.Sprintf("interval %d corrected", k), cor, wantCor[k])
				samePercentiles(t, fmt.Sprintf("interval %d raw", k), raw, wantRaw[k])
				ivs = append(ivs, g.Interval)
			}
			st, err := MergeIntervals(ivs)
			if err != nil {
				t.Fatal(err)
			}
			if st.Latency != latencyOf(allCor) || st.Raw != latencyOf(allRaw) || st.Requests != wantRequests {
				t.Errorf("the run from the merged intervals:\n got %+v %+v %d\nwant %+v %+v %d", st.Latency, st.Raw, st.Requests, latencyOf(allCor), latencyOf(allRaw), wantRequests)
			}
			fin, err := m.Final()
			if err != nil {
				t.Fatal(err)
			}
			if !fin.Complete() || fin.Merged != tc.workers || fin.Requests != wantRequests {
				t.Fatalf("final: merged %d, missing %v, requests %d (want %d)", fin.Merged, fin.Missing, fin.Requests, wantRequests)
			}
			fc, _ := fin.LatencyHistogram()
			fr, _ := fin.RawHistogram()
			samePercentiles(t, "final corrected", fc, allCor)
			samePercentiles(t, "final raw", fr, allRaw)
			if s := m.Status(); s.String() != fmt.Sprintf("%d of %d workers reporting", tc.workers, tc.workers) || !s.Complete() {
				t.Errorf("status %q", s)
			}
		})
	}
}

// samePercentiles fails unless got and want hold the same distribution:
// the same counts bucket for bucket, so every percentile is the same.
func samePercentiles(t *testing.T, what string, got, want *hdr.Histogram) {
	t.Helper()
	for _, q := range []float64{0, 1, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100} {
		if g, w := got.ValueAtQuantile(q), want.ValueAtQuantile(q); g != w {
			t.Errorf("%s: p(%v) = %d µs, want %d", what, q, g, w)
		}
	}
	if got.TotalCount() != want.TotalCount() || got.Min() != want.Min() || got.Max() != want.Max() || got.Mean() != want.Mean() || !got.Equals(want) {
		t.Errorf("%s: count %d min %d max %d mean %v, want %d %d %d %v", what, got.TotalCount(), got.Min(), got.Max(), got.Mean(),
			want.TotalCount(), want.Min(), want.Max(), want.Mean())
	}
}

// line is l as a worker writes it.
func line(t testing.TB, l WorkerLine) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteWorkerLine(&b, l); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The merged record's counts are the workers' sums; a closed model's
// intervals stay without a raw histogram.
func TestWorkerMergeSumsCounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	a := testInterval(t, 0, samples(rng, 10), samples(rng, 10))
	b := testInterval(t, 0, samples(rng, 30), samples(rng, 30))
	b.Start, b.End, b.Time = 2*time.Millisecond, time.Second+3*time.Millisecond, a.Time.Add(3*time.Millisecond)
	b.Status = map[int]int64{200: 27, 404: 3}
	b.Errors = map[string]int64{"http_4xx": 3}
	b.VUs, b.TargetRate, b.MaxVUs = 6, 20, 9
	a.MaxVUs = 8
	m, _ := NewWorkerMerger(2, MergerOptions{Clock: newFakeClock()})
	if out, _ := m.Add(WorkerLine{Worker: 0, Workers: 2, Interval: &a}); len(out) != 0 {
		t.Fatalf("emitted %d intervals before worker 1 reported", len(out))
	}
	out, err := m.Add(WorkerLine{Worker: 1, Workers: 2, Interval: &b})
	if err != nil || len(out) != 1 {
		t.Fatalf("%v, %d intervals", err, len(out))
	}
	g := out[0].Interval
	g.Latency, g.Raw = "", ""
	want := Interval{Index: 0, Start: 0, End: time.Second + 3*time.Millisecond, Time: b.Time,
		Requests: 40, Failed: 4, Errored: 6, BytesIn: 4000, BytesOut: 100,
		Status: map[int]int64{200: 35, 503: 2, 404: 3}, Errors: map[string]int64{"http_5xx": 2, "check_failed": 1, "http_4xx": 3},
		VUs: 10, MaxVUs: 17, TargetRate: 30, Due: 22, Sent: 20, Dropped: 2}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("merged\n got %+v\nwant %+v", g, want)
	}
	// Closed models: no raw histogram in, none out.
	a.Index, b.Index, a.Raw, b.Raw = 1, 1, "", ""
	m.Add(WorkerLine{Worker: 0, Workers: 2, Interval: &a})
	out, _ = m.Add(WorkerLine{Worker: 1, Workers: 2, Interval: &b})
	if len(out) != 1 || out[0].Raw != "" || out[0].Latency == "" {
		t.Fatalf("closed model: %+v", out)
	}
	// The emitted record shares no map with the merger.
	out[0].Status[200] = -1
	a.Index, b.Index = 2, 2
	m.Add(WorkerLine{Worker: 0, Workers: 2, Interval: &a})
	out, _ = m.Add(WorkerLine{Worker: 1, Workers: 2, Interval: &b})
	if out[0].Status[200] != 35 {
		t.Errorf("status 200: %d, want 35", out[0].Status[200])
	}
}

// Scenarios: lines (worker:index), finals, silences, losses, and what
// each step emits — "index:merged" and the workers missing — and the
// status at the end.
func TestWorkerMergeScenarios(t *testing.T) {
	type step struct {
		do   string // "w:k" an interval line, "final w:n", "wait D", "check", "lose w reason"
		want string // the intervals emitted, "0:2 1:1[1]"; "" none
	}
	tests := []struct {
		name    string
		workers int
		steps   []step
		status  string
		check   func(t *testing.T, s MergeStatus)
	}{
		{"in order", 2, []step{{"0:0", ""}, {"1:0", "0:2"}, {"1:1", ""}, {"0:1", "1:2"}}, "2 of 2 workers reporting", nil},
		{"out of order", 2, []step{{"0:1", ""}, {"0:0", ""}, {"1:1", ""}, {"1:0", "0:2 1:2"}}, "2 of 2 workers reporting", nil},
		{"duplicates count once", 2, []step{{"0:0", ""}, {"0:0", ""}, {"1:0", "0:2"}, {"1:0", ""}, {"0:0", ""}, {"0:1", ""}, {"0:1", ""}, {"1:1", "1:2"}},
			"2 of 2 workers reporting", func(t *testing.T, s MergeStatus) {
				if s.Each[0].Duplicates != 3 || s.Each[1].Duplicates != 1 || s.Each[0].Late != 0 {
					t.Errorf("duplicates %d and %d, late %d; want 3, 1, 0", s.Each[0].Duplicates, s.Each[1].Duplicates, s.Each[0].Late)
				}
			}},
		{"a log followed again from the start", 2, []step{{"0:0", ""}, {"1:0", "0:2"}, {"0:1", ""}, {"1:1", "1:2"}, {"0:2", ""},
			{"0:0", ""}, {"0:1", ""}, {"0:2", ""}, {"0:3", ""}, {"1:2", "2:2"}, {"1:3", "3:2"}},
			"2 of 2 workers reporting", func(t *testing.T, s MergeStatus) {
				if s.Each[0].Duplicates != 3 || s.Next != 4 {
					t.Errorf("duplicates %d, next %d; want 3, 4", s.Each[0].Duplicates, s.Next)
				}
			}},
		{"silent at more than SilentAfter, not at it", 2, []step{{"0:0", ""}, {"1:0", "0:2"}, {"0:1", ""}, {"wait 5s", ""}, {"check", ""},
			{"wait 1ns", ""}, {"check", "1:1[1]"}, {"0:2", "2:1[1]"}, {"wait 2s", ""}},
			"1 of 2 workers reporting · worker 1 silent for 7s", func(t *testing.T, s MergeStatus) {
				if w := s.Each[1]; w.State != WorkerSilent || w.LastInterval != 0 || w.Missed != 2 {
					t.Errorf("worker 1: %+v", w)
				}
			}},
		{"a silent worker's late lines are counted, not merged", 2, []step{{"0:0", ""}, {"1:0", "0:2"}, {"0:1", ""}, {"wait 6s", ""},
			{"check", "1:1[1]"}, {"1:1", ""}, {"0:2", ""}, {"1:2", "2:2"}},
			"2 of 2 workers reporting", func(t *testing.T, s MergeStatus) {
				if w := s.Each[1]; w.State != WorkerReporting || w.Late != 1 || w.Missed != 1 || w.Duplicates != 0 {
					t.Errorf("worker 1: %+v", w)
				}
			}},
		{"a worker never heard from", 2, []step{{"0:0", ""}, {"wait 6s", ""}, {"0:1", "0:1[1] 1:1[1]"}},
			"1 of 2 workers reporting · worker 1 not heard from in 6s", nil},
		{"others' lines do not make a worker silent sooner", 3, []step{{"0:0", ""}, {"1:0", ""}, {"wait 3s", ""}, {"0:1", ""}, {"1:1", ""},
			{"wait 2s", ""}, {"check", ""}, {"wait 1s", ""}, {"check", "0:2[2] 1:2[2]"}},
			"2 of 3 workers reporting · worker 2 not heard from in 6s", nil},
		{"lost: the run goes on with N−1", 3, []step{{"0:0", ""}, {"1:0", ""}, {"2:0", "0:3"}, {"0:1", ""}, {"1:1", ""}, {"lose 2 OOMKilled", "1:2[2]"},
			{"0:2", ""}, {"1:2", "2:2[2]"}},
			"2 of 3 workers reporting · worker 2 lost from interval 1 (OOMKilled)", func(t *testing.T, s MergeStatus) {
				if w := s.Each[2]; w.State != WorkerLost || w.LostFrom != 1 || w.Missed != 2 || w.Reason != "OOMKilled" {
					t.Errorf("worker 2: %+v", w)
				}
			}},
		{"lost after reporting ahead: from its first interval missing", 3, []step{{"2:0", ""}, {"2:1", ""}, {"0:0", ""}, {"1:0", "0:3"},
			{"lose 2 Evicted", ""}, {"0:1", ""}, {"1:1", "1:3"}, {"0:2", ""}, {"1:2", "2:2[2]"}, {"lose 2 again", ""}},
			"2 of 3 workers reporting · worker 2 lost from interval 2 (Evicted)", nil},
		{"a lost worker's last buffered line still counts", 2, []step{{"0:0", ""}, {"1:0", "0:2"}, {"lose 1 OOMKilled", ""}, {"1:1", ""},
			{"1:3", ""}, {"0:1", "1:2"}, {"0:2", "2:1[1]"}},
			"1 of 2 workers reporting · worker 1 lost from interval 2 (OOMKilled)", func(t *testing.T, s MergeStatus) {
				if s.Each[1].Late != 1 {
					t.Errorf("late %d, want 1 (interval 3, after it was lost)", s.Each[1].Late)
				}
			}},
		{"lost while silent: from the first interval emitted without it", 2, []step{{"0:0", ""}, {"1:0", "0:2"}, {"0:1", ""}, {"wait 6s", ""},
			{"0:2", "1:1[1] 2:1[1]"}, {"lose 1 Evicted", ""}, {"0:3", "3:1[1]"}},
			"1 of 2 workers reporting · worker 1 lost from interval 1 (Evicted)", nil},
		{"a worker that skipped an interval: it waits SilentAfter from its first line", 2, []step{{"0:0", ""}, {"1:0", "0:2"}, {"0:1", ""},
			{"1:2", ""}, {"wait 3s", ""}, {"1:3", ""}, {"0:2", ""}, {"wait 2s", ""}, {"check", ""}, {"wait 1s", ""}, {"0:3", "1:1[1] 2:2 3:2"}, {"1:1", ""}},
			"2 of 2 workers reporting", func(t *testing.T, s MergeStatus) {
				if w := s.Each[1]; w.State != WorkerReporting || w.Missed != 1 || w.Late != 1 {
					t.Errorf("worker 1: %+v", w)
				}
			}},
		{"a worker's lines out of order within SilentAfter are merged", 2, []step{{"0:0", ""}, {"1:1", ""}, {"0:1", ""}, {"wait 5s", ""},
			{"check", ""}, {"1:0", "0:2 1:2"}},
			"2 of 2 workers reporting", nil},
		{"finals: a worker that ended earlier owes nothing more", 2, []step{{"0:0", ""}, {"1:0", "0:2"}, {"0:1", ""}, {"final 1:1", "1:1"},
			{"final 0:2", ""}, {"wait 1m", ""}, {"check", ""}},
			"2 of 2 workers reporting", func(t *testing.T, s MergeStatus) {
				if s.Each[0].State != WorkerDone || s.Each[1].State != WorkerDone {
					t.Errorf("states %s and %s, want done", s.Each[0].State, s.Each[1].State)
				}
			}},
		{"a final line over a gap: the interval waits, then goes without it", 2, []step{{"0:0", ""}, {"1:0", "0:2"}, {"1:1", ""},
			{"final 0:2", ""}, {"wait 6s", ""}, {"check", "1:1[0]"}},
			"1 of 2 workers reporting · worker 1 silent for 6s", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			m, err := NewWorkerMerger(tt.workers, MergerOptions{Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(9, 9))
			for i, s := range tt.steps {
				var out []MergedInterval
				var err error
				var w, k int
				fields := strings.Fields(s.do)
				switch fields[0] {
				case "wait":
					d, _ := time.ParseDuration(fields[1])
					clock.Advance(d)
				case "check":
					out, err = m.Check()
				case "lose":
					fmt.Sscanf(fields[1], "%d", &w)
					out, err = m.Lose(w, fields[2])
				case "final":
					fmt.Sscanf(fields[1], "%d:%d", &w, &k)
					total := testInterval(t, 0, samples(rng, 5), samples(rng, 5))
					out, err = m.Add(WorkerLine{Worker: w, Workers: tt.workers, Final: &WorkerFinal{Intervals: k, Total: total}})
				default:
					fmt.Sscanf(s.do, "%d:%d", &w, &k)
					iv := testInterval(t, k, samples(rng, 5), samples(rng, 5))
					out, err = m.Add(WorkerLine{Worker: w, Workers: tt.workers, Interval: &iv})
				}
				if err != nil {
					t.Fatalf("step %d %q: %v", i, s.do, err)
				}
				var got []string
				for _, g := range out {
					e := fmt.Sprintf("%d:%d", g.Index, g.Merged)
					if !g.Complete() {
						e += fmt.Sprint(g.Missing)
					}
					if h, _ := g.LatencyHistogram(); h.TotalCount() != int64(5*g.Merged) || g.Requests != int64(5*g.Merged) {
						t.Errorf("step %d: interval %d has %d samples and %d requests from %d workers", i, g.Index, h.TotalCount(), g.Requests, g.Merged)
					}
					got = append(got, e)
				}
				if g := strings.Join(got, " "); g != s.want {
					t.Fatalf("step %d %q emitted %q, want %q", i, s.do, g, s.want)
				}
			}
			st := m.Status()
			if st.String() != tt.status {
				t.Errorf("status %q, want %q", st, tt.status)
			}
			if st.Reporting+st.Silent+st.Lost != tt.workers || st.Silent != strings.Count(tt.status, " silent for")+strings.Count(tt.status, " not heard from") ||
				st.Lost != strings.Count(tt.status, " lost from") {
				t.Errorf("reporting %d, silent %d, lost %d for %q", st.Reporting, st.Silent, st.Lost, tt.status)
			}
			if st.Complete() != strings.HasPrefix(tt.status, fmt.Sprintf("%d of %d", tt.workers, tt.workers)) {
				t.Errorf("Complete() = %v for %q", st.Complete(), tt.status)
			}
			if tt.check != nil {
				tt.check(t, st)
			}
		})
	}
}

// Lines the run cannot have are errors and change nothing.
func TestWorkerMergeRefuses(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	iv := func(k int) *Interval { x := testInterval(t, k, samples(rng, 3), nil); x.Raw = ""; return &x }
	m, _ := NewWorkerMerger(2, MergerOptions{Clock: newFakeClock()})
	if _, err := m.Add(WorkerLine{Worker: 0, Workers: 2, Final: &WorkerFinal{Intervals: 1, Total: *iv(0)}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		l    WorkerLine
		want string
	}{
		{"another run's worker count", WorkerLine{Worker: 0, Workers: 3, Interval: iv(0)}, "workers: the run has 2, the line says 3"},
		{"a worker the run does not have", WorkerLine{Worker: 2, Workers: 2, Interval: iv(0)}, "worker: must be from 0 to 1, got 2"},
		{"neither part", WorkerLine{Worker: 1, Workers: 2}, "exactly one of interval and final"},
		{"past the worker's final line", WorkerLine{Worker: 0, Workers: 2, Interval: iv(1)}, "worker 0's final line says it wrote 1 intervals, got interval 1"},
		{"absurdly ahead", WorkerLine{Worker: 1, Workers: 2, Interval: iv(maxAhead)}, "1200 is more than 1200 intervals ahead"},
		{"a histogram that does not decode", WorkerLine{Worker: 1, Workers: 2, Interval: &Interval{Latency: "bm9wZQ=="}}, "interval.latency: not a loader latency histogram"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := m.Add(tt.l)
			if !errors.Is(err, ErrWorkerLine) || !strings.Contains(err.Error(), tt.want) || out != nil {
				t.Fatalf("err %v, %d emitted; want an ErrWorkerLine saying %q", err, len(out), tt.want)
			}
		})
	}
	if s := m.Status(); s.Next != 0 || s.Each[1].LastInterval != -1 || !s.Each[1].LastLine.IsZero() {
		t.Errorf("a refused line changed the state: %+v", s)
	}
	if _, err := m.Lose(2, "x"); err == nil {
		t.Error("lost worker 2 of 2")
	}
	for _, n := range []int{0, -1} {
		if _, err := NewWorkerMerger(n, MergerOptions{}); err == nil || !strings.Contains(err.Error(), "workers: must be at least 1") {
			t.Errorf("%d workers: %v", n, err)
		}
	}
	if _, err := NewWorkerMerger(1, MergerOptions{SilentAfter: -time.Second}); err == nil || !strings.Contains(err.Error(), "silentAfter") {
		t.Errorf("negative silentAfter: %v", err)
	}
	if out, err := m.AddLine([]byte("I0102 12:00:00 some log line")); out != nil || err != nil {
		t.Errorf("a log line: %v, %v", out, err)
	}
}

// A worker far behind holds back at most maxPending intervals: a line
// further ahead emits the oldest without it.
func TestWorkerMergeBoundsWhatItHolds(t *testing.T) {
	m, _ := NewWorkerMerger(2, MergerOptions{Clock: newFakeClock()})
	iv := testInterval(t, 0, []int64{1000}, []int64{900})
	var got []MergedInterval
	for k := range maxPending + 3 {
		iv.Index = k
		out, err := m.Add(WorkerLine{Worker: 0, Workers: 2, Interval: &iv})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out...)
		if len(m.pend) > maxPending {
			t.Fatalf("after interval %d: %d intervals held", k, len(m.pend))
		}
	}
	if len(got) != 3 {
		t.Fatalf("%d intervals emitted, want 3", len(got))
	}
	for k, g := range got {
		if g.Index != k || g.Merged != 1 || !reflect.DeepEqual(g.Missing, []int{1}) {
			t.Errorf("interval %d: %+v", k, g)
		}
	}
	// The worker behind catches up: its lines for emitted intervals are late.
	iv.Index = 0
	m.Add(WorkerLine{Worker: 1, Workers: 2, Interval: &iv})
	if s := m.Status(); s.Each[1].Late != 1 || s.Each[1].Missed != 3 {
		t.Errorf("worker 1: %+v", s.Each[1])
	}
}

// The final record lists the workers whose final line has not come.
func TestWorkerMergeFinalMissing(t *testing.T) {
	m, _ := NewWorkerMerger(3, MergerOptions{Clock: newFakeClock()})
	f, err := m.Final()
	if err != nil || f.Merged != 0 || !reflect.DeepEqual(f.Missing, []int{0, 1, 2}) || f.Latency == "" {
		t.Fatalf("no finals: %+v, %v", f, err)
	}
	total := testInterval(t, 0, []int64{1000, 2000}, []int64{900, 1900})
	for _, w := range []int{2, 2, 0} {
		if _, err := m.Add(WorkerLine{Worker: w, Workers: 3, Final: &WorkerFinal{Intervals: 0, Total: total}}); err != nil {
			t.Fatal(err)
		}
	}
	f, _ = m.Final()
	h, _ := f.LatencyHistogram()
	if f.Merged != 2 || !reflect.DeepEqual(f.Missing, []int{1}) || h.TotalCount() != 4 || f.Requests != 4 || f.Complete() {
		t.Errorf("final: merged %d, missing %v, %d samples, %d requests", f.Merged, f.Missing, h.TotalCount(), f.Requests)
	}
	if s := m.Status(); s.Each[2].Duplicates != 1 {
		t.Errorf("worker 2's repeated final: %d duplicates, want 1", s.Each[2].Duplicates)
	}
}
