package distload

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/cockpit-dev/cockpit/internal/kube"
	"github.com/cockpit-dev/cockpit/loader"
)

// Coordinator creates a run's objects, starts its workers at one instant,
// follows their logs, merges their lines and deletes everything at the end.
type Coordinator struct {
	cs   kubernetes.Interface
	spec Spec
	objs Objects
	pods map[int]string // worker index → its pod, once Running

	mu  sync.Mutex
	set Control // the controls set so far (Controls)
}

// New returns the coordinator of the run spec describes.
func New(cs kubernetes.Interface, spec Spec) (*Coordinator, error) {
	objs, err := Build(spec)
	if err != nil {
		return nil, err
	}
	return &Coordinator{cs: cs, spec: spec, objs: objs}, nil
}

// Spec returns the run's spec.
func (c *Coordinator) Spec() Spec { return c.spec }

// PlanItem is one object of the plan and what the API server's dry run
// said of it.
type PlanItem struct {
	// Kind and Name name the object, as kubectl does (job.batch/x).
	Kind, Name string
	// Err is the dry run's refusal, the server's message kept (nil: it
	// would be created).
	Err error
}

func (p PlanItem) String() string {
	if p.Err != nil {
		return fmt.Sprintf("%s/%s: refused: %v", p.Kind, p.Name, p.Err)
	}
	return fmt.Sprintf("%s/%s created (server dry run)", p.Kind, p.Name)
}

// Plan creates every object with a server-side dry run (DryRun: All):
// admission, validation and RBAC as the real creation will meet them,
// nothing persisted.
func (c *Coordinator) Plan(ctx context.Context) []PlanItem {
	return c.create(ctx, true)
}

// Create creates the run's objects: the ConfigMap first, then the others
// owned by it. On a failure what was created is deleted (Cleanup) by the
// caller: the error names the object, in the server's words.
func (c *Coordinator) Create(ctx context.Context) error {
	for _, it := range c.create(ctx, false) {
		if it.Err != nil {
			return fmt.Errorf("create %s/%s: %w", it.Kind, it.Name, it.Err)
		}
	}
	return nil
}

