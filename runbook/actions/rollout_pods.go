package actions

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/cockpit-dev/cockpit/internal/kube"
)

// rolloutPodsShown bounds how many not-Ready pods a failed rollout names.
const rolloutPodsShown = 3

// notReadyPods says why a workload's pods are not Ready, in the kubelet's
// and the scheduler's words: each not-Ready pod matching its selector (at
// most rolloutPodsShown) with its containers' waiting reasons and their
// last termination ("container web waiting: CrashLoopBackOff: back-off 10s
// restarting failed container=web …; last terminated: Error, exit code
// 3"), else its unschedulable condition. "" when every pod is Ready.
//
// A rollout needs no access to pods: this is read on a context of its own
// (the step's may be over) and, when it cannot be, says why instead.
func (w *workloads) notReadyPods(ctx context.Context, ref kube.WorkloadRef) string {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkPodCleanupTimeout)
	defer cancel()
	u, err := w.get(pctx, ref)
	if err != nil {
		return "its pods' reasons are unavailable: " + err.Error()
	}
	sel, err := workloadSelector(u)
	if err != nil {
		return "its pods' reasons are unavailable: " + err.Error()
	}
	list, err := w.typed.CoreV1().Pods(w.ns).List(pctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return "its pods' reasons are unavailable: " + kube.Err(err, kube.Call{Verb: "list", Resource: "pods", Namespace: w.ns}).Error()
	}
	if len(list.Items) == 0 {
		return "no pod matches its selector " + sel
	}
	pods := slices.Clone(list.Items)
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	var notReady []string
	for i := range pods {
		p := &pods[i]
		if kube.PodReady(p) || p.DeletionTimestamp != nil {
			continue
		}
		notReady = append(notReady, p.Name+" ("+string(p.Status.Phase)+"): "+podNotReadyReason(p))
	}
	switch n := len(notReady); {
	case n == 0:
		return ""
	case n > rolloutPodsShown:
		notReady = append(notReady[:rolloutPodsShown], fmt.Sprintf("and %d more", n-rolloutPodsShown))
	}
	return "pods not Ready: " + strings.Join(notReady, "; ")
}

// workloadSelector is a workload's spec.selector as a label selector string.
func workloadSelector(u *unstructured.Unstructured) (string, error) {
	m, found, err := unstructured.NestedMap(u.Object, "spec", "selector")
	if err != nil || !found {
		return "", fmt.Errorf("%s %s has no selector", u.GetKind(), u.GetName())
	}
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &ls); err != nil {
		return "", fmt.Errorf("%s %s: selector: %w", u.GetKind(), u.GetName(), err)
	}
	s, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return "", fmt.Errorf("%s %s: selector: %w", u.GetKind(), u.GetName(), err)
	}
	return s.String(), nil
}

// podNotReadyReason is podWaitReason with each container's last
// termination, the exit code a crash loop hides, and the readiness of a
// running container that is not ready (its probe failing).
func podNotReadyReason(p *corev1.Pod) string {
	var why []string
	for _, cs := range p.Status.ContainerStatuses {
		var s string
		switch st := cs.State; {
		case st.Waiting != nil:
			s = strings.TrimSuffix("container "+cs.Name+" waiting: "+st.Waiting.Reason+": "+st.Waiting.Message, ": ")
		case st.Terminated != nil:
			s = fmt.Sprintf("container %s terminated: %s, exit code %d", cs.Name, st.Terminated.Reason, st.Terminated.ExitCode)
		case st.Running != nil && !cs.Ready:
			s = "container " + cs.Name + " running, not ready"
		default:
			continue
		}
		if t := cs.LastTerminationState.Terminated; t != nil {
			s += fmt.Sprintf("; last terminated: %s, exit code %d", t.Reason, t.ExitCode)
			if t.Message != "" {
				s += ": " + strings.TrimSpace(t.Message)
			}
		}
		if cs.RestartCount > 0 {
			s += fmt.Sprintf(" (%d restarts)", cs.RestartCount)
		}
		why = append(why, s)
	}
	if len(why) > 0 {
		return strings.Join(why, "; ")
	}
	return podWaitReason(p)
}
