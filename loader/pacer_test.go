package loader

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"time"
)

// hitServer counts requests on a channel, so a test can wait for the n-th.
func hitServer(t *testing.T) (*httptest.Server, chan struct{}) {
	t.Helper()
	hits := make(chan struct{}, 100000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits <- struct{}{}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv, hits
}

// waitHits receives n hits, failing the test if they do not come.
func waitHits(t *testing.T, hits chan struct{}, n int) {
	t.Helper()
	bound := time.NewTimer(10 * time.Second) // a failure bound, not a wait
	defer bound.Stop()
	for i := range n {
		select {
		case <-hits:
		case <-bound.C:
			t.Fatalf("only %d of %d requests arrived", i, n)
		}
	}
}

// WaitTickers blocks until n tickers exist.
func (c *fakeClock) WaitTickers(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		k := 0
		for _, t := range c.timers {
			if t.period > 0 && t.active {
				k++
			}
		}
		if k >= n {
			return
		}
		c.cond.Wait()
	}
}

// waitStarved waits until the pacer holds a due iteration for want of a VU.
func waitStarved(t *testing.T, ctl *Control) {
	t.Helper()
	bound := time.Now().Add(10 * time.Second) // a failure bound, not a wait
	for !ctl.r.starved.Load() {
		if time.Now().After(bound) {
			t.Fatal("the pacer never waited for a VU")
		}
		runtime.Gosched()
	}
}

func drainAll(t *testing.T, snaps <-chan Snapshot) (all []Snapshot) {
	t.Helper()
	bound := time.NewTimer(60 * time.Second)
	defer bound.Stop()
	for {
		select {
		case s, ok := <-snaps:
			if !ok {
				if len(all) == 0 || !all[len(all)-1].Done {
					t.Fatalf("channel closed without a final snapshot")
				}
				return all
			}
			all = append(all, s)
		case <-bound.C:
			t.Fatalf("run did not finish")
		}
	}
}

func eventKinds(s Snapshot) []EventKind {
	var out []EventKind
	for _, e := range s.Events {
		out = append(out, e.Kind)
	}
	return out
}