func (c *Coordinator) create(ctx context.Context, dry bool) []PlanItem {
	opts := metav1.CreateOptions{FieldManager: "cockpit"}
	if dry {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	ns, name := c.spec.Namespace, c.spec.Name
	call := func(verb, res string) kube.Call {
		return kube.Call{Verb: verb, Resource: res, Namespace: ns, Name: name}
	}
	var out []PlanItem
	failed := false
	step := func(kind, res string, f func() error) {
		if failed && !dry {
			return
		}
		err := f()
		if err != nil {
			err = kube.Err(err, call("create", res))
			failed = true
		}
		out = append(out, PlanItem{Kind: kind, Name: name, Err: err})
	}
	step("configmap", "configmaps", func() error {
		cm, err := c.cs.CoreV1().ConfigMaps(ns).Create(ctx, c.objs.ConfigMap, opts)
		if err == nil && !dry {
			c.objs.Own(cm)
		}
		return err
	})
	step("serviceaccount", "serviceaccounts", func() error {
		_, err := c.cs.CoreV1().ServiceAccounts(ns).Create(ctx, c.objs.ServiceAccount, opts)
		return err
	})
	step("role.rbac.authorization.k8s.io", "roles.rbac.authorization.k8s.io", func() error {
		_, err := c.cs.RbacV1().Roles(ns).Create(ctx, c.objs.Role, opts)
		return err
	})
	step("rolebinding.rbac.authorization.k8s.io", "rolebindings.rbac.authorization.k8s.io", func() error {
		_, err := c.cs.RbacV1().RoleBindings(ns).Create(ctx, c.objs.RoleBinding, opts)
		return err
	})
	step("job.batch", "jobs.batch", func() error {
		_, err := c.cs.BatchV1().Jobs(ns).Create(ctx, c.objs.Job, opts)
		return err
	})
	return out
}

// fatalWaiting are the container waiting reasons that never pass by
// themselves: a worker in one of them will not start.
var fatalWaiting = []string{"ErrImageNeverPull", "ErrImagePull", "ImagePullBackOff", "InvalidImageName",
	"CreateContainerConfigError", "CreateContainerError", "RunContainerError", "CrashLoopBackOff"}

// podState says where a worker's pod is: running, or why not.
func podState(p *corev1.Pod) (running bool, fatal, pending string) {
	if p.DeletionTimestamp != nil {
		return false, fmt.Sprintf("pod %s is being deleted", p.Name), ""
	}
	for _, cs := range p.Status.ContainerStatuses {
		switch {
		case cs.State.Running != nil:
			return p.Status.Phase == corev1.PodRunning, "", ""
		case cs.State.Terminated != nil:
			t := cs.State.Terminated
			return false, fmt.Sprintf("pod %s: container %s terminated: %s, exit code %d %s", p.Name, cs.Name, t.Reason, t.ExitCode, strings.TrimSpace(t.Message)), ""
		case cs.State.Waiting != nil:
			w := cs.State.Waiting
			msg := fmt.Sprintf("pod %s: %s", p.Name, w.Reason)
			if w.Message != "" {
				msg += ": " + w.Message
			}
			if slices.Contains(fatalWaiting, w.Reason) {
				return false, msg, ""
			}
			return false, "", msg
		}
	}
	if p.Status.Phase == corev1.PodFailed {
		return false, fmt.Sprintf("pod %s failed: %s: %s", p.Name, p.Status.Reason, p.Status.Message), ""
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse {
			return false, "", fmt.Sprintf("pod %s Pending: %s: %s", p.Name, cond.Reason, cond.Message)
		}
	}
	return false, "", fmt.Sprintf("pod %s %s", p.Name, p.Status.Phase)
}

// workerIndex is a pod's worker index (-1: none).
func workerIndex(p *corev1.Pod) int {
	i, err := strconv.Atoi(p.Annotations[IndexAnnotation])
	if err != nil {
		return -1
	}
	return i
}

// listPods lists the run's pods.
func (c *Coordinator) listPods(ctx context.Context) ([]corev1.Pod, error) {
	l, err := c.cs.CoreV1().Pods(c.spec.Namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelRun + "=" + c.spec.Name})
	if err != nil {
		return nil, kube.Err(err, kube.Call{Verb: "list", Resource: "pods", Namespace: c.spec.Namespace})
	}
	return l.Items, nil
}

// ErrStart is a run whose workers did not all start.
var ErrStart = errors.New("the workers did not start")

// WaitRunning waits until every worker's pod is Running, for at most
// timeout. A pod that cannot start — its image missing (ErrImageNeverPull,
// ImagePullBackOff…), its container failing — fails the wait at once with
// the kubelet's reason and message; pods still Pending at the timeout
// fail it with the scheduler's message. progress is called with each new
// state ("2 of 3 Running · pod x Pending: Unschedulable: 0/1 nodes…").
func (c *Coordinator) WaitRunning(ctx context.Context, timeout time.Duration, progress func(string)) error {
	var last string
	var fatal error
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		pods, err := c.listPods(ctx)
		if err != nil {
			if errors.Is(err, kube.ErrUnreachable) {
				return false, nil
			}
			return false, err
		}
		running := map[int]string{}
		var notes []string
		for i := range pods {
			p := &pods[i]
			idx := workerIndex(p)
			if idx < 0 {
				continue
			}
			ok, bad, pending := podState(p)
			switch {
			case bad != "":
				fatal = fmt.Errorf("%w: worker %d: %s", ErrStart, idx, bad)
				return false, fatal
			case ok:
				running[idx] = p.Name
			default:
				notes = append(notes, fmt.Sprintf("worker %d: %s", idx, pending))
			}
		}
		slices.Sort(notes)
		state := fmt.Sprintf("%d of %d workers Running", len(running), c.spec.Workers)
		if len(notes) > 0 {
			state += " · " + strings.Join(notes, " · ")
		}
		if state != last && progress != nil {
			progress(state)
		}
		last = state
		if len(running) == c.spec.Workers {
			c.pods = running
			return true, nil
		}
		return false, nil
	})
	switch {
	case fatal != nil:
		return fatal
	case err != nil && ctx.Err() == nil:
		return fmt.Errorf("%w in %s: %s", ErrStart, timeout, last)
	}
	return err
}

