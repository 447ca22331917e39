package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/cockpit-dev/cockpit/internal/distload"
	"github.com/cockpit-dev/cockpit/internal/realcluster"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/signoff"
)

// distRunbook is a runbook of one distributed load step, "peak": an
// open model at rate for secs against gravl in ns, on workers workers of
// image; extra is added to its workers: block ("minWorkers: 3").
func distRunbook(t *testing.T, ns, image string, workers, rate, secs int, extra string) string {
	t.Helper()
	if extra != "" {
		extra = ", " + extra
	}
	return rigRunbook(t, map[string]string{"runbook.yaml": fmt.Sprintf(`apiVersion: cockpit/v1
kind: Runbook
metadata: {name: distributed-faults}
clusters:
  rig: {context: realcluster, namespace: %[1]s}
phases:
- id: load
  steps:
  - id: peak
    load:
      executor: constant-arrival-rate
      rate: %[4]d
      duration: %[5]ds
      baseURL: http://gravl.%[1]s.svc.cluster.local:8080
      requests: [{url: /}]
      thresholds: {http_req_failed: ["rate<0.01"]}
      workers: {count: %[3]d, cluster: rig, namespace: %[1]s, image: %[2]s, imagePullPolicy: Never%[6]s}
`, ns, image, workers, rate, secs, extra)})
}

// journalEvents reads a journal that may be being written: nil while its
// last line is torn or it does not exist yet.
func journalEvents(path string) []runbook.At {
	rr, err := runbook.ReadJournal(path)
	if err != nil {
		return nil
	}
	evs, err := rr.Events()
	if err != nil {
		return nil
	}
	return evs
}

// journaled returns a journal's events of type T.
func journaled[T runbook.Event](evs []runbook.At) []T {
	var out []T
	for _, at := range evs {
		if e, ok := at.Event.(T); ok {
			out = append(out, e)
		}
	}
	return out
}

// completeIntervals counts step's journaled load.interval events merged
// from all of workers workers.
func completeIntervals(evs []runbook.At, step string, workers int) int {
	n := 0
	for _, iv := range journaled[runbook.LoadInterval](evs) {
		if iv.Step == step && iv.Merged == workers && len(iv.Missing) == 0 {
			n++
		}
	}
	return n
}

// workerPod returns the name of worker index's pod of run (any run when
// run is "").
func workerPod(ctx context.Context, c *realcluster.Cluster, ns, run string, index int) (string, error) {
	sel := distload.LabelRun
	if run != "" {
		sel += "=" + run
	}
	pods, err := c.Typed.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return "", err
	}
	for _, p := range pods.Items {
		if p.Annotations[distload.IndexAnnotation] == fmt.Sprint(index) && p.DeletionTimestamp == nil {
			return p.Name, nil
		}
	}
	return "", fmt.Errorf("no pod of worker %d among %d", index, len(pods.Items))
}

// podEnd is what the test itself saw of a pod until it was gone: its
// DisruptionTarget condition, its last phase and whether it was marked
// for deletion.
type podEnd struct {
	mu         sync.Mutex
	disruption *corev1.PodCondition
	phase      corev1.PodPhase
	reason     string
	term       *corev1.ContainerStateTerminated // its container's end
	deleting   bool
	gone       bool
}

// watchPodEnd records what the API server says of pod name until it is
// deleted or ctx is done.
func watchPodEnd(t *testing.T, ctx context.Context, c *realcluster.Cluster, ns, name string) *podEnd {
	t.Helper()
	w, err := c.Typed.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
	if err != nil {
		t.Fatal(err)
	}
	pe := &podEnd{}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				return
			}
			pe.mu.Lock()
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.DisruptionTarget {
					pe.disruption = cond.DeepCopy()
				}
			}
			pe.phase, pe.reason = p.Status.Phase, p.Status.Reason
			for _, cs := range p.Status.ContainerStatuses {
				if cs.State.Terminated != nil {
					pe.term = cs.State.Terminated.DeepCopy()
				}
			}
			pe.deleting = pe.deleting || p.DeletionTimestamp != nil
			pe.gone = ev.Type == watch.Deleted
			pe.mu.Unlock()
			if ev.Type == watch.Deleted {
				return
			}
		}
	}()
	return pe
}

