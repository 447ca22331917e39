package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/cockpit-dev/cockpit/internal/distload"
	"github.com/cockpit-dev/cockpit/internal/realcluster"
	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/report"
)

// workerImage builds this checkout's cockpit binary (CGO off, -trimpath)
// into an image tarball with the rig's mkimage — the same reproducible,
// Dockerfile-free build as `make image` — and imports it into the node
// under a tag of its own: the rig's shared cockpit image may be another
// checkout's.
func workerImage(t *testing.T, c *realcluster.Cluster) string {
	t.Helper()
	tag, _ := workerImageAndBinary(t, c)
	return tag
}

// workerImageAndBinary is workerImage, and the binary it holds (in a
// directory of the test's).
func workerImageAndBinary(t *testing.T, c *realcluster.Cluster) (tag, bin string) {
	t.Helper()
	dir := t.TempDir()
	bin = filepath.Join(dir, "cockpit")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tag = fmt.Sprintf("cockpit.local/cockpit-distjob:t%d", time.Now().UnixNano())
	tarball := filepath.Join(dir, "cockpit.tar")
	mk := exec.Command(filepath.Join(realcluster.Dir(), "tools", "mkimage"), "-tag", tag, "-o", tarball,
		"-entrypoint", "/cockpit", "/cockpit="+bin)
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("mkimage: %v\n%s", err, out)
	}
	if err := c.ImportImage(tarball); err != nil {
		t.Fatal(err)
	}
	return tag, bin
}

// deployGravl runs the reference target as Deployment and Service "gravl".
func deployGravl(t *testing.T, c *realcluster.Cluster, ns string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	labels := map[string]string{"app": "gravl"}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "gravl", Namespace: ns}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To(int32(1)), Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To(int64(1)),
			Containers: []corev1.Container{{Name: "gravl", Image: realcluster.GravlImage, ImagePullPolicy: corev1.PullNever,
				Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				ReadinessProbe: &corev1.Probe{PeriodSeconds: 1, ProbeHandler: corev1.ProbeHandler{
					HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080)}}}}}}}}}
	if _, err := c.Typed.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "gravl", Namespace: ns}, Spec: corev1.ServiceSpec{
		Selector: labels, Ports: []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(8080)}}}}
	if _, err := c.Typed.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := realcluster.WaitDeploymentAvailable(ctx, c.Typed, ns, "gravl"); err != nil {
		t.Fatal(err)
	}
}

// runLeftovers lists every object of any load run left in ns.
func runLeftovers(t *testing.T, c *realcluster.Cluster, ns string) []string {
	t.Helper()
	ctx := context.Background()
	lo := metav1.ListOptions{LabelSelector: distload.LabelRun}
	var left []string
	add := func(kind string, n int, err error) {
		if err != nil {
			t.Fatalf("list %s: %v", kind, err)
		}
		if n > 0 {
			left = append(left, fmt.Sprintf("%d %s", n, kind))
		}
	}
	jobs, err := c.Typed.BatchV1().Jobs(ns).List(ctx, lo)
	add("jobs", len(jobs.Items), err)
	pods, err := c.Typed.CoreV1().Pods(ns).List(ctx, lo)
	add("pods", len(pods.Items), err)
	cms, err := c.Typed.CoreV1().ConfigMaps(ns).List(ctx, lo)
	add("configmaps", len(cms.Items), err)
	sas, err := c.Typed.CoreV1().ServiceAccounts(ns).List(ctx, lo)
	add("serviceaccounts", len(sas.Items), err)
	roles, err := c.Typed.RbacV1().Roles(ns).List(ctx, lo)
	add("roles", len(roles.Items), err)
	rbs, err := c.Typed.RbacV1().RoleBindings(ns).List(ctx, lo)
	add("rolebindings", len(rbs.Items), err)
	return left
}