// Pods returns the workers' pods by index, once WaitRunning returned.
func (c *Coordinator) Pods() map[int]string { return c.pods }

// patch merges data into the run's ConfigMap.
func (c *Coordinator) patch(ctx context.Context, data map[string]string) error {
	b, err := json.Marshal(map[string]any{"data": data})
	if err != nil {
		return err
	}
	cm, err := c.cs.CoreV1().ConfigMaps(c.spec.Namespace).Patch(ctx, c.spec.Name, types.MergePatchType, b, metav1.PatchOptions{FieldManager: "cockpit"})
	if err != nil {
		return kube.Err(err, kube.Call{Verb: "patch", Resource: "configmaps", Namespace: c.spec.Namespace, Name: c.spec.Name})
	}
	if ctl, err := ParseControl(cm.Data); err == nil {
		c.mu.Lock()
		c.set = ctl
		c.mu.Unlock()
	}
	return nil
}

// Controls returns the run's controls as the ConfigMap held them after
// the coordinator's last change: paused or not, the rate and VUs set
// during the run (0: the test's own), stop and abort. The merged intervals
// cannot tell a pause; a cockpit that toggles it reads it here.
func (c *Coordinator) Controls() Control {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.set
}

// SetStart sets the shared start instant the workers wait for.
func (c *Coordinator) SetStart(ctx context.Context, at time.Time) error {
	return c.patch(ctx, map[string]string{KeyStart: FormatStart(at)})
}

// Stop tells every worker to stop gracefully.
func (c *Coordinator) Stop(ctx context.Context) error {
	return c.patch(ctx, map[string]string{KeyStop: "true"})
}

// Abort tells every worker to stop at once.
func (c *Coordinator) Abort(ctx context.Context) error {
	return c.patch(ctx, map[string]string{KeyAbort: "true"})
}

// SetPaused pauses or resumes every worker.
func (c *Coordinator) SetPaused(ctx context.Context, paused bool) error {
	return c.patch(ctx, map[string]string{KeyPaused: strconv.FormatBool(paused)})
}

// SetRate sets the whole run's rate; each worker takes its part.
func (c *Coordinator) SetRate(ctx context.Context, rate float64) error {
	return c.patch(ctx, map[string]string{KeyRate: strconv.FormatFloat(rate, 'g', -1, 64)})
}

// Update is what the merge produced since the last one.
type Update struct {
	// Intervals merged, in order.
	Intervals []loader.MergedInterval
	// Status says who is reporting.
	Status loader.MergeStatus
	// Notes are events worth telling: a worker lost, a log followed again.
	Notes []string
	// Done is set on the last update: every worker finished or is lost.
	// Final then holds the workers' final records merged.
	Done  bool
	Final loader.MergedInterval
	// Err ends the run: the merge failed.
	Err error
}

// workerLine is one line of a worker's log.
type workerLine struct {
	worker int
	line   []byte
}

// lostWorker is a worker whose pod failed or went.
type lostWorker struct {
	worker int
	reason string
}

