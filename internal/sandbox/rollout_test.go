package sandbox

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/internal/kube"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

const testStep = time.Second

// eventTimeout bounds how long a test waits for the controller to react;
// it only matters when a test is about to fail.
const eventTimeout = 30 * time.Second

// controlledCluster is a seeded cluster whose controllers run on a fake
// clock, and a watch on one deployment to observe them.
type controlledCluster struct {
	*SimulatedCluster
	clock *clocktesting.FakeClock
	done  <-chan struct{}
}

func startControlledCluster(t *testing.T) *controlledCluster {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Date(2026, 3, 8, 5, 59, 0, 0, time.UTC))
	c := newCluster(t, ClusterOptions{Clock: clk, RolloutStep: testStep, Seed: 9})
	ctx, cancel := context.WithCancel(t.Context())
	done, err := c.StartControllers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-done
		if err := c.ControllerError(); err != nil {
			t.Errorf("controller error: %v", err)
		}
	})
	return &controlledCluster{SimulatedCluster: c, clock: clk, done: done}
}

// watchDeployment watches one deployment by name.
func (c *controlledCluster) watchDeployment(t *testing.T, ns, name string) watch.Interface {
	t.Helper()
	w, err := c.Typed.AppsV1().Deployments(ns).Watch(t.Context(), metav1.ListOptions{
		FieldSelector: "metadata.name=" + name,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w
}

// next returns the next deployment event on w satisfying cond.
func next(t *testing.T, w watch.Interface, cond func(*appsv1.Deployment) bool) *appsv1.Deployment {
	t.Helper()
	timeout := time.NewTimer(eventTimeout)
	defer timeout.Stop()
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("watch closed")
			}
			if d, isDeploy := ev.Object.(*appsv1.Deployment); isDeploy && cond(d) {
				return d
			}
		case <-timeout.C:
			t.Fatal("timed out waiting for the simulated controller")
			return nil
		}
	}
}

// observed reports whether the controller has written status for the
// deployment's current generation.
func observed(d *appsv1.Deployment) bool {
	return d.Status.ObservedGeneration == d.Generation
}

// settled reports whether the controller has finished with d: rolled out,
// or given up at the progress deadline.
func settled(d *appsv1.Deployment) bool {
	reason := progressing(d).Reason
	return observed(d) && (reason == reasonNewRSAvailable || reason == reasonTimedOut)
}

// stepUntilSettled advances the clock one step at a time, collecting what
// kubectl rollout status prints after each step, until the controller has
// settled the rollout or maxSteps is reached. It returns kubectl's verdict
// on the final state.
func (c *controlledCluster) stepUntilSettled(t *testing.T, w watch.Interface, last *appsv1.Deployment, maxSteps int) ([]string, *appsv1.Deployment, error) {
	t.Helper()
	var msgs []string
	for range maxSteps {
		if settled(last) {
			_, _, err := rolloutStatus(last)
			return msgs, last, err
		}
		prev := last.Status
		c.clock.Step(testStep)
		last = next(t, w, func(d *appsv1.Deployment) bool {
			return observed(d) && !statusEqual(d.Status, prev)
		})
		msg, _, _ := rolloutStatus(last)
		msgs = append(msgs, msg)
	}
	t.Fatalf("not settled after %d steps: %q", maxSteps, msgs)
	return nil, nil, nil
}

func statusEqual(a, b appsv1.DeploymentStatus) bool {
	return a.ObservedGeneration == b.ObservedGeneration && a.Replicas == b.Replicas &&
		a.UpdatedReplicas == b.UpdatedReplicas && a.ReadyReplicas == b.ReadyReplicas &&
		a.AvailableReplicas == b.AvailableReplicas && len(a.Conditions) == len(b.Conditions) &&
		conditionsEqual(a.Conditions, b.Conditions)
}

func conditionsEqual(a, b []appsv1.DeploymentCondition) bool {
	for i := range a {
		if a[i].Type != b[i].Type || a[i].Status != b[i].Status || a[i].Reason != b[i].Reason || !a[i].LastUpdateTime.Equal(&b[i].LastUpdateTime) {
			return false
		}
	}
	return true
}

func waiting(name, what string) string {
	return fmt.Sprintf("Waiting for deployment %q rollout to finish: %s...", name, what)
}

