package runbook

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cockpit-dev/cockpit/internal/distload"
	"github.com/cockpit-dev/cockpit/internal/kube"
	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/report"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// Distributed load steps in the runner: the dry run of the run's objects
// (a PlanAction), the run itself (a StartLoad, once confirmed) through
// internal/distload, and the deletion of what a run the cockpit died in
// left (a CleanupLoad). What the run created and deleted is reported as
// LoadWorkersChanged events, journaled as changes.

// DefaultLoadCleanupTimeout bounds the deletion of a distributed load
// run's objects, and the wait until none is left.
const DefaultLoadCleanupTimeout = 2 * time.Minute

// distKinds are the run's objects as the plan and the changes list them,
// in the order they are created.
var distKinds = []string{"ConfigMap", "ServiceAccount", "Role", "RoleBinding", "Job"}

// distTarget is the cluster client and namespace of a step's workers.
func (r *Runner) distTarget(rb *Runbook, st *Step) (kubernetes.Interface, string, error) {
	if r.Env.Kube == nil {
		return nil, "", errors.New("no Kubernetes access: the workers need a cluster")
	}
	ctxName, ns := rb.WorkersTarget(st)
	c, err := r.Env.Kube(ctxName)
	if err != nil {
		return nil, "", err
	}
	if ns == "" {
		ns = c.Namespace()
	}
	if ns == "" {
		ns = "default"
	}
	return c.Typed(), ns, nil
}

// distCoordinator builds the coordinator of a step's run named name.
func (r *Runner) distCoordinator(rb *Runbook, st *Step, name string) (*distload.Coordinator, loader.Config, error) {
	cfg, err := st.Load.Config(filepath.Dir(rb.File))
	if err != nil {
		return nil, cfg, err
	}
	args, err := st.Load.WorkerArgs()
	if err != nil {
		return nil, cfg, err
	}
	for _, sec := range rb.Secrets() {
		for _, a := range args {
			if sec != "" && strings.Contains(a, sec) {
				return nil, cfg, errors.New("the test carries a value read from ${env:…}: it would be written to the workers' ConfigMap in the cluster; workers: cannot take secrets yet")
			}
		}
	}
	cs, ns, err := r.distTarget(rb, st)
	if err != nil {
		return nil, cfg, err
	}
	coord, err := st.Load.Workers.NewCoordinator(cs, name, ns, r.WorkerImage, cfg, args)
	return coord, cfg, err
}

// NewCoordinator returns the coordinator of a run of these workers named
// name in namespace ns: the test cfg, which each worker reads as args
// (LoadStep.WorkerArgs) and splits; image when the block names none; its
// pods placed by the block's nodeSelector and tolerations. `cockpit load`
// builds its distributed runs here too, from a load file's workers: or
// its flags.
func (w *LoadWorkers) NewCoordinator(cs kubernetes.Interface, name, ns, image string, cfg loader.Config, args []string) (*distload.Coordinator, error) {
	image = cmpOr(w.Image, image)
	if image == "" {
		return nil, errors.New("workers.image: none given, and the cockpit has no default worker image")
	}
	grace := cfg.Executor.GracefulStop
	if grace == 0 {
		grace = loader.DefaultGracefulStop
	}
	startTimeout := time.Duration(w.StartTimeout)
	if startTimeout == 0 {
		startTimeout = DefaultWorkerStartTimeout
	}
	spec := distload.Spec{Name: name, Namespace: ns, Image: image, PullPolicy: corev1.PullPolicy(w.ImagePullPolicy),
		Workers: w.Count, Args: args, Planned: plannedOf(cfg.Executor), StartTimeout: startTimeout, Grace: grace,
		CPU: w.Resources.CPU, Memory: w.Resources.Memory}
	coord, err := distload.New(cs, spec)
	if err != nil {
		return nil, err
	}
	var tols []corev1.Toleration
	for _, t := range w.Tolerations {
		tols = append(tols, corev1.Toleration{Key: t.Key, Operator: corev1.TolerationOperator(t.Operator), Value: t.Value,
			Effect: corev1.TaintEffect(t.Effect), TolerationSeconds: t.TolerationSeconds})
	}
	coord.Place(w.NodeSelector, tols)
	return coord, nil
}

