package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/cockpit-dev/cockpit/internal/distload"
	"github.com/cockpit-dev/cockpit/internal/realcluster"
	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
)

// drivenRun is a distributed run driven in the test's process by a
// distload.Driver — what `cockpit load --workers` and the runbook runner
// drive — with everything the coordinator sees recorded: the merged
// intervals (OnUpdate) and each worker's own intervals (its stream lines).
type drivenRun struct {
	coord  *distload.Coordinator
	driver *distload.Driver
	whole  distload.Control // the test as the workers read it
	done   chan struct{}
	out    distload.Outcome
	err    error

	mu     sync.Mutex
	merged []loader.MergedInterval
	each   map[int]map[int]loader.Interval // worker → interval index → its interval
	said   []string
}

// startDriven creates a run of workers workers running args (as the
// workers' ConfigMap holds them) and drives it in the background until its
// end, or until the test ends: then it is aborted, and everything it
// created deleted.
func startDriven(t *testing.T, c *realcluster.Cluster, ns, image string, workers int, args []string) *drivenRun {
	t.Helper()
	ctl := distload.Control{Args: args, Workers: workers}
	whole, err := workerConfigWhole(ctl)
	if err != nil {
		t.Fatal(err)
	}
	spec := distload.Spec{Name: distload.NewName(), Namespace: ns, Image: image, PullPolicy: corev1.PullNever,
		Workers: workers, Args: args, Planned: plannedDuration(whole.Executor), StartTimeout: time.Minute,
		Grace: whole.Executor.GracefulStop}
	coord, err := distload.New(c.Typed, spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &drivenRun{coord: coord, whole: ctl, done: make(chan struct{}), each: map[int]map[int]loader.Interval{}}
	t.Cleanup(func() {
		cancel()
		<-r.done
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer ccancel()
		if err := coord.Cleanup(cctx, time.Minute); err != nil {
			t.Errorf("cleanup of %s: %v", spec.Name, err)
		}
		if t.Failed() {
			t.Logf("run %s: the coordinator said:\n\t%s", spec.Name, strings.Join(r.said, "\n\t"))
		}
	})
	if err := coord.Create(ctx); err != nil {
		close(r.done)
		t.Fatal(err)
	}
	r.driver = distload.NewDriver(coord, distload.DriveOptions{Executor: whole.Executor.Kind, Planned: spec.Planned,
		Iterations: whole.Executor.Iterations, Window: 10 * time.Second, StartTimeout: spec.StartTimeout,
		Say: func(format string, args ...any) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.said = append(r.said, fmt.Sprintf(format, args...))
		},
		OnUpdate: func(_ loader.Snapshot, _ loader.MergeStatus, ivs []loader.MergedInterval) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.merged = append(r.merged, ivs...)
		},
		Logs: func(w int, line []byte) {
			l, ok, err := loader.DecodeWorkerLine(line)
			if !ok || err != nil || l.Interval == nil {
				return
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.each[w] == nil {
				r.each[w] = map[int]loader.Interval{}
			}
			r.each[w][l.Interval.Index] = *l.Interval
		}})
	go func() {
		defer close(r.done)
		r.out, r.err = r.driver.Run(ctx)
	}()
	return r
}

// mergedSince returns the merged intervals of index from on, and each
// worker's own intervals by index.
func (r *drivenRun) mergedSince(from int) ([]loader.MergedInterval, map[int]map[int]loader.Interval) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []loader.MergedInterval
	for _, m := range r.merged {
		if m.Index >= from {
			out = append(out, m)
		}
	}
	each := map[int]map[int]loader.Interval{}
	for w, ivs := range r.each {
		each[w] = map[int]loader.Interval{}
		for i, iv := range ivs {
			each[w][i] = iv
		}
	}
	return out, each
}

// next is the index of the next merged interval.
func (r *drivenRun) next() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.merged) == 0 {
		return 0
	}
	return r.merged[len(r.merged)-1].Index + 1
}