func TestTemplateChangeRollsOut(t *testing.T) {
	c := startControlledCluster(t)
	ctx := t.Context()
	w := c.watchDeployment(t, "gravl-staging", "backend")
	seeded := next(t, w, func(*appsv1.Deployment) bool { return true })

	deploys := c.Typed.AppsV1().Deployments("gravl-staging")
	changed := seeded.DeepCopy()
	changed.Spec.Template.Spec.Containers[0].Image = "ghcr.io/gravl-app/backend:1.9.0"
	if _, err := deploys.Update(ctx, changed, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The API server bumps the generation; until the controller observes
	// it, kubectl waits for the spec update to be observed.
	updated := next(t, w, func(d *appsv1.Deployment) bool { return d.Generation == 2 })
	if msg, _, _ := rolloutStatus(updated); msg != "Waiting for deployment spec update to be observed..." {
		t.Errorf("before observation: %q", msg)
	}
	first := next(t, w, observed)
	if first.Annotations[annotationRevision] != "2" {
		t.Errorf("revision %q, want 2", first.Annotations[annotationRevision])
	}
	if cond := progressing(first); cond.Reason != reasonNewRSCreated {
		t.Errorf("Progressing reason %q, want %s", cond.Reason, reasonNewRSCreated)
	}
	msgs, final, err := c.stepUntilSettled(t, w, first, 20)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		waiting("backend", "1 out of 2 new replicas have been updated"), // surge pod created
		waiting("backend", "1 out of 2 new replicas have been updated"), // its container starts
		waiting("backend", "1 out of 2 new replicas have been updated"), // it becomes ready
		waiting("backend", "1 out of 2 new replicas have been updated"), // an old pod retires
		waiting("backend", "1 old replicas are pending termination"),    // second new pod
		waiting("backend", "1 old replicas are pending termination"),    // its container starts
		waiting("backend", "1 old replicas are pending termination"),    // it becomes ready
		`deployment "backend" successfully rolled out`,
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Errorf("rollout status sequence:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
	if cond := progressing(final); cond.Reason != reasonNewRSAvailable || cond.Status != corev1.ConditionTrue {
		t.Errorf("final Progressing %s/%s", cond.Status, cond.Reason)
	}
	if final.Status.AvailableReplicas != 2 || final.Status.UnavailableReplicas != 0 {
		t.Errorf("final status %+v", final.Status)
	}

	pods, err := c.Typed.CoreV1().Pods("gravl-staging").List(ctx, metav1.ListOptions{LabelSelector: "app=backend"})
	if err != nil {
		t.Fatal(err)
	}
	hash := podTemplateHash(&final.Spec.Template)
	if len(pods.Items) != 2 {
		t.Fatalf("%d backend pods, want 2", len(pods.Items))
	}
	for _, p := range pods.Items {
		if p.Labels[labelPodTemplateHash] != hash || !kube.PodReady(&p) || p.Spec.Containers[0].Image != "ghcr.io/gravl-app/backend:1.9.0" {
			t.Errorf("pod %s: hash %s ready %v image %s", p.Name, p.Labels[labelPodTemplateHash], kube.PodReady(&p), p.Spec.Containers[0].Image)
		}
	}
}

func progressing(d *appsv1.Deployment) appsv1.DeploymentCondition {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing {
			return c
		}
	}
	return appsv1.DeploymentCondition{}
}

func TestRolloutScenarios(t *testing.T) {
	tests := []struct {
		name     string
		ns, dep  string
		change   func(t *testing.T, c *controlledCluster)
		steps    int   // steps until settled
		gen      int64 // generation the change leads to
		replicas int32
	}{
		{
			name: "scale up", ns: "gravl-staging", dep: "postgres", steps: 6, gen: 2, replicas: 3,
			change: func(t *testing.T, c *controlledCluster) {
				scale(t, c, "gravl-staging", "postgres", 3)
			},
		},
		{
			name: "scale down", ns: "gravl-staging", dep: "frontend", steps: 2, gen: 2, replicas: 0,
			change: func(t *testing.T, c *controlledCluster) {
				scale(t, c, "gravl-staging", "frontend", 0)
			},
		},
		{
			name: "server-side apply of a new deployment through the dynamic client", ns: "gravl-prod", dep: "backend", steps: 9, gen: 1, replicas: 3,
			change: func(t *testing.T, c *controlledCluster) {
				applyDeployment(t, c, "gravl-prod", "backend", 3, "ghcr.io/gravl-app/backend:1.9.0")
			},
		},
		{
			name: "recreate strategy", ns: "kube-system", dep: "sealed-secrets-controller", steps: 4, gen: 2, replicas: 1,
			change: func(t *testing.T, c *controlledCluster) {
				update(t, c, "kube-system", "sealed-secrets-controller", func(d *appsv1.Deployment) {
					d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
					d.Spec.Template.Spec.Containers[0].Image = "docker.io/bitnami/sealed-secrets-controller:0.31.0"
				})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := startControlledCluster(t)
			w := c.watchDeployment(t, tt.ns, tt.dep)
			tt.change(t, c)
			first := next(t, w, func(d *appsv1.Deployment) bool { return d.Generation == tt.gen && observed(d) })
			msgs, final, err := c.stepUntilSettled(t, w, first, 20)
			if err != nil {
				t.Fatalf("rollout failed: %v (after %q)", err, msgs)
			}
			if len(msgs) != tt.steps {
				t.Errorf("settled after %d steps, want %d: %q", len(msgs), tt.steps, msgs)
			}
			if final.Status.UpdatedReplicas != tt.replicas {
				t.Errorf("updated replicas %d, want %d", final.Status.UpdatedReplicas, tt.replicas)
			}
			if cond := progressing(final); cond.Reason != reasonNewRSAvailable {
				t.Errorf("Progressing reason %s, want %s", cond.Reason, reasonNewRSAvailable)
			}
			pods, err := c.Typed.CoreV1().Pods(tt.ns).List(t.Context(), metav1.ListOptions{
				LabelSelector: metav1.FormatLabelSelector(final.Spec.Selector),
			})
			if err != nil {
				t.Fatal(err)
			}
			if int32(len(pods.Items)) != final.Status.Replicas {
				t.Errorf("%d pods, status says %d", len(pods.Items), final.Status.Replicas)
			}
		})
	}
}

func TestFailingRolloutExceedsItsProgressDeadline(t *testing.T) {
	c := startControlledCluster(t)
	w := c.watchDeployment(t, "cert-manager", "cert-manager-webhook")
	update(t, c, "cert-manager", "cert-manager-webhook", func(d *appsv1.Deployment) {
		d.Spec.ProgressDeadlineSeconds = ptr.To[int32](5)
		d.Spec.Template.Annotations = map[string]string{AnnotationFailRollout: "true"}
	})
	d := next(t, w, func(d *appsv1.Deployment) bool { return d.Generation == 2 && observed(d) })
	if msg, _, _ := rolloutStatus(d); msg != waiting("cert-manager-webhook", "0 out of 1 new replicas have been updated") {
		t.Errorf("observed: %q", msg)
	}

	c.clock.Step(testStep) // the surge pod starts, and never becomes ready
	d = next(t, w, func(d *appsv1.Deployment) bool { return d.Status.UpdatedReplicas == 1 })
	if msg, _, _ := rolloutStatus(d); msg != waiting("cert-manager-webhook", "1 old replicas are pending termination") {
		t.Errorf("after the surge: %q", msg)
	}

	c.clock.Step(6 * time.Second) // past the 5 s deadline with no progress
	d = next(t, w, func(d *appsv1.Deployment) bool { return progressing(d).Status == corev1.ConditionFalse })
	if _, _, err := rolloutStatus(d); err == nil || !strings.Contains(err.Error(), "exceeded its progress deadline") {
		t.Errorf("rollout status error %v, want progress deadline exceeded", err)
	}
	if cond := progressing(d); cond.Reason != reasonTimedOut {
		t.Errorf("Progressing reason %s, want %s", cond.Reason, reasonTimedOut)
	}
	if d.Status.Replicas != 2 || d.Status.AvailableReplicas != 1 || d.Status.UpdatedReplicas != 1 {
		t.Errorf("a failed surge keeps the old pod serving: %+v", d.Status)
	}
	pods, err := c.Typed.CoreV1().Pods("cert-manager").List(t.Context(), metav1.ListOptions{LabelSelector: "app=webhook"})
	if err != nil {
		t.Fatal(err)
	}
	waitingReasons := 0
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Waiting != nil && cs.State.Waiting.Reason == "ImagePullBackOff" {
				waitingReasons++
			}
		}
	}
	if len(pods.Items) != 2 || waitingReasons != 1 {
		t.Errorf("%d pods, %d in ImagePullBackOff; want 2 and 1", len(pods.Items), waitingReasons)
	}
}

