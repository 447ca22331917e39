package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cockpit-dev/cockpit/internal/distload"
	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/report"
	"github.com/cockpit-dev/cockpit/runbook"
)

// distOptions are the flags of a distributed `cockpit load --workers N`.
type distOptions struct {
	workers      int
	minWorkers   int
	image        string
	pullPolicy   string
	cpu, memory  string
	startTimeout time.Duration
	allowActions bool
	yes          bool
	workerLogs   string
}

// defaultWorkerImage is the cockpit's own image of this version: the
// image `make image` builds (README: Distributed load).
func defaultWorkerImage() string {
	return "ghcr.io/cockpit-dev/cockpit:" + cmp.Or(strings.TrimPrefix(version, "v"), "dev")
}

func bindDistFlags(f *pflag.FlagSet, o *distOptions) {
	f.IntVar(&o.workers, "workers", 0, "split the test across N pods of an Indexed Job in the cluster (needs --allow-actions; without it the plan is shown); with --config, overrides the file's workers.count")
	f.IntVar(&o.minWorkers, "min-workers", 0, "with --workers: abort when fewer workers are left (default: go on with any, and say so)")
	f.StringVar(&o.image, "image", "", "with --workers: the workers' image (default: "+defaultWorkerImage()+")")
	f.StringVar(&o.pullPolicy, "image-pull-policy", "IfNotPresent", "with --workers: the workers' imagePullPolicy (Always, IfNotPresent, Never)")
	f.StringVar(&o.cpu, "worker-cpu", "", "with --workers: each worker's CPU request, e.g. 500m")
	f.StringVar(&o.memory, "worker-memory", "", "with --workers: each worker's memory request and limit, e.g. 256Mi")
	f.DurationVar(&o.startTimeout, "start-timeout", 2*time.Minute, "with --workers: how long the workers' pods may take to be Running")
	f.BoolVar(&o.allowActions, "allow-actions", false, "with --workers: create the run's Job, ConfigMap, ServiceAccount and Role/RoleBinding (default: show the dry-run plan only)")
	f.BoolVar(&o.yes, "yes", false, "with --allow-actions: create them without asking")
	f.StringVar(&o.workerLogs, "worker-logs", "", "with --workers: keep each worker's stream lines in DIR/worker-N.log")
}

// distLocalFlags are the flags that stay with the coordinator: they are not
// the test's, and a worker does not parse them.
var distLocalFlags = map[string]bool{"workers": true, "min-workers": true, "image": true, "image-pull-policy": true,
	"worker-cpu": true, "worker-memory": true, "start-timeout": true, "allow-actions": true, "yes": true,
	"worker-logs": true, "output": true, "no-tui": true, "threshold": true, "window": true,
	"kubeconfig": true, "context": true, "namespace": true, "request-timeout": true}

// workerArgs are the test's arguments for the workers: the flags given,
// but the coordinator's own, then the URLs.
func workerArgs(flags *pflag.FlagSet, urls []string) []string {
	var args []string
	flags.Visit(func(f *pflag.Flag) {
		if distLocalFlags[f.Name] {
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				args = append(args, "--"+f.Name+"="+v)
			}
			return
		}
		args = append(args, "--"+f.Name+"="+f.Value.String())
	})
	return append(append(args, "--"), urls...)
}

// distTest is a distributed run's test: its configuration as the
// coordinator judges it (thresholds, window), the workers' arguments, and
// the workers: block that says where they run — a load file's, with the
// flags given over it, or the flags'.
type distTest struct {
	cfg     loader.Config
	args    []string
	workers runbook.LoadWorkers
	// minName names the minimum of workers in what is said:
	// "--min-workers", or the load file's "workers.minWorkers".
	minName string
}

