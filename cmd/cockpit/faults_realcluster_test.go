package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cockpit-dev/cockpit/internal/realcluster"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/signoff"
)

// TestFaultsOnRealCluster: while `cockpit run` watches a Deployment, its
// pods and the node, the real cluster is broken three ways, and what the
// cockpit records follows each with the cluster's own reason, then
// recovers without help:
//  1. a pod of the new version is deleted mid-rollout: the ReplicaSet
//     replaces it and the rollout action still passes;
//  2. the kubelet is stopped: the node controller marks the node Unknown
//     ("Kubelet stopped posting node status": undecided, never passed) and
//     its pods not Ready; the
//     kubelet started again, all pass again;
//  3. the API server is restarted: the probes report the refused
//     connection (never the stale cache as current), then pass again.
//
// The journal loses nothing: its hash chain verifies, and the report is
// built from it with every observation made.
func TestFaultsOnRealCluster(t *testing.T) {
	c := realcluster.Start(t)
	ns := c.Namespace(t)
	t.Setenv("HOME", t.TempDir())
	// The rig's processes come back whatever happens to the test.
	for _, name := range []string{"kubelet", "kube-apiserver"} {
		t.Cleanup(func() { _ = c.StartComponent(name) })
	}
	v2 := strings.Replace(webDeployment(ns, "cockpit.local/gravl:v1", ""), "replicas: 1", "replicas: 3", 1)
	v2 = strings.Replace(v2, "readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}",
		"readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1, initialDelaySeconds: 3}\n        env: [{name: VERSION, value: v2}]", 1)
	v2 = strings.Replace(v2, "progressDeadlineSeconds: 15", "progressDeadlineSeconds: 120", 1)
	rb := rigRunbook(t, map[string]string{
		"web-v1.yaml": strings.Replace(webDeployment(ns, "cockpit.local/gravl:v1", ""), "replicas: 1", "replicas: 3", 1),
		"web-v2.yaml": v2,
		"runbook.yaml": fmt.Sprintf(`apiVersion: cockpit/v1
kind: Runbook
metadata: {name: faults}
clusters:
  rig: {context: realcluster, namespace: %[1]s}
phases:
- id: v1
  steps:
  - {id: apply-v1, cluster: rig, action: {kind: apply, files: [web-v1.yaml]}}
  - {id: rollout-v1, needs: [apply-v1], cluster: rig, action: {kind: rollout, resources: [deployment/web], deadline: 2m}}
- id: v2
  steps:
  - {id: apply-v2, cluster: rig, action: {kind: apply, files: [web-v2.yaml]}}
  - {id: rollout-v2, needs: [apply-v2], cluster: rig, action: {kind: rollout, resources: [deployment/web], deadline: 2m}}
- id: watch
  duration: 10m
  steps:
  - {id: node, cluster: rig, every: 1s, failAfter: 100000, probe: {kind: k8s.condition, resource: nodes, names: [%[2]s], condition: Ready}}
  - {id: web, cluster: rig, every: 1s, failAfter: 100000, probe: {kind: k8s.workload, names: [deployment/web]}}
  - {id: pods, cluster: rig, every: 1s, failAfter: 100000, probe: {kind: k8s.pods}}
`, ns, realcluster.NodeName),
	})
	journal := filepath.Join(t.TempDir(), "faults.jsonl")
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	type ran struct {
		code     int
		out, err string
	}
	done := make(chan ran, 1)
	go func() {
		var out, errb bytes.Buffer
		code := runContext(runCtx, []string{"run", rb, "--kubeconfig", c.Kubeconfig, "--journal", journal, "--operator", "ci",
			"--allow-actions", "--auto-confirm-actions"}, strings.NewReader(""), &out, &errb)
		done <- ran{code, out.String(), errb.String()}
	}()
	var result *ran
	defer func() {
		if result == nil {
			stopRun()
			r := <-done
			result = &r
		}
		if t.Failed() {
			t.Logf("cockpit run: exit %d\n%s%s", result.code, result.out, result.err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	j := &journalWatch{t: t, path: journal, ctx: ctx}

	// 1. Mid-rollout: the first v2 pod is deleted as soon as it exists.
	var victim string
	if err := realclusterWait(ctx, "a v2 pod", func() error {
		pods, err := c.Typed.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err
		}
		for _, p := range pods.Items {
			if len(p.Spec.Containers[0].Env) > 0 && p.DeletionTimestamp == nil {
				victim = p.Name
				return nil
			}
		}
		return errors.New("none yet")
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Typed.CoreV1().Pods(ns).Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("deleted v2 pod %s mid-rollout", victim)
	rollout := j.waitAction("rollout-v2")
	if rollout.Status != probes.StatusPass {
		t.Errorf("rollout-v2 after a pod was deleted mid-rollout: %s %q, want passed (the ReplicaSet replaces it)", rollout.Status, rollout.Message)
	}
	j.waitProbe("web", "rolled out at last", func(r probes.Result) bool { return r.Status == probes.StatusPass })
	j.waitProbe("node", "the node Ready", func(r probes.Result) bool { return r.Status == probes.StatusPass })

	// 2. The kubelet stops: the node controller's reason, then recovery.
	j.mark()
	if err := c.StopComponent("kubelet"); err != nil {
		t.Fatal(err)
	}
	// Unknown is undecided (pending), not a verdict: the window's end
	// judges it; what matters here is that the controller's words show.
	down := j.waitProbe("node", "the node Unknown", func(r probes.Result) bool { return r.Status != probes.StatusPass })
	if s := resultText(down); !strings.Contains(s, "NodeStatusUnknown") || !strings.Contains(s, "Kubelet stopped posting node status") {
		t.Errorf("node with its kubelet stopped: %s, want the node controller's reason NodeStatusUnknown and message", s)
	}
	// The node controller marks every pod of the node not Ready, and the
	// Deployment has none available.
	notReady := j.waitProbe("pods", "the pods not Ready", func(r probes.Result) bool {
		return r.Status == probes.StatusFail && strings.HasPrefix(r.Summary, "0/")
	})
	unavailable := j.waitProbe("web", "the Deployment unavailable", func(r probes.Result) bool { return r.Status != probes.StatusPass })
	t.Logf("with the kubelet stopped:\n  node: %s\n  pods: %s\n  web: %s", resultText(down), resultText(notReady), resultText(unavailable))
	if err := c.StartComponent("kubelet"); err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"node", "pods", "web"} {
		j.waitProbe(step, "recovery after the kubelet's restart", func(r probes.Result) bool { return r.Status == probes.StatusPass })
	}

	// 3. The API server restarts while the probes watch.
	j.mark()
	if err := c.StopComponent("kube-apiserver"); err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"web", "pods", "node"} {
		gone := j.waitProbe(step, "the API server's absence", func(r probes.Result) bool { return r.Status != probes.StatusPass })
		if s := resultText(gone); !strings.Contains(s, "connection refused") {
			t.Errorf("%s with the API server down: %s, want the refused connection", step, s)
		}
	}
	if err := c.StartComponent("kube-apiserver"); err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"web", "pods", "node"} {
		j.waitProbe(step, "recovery after the API server's restart", func(r probes.Result) bool { return r.Status == probes.StatusPass })
	}

	// The Deployment goes, and every pod of it: a pod left Failed while the
	// kubelet was down keeps its IP in its status after the node has given
	// the address to another pod, which a policy engine reading pod IPs
	// (kube-router) may then take for the old one.
	fg := metav1.DeletePropagationForeground
	if err := c.Typed.AppsV1().Deployments(ns).Delete(ctx, "web", metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		t.Fatal(err)
	}
	if err := realclusterWait(ctx, "web's pods gone", func() error {
		pods, err := c.Typed.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if n := len(pods.Items); n > 0 {
			return fmt.Errorf("%d pods left", n)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}

	// The node's other components lived through it all.
	if dead := c.Exited(); len(dead) > 0 {
		t.Errorf("components exited during the faults:\n%s", strings.Join(dead, "\n"))
	}

	// The operator ends the run; nothing of it is lost.
	stopRun()
	r := <-done
	result = &r
	if result.code == exitOK {
		t.Errorf("an aborted window exits %d", result.code)
	}
	// ReadJournal checks every line's sequence and the hash chain.
	if _, err := signoff.FromJournal(journal); err != nil {
		t.Fatalf("the journal does not build a report: %v", err)
	}
	if n := j.observations(); n == 0 {
		t.Errorf("no observations journaled")
	}
}

// journalWatch waits on what a running cockpit has journaled so far.
type journalWatch struct {
	t    *testing.T
	path string
	ctx  context.Context
	seen map[string]int // probe results of a step already consumed by waitProbe
}

// events reads the journal as far as it is written.
func (j *journalWatch) events() ([]runbook.At, error) {
	rr, err := runbook.ReadJournal(j.path)
	if err != nil {
		return nil, err
	}
	return rr.Events()
}

// waitProbe waits for a result of step, journaled after the ones earlier
// calls consumed, that matches, and returns it.
func (j *journalWatch) waitProbe(step, what string, match func(probes.Result) bool) probes.Result {
	j.t.Helper()
	if j.seen == nil {
		j.seen = map[string]int{}
	}
	var got probes.Result
	var last string
	err := realclusterWait(j.ctx, step+": "+what, func() error {
		evs, err := j.events()
		if err != nil {
			return err
		}
		n := 0
		for _, at := range evs {
			pr, ok := at.Event.(runbook.ProbeResult)
			if !ok || pr.Step != step {
				continue
			}
			n++
			if n <= j.seen[step] {
				continue
			}
			last = resultText(pr.Result)
			if match(pr.Result) {
				got, j.seen[step] = pr.Result, n
				return nil
			}
		}
		return fmt.Errorf("not yet (last: %s)", last)
	})
	if err != nil {
		j.t.Fatal(err)
	}
	return got
}

// waitAction waits for step's action to have been executed.
func (j *journalWatch) waitAction(step string) probes.Result {
	j.t.Helper()
	var got probes.Result
	if err := realclusterWait(j.ctx, step+" executed", func() error {
		evs, err := j.events()
		if err != nil {
			return err
		}
		for _, at := range evs {
			if ev, ok := at.Event.(runbook.ActionDone); ok && ev.Step == step {
				got = probes.Result{Status: ev.Result.Status, Summary: ev.Result.Summary, Message: ev.Result.Message}
				return nil
			}
		}
		return errors.New("not yet")
	}); err != nil {
		j.t.Fatal(err)
	}
	return got
}

// mark makes later waits consider only results journaled from now on.
func (j *journalWatch) mark() {
	j.t.Helper()
	evs, err := j.events()
	if err != nil {
		j.t.Fatal(err)
	}
	j.seen = map[string]int{}
	for _, at := range evs {
		if pr, ok := at.Event.(runbook.ProbeResult); ok {
			j.seen[pr.Step]++
		}
	}
}

// observations counts the probe results journaled.
func (j *journalWatch) observations() int {
	evs, err := j.events()
	if err != nil {
		j.t.Fatal(err)
	}
	n := 0
	for _, at := range evs {
		if _, ok := at.Event.(runbook.ProbeResult); ok {
			n++
		}
	}
	return n
}

// resultText is a result's status, summary and items' reasons and messages.
func resultText(r probes.Result) string {
	s := fmt.Sprintf("%s %s %s", r.Status, r.Summary, r.Message)
	for _, it := range r.Items {
		s += fmt.Sprintf("; %s %s %s %s %s", it.Name, it.Status, it.Summary, it.Reason, it.Message)
	}
	return s
}

// realclusterWait calls check every 200 ms until it returns nil or ctx ends.
func realclusterWait(ctx context.Context, what string, check func() error) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), err)
		case <-tick.C:
		}
	}
}
