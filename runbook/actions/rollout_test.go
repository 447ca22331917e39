package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/cockpit-dev/cockpit/probes"
)

// roWait bounds every wait of these tests on the control plane: a guard
// against a hang, never a sleep.
const roWait = 60 * time.Second

// roBuild validates and builds a spec.
func roBuild(t *testing.T, env Env, spec Spec) Action {
	t.Helper()
	if err := spec.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	a, err := spec.Build(env)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return a
}

// roRun is an Execute running in the background.
type roRun struct {
	progress chan Result
	done     chan Result
}

// roStart runs act.Execute in a goroutine, collecting its progress.
func roStart(ctx context.Context, act Action) *roRun {
	r := &roRun{progress: make(chan Result, 1000), done: make(chan Result, 1)}
	go func() {
		r.done <- act.Execute(ctx, func(res Result) {
			select {
			case r.progress <- res:
			default:
				panic("progress: test buffer full")
			}
		})
	}()
	return r
}

// waitProgress waits for a progress result that pred accepts.
func (r *roRun) waitProgress(t *testing.T, what string, pred func(Result) bool) Result {
	t.Helper()
	timeout := time.NewTimer(roWait)
	defer timeout.Stop()
	for {
		select {
		case res := <-r.progress:
			if pred(res) {
				return res
			}
		case res := <-r.done:
			t.Fatalf("waiting for progress (%s): Execute returned %s %q: %s", what, res.Status, res.Summary, res.Message)
		case <-timeout.C:
			t.Fatalf("no progress (%s) within %s", what, roWait)
		}
	}
}

// result waits for Execute's result.
func (r *roRun) result(t *testing.T) Result {
	t.Helper()
	select {
	case res := <-r.done:
		return res
	case <-time.After(roWait):
		t.Fatalf("Execute did not return within %s", roWait)
		return Result{}
	}
}

func roAnyProgress(Result) bool { return true }

// roItemSummary finds an item's summary.
func roItemSummary(res Result, name string) string {
	for _, it := range res.Items {
		if it.Name == name {
			return it.Summary
		}
	}
	return ""
}

// roDeployment is a Deployment as a runbook's manifests would make it.
func roDeployment(name, image string, replicas int32, annotations map[string]string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: image}}},
			},
		},
	}
}

func roCreateDeployment(t *testing.T, cs kubernetes.Interface, ns string, d *appsv1.Deployment) *appsv1.Deployment {
	t.Helper()
	got, err := cs.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create deployment %s: %v", d.Name, err)
	}
	return got
}

// roSetDeploymentStatus writes a Deployment's status as the deployment
// controller would, through the status subresource.
func roSetDeploymentStatus(t *testing.T, cs kubernetes.Interface, ns, name string, mutate func(*appsv1.Deployment)) {
	t.Helper()
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		mutate(d)
		_, err = cs.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("status of deployment %s: %v", name, err)
	}
}

// roRolledOut is the status of a Deployment whose current generation has
// fully rolled out.
func roRolledOut(d *appsv1.Deployment) {
	n := *d.Spec.Replicas
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable",
			LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now()}}}
}

// roReplicaSet creates the ReplicaSet of one revision of d, as the
// deployment controller does: the template with a pod-template-hash
// label, the revision annotation and (when owned) a controller reference.
func roReplicaSet(t *testing.T, cs kubernetes.Interface, d *appsv1.Deployment, rev int, image string, owned bool) *appsv1.ReplicaSet {
	t.Helper()
	hash := fmt.Sprintf("hash%d", rev)
	if !owned {
		hash = "stray" + hash
	}
	labels := map[string]string{"app": d.Name, appsv1.DefaultDeploymentUniqueLabelKey: hash}
	tpl := d.Spec.Template.DeepCopy()
	tpl.Labels = labels
	tpl.Spec.Containers[0].Image = image
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: d.Name + "-" + hash, Labels: labels,
			Annotations: map[string]string{revisionAnnotation: strconv.Itoa(rev), "kubernetes.io/change-cause": "deploy " + image}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(int32(0)), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: *tpl},
	}
	if owned {
		rs.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))}
	}
	got, err := cs.AppsV1().ReplicaSets(d.Namespace).Create(context.Background(), rs, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create replicaset %s: %v", rs.Name, err)
	}
	return got
}

// roWithoutHash is a ReplicaSet's template as a Deployment holds it.
func roWithoutHash(rs *appsv1.ReplicaSet) *corev1.PodTemplateSpec {
	tpl := rs.Spec.Template.DeepCopy()
	delete(tpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return tpl
}

// A watched Deployment passes once the controller's status says it has
// rolled out; progress shows each step ("2/3 updated") as it comes.
func TestRolloutWatchSuccess(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	roCreateDeployment(t, cp.Typed, ns, roDeployment("api", "registry.example/api:1", 3, nil))
	act := roBuild(t, env, &RolloutSpec{Resources: []string{"deploy/api"}, Deadline: probes.Duration(time.Minute)})

	run := roStart(context.Background(), act)
	first := run.waitProgress(t, "first read", roAnyProgress)
	if first.Status != probes.StatusPending || !strings.Contains(roItemSummary(first, "deployment/api"), "not observed yet") {
		t.Fatalf("first progress = %s %q, items %+v; want pending, generation not observed", first.Status, first.Summary, first.Items)
	}
	roSetDeploymentStatus(t, cp.Typed, ns, "api", func(d *appsv1.Deployment) {
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}
	})
	mid := run.waitProgress(t, "2/3 updated", func(r Result) bool {
		return strings.HasPrefix(roItemSummary(r, "deployment/api"), "2/3 updated")
	})
	if mid.Summary != "0/1 rolled out" || mid.Items[0].Status != probes.StatusPending {
		t.Errorf("mid progress = %q, items %+v", mid.Summary, mid.Items)
	}
	roSetDeploymentStatus(t, cp.Typed, ns, "api", roRolledOut)
	res := run.result(t)
	if res.Status != probes.StatusPass || res.Summary != "1/1 rolled out" || res.UndoRevision != 0 {
		t.Fatalf("result = %s %q %q (undo %d), want pass 1/1 rolled out", res.Status, res.Summary, res.Message, res.UndoRevision)
	}
	if it := res.Items[0]; it.Status != probes.StatusPass || it.Message != "successfully rolled out" || !strings.HasPrefix(it.Summary, "3/3 updated") {
		t.Errorf("item = %+v", it)
	}
	if res.ObservedAt.IsZero() {
		t.Error("no ObservedAt")
	}
}