// Follow follows every worker's log and merges the lines, from the shared
// start at on, sending an Update a second (and on every merged interval)
// until every worker has sent its final line or is lost, or until ctx is
// done. A broken log stream (the API server restarting) is followed again
// from its last line's time (sinceTime): the merger drops the repeats.
// While a stream is broken the coordinator is blind, not the worker
// silent: the merger's clock stands still (for at most MaxBlind), so no
// interval is emitted without a worker whose lines are only delayed, and
// none counts twice. A pod that fails, is evicted or deleted makes its
// worker lost, with the kubelet's reason, and the run goes on without it.
// A worker silent past the test's end (Planned, Grace and a margin, on the
// same clock) is lost too: the run never hangs on it. The channel is
// closed after the last update.
func (c *Coordinator) Follow(ctx context.Context, logs func(worker int, line []byte)) <-chan Update {
	out := make(chan Update, 16)
	lines := make(chan workerLine, 256)
	losts := make(chan lostWorker, c.spec.Workers)
	notes := make(chan string, 64)
	ctx, cancel := context.WithCancel(ctx)
	clock := newBlindClock(MaxBlind)
	for w, pod := range c.pods {
		go c.follow(ctx, w, pod, clock, lines, notes)
	}
	go c.watchPods(ctx, losts)
	go func() {
		defer close(out)
		defer cancel()
		m, err := loader.NewWorkerMerger(c.spec.Workers, loader.MergerOptions{Clock: clock})
		if err != nil {
			out <- Update{Err: err}
			return
		}
		started := clock.Now()
		endAfter := c.spec.Planned + c.spec.Grace + 30*time.Second
		ended := false
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		lost := map[int]bool{}
		for {
			var u Update
			var got []loader.MergedInterval
			var err error
			select {
			case l := <-lines:
				if logs != nil {
					logs(l.worker, l.line)
				}
				got, err = m.AddLine(l.line)
				if err != nil {
					u.Notes = append(u.Notes, fmt.Sprintf("worker %d: %v", l.worker, err))
					err = nil
				}
			case lw := <-losts:
				if !lost[lw.worker] {
					lost[lw.worker] = true
					clock.Forget(lw.worker) // its stream no longer holds the clock
					got, err = m.Lose(lw.worker, lw.reason)
					u.Notes = append(u.Notes, fmt.Sprintf("worker %d lost: %s", lw.worker, lw.reason))
				}
			case n := <-notes:
				u.Notes = append(u.Notes, n)
			case <-tick.C:
				got, err = m.Check()
				if !ended && clock.Now().Sub(started) > endAfter {
					ended = true
					for _, ws := range m.Status().Each {
						if ws.State != loader.WorkerDone && ws.State != loader.WorkerLost {
							more, _ := m.Lose(ws.Worker, "no final line by the end of the test")
							got = append(got, more...)
							u.Notes = append(u.Notes, fmt.Sprintf("worker %d lost: no final line by the end of the test", ws.Worker))
						}
					}
				}
			case <-ctx.Done():
				st := m.Status()
				final, _ := m.Final()
				out <- Update{Status: st, Done: true, Final: final, Err: ctx.Err()}
				return
			}
			u.Intervals, u.Status, u.Err = got, m.Status(), err
			over := true
			for _, ws := range u.Status.Each {
				over = over && (ws.State == loader.WorkerDone || ws.State == loader.WorkerLost)
			}
			if over {
				more, err := m.Check()
				u.Intervals = append(u.Intervals, more...)
				u.Err = errors.Join(u.Err, err)
				u.Final, err = m.Final()
				u.Err = errors.Join(u.Err, err)
				u.Done, u.Status = true, m.Status()
			}
			out <- u
			if u.Done || u.Err != nil {
				return
			}
		}
	}()
	return out
}

// MaxBlind bounds how long the merger's clock stands still while a log
// stream is broken: past it, a worker whose stream has not come back is
// silent, as one that stopped writing is.
const MaxBlind = 2 * time.Minute

// blindClock is the merger's clock: the wall clock, but standing still
// while some worker's log stream is broken and being followed again — the
// coordinator cannot see, which says nothing of the workers — for at most
// max per outage. It is safe for concurrent use: the followers mark their
// streams broken and mended, the merger reads it.
type blindClock struct {
	max time.Duration

	mu     sync.Mutex
	broken map[int]bool
	gone   map[int]bool  // lost workers: their streams no longer count
	since  time.Time     // when the first of the broken streams broke
	off    time.Duration // blind time of the outages over
	now    func() time.Time
}

func newBlindClock(max time.Duration) *blindClock {
	return &blindClock{max: max, broken: map[int]bool{}, gone: map[int]bool{}, now: time.Now}
}

// blind is how long the current outage has stopped the clock (0: none).
func (b *blindClock) blind(now time.Time) time.Duration {
	if len(b.broken) == 0 {
		return 0
	}
	return min(now.Sub(b.since), b.max)
}

