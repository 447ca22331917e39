package distload

import (
	"context"
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
	// BelowMinWords, when set, words Outcome.BelowMin as the caller's
	// input names the minimum ("--min-workers 3: 2 of 3 workers left
	// (…)"); by default "2 of 3 workers left, fewer than minWorkers 3: …".
	MinWorkers    int
	BelowMinWords func(minWorkers, left int, status loader.MergeStatus) string
	// Say, when set, receives what is worth telling: the pods' start,
	// the start instant, workers lost, the abort.
	Say func(format string, args ...any)
	// OnUpdate, when set, receives every new snapshot with who is
	// reporting, and the intervals merged since the last one. A snapshot
	// is taken only when intervals were merged (and on the first and the
	// last update): the thresholds and the progress change with them
	// only, and a worker's line that merges nothing costs nothing more.
	// The last one is Done.
	OnUpdate func(snap loader.Snapshot, status loader.MergeStatus, intervals []loader.MergedInterval)
	// Logs, when set, receives every worker's stream line.
	Logs func(worker int, line []byte)
}

// Outcome is how a driven run ended.
type Outcome struct {
	// Last is the final snapshot (Done, with its Reason): ReasonStopped
	// when the operator stopped the run or it was aborted for want of
	// workers (BelowMin), ReasonThreshold when an abortOnFail threshold
	// stopped it, ReasonCancelled when ctx ended it.
	Last loader.Snapshot
	// Status says who reported; Final is the workers' own final records
	// merged.
	Status loader.MergeStatus
	Final  loader.MergedInterval
	// Intervals merged, and how many lack a worker that owed them.
	Intervals, Incomplete int
	// BelowMin is set when fewer than MinWorkers workers were left — the
	// run was aborted then, unless its workers were already stopping —
	// in the words of DriveOptions.BelowMinWords.
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
// (Outcome.Last has no Reason then) or whose merge failed; a run cut
// short by ctx returns its outcome so far with loader.ReasonCancelled and
// ctx's error.
func (d *Driver) Run(ctx context.Context) (Outcome, error) {
	c, o := d.c, d.opts
	if err := c.WaitRunning(ctx, o.StartTimeout, func(st string) { d.say("%s", st) }); err != nil {
		return Outcome{}, err
	}
	start := time.Now().Add(2 * time.Second)
	if err := c.SetStart(ctx, start); err != nil {
		return Outcome{}, err
	}
	d.say("every worker Running: the test starts at %s", start.Format("15:04:05.000"))
	return d.drive(ctx, c.Follow(ctx, o.Logs))
}

// drive is Run once the workers started: it merges updates until the
// last, and tells the workers to stop or abort when the run must end.
func (d *Driver) drive(ctx context.Context, updates <-chan Update) (Outcome, error) {
	c, o := d.c, d.opts
	var out Outcome
	agg := &Aggregate{Thresholds: o.Thresholds, Executor: o.Executor, Planned: o.Planned, Iterations: o.Iterations, WindowSize: o.Window}
	reason := loader.ReasonDuration
	if o.Iterations > 0 {
		reason = loader.ReasonIterations
	}
	// halted: the workers were told to stop or abort — by a threshold,
	// the operator, too few workers or ctx — and the first of them names
	// the run's reason.
	halted := false
	abort := func(why string) {
		halted = true
		d.say("%s", why)
		if err := c.Abort(context.WithoutCancel(ctx)); err != nil {
			d.say("abort: %v", err)
		}
	}
	var runErr error
	snapped := false
	for u := range updates {
		for _, n := range u.Notes {
			d.say("%s", n)
		}
		agg.Add(u.Intervals...)
		out.Intervals += len(u.Intervals)
		out.Status = u.Status
		if u.Err != nil && ctx.Err() == nil {
			abort("the merge failed: aborting every worker")
			runErr = fmt.Errorf("merge: %w", u.Err)
			break
		}
		if ctx.Err() != nil && reason != loader.ReasonCancelled {
			if !halted {
				abort("cancelled: aborting every worker")
			}
			reason, halted = loader.ReasonCancelled, true
		}
		if d.stopped.Load() && !halted {
			reason, halted = loader.ReasonStopped, true
		}
		if len(u.Intervals) > 0 || u.Done || !snapped {
			snapped = true
			snap, thresholdAbort, err := agg.Snapshot(time.Now(), u.Done, reason)
			if err != nil {
				abort("the merged data cannot be read: aborting every worker")
				runErr = err
				break
			}
			out.Last = snap
			if thresholdAbort && !halted {
				halted, reason = true, loader.ReasonThreshold
				d.say("an abortOnFail threshold failed: stopping every worker")
				if err := c.Stop(ctx); err != nil {
					d.say("stop: %v", err)
				}
			}
			if o.OnUpdate != nil {
				o.OnUpdate(snap, u.Status, u.Intervals)
			}
		}
		if left := u.Status.Workers - u.Status.Lost; o.MinWorkers > 0 && left < o.MinWorkers && out.BelowMin == "" {
			if o.BelowMinWords != nil {
				out.BelowMin = o.BelowMinWords(o.MinWorkers, left, u.Status)
			} else {
				out.BelowMin = fmt.Sprintf("%d of %d workers left, fewer than minWorkers %d: %s", left, u.Status.Workers, o.MinWorkers, u.Status)
			}
			if halted {
				d.say("%s: the workers were already told to stop", out.BelowMin)
			} else {
				abort(out.BelowMin + ": aborting every worker")
				reason = loader.ReasonStopped
			}
		}
		if u.Done {
			out.Final = u.Final
			break
		}
	}
	out.Last.Done, out.Last.Reason = true, reason
	out.Incomplete = agg.Incomplete()
	if runErr == nil && reason == loader.ReasonCancelled {
		runErr = ctx.Err()
	}
	return out, runErr
}
