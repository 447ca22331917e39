package kube

import (
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// RevisionAnnotation numbers a Deployment's ReplicaSets, and the
// Deployment itself: the revision of its newest ReplicaSet.
const RevisionAnnotation = "deployment.kubernetes.io/revision"

// RolloutStatus is where the rollout of workload obj, of kind k, stands,
// by kubectl rollout status's rules (its StatusViewer for the kind). obj
// is the typed object (*appsv1.Deployment, *appsv1.StatefulSet,
// *appsv1.DaemonSet) or an *unstructured.Unstructured of it. A revision
// > 0 is the Deployment revision the rollout must be at, as kubectl's
// --revision: another one is an error; the other kinds ignore it, as
// kubectl does.
func RolloutStatus(k WorkloadKind, obj runtime.Object, revision int64) (Rollout, error) {
	switch k {
	case Deployment:
		d, err := decode[appsv1.Deployment](k, obj)
		if err != nil {
			return Rollout{}, err
		}
		if revision > 0 {
			live, err := strconv.ParseInt(d.Annotations[RevisionAnnotation], 10, 64)
			if err != nil {
				return Rollout{}, fmt.Errorf("deployment %q has no revision yet: %w", d.Name, err)
			}
			if live != revision {
				return Rollout{}, fmt.Errorf("desired revision (%d) is different from the running revision (%d)", revision, live)
			}
		}
		return DeploymentRollout(d), nil
	case StatefulSet:
		s, err := decode[appsv1.StatefulSet](k, obj)
		if err != nil {
			return Rollout{}, err
		}
		return StatefulSetRollout(s), nil
	case DaemonSet:
		d, err := decode[appsv1.DaemonSet](k, obj)
		if err != nil {
			return Rollout{}, err
		}
		return DaemonSetRollout(d), nil
	}
	return Rollout{}, fmt.Errorf("%s is not a workload kind", k)
}

// decode is obj as a *T: itself, or converted from unstructured.
func decode[T any](k WorkloadKind, obj runtime.Object) (*T, error) {
	if o, ok := any(obj).(*T); ok {
		return o, nil
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("a %s rollout of a %T", k, obj)
	}
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		return nil, fmt.Errorf("decode %s %s: %w", k.Singular(), u.GetName(), err)
	}
	return out, nil
}

// RolloutPhase is where a workload's rollout stands.
type RolloutPhase uint8

// The phases, in kubectl rollout status's terms.
const (
	RolloutPending     RolloutPhase = iota // the controller has not observed the latest spec yet
	RolloutProgressing                     // new replicas are being rolled out
	RolloutComplete                        // successfully rolled out
	RolloutFailed                          // the Deployment exceeded its progress deadline
)

var rolloutPhaseNames = [...]string{
	RolloutPending:     "pending",
	RolloutProgressing: "progressing",
	RolloutComplete:    "complete",
	RolloutFailed:      "failed",
}

func (p RolloutPhase) String() string {
	if int(p) < len(rolloutPhaseNames) {
		return rolloutPhaseNames[p]
	}
	return fmt.Sprintf("RolloutPhase(%d)", p)
}

// Rollout is the rollout state of one workload: a pure function of the
// object, mirroring kubectl's rollout status viewers.
type Rollout struct {
	Phase     RolloutPhase
	Desired   int32 // spec.replicas, or the daemon set's desired pods
	Updated   int32
	Ready     int32
	Available int32
	Reason    string    // ProgressDeadlineExceeded, or the Progressing condition's reason
	Message   string    // kubectl's words
	Since     time.Time // the Progressing condition's last transition, if any
	// Paused is a paused Deployment's spec.paused: it rolls out nothing
	// until it is resumed. kubectl's viewer does not look; callers may.
	Paused bool
}

// Done reports whether the rollout has ended: complete, or failed.
func (r Rollout) Done() bool { return r.Phase == RolloutComplete || r.Phase == RolloutFailed }

// progressDeadlineExceeded is the Progressing condition reason the
// deployment controller sets when a rollout stalls (kubectl's
// TimedOutReason).
const progressDeadlineExceeded = "ProgressDeadlineExceeded"

