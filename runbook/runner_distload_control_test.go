package runbook

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cockpit-dev/cockpit/internal/distload"
	"github.com/cockpit-dev/cockpit/loader"
)

// TestControlLoadReachesTheWorkersConfigMap: the operator's load controls
// of a distributed step — the cockpit's keys, through the engine's
// ControlLoad — are written to the run's ConfigMap on a real API server,
// the keys the workers watch; the runner says a load test runs for the
// step (the cockpit enables its keys on it) only while it does; and the
// snapshots the cockpit gets carry the pause and the VUs set, so its keys
// toggle and scale from the run's state.
func TestControlLoadReachesTheWorkersConfigMap(t *testing.T) {
	rb, r, cp, ns := distEnvtest(t)
	st := &rb.Phases[0].Steps[0]
	name := distload.NewName()
	coord, _, err := r.distCoordinator(rb, st, name)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := coord.Create(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = coord.Cleanup(context.Background(), DefaultLoadCleanupTimeout) })
	results := make(chan Event, 8)
	// control applies cl as the runner does, waits for its patch, and
	// returns whether the distributed run took it and what failed.
	control := func(cl ControlLoad) (taken bool, failed []LoadControlFailed) {
		t.Helper()
		var wg sync.WaitGroup
		taken = r.controlDistributed(ctx, &wg, cl, results)
		wg.Wait()
		for len(results) > 0 {
			ev := <-results
			f, ok := ev.(LoadControlFailed)
			if !ok {
				t.Fatalf("%s: the runner sent %T", cl.Op, ev)
			}
			failed = append(failed, f)
		}
		return taken, failed
	}
	if taken, _ := control(ControlLoad{Step: "load", Op: LoadPause}); r.LoadRunning("load") || taken {
		t.Fatal("a load test runs before its driver is registered")
	}
	r.dists = map[string]*distload.Driver{"load": distload.NewDriver(coord, distload.DriveOptions{})}
	if !r.LoadRunning("load") {
		t.Fatal("LoadRunning is false while the step's distributed run goes")
	}
	read := func() distload.Control {
		t.Helper()
		cm, err := cp.Typed.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := distload.ParseControl(cm.Data)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		op    string
		value float64
		want  func(distload.Control) bool
	}{
		{LoadPause, 0, func(c distload.Control) bool { return c.Paused }},
		{LoadResume, 0, func(c distload.Control) bool { return !c.Paused }},
		{LoadRate, 150, func(c distload.Control) bool { return c.Rate == 150 }},
		{LoadVUs, 7, func(c distload.Control) bool { return c.VUs == 7 }},
		{LoadStop, 0, func(c distload.Control) bool { return c.Stop && !c.Abort }},
	}
	for _, tt := range tests {
		taken, failed := control(ControlLoad{Step: "load", Op: tt.op, Value: tt.value})
		if !taken {
			t.Fatalf("%s: not taken as the distributed run's", tt.op)
		}
		if len(failed) > 0 {
			t.Errorf("%s: said to have failed: %+v", tt.op, failed)
		}
		if c := read(); !tt.want(c) {
			t.Errorf("after %s %v the ConfigMap holds %+v", tt.op, tt.value, c)
		}
		if c, set := read(), coord.Controls(); c.Paused != set.Paused || c.Rate != set.Rate || c.VUs != set.VUs || c.Stop != set.Stop {
			t.Errorf("after %s the coordinator's Controls %+v differ from the ConfigMap's %+v", tt.op, set, c)
		}
	}
	if err := coord.SetPaused(ctx, true); err != nil {
		t.Fatal(err)
	}
	closed := withControls(loader.Snapshot{Executor: loader.ConstantVUs, VUs: 4}, coord.Controls())
	if !closed.Paused || closed.TargetVUs != 7 {
		t.Errorf("closed snapshot: paused %v, target VUs %d; want paused, 7", closed.Paused, closed.TargetVUs)
	}
	open := withControls(loader.Snapshot{Executor: loader.ConstantArrivalRate}, coord.Controls())
	if open.MaxVUs != 7 || open.TargetVUs != 0 {
		t.Errorf("open snapshot: max VUs %d, target VUs %d; want 7, 0", open.MaxVUs, open.TargetVUs)
	}
	if s := withControls(loader.Snapshot{Executor: loader.ConstantVUs, VUs: 4}, distload.Control{}); s.Paused || s.TargetVUs != 4 {
		t.Errorf("closed snapshot without controls set: paused %v, target VUs %d; want not paused, the 4 alive", s.Paused, s.TargetVUs)
	}
	// A control that cannot reach the workers is told, in the API
	// server's words, not lost: here the run's ConfigMap is gone.
	if err := cp.Typed.CoreV1().ConfigMaps(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	_, failed := control(ControlLoad{Step: "load", Op: LoadRate, Value: 90})
	want := fmt.Sprintf("configmaps %q not found", name)
	if len(failed) != 1 || failed[0].Op != LoadRate || failed[0].Value != 90 || !strings.Contains(failed[0].Error, want) {
		t.Errorf("rate 90 with the ConfigMap deleted: failures %+v, want one for rate 90 saying %s", failed, want)
	}
}