// finalsOf reads the workers' final lines kept by --worker-logs.
func finalsOf(t *testing.T, dir string, n int) []loader.Interval {
	t.Helper()
	var out []loader.Interval
	for w := 0; w < n; w++ {
		f, err := os.Open(filepath.Join(dir, fmt.Sprintf("worker-%d.log", w)))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			l, ok, err := loader.DecodeWorkerLine(sc.Bytes())
			if !ok || err != nil {
				t.Fatalf("worker %d: line %.80q: %v", w, sc.Text(), err)
			}
			if l.Final != nil {
				out = append(out, l.Final.Total)
			}
		}
		f.Close()
	}
	return out
}

// TestDistributedLoadOnRealCluster: `cockpit load --workers 3` runs the
// test from this checkout's image in three pods of an Indexed Job against
// the reference target in the cluster; the delivered rate is within 2 %
// of the target, the merged percentiles are exactly those of the workers'
// own final histograms merged, and nothing of the run is left; a load
// file's workers: runs the same way. Then the failure modes: a missing image, a worker too big for the node, a worker
// pod deleted mid-run.
func TestDistributedLoadOnRealCluster(t *testing.T) {
	c := realcluster.Start(t)
	ns := c.Namespace(t)
	image := workerImage(t, c)
	deployGravl(t, c, ns)
	url := fmt.Sprintf("http://gravl.%s.svc.cluster.local:8080/", ns)
	base := []string{"load", "--kubeconfig", c.Kubeconfig, "-n", ns, "--image", image, "--image-pull-policy", "Never"}

	t.Run("read-only shows the plan", func(t *testing.T) {
		code, stdout, stderr := cockpit(t, append(base, "--workers", "3", "--rate", "30", "--duration", "5s", url)...)
		t.Logf("exit %d\n%s%s", code, stdout, stderr)
		if code != exitFailed || !strings.Contains(stderr, "job.batch/cockpit-load-") || !strings.Contains(stderr, "--allow-actions") {
			t.Errorf("exit %d, want %d with the plan and --allow-actions named", code, exitFailed)
		}
		if left := runLeftovers(t, c, ns); len(left) > 0 {
			t.Errorf("a read-only run created %v", left)
		}
	})

	t.Run("three workers", func(t *testing.T) {
		logs := t.TempDir()
		code, stdout, stderr := cockpit(t, append(base, "--workers", "3", "--rate", "300", "--duration", "10s",
			"--allow-actions", "--yes", "--output", "json", "--worker-logs", logs, url)...)
		t.Logf("exit %d\n%s", code, stderr)
		if code != exitOK {
			t.Errorf("exit %d, want %d\n%s", code, exitOK, stdout)
		}
		var doc report.Document
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatalf("JSON summary: %v\n%s", err, stdout)
		}
		if doc.Delivery == nil {
			t.Fatalf("no delivery in %s", stdout)
		}
		const want = 3000.0
		if got := float64(doc.Delivery.Sent); got < want*0.98 || got > want*1.02 {
			t.Errorf("delivered %v iterations, want %v ± 2 %%", got, want)
		}
		t.Logf("delivered %d of %d due (%.3f/s over %.3fs), %d requests, p50 %.3fms p95 %.3fms p99 %.3fms",
			doc.Delivery.Sent, doc.Delivery.Due, doc.Delivery.Rate, doc.Delivery.ActiveS, doc.Requests,
			doc.Latency.Med, doc.Latency.P95, doc.Latency.P99)
		finals := finalsOf(t, logs, 3)
		if len(finals) != 3 {
			t.Fatalf("%d final lines, want 3", len(finals))
		}
		exact, err := loader.MergeIntervals(finals)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := doc.Latency, report.NewDocument(loader.Snapshot{Total: exact}).Latency; got != want || doc.Requests != exact.Requests {
			t.Errorf("merged http_req_duration %+v (%d requests), want the workers' final histograms merged %+v (%d)", got, doc.Requests, want, exact.Requests)
		}
		for _, w := range []string{"3 of 3 workers reporting", "nothing with label"} {
			if !strings.Contains(stderr, w) {
				t.Errorf("stderr lacks %q", w)
			}
		}
		if left := runLeftovers(t, c, ns); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})

	t.Run("a load file's workers", func(t *testing.T) { loadFileOnRealCluster(t, c, ns, image) })

	t.Run("missing image", func(t *testing.T) {
		args := append(append([]string{}, base...), "--workers", "2", "--rate", "20", "--duration", "5s", "--allow-actions", "--yes", url)
		args[6] = "cockpit.local/no-such-image:v0"
		code, _, stderr := cockpit(t, args...)
		t.Logf("exit %d\n%s", code, stderr)
		if code != exitError || !strings.Contains(stderr, "ErrImageNeverPull") {
			t.Errorf("exit %d, want %d naming ErrImageNeverPull", code, exitError)
		}
		if left := runLeftovers(t, c, ns); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})

	t.Run("too big for the node", func(t *testing.T) {
		code, _, stderr := cockpit(t, append(base, "--workers", "2", "--rate", "20", "--duration", "5s", "--worker-cpu", "100",
			"--start-timeout", "8s", "--allow-actions", "--yes", url)...)
		t.Logf("exit %d\n%s", code, stderr)
		if code != exitError || !strings.Contains(stderr, "Insufficient cpu") || !strings.Contains(stderr, "did not start in 8s") {
			t.Errorf("exit %d, want %d with the scheduler's Insufficient cpu and the start timeout", code, exitError)
		}
		if left := runLeftovers(t, c, ns); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})

	t.Run("a worker pod deleted", func(t *testing.T) {
		type result struct {
			code           int
			stdout, stderr string
		}
		done := make(chan result, 1)
		go func() {
			var r result
			r.code, r.stdout, r.stderr = cockpit(t, append(base, "--workers", "3", "--rate", "60", "--duration", "12s",
				"--allow-actions", "--yes", url)...)
			done <- r
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		// Once worker 1 has run a few seconds, delete its pod.
		var victim string
		if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			pods, err := c.Typed.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: distload.LabelRun})
			if err != nil {
				return false, err
			}
			for _, p := range pods.Items {
				if p.Annotations[distload.IndexAnnotation] == "1" && p.Status.StartTime != nil &&
					p.Status.Phase == corev1.PodRunning && time.Since(p.Status.StartTime.Time) > 8*time.Second {
					victim = p.Name
					return true, nil
				}
			}
			return false, nil
		}); err != nil {
			t.Fatalf("worker 1 never ran 8s: %v", err)
		}
		if err := c.Typed.CoreV1().Pods(ns).Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		r := <-done
		t.Logf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		if r.code != exitWarned {
			t.Errorf("exit %d, want %d (passed, without a worker)", r.code, exitWarned)
		}
		for _, w := range []string{"worker 1 lost", "2 of 3 workers reporting", "not the whole test's"} {
			if !strings.Contains(r.stdout+r.stderr, w) {
				t.Errorf("output lacks %q", w)
			}
		}
		if left := runLeftovers(t, c, ns); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})
}