// plannedOf is a test's planned length: its duration, or its stages'.
func plannedOf(e loader.Executor) time.Duration {
	if e.Duration > 0 || len(e.Stages) == 0 {
		return e.Duration
	}
	var d time.Duration
	for _, s := range e.Stages {
		d += s.Duration
	}
	return d
}

// distRef is kubectl's name of one of a run's objects: "Job/ns/name".
func distRef(kind, ns, name string) string { return kind + "/" + ns + "/" + name }

// planDistributed dry-runs the objects of a new run of a distributed
// load step on the server (DryRun: All): admission, validation and RBAC
// as the creation will meet them, nothing persisted. The plan names the
// run (Cleanup: "namespace/name"): the confirmed plan is what is created.
func (r *Runner) planDistributed(ctx context.Context, rb *Runbook, st *Step) actions.Result {
	start := r.now()
	coord, _, err := r.distCoordinator(rb, st, distload.NewName())
	if err != nil {
		return errorResult(start, "cannot plan the workers", err.Error())
	}
	spec := coord.Spec()
	res := actions.Result{Cleanup: spec.Namespace + "/" + spec.Name}
	res.ObservedAt = start
	var refused []string
	items := coord.Plan(ctx)
	for i, it := range items {
		o := actions.Object{Ref: distRef(distKinds[min(i, len(distKinds)-1)], spec.Namespace, spec.Name), Op: actions.OpCreated}
		if it.Err != nil {
			o.Op, o.Error = actions.OpFailed, it.Err.Error()
			refused = append(refused, o.Ref+": "+it.Err.Error())
		} else {
			res.Changes++
		}
		res.Objects = append(res.Objects, o)
	}
	job := coord.Objects().Job.Spec
	res.Status = probes.StatusPass
	res.Summary = fmt.Sprintf("create %d objects of load run %s in %s: an Indexed Job of %d worker(s) (image %s, activeDeadlineSeconds %d), its ConfigMap, ServiceAccount, Role and RoleBinding; deleted when the step ends",
		len(items), spec.Name, spec.Namespace, spec.Workers, spec.Image, *job.ActiveDeadlineSeconds)
	if len(refused) > 0 {
		res.Status = probes.StatusFail
		for _, it := range items {
			var fe *kube.ForbiddenError
			if errors.As(it.Err, &fe) {
				res.Status = probes.StatusForbidden
			}
		}
		res.Summary = fmt.Sprintf("the server's dry run refused %d of %d objects of load run %s", len(refused), len(items), spec.Name)
		res.Message = strings.Join(refused, "; ")
	}
	res.Duration = r.now().Sub(start)
	return res
}

// startDistributed runs a confirmed distributed load step: it creates the
// confirmed plan's objects, drives the run (snapshots to OnLoad, merged
// intervals journaled), deletes everything however it ends, and sends two
// events on awaited, in order — the deletion (LoadWorkersChanged), then
// the verdict (LoadResult) — even after the run ends.
func (r *Runner) startDistributed(ctx context.Context, wg *sync.WaitGroup, s State, sl StartLoad, results, awaited chan<- Event) {
	pi, si, _ := s.Find(sl.Step)
	st, ss := &s.Runbook.Phases[pi].Steps[si], s.Phases[pi].Steps[si]
	run := ss.LoadRun
	drained := r.drained
	wg.Add(1)
	go func() {
		defer wg.Done()
		sendAwaited := func(ev Event) {
			select {
			case awaited <- ev:
			case <-drained:
			}
		}
		deleted, result := r.runDistributed(ctx, s.Runbook, st, sl, run, results)
		sendAwaited(deleted)
		sendAwaited(result)
	}()
}

