package actions

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
	"github.com/cockpit-dev/cockpit/internal/promtest"
	"github.com/cockpit-dev/cockpit/probes"
)

// The API server refuses what would let a test proxy to a server of its
// own on loopback, so the certificate's fetch through the service proxy is
// tested against the real API server for its failures only (not found,
// forbidden, no endpoints), and for its success against a stand-in API
// server serving kubeseal's paths. What kube-apiserver v1.37 answers:
//
//   - an EndpointSlice with address 127.0.0.1: `endpoints[0].addresses[0]:
//     Invalid value: "127.0.0.1": may not be in the loopback range
//     (127.0.0.0/8, ::1/128)`;
//   - v1 Endpoints with ip 127.0.0.1: `subsets[0].addresses[0].ip: Invalid
//     value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8,
//     ::1/128)`;
//   - and the proxy only goes to endpoint addresses that are pods (a
//     targetRef to a Pod with that IP): others give 503 `no endpoints
//     available for service "…"`.

// sealedCert makes a certificate like the controller's (self-signed,
// subject O=sealed-secret) expiring at notAfter, and its SHA-256
// fingerprint as openssl prints it.
func sealedCert(t *testing.T, notAfter time.Time) ([]byte, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{Organization: []string{"sealed-secret"}, CommonName: "sealed-secret"},
		NotBefore:    notAfter.Add(-10 * 365 * 24 * time.Hour),
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), strings.ReplaceAll(fmt.Sprintf("% X", sum[:]), " ", ":")
}

// sealedYAML is a SealedSecret manifest.
func sealedYAML(ns, name string) string {
	return fmt.Sprintf(`apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  encryptedData:
    DATABASE_URL: AgBy3i4OJSWK+PiTySYZZA9rO43cGDEq8QdbR0M9bZKk1n1rLmXx2d3NwGJ1oS3W0nJm7pqf2hO5xk2Q1Lw==
  template:
    metadata: {name: %[2]s, namespace: %[1]s}
    type: Opaque
`, ns, name)
}

