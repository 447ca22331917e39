package distload

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/threshold"
)

// Place sets where the workers' pods may run: a node selector and
// tolerations on the Job's pod template. Call it before Plan and Create.
func (c *Coordinator) Place(nodeSelector map[string]string, tolerations []corev1.Toleration) {
	ps := &c.objs.Job.Spec.Template.Spec
	ps.NodeSelector, ps.Tolerations = nodeSelector, tolerations
}

// Objects returns the run's objects as they are created.
func (c *Coordinator) Objects() Objects { return c.objs }

// SetVUs sets the whole run's VUs (closed models) or VU cap (open ones);
// each worker takes its part.
func (c *Coordinator) SetVUs(ctx context.Context, vus int) error {
	return c.patch(ctx, map[string]string{KeyVUs: strconv.Itoa(vus)})
}

// Orphan returns a coordinator of a run known only by its name — one
// found in a journal after the process that ran it died — for Leftovers
// and Cleanup only.
func Orphan(cs kubernetes.Interface, namespace, name string) *Coordinator {
	return &Coordinator{cs: cs, spec: Spec{Name: name, Namespace: namespace}}
}

// DriveOptions are what Drive needs beyond the coordinator: the test as
// the thresholds judge it, and where its progress goes.
type DriveOptions struct {
	// Thresholds are evaluated on the merged intervals; an abortOnFail
	// one that fails stops every worker.
	Thresholds []threshold.Threshold
	// Executor, Planned, Iterations and Window describe the test
	// (Aggregate).
	Executor   loader.ExecutorKind
	Planned    time.Duration
	Iterations int64
	Window     time.Duration
	// StartTimeout bounds the wait for every pod to be Running.
	StartTimeout time.Duration
	// MinWorkers aborts the run when fewer workers are left (0: never).
	MinWorkers int
	// Say, when set, receives what is worth telling: the pods' start,
	// the start instant, workers lost, the abort.
	Say func(format string, args ...any)
	// OnUpdate, when set, receives every merged snapshot with who is
	// reporting, and the intervals merged since the last one.
	OnUpdate func(snap loader.Snapshot, status loader.MergeStatus, intervals []loader.MergedInterval)
	// Logs, when set, receives every worker's stream line.
	Logs func(worker int, line []byte)
}

// Outcome is how a driven run ended.
type Outcome struct {
	// Last is the final snapshot (Done, with its Reason).
	Last loader.Snapshot
	// Status says who reported; Final is the workers' own final records
	// merged.
	Status loader.MergeStatus
	Final  loader.MergedInterval
	// Intervals merged, and how many lack a worker that owed them.
	Intervals, Incomplete int
	// BelowMin is set when the run was aborted because fewer than
	// MinWorkers workers were left: why.
	BelowMin string
}

// Driver runs a created run to its end: it waits for every pod to be
// Running, sets the shared start, follows and merges the workers'
// streams into snapshots with the thresholds evaluated, and stops or
// aborts the workers when an abortOnFail threshold fails, the operator
// stops the run, fewer than MinWorkers are left or ctx is done. It never
// deletes anything: the caller calls Cleanup.
type Driver struct {
	c       *Coordinator
	opts    DriveOptions
	stopped atomic.Bool
}

// NewDriver returns the driver of c's run.
func NewDriver(c *Coordinator, opts DriveOptions) *Driver { return &Driver{c: c, opts: opts} }

// Coordinator returns the run's coordinator (for its controls).
func (d *Driver) Coordinator() *Coordinator { return d.c }

// Stop stops every worker gracefully on the operator's word: the run ends
// with loader.ReasonStopped.
func (d *Driver) Stop(ctx context.Context) error {
	d.stopped.Store(true)
	return d.c.Stop(ctx)
}

func (d *Driver) say(format string, args ...any) {
	if d.opts.Say != nil {
		d.opts.Say(format, args...)
	}
}

// Run drives the run (see Driver). An error is a run that could not start
// or whose merge failed; a run cut short by ctx returns its outcome so
// far with loader.ReasonCancelled and ctx's error.
func (d *Driver) Run(ctx context.Context) (Outcome, error) {
	c, o := d.c, d.opts
	var out Outcome
	if err := c.WaitRunning(ctx, o.StartTimeout, func(st string) { d.say("%s", st) }); err != nil {
		return out, err
	}
	start := time.Now().Add(2 * time.Second)
	if err := c.SetStart(ctx, start); err != nil {
		return out, err
	}
	d.say("every worker Running: the test starts at %s", start.Format("15:04:05.000"))
	agg := &Aggregate{Thresholds: o.Thresholds, Executor: o.Executor, Planned: o.Planned, Iterations: o.Iterations, WindowSize: o.Window}
	reason := loader.ReasonDuration
	if o.Iterations > 0 {
		reason = loader.ReasonIterations
	}
	halted := false // the workers were told to stop or abort
	abort := func(why string) {
		halted = true
		d.say("%s", why)
		if err := c.Abort(context.WithoutCancel(ctx)); err != nil {
			d.say("abort: %v", err)
		}
	}
	var runErr error
	for u := range c.Follow(ctx, o.Logs) {
		for _, n := range u.Notes {
			d.say("%s", n)
		}
		agg.Add(u.Intervals...)
		out.Status = u.Status
		if u.Err != nil && ctx.Err() == nil {
			abort("the merge failed: aborting every worker")
			runErr = fmt.Errorf("merge: %w", u.Err)
			break
		}
		if ctx.Err() != nil && reason != loader.ReasonCancelled {
			reason = loader.ReasonCancelled
			abort("cancelled: aborting every worker")
		}
		if d.stopped.Load() && reason != loader.ReasonStopped && reason != loader.ReasonCancelled {
			reason, halted = loader.ReasonStopped, true
		}
		snap, thresholdAbort, err := agg.Snapshot(time.Now(), u.Done, reason)
		if err != nil {
			abort("the merged data cannot be read: aborting every worker")
			runErr = err
			break
		}
		if thresholdAbort && !halted {
			halted, reason = true, loader.ReasonThreshold
			d.say("an abortOnFail threshold failed: stopping every worker")
			if err := c.Stop(ctx); err != nil {
				d.say("stop: %v", err)
			}
		}
		if left := u.Status.Workers - u.Status.Lost; o.MinWorkers > 0 && left < o.MinWorkers && out.BelowMin == "" {
			out.BelowMin = fmt.Sprintf("%d of %d workers left, fewer than minWorkers %d: %s", left, u.Status.Workers, o.MinWorkers, u.Status)
			if !halted {
				abort(out.BelowMin + ": aborting every worker")
			}
		}
		out.Last = snap
		if o.OnUpdate != nil {
			o.OnUpdate(snap, u.Status, u.Intervals)
		}
		if u.Done {
			out.Final = u.Final
			break
		}
	}
	out.Last.Done, out.Last.Reason = true, reason
	out.Intervals, out.Incomplete = agg.Intervals(), agg.Incomplete()
	if runErr == nil && reason == loader.ReasonCancelled {
		runErr = ctx.Err()
	}
	return out, errors.Join(runErr)
}