// Now is the wall clock less the blind time.
func (b *blindClock) Now() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	return now.Add(-b.off - b.blind(now))
}

// Break marks worker's stream broken, Mend mended (a line came again, or
// its follower gave up). They report whether the outage began or ended.
func (b *blindClock) Break(worker int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.broken[worker] || b.gone[worker] {
		return false
	}
	began := len(b.broken) == 0
	if began {
		b.since = b.now()
	}
	b.broken[worker] = true
	return began
}

// Mend marks worker's stream mended; see Break.
func (b *blindClock) Mend(worker int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mend(worker)
}

// Forget mends worker's stream for good: the worker is lost, and the
// merger goes on without it whatever its stream does.
func (b *blindClock) Forget(worker int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gone[worker] = true
	b.mend(worker)
}

// Gone reports whether worker was forgotten: lost to the merger.
func (b *blindClock) Gone(worker int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gone[worker]
}

// mend is Mend, b.mu held.
func (b *blindClock) mend(worker int) bool {
	if !b.broken[worker] {
		return false
	}
	now := b.now()
	d := b.blind(now)
	delete(b.broken, worker)
	if len(b.broken) > 0 {
		return false
	}
	b.off += d
	return true
}

// NewTimer and NewTicker are the wall clock's: the merger reads Now only.
func (b *blindClock) NewTimer(d time.Duration) loader.Timer {
	return wallTimer{time.NewTimer(d)}
}

// NewTicker returns a wall-clock ticker.
func (b *blindClock) NewTicker(d time.Duration) loader.Ticker {
	return wallTicker{time.NewTicker(d)}
}

type wallTimer struct{ t *time.Timer }

func (t wallTimer) C() <-chan time.Time   { return t.t.C }
func (t wallTimer) Stop() bool            { return t.t.Stop() }
func (t wallTimer) Reset(d time.Duration) { t.t.Reset(d) }

type wallTicker struct{ t *time.Ticker }

func (t wallTicker) C() <-chan time.Time { return t.t.C }
func (t wallTicker) Stop()               { t.t.Stop() }

// follow streams one worker's log into lines until its final line, its
// pod's end, or ctx. A stream that ends before the final line is broken:
// the clock is told (Break) until a line comes again (Mend), and notes say
// when it broke and from when it was followed again.
func (c *Coordinator) follow(ctx context.Context, worker int, pod string, clock *blindClock, lines chan<- workerLine, notes chan<- string) {
	ns := c.spec.Namespace
	var since *metav1.Time
	final := false
	var broke time.Time
	var why error
	note := func(format string, args ...any) {
		select {
		case notes <- fmt.Sprintf(format, args...):
		case <-ctx.Done():
		}
	}
	defer func() {
		if clock.Mend(worker) {
			note("log streams: every one followed again or ended")
		}
	}()
	for attempt := 0; ctx.Err() == nil && !final; attempt++ {
		if attempt > 0 {
			if clock.Gone(worker) {
				return // lost: its pod failed or went, nothing waits for its stream
			}
			if broke.IsZero() {
				broke = time.Now()
				clock.Break(worker)
				note("worker %d: pod %s's log stream broke (%v): merging waits for it, following it again from %s",
					worker, pod, cmpErr(why, "it ended before the final line"), sinceText(since))
			}
			p, err := c.cs.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				return // the pod watch makes it lost
			case err == nil && (p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded) && attempt > 1:
				return // read once more after it ended: its whole log is in
			case err != nil || attempt > 1:
				RetryPause(ctx)
			}
			if attempt > 300 {
				note("worker %d: gave up following pod %s's log after %s", worker, pod, time.Since(broke).Round(time.Second))
				return
			}
		}
		rc, err := c.cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: "worker", Follow: true,
			Timestamps: true, SinceTime: since}).Stream(ctx)
		if err != nil {
			why = err
			continue
		}
		sc := bufio.NewScanner(rc)
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		for sc.Scan() {
			ts, rest, ok := bytes.Cut(sc.Bytes(), []byte(" "))
			if !ok {
				continue
			}
			t, terr := time.Parse(time.RFC3339Nano, string(ts))
			// sinceTime is inclusive: a stream followed again repeats its
			// last line. Only a line after it says the stream is back — a
			// dead container's log repeats that line and ends.
			if !broke.IsZero() && (terr != nil || since == nil || t.After(since.Time)) {
				if clock.Gone(worker) {
					rc.Close()
					return
				}
				note("worker %d: pod %s's log followed again from %s after %s; repeated lines are dropped",
					worker, pod, sinceText(since), time.Since(broke).Round(100*time.Millisecond))
				broke, why = time.Time{}, nil
				if clock.Mend(worker) {
					note("log streams: every one followed again")
				}
			}
			if terr == nil {
				since = &metav1.Time{Time: t}
			}
			if !bytes.HasPrefix(rest, []byte(loader.WorkerMarker)) {
				continue
			}
			final = final || bytes.Contains(rest, []byte(`,"final":{`))
			select {
			case lines <- workerLine{worker: worker, line: bytes.Clone(rest)}:
			case <-ctx.Done():
				rc.Close()
				return
			}
		}
		why = sc.Err()
		rc.Close()
	}
}