// sealedWrite writes content to dir/name.
func sealedWrite(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// sealedBuild validates and builds spec; a non-nil certPEM stands in for
// the controller's answer.
func sealedBuild(t *testing.T, env Env, spec *SealedSecretSpec, certPEM []byte) *sealedSecretAction {
	t.Helper()
	if err := spec.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	built, err := spec.Build(env)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	a := built.(*sealedSecretAction)
	if certPEM != nil {
		a.fetchCert = func(context.Context) ([]byte, error) { return certPEM, nil }
	}
	return a
}

// sealedSetSynced writes the Synced condition a controller would, for the
// object's current generation.
func sealedSetSynced(t *testing.T, cp *controlplane.ControlPlane, ns, name, status, reason, message string, observedGeneration int64) {
	t.Helper()
	ctx := context.Background()
	u, err := cp.Dynamic.Resource(sealedSecretsGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if observedGeneration == 0 {
		observedGeneration = u.GetGeneration()
	}
	cond := map[string]any{"type": "Synced", "status": status, "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}
	if reason != "" {
		cond["reason"], cond["message"] = reason, message
	}
	if _, err := cp.SetStatus(ctx, u, map[string]any{"conditions": []any{cond}, "observedGeneration": observedGeneration}); err != nil {
		t.Fatal(err)
	}
}

// sealedAwaitExists waits until the SealedSecret has been created.
func sealedAwaitExists(t *testing.T, cp *controlplane.ControlPlane, ns, name string) {
	t.Helper()
	promtest.Eventually(t, 30*time.Second, "SealedSecret "+ns+"/"+name+" created", func() (bool, string) {
		_, err := cp.Dynamic.Resource(sealedSecretsGVR).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
		return err == nil, fmt.Sprint(err)
	})
}

func TestSealedSecretSpec(t *testing.T) {
	d, err := Lookup("sealed-secret")
	if err != nil {
		t.Fatal(err)
	}
	s := d.NewSpec().(*SealedSecretSpec)
	if s.Mutating() || s.Describe() != "fetch the sealing certificate of kube-system/sealed-secrets-controller" {
		t.Errorf("no files: mutating %v, %q", s.Mutating(), s.Describe())
	}
	s.Files, s.Namespace = []string{"sealed/"}, "gravl-prod"
	if !s.Mutating() || s.Describe() != "apply SealedSecrets from sealed/ in gravl-prod and wait until kube-system/sealed-secrets-controller has unsealed them (timeout 2m)" {
		t.Errorf("files: mutating %v, %q", s.Mutating(), s.Describe())
	}
	for _, tt := range []struct {
		name string
		spec SealedSecretSpec
		want []string
	}{
		{"defaults", SealedSecretSpec{}, nil},
		{"full", SealedSecretSpec{Files: []string{"a.yaml"}, Namespace: "gravl-prod", Controller: SealedSecretController{Namespace: "sealed-secrets", Name: "sealed-secrets"}, Timeout: probes.Duration(time.Minute)}, nil},
		{"bad", SealedSecretSpec{Files: []string{""}, Namespace: "Gravl", Controller: SealedSecretController{Namespace: "a_b", Name: "1x"}, Timeout: -1},
			[]string{"files[0]", "namespace", "controller.namespace", "controller.name", "timeout"}},
		{"cert URL", SealedSecretSpec{Cert: "https://sealed-secrets.gravl.app/v1/cert.pem"}, nil},
		{"cert file", SealedSecretSpec{Cert: "keys/sealing.pem"}, nil},
		{"cert scheme", SealedSecretSpec{Cert: "ftp://example.org/cert.pem"}, []string{"cert"}},
		{"cert no host", SealedSecretSpec{Cert: "https:///cert.pem"}, []string{"cert"}},
		{"cert spaces", SealedSecretSpec{Cert: " cert.pem"}, []string{"cert"}},
		{"cert userinfo", SealedSecretSpec{Cert: "https://u:p@sealed.gravl.app/v1/cert.pem"}, []string{"cert"}},
		{"cert query", SealedSecretSpec{Cert: "https://sealed.gravl.app/v1/cert.pem?token=x"}, []string{"cert"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			if got := specErrFields(t, err); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("fields = %v, want %v (%v)", got, tt.want, err)
			}
		})
	}
}

// Permissions: kubeseal's reads of the controller's Service; with files
// the SealedSecrets' apply and watch; never Secrets.
func TestSealedSecretPermissions(t *testing.T) {
	str := func(ps []probes.Permission) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.String())
			if p.Resource == "secrets" || strings.HasPrefix(p.Resource, "secrets/") {
				t.Errorf("the action asks for Secrets: %s", p)
			}
		}
		return out
	}
	s := &SealedSecretSpec{}
	if got := str(s.Permissions()); !slices.Equal(got, []string{"get services in kube-system", "get services/proxy in kube-system"}) {
		t.Errorf("no files: %q", got)
	}
	s = &SealedSecretSpec{Files: []string{"x.yaml"}, Namespace: "gravl-prod", Controller: SealedSecretController{Namespace: "ss"}}
	want := []string{"get services in ss", "get services/proxy in ss", "get,create,patch,list,watch sealedsecrets.bitnami.com in gravl-prod"}
	if got := str(s.Permissions()); !slices.Equal(got, want) {
		t.Errorf("files: %q\nwant %q", got, want)
	}
	// The certificate from elsewhere: no service proxy.
	s = &SealedSecretSpec{Files: []string{"x.yaml"}, Namespace: "gravl-prod", Cert: "https://sealed-secrets.gravl.app/v1/cert.pem"}
	if got := str(s.Permissions()); !slices.Equal(got, want[2:]) {
		t.Errorf("cert URL: %q\nwant %q", got, want[2:])
	}
	if s.Files = nil; s.Permissions() != nil || s.Describe() != "check the sealing certificate at https://sealed-secrets.gravl.app/v1/cert.pem" {
		t.Errorf("cert URL, no files: %q %q", str(s.Permissions()), s.Describe())
	}
	// No namespace: those the manifests name, read from the base directory.
	dir := t.TempDir()
	sealedWrite(t, dir, "x.yaml", sealedYAML("gravl-prod", "a")+"---\n"+sealedYAML("gravl-staging", "b")+"---\n"+sealedYAML("gravl-prod", "c"))
	s = &SealedSecretSpec{Files: []string{"x.yaml"}}
	s.SetBaseDir(dir)
	want = []string{"get services in kube-system", "get services/proxy in kube-system",
		"get,create,patch,list,watch sealedsecrets.bitnami.com in gravl-prod", "get,create,patch,list,watch sealedsecrets.bitnami.com in gravl-staging"}
	if got := str(s.Permissions()); !slices.Equal(got, want) {
		t.Errorf("namespaces from the files: %q\nwant %q", got, want)
	}
}