// distRun is a `cockpit load --workers` run in a goroutine (runContext),
// its standard error readable while it runs.
type distRun struct {
	stderr *syncBuffer
	done   chan struct{}
	code   int
	stdout string
}

// startDist starts cockpit with args; wait for it with <-r.done.
func startDist(ctx context.Context, args ...string) *distRun {
	r := &distRun{stderr: &syncBuffer{}, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		var out bytes.Buffer
		r.code = runContext(ctx, args, strings.NewReader(""), &out, r.stderr)
		r.stdout = out.String()
	}()
	return r
}

// waitStderr waits until cond holds of the run's standard error; the run
// ending first, or ctx, fails the test.
func (r *distRun) waitStderr(t *testing.T, ctx context.Context, what string, cond func(string) bool) {
	t.Helper()
	ended := false
	err := realclusterWait(ctx, what, func() error {
		if cond(r.stderr.String()) {
			return nil
		}
		select {
		case <-r.done:
			ended = true
			return nil
		default:
		}
		return errors.New("not yet")
	})
	switch {
	case err != nil:
		t.Fatalf("%v\n%s", err, r.stderr.String())
	case ended:
		t.Fatalf("waiting for %s: cockpit ended first (exit %d)\n%s", what, r.code, r.stderr.String())
	}
}

