package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strconv"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/cockpit-dev/cockpit/internal/distload"
	"github.com/cockpit-dev/cockpit/internal/kube"
	"github.com/cockpit-dev/cockpit/loader"
)

// newLoadWorkerCmd is `cockpit load-worker`, the internal subcommand the
// pods of a distributed run (`cockpit load --workers N`) run. It is not
// for people: it reads its test from the run's ConfigMap, through the
// pod's ServiceAccount, and reports on stdout in loader.WriteWorkerLine's
// lines, which the coordinator follows through the pod's log.
func newLoadWorkerCmd(s streams) *cobra.Command {
	var run, namespace string
	index := -1
	cmd := &cobra.Command{
		Use:    "load-worker --run NAME",
		Short:  "One worker of a distributed load run (internal: run by the run's Job)",
		Hidden: true,
		Args:   noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if run == "" {
				return invalidInputf("--run: is required")
			}
			ns := cmp.Or(namespace, os.Getenv("POD_NAMESPACE"))
			if ns == "" {
				return invalidInputf("--worker-namespace: is required (or $POD_NAMESPACE)")
			}
			i := index
			if i < 0 {
				v, err := strconv.Atoi(os.Getenv("JOB_COMPLETION_INDEX"))
				if err != nil || v < 0 {
					return invalidInputf("$JOB_COMPLETION_INDEX: want the worker's index, got %q", os.Getenv("JOB_COMPLETION_INDEX"))
				}
				i = v
			}
			cfg, err := rest.InClusterConfig()
			if err != nil {
				return fmt.Errorf("in-cluster config: %w", err)
			}
			cs, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return fmt.Errorf("in-cluster client: %w", err)
			}
			return runWorker(cmd.Context(), s.out, s.err, cs, ns, run, i)
		},
	}
	f := cmd.Flags()
	f.StringVar(&run, "run", "", "the run's name: its ConfigMap")
	f.StringVar(&namespace, "worker-namespace", "", "the run's namespace (default: $POD_NAMESPACE)")
	f.IntVar(&index, "index", -1, "the worker's index (default: $JOB_COMPLETION_INDEX)")
	return cmd
}

// lateStart is how late after the shared start a worker may still start.
const lateStart = 5 * time.Second

// errAborted is a run the coordinator aborted before it started.
var errAborted = errors.New("the run was aborted")