// runDistributed is startDistributed's work: it returns the deletion and
// the verdict.
func (r *Runner) runDistributed(ctx context.Context, rb *Runbook, st *Step, sl StartLoad, run string, results chan<- Event) (LoadWorkersChanged, LoadResult) {
	start := r.now()
	deleted := LoadWorkersChanged{Step: sl.Step, RunID: sl.RunID, Run: run, What: LoadDeleted}
	deleted.Result.ObservedAt = start
	fail := func(summary, msg string) LoadResult {
		return LoadResult{Step: sl.Step, RunID: sl.RunID, Result: probes.Result{Status: probes.StatusError, Summary: summary, Message: msg, ObservedAt: r.now()}}
	}
	ns, name, ok := strings.Cut(run, "/")
	if !ok || name == "" {
		deleted.Result.Status, deleted.Result.Summary = probes.StatusPass, "nothing was created"
		return deleted, fail("cannot start the load test", fmt.Sprintf("no confirmed plan names the run (%q)", run))
	}
	coord, cfg, err := r.distCoordinator(rb, st, name)
	if err == nil && coord.Spec().Namespace != ns {
		err = fmt.Errorf("the plan's namespace %s is not the workers' %s", ns, coord.Spec().Namespace)
	}
	if err != nil {
		deleted.Result.Status, deleted.Result.Summary = probes.StatusPass, "nothing was created"
		return deleted, fail("cannot start the load test", err.Error())
	}
	send := func(ev Event) {
		select {
		case results <- ev:
		case <-ctx.Done():
		}
	}
	var created []actions.Object
	cerr := coord.Create(ctx)
	for _, k := range distKinds {
		created = append(created, actions.Object{Ref: distRef(k, ns, name), Op: actions.OpCreated})
	}
	if cerr == nil {
		ev := LoadWorkersChanged{Step: sl.Step, RunID: sl.RunID, Run: run, What: LoadCreated}
		ev.Result.Status, ev.Result.ObservedAt, ev.Result.Objects = probes.StatusPass, r.now(), created
		ev.Result.Summary = fmt.Sprintf("created load run %s in %s: %d worker(s)", name, ns, coord.Spec().Workers)
		send(ev)
	}
	driver := distload.NewDriver(coord, distload.DriveOptions{Thresholds: cfg.Thresholds, Executor: cfg.Executor.Kind,
		Planned: plannedOf(cfg.Executor), Iterations: cfg.Executor.Iterations, Window: cfg.Window,
		StartTimeout: coord.Spec().StartTimeout, MinWorkers: st.Load.Workers.MinWorkers,
		OnUpdate: func(snap loader.Snapshot, _ loader.MergeStatus, ivs []loader.MergedInterval) {
			for _, iv := range ivs {
				send(LoadInterval{Step: sl.Step, RunID: sl.RunID, Interval: iv.Interval, Workers: iv.Workers, Merged: iv.Merged, Missing: iv.Missing})
			}
			if r.OnLoad != nil {
				r.OnLoad(sl.Step, withControls(snap, coord.Controls()))
			}
		}})
	var out distload.Outcome
	if cerr == nil {
		r.mu.Lock()
		if r.dists == nil {
			r.dists = map[string]*distload.Driver{}
		}
		r.dists[sl.Step] = driver
		r.mu.Unlock()
		out, err = driver.Run(ctx)
		r.mu.Lock()
		if r.dists[sl.Step] == driver {
			delete(r.dists, sl.Step)
		}
		r.mu.Unlock()
	}
	// However it ended: abort what may still run, delete everything.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultLoadCleanupTimeout)
	defer cancel()
	if cerr != nil || err != nil {
		_ = coord.Abort(cctx)
	}
	deleted.Result = r.deleteRun(cctx, coord, ns, name, created)
	switch {
	case cerr != nil:
		return deleted, fail("cannot create the workers", cerr.Error())
	case err != nil && out.Last.Reason != loader.ReasonCancelled:
		return deleted, fail("the distributed load test failed", err.Error())
	}
	rep := workersReport(run, st.Load.Workers.MinWorkers, out)
	doc := report.NewDocument(out.Last)
	return deleted, LoadResult{Step: sl.Step, RunID: sl.RunID, Result: judgeDistributed(out, rep), Report: &doc, Workers: rep}
}