func scale(t *testing.T, c *controlledCluster, ns, name string, replicas int32) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas)
	if _, err := c.Typed.AppsV1().Deployments(ns).Patch(t.Context(), name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func update(t *testing.T, c *controlledCluster, ns, name string, mutate func(*appsv1.Deployment)) {
	t.Helper()
	d, err := c.Typed.AppsV1().Deployments(ns).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mutate(d)
	if _, err := c.Typed.AppsV1().Deployments(ns).Update(t.Context(), d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func applyDeployment(t *testing.T, c *controlledCluster, ns, name string, replicas int64, image string) {
	t.Helper()
	labels := map[string]any{"app": name}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"replicas": replicas,
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{"containers": []any{
					map[string]any{"name": name, "image": image},
				}},
			},
		},
	}}
	res := c.Dynamic.Resource(appsv1.SchemeGroupVersion.WithResource("deployments")).Namespace(ns)
	if _, err := res.Apply(t.Context(), name, obj, metav1.ApplyOptions{FieldManager: "cockpit"}); err != nil {
		t.Fatal(err)
	}
}

func TestDeletingADeploymentDeletesItsPods(t *testing.T) {
	c := startControlledCluster(t)
	ctx := t.Context()
	w, err := c.Typed.CoreV1().Pods("gravl-staging").Watch(ctx, metav1.ListOptions{LabelSelector: "app=frontend"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := c.Typed.AppsV1().Deployments("gravl-staging").Delete(ctx, "frontend", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deleted := 0
	timeout := time.NewTimer(eventTimeout)
	defer timeout.Stop()
	for deleted < 2 {
		select {
		case ev := <-w.ResultChan():
			if ev.Type == watch.Deleted {
				deleted++
			}
		case <-timeout.C:
			t.Fatalf("%d of 2 frontend pods deleted", deleted)
		}
	}
}

func TestControllersStopWithTheirContext(t *testing.T) {
	c := newCluster(t, ClusterOptions{Clock: clocktesting.NewFakeClock(time.Now())})
	ctx, cancel := context.WithCancel(t.Context())
	done, err := c.StartControllers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.StartControllers(ctx); err == nil {
		t.Error("second StartControllers succeeded")
	}
	cancel()
	<-done
}

func TestControllersStopWhenTheClusterCloses(t *testing.T) {
	c, err := NewSimulatedCluster(ClusterOptions{Clock: clocktesting.NewFakeClock(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	done, err := c.StartControllers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	<-done
	if _, err := c.Typed.AppsV1().Deployments("").Watch(t.Context(), metav1.ListOptions{}); !apierrors.IsServiceUnavailable(err) {
		t.Errorf("watch after Close: %v", err)
	}
}

func TestUnreadWatchDoesNotOverflow(t *testing.T) {
	c := newCluster(t, ClusterOptions{})
	ctx := t.Context()
	w, err := c.Typed.CoreV1().ConfigMaps("gravl-prod").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	const n = 250 // the plain fake panics past 100 unread events
	for i := range n {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i), Namespace: "gravl-prod"}}
		if _, err := c.Typed.CoreV1().ConfigMaps("gravl-prod").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		ev := <-w.ResultChan()
		if cm, ok := ev.Object.(*corev1.ConfigMap); !ok || cm.Name != fmt.Sprintf("cm-%d", i) {
			t.Fatalf("event %d: %v %T", i, ev.Type, ev.Object)
		}
	}
}

func TestDynamicWatchOfBuiltinsDeliversUnstructured(t *testing.T) {
	c := newCluster(t, ClusterOptions{})
	w, err := c.Dynamic.Resource(appsv1.SchemeGroupVersion.WithResource("deployments")).Namespace("cert-manager").
		Watch(t.Context(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=webhook"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ev := <-w.ResultChan()
	u, ok := ev.Object.(*unstructured.Unstructured)
	if !ok || ev.Type != watch.Added || u.GetName() != "cert-manager-webhook" || u.GetKind() != "Deployment" {
		t.Fatalf("first event %v %T", ev.Type, ev.Object)
	}
	select {
	case ev := <-w.ResultChan():
		t.Errorf("unexpected second event %v for %v (selector ignored?)", ev.Type, ev.Object)
	default:
	}
}