// workerConfig is worker index's part of the test the control holds.
func workerConfig(c distload.Control, index int) (loader.Config, error) {
	opts := &loadOptions{vars: varFlags{}}
	fs := pflag.NewFlagSet("load-worker", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	bindLoadFlags(fs, opts)
	if err := fs.Parse(c.Args); err != nil {
		return loader.Config{}, fmt.Errorf("configmap key %s: %w", distload.KeyArgs, err)
	}
	opts.noTUI = true
	cfg, err := loadConfig(opts, fs.Args(), fs.Changed("vus"))
	if err != nil {
		return loader.Config{}, fmt.Errorf("configmap key %s: %w", distload.KeyArgs, err)
	}
	cfg.Thresholds = nil // the coordinator's, on the merged data
	part, err := loader.Segment(cfg, index, c.Workers)
	if err != nil {
		return loader.Config{}, fmt.Errorf("worker %d of %d: %w", index, c.Workers, err)
	}
	return part, nil
}

// rateShare is worker index's part of a whole-run rate, split as Segment
// splits the test's.
func rateShare(whole loader.Config, rate float64, index, n int) (float64, error) {
	part, err := shareOf(whole, index, n, distload.KeyRate, func(e *loader.Executor) {
		e.Kind, e.Rate = loader.ConstantArrivalRate, rate
	})
	return part.Rate, err
}

// vusShare is worker index's part of a whole-run VU count — a closed
// model's VUs, or an open one's VU cap — split as Segment splits the
// test's VUs and maxVUs (one formula for every whole quantity).
func vusShare(whole loader.Config, vus, index, n int) (int, error) {
	part, err := shareOf(whole, index, n, distload.KeyVUs, func(e *loader.Executor) {
		e.Kind, e.VUs = loader.ConstantVUs, vus
	})
	return part.VUs, err
}

// shareOf splits one whole-run quantity as Segment splits the test: the
// test reduced to the executor set leaves (no stages, rates, VUs or
// iterations but its own), worker index's part of it. key names the
// ConfigMap key the quantity came from, in an error.
func shareOf(whole loader.Config, index, n int, key string, set func(*loader.Executor)) (loader.Executor, error) {
	c := whole
	c.Thresholds = nil
	e := &c.Executor
	e.Stages, e.Rate, e.VUs, e.PreAllocatedVUs, e.MaxVUs, e.Iterations = nil, 0, 0, 0, 0, 0
	e.Duration = max(e.Duration, time.Second)
	set(e)
	part, err := loader.Segment(c, index, n)
	if err != nil {
		return loader.Executor{}, fmt.Errorf("configmap key %s: %w", key, err)
	}
	return part.Executor, nil
}

// runWorker runs one worker: it waits for the start instant in the run's
// ConfigMap, runs its part of the test from then, writes a line per
// interval and a final line to out, and obeys the ConfigMap's controls.
// Diagnostics go to logw.
func runWorker(ctx context.Context, out, logw io.Writer, cs kubernetes.Interface, ns, name string, index int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ctls := make(chan distload.Control, 16)
	errc := make(chan error, 1)
	go watchControl(ctx, cs, ns, name, ctls, errc)
	var c distload.Control
	for c.Start.IsZero() {
		select {
		case c = <-ctls:
			if c.Abort {
				return errAborted
			}
		case err := <-errc:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if late := time.Since(c.Start); late > lateStart {
		// A pod started again after the run began (the Job replacing a
		// lost one) would be out of step with the others' intervals.
		return fmt.Errorf("worker %d: the run started %s ago without it", index, late.Round(time.Second))
	}
	cfg, err := workerConfig(c, index)
	if err != nil {
		return err
	}
	whole, _ := workerConfigWhole(c)
	fmt.Fprintf(logw, "worker %d of %d: starting at %s\n", index, c.Workers, distload.FormatStart(c.Start))
	if wait := time.Until(c.Start); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	runCtx, hardStop := context.WithCancel(ctx)
	defer hardStop()
	snaps, ctl, err := loader.Run(runCtx, cfg)
	if err != nil {
		return fmt.Errorf("worker %d: %w", index, err)
	}
	var tot workerTotal
	line := func(iv loader.Interval) error {
		tot.add(iv)
		return loader.WriteWorkerLine(out, loader.WorkerLine{Worker: index, Workers: c.Workers, Interval: &iv})
	}
	last := c
	for snaps != nil {
		select {
		case snap, ok := <-snaps:
			if !ok {
				snaps = nil
				break
			}
			for _, iv := range snap.Intervals {
				if err := line(iv); err != nil {
					return err
				}
			}
		case next := <-ctls:
			applyControl(logw, ctl, hardStop, whole, last, next, index)
			last = next
		case err := <-errc:
			// The run goes on: the Job's deadline bounds it, and the
			// coordinator follows the log, not the watch.
			fmt.Fprintf(logw, "worker %d: control watch: %v\n", index, err)
			errc = nil
		}
	}
	if ctx.Err() != nil {
		// Terminated (the pod deleted, evicted): no final line, so the
		// coordinator counts this worker lost, not finished early.
		return fmt.Errorf("worker %d: terminated after %d intervals: %w", index, tot.n, ctx.Err())
	}
	total, err := tot.total()
	if err != nil {
		return fmt.Errorf("worker %d: final: %w", index, err)
	}
	return loader.WriteWorkerLine(out, loader.WorkerLine{Worker: index, Workers: c.Workers,
		Final: &loader.WorkerFinal{Intervals: tot.n, Total: total}})
}

// workerConfigWhole is the whole test, unsegmented (for splitting a new rate).
func workerConfigWhole(c distload.Control) (loader.Config, error) {
	opts := &loadOptions{vars: varFlags{}}
	fs := pflag.NewFlagSet("load-worker", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	bindLoadFlags(fs, opts)
	if err := fs.Parse(c.Args); err != nil {
		return loader.Config{}, err
	}
	return loadConfig(opts, fs.Args(), fs.Changed("vus"))
}

// applyControl applies what changed from prev to next.
func applyControl(logw io.Writer, ctl *loader.Control, hardStop func(), whole loader.Config, prev, next distload.Control, index int) {
	switch {
	case next.Abort && !prev.Abort:
		fmt.Fprintf(logw, "worker %d: aborted\n", index)
		hardStop()
		return
	case next.Stop && !prev.Stop:
		fmt.Fprintf(logw, "worker %d: stopping\n", index)
		ctl.Stop()
		return
	}
	if next.Paused != prev.Paused {
		var err error
		if next.Paused {
			err = ctl.Pause()
		} else {
			err = ctl.Resume()
		}
		if err != nil {
			fmt.Fprintf(logw, "worker %d: pause: %v\n", index, err)
		}
	}
	if next.Rate != prev.Rate && next.Rate > 0 {
		part, err := rateShare(whole, next.Rate, index, next.Workers)
		if err == nil {
			err = ctl.SetRate(part)
		}
		if err != nil {
			fmt.Fprintf(logw, "worker %d: rate: %v\n", index, err)
		}
	}
	if next.VUs != prev.VUs && next.VUs > 0 {
		part, err := vusShare(whole, next.VUs, index, next.Workers)
		if err == nil {
			err = ctl.SetVUs(part)
		}
		if err != nil {
			fmt.Fprintf(logw, "worker %d: VUs: %v\n", index, err)
		}
	}
}

// watchControl sends the run's control each time its ConfigMap changes,
// watching it again when a watch ends, until ctx is done. A ConfigMap
// that is gone or unreadable is an error on errc.
func watchControl(ctx context.Context, cs kubernetes.Interface, ns, name string, out chan<- distload.Control, errc chan<- error) {
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	call := kube.Call{Verb: "watch", Resource: "configmaps", Namespace: ns, Name: name}
	rv := ""
	send := func(cm *corev1.ConfigMap) bool {
		rv = cm.ResourceVersion
		c, err := distload.ParseControl(cm.Data)
		if err != nil {
			errc <- fmt.Errorf("configmap %s/%s: %w", ns, name, err)
			return false
		}
		select {
		case out <- c:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for failures := 0; ctx.Err() == nil; {
		if rv == "" {
			// The state now, then the changes from it.
			l, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{FieldSelector: sel})
			switch {
			case err != nil:
				call.Verb = "list"
				if failures++; failures > 30 || !errors.Is(kube.Err(err, call), kube.ErrUnreachable) {
					errc <- kube.Err(err, call)
					return
				}
				distload.RetryPause(ctx)
				continue
			case len(l.Items) == 0:
				errc <- fmt.Errorf("configmap %s/%s: not found: the run is over", ns, name)
				return
			}
			if !send(&l.Items[0]) {
				return
			}
			rv = l.ResourceVersion
		}
		w, err := cs.CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{FieldSelector: sel, ResourceVersion: rv})
		if err != nil {
			if failures++; failures > 30 {
				errc <- kube.Err(err, call)
				return
			}
			distload.RetryPause(ctx)
			continue
		}
		failures = 0
		for ev := range w.ResultChan() {
			switch ev.Type {
			case watch.Deleted:
				w.Stop()
				errc <- fmt.Errorf("configmap %s/%s: deleted: the run is over", ns, name)
				return
			case watch.Error:
				rv = "" // too old: start again from the current state
				continue
			}
			if cm, ok := ev.Object.(*corev1.ConfigMap); ok && !send(cm) {
				w.Stop()
				return
			}
		}
	}
}

// workerTotal adds a worker's intervals into its whole-run record, as the
// final line carries it.
type workerTotal struct {
	n        int
	rec      loader.Interval
	cor, raw *hdr.Histogram
	open     bool
	err      error
}

// add adds one interval.
func (t *workerTotal) add(iv loader.Interval) {
	if t.cor == nil {
		t.cor, t.raw = loader.NewHistogram(), loader.NewHistogram()
		t.rec.Status, t.rec.Errors = map[int]int64{}, map[string]int64{}
	}
	t.n++
	c, err := iv.LatencyHistogram()
	if err == nil {
		t.cor.Merge(c)
		var r *hdr.Histogram
		if r, err = iv.RawHistogram(); err == nil {
			t.raw.Merge(r)
		}
	}
	if err != nil && t.err == nil {
		t.err = fmt.Errorf("interval %d: %w", iv.Index, err)
	}
	t.open = t.open || iv.Raw != ""
	r := &t.rec
	r.End = max(r.End, iv.End)
	r.Time = iv.Time
	r.AddCounts(iv)
	r.VUs = max(r.VUs, iv.VUs)
}

// total is the whole-run record: Index 0, Start 0, End the last
// interval's, histograms the merge of every interval's.
func (t *workerTotal) total() (loader.Interval, error) {
	if t.err != nil {
		return loader.Interval{}, t.err
	}
	if t.cor == nil {
		t.cor, t.raw = loader.NewHistogram(), loader.NewHistogram()
	}
	rec := t.rec
	rec.Status, rec.Errors = maps.Clone(rec.Status), maps.Clone(rec.Errors)
	var err error
	if rec.Latency, err = loader.EncodeHistogram(t.cor); err != nil {
		return rec, err
	}
	if t.open {
		if rec.Raw, err = loader.EncodeHistogram(t.raw); err != nil {
			return rec, err
		}
	}
	return rec, nil
}
