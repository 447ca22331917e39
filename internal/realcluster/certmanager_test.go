package realcluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

var (
	clusterIssuerGVR = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "clusterissuers"}
)

// TestCertManagerClusterIssuers: cert-manager's own clusterissuers
// controller (CertManagerController, built from cert-manager's library
// module) runs as a host process with the rig's admin kubeconfig. It sets a
// SelfSigned ClusterIssuer Ready=True; a CA ClusterIssuer whose Secret does
// not exist Ready=False with its ErrGetKeyPair reason and message; and once
// that Secret appears in the cluster-resource namespace, the same issuer
// Ready=True (KeyPairVerified).
func TestCertManagerClusterIssuers(t *testing.T) {
	c := Start(t)
	bin := filepath.Join(c.BinDir, CertManagerController)
	if _, err := os.Stat(bin); err != nil {
		msg := fmt.Sprintf("realcluster: %s is not built (%v)\n\tbuild it with %s", CertManagerController, err, BuildCommand)
		if Required() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// The ClusterIssuer CRD the envtest control plane installs, Established
	// before the controller lists it.
	c.InstallCRDs(t, "clusterissuers.cert-manager.io")

	// The cluster-resource namespace: where the controller reads the Secrets
	// ClusterIssuers name.
	ns := c.Namespace(t)
	t0 := time.Now()
	var steps []string
	step := func(s string) { steps = append(steps, fmt.Sprintf("%s %.1fs", s, time.Since(t0).Seconds())) }
	defer func() { t.Logf("since the controller's start: %s", strings.Join(steps, ", ")) }()
	ctx = runCertManager(ctx, t, bin, c.Kubeconfig, ns)
	issuers := dyn.Resource(clusterIssuerGVR)
	create := func(name string, spec map[string]any) {
		t.Helper()
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
			"metadata": map[string]any{"name": name},
			"spec":     spec,
		}}
		if _, err := issuers.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create ClusterIssuer %s: %v", name, withCause(ctx, err))
		}
		t.Cleanup(func() { _ = issuers.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	}

	selfSigned := ns + "-selfsigned"
	create(selfSigned, map[string]any{"selfSigned": map[string]any{}})
	got, err := waitIssuerReady(ctx, dyn, selfSigned, "True")
	if err != nil {
		t.Fatal(err)
	}
	step("SelfSigned Ready=True")
	if got.reason != "IsReady" {
		t.Errorf("SelfSigned ClusterIssuer %s: Ready=True reason %q, want the controller's IsReady", selfSigned, got.reason)
	}

	caName, secret := ns+"-ca", "missing-ca-keypair"
	create(caName, map[string]any{"ca": map[string]any{"secretName": secret}})
	got, err = waitIssuerReady(ctx, dyn, caName, "False")
	if err != nil {
		t.Fatal(err)
	}
	step("CA without its Secret Ready=False")
	if want := "Error getting keypair for CA issuer: "; got.reason != "ErrGetKeyPair" ||
		!strings.HasPrefix(got.message, want) || !strings.Contains(got.message, fmt.Sprintf("%q not found", secret)) {
		t.Errorf("CA ClusterIssuer %s with no Secret: Ready=False %s: %q; want ErrGetKeyPair: %q ... %q not found",
			caName, got.reason, got.message, want, secret)
	}
	t.Logf("CA ClusterIssuer without its Secret: Ready=False %s: %s", got.reason, got.message)

	// The CA's key pair in the cluster-resource namespace: the controller
	// sees the Secret and verifies the issuer.
	crt, key := caKeyPair(t, "cockpit test CA")
	if _, err := c.Typed.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: secret},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(withCause(ctx, err)) // deleted with the namespace
	}
	got, err = waitIssuerReady(ctx, dyn, caName, "True")
	if err != nil {
		t.Fatal(err)
	}
	step("CA with its Secret Ready=True")
	if got.reason != "KeyPairVerified" {
		t.Errorf("CA ClusterIssuer %s with its Secret: Ready=True reason %q, want KeyPairVerified", caName, got.reason)
	}
}

// runCertManager starts the controller at bin as a host process (its own
// session, its log in the test's temp dir), the cluster-resource namespace
// crNamespace, and stops it by PID when the test ends; the log is shown if
// the test failed. The returned context ends, with the controller's exit
// and the end of its log as the cause, if it exits before that.
func runCertManager(ctx context.Context, t *testing.T, bin, kubeconfig, crNamespace string) context.Context {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), CertManagerController+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	cmd := exec.Command(bin, "--kubeconfig", kubeconfig, "--cluster-resource-namespace", crNamespace, "-v", "2")
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", CertManagerController, err)
	}
	p := &proc{name: CertManagerController, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s:\n%s", logPath, b)
		}
	})
	t.Cleanup(func() {
		if err := p.stop(10 * time.Second); err != nil {
			t.Error(err)
		}
	})
	ctx, cancel := context.WithCancelCause(ctx)
	t.Cleanup(func() { cancel(nil) })
	go func() {
		select {
		case <-p.done:
			if !p.stopped.Load() {
				cancel(p.exitErr())
			}
		case <-ctx.Done():
		}
	}()
	return ctx
}

// condition is a Ready-style condition as read from an object's status.
type condition struct{ status, reason, message string }

// waitIssuerReady watches the ClusterIssuer name until the controller has
// set its Ready condition to status for its current generation.
func waitIssuerReady(ctx context.Context, dyn dynamic.Interface, name, status string) (condition, error) {
	return waitCondition(ctx, dyn, clusterIssuerGVR, name, "Ready", status)
}

// waitCondition watches the cluster-scoped object name of gvr until its
// condition typ has status (and, where the condition carries one, an
// observedGeneration of the object's generation). The error carries the
// last condition seen, and the cause if ctx was cancelled with one.
func waitCondition(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, name, typ, status string) (condition, error) {
	res := dyn.Resource(gvr)
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return res.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return res.Watch(ctx, o)
		},
	}
	var last condition
	_, err := watchtools.UntilWithSync(ctx, lw, &unstructured.Unstructured{}, nil, func(ev watch.Event) (bool, error) {
		u, ok := ev.Object.(*unstructured.Unstructured)
		if !ok || ev.Type == watch.Deleted {
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, v := range conds {
			m, _ := v.(map[string]any)
			if m["type"] != typ {
				continue
			}
			last = condition{status: fmt.Sprint(m["status"]), reason: fmt.Sprint(m["reason"]), message: fmt.Sprint(m["message"])}
			if g, ok := m["observedGeneration"].(int64); ok && g != u.GetGeneration() {
				return false, nil
			}
			return last.status == status, nil
		}
		return false, nil
	})
	if err != nil {
		return last, fmt.Errorf("waiting for %s %s %s=%s (last: %+v): %w", gvr.Resource, name, typ, status, last, withCause(ctx, err))
	}
	return last, nil
}

// withCause adds to err the cause ctx was cancelled with, if any other than
// its own Err (runCertManager's: the controller exited).
func withCause(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() {
		return fmt.Errorf("%w: %w", err, cause)
	}
	return err
}

// caKeyPair returns a self-signed CA certificate and its EC key, PEM-encoded
// as a kubernetes.io/tls Secret holds them.
func caKeyPair(t *testing.T, cn string) (crt, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