// A Deployment past its progress deadline fails the rollout, with the
// controller's message, and offers the previous revision of its
// ReplicaSets; Undo goes back to it.
func TestRolloutProgressDeadlineExceeded(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	ctx := context.Background()
	d := roCreateDeployment(t, cp.Typed, ns, roDeployment("api", "registry.example/api:3", 2, map[string]string{revisionAnnotation: "3"}))
	rs1 := roReplicaSet(t, cp.Typed, d, 1, "registry.example/api:1", true)
	rs2 := roReplicaSet(t, cp.Typed, d, 2, "registry.example/api:2", true)
	roReplicaSet(t, cp.Typed, d, 3, "registry.example/api:3", true)
	act := roBuild(t, env, &RolloutSpec{Resources: []string{"deployment/api"}})

	run := roStart(ctx, act)
	run.waitProgress(t, "first read", roAnyProgress)
	roSetDeploymentStatus(t, cp.Typed, ns, "api", func(d *appsv1.Deployment) {
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 3, UpdatedReplicas: 1, ReadyReplicas: 2, AvailableReplicas: 2,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
				Message: `ReplicaSet "api-hash3" has timed out progressing.`, LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now()}}}
	})
	res := run.result(t)
	if res.Status != probes.StatusFail {
		t.Fatalf("result = %s %q, want fail", res.Status, res.Message)
	}
	for _, want := range []string{`deployment/api: deployment "api" exceeded its progress deadline`, `ReplicaSet "api-hash3" has timed out progressing.`, "undo offered: revision 2"} {
		if !strings.Contains(res.Message, want) {
			t.Errorf("message %q lacks %q", res.Message, want)
		}
	}
	if res.UndoRevision != 2 {
		t.Errorf("UndoRevision = %d, want 2", res.UndoRevision)
	}
	if it := res.Items[0]; it.Status != probes.StatusFail || it.Reason != "ProgressDeadlineExceeded" {
		t.Errorf("item = %+v", it)
	}

	// The undo the result offered: revision 2's template, hash label gone.
	undo := act.(Undoer).Undo(ctx, 0)
	if undo.Status != probes.StatusPass || undo.Summary != "deployment/api rolled back from revision 3 to revision 2" {
		t.Fatalf("undo = %s %q %q", undo.Status, undo.Summary, undo.Message)
	}
	got, err := cp.Typed.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !apiequality.Semantic.DeepEqual(&got.Spec.Template, roWithoutHash(rs2)) {
		t.Errorf("template after undo = %+v, want revision 2's %+v", got.Spec.Template, roWithoutHash(rs2))
	}
	if got.Annotations["kubernetes.io/change-cause"] != "deploy registry.example/api:2" || got.Annotations[revisionAnnotation] != "3" {
		t.Errorf("annotations after undo = %v: want revision 2's change-cause, the controller's revision kept", got.Annotations)
	}
	if !strings.Contains(undo.Message, "spec.template.spec.containers[api].image: registry.example/api:3 → registry.example/api:2") {
		t.Errorf("undo message %q does not name the image change", undo.Message)
	}
	want := Object{Ref: "Deployment/" + ns + "/api", Op: OpConfigured, ResourceVersion: got.ResourceVersion, Generation: got.Generation}
	if len(undo.Objects) != 1 || undo.Objects[0] != want {
		t.Errorf("undo objects = %+v, want [%+v]", undo.Objects, want)
	}

	// An explicit revision: 1.
	if undo := act.(Undoer).Undo(ctx, 1); undo.Status != probes.StatusPass || !strings.Contains(undo.Summary, "to revision 1") {
		t.Fatalf("undo to 1 = %s %q %q", undo.Status, undo.Summary, undo.Message)
	}
	got, err = cp.Typed.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !apiequality.Semantic.DeepEqual(&got.Spec.Template, roWithoutHash(rs1)) {
		t.Errorf("template after undo to 1 = %+v", got.Spec.Template)
	}
}

// rollout-undo goes back through the ReplicaSets the Deployment controls
// (not a stray one with its labels): a plan that changes nothing and names
// from→to, then the undo; an undo to the template already live does
// nothing; a revision not in the history fails naming those that are.
func TestRolloutUndo(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	ctx := context.Background()
	d := roCreateDeployment(t, cp.Typed, ns, roDeployment("api", "registry.example/api:3", 2, map[string]string{revisionAnnotation: "3"}))
	roReplicaSet(t, cp.Typed, d, 1, "registry.example/api:1", true)
	rs2 := roReplicaSet(t, cp.Typed, d, 2, "registry.example/api:2", true)
	roReplicaSet(t, cp.Typed, d, 3, "registry.example/api:3", true)
	roReplicaSet(t, cp.Typed, d, 9, "registry.example/stray:9", false) // same labels, another owner

	act := roBuild(t, env, &RolloutUndoSpec{Resource: "deployment/api"})
	plan := act.Plan(ctx)
	if plan.Status != probes.StatusPass || plan.Changes != 1 || plan.Summary != "deployment/api would roll back from revision 3 to revision 2" {
		t.Fatalf("plan = %s %q (changes %d): %s", plan.Status, plan.Summary, plan.Changes, plan.Message)
	}
	if !strings.Contains(plan.Message, "containers[api].image: registry.example/api:3 → registry.example/api:2") {
		t.Errorf("plan message %q does not name the image change", plan.Message)
	}
	live, err := cp.Typed.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if live.Generation != d.Generation || live.Spec.Template.Spec.Containers[0].Image != "registry.example/api:3" {
		t.Fatalf("the plan changed the deployment: generation %d, image %s", live.Generation, live.Spec.Template.Spec.Containers[0].Image)
	}

	res := act.Execute(ctx, nil)
	if res.Status != probes.StatusPass || res.Summary != "deployment/api rolled back from revision 3 to revision 2" {
		t.Fatalf("execute = %s %q %q", res.Status, res.Summary, res.Message)
	}
	live, err = cp.Typed.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !apiequality.Semantic.DeepEqual(&live.Spec.Template, roWithoutHash(rs2)) {
		t.Errorf("template = %+v, want revision 2's", live.Spec.Template)
	}
	if o := res.Objects[0]; o.Op != OpConfigured || o.ResourceVersion != live.ResourceVersion || o.Generation != live.Generation || live.Generation != d.Generation+1 {
		t.Errorf("object = %+v, live rv %s generation %d", o, live.ResourceVersion, live.Generation)
	}

	// The live template is now revision 2's: undoing to 2 again changes
	// nothing.
	same := roBuild(t, env, &RolloutUndoSpec{Resource: "deploy/api", Revision: 2}).Execute(ctx, nil)
	if same.Status != probes.StatusPass || same.Objects[0].Op != OpUnchanged || !strings.Contains(same.Summary, "already matches revision 2") {
		t.Errorf("undo to the live revision = %s %q, objects %+v", same.Status, same.Summary, same.Objects)
	}

	missing := roBuild(t, env, &RolloutUndoSpec{Resource: "deploy/api", Revision: 9}).Plan(ctx)
	if missing.Status != probes.StatusFail || !strings.Contains(missing.Message, "deployment/api has no revision 9 (revisions: 1, 2, 3)") {
		t.Errorf("undo to a stray revision = %s %q", missing.Status, missing.Message)
	}
}