// jsonSummary decodes a run's --output json summary.
func jsonSummary(t *testing.T, stdout string) report.Document {
	t.Helper()
	var doc report.Document
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("JSON summary: %v\n%s", err, stdout)
	}
	return doc
}

// TestDistributedLoadAPIServerRestart: while `cockpit load --workers 3`
// runs, the API server is stopped and started again. The coordinator
// notices the broken log streams, follows each again from where it
// stopped, and the run completes: every interval merged exactly once (the
// merged totals are the workers' own final histograms merged, no interval
// incomplete), the delivered rate within 2 % of the target, and nothing
// of the run left.
func TestDistributedLoadAPIServerRestart(t *testing.T) {
	c := realcluster.Start(t)
	ns := c.Namespace(t)
	t.Cleanup(func() { _ = c.StartComponent("kube-apiserver") })
	image := workerImage(t, c)
	deployGravl(t, c, ns)
	url := fmt.Sprintf("http://gravl.%s.svc.cluster.local:8080/", ns)
	logs := t.TempDir()
	const rate, secs = 150, 40
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	r := startDist(runCtx, "load", "--kubeconfig", c.Kubeconfig, "-n", ns, "--image", image, "--image-pull-policy", "Never",
		"--workers", "3", "--rate", fmt.Sprint(rate), "--duration", fmt.Sprintf("%ds", secs),
		"--allow-actions", "--yes", "--output", "json", "--worker-logs", logs, url)
	defer func() {
		cancelRun()
		<-r.done
		if t.Failed() {
			t.Logf("exit %d\n%s", r.code, r.stderr.String())
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	r.waitStderr(t, ctx, "3 of 3 workers reporting for a few intervals", func(s string) bool {
		return strings.Count(s, "· 3 of 3 workers reporting") >= 3
	})
	stopped := time.Now()
	refollowed := make(chan time.Duration, 1)
	go func() { // when the streams were followed again, for the log
		_ = realclusterWait(ctx, "re-follow", func() error {
			if strings.Contains(r.stderr.String(), "followed again from") {
				refollowed <- time.Since(stopped)
				return nil
			}
			select {
			case <-r.done:
				return nil
			default:
				return errors.New("not yet")
			}
		})
		close(refollowed)
	}()
	if err := c.StopComponent("kube-apiserver"); err != nil {
		t.Fatal(err)
	}
	t.Logf("API server stopped (SIGTERM, exited) in %s", time.Since(stopped).Round(100*time.Millisecond))
	r.waitStderr(t, ctx, "the coordinator noticing the broken streams", func(s string) bool {
		return strings.Count(s, "log stream broke") >= 3
	})
	// The API server serves the open streams through its graceful
	// termination; from their break, the outage outlasts the merger's
	// silence (5 s) twice over: a coordinator that took its own blindness
	// for the workers' silence would merge the intervals without them,
	// and count their lines late.
	noticed := time.Now()
	if err := realclusterWait(ctx, "an outage longer than the merger's silence", func() error {
		if d := time.Since(noticed); d < 2*loader.DefaultSilentAfter {
			return fmt.Errorf("blind for %s", d)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	restart := time.Since(stopped)
	if err := c.StartComponent("kube-apiserver"); err != nil {
		t.Fatal(err)
	}
	t.Logf("API server started again %s after the stop, ready (/readyz) after %s", restart.Round(100*time.Millisecond),
		time.Since(stopped).Round(100*time.Millisecond))
	select {
	case <-r.done:
	case <-ctx.Done():
		t.Fatalf("the run did not end: %s", r.stderr.String())
	}
	stderr := r.stderr.String()
	t.Logf("exit %d\n%s", r.code, stderr)
	if d, ok := <-refollowed; ok {
		t.Logf("the streams were followed again %s after the stop began", d.Round(100*time.Millisecond))
	}
	if r.code != exitOK {
		t.Errorf("exit %d, want %d", r.code, exitOK)
	}
	doc := jsonSummary(t, r.stdout)
	if doc.Delivery == nil {
		t.Fatalf("no delivery in %s", r.stdout)
	}
	want := float64(rate * secs)
	if got := float64(doc.Delivery.Sent); got < want*0.98 || got > want*1.02 {
		t.Errorf("delivered %v iterations, want %v ± 2 %%", got, want)
	}
	finals := finalsOf(t, logs, 3)
	if len(finals) != 3 {
		t.Fatalf("%d final lines, want 3", len(finals))
	}
	exact, err := loader.MergeIntervals(finals)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := doc.Latency, report.NewDocument(loader.Snapshot{Total: exact}).Latency; got != want || doc.Requests != exact.Requests {
		t.Errorf("merged http_req_duration %+v (%d requests), want the workers' final histograms merged %+v (%d): an interval counted twice or not at all",
			got, doc.Requests, want, exact.Requests)
	}
	t.Logf("delivered %d of %d due (%.3f/s), %d requests; merged p50 %.3fms p95 %.3fms p99 %.3fms = the workers' own",
		doc.Delivery.Sent, doc.Delivery.Due, doc.Delivery.Rate, doc.Requests, doc.Latency.Med, doc.Latency.P95, doc.Latency.P99)
	for _, w := range []string{"followed again from", "repeated lines dropped", "agree with the merged intervals", "nothing with label"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q", w)
		}
	}
	for _, w := range []string{"not the whole test's", "lost", "silent"} {
		if strings.Contains(stderr, w) {
			t.Errorf("stderr says %q", w)
		}
	}
	if left := runLeftovers(t, c, ns); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestDistributedLoadAbortOnFail: an abortOnFail threshold that fails on
// the merged data stops every worker early — each writes its final line
// with fewer iterations than its share, and its pod ends — with the exit
// code a local run gives (3); and --min-workers 3 with one worker's pod
// deleted fails the run with the reason.
func TestDistributedLoadAbortOnFail(t *testing.T) {
	c := realcluster.Start(t)
	ns := c.Namespace(t)
	image := workerImage(t, c)
	deployGravl(t, c, ns)
	url := fmt.Sprintf("http://gravl.%s.svc.cluster.local:8080/", ns)
	base := []string{"load", "--kubeconfig", c.Kubeconfig, "-n", ns, "--image", image, "--image-pull-policy", "Never"}

	t.Run("abortOnFail stops every worker", func(t *testing.T) {
		logs := t.TempDir()
		const rate, secs, workers = 150, 60, 3
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		// Which workers' pods were seen ended (Succeeded, or the container
		// terminated with exit code 0) before the cleanup deleted them.
		ended := map[string]bool{}
		watchCtx, stopWatch := context.WithCancel(ctx)
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			_ = realclusterWait(watchCtx, "pods", func() error {
				pods, err := c.Typed.CoreV1().Pods(ns).List(watchCtx, metav1.ListOptions{LabelSelector: distload.LabelRun})
				if err != nil {
					return err
				}
				for _, p := range pods.Items {
					done := p.Status.Phase == corev1.PodSucceeded
					for _, cs := range p.Status.ContainerStatuses {
						done = done || (cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0)
					}
					if done {
						ended[p.Annotations[distload.IndexAnnotation]] = true
					}
				}
				return errors.New("until the run ends")
			})
		}()
		began := time.Now()
		code, stdout, stderr := cockpit(t, append(base, "--workers", fmt.Sprint(workers), "--rate", fmt.Sprint(rate),
			"--duration", fmt.Sprintf("%ds", secs), "--threshold", "http_reqs: count<50, abortOnFail",
			"--allow-actions", "--yes", "--output", "json", "--worker-logs", logs, url)...)
		took := time.Since(began)
		stopWatch()
		<-watched
		t.Logf("exit %d after %s\n%s", code, took.Round(100*time.Millisecond), stderr)
		if code != exitFailed {
			t.Errorf("exit %d, want %d (a failed threshold, as a local run)", code, exitFailed)
		}
		doc := jsonSummary(t, stdout)
		if len(doc.Thresholds) != 1 || doc.Thresholds[0].Pass || !doc.Thresholds[0].Aborted {
			t.Errorf("thresholds %+v, want http_reqs failed and aborted", doc.Thresholds)
		}
		finals := finalsOf(t, logs, workers)
		if len(finals) != workers {
			t.Fatalf("%d final lines, want %d: every worker stops gracefully and writes one", len(finals), workers)
		}
		share := int64(rate * secs / workers)
		for w, f := range finals {
			t.Logf("worker %d: %d iterations of its %d, %s", w, f.Sent, share, f.End)
			if f.Sent >= share/2 {
				t.Errorf("worker %d sent %d iterations of its %d: not stopped early", w, f.Sent, share)
			}
		}
		for w := range workers {
			if !ended[fmt.Sprint(w)] {
				t.Errorf("worker %d's pod was not seen ended (Succeeded, exit code 0) before the cleanup", w)
			}
		}
		if took > secs*time.Second {
			t.Errorf("the run took %s, the test's whole %ds", took, secs)
		}
		if !strings.Contains(stderr, "an abortOnFail threshold failed: stopping every worker") {
			t.Errorf("stderr does not say the workers were stopped")
		}
		if left := runLeftovers(t, c, ns); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})

	t.Run("min-workers 3 with a worker lost", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		r := startDist(ctx, append(base, "--workers", "3", "--min-workers", "3", "--rate", "60", "--duration", "40s",
			"--allow-actions", "--yes", url)...)
		defer func() {
			cancel()
			<-r.done
		}()
		r.waitStderr(t, ctx, "3 of 3 workers reporting for two intervals", func(s string) bool {
			return strings.Count(s, "· 3 of 3 workers reporting") >= 2
		})
		pods, err := c.Typed.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: distload.LabelRun})
		if err != nil {
			t.Fatal(err)
		}
		victim := ""
		for _, p := range pods.Items {
			if p.Annotations[distload.IndexAnnotation] == "1" {
				victim = p.Name
			}
		}
		if victim == "" {
			t.Fatalf("no pod of worker 1 among %d", len(pods.Items))
		}
		began := time.Now()
		if err := c.Typed.CoreV1().Pods(ns).Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-r.done:
		case <-ctx.Done():
			t.Fatalf("the run did not end\n%s", r.stderr.String())
		}
		took := time.Since(began)
		stderr := r.stderr.String()
		t.Logf("exit %d %s after the delete\n%s%s", r.code, took.Round(100*time.Millisecond), r.stdout, stderr)
		if r.code != exitFailed {
			t.Errorf("exit %d, want %d", r.code, exitFailed)
		}
		for _, w := range []string{"worker 1 lost: pod " + victim + " deleted", "cockpit: failed: --min-workers 3: 2 of 3 workers left"} {
			if !strings.Contains(stderr, w) {
				t.Errorf("stderr lacks %q", w)
			}
		}
		if took > 30*time.Second {
			t.Errorf("the run went on %s after the loss: not aborted", took)
		}
		if left := runLeftovers(t, c, ns); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})
}
