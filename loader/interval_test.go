package loader

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cockpit-dev/cockpit/loader/threshold"
)

// collectIntervals runs cfg to its end, reading every snapshot, and
// returns the intervals they carried and the final snapshot.
func collectIntervals(t *testing.T, cfg Config) ([]Interval, Snapshot) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	snaps, _, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ivs []Interval
	var last Snapshot
	for s := range snaps {
		ivs = append(ivs, s.Intervals...)
		last = s
	}
	if !last.Done {
		t.Fatal("no final snapshot")
	}
	return ivs, last
}

// Merging a run's intervals reproduces its final statistics exactly:
// every percentile, corrected and raw, the counts, by status and class.
// Intervals follow each other without gaps, and the encoding is
// HdrHistogram's own (hdrhistogram-go's Decode reads it).
func TestIntervalsMergeToTheRunExactly(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		if i%17 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		// A spread of service times, so the histograms have many buckets.
		spin := time.Now().Add(time.Duration(i%7) * 150 * time.Microsecond)
		for time.Now().Before(spin) {
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	p95, err := threshold.Parse("http_req_duration", "p(95)<0.001")
	if err != nil {
		t.Fatal(err)
	}
	clock := scaledClock{start: time.Now(), speed: 4}
	cases := []struct {
		name  string
		exec  Executor
		every time.Duration
	}{
		{"open 1s", Executor{Kind: ConstantArrivalRate, Rate: 100, Duration: 8 * time.Second, PreAllocatedVUs: 4, MaxVUs: 20}, time.Second},
		{"closed 1s", Executor{Kind: ConstantVUs, VUs: 3, Duration: 6 * time.Second}, time.Second},
		{"open 5s", Executor{Kind: ConstantArrivalRate, Rate: 100, Duration: 12 * time.Second, PreAllocatedVUs: 4, MaxVUs: 20}, 5 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ivs, last := collectIntervals(t, Config{Executor: tc.exec, Requests: []Request{{URL: srv.URL}},
				Thresholds: []threshold.Threshold{p95}, Intervals: tc.every, Clock: clock})
			if len(ivs) < 2 {
				t.Fatalf("%d intervals", len(ivs))
			}
			for i, iv := range ivs {
				if iv.Index != i {
					t.Fatalf("interval %d has index %d", i, iv.Index)
				}
				if i > 0 && iv.Start != ivs[i-1].End {
					t.Fatalf("interval %d starts at %s, the one before ended at %s", i, iv.Start, ivs[i-1].End)
				}
				if i < len(ivs)-1 && iv.Span() != tc.every {
					t.Errorf("interval %d spans %s, want %s", i, iv.Span(), tc.every)
				}
				if h, err := hdr.Decode([]byte(iv.Latency)); err != nil || h.TotalCount() == 0 && iv.Requests > 0 {
					t.Fatalf("interval %d: hdrhistogram-go decodes %v, %v", i, h, err)
				}
				if tc.exec.Kind.Open() != (iv.Raw != "") {
					t.Errorf("interval %d: raw %q in a %s model", i, iv.Raw[:min(len(iv.Raw), 12)], tc.exec.Kind)
				}
			}
			if ivs[0].Start != 0 || ivs[len(ivs)-1].End != last.Elapsed {
				t.Errorf("intervals cover %s..%s, the run 0..%s", ivs[0].Start, ivs[len(ivs)-1].End, last.Elapsed)
			}
			// Every interval goes through JSON, as in the journal.
			var back []Interval
			b, _ := json.Marshal(ivs)
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			got, err := MergeIntervals(back)
			if err != nil {
				t.Fatal(err)
			}
			want := last.Total
			if got.Latency != want.Latency {
				t.Errorf("merged latency\n%+v\nthe run's\n%+v", got.Latency, want.Latency)
			}
			if got.Raw != want.Raw {
				t.Errorf("merged raw\n%+v\nthe run's\n%+v", got.Raw, want.Raw)
			}
			if got.Requests != want.Requests || got.Failed != want.Failed || got.Errored != want.Errored ||
				got.Dropped != want.Dropped || got.Interrupted != want.Interrupted || got.Errors != want.Errors ||
				!reflect.DeepEqual(got.Status, want.Status) || got.BytesOut != want.BytesOut {
				t.Errorf("merged counts %+v\nthe run's %+v", got, want)
			}
			if want.Errors.HTTP5xx == 0 {
				t.Error("the fixture's 503s are missing")
			}
			if tc.exec.Kind.Open() {
				var sent, due int64
				for _, iv := range ivs {
					sent += iv.Sent
					due += iv.Due
				}
				if sent != last.Delivery.Sent || due != last.Delivery.Due {
					t.Errorf("intervals sent %d due %d, the run %d and %d", sent, due, last.Delivery.Sent, last.Delivery.Due)
				}
				if ivs[0].TargetRate != 100 {
					t.Errorf("target rate %g", ivs[0].TargetRate)
				}
				for _, iv := range ivs {
					if iv.MaxVUs != last.MaxVUs || iv.MaxVUs < 1 {
						t.Errorf("interval %d: VU cap %d, the run's %d", iv.Index, iv.MaxVUs, last.MaxVUs)
					}
				}
			} else if ivs[0].MaxVUs != 0 {
				t.Errorf("closed model: interval VU cap %d, want none", ivs[0].MaxVUs)
			}
			// The threshold fails from the first interval on: it is
			// written once, and the last state written is the run's.
			if len(ivs[0].Thresholds) != 1 {
				t.Fatalf("first interval's thresholds: %+v", ivs[0].Thresholds)
			}
			var lastTh IntervalThreshold
			for _, iv := range ivs {
				if len(iv.Thresholds) > 0 {
					lastTh = iv.Thresholds[0]
				}
			}
			if fin := last.Thresholds[0]; lastTh.Pass != fin.Pass || lastTh.HasSamples != fin.HasSamples {
				t.Errorf("last threshold state %+v, the run's %+v", lastTh, fin)
			}
		})
	}
}