// A StatefulSet goes back through its ControllerRevisions, whose data is
// the strategic merge patch kubectl applies.
func TestRolloutUndoStatefulSet(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	ctx := context.Background()
	labels := map[string]string{"app": "db"}
	sts, err := cp.Typed.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To(int32(1)), ServiceName: "db", Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "registry.example/db:2"}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for rev, image := range map[int64]string{1: "registry.example/db:1", 2: "registry.example/db:2"} {
		roControllerRevision(t, cp.Typed, sts, "StatefulSet", rev, roWithImage(sts.Spec.Template, image))
	}
	act := roBuild(t, env, &RolloutUndoSpec{Resource: "sts/db"})
	if plan := act.Plan(ctx); plan.Status != probes.StatusPass || plan.Summary != "statefulset/db would roll back from revision 2 to revision 1" ||
		!strings.Contains(plan.Message, "containers[db].image: registry.example/db:2 → registry.example/db:1") {
		t.Fatalf("plan = %s %q %q", plan.Status, plan.Summary, plan.Message)
	}
	if res := act.Execute(ctx, nil); res.Status != probes.StatusPass {
		t.Fatalf("execute = %s %q %q", res.Status, res.Summary, res.Message)
	}
	got, err := cp.Typed.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := got.Spec.Template.Spec.Containers[0].Image; img != "registry.example/db:1" {
		t.Errorf("image after undo = %s, want revision 1's", img)
	}
	// Now at revision 1's template: going there again changes nothing.
	if res := roBuild(t, env, &RolloutUndoSpec{Resource: "sts/db", Revision: 1}).Execute(ctx, nil); res.Status != probes.StatusPass || res.Objects[0].Op != OpUnchanged {
		t.Errorf("undo to the live revision = %s %q, objects %+v", res.Status, res.Summary, res.Objects)
	}
}

// restart: the plan is a dry run (nothing changes) showing the new
// restartedAt; the execution sets it, at the env's clock, then watches the
// new generation roll out.
func TestRolloutRestart(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	ctx := context.Background()
	at := time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)
	env.Now = func() time.Time { return at }
	roCreateDeployment(t, cp.Typed, ns, roDeployment("api", "registry.example/api:1", 2, nil))
	roSetDeploymentStatus(t, cp.Typed, ns, "api", roRolledOut)
	act := roBuild(t, env, &RolloutSpec{Resources: []string{"deployment/api"}, Restart: true})

	plan := act.Plan(ctx)
	wantChange := "spec.template.metadata.annotations[kubectl.kubernetes.io/restartedAt]: (none) → 2026-05-04T03:02:01Z"
	if plan.Status != probes.StatusPass || plan.Changes != 1 || !strings.Contains(plan.Message, wantChange) {
		t.Fatalf("plan = %s %q (changes %d): %q; want %q", plan.Status, plan.Summary, plan.Changes, plan.Message, wantChange)
	}
	if it := plan.Items[0]; it.Summary != "restartedAt → 2026-05-04T03:02:01Z" || it.Message != wantChange {
		t.Errorf("plan item = %+v", it)
	}
	live, err := cp.Typed.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if live.Generation != 1 || live.Spec.Template.Annotations[restartedAtAnnotation] != "" {
		t.Fatalf("the plan changed the deployment: generation %d, annotations %v", live.Generation, live.Spec.Template.Annotations)
	}

	run := roStart(ctx, act)
	run.waitProgress(t, "new generation", func(r Result) bool {
		return strings.Contains(roItemSummary(r, "deployment/api"), "generation 2 not observed yet")
	})
	live, err = cp.Typed.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if live.Spec.Template.Annotations[restartedAtAnnotation] != "2026-05-04T03:02:01Z" {
		t.Fatalf("restartedAt = %q", live.Spec.Template.Annotations[restartedAtAnnotation])
	}
	roSetDeploymentStatus(t, cp.Typed, ns, "api", roRolledOut)
	res := run.result(t)
	if res.Status != probes.StatusPass || res.Summary != "1/1 restarted and rolled out" {
		t.Fatalf("result = %s %q %q", res.Status, res.Summary, res.Message)
	}
	if o := res.Objects; len(o) != 1 || o[0].Op != OpConfigured || o[0].Generation != 2 || o[0].Ref != "Deployment/"+ns+"/api" {
		t.Errorf("objects = %+v", o)
	}

	// A paused Deployment is not restarted: nothing would roll out.
	paused := roDeployment("paused", "registry.example/api:1", 1, nil)
	paused.Spec.Paused = true
	roCreateDeployment(t, cp.Typed, ns, paused)
	pact := roBuild(t, env, &RolloutSpec{Resources: []string{"deployment/paused"}, Restart: true})
	if plan := pact.Plan(ctx); plan.Status != probes.StatusFail || !strings.Contains(plan.Message, "deployment/paused is paused") {
		t.Errorf("plan of a paused deployment = %s %q", plan.Status, plan.Message)
	}
	if res := pact.Execute(ctx, nil); res.Status != probes.StatusFail || res.Objects[0].Op != OpFailed {
		t.Errorf("restart of a paused deployment = %s %q, objects %+v", res.Status, res.Message, res.Objects)
	}
}

