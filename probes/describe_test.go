package probes_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockpit-dev/cockpit/internal/goldenfile"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
)

// describeSecret is what the cases' credentials expand to; no target may
// show it.
const describeSecret = "s3cr3t-describe"

// describeCases are, per kind, probe mappings as a runbook writes them.
// Each kind's targets are compared with testdata/describe/KIND.golden.
var describeCases = map[string][]string{
	"http": {
		`{kind: http, url: "https://gravl.app/health"}`,
		`{kind: http, method: POST, url: "https://user:${env:SECRET}@gravl.app/api/login?token=${env:SECRET}", headers: {Authorization: "Bearer ${env:SECRET}"}}`,
	},
	"dns": {
		`{kind: dns, name: gravl.app, type: A, expect: [203.0.113.10], server: "127.0.0.1:5353"}`,
		`{kind: dns, name: gravl.app}`,
		`{kind: dns, name: gravl.app, type: AAAA, server: 10.96.0.10, net: tcp, expect: ["2001:db8::1", "2001:db8::2"]}`,
		`{kind: dns, name: gravl.app, type: TXT, match: contains, expect: ["v=spf1 -all"]}`,
		`{kind: dns, name: gone.gravl.app, rcode: NXDOMAIN}`,
		`{kind: dns, name: gravl.app, expect: [192.0.2.1, 192.0.2.2, 192.0.2.3, 192.0.2.4, 192.0.2.5, 192.0.2.6]}`,
		`{kind: dns, name: gravl.app, type: CAA, expect: ["0 issue letsencrypt.org"], outcomes: [{fail: {when: "missing > 0"}}, {pass: {}}]}`,
	},
	"tls": {
		`{kind: tls, host: gravl.app}`,
		`{kind: tls, host: 127.0.0.1, port: 8443, serverName: api.gravl.app, caCert: testdata/ca.pem, warnDays: 30, failDays: 14}`,
		`{kind: tls, host: gravl.app, failDays: 30}`,
		`{kind: tls, host: "::1", port: 9443, outcomes: [{fail: {when: "days_left < 3"}}, {pass: {}}]}`,
	},
	"tcp": {
		`{kind: tcp, host: db.gravl.internal, port: 5432, timeout: 3s}`,
		`{kind: tcp, host: "::1", port: 6379, outcomes: [{warn: {when: "connect_ms > 50"}}, {pass: {}}]}`,
	},
	"metrics": {
		`{kind: metrics, url: "http://127.0.0.1:9090/metrics", metric: 'http_requests_total{code=~"5.."}', rate: true, expect: "< 0.5"}`,
		`{kind: metrics, url: "https://127.0.0.1:9090/metrics?key=${env:SECRET}", metric: up, expect: ">= 1", headers: {Authorization: "Bearer ${env:SECRET}"}}`,
		`{kind: metrics, url: "http://127.0.0.1:9090/metrics", metric: http_request_duration_seconds_bucket, quantile: 0.95, rate: true, expect: "< 0.2"}`,
		`{kind: metrics, url: "http://127.0.0.1:9090/metrics", metric: http_request_duration_seconds_bucket, quantile: 0.29, expect: "< 1"}`,
		`{kind: metrics, url: "http://127.0.0.1:9090/metrics", metric: 'rpc_duration_seconds_bucket{service="api"}', quantile: 0.999, rate: true, expect: "< 2"}`,
		`{kind: metrics, url: "http://127.0.0.1:9090/metrics", metric: queue_depth, outcomes: [{fail: {when: "value > 100"}}, {warn: {when: "value > 10"}}, {pass: {}}]}`,
	},
	"prometheus": {
		`{kind: prometheus, url: "https://prometheus.gravl.app", query: 'sum(rate(http_requests_total{code=~"5.."}[5m]))', expect: "< 0.01", bearerToken: "${env:SECRET}"}`,
	},
	"alertmanager": {
		`{kind: alertmanager, url: "https://alertmanager.gravl.app", matchers: ['severity="critical"'], basicAuth: {username: cockpit, password: "${env:SECRET}"}}`,
	},
	"k8s.workload": {
		`{kind: k8s.workload, namespace: gravl-staging, names: [backend, frontend]}`,
		`{kind: k8s.workload, namespace: cert-manager, names: [cert-manager]}`,
		`{kind: k8s.workload, namespace: gravl-prod, selector: app.kubernetes.io/part-of=gravl}`,
		`{kind: k8s.workload, namespace: gravl-prod, names: [deployment/backend, statefulset/postgres]}`,
		`{kind: k8s.workload, names: [sts/postgres, statefulset/redis]}`,
		`{kind: k8s.workload, resource: daemonsets, context: gravl-prod-eu}`,
		`{kind: k8s.workload, namespace: gravl-prod, names: [api, web, worker, cron, mailer, search]}`,
		`{kind: k8s.workload, namespace: gravl-prod, names: [backend], outcomes: [{fail: {when: "replicas_ready < 2"}}, {pass: {}}]}`,
	},
	"k8s.condition": {
		`{kind: k8s.condition, resource: clusterissuers.cert-manager.io, names: [letsencrypt-prod, letsencrypt-staging, selfsigned-issuer, internal-ca-issuer], condition: Ready}`,
		`{kind: k8s.condition, resource: clusterissuers.cert-manager.io, names: [letsencrypt-prod, letsencrypt-staging, selfsigned-issuer, internal-ca-issuer, vault-issuer]}`,
		`{kind: k8s.condition, resource: clusterissuer, names: [letsencrypt-prod], namespace: ignored}`,
		`{kind: k8s.condition, resource: sealedsecrets.bitnami.com, namespace: gravl-prod, condition: Synced}`,
		`{kind: k8s.condition, resource: deploy, selector: app=api, condition: Available, context: gravl-prod-eu}`,
		`{kind: k8s.condition, resource: widgets.example.com, names: [w1], condition: Healthy, status: "False"}`,
		`{kind: k8s.condition, resource: nodes, condition: MemoryPressure, status: "False", outcomes: [{fail: {when: "failing > 1"}}, {warn: {when: "failing > 0"}}, {pass: {}}]}`,
	},
	"k8s.exists": {
		`{kind: k8s.exists, resource: networkpolicies, namespace: gravl-staging, names: [gravl-default-deny, allow-dns-egress]}`,
		`{kind: k8s.exists, resource: netpol, namespace: gravl-staging, names: [gravl-default-deny]}`,
		`{kind: k8s.exists, resource: networkpolicies.networking.k8s.io, selector: app=gravl, min: 2}`,
		`{kind: k8s.exists, resource: ingressclasses, context: gravl-prod-eu}`,
		`{kind: k8s.exists, resource: servicemonitors.monitoring.coreos.com, namespace: monitoring, names: [api], outcomes: [{warn: {when: "missing > 0"}}, {pass: {}}]}`,
	},
	"k8s.certificate": {
		`{kind: k8s.certificate, namespace: gravl-prod, names: [gravl-tls]}`,
		`{kind: k8s.certificate, namespace: gravl-prod, names: [gravl-tls, api-tls]}`,
		`{kind: k8s.certificate, selector: app=gravl, context: gravl-prod-eu}`,
		`{kind: k8s.certificate, namespace: gravl-prod, outcomes: [{fail: {when: "days_left < 14"}}, {pass: {}}]}`,
	},
	"k8s.sealed-secrets": {
		`{kind: k8s.sealed-secrets}`,
		`{kind: k8s.sealed-secrets, namespace: sealed-secrets, controller: sealed-secrets, service: sealed-secrets-web, keySelector: "sealedsecrets.bitnami.com/sealed-secrets-key=active"}`,
		`{kind: k8s.sealed-secrets, context: gravl-prod-eu, outcomes: [{fail: {when: "failing > 0 || keys == 0"}}, {pass: {}}]}`,
	},
	"k8s.dns-egress": {
		`{kind: k8s.dns-egress, namespace: gravl-staging}`,
		`{kind: k8s.dns-egress, namespace: gravl-staging, workloads: [backend, frontend]}`,
		`{kind: k8s.dns-egress, workloads: [backend, statefulset/postgres], dnsNamespace: dns, dnsSelector: app=coredns, port: 5353, context: gravl-prod-eu}`,
		`{kind: k8s.dns-egress, namespace: gravl-staging, outcomes: [{fail: {when: "denied > 1"}}, {pass: {}}]}`,
	},
	"k8s.pods": {
		`{kind: k8s.pods, namespace: gravl-prod, selector: app=backend}`,
		`{kind: k8s.pods}`,
		`{kind: k8s.pods, namespace: gravl-prod, context: gravl-prod-eu, outcomes: [{fail: {when: "not_ready > 0"}}, {warn: {when: "max_restarts > 3"}}, {pass: {}}]}`,
	},
}

