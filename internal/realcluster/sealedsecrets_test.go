package realcluster

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
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
	ns := c.Namespace(t)
	const name = SealedSecretsController
	c.StartSealedSecrets(t, ns)

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