// The Synced condition as the controller writes it; one written for an
// older generation is not the current one's.
func TestSealedSyncState(t *testing.T) {
	obj := func(gen int64, status map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "db", "namespace": "p", "generation": gen}}}
		if status != nil {
			u.Object["status"] = status
		}
		return u
	}
	synced := func(st, reason, msg string) []any {
		return []any{map[string]any{"type": "Synced", "status": st, "reason": reason, "message": msg}}
	}
	applied := time.Date(2026, 3, 4, 5, 6, 7, 500e6, time.UTC)
	at := func(d time.Duration) string { return applied.Add(d).Format(time.RFC3339) }
	timed := func(st string, times map[string]string) []any {
		c := map[string]any{"type": "Synced", "status": st}
		for k, v := range times {
			c[k] = v
		}
		return []any{c}
	}
	for _, tt := range []struct {
		name      string
		u         *unstructured.Unstructured
		notBefore time.Time // the apply that configured it
		status    probes.Status
		msg       string
	}{
		{"no status", obj(1, nil), time.Time{}, probes.StatusPending, "no Synced condition yet"},
		{"true", obj(2, map[string]any{"observedGeneration": int64(2), "conditions": synced("True", "", "")}), time.Time{}, probes.StatusPass, ""},
		{"false", obj(2, map[string]any{"observedGeneration": int64(2), "conditions": synced("False", "ErrUnsealFailed", "no key could decrypt secret")}), time.Time{}, probes.StatusFail, "no key could decrypt secret"},
		{"stale true", obj(3, map[string]any{"observedGeneration": int64(2), "conditions": synced("True", "", "")}), time.Time{}, probes.StatusPending, "the controller has not seen generation 3 yet (observed 2)"},
		{"no observedGeneration", obj(3, map[string]any{"conditions": synced("True", "", "")}), time.Time{}, probes.StatusPass, ""},
		{"unknown", obj(1, map[string]any{"conditions": synced("Unknown", "", "working")}), time.Time{}, probes.StatusPending, "working"},
		// Configured, and no observedGeneration: the condition's time
		// tells the new version's from the old one's.
		{"configured, updated before the apply", obj(2, map[string]any{"conditions": timed("True", map[string]string{"lastUpdateTime": at(-time.Hour), "lastTransitionTime": at(-time.Hour)})}),
			applied, probes.StatusPending, "the Synced condition (True, written " + at(-time.Hour) + ") predates the apply at " + at(0) + " and the controller writes no observedGeneration: waiting for it to be written anew"},
		{"configured, stale False", obj(2, map[string]any{"conditions": timed("False", map[string]string{"lastUpdateTime": at(-time.Minute)})}),
			applied, probes.StatusPending, "the Synced condition (False, written " + at(-time.Minute) + ") predates the apply at " + at(0) + " and the controller writes no observedGeneration: waiting for it to be written anew"},
		{"configured, updated after", obj(2, map[string]any{"conditions": timed("True", map[string]string{"lastUpdateTime": at(2 * time.Second), "lastTransitionTime": at(-time.Hour)})}),
			applied, probes.StatusPass, ""},
		{"configured, updated in the apply's second", obj(2, map[string]any{"conditions": timed("True", map[string]string{"lastUpdateTime": applied.Truncate(time.Second).Format(time.RFC3339)})}),
			applied, probes.StatusPass, ""},
		{"configured, lastUpdateTime decides over lastTransitionTime", obj(2, map[string]any{"conditions": timed("True", map[string]string{"lastUpdateTime": at(-time.Minute), "lastTransitionTime": at(time.Minute)})}),
			applied, probes.StatusPending, "the Synced condition (True, written " + at(-time.Minute) + ") predates the apply at " + at(0) + " and the controller writes no observedGeneration: waiting for it to be written anew"},
		{"configured, only lastTransitionTime, after", obj(2, map[string]any{"conditions": timed("True", map[string]string{"lastTransitionTime": at(time.Minute)})}),
			applied, probes.StatusPass, ""},
		{"configured, no time", obj(2, map[string]any{"conditions": synced("True", "", "")}),
			applied, probes.StatusPending, "the Synced condition (True, written no time) predates the apply at " + at(0) + " and the controller writes no observedGeneration: waiting for it to be written anew"},
		{"configured, observedGeneration decides", obj(2, map[string]any{"observedGeneration": int64(2), "conditions": timed("True", map[string]string{"lastUpdateTime": at(-time.Hour)})}),
			applied, probes.StatusPass, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := sealedSyncState(tt.u, tt.notBefore)
			if st.status != tt.status || st.message != tt.msg || st.ref() != "SealedSecret/p/db" {
				t.Errorf("= %+v, want %s %q", st, tt.status, tt.msg)
			}
		})
	}
}

func TestSealedCertParse(t *testing.T) {
	notAfter := time.Date(2035, 6, 1, 0, 0, 0, 0, time.UTC)
	certPEM, fp := sealedCert(t, notAfter)
	for _, tt := range []struct {
		name string
		data []byte
		err  string
	}{
		{"cert", certPEM, ""},
		{"after another block", append(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}), certPEM...), ""},
		{"not PEM", []byte("<html>default backend - 404</html>"), "no PEM certificate in the 34 bytes served at /v1/cert.pem"},
		{"bad DER", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("nope")}), "the certificate at /v1/cert.pem: x509: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseSealingCert(tt.data)
			switch {
			case tt.err == "" && err != nil:
				t.Fatal(err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("err = %v, want %q", err, tt.err)
			case tt.err == "" && (c.fingerprint != fp || c.subject != "CN=sealed-secret,O=sealed-secret" || !c.notAfter.Equal(notAfter)):
				t.Errorf("= %+v, want fingerprint %s", c, fp)
			}
		})
	}
}