// Several workloads share one deadline: one rolled out, one never does.
// The action fails at the deadline (an upper bound, not a wait) naming the
// one that did not roll out and why.
func TestRolloutDeadlineOneNeverCompletes(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	roCreateDeployment(t, cp.Typed, ns, roDeployment("web", "registry.example/web:1", 1, nil))
	roSetDeploymentStatus(t, cp.Typed, ns, "web", roRolledOut)
	roCreateDeployment(t, cp.Typed, ns, roDeployment("stuck", "registry.example/stuck:1", 2, nil))
	roSetDeploymentStatus(t, cp.Typed, ns, "stuck", func(d *appsv1.Deployment) {
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1}
	})
	act := roBuild(t, env, &RolloutSpec{Resources: []string{"deployment/web", "deployment/stuck"}, Deadline: probes.Duration(2 * time.Second)})
	start := time.Now()
	res := act.Execute(context.Background(), nil)
	took := time.Since(start)
	if res.Status != probes.StatusFail || res.Summary != "1/2 rolled out; not: deployment/stuck" {
		t.Fatalf("result = %s %q %q", res.Status, res.Summary, res.Message)
	}
	if !strings.Contains(res.Message, "deployment/stuck not rolled out when the deadline (2s) passed: 1 of 2 updated replicas are available") {
		t.Errorf("message = %q", res.Message)
	}
	if !strings.Contains(res.Message, "no undo offered for deployment/stuck") || res.UndoRevision != 0 {
		t.Errorf("no history, yet message %q, undo %d", res.Message, res.UndoRevision)
	}
	if res.Items[0].Status != probes.StatusPass || res.Items[1].Status != probes.StatusFail || res.Items[1].Reason != "DeadlineExceeded" {
		t.Errorf("items = %+v", res.Items)
	}
	if took < 2*time.Second || took > 20*time.Second {
		t.Errorf("took %s for a 2s deadline", took)
	}
}

// StatefulSets and DaemonSets are watched by kubectl's rules too.
func TestRolloutStatefulSetAndDaemonSet(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	objs := cp.CreateYAML(t, fmt.Sprintf(`
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: %[1]s}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: main, image: "registry.example/db:16"}]}
status: {observedGeneration: 1, replicas: 2, readyReplicas: 1, currentReplicas: 1, updatedReplicas: 1,
         currentRevision: db-1, updateRevision: db-2}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: %[1]s}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: main, image: "registry.example/agent:1"}]}
status: {observedGeneration: 1, desiredNumberScheduled: 3, currentNumberScheduled: 3, numberMisscheduled: 0,
         updatedNumberScheduled: 2, numberReady: 3, numberAvailable: 3}
`, ns))
	act := roBuild(t, env, &RolloutSpec{Resources: []string{"sts/db", "ds/agent"}})
	run := roStart(context.Background(), act)
	run.waitProgress(t, "both read", func(r Result) bool {
		return strings.HasPrefix(roItemSummary(r, "statefulset/db"), "1/2 updated") && strings.HasPrefix(roItemSummary(r, "daemonset/agent"), "2/3 updated")
	})
	if _, err := cp.SetStatus(context.Background(), objs[0], map[string]any{"observedGeneration": int64(1), "replicas": int64(2), "readyReplicas": int64(2),
		"currentReplicas": int64(2), "updatedReplicas": int64(2), "availableReplicas": int64(2), "currentRevision": "db-2", "updateRevision": "db-2"}); err != nil {
		t.Fatal(err)
	}
	run.waitProgress(t, "statefulset rolled out", func(r Result) bool { return r.Summary == "1/2 rolled out" })
	if _, err := cp.SetStatus(context.Background(), objs[1], map[string]any{"observedGeneration": int64(1), "desiredNumberScheduled": int64(3),
		"currentNumberScheduled": int64(3), "numberMisscheduled": int64(0), "updatedNumberScheduled": int64(3), "numberReady": int64(3), "numberAvailable": int64(3)}); err != nil {
		t.Fatal(err)
	}
	res := run.result(t)
	if res.Status != probes.StatusPass || res.Summary != "2/2 rolled out" {
		t.Fatalf("result = %s %q %q", res.Status, res.Summary, res.Message)
	}
	if !strings.Contains(res.Items[0].Message, "partitioned roll out complete") || res.Items[1].Message != "successfully rolled out" {
		t.Errorf("items = %+v", res.Items)
	}
}

// A missing workload fails the rollout at once, and a watch-only plan
// shows where each rollout stands.
func TestRolloutMissingAndWatchPlan(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	roCreateDeployment(t, cp.Typed, ns, roDeployment("api", "registry.example/api:1", 1, nil))
	roSetDeploymentStatus(t, cp.Typed, ns, "api", roRolledOut)
	act := roBuild(t, env, &RolloutSpec{Resources: []string{"deployment/api", "deployment/ghost"}})
	plan := act.Plan(context.Background())
	if plan.Status != probes.StatusFail || plan.Changes != 0 || !strings.Contains(plan.Message, "not found") || plan.Summary != "would watch 2 workloads (1 rolled out now)" {
		t.Errorf("plan = %s %q %q", plan.Status, plan.Summary, plan.Message)
	}
	start := time.Now()
	res := act.Execute(context.Background(), nil)
	if res.Status != probes.StatusFail || !strings.Contains(res.Message, "deployment/ghost: not found") || res.Items[1].Reason != "NotFound" {
		t.Errorf("result = %s %q, items %+v", res.Status, res.Message, res.Items)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a missing workload took %s to fail", d)
	}
}

