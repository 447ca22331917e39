package controlplane

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// The Go constants name the cache directory; build.sh names it from the tools
// module. If they drift, tests would look for binaries that are never built.
func TestVersionsMatchToolsModule(t *testing.T) {
	data, err := os.ReadFile("../../hack/envtest/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for mod, want := range map[string]string{
		`k8s.io/kubernetes`:         KubernetesVersion,
		`go.etcd.io/etcd/server/v3`: EtcdVersion,
	} {
		m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(mod) + `\s+(v\S+)`).FindSubmatch(data)
		if m == nil {
			t.Errorf("hack/envtest/go.mod does not require %s", mod)
			continue
		}
		if got := string(m[1]); got != want {
			t.Errorf("hack/envtest/go.mod pins %s %s, controlplane expects %s", mod, got, want)
		}
	}
	script, err := os.ReadFile("../../hack/envtest/build.sh")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("\nrecipe=%d\n", recipe); !strings.Contains(string(script), want) {
		t.Errorf("hack/envtest/build.sh does not set %q: the cache keys differ", strings.TrimSpace(want))
	}
}

// The loop the probes rely on: an object is created, a "controller" (the
// test) writes its status through the status subresource, and client-go
// reads it back. A fake clientset would also keep a status sent on create;
// the real API server drops it, which this test checks too.
func TestDeploymentStatusRoundTrip(t *testing.T) {
	cp := Start(t)
	ns := cp.Namespace(t)
	ctx := context.Background()
	deployments := cp.Typed.AppsV1().Deployments(ns)

	labels := map[string]string{"app": "backend"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "backend", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "gravl/backend:1.0"}}},
			},
		},
		Status: appsv1.DeploymentStatus{ReadyReplicas: 3}, // ignored on create
	}
	created, err := deployments.Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.Status.ReadyReplicas != 0 {
		t.Fatalf("status on create was kept (%d ready): not a real API server", created.Status.ReadyReplicas)
	}
	if created.Generation != 1 {
		t.Fatalf("generation = %d, want 1", created.Generation)
	}

	created.Status = appsv1.DeploymentStatus{
		ObservedGeneration: created.Generation,
		Replicas:           3,
		UpdatedReplicas:    3,
		ReadyReplicas:      2,
		AvailableReplicas:  2,
		Conditions: []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "ReplicaSetUpdated",
		}},
	}
	if _, err := deployments.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update status: %v", err)
	}

	got, err := deployments.Get(ctx, "backend", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Status.ObservedGeneration != 1 || got.Status.UpdatedReplicas != 3 || got.Status.ReadyReplicas != 2 || got.Status.AvailableReplicas != 2 {
		t.Errorf("status read back = %+v", got.Status)
	}
	if len(got.Status.Conditions) != 1 || got.Status.Conditions[0].Reason != "ReplicaSetUpdated" {
		t.Errorf("conditions read back = %+v", got.Status.Conditions)
	}
	if got.Spec.Template.Spec.Containers[0].Image != "gravl/backend:1.0" {
		t.Errorf("spec changed by status write: %+v", got.Spec.Template.Spec.Containers)
	}
}

// The seed's ClusterIssuers, through the CRDs from testdata and SetStatus.
func TestCRDsAndSetStatus(t *testing.T) {
	cp := Start(t)
	ns := cp.Namespace(t)
	cp.CreateYAML(t, `
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: internal-ca-issuer-`+ns+`}
spec: {ca: {secretName: internal-ca}}
status:
  conditions:
  - {type: Ready, status: "False", reason: ErrGetKeyPair, message: 'secret "internal-ca" not found'}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: gravl-tls, namespace: `+ns+`}
spec: {secretName: gravl-tls, dnsNames: [gravl.app], issuerRef: {name: letsencrypt-prod, kind: ClusterIssuer}}
---
apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata: {name: gravl-db, namespace: `+ns+`}
spec: {encryptedData: {password: AgBy3i4OJSWK}}
status:
  conditions:
  - {type: Synced, status: "True"}
`)
	ctx := context.Background()
	ci, err := cp.Dynamic.Resource(schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "clusterissuers"}).
		Get(ctx, "internal-ca-issuer-"+ns, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get ClusterIssuer: %v", err)
	}
	conds, _, _ := unstructured.NestedSlice(ci.Object, "status", "conditions")
	if len(conds) != 1 || conds[0].(map[string]any)["status"] != "False" || conds[0].(map[string]any)["reason"] != "ErrGetKeyPair" {
		t.Errorf("ClusterIssuer conditions = %v", conds)
	}
	ss, err := cp.Dynamic.Resource(schema.GroupVersionResource{Group: "bitnami.com", Version: "v1alpha1", Resource: "sealedsecrets"}).
		Namespace(ns).Get(ctx, "gravl-db", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get SealedSecret: %v", err)
	}
	if conds, _, _ := unstructured.NestedSlice(ss.Object, "status", "conditions"); len(conds) != 1 {
		t.Errorf("SealedSecret conditions = %v", conds)
	}

	// The schema is enforced by the real API server: a condition status
	// outside True/False/Unknown is rejected.
	_, err = cp.SetStatus(ctx, ci, map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "Yes"}}})
	if !apierrors.IsInvalid(err) {
		t.Errorf("SetStatus with status=Yes: err = %v, want Invalid", err)
	}
}

// A user with no RBAC bindings is refused: what forbidden probes will see.
func TestUserWithoutRBACIsForbidden(t *testing.T) {
	cp := Start(t)
	ns := cp.Namespace(t)
	cs, err := kubernetes.NewForConfig(cp.UserConfig(t, "nobody"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.AppsV1().Deployments(ns).List(context.Background(), metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("list as an unbound user: err = %v, want Forbidden", err)
	}
}