// TestDistributedLoadFaultsOnRealCluster: the failure modes of a
// runbook's distributed load step, induced for real on the rig.
//
//   - A worker's pod evicted mid-run through the Eviction API (what
//     kubectl drain does): the run goes on with the other two, the
//     coordinator tells which worker was lost in the cluster's words (the
//     pod's DisruptionTarget condition, as the test itself saw it), the
//     sign-off says "2 of 3 workers reporting" and INCOMPLETE, and the
//     intervals merged without the worker are journaled with it missing.
//   - The same with minWorkers: 3: the step fails, with the reason.
//   - The cockpit killed (SIGKILL) while its workers run: the same command
//     again deletes the dead run's objects, journals it, runs the step
//     again under a new run name, and passes; nothing of either run is
//     left. The dead run's Job carried its backstops, activeDeadlineSeconds
//     and ttlSecondsAfterFinished.
func TestDistributedLoadFaultsOnRealCluster(t *testing.T) {
	c := realcluster.Start(t)
	ns := c.Namespace(t)
	image, bin := workerImageAndBinary(t, c) // before HOME moves: the build uses this machine's module cache
	t.Setenv("HOME", t.TempDir())
	deployGravl(t, c, ns)
	t.Cleanup(func() {
		if left := runLeftovers(t, c, ns); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})

	// evictMidRun runs the runbook in-process, evicts worker 1's pod once
	// two complete intervals are journaled, and returns the exit code, the
	// journal's events, what the test saw of the pod, and its name.
	evictMidRun := func(t *testing.T, rb string) (int, []runbook.At, *podEnd, string, string) {
		t.Helper()
		journal := filepath.Join(t.TempDir(), "journal.jsonl")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		r := startDist(ctx, "run", rb, "--kubeconfig", c.Kubeconfig, "--journal", journal, "--operator", "ci",
			"--allow-actions", "--auto-confirm-actions")
		defer func() {
			cancel()
			<-r.done
		}()
		var run string
		if err := realclusterWait(ctx, "two complete intervals journaled", func() error {
			select {
			case <-r.done:
				return nil
			default:
			}
			evs := journalEvents(journal)
			for _, ch := range journaled[runbook.LoadWorkersChanged](evs) {
				if ch.What == runbook.LoadCreated {
					_, run, _ = strings.Cut(ch.Run, "/")
				}
			}
			if n := completeIntervals(evs, "peak", 3); n < 2 {
				return fmt.Errorf("%d", n)
			}
			return nil
		}); err != nil {
			t.Fatalf("%v\n%s", err, r.stderr.String())
		}
		select {
		case <-r.done:
			t.Fatalf("the run ended before the eviction: exit %d\n%s%s", r.code, r.stdout, r.stderr.String())
		default:
		}
		victim, err := workerPod(ctx, c, ns, run, 1)
		if err != nil {
			t.Fatal(err)
		}
		pe := watchPodEnd(t, ctx, c, ns, victim)
		evicted := time.Now()
		if err := c.Typed.PolicyV1().Evictions(ns).Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: victim, Namespace: ns}}); err != nil {
			t.Fatalf("evict %s: %v", victim, err)
		}
		select {
		case <-r.done:
		case <-ctx.Done():
			t.Fatalf("the run did not end\n%s", r.stderr.String())
		}
		t.Logf("exit %d %s after the eviction of %s\n%s%s", r.code, time.Since(evicted).Round(100*time.Millisecond), victim, r.stdout, r.stderr.String())
		return r.code, journalEvents(journal), pe, victim, journal
	}

	// lostOf is the step's verdict and worker 1's loss in it.
	lostOf := func(t *testing.T, evs []runbook.At) (runbook.LoadResult, runbook.LostWorker) {
		t.Helper()
		results := journaled[runbook.LoadResult](evs)
		if len(results) != 1 || results[0].Workers == nil {
			t.Fatalf("load results %+v: want one, with its workers", results)
		}
		res := results[0]
		for _, l := range res.Workers.Lost {
			if l.Worker == 1 {
				return res, l
			}
		}
		t.Fatalf("workers %s: worker 1 not lost", res.Workers)
		return res, runbook.LostWorker{}
	}

	// inClusterWords checks that reason tells the eviction as the API
	// server did: the pod deleted, its DisruptionTarget condition's reason
	// and message as the test saw them — and not as a Failed or Evicted
	// pod, which an Eviction API eviction does not make.
	inClusterWords := func(t *testing.T, reason, victim string, pe *podEnd) {
		t.Helper()
		pe.mu.Lock()
		defer pe.mu.Unlock()
		t.Logf("the pod as the test saw it: deleting %v, gone %v, last phase %s (reason %q), DisruptionTarget %+v",
			pe.deleting, pe.gone, pe.phase, pe.reason, pe.disruption)
		if pe.disruption == nil || pe.reason == "Evicted" {
			t.Fatalf("the API server did not evict %s as the Eviction API does (DisruptionTarget %+v, reason %q)", victim, pe.disruption, pe.reason)
		}
		for _, want := range []string{"pod " + victim + " deleted", pe.disruption.Reason, pe.disruption.Message} {
			if !strings.Contains(reason, want) {
				t.Errorf("lost worker's reason %q lacks the cluster's %q", reason, want)
			}
		}
		if strings.Contains(reason, "Evicted") || strings.Contains(reason, "failed") {
			t.Errorf("lost worker's reason %q says more than the cluster did", reason)
		}
	}

	t.Run("a worker OOM-killed: the kernel's kill in the lost worker's note", func(t *testing.T) {
		// Worker 1's pod alone gets a memory limit, set by a
		// MutatingAdmissionPolicy of the test's as the Job controller
		// creates it; the test ramps a closed model's VUs (each one a
		// goroutine, a keep-alive connection and its buffers, about 18 KiB)
		// until that worker outgrows its limit and the kernel kills it.
		const limit = "48Mi"
		oomPolicy(t, c, ns, limit)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		r := startDist(ctx, "load", "--kubeconfig", c.Kubeconfig, "-n", ns, "--image", image, "--image-pull-policy", "Never",
			"--workers", "2", "--stages", "2s:20,10s:6000", "--think-time", "20s", "--allow-actions", "--yes",
			fmt.Sprintf("http://gravl.%s.svc.cluster.local:8080/", ns))
		defer func() {
			cancel()
			<-r.done
		}()
		var victim string
		if err := realclusterWait(ctx, "worker 1's pod", func() error {
			var err error
			victim, err = workerPod(ctx, c, ns, "", 1)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		pe := watchPodEnd(t, ctx, c, ns, victim)
		p, err := c.Typed.CoreV1().Pods(ns).Get(ctx, victim, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Spec.Containers[0].Resources.Limits.Memory().String(); got != limit {
			t.Fatalf("worker 1's pod %s has a memory limit of %s, want the policy's %s", victim, got, limit)
		}
		select {
		case <-r.done:
		case <-ctx.Done():
			t.Fatalf("the run did not end\n%s", r.stderr.String())
		}
		stderr := r.stderr.String()
		t.Logf("exit %d\n%s%s", r.code, r.stdout, stderr)
		// The kernel's kill, as the kubelet reported it on the pod.
		pe.mu.Lock()
		term := pe.term
		pe.mu.Unlock()
		if term == nil || term.Reason != "OOMKilled" || term.ExitCode != 137 {
			t.Fatalf("worker 1's pod %s ended %+v: not OOM-killed", victim, term)
		}
		t.Logf("the kubelet's word on pod %s: container terminated %s, exit code %d, at %s", victim, term.Reason, term.ExitCode, term.FinishedAt.UTC().Format("15:04:05"))
		want := fmt.Sprintf("worker 1 lost: pod %s failed; container worker terminated: OOMKilled, exit code 137", victim)
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
		for _, w := range []string{"1 of 2 workers reporting", "not the whole test's"} {
			if !strings.Contains(stderr, w) {
				t.Errorf("stderr lacks %q", w)
			}
		}
		if strings.Contains(stderr, "worker 0 lost") {
			t.Errorf("worker 0, without a limit, was lost too")
		}
		if r.code != exitWarned {
			t.Errorf("exit %d, want %d (passed, with a worker lost)", r.code, exitWarned)
		}
	})

	t.Run("a worker evicted: the run goes on with 2 of 3", func(t *testing.T) {
		t.Parallel()
		code, evs, pe, victim, journal := evictMidRun(t, distRunbook(t, ns, image, 3, 60, 14, ""))
		if code != exitWarned {
			t.Errorf("exit %d, want %d (passed, with a worker lost)", code, exitWarned)
		}
		res, lost := lostOf(t, evs)
		inClusterWords(t, lost.Reason, victim, pe)
		if res.Result.Status != probes.StatusWarn || res.Workers.Reporting != 2 || res.Workers.Incomplete == 0 {
			t.Errorf("verdict %s, workers %s: want a warning, 2 of 3 reporting, intervals incomplete", res.Result.Status, res.Workers)
		}
		// Every interval from the loss on was merged without worker 1,
		// and journaled so.
		without := 0
		for _, iv := range journaled[runbook.LoadInterval](evs) {
			switch {
			case iv.Interval.Index >= lost.From && (!slices.Contains(iv.Missing, 1) || iv.Merged != 2):
				t.Errorf("interval %d, after the loss from %d: merged %d, missing %v", iv.Interval.Index, lost.From, iv.Merged, iv.Missing)
			case iv.Interval.Index >= lost.From:
				without++
			case iv.Merged != 3:
				t.Errorf("interval %d, before the loss: merged %d of 3", iv.Interval.Index, iv.Merged)
			}
		}
		if without < 3 {
			t.Errorf("%d intervals merged without worker 1: the run did not go on", without)
		}
		r, err := signoff.FromJournal(journal)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Loads) != 1 {
			t.Fatalf("sign-off loads %+v", r.Loads)
		}
		line := r.Loads[0].WorkersLine()
		t.Logf("sign-off: %s; %s", r.Verdict, line)
		for _, want := range []string{"2 of 3 workers reporting", fmt.Sprintf("worker 1 lost from interval %d (%s)", lost.From, lost.Reason),
			fmt.Sprintf("%d of", res.Workers.Incomplete), "INCOMPLETE: these figures are not the whole test's"} {
			if !strings.Contains(line, want) {
				t.Errorf("the sign-off's workers line lacks %q", want)
			}
		}
		if r.Verdict != signoff.VerdictGoWarnings {
			t.Errorf("sign-off verdict %s, want %s", r.Verdict, signoff.VerdictGoWarnings)
		}
	})

	t.Run("a worker evicted with minWorkers 3: the step fails", func(t *testing.T) {
		t.Parallel()
		code, evs, pe, victim, journal := evictMidRun(t, distRunbook(t, ns, image, 3, 60, 40, "minWorkers: 3"))
		if code != exitFailed {
			t.Errorf("exit %d, want %d", code, exitFailed)
		}
		res, lost := lostOf(t, evs)
		inClusterWords(t, lost.Reason, victim, pe)
		if res.Result.Status != probes.StatusFail || !strings.Contains(res.Result.Message, "minWorkers: 2 of 3 workers left, fewer than minWorkers 3") ||
			!strings.Contains(res.Result.Message, lost.Reason) {
			t.Errorf("verdict %s: %s\nwant fail, naming minWorkers and the reason %q", res.Result.Status, res.Result.Message, lost.Reason)
		}
		if n := len(journaled[runbook.LoadInterval](evs)); n >= 40 {
			t.Errorf("%d intervals journaled: the run was not cut short", n)
		}
		r, err := signoff.FromJournal(journal)
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != signoff.VerdictNoGo {
			t.Errorf("sign-off verdict %s, want %s", r.Verdict, signoff.VerdictNoGo)
		}
	})

	t.Run("the cockpit killed, then resumed", func(t *testing.T) {
		t.Parallel()
		rb := distRunbook(t, ns, image, 2, 40, 8, "")
		journal := filepath.Join(t.TempDir(), "journal.jsonl")
		home := t.TempDir()
		args := []string{"run", rb, "--kubeconfig", c.Kubeconfig, "--journal", journal, "--operator", "ci",
			"--allow-actions", "--auto-confirm-actions"}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		var out1 bytes.Buffer
		first := exec.Command(bin, args...)
		first.Env = append(os.Environ(), "HOME="+home, "KUBECONFIG=")
		first.Stdout, first.Stderr = &out1, &out1
		if err := first.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- first.Wait() }()
		// The workers run: the run's objects are created (journaled) and
		// a first interval merged from both of them.
		var old string
		if err := realclusterWait(ctx, "the workers running", func() error {
			select {
			case err := <-exited:
				exited <- err
				return nil
			default:
			}
			evs := journalEvents(journal)
			for _, ch := range journaled[runbook.LoadWorkersChanged](evs) {
				if ch.What == runbook.LoadCreated {
					_, old, _ = strings.Cut(ch.Run, "/")
				}
			}
			if old == "" || completeIntervals(evs, "peak", 2) < 1 {
				return errors.New("not yet")
			}
			return nil
		}); err != nil {
			_ = first.Process.Kill()
			t.Fatalf("%v\n%s", err, out1.String())
		}
		select {
		case err := <-exited:
			t.Fatalf("the cockpit ended (%v) before it was killed\n%s", err, out1.String())
		default:
		}
		if err := first.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-exited
		t.Logf("killed the cockpit (pid %d) with run %s's workers running", first.Process.Pid, old)
		// What the dead cockpit left runs on, within its backstops.
		job, err := c.Typed.BatchV1().Jobs(ns).Get(ctx, old, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("the dead run's Job: %v", err)
		}
		checkBackstops(t, job)
		oldCoord := distload.Orphan(c.Typed, ns, old)
		left, err := oldCoord.Leftovers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("left by the dead cockpit: %v", left)
		for _, kind := range []string{"jobs.batch/", "configmaps/", "serviceaccounts/", "roles.rbac.authorization.k8s.io/", "rolebindings.rbac.authorization.k8s.io/"} {
			if !slices.ContainsFunc(left, func(s string) bool { return s == kind+old }) {
				t.Errorf("the dead run's %s%s is not there: nothing for the resume to find", kind, old)
			}
		}

		// The same command again resumes the journal.
		var out2 bytes.Buffer
		second := exec.CommandContext(ctx, bin, args...)
		second.Env = append(os.Environ(), "HOME="+home, "KUBECONFIG=")
		second.Stdout, second.Stderr = &out2, &out2
		err = second.Run()
		t.Logf("resumed: %v\n%s", err, out2.String())
		if err != nil {
			t.Errorf("the resumed run failed: %v", err)
		}
		evs := journalEvents(journal)
		if evs == nil {
			t.Fatal("the journal does not read")
		}
		if n := len(journaled[runbook.Resumed](evs)); n != 1 {
			t.Errorf("%d run.resumed events, want 1", n)
		}
		var orphans *runbook.LoadWorkersChanged
		var runs []string
		for _, ch := range journaled[runbook.LoadWorkersChanged](evs) {
			switch ch.What {
			case runbook.LoadOrphansDeleted:
				orphans = &ch
			case runbook.LoadCreated:
				runs = append(runs, ch.Run)
			}
		}
		if orphans == nil || orphans.Run != ns+"/"+old || orphans.Result.Status != probes.StatusPass {
			t.Fatalf("the dead run's deletion journaled as %+v, want %s/%s deleted", orphans, ns, old)
		}
		deleted := map[string]bool{}
		for _, o := range orphans.Result.Objects {
			if o.Op == "deleted" {
				deleted[strings.SplitN(o.Ref, "/", 2)[0]] = true
			}
		}
		for _, kind := range []string{"jobs.batch", "configmaps", "serviceaccounts", "roles.rbac.authorization.k8s.io", "rolebindings.rbac.authorization.k8s.io"} {
			if !deleted[kind] {
				t.Errorf("the journaled deletion of the dead run lacks its %s (%+v)", kind, orphans.Result.Objects)
			}
		}
		if len(runs) != 2 || runs[1] == runs[0] {
			t.Fatalf("runs created %v: want the dead one and a new one", runs)
		}
		_, again, _ := strings.Cut(runs[1], "/")
		results := journaled[runbook.LoadResult](evs)
		if len(results) != 1 || results[0].Result.Status != probes.StatusPass || results[0].Workers == nil ||
			results[0].Workers.Run != runs[1] || !results[0].Workers.Complete() {
			t.Errorf("load results %+v: want the new run %s passed, complete", results, runs[1])
		}
		r, err := signoff.FromJournal(journal)
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != signoff.VerdictGo {
			t.Errorf("sign-off verdict %s (%s), want %s", r.Verdict, r.Reason, signoff.VerdictGo)
		}
		for _, name := range []string{old, again} {
			left, err := distload.Orphan(c.Typed, ns, name).Leftovers(ctx)
			if err != nil || len(left) > 0 {
				t.Errorf("run %s: left %v (%v)", name, left, err)
			}
		}
	})
}

