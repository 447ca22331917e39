package realcluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/utils/ptr"
)

// TestSealedSecretsController: the real sealed-secrets controller runs as a
// pod from the rig's image; kubeseal fetches its certificate through the
// API server's service proxy and seals a Secret; the controller unseals the
// SealedSecret into that Secret.
func TestSealedSecretsController(t *testing.T) {
	c := Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	// The SealedSecret CRD the envtest control plane installs.
	raw, err := os.ReadFile(filepath.Join("..", "controlplane", "testdata", "crds", "bitnami.com_sealedsecrets.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crd := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(raw, &crd.Object); err != nil {
		t.Fatal(err)
	}
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	if _, err := dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create the SealedSecret CRD: %v", err)
	}
	t.Cleanup(func() { _ = dyn.Resource(crdGVR).Delete(context.Background(), crd.GetName(), metav1.DeleteOptions{}) })

	ns := c.Namespace(t)
	const name = "sealed-secrets-controller"
	if _, err := c.Typed.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A test rig: the controller gets cluster-admin rather than upstream's roles.
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-sealed-secrets"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}},
	}
	if _, err := c.Typed.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Typed.RbacV1().ClusterRoleBindings().Delete(context.Background(), crb.Name, metav1.DeleteOptions{})
	})
	labels := map[string]string{"name": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName:            name,
					TerminationGracePeriodSeconds: ptr.To(int64(1)),
					Containers: []corev1.Container{{
						Name: "controller", Image: SealedSecretsImage, ImagePullPolicy: corev1.PullNever,
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
							PeriodSeconds: 1,
						},
					}},
				},
			},
		},
	}
	if _, err := c.Typed.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromString("http")}}},
	}
	if _, err := c.Typed.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := WaitDeploymentAvailable(ctx, c.Typed, ns, name); err != nil {
		t.Fatal(err)
	}

	// kubeseal seals a Secret with the controller's certificate.
	secret := fmt.Sprintf(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","namespace":%q},"stringData":{"password":"s3cr3t"}}`, ns)
	var sealed []byte
	if err := waitFor(ctx, "kubeseal", time.Second, func() error {
		cmd := exec.CommandContext(ctx, filepath.Join(c.BinDir, "kubeseal"), "--kubeconfig", c.Kubeconfig,
			"--controller-namespace", ns, "--controller-name", name, "--format", "json")
		cmd.Stdin = strings.NewReader(secret)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("kubeseal: %w: %s", err, stderr.String())
		}
		sealed = out
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(sealed), "s3cr3t") {
		t.Fatalf("kubeseal's output holds the plain value:\n%s", sealed)
	}
	ss := &unstructured.Unstructured{}
	if err := ss.UnmarshalJSON(sealed); err != nil {
		t.Fatalf("kubeseal's output: %v\n%s", err, sealed)
	}
	ssGVR := schema.GroupVersionResource{Group: "bitnami.com", Version: "v1alpha1", Resource: "sealedsecrets"}
	if _, err := dyn.Resource(ssGVR).Namespace(ns).Create(ctx, ss, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create the SealedSecret: %v", err)
	}
	// The controller unseals it into the Secret.
	lw := cache.NewListWatchFromClient(c.Typed.CoreV1().RESTClient(), "secrets", ns, fields.OneTermEqualSelector("metadata.name", "db"))
	var got string
	if _, err := watchtools.UntilWithSync(ctx, lw, &corev1.Secret{}, nil, func(ev watch.Event) (bool, error) {
		s, ok := ev.Object.(*corev1.Secret)
		if !ok {
			return false, nil
		}
		got = string(s.Data["password"])
		return got != "", nil
	}); err != nil {
		t.Fatalf("waiting for the controller to unseal db: %v", err)
	}
	if got != "s3cr3t" {
		t.Errorf("unsealed password %q, want %q", got, "s3cr3t")
	}
}