// sinceText is a log's sinceTime as the notes say it.
func sinceText(since *metav1.Time) string {
	if since == nil {
		return "its start"
	}
	return since.UTC().Format("15:04:05.000")
}

// cmpErr is err's text, or alt when err is nil.
func cmpErr(err error, alt string) string {
	if err == nil {
		return alt
	}
	return err.Error()
}

// watchPods reports the workers whose pods fail, are evicted or deleted
// before their final line, in the cluster's words (lostReason). It
// watches the run's pods — every change as it happens, so the state a pod
// had just before it went (an eviction's DisruptionTarget condition) is
// seen even when the pod is gone within a second — and lists them again
// whenever the watch ends (the API server restarting): a pod gone
// meanwhile is judged by the last state seen of it.
func (c *Coordinator) watchPods(ctx context.Context, losts chan<- lostWorker) {
	ns := c.spec.Namespace
	byPod := map[string]int{}
	for w, name := range c.pods {
		byPod[name] = w
	}
	told := map[int]bool{}
	last := map[string]*corev1.Pod{} // each worker's pod as last seen
	disrupted := map[string]string{} // its DisruptionTarget condition, once seen
	judge := func(p *corev1.Pod, gone bool) bool {
		w, ok := byPod[p.Name]
		if !ok || told[w] {
			return true
		}
		last[p.Name] = p
		if d := disruption(p); d != "" {
			disrupted[p.Name] = d
		}
		reason := lostReason(p, gone, disrupted[p.Name])
		if reason == "" {
			return true
		}
		told[w] = true
		select {
		case losts <- lostWorker{worker: w, reason: reason}:
			return true
		case <-ctx.Done():
			return false
		}
	}
	lo := metav1.ListOptions{LabelSelector: LabelRun + "=" + c.spec.Name}
	for ctx.Err() == nil {
		l, err := c.cs.CoreV1().Pods(ns).List(ctx, lo)
		if err != nil {
			RetryPause(ctx) // the API server restarting
			continue
		}
		seen := map[string]bool{}
		for i := range l.Items {
			seen[l.Items[i].Name] = true
			if !judge(&l.Items[i], false) {
				return
			}
		}
		for name := range byPod {
			if seen[name] {
				continue
			}
			p := last[name]
			if p == nil {
				p = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}}
			}
			if !judge(p, true) {
				return
			}
		}
		wo := lo
		wo.ResourceVersion = l.ResourceVersion
		w, err := c.cs.CoreV1().Pods(ns).Watch(ctx, wo)
		if err != nil {
			RetryPause(ctx)
			continue
		}
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				break // an error (resource version too old): list again
			}
			if !judge(p, ev.Type == watch.Deleted) {
				w.Stop()
				return
			}
		}
		w.Stop()
	}
}

