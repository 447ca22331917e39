package kube

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestDNSLabel(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"TestFoo", 50, "testfoo"},
		{"TestFoo/sub_case#01", 50, "testfoo-sub-case-01"},
		{"Test__Foo", 50, "test-foo"},
		{"//", 50, "test"},
		{"TestAVeryLongName", 5, "testa"},
		{"Test/Foo", 5, "test"}, // trailing dash trimmed
	} {
		if got := DNSLabel(tt.in, tt.n); got != tt.want {
			t.Errorf("DNSLabel(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestPodReady(t *testing.T) {
	ready := &corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	notReady := &corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}}}
	if !PodReady(ready) || PodReady(notReady) || PodReady(&corev1.Pod{}) {
		t.Error("PodReady misjudged a pod")
	}
}