// flagsDistTest is the distributed test of `cockpit load --workers N
// URL...`: the flags' test, and the workers the flags describe.
func flagsDistTest(opts *loadOptions, d *distOptions, urls []string, flags *pflag.FlagSet) (distTest, error) {
	switch {
	case opts.cacert != "":
		return distTest{}, invalidInputf("--cacert cannot be used with --workers yet: the workers have no copy of the file")
	case strings.HasPrefix(opts.body, "@"):
		return distTest{}, invalidInputf("--body @FILE cannot be used with --workers yet: give the body inline")
	case d.workers < 1:
		return distTest{}, invalidInputf("--workers: must be at least 1, got %d", d.workers)
	case d.minWorkers > d.workers:
		return distTest{}, invalidInputf("--min-workers: %d is more than --workers %d", d.minWorkers, d.workers)
	}
	pull := corev1.PullPolicy(d.pullPolicy)
	if pull != corev1.PullAlways && pull != corev1.PullIfNotPresent && pull != corev1.PullNever {
		return distTest{}, invalidInputf("--image-pull-policy: want Always, IfNotPresent or Never, got %q", d.pullPolicy)
	}
	cfg, err := loadConfig(opts, urls, flags.Changed("vus"))
	if err != nil {
		return distTest{}, err
	}
	for i := 0; i < d.workers; i++ {
		if _, err := loader.Segment(cfg, i, d.workers); err != nil {
			var fe *loader.FieldError
			if errors.As(err, &fe) {
				return distTest{}, invalidInputf("--workers %d: %s: %w", d.workers, flagOf(fe, cfg.Executor.Kind.Open()), fe.Err)
			}
			return distTest{}, invalidInputf("--workers %d: %w", d.workers, err)
		}
	}
	w := runbook.LoadWorkers{Count: d.workers, Image: d.image, ImagePullPolicy: d.pullPolicy, MinWorkers: d.minWorkers,
		Resources: runbook.LoadWorkerResources{CPU: d.cpu, Memory: d.memory}, StartTimeout: runbook.Duration(d.startTimeout)}
	return distTest{cfg: cfg, args: workerArgs(flags, urls), workers: w, minName: "--min-workers"}, nil
}

// runDistributed is `cockpit load --workers N`, or `cockpit load --config
// FILE` of a file with workers:: the test split across the pods of an
// Indexed Job, their streams merged into the same live progress,
// thresholds, summary and exit code as a local run.
func runDistributed(ctx context.Context, s streams, g *globalOptions, opts *loadOptions, d *distOptions, t distTest) error {
	if opts.hdrLog != "" {
		return invalidInputf("--hdr-log cannot be used with --workers")
	}
	rc, ctxName, err := g.kube.restConfig()
	if err != nil {
		return invalidInputf("--workers: %w", err)
	}
	// -n, else the file's workers.namespace, else the context's.
	ns, _, err := g.kube.clientConfig().Namespace()
	if err != nil {
		return invalidInputf("--namespace: %w", err)
	}
	if g.kube.namespace == "" && t.workers.Namespace != "" {
		ns = t.workers.Namespace
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("--workers: %w", err)
	}
	coord, err := t.workers.NewCoordinator(cs, distload.NewName(), ns, defaultWorkerImage(), t.cfg, t.args)
	if err != nil {
		return invalidInputf("--workers: %w", err)
	}
	spec := coord.Spec()
	say := func(format string, args ...any) { fmt.Fprintf(s.err, "cockpit: "+format+"\n", args...) }
	say("distributed run %s: %d workers (image %s) in namespace %s of context %s", spec.Name, spec.Workers, spec.Image, ns, ctxName)
	objs := coord.Objects()
	say("plan (server-side dry run): Indexed Job, completions = parallelism = %d, activeDeadlineSeconds %d, ttlSecondsAfterFinished %d",
		spec.Workers, *objs.Job.Spec.ActiveDeadlineSeconds, *objs.Job.Spec.TTLSecondsAfterFinished)
	if pod := objs.Job.Spec.Template.Spec; len(pod.NodeSelector) > 0 || len(pod.Tolerations) > 0 {
		var sel []string
		for _, k := range slices.Sorted(maps.Keys(pod.NodeSelector)) {
			sel = append(sel, k+"="+pod.NodeSelector[k])
		}
		say("the workers' pods: nodeSelector {%s}, %d toleration(s)", strings.Join(sel, ", "), len(pod.Tolerations))
	}
	refused := false
	for _, it := range coord.Plan(ctx) {
		say("  %s", it)
		refused = refused || it.Err != nil
	}
	if refused {
		return errors.New("the dry run was refused: nothing created")
	}
	if !d.allowActions {
		say("read-only: nothing created. Creating a Job changes the cluster: rerun with --allow-actions to create these objects and run the test (they are deleted when it ends)")
		return verdict{code: exitFailed}
	}
	if !d.yes {
		fmt.Fprintf(s.err, "create these %d objects in %s and run the test? [y/N] ", 5, ns)
		line, _ := bufio.NewReader(s.in).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			say("not confirmed: nothing created")
			return verdict{code: exitFailed}
		}
	}
	var logs func(int, []byte)
	if d.workerLogs != "" {
		files := map[int]*os.File{}
		defer func() {
			for _, f := range files {
				f.Close()
			}
		}()
		logs = func(w int, line []byte) {
			f := files[w]
			if f == nil {
				var err error
				if f, err = os.Create(filepath.Join(d.workerLogs, fmt.Sprintf("worker-%d.log", w))); err != nil {
					say("--worker-logs: %v", err)
					return
				}
				files[w] = f
			}
			_, _ = f.Write(append(line, '\n'))
		}
	}
	return distributedRun(ctx, s, say, coord, t, opts, logs)
}

