package sandbox

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cockpit-dev/cockpit/internal/kube"
)

// stagingApp is the seeded gravl-staging app of that name.
func stagingApp(t *testing.T, name string) app {
	t.Helper()
	for _, a := range seedApps() {
		if a.Namespace == "gravl-staging" && a.Name == name {
			return a
		}
	}
	t.Fatalf("no seeded app %s", name)
	return app{}
}

// replicaSets returns backend's ReplicaSets by revision, checking that
// the Deployment controls each.
func replicaSets(t *testing.T, c *controlledCluster, d *appsv1.Deployment) map[int64]appsv1.ReplicaSet {
	t.Helper()
	list, err := c.Typed.AppsV1().ReplicaSets(d.Namespace).List(t.Context(), metav1.ListOptions{LabelSelector: "app=" + d.Name})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]appsv1.ReplicaSet{}
	for _, rs := range list.Items {
		if !metav1.IsControlledBy(&rs, d) {
			t.Errorf("replicaset %s is not controlled by deployment %s (uid %s): %+v", rs.Name, d.Name, d.UID, rs.OwnerReferences)
		}
		n, err := strconv.ParseInt(rs.Annotations[annotationRevision], 10, 64)
		if err != nil {
			t.Errorf("replicaset %s: revision %q", rs.Name, rs.Annotations[annotationRevision])
		}
		out[n] = rs
	}
	return out
}

// A new version applied server-side while the bad-release fault is on
// fails its rollout as the deployment controller and the kubelet report
// it — a surge pod crash-looping, ProgressDeadlineExceeded once
// progressDeadlineSeconds pass with no progress — and kubectl rollout
// undo's patch (the revision-1 ReplicaSet's template) rolls it back: the
// old ReplicaSet becomes revision 3, its pods serve again, the crashed pod
// goes.
func TestBadReleaseFailsAndRollsBack(t *testing.T) {
	c := startControlledCluster(t)
	ctx := t.Context()
	w := c.watchDeployment(t, "gravl-staging", "backend")
	seeded := next(t, w, func(*appsv1.Deployment) bool { return true })
	before := replicaSets(t, c, seeded)
	if len(before) != 1 || before[1].Name != replicaSetName(seeded, podTemplateHash(&seeded.Spec.Template)) {
		t.Fatalf("seeded replicasets %v, want revision 1 of the live template", before)
	}

	c.SetBadRelease(true)
	release := stagingApp(t, "backend")
	release.Image = "ghcr.io/gravl-app/backend:1.9.0"
	if _, err := c.Dynamic.Resource(appsv1.SchemeGroupVersion.WithResource("deployments")).Namespace("gravl-staging").
		Apply(ctx, "backend", releaseConfig(release), metav1.ApplyOptions{FieldManager: releaseFieldManager}); err != nil {
		t.Fatalf("apply the release (no conflict expected: the seed was applied by the same manager): %v", err)
	}
	d := next(t, w, func(d *appsv1.Deployment) bool { return d.Generation == 2 && observed(d) })
	if d.Annotations[annotationRevision] != "2" {
		t.Errorf("revision %q, want 2", d.Annotations[annotationRevision])
	}
	c.clock.Step(testStep) // the surge pod starts
	next(t, w, func(d *appsv1.Deployment) bool { return d.Status.UpdatedReplicas == 1 })
	c.clock.Step(time.Duration(stagingProgressDeadline+1) * time.Second) // it crashes; no progress past the deadline
	d = next(t, w, func(d *appsv1.Deployment) bool { return progressing(d).Status == corev1.ConditionFalse })
	if cond := progressing(d); cond.Reason != reasonTimedOut {
		t.Errorf("Progressing %s, want %s", cond.Reason, reasonTimedOut)
	}
	if d.Status.AvailableReplicas != 2 || d.Status.UpdatedReplicas != 1 {
		t.Errorf("the old pods keep serving: %+v", d.Status)
	}
	pods, err := c.Typed.CoreV1().Pods("gravl-staging").List(ctx, metav1.ListOptions{LabelSelector: "app=backend"})
	if err != nil {
		t.Fatal(err)
	}
	newHash := podTemplateHash(&d.Spec.Template)
	crashing := 0
	for _, p := range pods.Items {
		if p.Labels[labelPodTemplateHash] != newHash {
			continue
		}
		cs := p.Status.ContainerStatuses[0]
		last := cs.LastTerminationState.Terminated
		if kube.PodReady(&p) || cs.State.Waiting == nil || cs.State.Waiting.Reason != "CrashLoopBackOff" ||
			last == nil || last.ExitCode != 1 || cs.RestartCount < 1 || p.OwnerReferences[0].Name != replicaSetName(d, newHash) {
			t.Errorf("new pod %s: ready %v, %+v, owners %+v", p.Name, kube.PodReady(&p), cs, p.OwnerReferences)
		}
		crashing++
	}
	if crashing != 1 || len(pods.Items) != 3 {
		t.Errorf("%d pods, %d of the new version; want 3 and 1", len(pods.Items), crashing)
	}
	sets := replicaSets(t, c, d)
	if len(sets) != 2 || sets[2].Name != replicaSetName(d, newHash) {
		t.Fatalf("replicasets by revision: %v", sets)
	}

	// kubectl rollout undo: the previous revision's template, without
	// its pod-template-hash label.
	prev := sets[1]
	tpl := prev.Spec.Template.DeepCopy()
	delete(tpl.Labels, labelPodTemplateHash)
	patch, err := json.Marshal([]map[string]any{{"op": "replace", "path": "/spec/template", "value": tpl}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Typed.AppsV1().Deployments("gravl-staging").Patch(ctx, "backend", types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-rollout"}); err != nil {
		t.Fatal(err)
	}
	d = next(t, w, func(d *appsv1.Deployment) bool { return d.Generation == 3 && observed(d) })
	if d.Annotations[annotationRevision] != "3" || podTemplateHash(&d.Spec.Template) != podTemplateHash(&seeded.Spec.Template) {
		t.Errorf("after the undo: revision %q, template %s (want 3, the seeded one)", d.Annotations[annotationRevision], podTemplateHash(&d.Spec.Template))
	}
	c.clock.Step(testStep)
	d = next(t, w, settled)
	if cond := progressing(d); cond.Reason != reasonNewRSAvailable || d.Status.UpdatedReplicas != 2 || d.Status.AvailableReplicas != 2 || d.Status.Replicas != 2 {
		t.Errorf("rolled back: %s, %+v", cond.Reason, d.Status)
	}
	sets = replicaSets(t, c, d)
	if len(sets) != 2 || sets[3].Name != before[1].Name || *sets[3].Spec.Replicas != 2 || *sets[2].Spec.Replicas != 0 {
		t.Errorf("replicasets after the undo: %v", sets)
	}
	pods, err = c.Typed.CoreV1().Pods("gravl-staging").List(ctx, metav1.ListOptions{LabelSelector: "app=backend"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Labels[labelPodTemplateHash] != podTemplateHash(&seeded.Spec.Template) || !kube.PodReady(&p) {
			t.Errorf("after the undo, pod %s: hash %s ready %v", p.Name, p.Labels[labelPodTemplateHash], kube.PodReady(&p))
		}
	}
	if len(pods.Items) != 2 {
		t.Errorf("%d pods after the undo, want 2", len(pods.Items))
	}
}