// lostReason says why pod p no longer runs its worker, in the cluster's
// words, or "" while it does (or it ended by itself, Succeeded). gone is
// a pod deleted from the API server; p is then its last state seen. A pod
// evicted through the Eviction API (what kubectl drain does) is not
// marked Evicted: it is deleted gracefully (its container stopped, the
// kubelet ends it Failed with no reason), and only its DisruptionTarget
// condition says why (EvictionByEvictionAPI). A pod the kubelet evicted
// for node pressure fails with reason Evicted and the kubelet's message;
// a container the kernel killed for its memory limit terminates with
// OOMKilled and exit code 137. disrupted is the pod's DisruptionTarget
// condition as seen earlier, for a last state that no longer has it.
func lostReason(p *corev1.Pod, gone bool, disrupted string) string {
	var s string
	switch {
	case gone:
		s = fmt.Sprintf("pod %s deleted", p.Name)
	case p.DeletionTimestamp != nil:
		s = fmt.Sprintf("pod %s deleted", p.Name)
		if g := p.DeletionGracePeriodSeconds; g != nil {
			s += fmt.Sprintf(" (grace period %ds)", *g)
		}
	case p.Status.Phase == corev1.PodFailed:
		s = fmt.Sprintf("pod %s failed", p.Name)
	default:
		return ""
	}
	if p.Status.Reason != "" {
		s += ": " + p.Status.Reason // Evicted
		if m := strings.TrimSpace(p.Status.Message); m != "" {
			s += ": " + m
		}
	}
	if p.Status.Phase == corev1.PodFailed {
		for _, cs := range p.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil {
				s += fmt.Sprintf("; container %s terminated: %s, exit code %d", cs.Name, t.Reason, t.ExitCode) // OOMKilled, 137
				if m := strings.TrimSpace(t.Message); m != "" {
					s += ": " + m
				}
			}
		}
	}
	if d := cmp.Or(disruption(p), disrupted); d != "" {
		s += "; " + d
	}
	return s
}

// disruption is pod p's DisruptionTarget condition as the cluster wrote
// it ("DisruptionTarget: EvictionByEvictionAPI: Eviction API: evicting"),
// or "".
func disruption(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
			s := string(c.Type) + ": " + c.Reason
			if m := strings.TrimSpace(c.Message); m != "" {
				s += ": " + m
			}
			return s
		}
	}
	return ""
}

// Kinds lists what a run creates, as kubectl names them: Cleanup checks
// that none with the run's label is left.
var Kinds = []string{"jobs.batch", "pods", "configmaps", "serviceaccounts",
	"roles.rbac.authorization.k8s.io", "rolebindings.rbac.authorization.k8s.io"}

// Leftovers lists the run's objects that still exist, as kind/name.
func (c *Coordinator) Leftovers(ctx context.Context) ([]string, error) {
	ns := c.spec.Namespace
	lo := metav1.ListOptions{LabelSelector: LabelRun + "=" + c.spec.Name}
	var out []string
	add := func(kind string, names []string, err error) error {
		if err != nil {
			return kube.Err(err, kube.Call{Verb: "list", Resource: kind, Namespace: ns})
		}
		for _, n := range names {
			out = append(out, kind+"/"+n)
		}
		return nil
	}
	names := func(items []metav1.ObjectMeta) []string {
		var s []string
		for _, m := range items {
			s = append(s, m.Name)
		}
		return s
	}
	jobs, err := c.cs.BatchV1().Jobs(ns).List(ctx, lo)
	var metas []metav1.ObjectMeta
	if err == nil {
		for _, o := range jobs.Items {
			metas = append(metas, o.ObjectMeta)
		}
	}
	if err := add("jobs.batch", names(metas), err); err != nil {
		return out, err
	}
	pods, err := c.cs.CoreV1().Pods(ns).List(ctx, lo)
	metas = nil
	if err == nil {
		for _, o := range pods.Items {
			metas = append(metas, o.ObjectMeta)
		}
	}
	if err := add("pods", names(metas), err); err != nil {
		return out, err
	}
	cms, err := c.cs.CoreV1().ConfigMaps(ns).List(ctx, lo)
	metas = nil
	if err == nil {
		for _, o := range cms.Items {
			metas = append(metas, o.ObjectMeta)
		}
	}
	if err := add("configmaps", names(metas), err); err != nil {
		return out, err
	}
	sas, err := c.cs.CoreV1().ServiceAccounts(ns).List(ctx, lo)
	metas = nil
	if err == nil {
		for _, o := range sas.Items {
			metas = append(metas, o.ObjectMeta)
		}
	}
	if err := add("serviceaccounts", names(metas), err); err != nil {
		return out, err
	}
	roles, err := c.cs.RbacV1().Roles(ns).List(ctx, lo)
	metas = nil
	if err == nil {
		for _, o := range roles.Items {
			metas = append(metas, o.ObjectMeta)
		}
	}
	if err := add("roles.rbac.authorization.k8s.io", names(metas), err); err != nil {
		return out, err
	}
	rbs, err := c.cs.RbacV1().RoleBindings(ns).List(ctx, lo)
	metas = nil
	if err == nil {
		for _, o := range rbs.Items {
			metas = append(metas, o.ObjectMeta)
		}
	}
	return out, add("rolebindings.rbac.authorization.k8s.io", names(metas), err)
}

