package actions

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// A not-Ready pod is told in the kubelet's and the scheduler's words, with
// the exit code a crash loop hides.
func TestPodNotReadyReason(t *testing.T) {
	tests := []struct {
		name string
		pod  corev1.Pod
		want string
	}{
		{name: "crash loop", pod: corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
			Name: "web", RestartCount: 2,
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 20s restarting failed container=web"}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 3}},
		}}}},
			want: "container web waiting: CrashLoopBackOff: back-off 20s restarting failed container=web; last terminated: Error, exit code 3 (2 restarts)"},
		{name: "readiness probe failing", pod: corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
			Name: "web", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		}}}},
			want: "container web running, not ready"},
		{name: "image pull", pod: corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
			Name: "web", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "failed to pull image"}},
		}}}},
			want: "container web waiting: ErrImagePull: failed to pull image"},
		{name: "unschedulable", pod: corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/1 nodes are available: 1 Insufficient cpu.",
		}}}},
			want: "PodScheduled=False Unschedulable: 0/1 nodes are available: 1 Insufficient cpu."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := podNotReadyReason(&tt.pod); got != tt.want {
				t.Errorf("= %q\nwant %q", got, tt.want)
			}
		})
	}
}
