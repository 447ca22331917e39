package distload

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestLostReasonInTheClustersWords: a worker's pod that is gone or going
// is told in the words the cluster gave it — an Eviction API eviction by
// its DisruptionTarget condition (the pod is deleted, not marked Failed),
// a node-pressure eviction by the kubelet's reason and message, an OOM
// kill by the container's OOMKilled and exit code 137 — and a pod that
// runs or ended by itself is not lost.
func TestLostReasonInTheClustersWords(t *testing.T) {
	now := metav1.Now()
	evictCond := corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		Reason: "EvictionByEvictionAPI", Message: "Eviction API: evicting"}
	pod := func(f func(p *corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "w-1"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
		f(p)
		return p
	}
	tests := []struct {
		name      string
		pod       *corev1.Pod
		gone      bool
		disrupted string
		want      string
	}{
		{name: "running", pod: pod(func(*corev1.Pod) {}), want: ""},
		{name: "succeeded", pod: pod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }), want: ""},
		{name: "deleted, never seen otherwise", pod: pod(func(*corev1.Pod) {}), gone: true, want: "pod w-1 deleted"},
		{name: "evicted through the Eviction API, terminating", pod: pod(func(p *corev1.Pod) {
			p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &now, ptr.To(int64(5))
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}, evictCond}
		}), want: "pod w-1 deleted (grace period 5s); DisruptionTarget: EvictionByEvictionAPI: Eviction API: evicting"},
		{name: "evicted, gone, the condition seen before", pod: pod(func(*corev1.Pod) {}), gone: true,
			disrupted: "DisruptionTarget: EvictionByEvictionAPI: Eviction API: evicting",
			want:      "pod w-1 deleted; DisruptionTarget: EvictionByEvictionAPI: Eviction API: evicting"},
		{name: "node-pressure eviction", pod: pod(func(p *corev1.Pod) {
			p.Status.Phase, p.Status.Reason, p.Status.Message = corev1.PodFailed, "Evicted", "The node was low on resource: memory. "
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
				Reason: "TerminationByKubelet", Message: "The node was low on resource: memory."}}
		}), want: "pod w-1 failed: Evicted: The node was low on resource: memory.; DisruptionTarget: TerminationByKubelet: The node was low on resource: memory."},
		{name: "OOM-killed", pod: pod(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodFailed
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "worker", State: corev1.ContainerState{
				Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}}}
		}), want: "pod w-1 failed; container worker terminated: OOMKilled, exit code 137"},
		{name: "a condition not true says nothing", pod: pod(func(p *corev1.Pod) {
			p.DeletionTimestamp = &now
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionFalse, Reason: "x"}}
		}), want: "pod w-1 deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lostReason(tt.pod, tt.gone, tt.disrupted); got != tt.want {
				t.Errorf("lostReason = %q\nwant          %q", got, tt.want)
			}
		})
	}
}
