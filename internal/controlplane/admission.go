package controlplane

import (
	"context"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

// Admission refusals the API server decides itself, for tests of what a
// 403 that is no RBAC denial looks like: a quota used up, a policy.

// AdmissionWait bounds the wait for an admission object to take effect:
// a guard against a hang, never a sleep.
const AdmissionWait = 30 * time.Second

// QuotaNoPods writes a ResourceQuota allowing no pods in ns, with the
// status the quota controller would write (there is none in envtest).
func (cp *ControlPlane) QuotaNoPods(t testing.TB, ns, name string) {
	t.Helper()
	q := cp.CreateYAML(t, "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: "+name+", namespace: "+ns+"}\nspec: {hard: {pods: \"0\"}}\n")[0]
	if _, err := cp.SetStatus(context.Background(), q, map[string]any{"hard": map[string]any{"pods": "0"}, "used": map[string]any{"pods": "0"}}); err != nil {
		t.Fatal(err)
	}
}

// DenyLabelledPods writes a ValidatingAdmissionPolicy refusing the
// creation of pods labelled key=value, with message and reason Forbidden
// (a 403), and its binding to ns; both are deleted when the test ends. It
// returns their name.
func (cp *ControlPlane) DenyLabelledPods(t testing.TB, ns, key, value, message string) string {
	t.Helper()
	ctx := context.Background()
	name := ns + "-deny-pods"
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{
				Expression: `!has(object.metadata.labels) || !('` + key + `' in object.metadata.labels) || object.metadata.labels['` + key + `'] != '` + value + `'`,
				Message:    message,
				Reason:     ptr.To(metav1.StatusReasonForbidden),
			}},
		},
	}
	if _, err := cp.Typed.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{corev1.LabelMetadataName: ns}}},
		},
	}
	if _, err := cp.Typed.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = cp.Typed.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Delete(ctx, name, metav1.DeleteOptions{})
		_ = cp.Typed.AdmissionregistrationV1().ValidatingAdmissionPolicies().Delete(ctx, name, metav1.DeleteOptions{})
	})
	return name
}

// UntilPodsDenied waits until the API server refuses a dry-run create of
// a pod with labels in ns — admission objects a test wrote (a quota's
// status, a policy and its binding) reach the admission plugins through
// informers — and returns the refusal.
func (cp *ControlPlane) UntilPodsDenied(t testing.TB, ns string, labels map[string]string) error {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-", Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.37"}}}}
	var denied error
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, AdmissionWait, true, func(ctx context.Context) (bool, error) {
		_, err := cp.Typed.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if apierrors.IsForbidden(err) {
			denied = err
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("the API server still admits pods in %s after %s: %v", ns, AdmissionWait, err)
	}
	return denied
}