// checkBackstops checks a run's Job for what ends it when no cockpit is
// there to: a deadline and a time to live after it finished.
func checkBackstops(t *testing.T, job *batchv1.Job) {
	t.Helper()
	s := job.Spec
	if s.ActiveDeadlineSeconds == nil || *s.ActiveDeadlineSeconds <= 0 || s.TTLSecondsAfterFinished == nil || *s.TTLSecondsAfterFinished <= 0 {
		t.Errorf("job %s: activeDeadlineSeconds %v, ttlSecondsAfterFinished %v: want both set", job.Name, s.ActiveDeadlineSeconds, s.TTLSecondsAfterFinished)
		return
	}
	t.Logf("job %s: activeDeadlineSeconds %d, ttlSecondsAfterFinished %d", job.Name, *s.ActiveDeadlineSeconds, *s.TTLSecondsAfterFinished)
}

// oomPolicy sets the memory limit of every worker 1's pod created in ns
// while the test runs, with a MutatingAdmissionPolicy and its binding
// (deleted at the end of the test).
func oomPolicy(t *testing.T, c *realcluster.Cluster, ns, limit string) {
	t.Helper()
	ctx := context.Background()
	name := "cockpit-test-oom-" + ns
	fail := admissionregistrationv1.Fail
	never := admissionregistrationv1.NeverReinvocationPolicy
	pol := &admissionregistrationv1.MutatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.MutatingAdmissionPolicySpec{
			FailurePolicy:      &fail,
			ReinvocationPolicy: never,
			MatchConstraints: &admissionregistrationv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}}},
			},
			MatchConditions: []admissionregistrationv1.MatchCondition{{Name: "worker-1",
				Expression: fmt.Sprintf(`has(object.metadata.labels) && %q in object.metadata.labels && object.metadata.labels[%q] == "1" && %q in object.metadata.labels`,
					batchv1.JobCompletionIndexAnnotation, batchv1.JobCompletionIndexAnnotation, distload.LabelRun)}},
			Mutations: []admissionregistrationv1.Mutation{{PatchType: admissionregistrationv1.PatchTypeJSONPatch,
				JSONPatch: &admissionregistrationv1.JSONPatch{Expression: fmt.Sprintf(
					`[JSONPatch{op: "add", path: "/spec/containers/0/resources", value: {"limits": {"memory": %q}}}]`, limit)}}},
		}}
	if _, err := c.Typed.AdmissionregistrationV1().MutatingAdmissionPolicies().Create(ctx, pol, metav1.CreateOptions{}); err != nil {
		t.Fatalf("mutating admission policy: %v", err)
	}
	t.Cleanup(func() {
		_ = c.Typed.AdmissionregistrationV1().MutatingAdmissionPolicies().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	b := &admissionregistrationv1.MutatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.MutatingAdmissionPolicyBindingSpec{PolicyName: name}}
	if _, err := c.Typed.AdmissionregistrationV1().MutatingAdmissionPolicyBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatalf("mutating admission policy binding: %v", err)
	}
	t.Cleanup(func() {
		_ = c.Typed.AdmissionregistrationV1().MutatingAdmissionPolicyBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	// In effect once the API server mutates a worker 1's pod (a dry run).
	probe := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "oom-probe-", Namespace: ns,
		Labels: map[string]string{batchv1.JobCompletionIndexAnnotation: "1", distload.LabelRun: "probe"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "worker", Image: realcluster.BusyboxImage}}}}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := realclusterWait(wctx, "the policy in effect", func() error {
		p, err := c.Typed.CoreV1().Pods(ns).Create(wctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return err
		}
		if got := p.Spec.Containers[0].Resources.Limits.Memory().String(); got != limit {
			return fmt.Errorf("a dry-run pod's limit is %s", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
