package probes

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
)

var gvrClusterIssuers = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "clusterissuers"}

// clusterIssuerYAML is a ClusterIssuer with a Ready condition.
func clusterIssuerYAML(name, labels, status, reason, message string) string {
	return fmt.Sprintf(`
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: %s, labels: {%s}}
spec: {selfSigned: {}}
status:
  conditions: [{type: Ready, status: "%s", reason: %s, message: %q, lastTransitionTime: "2026-03-07T10:00:00Z"}]
---`, name, labels, status, reason, message)
}

// The seed's ClusterIssuers: internal-ca-issuer Ready=False fails the check
// by name, with its reason and message; fixed, it passes (seen through the
// informer's change notification).
func TestK8sConditionClusterIssuers(t *testing.T) {
	cp := controlplane.Start(t)
	ns := cp.Namespace(t) // a unique label value for this run's issuers
	seed := "cockpit-test: " + ns
	const badMsg = `Error getting keypair for CA issuer: secret "internal-ca" not found`
	objs := cp.CreateYAML(t,
		clusterIssuerYAML("letsencrypt-prod", seed+", tier: public", "True", "ACMEAccountRegistered", "The ACME account was registered with the ACME server")+
			clusterIssuerYAML("letsencrypt-staging", seed+", tier: public", "True", "ACMEAccountRegistered", "The ACME account was registered with the ACME server")+
			clusterIssuerYAML("selfsigned-issuer", seed, "True", "IsReady", "")+
			clusterIssuerYAML("internal-ca-issuer", seed, "False", "ErrGetKeyPair", badMsg))
	t.Cleanup(func() {
		for _, o := range objs {
			_ = cp.Dynamic.Resource(gvrClusterIssuers).Delete(context.Background(), o.GetName(), metav1.DeleteOptions{})
		}
	})
	env, _ := kubeEnv(t, cp.Config, ns)
	seedNames := []string{"letsencrypt-prod", "letsencrypt-staging", "selfsigned-issuer", "internal-ca-issuer"}

	tests := []struct {
		name        string
		spec        ConditionSpec
		want        Status
		wantSummary string
		values      map[string]float64
		badItem     string // the item that must fail
		badReason   string
	}{
		{
			name: "the seed's names", spec: ConditionSpec{Resource: "clusterissuers.cert-manager.io", Names: seedNames, Condition: "Ready"},
			want:        StatusFail,
			wantSummary: "3/4 Ready=True — internal-ca-issuer: Ready=False (ErrGetKeyPair)",
			values:      map[string]float64{"total": 4, "ok": 3, "failing": 1, "missing": 0},
			badItem:     "internal-ca-issuer", badReason: "ErrGetKeyPair",
		},
		{
			name: "by selector", spec: ConditionSpec{Resource: "ClusterIssuer", Selector: "cockpit-test=" + ns},
			want:        StatusFail,
			wantSummary: "3/4 Ready=True — internal-ca-issuer: Ready=False (ErrGetKeyPair)",
			values:      map[string]float64{"total": 4, "ok": 3, "failing": 1},
			badItem:     "internal-ca-issuer", badReason: "ErrGetKeyPair",
		},
		{
			name: "a selector of Ready ones", spec: ConditionSpec{Resource: "clusterissuers", Selector: "cockpit-test=" + ns + ",tier=public"},
			want: StatusPass, wantSummary: "2/2 Ready=True",
			values: map[string]float64{"total": 2, "ok": 2, "failing": 0},
		},
		{
			name: "a missing name", spec: ConditionSpec{Resource: "clusterissuers.cert-manager.io", Names: []string{"letsencrypt-prod", "vault-issuer"}},
			want: StatusFail, wantSummary: "1/2 Ready=True — vault-issuer: not found",
			values:  map[string]float64{"total": 2, "ok": 1, "missing": 1},
			badItem: "vault-issuer", badReason: "NotFound",
		},
		{
			name: "the wanted status False", spec: ConditionSpec{Resource: "clusterissuers.cert-manager.io", Names: []string{"internal-ca-issuer"}, Status: "False"},
			want: StatusPass, wantSummary: "1/1 Ready=False",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rules := build(t, env, &tt.spec)
			res := observe(t, p, rules)
			if res.Status != tt.want || res.Summary != tt.wantSummary {
				t.Fatalf("= %s %q (%s), want %s %q", res.Status, res.Summary, res.Message, tt.want, tt.wantSummary)
			}
			for k, v := range tt.values {
				if res.Values[k] != v {
					t.Errorf("values[%s] = %v, want %v (%v)", k, res.Values[k], v, res.Values)
				}
			}
			if tt.badItem == "" {
				return
			}
			for _, it := range res.Items {
				if it.Name != tt.badItem {
					if it.Status != StatusPass {
						t.Errorf("item %s = %s, want pass", it.Name, it.Status)
					}
					continue
				}
				if it.Status != StatusFail || it.Reason != tt.badReason {
					t.Errorf("item %+v, want fail %s", it, tt.badReason)
				}
				if tt.badReason == "ErrGetKeyPair" && (it.Message != badMsg || it.Since.IsZero()) {
					t.Errorf("item message %q since %v, want %q and the transition time", it.Message, it.Since, badMsg)
				}
				return
			}
			t.Errorf("no item %s in %+v", tt.badItem, res.Items)
		})
	}

	// The CA secret appears; the issuer turns Ready and the probe sees it.
	p, rules := build(t, env, &ConditionSpec{Resource: "clusterissuers.cert-manager.io", Names: seedNames})
	if res := observe(t, p, rules); res.Status != StatusFail {
		t.Fatalf("before the fix = %s %q", res.Status, res.Summary)
	}
	if _, err := cp.SetStatus(context.Background(), objs[3], map[string]any{"conditions": []any{
		map[string]any{"type": "Ready", "status": "True", "reason": "KeyPairVerified", "message": "Signing CA verified", "lastTransitionTime": "2026-03-08T09:00:00Z"},
	}}); err != nil {
		t.Fatal(err)
	}
	res := waitResult(t, p, rules, 30*time.Second, "all four Ready", statusIs(StatusPass))
	if res.Summary != "4/4 Ready=True" || res.Message != "4/4 as wanted" {
		t.Errorf("fixed = %q (%s)", res.Summary, res.Message)
	}
}