// distributedRun creates the run, drives it (distload.Driver), prints its
// summary and deletes everything.
func distributedRun(ctx context.Context, s streams, say func(string, ...any), coord *distload.Coordinator,
	t distTest, opts *loadOptions, logs func(int, []byte)) (err error) {
	spec, cfg := coord.Spec(), t.cfg
	defer func() {
		// The run's context may be cancelled (ctrl+c): cleanup gets its own.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if cerr := coord.Cleanup(cctx, time.Minute); cerr != nil {
			say("cleanup of run %s: %v", spec.Name, cerr)
			err = errors.Join(err, fmt.Errorf("cleanup: %w", cerr))
			return
		}
		say("cleanup: deleted %s; nothing with label %s=%s is left (%s)", spec.Name, distload.LabelRun, spec.Name, strings.Join(distload.Kinds, ", "))
	}()
	if err := coord.Create(ctx); err != nil {
		return err
	}
	say("created configmap, serviceaccount, role, rolebinding and job.batch %s", spec.Name)
	printed := time.Duration(0)
	driver := distload.NewDriver(coord, distload.DriveOptions{Thresholds: cfg.Thresholds, Executor: cfg.Executor.Kind,
		Planned: plannedDuration(cfg.Executor), Iterations: cfg.Executor.Iterations, Window: cfg.Window,
		StartTimeout: spec.StartTimeout, MinWorkers: t.workers.MinWorkers, Say: say, Logs: logs,
		BelowMinWords: func(min, left int, st loader.MergeStatus) string {
			return fmt.Sprintf("%s %d: %d of %d workers left (%s)", t.minName, min, left, st.Workers, st)
		},
		OnUpdate: func(snap loader.Snapshot, status loader.MergeStatus, _ []loader.MergedInterval) {
			if !snap.Done && snap.Elapsed-printed >= time.Second {
				printed = snap.Elapsed.Truncate(time.Second)
				say("%s · %s", progressLine(snap, cfg.Executor), status)
			}
		}})
	out, err := driver.Run(ctx)
	if err != nil && out.Last.Reason != loader.ReasonCancelled {
		return err
	}
	last, status := out.Last, out.Status
	var werr error
	if opts.output == "json" {
		werr = report.WriteJSON(s.out, last)
	} else {
		werr = report.Summary(s.out, last)
	}
	if werr != nil {
		return werr
	}
	w := s.out
	if opts.output == "json" {
		w = s.err
	}
	fmt.Fprintf(w, "workers: %s\n", status)
	var dups, late int64
	for _, ws := range status.Each {
		dups, late = dups+ws.Duplicates, late+ws.Late
	}
	if dups > 0 || late > 0 {
		fmt.Fprintf(w, "workers: %d repeated lines dropped (log streams followed again), %d lines late for their interval\n", dups, late)
	}
	warn := ""
	if out.Incomplete > 0 {
		warn = fmt.Sprintf("%d of %d intervals were merged without a worker that owed them: the figures above are not the whole test's", out.Incomplete, out.Intervals)
		fmt.Fprintf(w, "workers: %s\n", warn)
	}
	if fst, err := loader.MergeIntervals([]loader.Interval{out.Final.Interval}); err == nil && len(out.Final.Missing) == 0 {
		agree := "agree"
		if fst.Requests != last.Total.Requests || fst.Latency != last.Total.Latency {
			agree = "differ (lines came late or were lost)"
		}
		fmt.Fprintf(w, "workers' own totals: %d requests, p50 %s p95 %s p99 %s — %s with the merged intervals\n", fst.Requests,
			report.Duration(fst.Latency.P50), report.Duration(fst.Latency.P95), report.Duration(fst.Latency.P99), agree)
	}
	switch {
	case last.Reason == loader.ReasonCancelled:
		return errors.New("interrupted: the summary covers the run up to the interruption")
	case out.BelowMin != "":
		fmt.Fprintln(s.err, "cockpit: failed: "+out.BelowMin)
		return verdict{code: exitFailed}
	case !last.Passed():
		return verdict{code: exitFailed}
	case last.Shortfall() != "":
		fmt.Fprintln(s.err, "cockpit: warning: "+last.Shortfall())
		return verdict{code: exitWarned}
	case warn != "" || status.Lost > 0:
		fmt.Fprintln(s.err, "cockpit: warning: "+cmp.Or(warn, status.String()))
		return verdict{code: exitWarned}
	}
	return nil
}