// waitMerged waits until cond holds of the merged intervals of index from
// on; the run ending first fails the test.
func (r *drivenRun) waitMerged(t *testing.T, ctx context.Context, what string, from int,
	cond func(ms []loader.MergedInterval, each map[int]map[int]loader.Interval) error) ([]loader.MergedInterval, map[int]map[int]loader.Interval) {
	t.Helper()
	var ms []loader.MergedInterval
	var each map[int]map[int]loader.Interval
	ended := false
	err := realclusterWait(ctx, what, func() error {
		ms, each = r.mergedSince(from)
		err := cond(ms, each)
		if err == nil {
			return nil
		}
		select {
		case <-r.done:
			ended = true
			return nil
		default:
		}
		return err
	})
	switch {
	case err != nil:
		t.Fatalf("%v\nmerged intervals from %d: %s", err, from, describeMerged(ms))
	case ended:
		t.Fatalf("waiting for %s: the run ended first (%v, %s)\nmerged intervals from %d: %s", what, r.err, r.out.Status, from, describeMerged(ms))
	}
	return ms, each
}

// describeMerged is the merged intervals in a few words each, for failures.
func describeMerged(ms []loader.MergedInterval) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "\n\t#%d %d/%d merged, missing %v: sent %d, target %g/s, %d VUs, span %s",
			m.Index, m.Merged, m.Workers, m.Missing, m.Sent, m.TargetRate, m.VUs, m.Span())
	}
	return b.String()
}

// part is worker w's part of the test args give, as Segment splits it.
func part(t *testing.T, args []string, w, workers int) loader.Executor {
	t.Helper()
	cfg, err := workerConfig(distload.Control{Args: args, Workers: workers}, w)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Executor
}