// The seed's staging NetworkPolicies present or missing, by names and by
// selector with a minimum count.
func TestK8sExists(t *testing.T) {
	cp := controlplane.Start(t)
	ns := cp.Namespace(t)
	cp.CreateYAML(t,
		policyYAML(ns, "gravl-default-deny", `{podSelector: {}, policyTypes: [Ingress, Egress]}`)+
			policyYAML(ns, "allow-dns-egress", `{podSelector: {}, policyTypes: [Egress], egress: [{ports: [{protocol: UDP, port: 53}]}]}`)+
			policyYAML(ns, "allow-ingress-to-frontend", `{podSelector: {matchLabels: {app: frontend}}, policyTypes: [Ingress], ingress: [{}]}`))
	env, _ := kubeEnv(t, cp.Config, ns)

	tests := []struct {
		name        string
		spec        ExistsSpec
		want        Status
		wantSummary string
		missing     []string
	}{
		{name: "all present", spec: ExistsSpec{Resource: "networkpolicies.networking.k8s.io", Names: []string{"gravl-default-deny", "allow-dns-egress"}},
			want: StatusPass, wantSummary: "2/2 present"},
		{name: "missing ones named in order", spec: ExistsSpec{Resource: "netpol", Names: []string{"gravl-default-deny", "allow-backend-to-db", "allow-dns-egress", "allow-monitoring-scrape"}},
			want: StatusFail, wantSummary: "2/4 present, missing: allow-backend-to-db, allow-monitoring-scrape", missing: []string{"allow-backend-to-db", "allow-monitoring-scrape"}},
		{name: "at least some in the namespace", spec: ExistsSpec{Resource: "networkpolicies", Min: 3},
			want: StatusPass, wantSummary: "3 present (want at least 3)"},
		{name: "too few in the namespace", spec: ExistsSpec{Resource: "networkpolicies", Min: 5},
			want: StatusFail, wantSummary: "3 present (want at least 5)"},
		{name: "another namespace has none", spec: ExistsSpec{Resource: "networkpolicies", Namespace: "default", Names: []string{"gravl-default-deny"}},
			want: StatusFail, wantSummary: "0/1 present, missing: gravl-default-deny", missing: []string{"gravl-default-deny"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rules := build(t, env, &tt.spec)
			res := observe(t, p, rules)
			if res.Status != tt.want || res.Summary != tt.wantSummary {
				t.Fatalf("= %s %q (%s), want %s %q", res.Status, res.Summary, res.Message, tt.want, tt.wantSummary)
			}
			var missing []string
			for _, it := range res.Items {
				if it.Status == StatusFail {
					if it.Reason != "NotFound" {
						t.Errorf("item %+v", it)
					}
					missing = append(missing, it.Name)
				}
			}
			if strings.Join(missing, ",") != strings.Join(tt.missing, ",") {
				t.Errorf("missing items %v, want %v", missing, tt.missing)
			}
		})
	}
}

