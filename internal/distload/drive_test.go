package distload

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/threshold"
)

// driveRig is a run's coordinator on a fake clientset holding its
// ConfigMap (the controls the driver writes), and what the driver said.
type driveRig struct {
	c    *Coordinator
	said []string
}

func newDriveRig(t *testing.T) *driveRig {
	t.Helper()
	spec := Spec{Name: "cockpit-load-test", Namespace: "lt", Image: "cockpit:dev", Workers: 3, Planned: 10 * time.Second}
	objs, err := Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(fake.NewClientset(objs.ConfigMap), spec)
	if err != nil {
		t.Fatal(err)
	}
	return &driveRig{c: c}
}

// control is the run's ConfigMap data key.
func (r *driveRig) control(t *testing.T, key string) string {
	t.Helper()
	cm, err := r.c.cs.CoreV1().ConfigMaps("lt").Get(context.Background(), "cockpit-load-test", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm.Data[key]
}

func (r *driveRig) say(format string, args ...any) {
	r.said = append(r.said, fmt.Sprintf(format, args...))
}

// interval is a merged one-second interval i of n requests at 1 ms.
func interval(t *testing.T, i int, n int64) loader.MergedInterval {
	t.Helper()
	h := loader.NewHistogram()
	for range n {
		if err := h.RecordValue(1000); err != nil {
			t.Fatal(err)
		}
	}
	enc, err := loader.EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	return loader.MergedInterval{Interval: loader.Interval{Index: i, Start: time.Duration(i) * time.Second,
		End: time.Duration(i+1) * time.Second, Latency: enc, Requests: n}, Workers: 3, Merged: 3}
}

// status is 3 workers of which lost are lost.
func status(lost int) loader.MergeStatus {
	return loader.MergeStatus{Workers: 3, Reporting: 3 - lost, Lost: lost}
}

// The driver takes a snapshot only when intervals were merged (and on
// the first and last update), stops the workers on an abortOnFail
// threshold, aborts them below MinWorkers — a run that did not complete:
// ReasonStopped — names the minimum as its caller does, and counts the
// intervals merged.
func TestDriverDrive(t *testing.T) {
	failFast, err := threshold.ParseLine("http_reqs: count<15, abortOnFail")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		opts       DriveOptions
		stop       bool // the operator stops the run first
		updates    func(t *testing.T) []Update
		snapshots  int
		intervals  int
		reason     loader.StopReason
		belowMin   string
		stopKey    string // the ConfigMap's stop and abort keys at the end
		abortKey   string
		said, not  string
		incomplete int
	}{
		{name: "snapshots only with merged intervals", updates: func(t *testing.T) []Update {
			return []Update{{Status: status(0)}, {Status: status(0)}, {Status: status(0)},
				{Intervals: []loader.MergedInterval{interval(t, 0, 5), interval(t, 1, 5)}, Status: status(0)},
				{Status: status(0)}, {Intervals: []loader.MergedInterval{interval(t, 2, 5)}, Status: status(0)},
				{Status: status(0), Done: true}}
		}, snapshots: 4, intervals: 3, reason: loader.ReasonDuration},
		{name: "too few workers left aborts them", opts: DriveOptions{MinWorkers: 3, BelowMinWords: func(min, left int, st loader.MergeStatus) string {
			return fmt.Sprintf("--min-workers %d: %d of %d workers left (%s)", min, left, st.Workers, st)
		}},
			updates: func(t *testing.T) []Update {
				iv := interval(t, 1, 5)
				iv.Missing = []int{1}
				return []Update{{Intervals: []loader.MergedInterval{interval(t, 0, 5)}, Status: status(0)},
					{Notes: []string{"worker 1 lost: pod x deleted"}, Intervals: []loader.MergedInterval{iv}, Status: status(1)},
					{Status: status(1), Done: true}}
			}, snapshots: 3, intervals: 2, incomplete: 1, reason: loader.ReasonStopped,
			belowMin: "--min-workers 3: 2 of 3 workers left (", abortKey: "true",
			said: "--min-workers 3: 2 of 3 workers left (2 of 3 workers reporting"},
		{name: "the minimum worded by default, as a runbook names it", opts: DriveOptions{MinWorkers: 3},
			updates: func(t *testing.T) []Update {
				return []Update{{Status: status(1), Done: true}}
			}, snapshots: 1, reason: loader.ReasonStopped, belowMin: "2 of 3 workers left, fewer than minWorkers 3: ", abortKey: "true"},
		{name: "an abortOnFail threshold stops the workers; too few later does not abort them",
			opts: DriveOptions{Thresholds: []threshold.Threshold{failFast}, MinWorkers: 3},
			updates: func(t *testing.T) []Update {
				return []Update{{Intervals: []loader.MergedInterval{interval(t, 0, 10), interval(t, 1, 10)}, Status: status(0)},
					{Status: status(1)}, {Status: status(1), Done: true}}
			}, snapshots: 2, intervals: 2, reason: loader.ReasonThreshold, belowMin: "2 of 3 workers left, fewer than minWorkers 3", stopKey: "true",
			said: "the workers were already told to stop", not: "aborting every worker"},
		{name: "the operator's stop", stop: true, updates: func(t *testing.T) []Update {
			return []Update{{Intervals: []loader.MergedInterval{interval(t, 0, 5)}, Status: status(0)}, {Status: status(0), Done: true}}
		}, snapshots: 2, intervals: 1, reason: loader.ReasonStopped, stopKey: "true"},
		{name: "iterations", opts: DriveOptions{Iterations: 10}, updates: func(t *testing.T) []Update {
			return []Update{{Intervals: []loader.MergedInterval{interval(t, 0, 10)}, Status: status(0), Done: true}}
		}, snapshots: 1, intervals: 1, reason: loader.ReasonIterations},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newDriveRig(t)
			var snaps []loader.Snapshot
			opts := tt.opts
			opts.Executor, opts.Planned, opts.Say = loader.ConstantArrivalRate, 10*time.Second, r.say
			opts.OnUpdate = func(s loader.Snapshot, _ loader.MergeStatus, _ []loader.MergedInterval) { snaps = append(snaps, s) }
			d := NewDriver(r.c, opts)
			if tt.stop {
				if err := d.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			ups := tt.updates(t)
			ch := make(chan Update, len(ups))
			for _, u := range ups {
				ch <- u
			}
			close(ch)
			out, err := d.drive(context.Background(), ch)
			if err != nil {
				t.Fatal(err)
			}
			if len(snaps) != tt.snapshots || !snaps[len(snaps)-1].Done {
				t.Errorf("%d snapshots (the last Done: %v), want %d", len(snaps), len(snaps) > 0 && snaps[len(snaps)-1].Done, tt.snapshots)
			}
			if out.Intervals != tt.intervals || out.Incomplete != tt.incomplete {
				t.Errorf("intervals %d (%d incomplete), want %d (%d)", out.Intervals, out.Incomplete, tt.intervals, tt.incomplete)
			}
			if !out.Last.Done || out.Last.Reason != tt.reason {
				t.Errorf("last: done %v, reason %s; want %s", out.Last.Done, out.Last.Reason, tt.reason)
			}
			if !strings.HasPrefix(out.BelowMin, tt.belowMin) || (tt.belowMin == "") != (out.BelowMin == "") {
				t.Errorf("BelowMin %q, want %q…", out.BelowMin, tt.belowMin)
			}
			if got := r.control(t, KeyStop); got != tt.stopKey {
				t.Errorf("stop key %q, want %q", got, tt.stopKey)
			}
			if got := r.control(t, KeyAbort); got != tt.abortKey {
				t.Errorf("abort key %q, want %q", got, tt.abortKey)
			}
			said := strings.Join(r.said, "\n")
			if !strings.Contains(said, tt.said) || (tt.not != "" && strings.Contains(said, tt.not)) {
				t.Errorf("said:\n%s\nwant %q, not %q", said, tt.said, tt.not)
			}
		})
	}
}

