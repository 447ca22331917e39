package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/cockpit-dev/cockpit/internal/realcluster"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// rigRunbook writes a runbook and its manifests into a directory and
// returns the runbook's path.
func rigRunbook(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "runbook.yaml")
}

// webDeployment is the gravl app as Deployment "web": one replica, a
// readiness probe, a short progress deadline, a surge-only rolling update
// (the old pod serves until a new one is Ready). command, when set,
// replaces the image's entrypoint.
func webDeployment(ns, image, command string) string {
	cmd := ""
	if command != "" {
		cmd = fmt.Sprintf("\n        command: [sh, -c, %q]", command)
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %s}
spec:
  replicas: 1
  progressDeadlineSeconds: 15
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: %s
        imagePullPolicy: IfNotPresent%s
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: 8080}, periodSeconds: 1}
`, ns, image, cmd)
}

// TestFailingRolloutUndoneOnRealCluster: on a real node, a new version whose
// container exits at once never becomes Ready. `cockpit run` applies it,
// the rollout action fails with the deployment controller's own reason
// (ProgressDeadlineExceeded, its message naming the ReplicaSet) and the
// kubelet's (CrashLoopBackOff, the last exit code), --undo-on-failure rolls back to the previous ReplicaSet, and a
// k8s.workload probe in a later run sees the Deployment rolled out again,
// on the first version's pods.
func TestFailingRolloutUndoneOnRealCluster(t *testing.T) {
	c := realcluster.Start(t)
	ns := c.Namespace(t)
	t.Setenv("HOME", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	deploy := rigRunbook(t, map[string]string{
		"web-v1.yaml": webDeployment(ns, "cockpit.local/gravl:v1", ""),
		"web-v2.yaml": webDeployment(ns, "busybox:1.37", "echo web v2 cannot start; exit 3"),
		"runbook.yaml": fmt.Sprintf(`apiVersion: cockpit/v1
kind: Runbook
metadata: {name: failing-rollout}
clusters:
  rig: {context: realcluster, namespace: %[1]s}
phases:
- id: v1
  steps:
  - id: apply-v1
    cluster: rig
    action: {kind: apply, files: [web-v1.yaml]}
  - id: rollout-v1
    needs: [apply-v1]
    cluster: rig
    action: {kind: rollout, resources: [deployment/web], deadline: 2m}
- id: v2
  steps:
  - id: apply-v2
    cluster: rig
    action: {kind: apply, files: [web-v2.yaml]}
  - id: rollout-v2
    needs: [apply-v2]
    cluster: rig
    action: {kind: rollout, resources: [deployment/web], deadline: 2m}
`, ns),
	})
	verify := rigRunbook(t, map[string]string{"runbook.yaml": fmt.Sprintf(`apiVersion: cockpit/v1
kind: Runbook
metadata: {name: web-recovered}
clusters:
  rig: {context: realcluster, namespace: %[1]s}
phases:
- id: verify
  steps:
  - id: web-rolled-out
    cluster: rig
    probe: {kind: k8s.workload, names: [deployment/web]}
`, ns)})

	journal := filepath.Join(t.TempDir(), "deploy.jsonl")
	code, stdout, stderr := cockpit(t, "run", deploy, "--kubeconfig", c.Kubeconfig, "--journal", journal,
		"--operator", "ci", "--allow-actions", "--auto-confirm-actions", "--undo-on-failure")
	out := stdout + stderr
	t.Logf("cockpit run (deploy): exit %d\n%s", code, out)
	if code != exitFailed {
		t.Errorf("exit %d, want %d (NO-GO: the v2 rollout failed)", code, exitFailed)
	}
	for _, want := range []string{
		"rollout-v1               passed     1/1 rolled out",
		`rollout-v2               failed     0/1 rolled out; not: deployment/web — deployment/web: deployment "web" exceeded its progress deadline: ReplicaSet "web-`,
		"rollout-v2               undo       deployment/web rolled back from revision 2 to revision 1",
		// The kubelet's words: the exit code the crash loop hides. (Whether
		// the container is waiting in CrashLoopBackOff or running again
		// when the pods are read is the kubelet's timing: either is told.)
		"pods not Ready: web-",
		"last terminated: Error, exit code 3",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the run's output lacks %q", want)
		}
	}
	// The journal keeps the controller's own reason and message.
	rr, err := runbook.ReadJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	events, err := rr.Events()
	if err != nil {
		t.Fatal(err)
	}
	var done, undone *actions.Result
	for _, at := range events {
		switch ev := at.Event.(type) {
		case runbook.ActionDone:
			if ev.Step == "rollout-v2" {
				done = &ev.Result
			}
		case runbook.ActionUndone:
			if ev.Step == "rollout-v2" {
				undone = &ev.Result
			}
		}
	}
	switch {
	case done == nil:
		t.Errorf("the journal has no execution of rollout-v2")
	case done.Status != probes.StatusFail || len(done.Items) != 1 || done.Items[0].Reason != "ProgressDeadlineExceeded" ||
		!strings.Contains(done.Items[0].Message, "has timed out progressing") || done.UndoRevision != 1:
		t.Errorf("rollout-v2 = %s %q, items %+v, undo offered %d; want a failure with the controller's reason ProgressDeadlineExceeded and an undo to 1",
			done.Status, done.Message, done.Items, done.UndoRevision)
	}
	if undone == nil || undone.Status != probes.StatusPass {
		t.Errorf("rollout-v2's undo = %+v, want it passed", undone)
	}

	// The undo rolled the template back to the first ReplicaSet's: it is
	// revision 3 now and serves, the second is scaled to zero.
	d, err := c.Typed.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "cockpit.local/gravl:v1" || len(d.Spec.Template.Spec.Containers[0].Command) != 0 {
		t.Errorf("after the undo the template runs %s %q, want v1's image and entrypoint", img, d.Spec.Template.Spec.Containers[0].Command)
	}
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		rss, err := c.Typed.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err
		}
		var got []string
		ok := len(rss.Items) == 2
		for _, rs := range rss.Items {
			img, rev := rs.Spec.Template.Spec.Containers[0].Image, rs.Annotations["deployment.kubernetes.io/revision"]
			got = append(got, fmt.Sprintf("%s (%s, revision %s): %d/%d ready", rs.Name, img, rev, rs.Status.ReadyReplicas, *rs.Spec.Replicas))
			switch img {
			case "cockpit.local/gravl:v1":
				ok = ok && rev == "3" && *rs.Spec.Replicas == 1 && rs.Status.ReadyReplicas == 1
			default:
				ok = ok && *rs.Spec.Replicas == 0
			}
		}
		if !ok {
			t.Logf("ReplicaSets: %s", strings.Join(got, "; "))
		}
		return ok, nil
	}); err != nil {
		t.Errorf("after the undo, the ReplicaSets are not v1 serving (revision 3) and v2 at zero: %v", err)
	}

	code, stdout, stderr = cockpit(t, "run", verify, "--kubeconfig", c.Kubeconfig, "--journal", filepath.Join(t.TempDir(), "verify.jsonl"),
		"--operator", "ci")
	t.Logf("cockpit run (verify): exit %d\n%s%s", code, stdout, stderr)
	if code != exitOK || !strings.Contains(stdout+stderr, "web-rolled-out           passed     1/1 ready (1/1 replicas)") {
		t.Errorf("verify: exit %d, want %d with web rolled out", code, exitOK)
	}
}