// podYAML is a pod with the status a kubelet would have written.
func podYAML(ns, name, app, status string) string {
	return fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: %s, labels: {app: %s}}
spec: {containers: [{name: main, image: registry.example/%s:1}]}
status: %s
---`, name, ns, app, app, status)
}

// Pod health from pod statuses: CrashLoopBackOff, restarts, not ready,
// pending.
func TestK8sPods(t *testing.T) {
	cp := controlplane.Start(t)
	ns := cp.Namespace(t)
	ready := func(restarts int) string {
		return fmt.Sprintf(`{phase: Running, conditions: [{type: Ready, status: "True"}],
		  containerStatuses: [{name: main, ready: true, restartCount: %d, image: x, imageID: x, state: {running: {startedAt: "2026-03-08T09:00:00Z"}}}]}`, restarts)
	}
	cp.CreateYAML(t,
		podYAML(ns, "api-1", "api", ready(0))+
			podYAML(ns, "api-2", "api", ready(0))+
			podYAML(ns, "worker-1", "worker", ready(3))+
			podYAML(ns, "backend-1", "backend", ready(0))+
			podYAML(ns, "backend-2", "backend", `{phase: Running, conditions: [{type: Ready, status: "False"}],
			  containerStatuses: [{name: main, ready: false, restartCount: 7, image: x, imageID: x,
			    state: {waiting: {reason: CrashLoopBackOff, message: "back-off 5m0s restarting failed container"}},
			    lastState: {terminated: {exitCode: 1, reason: Error}}}]}`)+
			podYAML(ns, "web-1", "web", `{phase: Running, conditions: [{type: Ready, status: "False"}],
			  containerStatuses: [{name: main, ready: false, restartCount: 0, image: x, imageID: x, state: {running: {startedAt: "2026-03-08T09:00:00Z"}}}]}`)+
			podYAML(ns, "web-2", "web", `{phase: Pending, conditions: [{type: PodScheduled, status: "False", reason: Unschedulable}]}`)+
			podYAML(ns, "gone-1", "gone", ready(0))+
			strings.Replace(podYAML(ns, "gone-2", "gone", `{phase: Failed, conditions: [{type: Ready, status: "False", reason: PodFailed}]}`),
				"labels: {app: gone}", "labels: {app: gone}, finalizers: [cockpit.test/hold]", 1))
	// gone-2 is being deleted (a retired ReplicaSet's pod): its finalizer
	// holds it there with its deletionTimestamp set.
	pods := cp.Typed.CoreV1().Pods(ns)
	if err := pods.Delete(context.Background(), "gone-2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = pods.Patch(context.Background(), "gone-2", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	})
	env, _ := kubeEnv(t, cp.Config, ns)

	tests := []struct {
		selector    string
		want        Status
		wantSummary string
		values      map[string]float64
		items       map[string]Status
	}{
		{selector: "app=api", want: StatusPass, wantSummary: "2/2 ready, 0 restarts",
			values: map[string]float64{"pods": 2, "ready": 2, "not_ready": 0, "crashloop": 0, "restarts": 0}},
		{selector: "app=worker", want: StatusWarn, wantSummary: "1/1 ready, 3 restarts",
			values: map[string]float64{"ready": 1, "restarts": 3, "max_restarts": 3}, items: map[string]Status{"worker-1": StatusWarn}},
		{selector: "app=backend", want: StatusFail, wantSummary: "1/2 ready, 7 restarts, 1 CrashLoopBackOff",
			values: map[string]float64{"pods": 2, "ready": 1, "not_ready": 1, "crashloop": 1, "restarts": 7, "max_restarts": 7},
			items:  map[string]Status{"backend-1": StatusPass, "backend-2": StatusFail}},
		{selector: "app=web", want: StatusFail, wantSummary: "0/2 ready, 0 restarts",
			values: map[string]float64{"pods": 2, "ready": 0, "not_ready": 2, "crashloop": 0},
			items:  map[string]Status{"web-1": StatusFail, "web-2": StatusPending}},
		// A terminating pod is listed, pending, and judged neither way.
		{selector: "app=gone", want: StatusPass, wantSummary: "1/1 ready, 0 restarts, 1 terminating",
			values: map[string]float64{"pods": 1, "ready": 1, "not_ready": 0, "terminating": 1},
			items:  map[string]Status{"gone-1": StatusPass, "gone-2": StatusPending}},
		{selector: "", want: StatusFail, wantSummary: "5/8 ready, 10 restarts, 1 CrashLoopBackOff, 1 terminating",
			values: map[string]float64{"pods": 8, "ready": 5, "not_ready": 3, "crashloop": 1, "restarts": 10, "max_restarts": 7, "terminating": 1}},
		{selector: "app=none", want: StatusFail, wantSummary: "0/0 ready, 0 restarts", values: map[string]float64{"pods": 0}},
	}
	for _, tt := range tests {
		t.Run("selector="+tt.selector, func(t *testing.T) {
			p, rules := build(t, env, &PodsSpec{Selector: tt.selector})
			res := observe(t, p, rules)
			if res.Status != tt.want || res.Summary != tt.wantSummary {
				t.Fatalf("= %s %q (%s), want %s %q", res.Status, res.Summary, res.Message, tt.want, tt.wantSummary)
			}
			for k, v := range tt.values {
				if res.Values[k] != v {
					t.Errorf("values[%s] = %v, want %v (%v)", k, res.Values[k], v, res.Values)
				}
			}
			for _, it := range res.Items {
				if want, ok := tt.items[it.Name]; ok && it.Status != want {
					t.Errorf("item %s = %s %q, want %s", it.Name, it.Status, it.Summary, want)
				}
				if it.Name == "backend-2" && (it.Reason != "CrashLoopBackOff" || !strings.Contains(it.Summary, "CrashLoopBackOff, last exit Error")) {
					t.Errorf("crash-looping item = %+v", it)
				}
			}
		})
	}
}

// keyPEMs returns a generated certificate's PEM, and its private key as
// PEM and as the base64 a Secret's data holds.
func keyPEMs(t *testing.T, c *testCert) (certPEM, keyPEM []byte) {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// tlsSecretYAML is a kubernetes.io/tls Secret holding c and its key.
func tlsSecretYAML(t *testing.T, ns, name, labels string, c *testCert) (manifest string, secrets []string) {
	t.Helper()
	certPEM, keyPEM := keyPEMs(t, c)
	keyB64 := base64.StdEncoding.EncodeToString(keyPEM)
	der, _ := pem.Decode(keyPEM)
	manifest = fmt.Sprintf(`
