package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/internal/distload"
	"github.com/cockpit-dev/cockpit/loader"
)

// TestControlSharesAreTheSegmentSplit: a whole-run rate or VU count set
// during a run is split across the workers exactly as Segment splits the
// test's own — the parts sum to the whole, the remainders spread the same
// way — and a whole too small to give every worker a part is refused,
// naming the ConfigMap key.
func TestControlSharesAreTheSegmentSplit(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		rate    float64
		vus     int
		workers int
		want    []float64
		wantErr string
	}{
		{name: "rate, remainder spread", args: []string{"--rate", "60", "--duration", "10s", "http://t/"}, rate: 100, workers: 3, want: []float64{33, 33, 34}},
		{name: "fractional rate", args: []string{"--rate", "60", "--duration", "10s", "http://t/"}, rate: 2.5, workers: 2, want: []float64{1.25, 1.25}},
		{name: "ramping rate", args: []string{"--rate", "60", "--stages", "10s:60", "http://t/"}, rate: 10, workers: 4, want: []float64{2, 3, 2, 3}},
		{name: "rate too small", args: []string{"--rate", "60", "--duration", "10s", "http://t/"}, rate: 2, workers: 3, wantErr: "configmap key rate"},
		{name: "closed VUs", args: []string{"--vus", "4", "--duration", "10s", "http://t/"}, vus: 7, workers: 3, want: []float64{2, 2, 3}},
		{name: "open VU cap", args: []string{"--rate", "60", "--max-vus", "30", "--duration", "10s", "http://t/"}, vus: 10, workers: 4, want: []float64{2, 3, 2, 3}},
		{name: "VUs too few", args: []string{"--vus", "4", "--duration", "10s", "http://t/"}, vus: 2, workers: 3, wantErr: "configmap key vus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			whole, err := workerConfigWhole(distload.Control{Args: tt.args, Workers: tt.workers})
			if err != nil {
				t.Fatal(err)
			}
			var got []float64
			var sum float64
			for i := range tt.workers {
				var part float64
				if tt.rate > 0 {
					part, err = rateShare(whole, tt.rate, i, tt.workers)
				} else {
					var n int
					n, err = vusShare(whole, tt.vus, i, tt.workers)
					part = float64(n)
				}
				if err != nil {
					break
				}
				got, sum = append(got, part), sum+part
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			total := tt.rate + float64(tt.vus)
			if !equalFloats(got, tt.want) || sum != total {
				t.Errorf("parts %v (sum %v), want %v (sum %v)", got, sum, tt.want, total)
			}
		})
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestApplyControlChangesTheRunningPart: the ConfigMap's changes reach a
// worker's running test — its part of a new whole VU count in a closed
// model, of a new rate in an open one, a pause and a resume — as the
// loader's own events say.
func TestApplyControlChangesTheRunningPart(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(srv.Close)
	tests := []struct {
		name       string
		args       []string
		next       distload.Control
		wantEvents []loader.EventKind
		wantValue  float64
	}{
		{name: "VUs", args: []string{"--vus", "3", "--think-time", "50ms", "--duration", "30s", srv.URL}, next: distload.Control{VUs: 7},
			wantEvents: []loader.EventKind{loader.EventVUs}, wantValue: 3}, // worker 2 of 3: 7 → 2, 2, 3
		{name: "rate", args: []string{"--rate", "30", "--duration", "30s", srv.URL}, next: distload.Control{Rate: 100},
			wantEvents: []loader.EventKind{loader.EventRate}, wantValue: 34},
		{name: "pause", args: []string{"--rate", "30", "--duration", "30s", srv.URL}, next: distload.Control{Paused: true},
			wantEvents: []loader.EventKind{loader.EventPaused}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const index, workers = 2, 3
			c := distload.Control{Args: tt.args, Workers: workers}
			part, err := workerConfig(c, index)
			if err != nil {
				t.Fatal(err)
			}
			whole, err := workerConfigWhole(c)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			snaps, ctl, err := loader.Run(ctx, part)
			if err != nil {
				t.Fatal(err)
			}
			next := tt.next
			next.Args, next.Workers = c.Args, c.Workers
			var logw syncBuffer
			applyControl(&logw, ctl, cancel, whole, c, next, index)
			var seen []loader.Event
			for snap := range snaps {
				seen = snap.Events
				if hasEvents(seen, tt.wantEvents) {
					ctl.Stop()
				}
			}
			if !hasEvents(seen, tt.wantEvents) {
				t.Fatalf("events %+v, want %v; worker's log: %s", seen, tt.wantEvents, logw.String())
			}
			for _, e := range seen {
				if e.Kind == tt.wantEvents[0] && e.Value != tt.wantValue {
					t.Errorf("%s event with %v, want worker %d's part %v", e.Kind, e.Value, index, tt.wantValue)
				}
			}
		})
	}
}

func hasEvents(evs []loader.Event, want []loader.EventKind) bool {
	for _, w := range want {
		found := false
		for _, e := range evs {
			found = found || e.Kind == w
		}
		if !found {
			return false
		}
	}
	return true
}