// Users whose Role lacks a verb get StatusForbidden naming the verb and
// resource — at once, not after a hang or a retry loop to the deadline.
func TestRolloutForbidden(t *testing.T) {
	cp, ns, _ := testEnv(t, t.TempDir())
	d := roCreateDeployment(t, cp.Typed, ns, roDeployment("api", "registry.example/api:2", 1, map[string]string{revisionAnnotation: "2"}))
	roReplicaSet(t, cp.Typed, d, 1, "registry.example/api:1", true)
	getOnly := apNarrowEnv(t, cp, ns, "", "deploy-getter", []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get"}}})
	nothing := apNarrowEnv(t, cp, ns, "", "nobody", nil)

	tests := []struct {
		name string
		env  Env
		spec Spec
		plan bool
		want string
	}{
		{name: "get", env: nothing, spec: &RolloutSpec{Resources: []string{"deployment/api"}, Deadline: probes.Duration(time.Minute)},
			want: "forbidden: get deployments.apps in namespace " + ns},
		{name: "watch", env: getOnly, spec: &RolloutSpec{Resources: []string{"deployment/api"}, Deadline: probes.Duration(time.Minute)},
			want: "forbidden: watch deployments.apps in namespace " + ns},
		{name: "restart plan", env: getOnly, spec: &RolloutSpec{Resources: []string{"deployment/api"}, Restart: true}, plan: true,
			want: "forbidden: patch deployments.apps in namespace " + ns},
		{name: "restart", env: getOnly, spec: &RolloutSpec{Resources: []string{"deployment/api"}, Restart: true},
			want: "forbidden: patch deployments.apps in namespace " + ns},
		{name: "undo history", env: getOnly, spec: &RolloutUndoSpec{Resource: "deployment/api"}, plan: true,
			want: "forbidden: list replicasets.apps in namespace " + ns},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			act := roBuild(t, tt.env, tt.spec)
			start := time.Now()
			var res Result
			if tt.plan {
				res = act.Plan(context.Background())
			} else {
				res = act.Execute(context.Background(), nil)
			}
			if res.Status != probes.StatusForbidden || !strings.Contains(res.Message, tt.want) {
				t.Errorf("= %s %q, want forbidden %q", res.Status, res.Message, tt.want)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("forbidden took %s to show", d)
			}
		})
	}
	// Nothing was restarted.
	live, err := cp.Typed.AppsV1().Deployments(ns).Get(context.Background(), "api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if live.Generation != 1 {
		t.Errorf("generation = %d after forbidden restarts", live.Generation)
	}
}

func TestRolloutSpecValidate(t *testing.T) {
	tests := []struct {
		name       string
		spec       Spec
		wantFields []string
	}{
		{name: "ok", spec: &RolloutSpec{Resources: []string{"deployment/api", "sts/db", "ds/agent", "deployments.apps/web"}, Deadline: probes.Duration(time.Minute)}},
		{name: "no resources", spec: &RolloutSpec{}, wantFields: []string{"resources"}},
		{name: "bad resources", spec: &RolloutSpec{Resources: []string{"api", "pod/x", "deploy/", "deploy/api", "deployment/api"}},
			wantFields: []string{"resources[0]", "resources[1]", "resources[2]", "resources[4]"}},
		{name: "negative deadline", spec: &RolloutSpec{Resources: []string{"deploy/api"}, Deadline: probes.Duration(-time.Second), Namespace: "Bad_NS"},
			wantFields: []string{"deadline", "namespace"}},
		{name: "undo ok", spec: &RolloutUndoSpec{Resource: "deploy/api", Revision: 3}},
		{name: "undo bad", spec: &RolloutUndoSpec{Resource: "job/x", Revision: -1}, wantFields: []string{"resource", "revision"}},
		{name: "undo empty", spec: &RolloutUndoSpec{}, wantFields: []string{"resource"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roCheckFieldErrors(t, tt.spec.Validate(), tt.wantFields)
		})
	}
}

// roCheckFieldErrors checks that err joins *probes.FieldError values for
// exactly the fields wanted.
func roCheckFieldErrors(t *testing.T, err error, want []string) {
	t.Helper()
	var got []string
	if err != nil {
		var errs []error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		} else {
			errs = []error{err}
		}
		for _, e := range errs {
			var fe *probes.FieldError
			if !errors.As(e, &fe) {
				t.Fatalf("error %v is not a *probes.FieldError", e)
			}
			got = append(got, fe.Field)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("fields = %v, want %v (error: %v)", got, want, err)
	}
}

func TestRolloutSpecDescribeAndPermissions(t *testing.T) {
	watch := &RolloutSpec{Resources: []string{"deployment/api", "deploy/web", "sts/db"}, Namespace: "gravl-prod"}
	if watch.Mutating() || watch.Describe() != "watch deployment/api, deploy/web, sts/db roll out in gravl-prod (deadline 5m0s)" {
		t.Errorf("watch: mutating %v, %q", watch.Mutating(), watch.Describe())
	}
	var got []string
	for _, p := range watch.Permissions() {
		got = append(got, p.String())
	}
	want := []string{"get,list,watch,patch deployments.apps in gravl-prod", "get,list,watch,patch statefulsets.apps in gravl-prod",
		"list replicasets.apps in gravl-prod", "list controllerrevisions.apps in gravl-prod"}
	if !slices.Equal(got, want) {
		t.Errorf("watch permissions = %q, want %q", got, want)
	}
	restart := &RolloutSpec{Resources: []string{"ds/agent"}, Restart: true, Deadline: probes.Duration(time.Minute)}
	if !restart.Mutating() || restart.Describe() != "restart and watch ds/agent roll out (deadline 1m0s)" {
		t.Errorf("restart: mutating %v, %q", restart.Mutating(), restart.Describe())
	}
	if p := restart.Permissions(); len(p) != 2 || !slices.Contains(p[0].Verbs, "patch") || p[0].Resource != "daemonsets" {
		t.Errorf("restart permissions = %+v", p)
	}
	undo := &RolloutUndoSpec{Resource: "deploy/api", Revision: 4}
	if !undo.Mutating() || undo.Describe() != "roll deploy/api back to revision 4" {
		t.Errorf("undo: %q", undo.Describe())
	}
	if p := undo.Permissions(); len(p) != 2 || !slices.Equal(p[0].Verbs, []string{"get", "patch"}) || p[1].Resource != "replicasets" {
		t.Errorf("undo permissions = %+v", p)
	}
	for _, kind := range []string{"rollout", "rollout-undo"} {
		if _, err := Lookup(kind); err != nil {
			t.Error(err)
		}
	}
}

// The change summary matches named lists by name, shows absent fields as
// (none), and is bounded.
func TestFieldChanges(t *testing.T) {
	a := map[string]any{"spec": map[string]any{"containers": []any{
		map[string]any{"name": "api", "image": "api:1"}, map[string]any{"name": "side", "image": "side:1"}}}}
	b := map[string]any{"metadata": map[string]any{"annotations": map[string]any{"x.io/y": "z"}}, "spec": map[string]any{"containers": []any{
		map[string]any{"name": "side", "image": "side:1"}, map[string]any{"name": "api", "image": "api:2"}}}}
	var got []string
	fieldChanges("t", a, b, &got)
	want := []string{"t.metadata.annotations[x.io/y]: (none) → z", "t.spec.containers[api].image: api:1 → api:2"}
	if !slices.Equal(got, want) {
		t.Errorf("changes = %q, want %q", got, want)
	}
	many := map[string]any{}
	for i := range 20 {
		many[fmt.Sprintf("k%02d", i)] = i
	}
	lines := templateChanges(roUnstructuredTemplate(nil), roUnstructuredTemplate(many))
	if len(lines) != maxChangeLines+1 || lines[maxChangeLines] != "… and 8 more fields" {
		t.Errorf("bounded changes = %q", lines)
	}
}