apiVersion: v1
kind: Secret
metadata: {name: %s, namespace: %s, labels: {%s}}
type: kubernetes.io/tls
data: {tls.crt: %s, tls.key: %s}
---`, name, ns, labels, base64.StdEncoding.EncodeToString(certPEM), keyB64)
	// What must never show: the key's PEM body, its base64 in the Secret,
	// and the raw key bytes as JSON would encode them.
	body := strings.Split(string(keyPEM), "\n")[1]
	return manifest, []string{body, keyB64[:40], base64.StdEncoding.EncodeToString(der.Bytes)[:40]}
}

// assertNoSecret fails when any of secrets appears in res's JSON.
func assertNoSecret(t *testing.T, res Result, secrets []string) {
	t.Helper()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(string(b), s) {
			t.Errorf("the private key (%q…) appears in the result JSON: %s", s[:12], b)
		}
	}
	if strings.Contains(string(b), "PRIVATE KEY") || strings.Contains(string(b), "tls.key") {
		t.Errorf("the result mentions the private key: %s", b)
	}
}

// sealedSecretsYAML is a sealed-secrets controller (a rolled-out
// Deployment), its Service, an EndpointSlice with ready endpoints, and
// (with key != "") an active sealing key Secret.
func sealedSecretsYAML(ns string, readyEndpoints bool, key string) string {
	return deploymentYAML(ns, "sealed-secrets-controller", 1, "app.kubernetes.io/name: sealed-secrets", rolledOut(1)) + fmt.Sprintf(`