// deleteRun deletes a run's objects and waits until none is left; its
// result lists them deleted, or what is left.
func (r *Runner) deleteRun(ctx context.Context, coord *distload.Coordinator, ns, name string, objs []actions.Object) actions.Result {
	res := actions.Result{}
	res.ObservedAt = r.now()
	err := coord.Cleanup(ctx, DefaultLoadCleanupTimeout/2)
	for _, o := range objs {
		res.Objects = append(res.Objects, actions.Object{Ref: o.Ref, Op: actions.OpDeleted})
	}
	res.Duration = r.now().Sub(res.ObservedAt)
	if err != nil {
		res.Status, res.Summary = probes.StatusFail, fmt.Sprintf("load run %s in %s: not everything was deleted", name, ns)
		res.Message = err.Error()
		for i := range res.Objects {
			res.Objects[i].Op = actions.OpFailed
		}
		return res
	}
	res.Status = probes.StatusPass
	res.Summary = fmt.Sprintf("deleted load run %s in %s: nothing labelled %s=%s is left (%s)", name, ns, distload.LabelRun, name, strings.Join(distload.Kinds, ", "))
	return res
}

// cleanupOrphans deletes what a run the cockpit died in left, found on
// resume, and sends the LoadWorkersChanged on awaited.
func (r *Runner) cleanupOrphans(ctx context.Context, s State, eff CleanupLoad, awaited chan<- Event) {
	pi, si, _ := s.Find(eff.Step)
	st := &s.Runbook.Phases[pi].Steps[si]
	drained := r.drained
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultLoadCleanupTimeout)
		defer cancel()
		ev := LoadWorkersChanged{Step: eff.Step, Run: eff.Run, What: LoadOrphansDeleted}
		ns, name, _ := strings.Cut(eff.Run, "/")
		cs, _, err := r.distTarget(s.Runbook, st)
		if err != nil {
			ev.Result = errorResult(r.now(), "cannot delete load run "+eff.Run, err.Error())
		} else {
			coord := distload.Orphan(cs, ns, name)
			left, lerr := coord.Leftovers(ctx)
			var objs []actions.Object
			for _, l := range left {
				kind, n, _ := strings.Cut(l, "/")
				objs = append(objs, actions.Object{Ref: kind + "/" + ns + "/" + n})
			}
			ev.Result = r.deleteRun(ctx, coord, ns, name, objs)
			if lerr != nil {
				ev.Result.Message = strings.TrimPrefix(ev.Result.Message+"; listing what was left: "+lerr.Error(), "; ")
			}
			if len(objs) == 0 && ev.Result.Status == probes.StatusPass {
				ev.Result.Summary = fmt.Sprintf("load run %s in %s left nothing: none of its objects exists", name, ns)
			}
		}
		select {
		case awaited <- ev:
		case <-drained:
		}
	}()
}

// workersReport says how a run's workers reported.
func workersReport(run string, minWorkers int, out distload.Outcome) *LoadWorkersReport {
	rep := &LoadWorkersReport{Run: run, Workers: out.Status.Workers, Reporting: out.Status.Reporting, MinWorkers: minWorkers,
		Intervals: out.Intervals, Incomplete: out.Incomplete}
	for _, w := range out.Status.Each {
		if w.State == loader.WorkerLost {
			rep.Lost = append(rep.Lost, LostWorker{Worker: w.Worker, From: w.LostFrom, Reason: w.Reason})
		}
	}
	return rep
}