// DeploymentRollout mirrors kubectl's DeploymentStatusViewer.
func DeploymentRollout(d *appsv1.Deployment) Rollout {
	desired := int32(1)
	if d.Spec.Replicas != nil {
		desired = *d.Spec.Replicas
	}
	st := d.Status
	r := Rollout{Desired: desired, Updated: st.UpdatedReplicas, Ready: st.ReadyReplicas, Available: st.AvailableReplicas, Paused: d.Spec.Paused}
	var cond *appsv1.DeploymentCondition
	for i := range st.Conditions {
		if st.Conditions[i].Type == appsv1.DeploymentProgressing {
			cond = &st.Conditions[i]
		}
	}
	if cond != nil {
		r.Reason, r.Since = cond.Reason, cond.LastTransitionTime.Time
	}
	switch {
	case d.Generation > st.ObservedGeneration:
		r.Phase, r.Message = RolloutPending, "waiting for deployment spec update to be observed"
	case cond != nil && cond.Reason == progressDeadlineExceeded:
		r.Phase, r.Message = RolloutFailed, fmt.Sprintf("deployment %q exceeded its progress deadline", d.Name)
		if cond.Message != "" {
			r.Message += ": " + cond.Message
		}
	case st.UpdatedReplicas < desired:
		r.Phase, r.Message = RolloutProgressing, fmt.Sprintf("%d out of %d new replicas have been updated", st.UpdatedReplicas, desired)
	case st.Replicas > st.UpdatedReplicas:
		r.Phase, r.Message = RolloutProgressing, fmt.Sprintf("%d old replicas are pending termination", st.Replicas-st.UpdatedReplicas)
	case st.AvailableReplicas < st.UpdatedReplicas:
		r.Phase, r.Message = RolloutProgressing, fmt.Sprintf("%d of %d updated replicas are available", st.AvailableReplicas, st.UpdatedReplicas)
	default:
		r.Phase, r.Message = RolloutComplete, "successfully rolled out"
	}
	return r
}

// StatefulSetRollout mirrors kubectl's StatefulSetStatusViewer. kubectl
// refuses OnDelete stateful sets; here they are complete once every replica
// is ready, and say so.
func StatefulSetRollout(s *appsv1.StatefulSet) Rollout {
	desired := int32(1)
	if s.Spec.Replicas != nil {
		desired = *s.Spec.Replicas
	}
	st := s.Status
	r := Rollout{Desired: desired, Updated: st.UpdatedReplicas, Ready: st.ReadyReplicas, Available: st.AvailableReplicas}
	onDelete := s.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType
	switch {
	case st.ObservedGeneration == 0 || s.Generation > st.ObservedGeneration:
		r.Phase, r.Message = RolloutPending, "waiting for statefulset spec update to be observed"
	case st.ReadyReplicas < desired:
		r.Phase, r.Message = RolloutProgressing, fmt.Sprintf("waiting for %d pods to be ready", desired-st.ReadyReplicas)
	case onDelete:
		r.Phase, r.Message = RolloutComplete, fmt.Sprintf("%d pods ready (OnDelete: pods update when deleted)", st.ReadyReplicas)
	case s.Spec.UpdateStrategy.RollingUpdate != nil && s.Spec.UpdateStrategy.RollingUpdate.Partition != nil:
		want := desired - *s.Spec.UpdateStrategy.RollingUpdate.Partition
		if st.UpdatedReplicas < want {
			r.Phase, r.Message = RolloutProgressing, fmt.Sprintf("partitioned roll out: %d out of %d new pods have been updated", st.UpdatedReplicas, want)
		} else {
			r.Phase, r.Message = RolloutComplete, fmt.Sprintf("partitioned roll out complete: %d new pods have been updated", st.UpdatedReplicas)
		}
	case st.UpdateRevision != st.CurrentRevision:
		r.Phase, r.Message = RolloutProgressing, fmt.Sprintf("rolling update: %d pods at revision %s", st.UpdatedReplicas, st.UpdateRevision)
	default:
		r.Phase, r.Message = RolloutComplete, fmt.Sprintf("rolling update complete: %d pods at revision %s", st.CurrentReplicas, st.CurrentRevision)
	}
	return r
}

// DaemonSetRollout mirrors kubectl's DaemonSetStatusViewer (OnDelete daemon
// sets, which kubectl refuses, are complete once every pod is available).
func DaemonSetRollout(d *appsv1.DaemonSet) Rollout {
	st := d.Status
	r := Rollout{Desired: st.DesiredNumberScheduled, Updated: st.UpdatedNumberScheduled, Ready: st.NumberReady, Available: st.NumberAvailable}
	onDelete := d.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType
	switch {
	case d.Generation > st.ObservedGeneration:
		r.Phase, r.Message = RolloutPending, "waiting for daemon set spec update to be observed"
	case !onDelete && st.UpdatedNumberScheduled < st.DesiredNumberScheduled:
		r.Phase, r.Message = RolloutProgressing, fmt.Sprintf("%d out of %d new pods have been updated", st.UpdatedNumberScheduled, st.DesiredNumberScheduled)
	case st.NumberAvailable < st.DesiredNumberScheduled:
		r.Phase, r.Message = RolloutProgressing, fmt.Sprintf("%d of %d updated pods are available", st.NumberAvailable, st.DesiredNumberScheduled)
	default:
		r.Phase, r.Message = RolloutComplete, "successfully rolled out"
	}
	return r
}