apiVersion: v1
kind: Service
metadata: {name: sealed-secrets-controller, namespace: %[1]s}
spec: {selector: {app.kubernetes.io/name: sealed-secrets}, ports: [{name: http, port: 8080}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: sealed-secrets-controller-abc12, namespace: %[1]s, labels: {kubernetes.io/service-name: sealed-secrets-controller}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints: [{addresses: [10.244.0.20], conditions: {ready: %[2]t}}]
---`, ns, readyEndpoints) + key
}

// The sealed-secrets controller: ready, endpoints through EndpointSlices,
// the active key's certificate expiry — and the key itself never in a
// result.
func TestK8sSealedSecrets(t *testing.T) {
	cp := controlplane.Start(t)
	env, _ := kubeEnv(t, cp.Config, "default")
	now := time.Now()
	tests := []struct {
		name     string
		endpoint bool
		key      bool
		notAfter time.Time
		want     Status
		summary  []string
	}{
		{name: "healthy", endpoint: true, key: true, notAfter: now.AddDate(0, 0, 3650),
			want: StatusPass, summary: []string{"controller 1/1 ready (complete), 1 endpoint, key expires in 3649d"}},
		{name: "key expiring", endpoint: true, key: true, notAfter: now.Add(10*24*time.Hour + time.Hour),
			want: StatusWarn, summary: []string{"key expires in 10d"}},
		{name: "no ready endpoint", endpoint: false, key: true, notAfter: now.AddDate(1, 0, 0),
			want: StatusFail, summary: []string{"service/sealed-secrets-controller 0 ready endpoints"}},
		{name: "no active key", endpoint: true, key: false,
			want: StatusFail, summary: []string{"sealing key no active sealing key Secret in "}},
	}
	for _, tt := range tests {
		var c *testCert // newCert is not safe for parallel use
		if tt.key {
			c = newCert(t, certOpts{cn: "sealed-secret", notBefore: now.Add(-time.Hour), notAfter: tt.notAfter}, nil)
		}
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ns := cp.Namespace(t)
			var keyYAML string
			var secrets []string
			if tt.key {
				keyYAML, secrets = tlsSecretYAML(t, ns, "sealed-secrets-key7x2kq", "sealedsecrets.bitnami.com/sealed-secrets-key: active", c)
			}
			cp.CreateYAML(t, sealedSecretsYAML(ns, tt.endpoint, keyYAML))
			p, rules := build(t, env, &SealedSecretsSpec{Namespace: ns})
			res := observe(t, p, rules)
			if res.Status != tt.want {
				t.Fatalf("= %s %q (%s), want %s", res.Status, res.Summary, res.Message, tt.want)
			}
			for _, s := range tt.summary {
				if !strings.Contains(res.Summary, s) {
					t.Errorf("summary %q lacks %q", res.Summary, s)
				}
			}
			if tt.key && !hasItem(res.Items, "certificate CN=sealed-secret,O=Cockpit tests expires "+tt.notAfter.UTC().Format(time.DateOnly)) {
				t.Errorf("no key item with its expiry: %+v", res.Items)
			}
			assertNoSecret(t, res, secrets)
		})
	}
}

// certificateYAML is a cert-manager Certificate with a Ready condition.
func certificateYAML(ns, name, secret, ready, reason string) string {
	return fmt.Sprintf(`
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: %s, namespace: %s}
spec:
  secretName: %s
  dnsNames: [gravl.app, www.gravl.app]
  issuerRef: {name: letsencrypt-prod, kind: ClusterIssuer, group: cert-manager.io}
status:
  conditions: [{type: Ready, status: "%s", reason: %s, message: "certificate status", lastTransitionTime: "2026-03-01T00:00:00Z"}]
---`, name, ns, secret, ready, reason)
}

// cert-manager Certificates and their TLS Secrets: NotAfter, issuer, DNS
// names, renewal due; expired fails; the key is never in the result.
func TestK8sCertificate(t *testing.T) {
	cp := controlplane.Start(t)
	env, _ := kubeEnv(t, cp.Config, "default")
	now := time.Now().UTC()
	day := 24 * time.Hour
	ca := newCA(t, "Cockpit Test CA")
	tests := []struct {
		name       string
		ready      string
		notBefore  time.Time
		notAfter   time.Time
		dnsNames   []string
		noSecret   bool
		extraNames []string // names asked for besides gravl-tls
		want       Status
		item       []string // substrings of the gravl-tls item's summary
		itemStatus Status
	}{
		{name: "valid, renewal ahead", ready: "True", notBefore: now.Add(-30 * day), notAfter: now.Add(60*day + time.Hour), dnsNames: []string{"gravl.app", "www.gravl.app"},
			want: StatusPass, itemStatus: StatusPass,
			item: []string{"Ready=True (Ready)", "expires " + now.Add(60*day+time.Hour).Format(time.DateOnly) + " (60d)",
				"issuer CN=Cockpit Test CA,O=Cockpit tests", "DNS gravl.app,www.gravl.app", "renewal due " + now.Add(30*day+40*time.Minute).Format(time.DateOnly)}},
		{name: "renewal overdue", ready: "True", notBefore: now.Add(-80 * day), notAfter: now.Add(10*day + time.Hour), dnsNames: []string{"gravl.app", "www.gravl.app"},
			want: StatusWarn, itemStatus: StatusWarn, item: []string{"(10d)", "renewal overdue since " + now.Add(-20*day+time.Hour).Format(time.DateOnly)}},
		{name: "expired", ready: "True", notBefore: now.Add(-100 * day), notAfter: now.Add(-10*day + time.Hour), dnsNames: []string{"gravl.app", "www.gravl.app"},
			want: StatusFail, itemStatus: StatusFail, item: []string{"EXPIRED", "(-10d)"}},
		{name: "not covering a DNS name", ready: "True", notBefore: now.Add(-time.Hour), notAfter: now.Add(89*day + time.Hour), dnsNames: []string{"gravl.app"},
			want: StatusWarn, itemStatus: StatusWarn, item: []string{"not covering www.gravl.app"}},
		{name: "not ready", ready: "False", notBefore: now.Add(-time.Hour), notAfter: now.Add(89 * day), dnsNames: []string{"gravl.app", "www.gravl.app"},
			want: StatusFail, itemStatus: StatusFail, item: []string{"Ready=False (Failed)"}},
		{name: "secret missing", ready: "True", noSecret: true,
			want: StatusFail, itemStatus: StatusFail, item: []string{`secret "gravl-tls" not found`}},
		{name: "a missing certificate", ready: "True", notBefore: now.Add(-time.Hour), notAfter: now.Add(89 * day), dnsNames: []string{"gravl.app", "www.gravl.app"},
			extraNames: []string{"api-tls"}, want: StatusFail, itemStatus: StatusPass, item: []string{"Ready=True"}},
	}
	for _, tt := range tests {
		var c *testCert // newCert is not safe for parallel use
		if !tt.noSecret {
			c = newCert(t, certOpts{cn: "gravl.app", dnsNames: tt.dnsNames, notBefore: tt.notBefore, notAfter: tt.notAfter}, ca)
		}
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ns := cp.Namespace(t)
			reason := "Ready"
			if tt.ready != "True" {
				reason = "Failed"
			}
			manifests := certificateYAML(ns, "gravl-tls", "gravl-tls", tt.ready, reason)
			var secrets []string
			if !tt.noSecret {
				var s string
				s, secrets = tlsSecretYAML(t, ns, "gravl-tls", "controller.cert-manager.io/fao: \"true\"", c)
				manifests += s
			}
			cp.CreateYAML(t, manifests)
			p, rules := build(t, env, &CertificateSpec{Namespace: ns, Names: append([]string{"gravl-tls"}, tt.extraNames...)})
			res := observe(t, p, rules)
			if res.Status != tt.want {
				t.Fatalf("= %s %q (%s), items %+v; want %s", res.Status, res.Summary, res.Message, res.Items, tt.want)
			}
			it := res.Items[0]
			if it.Name != "gravl-tls" || it.Status != tt.itemStatus {
				t.Errorf("item = %+v, want gravl-tls %s", it, tt.itemStatus)
			}
			for _, s := range tt.item {
				if !strings.Contains(it.Summary, s) {
					t.Errorf("item summary %q lacks %q", it.Summary, s)
				}
			}
			for _, n := range tt.extraNames {
				if !strings.Contains(res.Summary, "missing: "+n) || res.Values["missing"] != 1 {
					t.Errorf("summary %q, values %v: want %s missing", res.Summary, res.Values, n)
				}
			}
			assertNoSecret(t, res, secrets)
		})
	}
}

// benchResources are the five resource types the probe benchmark reads,
// as apiserver_request_total names them.
var benchResources = map[string]bool{"deployments": true, "pods": true, "networkpolicies": true, "clusterissuers": true, "certificates": true}

// apiReads sums the API server's completed read requests (LIST, WATCH,
// GET) of the benchmark's resource types, and its open watches of them.
func apiReads(b *testing.B, cp *controlplane.ControlPlane) (reads, openWatches float64) {
	b.Helper()
	raw, err := cp.Typed.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		b.Fatalf("API server /metrics: %v", err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		b.Fatalf("API server /metrics: %v", err)
	}
	label := func(m *dto.Metric, name string) string {
		for _, l := range m.GetLabel() {
			if l.GetName() == name {
				return l.GetValue()
			}
		}
		return ""
	}
	for _, m := range fams["apiserver_request_total"].GetMetric() {
		switch label(m, "verb") {
		case "LIST", "WATCH", "GET":
			if benchResources[label(m, "resource")] {
				reads += m.GetCounter().GetValue()
			}
		}
	}
	for _, m := range fams["apiserver_longrunning_requests"].GetMetric() {
		if label(m, "verb") == "WATCH" && benchResources[label(m, "resource")] {
			openWatches += m.GetGauge().GetValue()
		}
	}
	return reads, openWatches
}

// cpuTime is the process's user+system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkK8sProbes runs 20 and 200 Kubernetes probes over five resource
// types (deployments, pods, networkpolicies, clusterissuers,
// certificates) in a Watcher against the real API server, with one object
// status written per second, and reports the API server's read requests
// (apiserver_request_total) at start-up and per minute in steady state,
// its open watches, and this process's CPU. The request figures stay flat
// from 20 to 200 probes: one informer per type, no per-probe polling.
//
//	COCKPIT_BENCH_PROBES=1 go test ./probes -run '^$' -bench BenchmarkK8sProbes -benchtime 1x
//
// COCKPIT_BENCH_WINDOW sets the steady-state window (default 60s).
func BenchmarkK8sProbes(b *testing.B) {
	if os.Getenv("COCKPIT_BENCH_PROBES") == "" {
		b.Skip("set COCKPIT_BENCH_PROBES=1 (bench/probes.sh) to run the probe benchmark")
	}
	window := time.Minute
	if s := os.Getenv("COCKPIT_BENCH_WINDOW"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("COCKPIT_BENCH_WINDOW: %v", err)
		}
		window = d
	}
	cp := controlplane.Start(b)
	const objects = 10
	var issuers strings.Builder
	for i := range objects {
		issuers.WriteString(clusterIssuerYAML(fmt.Sprintf("bench-issuer-%d", i), "cockpit-bench: \"true\"", "True", "IsReady", ""))
	}
	created := cp.CreateYAML(b, issuers.String())
	b.Cleanup(func() {
		for _, o := range created {
			_ = cp.Dynamic.Resource(gvrClusterIssuers).Delete(context.Background(), o.GetName(), metav1.DeleteOptions{})
		}
	})
	for _, n := range []int{20, 200} {
		b.Run(fmt.Sprintf("probes=%d", n), func(b *testing.B) {
			ns := cp.Namespace(b)
			var m strings.Builder
			for i := range objects {
				m.WriteString(deploymentYAML(ns, fmt.Sprintf("app-%d", i), 2, fmt.Sprintf("app: app-%d", i), rolledOut(2)))
				m.WriteString(podYAML(ns, fmt.Sprintf("app-%d-pod", i), fmt.Sprintf("app-%d", i),
					`{phase: Running, conditions: [{type: Ready, status: "True"}], containerStatuses: [{name: main, ready: true, restartCount: 0, image: x, imageID: x, state: {running: {}}}]}`))
				m.WriteString(policyYAML(ns, fmt.Sprintf("policy-%d", i), `{podSelector: {}, policyTypes: [Ingress]}`))
				m.WriteString(certificateYAML(ns, fmt.Sprintf("cert-%d", i), fmt.Sprintf("cert-%d-tls", i), "True", "Ready"))
			}
			objs := cp.CreateYAML(b, m.String())
			var deployments []*unstructured.Unstructured // the latest stored versions
			for _, o := range objs {
				if o.GetKind() == "Deployment" {
					deployments = append(deployments, o)
				}
			}
			cluster, err := NewClusterForConfig("bench", cp.Config, ns)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(cluster.Close)
			env := Env{Kube: func(string) (*Cluster, error) { return cluster, nil }}

			reads0, watches0 := apiReads(b, cp) // the API server watches pods itself
			cpu0, start := cpuTime(b), time.Now()
			var targets []Target
			for i := range n {
				name := fmt.Sprintf("%d", i%objects)
				var spec Spec
				switch i % 5 {
				case 0:
					spec = &WorkloadSpec{Names: []string{"app-" + name}}
				case 1:
					spec = &PodsSpec{Selector: "app=app-" + name}
				case 2:
					spec = &ExistsSpec{Resource: "networkpolicies.networking.k8s.io", Names: []string{"policy-" + name}}
				case 3:
					spec = &ConditionSpec{Resource: "clusterissuers.cert-manager.io", Names: []string{"bench-issuer-" + name}}
				case 4:
					spec = &ConditionSpec{Resource: "certificates.cert-manager.io", Names: []string{"cert-" + name}}
				}
				if err := spec.Validate(); err != nil {
					b.Fatal(err)
				}
				p, rules, err := spec.Build(env)
				if err != nil {
					b.Fatal(err)
				}
				targets = append(targets, Target{ID: fmt.Sprintf("probe-%d", i), Probe: p, Outcomes: rules, Every: 10 * time.Second})
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			updates, err := (&Watcher{}).Watch(ctx, targets)
			if err != nil {
				b.Fatal(err)
			}
			// Start-up: every probe's first result, informers synced.
			passed := map[string]bool{}
			for len(passed) < n {
				select {
				case u := <-updates:
					if u.Result.Status == StatusPass {
						passed[u.ID] = true
					}
				case <-time.After(2 * time.Minute):
					b.Fatalf("%d of %d probes passed within 2m", len(passed), n)
				}
			}
			startup := time.Since(start)
			reads1, _ := apiReads(b, cp)
			cpu1 := cpuTime(b)

			// Steady state: a status write per second, results streaming.
			end := time.After(window)
			write := time.NewTicker(time.Second)
			defer write.Stop()
			observed, writes := 0, 0
		steady:
			for {
				select {
				case <-updates:
					observed++
				case <-write.C:
					i := writes % len(deployments)
					gen := int64(writes + 2)
					st := map[string]any{"observedGeneration": int64(1), "replicas": int64(2), "updatedReplicas": int64(2), "readyReplicas": int64(2), "availableReplicas": int64(2),
						"conditions": []any{map[string]any{"type": "Available", "status": "True", "reason": fmt.Sprintf("Tick%d", gen)}}}
					d, err := cp.SetStatus(ctx, deployments[i], st)
					if err != nil {
						b.Fatal(err)
					}
					deployments[i] = d
					writes++
				case <-end:
					break steady
				}
			}
			reads2, watches2 := apiReads(b, cp)
			cpu2 := cpuTime(b)
			watches := watches2 - watches0

			// Shutdown: the watches end and are counted as completed
			// requests; the total is every read the probes ever cost.
			cancel()
			for range updates {
			}
			cluster.Close()
			deadline := time.Now().Add(30 * time.Second)
			reads3, open := apiReads(b, cp)
			// A watch leaves the open gauge a moment before it is counted.
			for open > watches0 || reads3-reads2 < watches {
				if time.Now().After(deadline) {
					b.Fatalf("30s after closing the cluster: %v watches still open, %v of %v counted", open-watches0, reads3-reads2, watches)
				}
				time.Sleep(100 * time.Millisecond)
				reads3, open = apiReads(b, cp)
			}
			perMin := (reads2 - reads1) / window.Minutes()
			cpuPct := 100 * float64(cpu2-cpu1) / float64(window)
			b.ReportMetric(reads3-reads0, "total-reads")
			b.ReportMetric(perMin, "reads/min")
			b.ReportMetric(watches, "open-watches")
			b.ReportMetric(float64(cluster.Informers()), "informers")
			b.ReportMetric(cpuPct, "cpu-%")
			b.ReportMetric(float64(observed)/window.Minutes(), "results/min")
			b.Logf("%d probes over 5 resource types: %d informers, %.0f open watches; start-up %s (%s CPU); steady %s with %d status writes: %.1f API reads/min, %.0f results/min, CPU %.2f%% of a core (%s); %.0f API reads in all, shutdown included",
				n, cluster.Informers(), watches, startup.Round(time.Millisecond), (cpu1 - cpu0).Round(time.Millisecond),
				window, writes, perMin, float64(observed)/window.Minutes(), cpuPct, (cpu2 - cpu1).Round(time.Millisecond), reads3-reads0)
		})
	}
}
