package sandbox

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

func TestFaultsRejectInvalidSettings(t *testing.T) {
	tests := []struct {
		name string
		set  func(*Faults) error
	}{
		{name: "negative median", set: func(f *Faults) error { return f.SetLatency(-time.Millisecond, time.Millisecond) }},
		{name: "p99 below median", set: func(f *Faults) error { return f.SetLatency(10*time.Millisecond, time.Millisecond) }},
		{name: "negative error rate", set: func(f *Faults) error { return f.SetErrorRate(-0.1) }},
		{name: "error rate above one", set: func(f *Faults) error { return f.SetErrorRate(1.5) }},
		{name: "NaN error rate", set: func(f *Faults) error { return f.SetErrorRate(math.NaN()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFaults(1)
			before := f.Snapshot()
			if err := tt.set(f); !errors.Is(err, ErrInvalidFault) {
				t.Fatalf("err = %v, want ErrInvalidFault", err)
			}
			if after := f.Snapshot(); after != before {
				t.Errorf("state changed on invalid input: %+v -> %+v", before, after)
			}
		})
	}
}

func TestFaultsSnapshotAndReset(t *testing.T) {
	f := NewFaults(1)
	want := FaultState{LatencyMedian: DefaultLatencyMedian, LatencyP99: DefaultLatencyP99}
	if got := f.Snapshot(); got != want {
		t.Fatalf("default = %+v, want %+v", got, want)
	}
	if err := f.SetLatency(100*time.Millisecond, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := f.SetErrorRate(0.25); err != nil {
		t.Fatal(err)
	}
	f.SetStall(true)
	got := f.Snapshot()
	if got.LatencyMedian != 100*time.Millisecond || got.LatencyP99 != time.Second || got.ErrorRate != 0.25 || !got.Stalled {
		t.Fatalf("after setting = %+v", got)
	}
	if s := got.String(); s != "latency p50=100ms p99=1s · errors 25% · stall ON (0 held)" {
		t.Errorf("String() = %q", s)
	}
	f.Reset()
	if got := f.Snapshot(); got != want {
		t.Errorf("after Reset = %+v, want %+v", got, want)
	}
}

func TestTimerWait(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		d    time.Duration
		want error
	}{
		{name: "zero duration", ctx: context.Background(), d: 0, want: nil},
		{name: "elapses", ctx: context.Background(), d: time.Nanosecond, want: nil},
		{name: "context ends first", ctx: cancelled, d: time.Hour, want: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := TimerWait(tt.ctx, tt.d); !errors.Is(err, tt.want) {
				t.Errorf("TimerWait = %v, want %v", err, tt.want)
			}
		})
	}
}

// recordingWait is a WaitFunc that records the durations it is asked to
// wait, without waiting.
type recordingWait struct {
	durations []time.Duration
}

func (r *recordingWait) wait(ctx context.Context, d time.Duration) error {
	r.durations = append(r.durations, d)
	return ctx.Err()
}

// quantile returns the q-quantile (0..1) of sorted by nearest rank.
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func TestLatencyDistributionMatchesSettings(t *testing.T) {
	const draws = 4000
	tests := []struct {
		name        string
		median, p99 time.Duration
		tolerance   float64 // relative
	}{
		{name: "default", median: DefaultLatencyMedian, p99: DefaultLatencyP99, tolerance: 0.12},
		{name: "slow", median: 120 * time.Millisecond, p99: 900 * time.Millisecond, tolerance: 0.12},
		{name: "tight", median: 20 * time.Millisecond, p99: 25 * time.Millisecond, tolerance: 0.05},
		{name: "constant", median: 7 * time.Millisecond, p99: 7 * time.Millisecond, tolerance: 0},
		{name: "none", median: 0, p99: 0, tolerance: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			faults := NewFaults(42)
			if err := faults.SetLatency(tt.median, tt.p99); err != nil {
				t.Fatal(err)
			}
			rec := &recordingWait{}
			b, err := newBackend(faults, rec.wait)
			if err != nil {
				t.Fatal(err)
			}
			for range draws {
				w := httptest.NewRecorder()
				b.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/health", nil))
				if w.Code != http.StatusOK {
					t.Fatalf("status %d", w.Code)
				}
			}
			if len(rec.durations) != draws {
				t.Fatalf("wait called %d times, want %d", len(rec.durations), draws)
			}
			sorted := slices.Sorted(slices.Values(rec.durations))
			within := func(what string, got, want time.Duration) {
				t.Helper()
				if diff := math.Abs(float64(got - want)); diff > tt.tolerance*float64(want) {
					t.Errorf("%s = %v, want %v ± %.0f%%", what, got, want, tt.tolerance*100)
				}
			}
			within("median", quantile(sorted, 0.5), tt.median)
			within("p99", quantile(sorted, 0.99), tt.p99)
			if tt.p99 > 0 && sorted[len(sorted)-1] > tailCap*tt.p99 {
				t.Errorf("max %v exceeds the tail cap %v", sorted[len(sorted)-1], tailCap*tt.p99)
			}
		})
	}
}

func TestLatencyIsReproducibleForASeed(t *testing.T) {
	draw := func(seed uint64) []time.Duration {
		f := NewFaults(seed)
		var out []time.Duration
		for range 50 {
			d, _ := f.draw()
			out = append(out, d)
		}
		return out
	}
	if a, b := draw(7), draw(7); !slices.Equal(a, b) {
		t.Error("same seed drew different latencies")
	}
	if a, b := draw(7), draw(8); slices.Equal(a, b) {
		t.Error("different seeds drew the same latencies")
	}
}

// waitHeld blocks until f holds n requests, failing the test if ctx ends.
func waitHeld(ctx context.Context, t *testing.T, f *Faults, n int) {
	t.Helper()
	for {
		held, changed := f.heldState()
		if held == n {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("waiting for %d held requests (have %d): %v", n, held, ctx.Err())
		}
	}
}

func TestStallHoldsUntilContextEnds(t *testing.T) {
	f := NewFaults(1)
	f.SetStall(true)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- f.hold(ctx) }()
	waitHeld(t.Context(), t, f, 1)
	select {
	case err := <-errc:
		t.Fatalf("hold returned %v while stalled", err)
	default:
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("hold = %v, want context.Canceled", err)
	}
	waitHeld(t.Context(), t, f, 0)
}

func TestStallCannotBeSwitchedOnAfterClose(t *testing.T) {
	f := NewFaults(1)
	f.close()
	f.SetStall(true)
	if f.Snapshot().Stalled {
		t.Fatal("stall switched on after close")
	}
	if err := f.hold(t.Context()); err != nil {
		t.Errorf("hold after close = %v", err)
	}
}