// A run cut short by its context aborts the workers and returns what it
// merged so far, ReasonCancelled, and the context's error.
func TestDriverCancelled(t *testing.T) {
	r := newDriveRig(t)
	ctx, cancel := context.WithCancel(context.Background())
	d := NewDriver(r.c, DriveOptions{Executor: loader.ConstantVUs, Planned: 10 * time.Second, Say: r.say})
	ch := make(chan Update, 2)
	ch <- Update{Intervals: []loader.MergedInterval{interval(t, 0, 5)}, Status: status(0)}
	cancel()
	ch <- Update{Status: status(0), Done: true, Err: ctx.Err()}
	close(ch)
	out, err := d.drive(ctx, ch)
	if !errors.Is(err, context.Canceled) || out.Last.Reason != loader.ReasonCancelled || out.Last.Total.Requests != 5 {
		t.Errorf("err %v, reason %s, %d requests; want context.Canceled, cancelled, 5", err, out.Last.Reason, out.Last.Total.Requests)
	}
	if got := r.control(t, KeyAbort); got != "true" {
		t.Errorf("abort key %q, want true", got)
	}
}

// A merge that fails aborts the workers and ends the run with its error.
func TestDriverMergeFails(t *testing.T) {
	r := newDriveRig(t)
	d := NewDriver(r.c, DriveOptions{Executor: loader.ConstantVUs, Planned: 10 * time.Second, Say: r.say})
	ch := make(chan Update, 1)
	ch <- Update{Status: status(0), Err: errors.New("worker 2: interval 3 twice")}
	close(ch)
	_, err := d.drive(context.Background(), ch)
	if err == nil || !strings.Contains(err.Error(), "merge: worker 2: interval 3 twice") {
		t.Errorf("err %v", err)
	}
	if got := r.control(t, KeyAbort); got != "true" {
		t.Errorf("abort key %q, want true", got)
	}
}