// describeRunbook is a runbook with one probe step per mapping.
func describeRunbook(mappings []string) string {
	var b strings.Builder
	b.WriteString("apiVersion: cockpit/v1\nkind: Runbook\nmetadata: {name: describe}\nphases:\n- id: preflight\n  steps:\n")
	for i, m := range mappings {
		fmt.Fprintf(&b, "  - id: s%d\n    probe: %s\n", i, m)
	}
	return b.String()
}

// TestDescribe decodes each kind's cases through the runbook's decoder and
// compares their targets with the kind's golden file.
func TestDescribe(t *testing.T) {
	for _, kind := range probes.Kinds() {
		t.Run(kind, func(t *testing.T) {
			cases := describeCases[kind]
			if len(cases) == 0 {
				t.Fatalf("no describe cases for kind %s: add some to describeCases", kind)
			}
			rb, err := runbook.Parse(kind+".yaml", []byte(describeRunbook(cases)), runbook.Options{
				LookupEnv: lookup(map[string]string{"SECRET": describeSecret}),
			})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var b bytes.Buffer
			fmt.Fprintf(&b, "# %s targets (go test ./probes -run TestDescribe -update rewrites this file)\n", kind)
			for i, st := range rb.Phases[0].Steps {
				if st.Probe == nil || st.Probe.Kind != kind {
					t.Fatalf("step %d: not a %s probe", i, kind)
				}
				d, ok := st.Probe.Spec.(probes.Describer)
				if !ok {
					t.Fatalf("%T does not implement probes.Describer", st.Probe.Spec)
				}
				target := d.Describe()
				if target == "" {
					t.Errorf("case %d: empty target", i)
				}
				if strings.Contains(target, describeSecret) {
					t.Errorf("case %d: target shows the secret: %s", i, target)
				}
				fmt.Fprintf(&b, "\nprobe:  %s\ntarget: %s\n", cases[i], target)
			}
			goldenfile.Check(t, filepath.Join("testdata", "describe", kind+".golden"), b.Bytes())
		})
	}
	for kind := range describeCases {
		if _, err := probes.Lookup(kind); err != nil {
			t.Errorf("describeCases: %v", err)
		}
	}
}

// TestEveryKindDescribes fails for a registered kind whose spec does not
// implement Describer (its target would be empty in the sign-off), or
// whose zero spec describes as nothing.
func TestEveryKindDescribes(t *testing.T) {
	for _, kind := range probes.Kinds() {
		def, err := probes.Lookup(kind)
		if err != nil {
			t.Fatal(err)
		}
		spec := def.NewSpec()
		d, ok := spec.(probes.Describer)
		if !ok {
			t.Errorf("kind %s: %T does not implement probes.Describer", kind, spec)
			continue
		}
		if d.Describe() == "" {
			t.Errorf("kind %s: the zero spec describes as nothing", kind)
		}
	}
}
