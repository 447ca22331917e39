package loader

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAutoVUs(t *testing.T) {
	for _, c := range []struct {
		rate      float64
		timeout   time.Duration
		pre, most int
		what      string
	}{
		{200, 10 * time.Second, 10, 2000, "the issue's run: 200/s × 10s"},
		{2, 10 * time.Second, 1, 20, "a pool of at least one"},
		{0.5, time.Second, 1, 1, "less than one in flight still needs one VU"},
		{10_000, 10 * time.Second, 100, AutoMaxVUs, "capped"},
		{1000, 100 * time.Millisecond, 50, 100, "a short timeout bounds the VUs"},
		{30, 50 * time.Millisecond, 2, 2, "the pool never exceeds the bound"},
	} {
		pre, most := AutoVUs(c.rate, c.timeout)
		if pre != c.pre || most != c.most {
			t.Errorf("%s: AutoVUs(%g, %s) = %d, %d; want %d, %d", c.what, c.rate, c.timeout, pre, most, c.pre, c.most)
		}
	}
}

// Neither VU field set: sized from the rate; explicit values keep k6's
// meaning (maxVUs defaults to preAllocatedVUs).
func TestOpenModelVUDefaults(t *testing.T) {
	for _, c := range []struct {
		e         Executor
		pre, most int
		auto      bool
	}{
		{Executor{Kind: ConstantArrivalRate, Rate: 200, Duration: time.Second}, 10, 2000, true},
		{Executor{Kind: RampingArrivalRate, Rate: 10, Stages: []Stage{{time.Second, 400}, {time.Second, 50}}}, 20, 4000, true},
		{Executor{Kind: ConstantArrivalRate, Rate: 200, Duration: time.Second, PreAllocatedVUs: 1}, 1, 1, false},
		{Executor{Kind: ConstantArrivalRate, Rate: 200, Duration: time.Second, PreAllocatedVUs: 5, MaxVUs: 50}, 5, 50, false},
		{Executor{Kind: ConstantArrivalRate, Rate: 200, Duration: time.Second, MaxVUs: 50}, 10, 50, false},
		{Executor{Kind: ConstantArrivalRate, Rate: 200, Duration: time.Second, MaxVUs: 3}, 3, 3, false},
	} {
		cfg, err := Config{Executor: c.e, Requests: []Request{{URL: "http://127.0.0.1:1/"}}}.normalize()
		if err != nil {
			t.Fatalf("%+v: %v", c.e, err)
		}
		e := cfg.Executor
		if e.PreAllocatedVUs != c.pre || e.MaxVUs != c.most || e.autoVUs != c.auto {
			t.Errorf("%+v: preAllocatedVUs %d maxVUs %d auto %v; want %d %d %v", c.e, e.PreAllocatedVUs, e.MaxVUs, e.autoVUs, c.pre, c.most, c.auto)
		}
	}
	_, err := Config{Executor: Executor{Kind: ConstantArrivalRate, Rate: 1, Duration: time.Second, PreAllocatedVUs: 5, MaxVUs: 2},
		Requests: []Request{{URL: "http://127.0.0.1:1/"}}}.normalize()
	if err == nil || !strings.Contains(err.Error(), "executor.maxVUs") {
		t.Errorf("maxVUs below preAllocatedVUs: %v", err)
	}
}

