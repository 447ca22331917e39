package kube

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// deployment is Deployment api at generation 2 of replicas, with status st
// (observed generation 2 unless st says otherwise).
func deployment(replicas int32, st appsv1.DeploymentStatus, edit ...func(*appsv1.Deployment)) *appsv1.Deployment {
	if st.ObservedGeneration == 0 {
		st.ObservedGeneration = 2
	}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "api", Generation: 2, Annotations: map[string]string{RevisionAnnotation: "3"}},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas}, Status: st}
	for _, e := range edit {
		e(d)
	}
	return d
}

func statefulSet(replicas int32, st appsv1.StatefulSetStatus, strategy appsv1.StatefulSetUpdateStrategy) *appsv1.StatefulSet {
	if st.ObservedGeneration == 0 {
		st.ObservedGeneration = 1
	}
	return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Generation: 1},
		Spec: appsv1.StatefulSetSpec{Replicas: &replicas, UpdateStrategy: strategy}, Status: st}
}

func daemonSet(st appsv1.DaemonSetStatus, strategy appsv1.DaemonSetUpdateStrategyType) *appsv1.DaemonSet {
	if st.ObservedGeneration == 0 {
		st.ObservedGeneration = 1
	}
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Generation: 1},
		Spec: appsv1.DaemonSetSpec{UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: strategy}}, Status: st}
}

func partition(n int32) appsv1.StatefulSetUpdateStrategy {
	return appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: &n}}
}

func progressing(reason, msg string) []appsv1.DeploymentCondition {
	return []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue},
		{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: reason, Message: msg}}
}