// roUnstructuredTemplate is a workload whose spec.template is tpl.
func roUnstructuredTemplate(tpl map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{}}}
	if tpl != nil {
		u.Object["spec"].(map[string]any)["template"] = tpl
	}
	return u
}

// The step's context ends mid-watch: the result comes at once and says so.
func TestRolloutCancelled(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	roCreateDeployment(t, cp.Typed, ns, roDeployment("api", "registry.example/api:1", 1, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run := roStart(ctx, roBuild(t, env, &RolloutSpec{Resources: []string{"deployment/api"}}))
	run.waitProgress(t, "first read", roAnyProgress)
	cancel()
	res := run.result(t)
	if res.Status != probes.StatusFail || !strings.Contains(res.Message, "deployment/api not rolled out when the step ended (context canceled)") ||
		res.Items[0].Reason != "Interrupted" {
		t.Errorf("= %s %q, items %+v", res.Status, res.Message, res.Items)
	}
}

// Several rollouts failing at the deadline each offer their own previous
// revision; Undo(0) rolls each back to it, and a single revision number
// for several workloads is refused.
func TestRolloutUndoSeveral(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	ctx := context.Background()
	var prev []*appsv1.ReplicaSet
	for _, c := range []struct {
		name string
		cur  int
	}{{"a", 2}, {"b", 5}} {
		d := roCreateDeployment(t, cp.Typed, ns, roDeployment(c.name, "registry.example/"+c.name+":new", 1, map[string]string{revisionAnnotation: strconv.Itoa(c.cur)}))
		prev = append(prev, roReplicaSet(t, cp.Typed, d, c.cur-1, "registry.example/"+c.name+":old", true))
		roReplicaSet(t, cp.Typed, d, c.cur, "registry.example/"+c.name+":new", true)
	}
	act := roBuild(t, env, &RolloutSpec{Resources: []string{"deployment/a", "deployment/b"}, Deadline: probes.Duration(time.Second)})
	res := act.Execute(ctx, nil)
	if res.Status != probes.StatusFail || res.UndoRevision != 1 || !strings.Contains(res.Message, "undo offered: deployment/a to revision 1, deployment/b to revision 4") {
		t.Fatalf("= %s %q (undo %d)", res.Status, res.Message, res.UndoRevision)
	}
	if undo := act.(Undoer).Undo(ctx, 3); undo.Status != probes.StatusError || !strings.Contains(undo.Message, "2 workloads are offered the undo") {
		t.Errorf("undo to one revision for two = %s %q", undo.Status, undo.Message)
	}
	undo := act.(Undoer).Undo(ctx, 0)
	if undo.Status != probes.StatusPass || undo.Summary != "deployment/a rolled back from revision 2 to revision 1; deployment/b rolled back from revision 5 to revision 4" {
		t.Fatalf("undo = %s %q %q", undo.Status, undo.Summary, undo.Message)
	}
	for i, name := range []string{"a", "b"} {
		d, err := cp.Typed.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !apiequality.Semantic.DeepEqual(&d.Spec.Template, roWithoutHash(prev[i])) {
			t.Errorf("deployment %s template = %+v, want its previous revision's", name, d.Spec.Template)
		}
	}
}

// A restart plan warns when the update strategy is OnDelete: the new
// template reaches pods only as they are deleted.
func TestRolloutRestartOnDelete(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	cp.CreateYAML(t, fmt.Sprintf(`
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: %s}
spec:
  updateStrategy: {type: OnDelete}
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: main, image: "registry.example/agent:1"}]}
`, ns))
	plan := roBuild(t, env, &RolloutSpec{Resources: []string{"ds/agent"}, Restart: true}).Plan(context.Background())
	if plan.Status != probes.StatusPass || !strings.Contains(plan.Items[0].Message, "restartedAt]: (none) → ") ||
		!strings.Contains(plan.Items[0].Message, "OnDelete update strategy restarts pods only as they are deleted") {
		t.Errorf("plan = %s %q, items %+v", plan.Status, plan.Message, plan.Items)
	}
}

// A paused Deployment does not roll out until resumed: the watch ends at
// once for it (reason Paused), fails the step, and offers no undo (which
// would refuse a paused Deployment). A paused one that has rolled out
// passes.
func TestRolloutPaused(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	ctx := context.Background()
	paused := roDeployment("paused", "registry.example/api:2", 1, map[string]string{revisionAnnotation: "2"})
	paused.Spec.Paused = true
	d := roCreateDeployment(t, cp.Typed, ns, paused)
	roReplicaSet(t, cp.Typed, d, 1, "registry.example/api:1", true)
	roReplicaSet(t, cp.Typed, d, 2, "registry.example/api:2", true)
	roCreateDeployment(t, cp.Typed, ns, roDeployment("web", "registry.example/web:1", 2, nil))
	roSetDeploymentStatus(t, cp.Typed, ns, "web", func(d *appsv1.Deployment) {
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	})
	act := roBuild(t, env, &RolloutSpec{Resources: []string{"deployment/web", "deployment/paused"}, Deadline: probes.Duration(20 * time.Second)})

	const why = "paused: resume it (kubectl rollout resume) first"
	if plan := act.Plan(ctx); plan.Status != probes.StatusFail || !strings.Contains(plan.Message, why) {
		t.Errorf("plan = %s %q %q", plan.Status, plan.Summary, plan.Message)
	}
	start := time.Now()
	res := act.Execute(ctx, nil)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("a paused deployment took %s to fail", took)
	}
	if res.Status != probes.StatusFail || res.Summary != "0/2 rolled out; not: deployment/web, deployment/paused" ||
		!strings.Contains(res.Message, "deployment/paused: "+why) || !strings.Contains(res.Message, "deployment/web still rolling out (watch stopped: deployment/paused failed)") {
		t.Errorf("result = %s %q %q", res.Status, res.Summary, res.Message)
	}
	if res.UndoRevision != 0 || strings.Contains(res.Message, "undo") {
		t.Errorf("an undo offered for a paused deployment: %d, %q", res.UndoRevision, res.Message)
	}
	if it := res.Items[1]; it.Status != probes.StatusFail || it.Reason != "Paused" || it.Message != why || it.Summary != "paused: 0/1 updated, 0 ready, 0 available" {
		t.Errorf("paused item = %+v", it)
	}
	if it := res.Items[0]; it.Status != probes.StatusPending || it.Reason != "" {
		t.Errorf("web item = %+v", it)
	}

	// Paused once rolled out: nothing is waited for.
	done := roDeployment("done", "registry.example/done:1", 1, nil)
	done.Spec.Paused = true
	roCreateDeployment(t, cp.Typed, ns, done)
	roSetDeploymentStatus(t, cp.Typed, ns, "done", roRolledOut)
	if res := roBuild(t, env, &RolloutSpec{Resources: []string{"deployment/done"}}).Execute(ctx, nil); res.Status != probes.StatusPass {
		t.Errorf("paused, rolled out = %s %q %q", res.Status, res.Summary, res.Message)
	}
}

// roControllerRevision creates revision rev of a StatefulSet's or
// DaemonSet's template, as their controllers do: the template as a
// strategic merge patch replacing it, owned by the workload.
func roControllerRevision(t *testing.T, cs kubernetes.Interface, owner metav1.Object, kind string, rev int64, tpl *corev1.PodTemplateSpec) {
	t.Helper()
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(tpl)
	if err != nil {
		t.Fatal(err)
	}
	raw["$patch"] = "replace"
	data, err := json.Marshal(map[string]any{"spec": map[string]any{"template": raw}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().ControllerRevisions(owner.GetNamespace()).Create(context.Background(), &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", owner.GetName(), rev), Labels: tpl.Labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(owner, appsv1.SchemeGroupVersion.WithKind(kind))}},
		Revision: rev, Data: runtime.RawExtension{Raw: data},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// roWithImage is tpl with its first container's image.
func roWithImage(tpl corev1.PodTemplateSpec, image string) *corev1.PodTemplateSpec {
	out := tpl.DeepCopy()
	out.Spec.Containers[0].Image = image
	return out
}

// The undo a failed rollout offers goes back from the live template's
// revision, not from the newest: one revision back when the live template
// is an older revision's (an undo the controller has not recorded yet),
// and the newest when the live template is no revision's (its revision not
// created yet: slow controller, quota, webhook) — saying so. Deployments
// match their ReplicaSets' templates (but the hash label); a StatefulSet
// takes its status.updateRevision once observed, else, like a DaemonSet,
// the ControllerRevision restoring the live template.
func TestRolloutUndoFromLiveRevision(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	ctx := context.Background()
	apps := cp.Typed.AppsV1()

	// deployment/slow: image 3 applied, its ReplicaSet never created.
	slow := roCreateDeployment(t, cp.Typed, ns, roDeployment("slow", "registry.example/slow:3", 1, map[string]string{revisionAnnotation: "2"}))
	roReplicaSet(t, cp.Typed, slow, 1, "registry.example/slow:1", true)
	slow2 := roReplicaSet(t, cp.Typed, slow, 2, "registry.example/slow:2", true)
	// deployment/undone: rolled back to revision 2's template, not yet
	// renumbered by the controller.
	undone := roCreateDeployment(t, cp.Typed, ns, roDeployment("undone", "registry.example/undone:2", 1, map[string]string{revisionAnnotation: "3"}))
	undone1 := roReplicaSet(t, cp.Typed, undone, 1, "registry.example/undone:1", true)
	roReplicaSet(t, cp.Typed, undone, 2, "registry.example/undone:2", true)
	roReplicaSet(t, cp.Typed, undone, 3, "registry.example/undone:3", true)

	sts := func(name, image string) *appsv1.StatefulSet {
		labels := map[string]string{"app": name}
		s, err := apps.StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr.To(int32(1)), ServiceName: name, Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: image}}}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// statefulset/db: revisions 1 and 2; image 3 applied, not observed
	// yet, its status still at revision 2.
	db := sts("db", "registry.example/db:2")
	roControllerRevision(t, cp.Typed, db, "StatefulSet", 1, roWithImage(db.Spec.Template, "registry.example/db:1"))
	roControllerRevision(t, cp.Typed, db, "StatefulSet", 2, &db.Spec.Template)
	db.Spec.Template.Spec.Containers[0].Image = "registry.example/db:3"
	db, err := apps.StatefulSets(ns).Update(ctx, db, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	db.Status = appsv1.StatefulSetStatus{ObservedGeneration: 1, Replicas: 1, CurrentRevision: "db-2", UpdateRevision: "db-2"}
	if _, err := apps.StatefulSets(ns).UpdateStatus(ctx, db, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// statefulset/cache: observed at revision 2, its pod not ready.
	cache := sts("cache", "registry.example/cache:2")
	roControllerRevision(t, cp.Typed, cache, "StatefulSet", 1, roWithImage(cache.Spec.Template, "registry.example/cache:1"))
	roControllerRevision(t, cp.Typed, cache, "StatefulSet", 2, &cache.Spec.Template)
	cache.Status = appsv1.StatefulSetStatus{ObservedGeneration: cache.Generation, Replicas: 1, CurrentRevision: "cache-1", UpdateRevision: "cache-2"}
	if _, err := apps.StatefulSets(ns).UpdateStatus(ctx, cache, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// daemonset/agent: rolled back to revision 2's template, not yet
	// renumbered.
	agentLabels := map[string]string{"app": "agent"}
	agent, err := apps.DaemonSets(ns).Create(ctx, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: agentLabels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: agentLabels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "registry.example/agent:2"}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	roControllerRevision(t, cp.Typed, agent, "DaemonSet", 1, roWithImage(agent.Spec.Template, "registry.example/agent:1"))
	roControllerRevision(t, cp.Typed, agent, "DaemonSet", 2, &agent.Spec.Template)
	roControllerRevision(t, cp.Typed, agent, "DaemonSet", 3, roWithImage(agent.Spec.Template, "registry.example/agent:3"))

	// What rollout-undo would do, before any rollout.
	plan := roBuild(t, env, &RolloutUndoSpec{Resource: "deploy/slow"}).Plan(ctx)
	if plan.Status != probes.StatusPass || plan.Summary != "deployment/slow would roll back from a template no revision holds to revision 2" ||
		!strings.Contains(plan.Message, "containers[slow].image: registry.example/slow:3 → registry.example/slow:2") ||
		!strings.Contains(plan.Message, "no revision of deployment/slow holds its live template") {
		t.Errorf("undo plan = %s %q %q", plan.Status, plan.Summary, plan.Message)
	}

	act := roBuild(t, env, &RolloutSpec{Resources: []string{"deploy/slow", "deploy/undone", "sts/db", "sts/cache", "ds/agent"}, Deadline: probes.Duration(time.Second)})
	res := act.Execute(ctx, nil)
	wantOffer := "undo offered: deployment/slow to revision 2, deployment/undone to revision 1, statefulset/db to revision 2, statefulset/cache to revision 1, daemonset/agent to revision 1"
	if res.Status != probes.StatusFail || res.UndoRevision != 2 || !strings.Contains(res.Message, wantOffer) {
		t.Fatalf("= %s %q (undo %d)\nwant %q", res.Status, res.Message, res.UndoRevision, wantOffer)
	}
	for _, note := range []string{
		"no revision of deployment/slow holds its live template (its revision is not recorded yet): the newest, 2, is taken as the previous one",
		"no revision of statefulset/db holds its live template (its revision is not recorded yet): the newest, 2, is taken as the previous one",
	} {
		if !strings.Contains(res.Message, note) {
			t.Errorf("message %q lacks %q", res.Message, note)
		}
	}
	for _, ref := range []string{"deployment/undone", "statefulset/cache", "daemonset/agent"} {
		if strings.Contains(res.Message, "no revision of "+ref) {
			t.Errorf("%s's live template has a revision, yet %q", ref, res.Message)
		}
	}

	undo := act.(Undoer).Undo(ctx, 0)
	wantSummary := "deployment/slow rolled back from a template no revision holds to revision 2; deployment/undone rolled back from revision 2 to revision 1; " +
		"statefulset/db rolled back from a template no revision holds to revision 2; statefulset/cache rolled back from revision 2 to revision 1; " +
		"daemonset/agent rolled back from revision 2 to revision 1"
	if undo.Status != probes.StatusPass || undo.Summary != wantSummary {
		t.Fatalf("undo = %s %q %q\nwant summary %q", undo.Status, undo.Summary, undo.Message, wantSummary)
	}
	gotSlow, err := apps.Deployments(ns).Get(ctx, "slow", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gotUndone, err := apps.Deployments(ns).Get(ctx, "undone", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !apiequality.Semantic.DeepEqual(&gotSlow.Spec.Template, roWithoutHash(slow2)) || !apiequality.Semantic.DeepEqual(&gotUndone.Spec.Template, roWithoutHash(undone1)) {
		t.Errorf("templates after undo: slow %s, undone %s", gotSlow.Spec.Template.Spec.Containers[0].Image, gotUndone.Spec.Template.Spec.Containers[0].Image)
	}
	for name, want := range map[string]string{"db": "registry.example/db:2", "cache": "registry.example/cache:1"} {
		s, err := apps.StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if img := s.Spec.Template.Spec.Containers[0].Image; img != want {
			t.Errorf("statefulset %s image after undo = %s, want %s", name, img, want)
		}
	}
	gotAgent, err := apps.DaemonSets(ns).Get(ctx, "agent", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := gotAgent.Spec.Template.Spec.Containers[0].Image; img != "registry.example/agent:1" {
		t.Errorf("daemonset image after undo = %s, want agent:1", img)
	}
}

// One workload of a release fails while another is still rolling out: the
// watch ends at the failure, and the undo is offered for both — a rollback
// of the release leaves none of it half-changed — and rolls both back.
func TestRolloutUndoOffersTheReleaseStillRollingOut(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	ctx := context.Background()
	var prev []*appsv1.ReplicaSet
	for _, c := range []struct {
		name string
		cur  int
	}{{"bad", 2}, {"slow", 5}} {
		d := roCreateDeployment(t, cp.Typed, ns, roDeployment(c.name, "registry.example/"+c.name+":new", 2, map[string]string{revisionAnnotation: strconv.Itoa(c.cur)}))
		prev = append(prev, roReplicaSet(t, cp.Typed, d, c.cur-1, "registry.example/"+c.name+":old", true))
		roReplicaSet(t, cp.Typed, d, c.cur, "registry.example/"+c.name+":new", true)
	}
	act := roBuild(t, env, &RolloutSpec{Resources: []string{"deployment/bad", "deployment/slow"}, Deadline: probes.Duration(time.Minute)})
	run := roStart(ctx, act)
	run.waitProgress(t, "first read", roAnyProgress)
	roSetDeploymentStatus(t, cp.Typed, ns, "slow", func(d *appsv1.Deployment) {
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 3, UpdatedReplicas: 1, ReadyReplicas: 2, AvailableReplicas: 2}
	})
	roSetDeploymentStatus(t, cp.Typed, ns, "bad", func(d *appsv1.Deployment) {
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 3, UpdatedReplicas: 1, ReadyReplicas: 2, AvailableReplicas: 2,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
				Message: `ReplicaSet "bad-hash2" has timed out progressing.`, LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now()}}}
	})
	res := run.result(t)
	if res.Status != probes.StatusFail || res.UndoRevision != 1 ||
		!strings.Contains(res.Message, "deployment/slow still rolling out (watch stopped: deployment/bad failed)") ||
		!strings.Contains(res.Message, "undo offered: deployment/bad to revision 1, deployment/slow to revision 4") {
		t.Fatalf("= %s %q (undo %d)", res.Status, res.Message, res.UndoRevision)
	}
	undo := act.(Undoer).Undo(ctx, 0)
	if undo.Status != probes.StatusPass || !strings.Contains(undo.Summary, "deployment/bad rolled back from revision 2 to revision 1") ||
		!strings.Contains(undo.Summary, "deployment/slow rolled back from revision 5 to revision 4") {
		t.Fatalf("undo = %s %q %q", undo.Status, undo.Summary, undo.Message)
	}
	for i, name := range []string{"bad", "slow"} {
		d, err := cp.Typed.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !apiequality.Semantic.DeepEqual(&d.Spec.Template, roWithoutHash(prev[i])) {
			t.Errorf("deployment %s template = %+v, want its previous revision's", name, d.Spec.Template)
		}
	}
}