// Any window of whole intervals merges to what the ring reports for it.
func TestIntervalWindowMatchesTheRing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()
	ivs, last := collectIntervals(t, Config{
		Executor:  Executor{Kind: ConstantArrivalRate, Rate: 200, Duration: 6 * time.Second, PreAllocatedVUs: 4, MaxVUs: 20},
		Requests:  []Request{{URL: srv.URL}},
		Intervals: time.Second, Window: 3 * time.Second, Clock: scaledClock{start: time.Now(), speed: 3},
	})
	got, err := MergeIntervals(ivs[len(ivs)-3:])
	if err != nil {
		t.Fatal(err)
	}
	if got.Latency != last.Window.Latency || got.Requests != last.Window.Requests {
		t.Errorf("last 3 intervals %+v %d\nthe ring's window %+v %d", got.Latency, got.Requests, last.Window.Latency, last.Window.Requests)
	}
}

func TestIntervalLength(t *testing.T) {
	for _, tc := range []struct {
		planned, want time.Duration
	}{
		{time.Minute, time.Second},
		{LongRun, time.Second},
		{LongRun + time.Second, LongRunInterval},
		{0, LongRunInterval},
	} {
		if got := IntervalLength(tc.planned); got != tc.want {
			t.Errorf("IntervalLength(%s) = %s, want %s", tc.planned, got, tc.want)
		}
	}
}

func TestDecodeHistogramRefusesOtherGeometries(t *testing.T) {
	other := hdr.New(1, 1000, 2)
	_ = other.RecordValue(5)
	enc, err := other.EncodeV2()
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{string(enc), "not base64", ""} {
		if _, err := DecodeHistogram(in); err == nil || !strings.Contains(err.Error(), "not a loader latency histogram") {
			t.Errorf("DecodeHistogram(%.12q) = %v", in, err)
		}
	}
	if err := (Config{Executor: Executor{Kind: ConstantVUs, VUs: 1, Duration: time.Second}, Requests: []Request{{URL: "http://127.0.0.1:1"}},
		Intervals: 1500 * time.Millisecond}).Validate(); err == nil {
		t.Error("an interval of 1.5s was accepted")
	}
}