// Without VU settings, a run whose requests all hang grows a VU for every
// iteration due, up to the bound (rate × timeout), then reports the cap —
// and the shortfall names it as the cause.
func TestAutoVUsGrowOnDemandToTheBound(t *testing.T) {
	release := make(chan struct{})
	hits := make(chan struct{}, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits <- struct{}{}
		<-release
	}))
	defer srv.Close()
	defer close(release)
	clk := newFakeClock()
	start := clk.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// 2/s × 10s timeout: 1 VU up front, up to 20.
	snaps, ctl, err := Run(ctx, Config{
		Executor: Executor{Kind: ConstantArrivalRate, Rate: 2, Duration: 15 * time.Second, MaxLag: time.Minute},
		Requests: []Request{{URL: srv.URL}},
		Timeout:  10 * time.Second,
		Clock:    clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	final := make(chan []Snapshot, 1)
	go func() { final <- drainAll(t, snaps) }()
	waitHits(t, hits, 1)
	for k := 1; k < 20; k++ { // every VU so far hangs: each iteration needs a new one
		at := time.Duration(k) * 500 * ms
		clk.WaitTimer(start, at)
		clk.Advance(at - clk.Now().Sub(start))
		waitHits(t, hits, 1)
	}
	if n := ctl.r.alive.Load(); n != 20 {
		t.Fatalf("%d VUs after 20 hanging iterations, want 20 (the bound)", n)
	}
	clk.WaitTimer(start, 10*time.Second)
	clk.Advance(10*time.Second - clk.Now().Sub(start))
	waitStarved(t, ctl) // the 21st finds the cap
	clk.Advance(5 * time.Second)
	release <- struct{}{} // let the run end: the rest follow when release closes
	go func() {
		for range 19 {
			release <- struct{}{}
		}
	}()
	all := <-final
	last := all[len(all)-1]
	d := last.Delivery
	if last.PeakVUs != 20 {
		t.Errorf("peak VUs %d, want 20: the pool grew to its bound", last.PeakVUs)
	}
	if d.Due != 30 || d.Sent != 20 || d.Dropped != 10 || !d.VUCapReached || d.MaxVUs != 20 {
		t.Fatalf("delivery %+v, want 30 due, 20 sent, 10 dropped, the cap of 20 reached", d)
	}
	if d.Active != 15*time.Second || d.TargetRate() != 2 {
		t.Errorf("active %s target %g/s, want 15s and 2/s", d.Active, d.TargetRate())
	}
	want := "delivered 1.3 of 2 req/s (33 % dropped): the generator, not the service, was the limit: VU cap reached (all 20 VUs busy with iterations due)"
	if got := last.Shortfall(); !strings.HasPrefix(got, want) {
		t.Errorf("shortfall\n%q, want it to start with\n%q", got, want)
	}
	if !slices.Contains(eventKinds(last), EventAutoVUs) {
		t.Errorf("events %v lack %q", eventKinds(last), EventAutoVUs)
	}
}

func TestShortfall(t *testing.T) {
	base := Snapshot{Executor: ConstantArrivalRate,
		Delivery: Delivery{Due: 2000, Sent: 825, Dropped: 1175, Active: 10 * time.Second, MaxVUs: 1, Cores: 2}}
	for _, c := range []struct {
		what string
		edit func(s *Snapshot)
		want string
	}{
		{"nothing observed", func(*Snapshot) {}, "delivered 82.5 of 200 req/s (59 % dropped): the generator, not the service, was the limit: reason not identified"},
		{"the cap", func(s *Snapshot) { s.Delivery.VUCapReached = true },
			"delivered 82.5 of 200 req/s (59 % dropped): the generator, not the service, was the limit: VU cap reached (all 1 VUs busy with iterations due)"},
		{"CPU and connection errors", func(s *Snapshot) {
			s.Delivery.DropSeconds, s.Delivery.SaturatedSeconds = 7, 5
			s.Total.Errors = ErrorCounts{Refused: 12, Timeout: 3, HTTP5xx: 40}
		}, "delivered 82.5 of 200 req/s (59 % dropped): the generator, not the service, was the limit: " +
			"generator CPU saturated (≥ 90 % of 2 core(s) in 5 of the 7 second(s) with drops); connection errors (12 refused, 3 timeout)"},
		{"1 % dropped is within bounds", func(s *Snapshot) { s.Delivery = Delivery{Due: 1000, Sent: 990, Dropped: 10, Active: 5 * time.Second} }, ""},
		{"just over 1 % is not", func(s *Snapshot) { s.Delivery = Delivery{Due: 1000, Sent: 989, Dropped: 11, Active: 5 * time.Second} },
			"delivered 197.8 of 200 req/s (1.1 % dropped): the generator, not the service, was the limit: reason not identified"},
		{"closed models have no schedule", func(s *Snapshot) { s.Executor = ConstantVUs }, ""},
		{"nothing due", func(s *Snapshot) { s.Delivery = Delivery{} }, ""},
	} {
		s := base
		c.edit(&s)
		if got := s.Shortfall(); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.what, got, c.want)
		}
	}
}

// A second with drops counts as CPU-saturated when the process used at
// least 90 % of its cores in it; seconds without drops are not judged.
func TestSaturatedSeconds(t *testing.T) {
	cores := time.Duration(runtime.GOMAXPROCS(0))
	o := &owner{a: newAggregator(true, minRing, nil), cpuOK: true}
	for _, c := range []struct {
		dropped int64
		cpu     time.Duration
	}{{0, cores * time.Second}, {3, cores * 950 * ms}, {3, cores * 500 * ms}, {1, cores * 460 * ms}} {
		o.a.curC.dropped = c.dropped
		o.cpuCur = c.cpu
		if c.cpu == cores*460*ms {
			o.closeCPU(0, 500*ms) // a partial last interval: 92 % of it
		} else {
			o.closeCPU(0, time.Second)
		}
	}
	if o.dropSecs != 3 || o.satSecs != 2 {
		t.Errorf("seconds with drops %d, saturated %d; want 3 and 2", o.dropSecs, o.satSecs)
	}
}