// The pacer with a fake clock: every iteration goes out at its intended
// time, none before; pause skips, SetRate replaces the rest of the plan.
func TestPacerFakeClock(t *testing.T) {
	srv, hits := hitServer(t)
	clk := newFakeClock()
	start := clk.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snaps, ctl, err := Run(ctx, Config{
		Executor: Executor{Kind: ConstantArrivalRate, Rate: 10, Duration: 2 * time.Second, PreAllocatedVUs: 2},
		Requests: []Request{{URL: srv.URL}},
		Clock:    clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Drain snapshots in the background so the owner never matters.
	final := make(chan []Snapshot, 1)
	go func() {
		var all []Snapshot
		for s := range snaps {
			all = append(all, s)
		}
		final <- all
	}()
	at := time.Duration(0)
	step := func(to time.Duration) {
		clk.WaitTimer(start, to) // the pacer waits for exactly this time
		clk.Advance(to - at)
		at = to
	}
	waitHits(t, hits, 1) // t=0 goes at once
	step(100 * ms)
	waitHits(t, hits, 1)
	clk.WaitTimer(start, 200*ms)
	if err := ctl.Pause(); err != nil {
		t.Fatal(err)
	}
	// Paused: the pacer drops its timer and waits for Resume.
	clk.Advance(350 * ms) // to 450ms
	at = 450 * ms
	if err := ctl.Resume(); err != nil {
		t.Fatal(err)
	}
	step(500 * ms) // 200…400ms were skipped, 500ms is next
	waitHits(t, hits, 1)
	clk.WaitTimer(start, 600*ms)
	if err := ctl.SetRate(20); err != nil {
		t.Fatal(err)
	}
	// From 500ms at 20/s (k=6 was due at 550ms on the new plan).
	for to := 550 * ms; to < 2*time.Second; to += 50 * ms {
		step(to)
		waitHits(t, hits, 1)
	}
	clk.Advance(2*time.Second - at) // the end
	var all []Snapshot
	select {
	case all = <-final:
	case <-ctx.Done():
		t.Fatal("run did not finish")
	}
	last := all[len(all)-1]
	// 0, 100ms, 500ms, then 550…1950ms at 20/s: 3 + 29.
	if last.Total.Requests != 32 || last.Total.Dropped != 0 {
		t.Fatalf("requests %d dropped %d, want 32 and 0", last.Total.Requests, last.Total.Dropped)
	}
	if len(hits) != 0 {
		t.Fatalf("%d requests beyond the plan", len(hits))
	}
	kinds := eventKinds(last)
	for _, k := range []EventKind{EventStart, EventPaused, EventResumed, EventRate, EventStopping} {
		if !slices.Contains(kinds, k) {
			t.Errorf("events %v lack %q", kinds, k)
		}
	}
	if last.Reason != ReasonDuration || !last.Done {
		t.Errorf("final reason %q done %v", last.Reason, last.Done)
	}
	if err := ctl.Pause(); err != ErrNotRunning {
		t.Errorf("Pause after the end = %v, want ErrNotRunning", err)
	}
}

// ramping-vus with a fake clock: the VU count follows the stages (each VU
// sends one request, then thinks for an hour of fake time), and SetVUs
// overrides them.
func TestRampingVUsFakeClock(t *testing.T) {
	srv, hits := hitServer(t)
	clk := newFakeClock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snaps, ctl, err := Run(ctx, Config{
		Executor: Executor{Kind: RampingVUs, ThinkTime: time.Hour, Stages: []Stage{
			{Duration: time.Second, Target: 4}, {Duration: time.Second, Target: 4}, {Duration: time.Second, Target: 0}}},
		Requests: []Request{{URL: srv.URL}},
		Clock:    clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	final := make(chan []Snapshot, 1)
	go func() { final <- drainAll(t, snaps) }()
	clk.WaitTickers(2)                          // the owner's and the driver's
	want := []int{0, 1, 1, 2, 2, 2, 3, 3, 4, 4} // round(0.4·k) at 100ms…1s
	seen := 0
	for _, n := range want {
		clk.Advance(100 * ms)
		waitHits(t, hits, n-seen)
		seen = n
	}
	clk.Advance(500 * ms)
	if err := ctl.SetVUs(6); err != nil {
		t.Fatal(err)
	}
	waitHits(t, hits, 2) // VUs 5 and 6 start at once
	for range 15 {
		clk.Advance(100 * ms)
	}
	all := <-final
	last := all[len(all)-1]
	if last.Total.Requests != 6 || len(hits) != 0 {
		t.Fatalf("requests %d (+%d unread), want 6", last.Total.Requests, len(hits))
	}
	var stages []float64
	for _, e := range last.Events {
		if e.Kind == EventStage {
			stages = append(stages, e.Value)
		}
		if e.Kind == EventVUs && e.Value != 6 {
			t.Errorf("vus event %v", e)
		}
	}
	if !slices.Equal(stages, []float64{0, 1, 2}) {
		t.Errorf("stage events %v, want 0, 1, 2", stages)
	}
	if last.Reason != ReasonDuration {
		t.Errorf("reason %q", last.Reason)
	}
}

// An arrival rate the VUs cannot serve: iterations later than MaxLag are
// dropped and counted, the rest keep their intended time.
func TestDroppedIterations(t *testing.T) {
	release := make(chan struct{})
	hits := make(chan struct{}, 1000)
	first := make(chan struct{}, 1)
	first <- struct{}{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits <- struct{}{}
		select {
		case <-first: // the first request holds the only VU until release
			<-release
		default:
		}
	}))
	defer srv.Close()
	clk := newFakeClock()
	start := clk.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snaps, ctl, err := Run(ctx, Config{
		Executor: Executor{Kind: ConstantArrivalRate, Rate: 10, Duration: 10 * time.Second,
			PreAllocatedVUs: 1, MaxLag: time.Second},
		Requests: []Request{{URL: srv.URL}},
		Clock:    clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	final := make(chan []Snapshot, 1)
	go func() { final <- drainAll(t, snaps) }()
	waitHits(t, hits, 1)
	clk.WaitTimer(start, 100*ms)
	clk.Advance(100 * ms) // 100ms is due; the pacer blocks: no VU is free
	waitStarved(t, ctl)
	clk.Advance(5 * time.Second)
	close(release) // at 5.1s: 100ms goes out 5s late, 200ms…4s are dropped
	clk.WaitTimer(start, 5200*ms)
	waitHits(t, hits, 1+11) // 100ms, then 4.1s…5.1s within MaxLag
	at := 5100 * ms
	for to := 5200 * ms; to < 10*time.Second; to += 100 * ms {
		clk.WaitTimer(start, to)
		clk.Advance(to - at)
		at = to
		waitHits(t, hits, 1) // sent before time moves on
	}
	clk.Advance(10*time.Second - at)
	all := <-final
	last := all[len(all)-1]
	if last.Total.Dropped != 39 || last.Total.Requests != 61 {
		t.Fatalf("dropped %d requests %d, want 39 and 61", last.Total.Dropped, last.Total.Requests)
	}
	// The late one kept its intended time: corrected latency 5s, raw ~0.
	if got := last.Total.Latency.Max; got < 5*time.Second || got > 5200*ms {
		t.Errorf("corrected max %v, want ~5.1s", got)
	}
	// Corrected minus raw, summed, is the total lateness: 5s for 100ms,
	// then 1.0s, 0.9s … 0s for 4.1s…5.1s, all sent at 5.1s.
	lat, raw := last.Total.Latency, last.Total.Raw
	late := time.Duration(lat.Count)*lat.Mean - time.Duration(raw.Count)*raw.Mean
	if want := 10500 * ms; late < want*99/100 || late > want*101/100 {
		t.Errorf("total lateness %v (corrected mean %v, raw mean %v), want %v", late, lat.Mean, raw.Mean, want)
	}
	// The generator lag is that lateness, request by request, in its own
	// histogram: 5s for 100ms, 0 for those sent on time (the fake clock
	// does not move while a request is sent).
	lag := last.Total.Lag
	if sum := time.Duration(lag.Count) * lag.Mean; lag.Count != 61 || sum < 10400*ms || sum > 10600*ms ||
		lag.Max < 5*time.Second || lag.Max > 5010*ms || lag.P50 != 0 {
		t.Errorf("lag %+v (sum %v), want 61 values summing to ~10.5s, max ~5s, median 0", lag, sum)
	}
	if !slices.Contains(eventKinds(last), EventInsufficientVUs) {
		t.Errorf("events %v lack %q", eventKinds(last), EventInsufficientVUs)
	}
}

// Iterations that fell due before the end but were never started — the
// only VU was busy, and MaxLag would have waited longer — are dropped at the
// end: every scheduled iteration is either sent or counted as dropped.
func TestUnsentIterationsAreDroppedAtTheEnd(t *testing.T) {
	release := make(chan struct{})
	hits := make(chan struct{}, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits <- struct{}{}
		<-release // holds the only VU past the end of the run
	}))
	defer srv.Close()
	clk := newFakeClock()
	start := clk.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	snaps, ctl, err := Run(ctx, Config{
		Executor: Executor{Kind: ConstantArrivalRate, Rate: 10, Duration: time.Second,
			PreAllocatedVUs: 1, MaxLag: time.Minute},
		Requests: []Request{{URL: srv.URL}},
		Clock:    clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	final := make(chan []Snapshot, 1)
	go func() { final <- drainAll(t, snaps) }()
	waitHits(t, hits, 1) // t=0 holds the VU
	clk.WaitTimer(start, 100*ms)
	clk.Advance(100 * ms)
	waitStarved(t, ctl) // 100ms is due, no VU free
	clk.Advance(900 * ms)
	close(release) // the end came first: 100ms…900ms were never sent
	all := <-final
	last := all[len(all)-1]
	if last.Total.Requests != 1 || last.Total.Dropped != 9 {
		t.Fatalf("requests %d dropped %d, want 1 and 9", last.Total.Requests, last.Total.Dropped)
	}
	if len(hits) != 0 {
		t.Errorf("%d requests sent after the end", len(hits))
	}
}