// TestDistributedLoadControlsOnRealCluster: the controls of a running
// distributed test — the calls the cockpit's keys make through the
// runbook runner (pause, resume, rate, VUs) — go through the run's
// ConfigMap to every worker, and the merged stream the coordinator sees
// follows them: paused, every worker sends nothing; resumed, every worker
// sends again; a new whole-run rate is the merged target rate and
// delivered rate, each worker holding exactly its Segment part; a new
// whole-run VU count in a closed model is the merged active VUs, each
// worker its Segment part.
func TestDistributedLoadControlsOnRealCluster(t *testing.T) {
	c := realcluster.Start(t)
	ns := c.Namespace(t)
	image := workerImage(t, c)
	deployGravl(t, c, ns)
	url := fmt.Sprintf("http://gravl.%s.svc.cluster.local:8080/", ns)
	const workers = 3

	t.Run("open model: pause, resume, rate", func(t *testing.T) {
		t.Parallel()
		args := []string{"--rate=60", "--duration=40s", "--", url}
		r := startDriven(t, c, ns, image, workers, args)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		// Running: every worker sends its part.
		r.waitMerged(t, ctx, "two complete intervals with every worker sending", 0, func(ms []loader.MergedInterval, each map[int]map[int]loader.Interval) error {
			n := 0
			for _, m := range ms {
				if m.Complete() && m.Merged == workers && m.Sent > 0 {
					n++
				}
			}
			if n < 2 {
				return fmt.Errorf("%d such intervals", n)
			}
			return nil
		})

		// Paused: the merged sent count is 0, and so is each worker's.
		if err := r.coord.SetPaused(ctx, true); err != nil {
			t.Fatal(err)
		}
		paused := time.Now()
		from := r.next()
		ms, each := r.waitMerged(t, ctx, "two complete intervals in a row with nothing sent", from, func(ms []loader.MergedInterval, _ map[int]map[int]loader.Interval) error {
			for i := 1; i < len(ms); i++ {
				if ms[i-1].Sent == 0 && ms[i].Sent == 0 && ms[i-1].Complete() && ms[i].Complete() && ms[i].Index == ms[i-1].Index+1 {
					return nil
				}
			}
			return errors.New("not yet")
		})
		firstZero := -1
		for _, m := range ms {
			if m.Sent == 0 && firstZero < 0 {
				firstZero = m.Index
			}
		}
		t.Logf("paused: nothing sent from interval %d, %s after the pause was set", firstZero, time.Since(paused).Round(100*time.Millisecond))
		for _, m := range ms {
			if m.Index < firstZero {
				continue
			}
			for w := range workers {
				iv, ok := each[w][m.Index]
				if !ok || iv.Sent != 0 {
					t.Errorf("interval %d, paused: worker %d sent %d (reported %v)", m.Index, w, iv.Sent, ok)
				}
			}
		}

		// Resumed: every worker sends again.
		if err := r.coord.SetPaused(ctx, false); err != nil {
			t.Fatal(err)
		}
		resumedFrom := r.next()
		ms, _ = r.waitMerged(t, ctx, "a complete interval with every worker sending again", resumedFrom, func(ms []loader.MergedInterval, each map[int]map[int]loader.Interval) error {
			for _, m := range ms {
				all := m.Complete()
				for w := range workers {
					all = all && each[w][m.Index].Sent > 0
				}
				if all {
					return nil
				}
			}
			return errors.New("not yet")
		})
		all, _ := r.mergedSince(firstZero)
		for _, m := range all {
			if m.Index < resumedFrom && m.Sent != 0 {
				t.Errorf("interval %d sent %d while paused (before the resume)", m.Index, m.Sent)
			}
		}
		t.Logf("resumed: every worker sending again by interval %d", ms[len(ms)-1].Index)

		// A new whole-run rate: the merged target rate is it, each worker
		// holds its Segment part, and what is delivered follows.
		const rate = 100 // over 3 workers: 33, 33, 34
		if err := r.coord.SetRate(ctx, rate); err != nil {
			t.Fatal(err)
		}
		newArgs := []string{fmt.Sprintf("--rate=%d", rate), "--duration=40s", "--", url}
		rateFrom := r.next()
		ms, each = r.waitMerged(t, ctx, "three complete intervals at the new target rate", rateFrom, func(ms []loader.MergedInterval, _ map[int]map[int]loader.Interval) error {
			n := 0
			for _, m := range ms {
				if m.TargetRate == rate && m.Complete() {
					n++
				}
			}
			if n < 3 {
				return fmt.Errorf("%d", n)
			}
			return nil
		})
		at := 0 // intervals at the new rate seen
		for _, m := range ms {
			if m.TargetRate != rate {
				continue
			}
			at++
			for w := range workers {
				want := part(t, newArgs, w, workers).Rate
				if got := each[w][m.Index].TargetRate; got != want {
					t.Errorf("interval %d: worker %d's target rate %g/s, want its Segment part %g/s of %d/s", m.Index, w, got, want, rate)
				}
			}
			if at == 1 {
				continue // the change came within it: part of it ran at the old rate
			}
			// Each worker's schedule sends its rate over a span, one
			// iteration more or less at the span's edges.
			due := float64(rate) * m.Span().Seconds()
			if d := math.Abs(float64(m.Sent) - due); d > workers {
				t.Errorf("interval %d: delivered %d in %s (%.1f/s), want %.1f ± %d at %d/s", m.Index, m.Sent, m.Span(), m.DeliveredRate(), due, workers, rate)
			}
			t.Logf("interval %d: target %g/s, delivered %d in %s (%.2f/s); workers %g, %g, %g/s", m.Index, m.TargetRate, m.Sent,
				m.Span(), m.DeliveredRate(), each[0][m.Index].TargetRate, each[1][m.Index].TargetRate, each[2][m.Index].TargetRate)
		}
		if err := r.driver.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		<-r.done
		if r.err != nil || r.out.Status.Lost > 0 {
			t.Errorf("the run ended with %v, %s", r.err, r.out.Status)
		}
	})

	t.Run("the cockpit's keys: through the runbook runner", func(t *testing.T) {
		t.Parallel()
		// The TUI's route, short of the key presses: its LoadController
		// (journaledLoad) sends the engine a LoadControl, journaled, which
		// the runner applies to the step's coordinator.
		rb, err := parseRunbook(distRunbook(t, ns, image, workers, 60, 40, ""), nil)
		if err != nil {
			t.Fatal(err)
		}
		journal := filepath.Join(t.TempDir(), "journal.jsonl")
		sess, err := openJournal(rb, journal, false, "ci", true)
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Journal.Close()
		pilot, err := runbook.NewAutopilot(rb, runbook.AutopilotOptions{Operator: "ci", ConfirmActions: true, AllowActions: true})
		if err != nil {
			t.Fatal(err)
		}
		kc := probes.NewKubeClusters(probes.KubeconfigOptions{Path: c.Kubeconfig})
		defer kc.Close()
		var mu sync.Mutex
		var pausedSeen, resumedSeen bool
		r := &runbook.Runner{Journal: sess.Journal, Env: probes.Env{Kube: kc.Cluster}, Operator: "ci", WorkerImage: image,
			Autopilot: pilot, AllowActions: true, OnLoad: func(step string, snap loader.Snapshot) {
				mu.Lock()
				defer mu.Unlock()
				pausedSeen = pausedSeen || snap.Paused
				resumedSeen = resumedSeen || (pausedSeen && !snap.Paused)
			}}
		ops := make(chan runbook.Event)
		runDone := make(chan struct{})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		var final runbook.State
		var runErr error
		go func() {
			defer close(runDone)
			final, runErr = r.Run(ctx, sess.State, sess.Pending, ops)
		}()
		defer func() {
			cancel()
			<-runDone
		}()
		// waitJournal waits until cond holds of the step's journaled
		// intervals.
		waitJournal := func(what string, cond func(ivs []runbook.LoadInterval) bool) []runbook.LoadInterval {
			t.Helper()
			var ivs []runbook.LoadInterval
			if err := realclusterWait(ctx, what, func() error {
				select {
				case <-runDone:
					return nil
				default:
				}
				ivs = journaled[runbook.LoadInterval](journalEvents(journal))
				if !cond(ivs) {
					return errors.New("not yet")
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			select {
			case <-runDone:
				t.Fatalf("waiting for %s: the run ended first (%v, %s)", what, runErr, final.Outcome)
			default:
			}
			return ivs
		}
		complete := func(iv runbook.LoadInterval) bool { return iv.Merged == workers && len(iv.Missing) == 0 }
		waitJournal("two complete intervals", func(ivs []runbook.LoadInterval) bool {
			n := 0
			for _, iv := range ivs {
				if complete(iv) && iv.Interval.Sent > 0 {
					n++
				}
			}
			return n >= 2
		})
		if !r.LoadRunning("peak") {
			t.Fatal("the runner says no load test runs for the step: the cockpit's keys would be off")
		}
		keys := journaledLoad{step: "peak", operator: "ci", ops: ops, done: runDone}
		if err := keys.Pause(); err != nil {
			t.Fatal(err)
		}
		ivs := waitJournal("two complete intervals in a row with nothing sent", func(ivs []runbook.LoadInterval) bool {
			for i := 1; i < len(ivs); i++ {
				if complete(ivs[i-1]) && complete(ivs[i]) && ivs[i-1].Interval.Sent == 0 && ivs[i].Interval.Sent == 0 {
					return true
				}
			}
			return false
		})
		resumeFrom := ivs[len(ivs)-1].Interval.Index + 1
		if err := keys.Resume(); err != nil {
			t.Fatal(err)
		}
		waitJournal("a complete interval sending again", func(ivs []runbook.LoadInterval) bool {
			for _, iv := range ivs {
				if iv.Interval.Index >= resumeFrom && complete(iv) && iv.Interval.Sent > 0 {
					return true
				}
			}
			return false
		})
		if err := keys.SetRate(90); err != nil {
			t.Fatal(err)
		}
		ivs = waitJournal("two complete intervals at 90/s", func(ivs []runbook.LoadInterval) bool {
			n := 0
			for _, iv := range ivs {
				if complete(iv) && iv.Interval.TargetRate == 90 {
					n++
				}
			}
			return n >= 2
		})
		last := ivs[len(ivs)-1].Interval
		t.Logf("journaled interval %d: target %g/s, sent %d in %s", last.Index, last.TargetRate, last.Sent, last.Span())
		keys.Stop()
		select {
		case <-runDone:
		case <-ctx.Done():
			t.Fatal("the run did not end after the stop key")
		}
		if runErr != nil {
			t.Fatal(runErr)
		}
		evs := journalEvents(journal)
		// Stopped by the key, the step fails as a local one does: the
		// thresholds judged only the part that ran.
		if res := journaled[runbook.LoadResult](evs); len(res) != 1 || !strings.Contains(res[0].Result.Message, "stopped by the operator") {
			t.Errorf("load results %+v: want one, stopped by the operator", res)
		}
		var ctls []string
		for _, lc := range journaled[runbook.LoadControl](evs) {
			ctls = append(ctls, lc.Op)
		}
		if want := []string{runbook.LoadPause, runbook.LoadResume, runbook.LoadRate, runbook.LoadStop}; !slices.Equal(ctls, want) {
			t.Errorf("journaled load controls %v, want %v", ctls, want)
		}
		mu.Lock()
		defer mu.Unlock()
		if !pausedSeen || !resumedSeen {
			t.Errorf("the cockpit's snapshots: paused seen %v, resumed after %v — its pause key would not toggle", pausedSeen, resumedSeen)
		}
		t.Logf("run %s: %s", final.Outcome, final.Reason)
	})

	t.Run("closed model: VUs", func(t *testing.T) {
		t.Parallel()
		args := []string{"--vus=3", "--think-time=100ms", "--duration=40s", "--", url}
		r := startDriven(t, c, ns, image, workers, args)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		r.waitMerged(t, ctx, "a complete interval with the test's 3 VUs", 0, func(ms []loader.MergedInterval, _ map[int]map[int]loader.Interval) error {
			for _, m := range ms {
				if m.Complete() && m.VUs == 3 {
					return nil
				}
			}
			return errors.New("not yet")
		})
		const vus = 7 // over 3 workers: 2, 2, 3
		if err := r.coord.SetVUs(ctx, vus); err != nil {
			t.Fatal(err)
		}
		newArgs := []string{fmt.Sprintf("--vus=%d", vus), "--think-time=100ms", "--duration=40s", "--", url}
		from := r.next()
		ms, each := r.waitMerged(t, ctx, "two complete intervals in a row at the new VUs", from, func(ms []loader.MergedInterval, _ map[int]map[int]loader.Interval) error {
			for i := 1; i < len(ms); i++ {
				if ms[i-1].VUs == vus && ms[i].VUs == vus && ms[i-1].Complete() && ms[i].Complete() {
					return nil
				}
			}
			return errors.New("not yet")
		})
		for _, m := range ms {
			if m.VUs != vus {
				continue
			}
			for w := range workers {
				if got, want := each[w][m.Index].VUs, part(t, newArgs, w, workers).VUs; got != want {
					t.Errorf("interval %d: worker %d has %d VUs, want its Segment part %d of %d", m.Index, w, got, want, vus)
				}
			}
		}
		last := ms[len(ms)-1]
		t.Logf("interval %d: %d VUs merged (workers %d, %d, %d), %d requests", last.Index, last.VUs,
			each[0][last.Index].VUs, each[1][last.Index].VUs, each[2][last.Index].VUs, last.Requests)
		if err := r.driver.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		<-r.done
		if r.err != nil || r.out.Status.Lost > 0 {
			t.Errorf("the run ended with %v, %s", r.err, r.out.Status)
		}
	})
}