// judgeDistributed judges a distributed run as JudgeLoad judges a local
// one, then by its workers: fewer than minWorkers left fails it; a lost
// worker or an interval merged without one makes a pass a warning — the
// figures are not the whole test's, and never shown as if they were.
func judgeDistributed(out distload.Outcome, rep *LoadWorkersReport) probes.Result {
	res := JudgeLoad(out.Last)
	res.Values["workers"] = float64(rep.Workers)
	res.Values["workers_reporting"] = float64(rep.Reporting)
	res.Values["workers_lost"] = float64(len(rep.Lost))
	res.Values["intervals_incomplete"] = float64(rep.Incomplete)
	res.Summary += " · " + fmt.Sprintf("%d of %d workers reporting", rep.Reporting, rep.Workers)
	switch {
	case out.BelowMin != "":
		// JudgeLoad reads the run's ReasonStopped as the operator's stop:
		// here too few workers were left, and the thresholds judged the
		// part that ran.
		th := len(out.Last.Thresholds)
		failed := int(res.Values["thresholds_failed"])
		res.Status = probes.StatusFail
		res.Message = fmt.Sprintf("minWorkers: %s; the run was aborted after %s; %d of %d threshold(s) passed on the part that ran",
			out.BelowMin, shortDuration(out.Last.Elapsed), th-failed, th)
	case !rep.Complete():
		if res.Status == probes.StatusPass {
			res.Status = probes.StatusWarn
		}
		res.Message = rep.String() + "; " + res.Message
	}
	return res
}

// withControls completes a distributed run's merged snapshot with what
// only the coordinator knows — the pause, and the VUs set during the run —
// so that the cockpit's keys toggle and scale from the run's state: the
// pause key resumes a paused run, the VU keys scale the VUs set. A closed
// model's VUs not set during the run are the VUs the workers had alive.
func withControls(snap loader.Snapshot, ctl distload.Control) loader.Snapshot {
	snap.Paused = ctl.Paused
	switch {
	case ctl.VUs > 0 && snap.Executor.Open():
		snap.MaxVUs = ctl.VUs
	case ctl.VUs > 0:
		snap.TargetVUs = ctl.VUs
	case !snap.Executor.Open() && snap.TargetVUs == 0:
		snap.TargetVUs = snap.VUs
	}
	return snap
}

// LoadRunning reports whether a load test — local, or distributed across
// workers — runs for step: the operator's controls (ControlLoad) reach it.
func (r *Runner) LoadRunning(step string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loads[step] != nil || r.dists[step] != nil
}

// controlDistributed applies an operator's change to a step's running
// distributed load test through its ConfigMap; false when none runs.
func (r *Runner) controlDistributed(ctx context.Context, wg *sync.WaitGroup, cl ControlLoad, results chan<- Event) bool {
	r.mu.Lock()
	d := r.dists[cl.Step]
	r.mu.Unlock()
	if d == nil {
		return false
	}
	// The patch goes to the API server: off the runner's loop, so an
	// outage delays the change, not the cockpit. One that fails is told.
	wg.Add(1)
	go func() {
		defer wg.Done()
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultPlanTimeout)
		defer cancel()
		c := d.Coordinator()
		var err error
		switch cl.Op {
		case LoadPause:
			err = c.SetPaused(pctx, true)
		case LoadResume:
			err = c.SetPaused(pctx, false)
		case LoadRate:
			err = c.SetRate(pctx, cl.Value)
		case LoadVUs:
			err = c.SetVUs(pctx, int(cl.Value))
		case LoadStop:
			err = d.Stop(pctx)
		}
		controlFailed(ctx, cl, err, results)
	}()
	return true
}

// planLoad sends a distributed load step's dry run out; it comes back as
// an ActionPlanned, as an action's does.
func (r *Runner) planLoad(ctx context.Context, wg *sync.WaitGroup, s State, eff PlanAction, results chan<- Event) {
	pi, si, _ := s.Find(eff.Step)
	st := &s.Runbook.Phases[pi].Steps[si]
	timeout := DefaultPlanTimeout
	if st.Timeout > 0 {
		timeout = time.Duration(st.Timeout)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		pctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		ev := ActionPlanned{Step: eff.Step, RunID: eff.RunID, Result: r.planDistributed(pctx, s.Runbook, st)}
		select {
		case results <- ev:
		case <-ctx.Done():
		}
	}()
}