func TestRolloutStatus(t *testing.T) {
	onDelete := appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	rolling := appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType}
	tests := []struct {
		name     string
		kind     WorkloadKind
		obj      runtime.Object
		revision int64
		phase    RolloutPhase
		msg      string
		reason   string
		paused   bool
		wantErr  string
	}{
		// Deployments.
		{name: "deployment unobserved", kind: Deployment, phase: RolloutPending, msg: "waiting for deployment spec update to be observed",
			obj: deployment(3, appsv1.DeploymentStatus{ObservedGeneration: 1})},
		{name: "deployment updating", kind: Deployment, phase: RolloutProgressing, msg: "2 out of 3 new replicas have been updated", reason: "ReplicaSetUpdated",
			obj: deployment(3, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 2, Conditions: progressing("ReplicaSetUpdated", "")})},
		{name: "deployment old replicas", kind: Deployment, phase: RolloutProgressing, msg: "1 old replicas are pending termination",
			obj: deployment(3, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 3})},
		{name: "deployment unavailable", kind: Deployment, phase: RolloutProgressing, msg: "2 of 3 updated replicas are available",
			obj: deployment(3, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 2})},
		{name: "deployment complete", kind: Deployment, phase: RolloutComplete, msg: "successfully rolled out", reason: "NewReplicaSetAvailable",
			obj: deployment(3, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3, Conditions: progressing("NewReplicaSetAvailable", "")})},
		{name: "deployment of no replicas field", kind: Deployment, phase: RolloutProgressing, msg: "0 out of 1 new replicas have been updated",
			obj: deployment(1, appsv1.DeploymentStatus{}, func(d *appsv1.Deployment) { d.Spec.Replicas = nil })},
		{name: "deployment past its deadline", kind: Deployment, phase: RolloutFailed, reason: "ProgressDeadlineExceeded",
			msg: `deployment "api" exceeded its progress deadline: ReplicaSet "api-7d9f" has timed out progressing.`,
			obj: deployment(3, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1, Conditions: progressing("ProgressDeadlineExceeded", `ReplicaSet "api-7d9f" has timed out progressing.`)})},
		{name: "deployment paused", kind: Deployment, phase: RolloutProgressing, msg: "1 out of 3 new replicas have been updated", paused: true,
			obj: deployment(3, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1}, func(d *appsv1.Deployment) { d.Spec.Paused = true })},
		{name: "deployment at the revision asked", kind: Deployment, revision: 3, phase: RolloutComplete, msg: "successfully rolled out",
			obj: deployment(1, appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1})},
		{name: "deployment at another revision", kind: Deployment, revision: 4, wantErr: "desired revision (4) is different from the running revision (3)",
			obj: deployment(1, appsv1.DeploymentStatus{})},
		// StatefulSets.
		{name: "statefulset never observed", kind: StatefulSet, phase: RolloutPending, msg: "waiting for statefulset spec update to be observed",
			obj: func() *appsv1.StatefulSet {
				s := statefulSet(3, appsv1.StatefulSetStatus{}, rolling)
				s.Status.ObservedGeneration = 0
				return s
			}()},
		{name: "statefulset not ready", kind: StatefulSet, phase: RolloutProgressing, msg: "waiting for 2 pods to be ready",
			obj: statefulSet(3, appsv1.StatefulSetStatus{ReadyReplicas: 1}, rolling)},
		{name: "statefulset OnDelete", kind: StatefulSet, phase: RolloutComplete, msg: "3 pods ready (OnDelete: pods update when deleted)",
			obj: statefulSet(3, appsv1.StatefulSetStatus{ReadyReplicas: 3, UpdateRevision: "db-2", CurrentRevision: "db-1"}, onDelete)},
		{name: "statefulset partition rolling", kind: StatefulSet, phase: RolloutProgressing, msg: "partitioned roll out: 0 out of 1 new pods have been updated",
			obj: statefulSet(3, appsv1.StatefulSetStatus{ReadyReplicas: 3}, partition(2))},
		{name: "statefulset partition done", kind: StatefulSet, phase: RolloutComplete, msg: "partitioned roll out complete: 1 new pods have been updated",
			obj: statefulSet(3, appsv1.StatefulSetStatus{ReadyReplicas: 3, UpdatedReplicas: 1}, partition(2))},
		{name: "statefulset rolling", kind: StatefulSet, phase: RolloutProgressing, msg: "rolling update: 1 pods at revision db-2",
			obj: statefulSet(3, appsv1.StatefulSetStatus{ReadyReplicas: 3, UpdatedReplicas: 1, UpdateRevision: "db-2", CurrentRevision: "db-1"}, rolling)},
		{name: "statefulset complete", kind: StatefulSet, phase: RolloutComplete, msg: "rolling update complete: 3 pods at revision db-2", revision: 9,
			obj: statefulSet(3, appsv1.StatefulSetStatus{ReadyReplicas: 3, CurrentReplicas: 3, UpdateRevision: "db-2", CurrentRevision: "db-2"}, rolling)},
		// DaemonSets.
		{name: "daemonset unobserved", kind: DaemonSet, phase: RolloutPending, msg: "waiting for daemon set spec update to be observed",
			obj: func() *appsv1.DaemonSet { d := daemonSet(appsv1.DaemonSetStatus{}, ""); d.Generation = 2; return d }()},
		{name: "daemonset updating", kind: DaemonSet, phase: RolloutProgressing, msg: "1 out of 3 new pods have been updated",
			obj: daemonSet(appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, UpdatedNumberScheduled: 1}, appsv1.RollingUpdateDaemonSetStrategyType)},
		{name: "daemonset unavailable", kind: DaemonSet, phase: RolloutProgressing, msg: "2 of 3 updated pods are available",
			obj: daemonSet(appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, UpdatedNumberScheduled: 3, NumberAvailable: 2}, appsv1.RollingUpdateDaemonSetStrategyType)},
		{name: "daemonset OnDelete", kind: DaemonSet, phase: RolloutComplete, msg: "successfully rolled out",
			obj: daemonSet(appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, NumberAvailable: 3}, appsv1.OnDeleteDaemonSetStrategyType)},
		{name: "daemonset complete", kind: DaemonSet, phase: RolloutComplete, msg: "successfully rolled out",
			obj: daemonSet(appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, UpdatedNumberScheduled: 3, NumberAvailable: 3}, appsv1.RollingUpdateDaemonSetStrategyType)},
		// Errors.
		{name: "wrong type", kind: StatefulSet, obj: deployment(1, appsv1.DeploymentStatus{}), wantErr: "a StatefulSet rollout of a *v1.Deployment"},
		{name: "no kind", kind: NoWorkload, obj: deployment(1, appsv1.DeploymentStatus{}), wantErr: "NoWorkload is not a workload kind"},
		{name: "undecodable", kind: Deployment, wantErr: "decode deployment bad: ",
			obj: &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "bad"}, "spec": "nope"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(how string, obj runtime.Object) {
				t.Helper()
				got, err := RolloutStatus(tt.kind, obj, tt.revision)
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("%s: err = %v, want %q", how, err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("%s: %v", how, err)
				}
				if got.Phase != tt.phase || got.Message != tt.msg || got.Reason != tt.reason || got.Paused != tt.paused {
					t.Errorf("%s: got %s %q reason %q paused %v; want %s %q reason %q paused %v",
						how, got.Phase, got.Message, got.Reason, got.Paused, tt.phase, tt.msg, tt.reason, tt.paused)
				}
				if got.Done() != (tt.phase == RolloutComplete || tt.phase == RolloutFailed) {
					t.Errorf("%s: Done() = %v in phase %s", how, got.Done(), got.Phase)
				}
			}
			check("typed", tt.obj)
			if _, ok := tt.obj.(*unstructured.Unstructured); ok || tt.kind == NoWorkload || strings.HasPrefix(tt.wantErr, "a ") {
				return
			}
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(tt.obj)
			if err != nil {
				t.Fatal(err)
			}
			check("unstructured", &unstructured.Unstructured{Object: m})
		})
	}
}

func TestRolloutCounts(t *testing.T) {
	d := deployment(3, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1})
	if r := DeploymentRollout(d); r.Desired != 3 || r.Updated != 2 || r.Ready != 1 || r.Available != 1 {
		t.Errorf("deployment counts = %+v", r)
	}
	ds := daemonSet(appsv1.DaemonSetStatus{DesiredNumberScheduled: 4, UpdatedNumberScheduled: 3, NumberReady: 2, NumberAvailable: 1}, "")
	if r := DaemonSetRollout(ds); r.Desired != 4 || r.Updated != 3 || r.Ready != 2 || r.Available != 1 {
		t.Errorf("daemonset counts = %+v", r)
	}
	if got := RolloutPhase(7).String(); got != "RolloutPhase(7)" {
		t.Errorf("unknown phase = %q", got)
	}
}