// The success path of the fetch, against a stand-in API server on
// loopback: kubeseal's requests (the Service, then /v1/cert.pem through
// the service proxy on its first port, by name or else number), and the
// certificate shown with its fingerprint and days left.
func TestSealedCertThroughServiceProxy(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name, portName, wantProxy string
		notAfter                  time.Time
		status                    probes.Status
		days                      float64
	}{
		{"named port", "http", "/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:http/proxy/v1/cert.pem", now.Add(3650*24*time.Hour + time.Hour), probes.StatusPass, 3650},
		{"unnamed port", "", "/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:8080/proxy/v1/cert.pem", now.Add(-48 * time.Hour), probes.StatusWarn, -2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, fp := sealedCert(t, tt.notAfter)
			var paths []string
			c := sealedStandIn(t, tt.portName, tt.wantProxy, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(certPEM) }, &paths)
			a := sealedBuild(t, Env{Now: func() time.Time { return now }, Kube: func(string) (*probes.Cluster, error) { return c, nil }}, &SealedSecretSpec{}, nil)
			for what, res := range map[string]Result{"plan": a.Plan(context.Background()), "execute": a.Execute(context.Background(), nil)} {
				if res.Status != tt.status || res.Changes != 0 || res.Values["cert_days_left"] != tt.days || len(res.Items) != 1 ||
					!strings.Contains(res.Items[0].Message, "SHA256 Fingerprint="+fp) || !strings.Contains(res.Summary, "CN=sealed-secret,O=sealed-secret, expires "+tt.notAfter.Format("2006-01-02")) {
					t.Errorf("%s = %s %q %q, values %v, items %+v", what, res.Status, res.Summary, res.Message, res.Values, res.Items)
				}
			}
			if want := []string{"GET /api/v1/namespaces/kube-system/services/sealed-secrets-controller", "GET " + tt.wantProxy}; !slices.Equal(paths[:2], want) {
				t.Errorf("requests = %q", paths)
			}
		})
	}
}

// A 403 through the service proxy is a missing permission only when the
// API server's authorizer says so; a 403 the controller itself answers is
// its refusal, an error naming it, not a call to fix RBAC.
func TestSealedCertProxyForbidden(t *testing.T) {
	const proxyPath = "/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:http/proxy/v1/cert.pem"
	rbac := metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusFailure, Code: http.StatusForbidden,
		Reason:  metav1.StatusReasonForbidden,
		Message: `services "sealed-secrets-controller" is forbidden: User "lead" cannot get resource "services/proxy" in API group "" in the namespace "kube-system"`,
		Details: &metav1.StatusDetails{Name: "sealed-secrets-controller", Kind: "services"}}
	tests := []struct {
		name        string
		contentType string
		body        []byte
		status      probes.Status
		want        string
	}{
		{name: "the authorizer", contentType: "application/json", body: must(json.Marshal(rbac)), status: probes.StatusForbidden,
			want: "forbidden: get services/proxy in kube-system — the credentials need `get` on `services/proxy`"},
		{name: "the controller", contentType: "text/plain", body: []byte("cert requests are closed\n"), status: probes.StatusError,
			want: "the controller refused the certificate request through service kube-system/sealed-secrets-controller: cert requests are closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sealedStandIn(t, "http", proxyPath, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write(tt.body)
			}, nil)
			a := sealedBuild(t, Env{Kube: func(string) (*probes.Cluster, error) { return c, nil }}, &SealedSecretSpec{}, nil)
			if res := a.Plan(context.Background()); res.Status != tt.status || !strings.Contains(res.Message, tt.want) {
				t.Errorf("plan = %s %q %q, want %s %q", res.Status, res.Summary, res.Message, tt.status, tt.want)
			}
		})
	}
}