// EndGrace bounds how long Cleanup lets a started run's pods end by
// themselves before it deletes them: a worker that wrote its final line
// (its test over, stopped or aborted) exits, and the kubelet reports its
// pod Succeeded a moment later.
const EndGrace = 10 * time.Second

// Cleanup deletes everything the run created — the Job (its pods with
// it, in the background), the RoleBinding, Role, ServiceAccount and
// ConfigMap — and waits, for at most timeout, until nothing with the
// run's label is left. An error names what is left. When every worker
// had started, their pods are first given EndGrace to end by themselves,
// so a run that ended is not cut short in its last moment and its Job
// completes as the cluster sees it.
func (c *Coordinator) Cleanup(ctx context.Context, timeout time.Duration) error {
	if c.spec.Workers > 0 && len(c.pods) == c.spec.Workers {
		c.awaitEnded(ctx, EndGrace)
	}
	ns, name := c.spec.Namespace, c.spec.Name
	bg := metav1.DeletePropagationBackground
	del := metav1.DeleteOptions{PropagationPolicy: &bg}
	call := func(res string) kube.Call { return kube.Call{Verb: "delete", Resource: res, Namespace: ns, Name: name} }
	var errs []error
	keep := func(res string, err error) {
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, kube.Err(err, call(res)))
		}
	}
	keep("jobs.batch", c.cs.BatchV1().Jobs(ns).Delete(ctx, name, del))
	keep("rolebindings.rbac.authorization.k8s.io", c.cs.RbacV1().RoleBindings(ns).Delete(ctx, name, del))
	keep("roles.rbac.authorization.k8s.io", c.cs.RbacV1().Roles(ns).Delete(ctx, name, del))
	keep("serviceaccounts", c.cs.CoreV1().ServiceAccounts(ns).Delete(ctx, name, del))
	keep("configmaps", c.cs.CoreV1().ConfigMaps(ns).Delete(ctx, name, del))
	var left []string
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		var err error
		left, err = c.Leftovers(ctx)
		return err == nil && len(left) == 0, nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("still there after %s: %s", timeout, strings.Join(left, ", ")))
	}
	return errors.Join(errs...)
}

// awaitEnded waits, for at most d, until every worker's pod has ended
// (Succeeded or Failed) or is gone. An API error is waited through: the
// deletion that follows says what is left.
func (c *Coordinator) awaitEnded(ctx context.Context, d time.Duration) {
	_ = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, d, true, func(ctx context.Context) (bool, error) {
		pods, err := c.listPods(ctx)
		if err != nil {
			return false, nil
		}
		phase := map[string]corev1.PodPhase{}
		for i := range pods {
			phase[pods[i].Name] = pods[i].Status.Phase
		}
		for _, name := range c.pods {
			if p, ok := phase[name]; ok && p != corev1.PodSucceeded && p != corev1.PodFailed {
				return false, nil
			}
		}
		return true, nil
	})
}

// RetryPause waits a second before an API call is tried again (the API
// server restarting), or until ctx is done; the coordinator and the
// workers both use it. Callers bound their retries.
func RetryPause(ctx context.Context) {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