// sealedStandIn is a Cluster of a stand-in API server on loopback
// serving the controller's Service in kube-system (its port named
// portName) and answering proxyPath with proxy; it records each request's
// method and path in paths, when not nil.
func sealedStandIn(t *testing.T, portName, proxyPath string, proxy http.HandlerFunc, paths *[]string) *probes.Cluster {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if paths != nil {
			*paths = append(*paths, r.Method+" "+r.URL.Path)
		}
		switch r.URL.Path {
		case "/api/v1/namespaces/kube-system/services/sealed-secrets-controller":
			svc := corev1.Service{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
				ObjectMeta: metav1.ObjectMeta{Name: "sealed-secrets-controller", Namespace: "kube-system"},
				Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: portName, Port: 8080}}}}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(svc)
		case proxyPath:
			proxy(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := probes.NewClusterForConfig("standin", &rest.Config{Host: srv.URL}, "default")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// must is v, for a test's fixture that cannot fail.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// sealedUserEnv is an Env acting as a user bound exactly to perms (ns is
// the default namespace).
func sealedUserEnv(t *testing.T, cp *controlplane.ControlPlane, user, dir, ns string, perms []probes.Permission) Env {
	t.Helper()
	ctx := context.Background()
	subjects := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	_, namespaced := probes.ScopedPermissions(perms, ns)
	for pns, ps := range namespaced {
		if _, err := cp.Typed.RbacV1().Roles(pns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: probes.Rules(ps)}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cp.Typed.RbacV1().RoleBindings(pns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: user}, Subjects: subjects}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := probes.NewClusterForConfig(user, cp.UserConfig(t, user), ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return Env{Dir: dir, Kube: func(string) (*probes.Cluster, error) { return c, nil }}
}

// The fetch's failures on the real API server, each with what to do.
func TestSealedCertErrors(t *testing.T) {
	cp, ctrlNS, env := testEnv(t, t.TempDir())
	ctx := context.Background()
	// A Service without a selector or endpoints: the controller is not
	// running.
	if _, err := cp.Typed.CoreV1().Services(ctrlNS).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "sealed-secrets-controller"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctrl := SealedSecretController{Namespace: ctrlNS}
	getSvc := probes.Permission{Resource: "services", Namespace: ctrlNS, Verbs: []string{"get"}}
	for _, tt := range []struct {
		name   string
		env    Env
		ctrl   SealedSecretController
		status probes.Status
		want   string
	}{
		{"not found", env, SealedSecretController{Namespace: ctrlNS, Name: "sealed-secrets"}, probes.StatusError,
			"service " + ctrlNS + "/sealed-secrets not found: set controller.name/controller.namespace (kubeseal --controller-name/--controller-namespace)"},
		{"no endpoints", env, ctrl, probes.StatusError,
			"the controller has no ready endpoints (service " + ctrlNS + "/sealed-secrets-controller): is it running?"},
		{"services/proxy forbidden", sealedUserEnv(t, cp, ctrlNS+"-svc-reader", "", ctrlNS, []probes.Permission{getSvc}), ctrl, probes.StatusForbidden,
			"forbidden: get services/proxy in " + ctrlNS + " — the credentials need `get` on `services/proxy`"},
		{"services forbidden", sealedUserEnv(t, cp, ctrlNS+"-nobody", "", ctrlNS, nil), ctrl, probes.StatusForbidden,
			"forbidden: get services in " + ctrlNS + " — the credentials need `get` on `services`"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := sealedBuild(t, tt.env, &SealedSecretSpec{Controller: tt.ctrl}, nil)
			start := time.Now()
			// RBAC reaches the authorizer a moment after the binding is
			// stored: wait for the answer to settle on the expected status.
			var res Result
			promtest.Eventually(t, 10*time.Second, tt.name, func() (bool, string) {
				res = a.Plan(ctx)
				return res.Status == tt.status && strings.HasPrefix(res.Message, tt.want), res.Status.String() + " " + res.Message
			})
			if res.Summary != "cannot fetch the sealing certificate" || res.Items[0].Status != tt.status {
				t.Errorf("= %s %q %q, items %+v", res.Status, res.Summary, res.Message, res.Items)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

// A plain Secret (or anything else) among the files is refused, naming
// the file and the document.
func TestSealedSecretRejectsOtherKinds(t *testing.T) {
	_, ns, env := testEnv(t, t.TempDir())
	sealedWrite(t, env.Dir, "secrets.yaml", sealedYAML(ns, "db")+"---\napiVersion: v1\nkind: Secret\nmetadata: {name: db-plain}\nstringData: {DATABASE_URL: postgres://u:hunter2@db}\n")
	sealedWrite(t, env.Dir, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
	for file, want := range map[string]string{
		"secrets.yaml": "secrets.yaml: document 2: Secret db-plain is a plain Secret: a sealed-secret step applies only SealedSecrets",
		"cm.yaml":      "cm.yaml: document 1: ConfigMap c (v1) is not a SealedSecret",
	} {
		spec := &SealedSecretSpec{Files: []string{file}}
		if err := spec.Validate(); err != nil {
			t.Fatal(err)
		}
		_, err := spec.Build(env)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", file, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the Secret's data: %v", err)
		}
	}
}

// Plan: the dry run of the SealedSecrets with its diff, nothing created.
// Execute: applied, then watched until the controller (the test, here)
// sets Synced True on each — a status written for an older generation is
// not taken for the new one.
func TestSealedSecretApplyAndSynced(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	sealedWrite(t, env.Dir, "sealed.yaml", sealedYAML(ns, "db")+"---\n"+sealedYAML(ns, "api"))
	certPEM, _ := sealedCert(t, time.Now().Add(365*24*time.Hour))
	a := sealedBuild(t, env, &SealedSecretSpec{Files: []string{"sealed.yaml"}}, certPEM)
	ctx := context.Background()

	plan := a.Plan(ctx)
	if plan.Status != probes.StatusPass || plan.Changes != 2 || !strings.Contains(plan.Diff, "name: db") || !strings.HasPrefix(plan.Summary, "would apply: ") {
		t.Errorf("plan = %s %q %q, changes %d\n%s", plan.Status, plan.Summary, plan.Message, plan.Changes, plan.Diff)
	}
	if l, err := cp.Dynamic.Resource(sealedSecretsGVR).Namespace(ns).List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Fatalf("the plan created %v (%v)", l, err)
	}

	var progress []string
	done := make(chan Result, 1)
	go func() {
		done <- a.Execute(ctx, func(r Result) { progress = append(progress, r.Summary) })
	}()
	sealedAwaitExists(t, cp, ns, "db")
	sealedAwaitExists(t, cp, ns, "api")
	// A stale False (for an older generation than the object's) does not
	// fail it.
	sealedSetSynced(t, cp, ns, "db", "False", "ErrUnsealFailed", "stale", -1)
	sealedSetSynced(t, cp, ns, "api", "True", "", "", 0)
	sealedSetSynced(t, cp, ns, "db", "True", "", "", 0)
	res := <-done
	if res.Status != probes.StatusPass || !strings.HasPrefix(res.Summary, "2 SealedSecrets applied and Synced; certificate ") {
		t.Fatalf("execute = %s %q %q", res.Status, res.Summary, res.Message)
	}
	if len(res.Objects) != 2 {
		t.Fatalf("objects = %+v", res.Objects)
	}
	for _, o := range res.Objects {
		if o.Op != OpCreated || o.ResourceVersion == "" || o.Generation != 1 || !strings.HasPrefix(o.Ref, "SealedSecret/"+ns+"/") {
			t.Errorf("object %+v", o)
		}
	}
	var items []string
	for _, it := range res.Items {
		items = append(items, it.Name+" "+it.Summary)
	}
	if !slices.Equal(items[1:], []string{"SealedSecret/" + ns + "/db Synced", "SealedSecret/" + ns + "/api Synced"}) || res.Values["synced"] != 2 {
		t.Errorf("items %q, values %v", items, res.Values)
	}
	if len(progress) == 0 || progress[0] != "applied; waiting for the controller to unseal" {
		t.Errorf("progress = %q", progress)
	}

	// Again: unchanged, already Synced: passes at once.
	again := a.Execute(ctx, nil)
	if again.Status != probes.StatusPass || again.Objects[0].Op != OpUnchanged {
		t.Errorf("again = %s %q, objects %+v", again.Status, again.Summary, again.Objects)
	}
}

// Synced False fails the step naming the controller's reason and message;
// no condition within the timeout fails it saying what it waited for.
func TestSealedSecretNotSynced(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	sealedWrite(t, env.Dir, "bad.yaml", sealedYAML(ns, "bad"))
	sealedWrite(t, env.Dir, "slow.yaml", sealedYAML(ns, "slow"))
	certPEM, _ := sealedCert(t, time.Now().Add(365*24*time.Hour))
	ctx := context.Background()

	a := sealedBuild(t, env, &SealedSecretSpec{Files: []string{"bad.yaml"}}, certPEM)
	done := make(chan Result, 1)
	go func() { done <- a.Execute(ctx, nil) }()
	sealedAwaitExists(t, cp, ns, "bad")
	msg := "no key could decrypt secret (DATABASE_URL)"
	sealedSetSynced(t, cp, ns, "bad", "False", "ErrUnsealFailed", msg, 0)
	res := <-done
	if res.Status != probes.StatusFail || res.Summary != "SealedSecret/"+ns+"/bad not Synced: ErrUnsealFailed: "+msg ||
		res.Message != "the controller could not unseal SealedSecret/"+ns+"/bad (Synced False, reason ErrUnsealFailed): "+msg {
		t.Errorf("synced false = %s %q %q", res.Status, res.Summary, res.Message)
	}

	a = sealedBuild(t, env, &SealedSecretSpec{Files: []string{"slow.yaml"}, Timeout: probes.Duration(time.Second)}, certPEM)
	start := time.Now()
	res = a.Execute(ctx, nil)
	if res.Status != probes.StatusFail || res.Summary != "timed out after 1s waiting for SealedSecret/"+ns+"/slow to be Synced" ||
		!strings.Contains(res.Message, "0 of 1 SealedSecrets Synced") {
		t.Errorf("timeout = %s %q %q", res.Status, res.Summary, res.Message)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the 1s timeout took %s", d)
	}

	// A controller that cannot be reached stops it before anything lands.
	a = sealedBuild(t, env, &SealedSecretSpec{Files: []string{"slow.yaml"}, Controller: SealedSecretController{Namespace: ns, Name: "ghost"}}, nil)
	if err := cp.Dynamic.Resource(sealedSecretsGVR).Namespace(ns).Delete(ctx, "slow", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	res = a.Execute(ctx, nil)
	if res.Status != probes.StatusError || !strings.Contains(res.Message, "ghost not found") || !strings.HasSuffix(res.Message, "nothing applied") || len(res.Objects) != 0 {
		t.Errorf("no controller = %s %q %q %+v", res.Status, res.Summary, res.Message, res.Objects)
	}
}

// Run as a user bound to exactly Permissions() — which hold no Secrets —
// the action does everything it does: the fetch gets past RBAC (to the
// controller's missing endpoints, not forbidden), the apply and the wait
// pass. The user cannot read the sealing key's Secrets.
func TestSealedSecretExactPermissions(t *testing.T) {
	cp, ctrlNS, _ := testEnv(t, t.TempDir())
	ns := cp.Namespace(t)
	ctx := context.Background()
	if _, err := cp.Typed.CoreV1().Services(ctrlNS).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "sealed-secrets-controller"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sealedWrite(t, dir, "sealed.yaml", sealedYAML(ns, "db"))
	spec := &SealedSecretSpec{Files: []string{"sealed.yaml"}, Namespace: ns, Controller: SealedSecretController{Namespace: ctrlNS}}
	perms := spec.Permissions()
	for _, p := range perms {
		if p.Resource == "secrets" {
			t.Fatalf("Permissions() holds %s", p)
		}
	}
	user := ns + "-sealer"
	env := sealedUserEnv(t, cp, user, dir, ns, perms)

	a := sealedBuild(t, env, spec, nil)
	var plan Result
	promtest.Eventually(t, 10*time.Second, "RBAC in effect", func() (bool, string) {
		plan = a.Plan(ctx)
		return plan.Status != probes.StatusForbidden, plan.Message
	})
	if plan.Status != probes.StatusError || !strings.Contains(plan.Message, "the controller has no ready endpoints") || plan.Changes != 1 {
		t.Errorf("plan = %s %q %q, changes %d", plan.Status, plan.Summary, plan.Message, plan.Changes)
	}
	// The dry run itself went through: its object item passes.
	for _, it := range plan.Items[1:] {
		if it.Status != probes.StatusPass {
			t.Errorf("dry run item %+v", it)
		}
	}

	certPEM, _ := sealedCert(t, time.Now().Add(365*24*time.Hour))
	a.fetchCert = func(context.Context) ([]byte, error) { return certPEM, nil }
	done := make(chan Result, 1)
	go func() { done <- a.Execute(ctx, nil) }()
	sealedAwaitExists(t, cp, ns, "db")
	sealedSetSynced(t, cp, ns, "db", "True", "", "", 0)
	if res := <-done; res.Status != probes.StatusPass {
		t.Errorf("execute as %s = %s %q %q", user, res.Status, res.Summary, res.Message)
	}

	c, err := env.Kube("")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{ctrlNS, ns} {
		if _, err := c.Typed().CoreV1().Secrets(n).List(ctx, metav1.ListOptions{}); err == nil || !strings.Contains(err.Error(), "forbidden") {
			t.Errorf("the user may list Secrets in %s: %v", n, err)
		}
	}
}

// cert: the certificate read as kubeseal --cert reads it, from a URL (a
// real HTTP server on loopback) or a file next to the runbook, with no
// access to the controller's Service; a URL that answers badly and a
// missing file are errors naming them.
func TestSealedCertFromURLOrFile(t *testing.T) {
	_, ns, env := testEnv(t, t.TempDir())
	certPEM, fp := sealedCert(t, time.Now().Add(365*24*time.Hour))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/cert.pem" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(certPEM)
	}))
	t.Cleanup(srv.Close)
	sealedWrite(t, env.Dir, "sealing.pem", string(certPEM))
	for _, tt := range []struct {
		name, cert string
		status     probes.Status
		want       string
	}{
		{"url", srv.URL + "/v1/cert.pem", probes.StatusPass, "certificate SHA256 " + fp[:23]},
		{"file", "sealing.pem", probes.StatusPass, "certificate SHA256 " + fp[:23]},
		{"url not found", srv.URL + "/nope", probes.StatusError, "404"},
		{"missing file", "none.pem", probes.StatusError, "cert none.pem: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := (&SealedSecretSpec{Namespace: ns, Cert: tt.cert}).Build(env)
			if err != nil {
				t.Fatal(err)
			}
			res := a.Plan(context.Background())
			if res.Status != tt.status || !strings.Contains(res.Summary+" "+res.Message, tt.want) {
				t.Errorf("plan = %s %q %q, want %s containing %q", res.Status, res.Summary, res.Message, tt.status, tt.want)
			}
			if len(res.Items) == 0 || res.Items[0].Name != "certificate "+tt.cert {
				t.Errorf("items = %+v", res.Items)
			}
		})
	}
}

// sealedSetCondition writes a Synced condition with the given times, and
// no observedGeneration, as controllers that do not write one do.
func sealedSetCondition(t *testing.T, cp *controlplane.ControlPlane, ns, name, status string, times map[string]time.Time) {
	t.Helper()
	ctx := context.Background()
	u, err := cp.Dynamic.Resource(sealedSecretsGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cond := map[string]any{"type": "Synced", "status": status}
	for k, v := range times {
		cond[k] = v.UTC().Format(time.RFC3339)
	}
	if _, err := cp.SetStatus(ctx, u, map[string]any{"conditions": []any{cond}}); err != nil {
		t.Fatal(err)
	}
}

// A controller that writes no observedGeneration: a SealedSecret the
// apply changed does not pass on the Synced condition its previous version
// got; it waits for one written since the apply (lastUpdateTime, else
// lastTransitionTime).
func TestSealedSecretConfiguredWithoutObservedGeneration(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	certPEM, _ := sealedCert(t, time.Now().Add(365*24*time.Hour))
	ctx := context.Background()
	ri := cp.Dynamic.Resource(sealedSecretsGVR).Namespace(ns)
	version := func(v string) {
		t.Helper()
		sealedWrite(t, env.Dir, "sealed.yaml", strings.Replace(sealedYAML(ns, "db"), "DATABASE_URL: AgB", "DATABASE_URL: AgB"+v, 1))
	}

	// Created: the condition the controller writes passes it.
	version("1")
	a := sealedBuild(t, env, &SealedSecretSpec{Files: []string{"sealed.yaml"}}, certPEM)
	done := make(chan Result, 1)
	go func() { done <- a.Execute(ctx, nil) }()
	sealedAwaitExists(t, cp, ns, "db")
	unsealed := time.Now().Add(-time.Hour) // long before the next applies
	sealedSetCondition(t, cp, ns, "db", "True", map[string]time.Time{"lastUpdateTime": unsealed, "lastTransitionTime": unsealed})
	if res := <-done; res.Status != probes.StatusPass || res.Objects[0].Op != OpCreated {
		t.Fatalf("created = %s %q %q, objects %+v", res.Status, res.Summary, res.Message, res.Objects)
	}

	// Changed, and the controller writes nothing new: the old condition
	// does not pass it.
	version("2")
	a = sealedBuild(t, env, &SealedSecretSpec{Files: []string{"sealed.yaml"}, Timeout: probes.Duration(time.Second)}, certPEM)
	res := a.Execute(ctx, nil)
	if res.Status != probes.StatusFail || res.Objects[0].Op != OpConfigured || res.Summary != "timed out after 1s waiting for SealedSecret/"+ns+"/db to be Synced" ||
		!strings.Contains(res.Message, "the Synced condition (True, written "+unsealed.UTC().Format(time.RFC3339)+") predates the apply at ") {
		t.Errorf("configured, stale condition = %s %q %q, objects %+v", res.Status, res.Summary, res.Message, res.Objects)
	}

	// Changed again; the controller unseals it and writes the condition
	// anew (a transition time only): that passes it.
	version("3")
	a = sealedBuild(t, env, &SealedSecretSpec{Files: []string{"sealed.yaml"}, Timeout: probes.Duration(roWait)}, certPEM)
	go func() { done <- a.Execute(ctx, nil) }()
	promtest.Eventually(t, 30*time.Second, "version 3 applied", func() (bool, string) {
		u, err := ri.Get(ctx, "db", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return u.GetGeneration() == 3, fmt.Sprint("generation ", u.GetGeneration())
	})
	sealedSetCondition(t, cp, ns, "db", "True", map[string]time.Time{"lastTransitionTime": time.Now()})
	select {
	case res = <-done:
	case <-time.After(roWait):
		t.Fatal("no result after the condition was written anew")
	}
	if res.Status != probes.StatusPass || res.Objects[0].Op != OpConfigured {
		t.Errorf("configured, condition written anew = %s %q %q, objects %+v", res.Status, res.Summary, res.Message, res.Objects)
	}
}
