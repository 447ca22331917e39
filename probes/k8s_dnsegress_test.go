package probes

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
)

// dnsPodsYAML is two CoreDNS-like pods (label k8s-app=kube-dns, named DNS
// ports, pod IPs in 10.244.0.0/16) and one unrelated pod in ns.
func dnsPodsYAML(ns string) string {
	pod := func(name, labels, ip string) string {
		return fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: %[2]s, namespace: %[1]s, labels: {%[3]s}}
spec:
  containers:
  - name: coredns
    image: registry.example/coredns:1.12
    ports: [{name: dns, containerPort: 53, protocol: UDP}, {name: dns-tcp, containerPort: 53, protocol: TCP}]
status: {phase: Running, podIP: %[4]s}
---`, ns, name, labels, ip)
	}
	return pod("coredns-a", "k8s-app: kube-dns", "10.244.0.10") +
		pod("coredns-b", "k8s-app: kube-dns", "10.244.1.10") +
		pod("other", "app: other", "10.244.2.10")
}

// webDeploymentYAML is a Deployment selecting app=web whose pod template
// also carries tier=frontend.
func webDeploymentYAML(ns string) string {
	return fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %s}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: frontend}}
    spec: {containers: [{name: main, image: registry.example/web:1}]}
---`, ns)
}

// webPodYAML is a running pod of the web Deployment with labels of its own.
func webPodYAML(ns, labels string) string {
	return fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: %s, labels: {%s}}
spec: {containers: [{name: main, image: registry.example/web:1}]}
status: {phase: Running, podIP: 10.244.3.7}
---`, ns, labels)
}

func policyYAML(ns, name, spec string) string {
	return fmt.Sprintf(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: %s, namespace: %s}
spec: %s
---`, name, ns, spec)
}

// The dns-egress probe judges policy sets semantically, one namespace per
// case, against DNS pods in a dedicated namespace (dnsNamespace) so that
// kube-system stays untouched by the test.
func TestK8sDNSEgress(t *testing.T) {
	cp := controlplane.Start(t)
	dnsNS := cp.Namespace(t, map[string]string{"team": "platform"})
	cp.CreateYAML(t, dnsPodsYAML(dnsNS))
	env, _ := kubeEnv(t, cp.Config, "default")

	const defaultDeny = `{podSelector: {}, policyTypes: [Egress]}`
	dnsPeer := fmt.Sprintf(`{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: %s}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}`, dnsNS)
	bothPorts := `[{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]`

	tests := []struct {
		name     string
		policies func(ns string) string // NetworkPolicies of the workload's namespace
		pods     string                 // the web pod's labels; "" for no pod
		want     Status
		// wantItem are substrings of the item's summary.
		wantItem []string
		// notItem must not appear in the item's summary.
		notItem []string
	}{
		{
			name:     "default deny only",
			policies: func(ns string) string { return policyYAML(ns, "default-deny-egress", defaultDeny) },
			pods:     "app: web, tier: frontend",
			want:     StatusFail,
			wantItem: []string{"UDP 53 blocked: default-deny-egress: no egress rules (denies all egress)", "TCP 53 blocked: default-deny-egress: no egress rules"},
		},
		{
			name: "allowed to the DNS namespace by kubernetes.io/metadata.name",
			policies: func(ns string) string {
				return policyYAML(ns, "default-deny-egress", defaultDeny) +
					policyYAML(ns, "allow-dns", fmt.Sprintf(`{podSelector: {}, policyTypes: [Egress], egress: [{to: [%s], ports: %s}]}`, dnsPeer, bothPorts))
			},
			pods:     "app: web, tier: frontend",
			want:     StatusPass,
			wantItem: []string{"UDP+TCP 53 allowed by allow-dns"},
		},
		{
			name: "named ports of the DNS pods",
			policies: func(ns string) string {
				return policyYAML(ns, "allow-dns-named", fmt.Sprintf(`{podSelector: {matchLabels: {app: web}}, policyTypes: [Egress],
				  egress: [{to: [%s], ports: [{protocol: UDP, port: dns}, {protocol: TCP, port: dns-tcp}]}]}`, dnsPeer))
			},
			pods:     "app: web, tier: frontend",
			want:     StatusPass,
			wantItem: []string{"UDP+TCP 53 allowed by allow-dns-named"},
		},
		{
			name: "namespaceSelector by a label the namespace does not carry",
			policies: func(ns string) string {
				return policyYAML(ns, "allow-dns-by-name-label", fmt.Sprintf(`{podSelector: {}, policyTypes: [Egress],
				  egress: [{to: [{namespaceSelector: {matchLabels: {name: %s}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], ports: %s}]}`, dnsNS, bothPorts))
			},
			pods: "app: web, tier: frontend",
			want: StatusFail,
			wantItem: []string{
				"UDP 53 blocked: allow-dns-by-name-label: namespaceSelector name=" + dnsNS + " does not match namespace " + dnsNS,
				"team=platform",
				"TCP 53 blocked",
			},
		},
		{
			name: "ports missing TCP",
			policies: func(ns string) string {
				return policyYAML(ns, "allow-dns-udp", fmt.Sprintf(`{podSelector: {}, policyTypes: [Egress], egress: [{to: [%s], ports: [{protocol: UDP, port: 53}]}]}`, dnsPeer))
			},
			pods:     "app: web, tier: frontend",
			want:     StatusFail,
			wantItem: []string{"TCP 53 blocked: allow-dns-udp: ports [UDP/53] do not include TCP/53"},
			notItem:  []string{"UDP 53 blocked"},
		},
		{
			// The common mistake: allowing the DNS Service's ClusterIP range.
			// NetworkPolicies see pod IPs after DNAT, so it reaches no DNS pod.
			name: "ipBlock-only to the service CIDR",
			policies: func(ns string) string {
				return policyYAML(ns, "allow-dns-service-cidr", fmt.Sprintf(`{podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 10.96.0.0/12}}], ports: %s}]}`, bothPorts))
			},
			pods: "app: web, tier: frontend",
			want: StatusFail,
			wantItem: []string{
				"UDP 53 blocked: allow-dns-service-cidr: ipBlock 10.96.0.0/12 does not hold the DNS pod IP 10.244.0.10",
				"does not hold the DNS pod IP 10.244.1.10",
				"TCP 53 blocked",
			},
		},
		{
			// Egress to everything but the cluster network: no DNS pod.
			name: "ipBlock-only with the pod network excepted",
			policies: func(ns string) string {
				return policyYAML(ns, "allow-internet", fmt.Sprintf(`{podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}], ports: %s}]}`, bothPorts))
			},
			pods:     "app: web, tier: frontend",
			want:     StatusFail,
			wantItem: []string{"allow-internet: ipBlock 0.0.0.0/0 except 10.0.0.0/8 excludes the DNS pod IP 10.244.0.10"},
		},
		{
			// An ipBlock holding the DNS pods' IPs is counted as allowing
			// (most network plugins apply ipBlock to pod IPs too).
			name: "ipBlock-only holding the DNS pod IPs",
			policies: func(ns string) string {
				return policyYAML(ns, "allow-pod-cidr", fmt.Sprintf(`{podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 10.244.0.0/16}}], ports: %s}]}`, bothPorts))
			},
			pods:     "app: web, tier: frontend",
			want:     StatusPass,
			wantItem: []string{"UDP+TCP 53 allowed by allow-pod-cidr"},
		},
		{
			name: "podSelector without namespaceSelector",
			policies: func(ns string) string {
				return policyYAML(ns, "allow-dns-pods-here", fmt.Sprintf(`{podSelector: {}, policyTypes: [Egress], egress: [{to: [{podSelector: {matchLabels: {k8s-app: kube-dns}}}], ports: %s}]}`, bothPorts))
			},
			pods: "app: web, tier: frontend",
			want: StatusFail,
			wantItem: []string{
				"allow-dns-pods-here: podSelector k8s-app=kube-dns without namespaceSelector selects pods in ",
				" only, not " + dnsNS,
			},
		},
		{
			name:     "no policy: no isolation",
			policies: func(string) string { return "" },
			pods:     "app: web, tier: frontend",
			want:     StatusPass,
			wantItem: []string{"UDP+TCP 53 allowed by (no egress policy)"},
		},
		{
			name: "policies selecting other pods or only ingress do not isolate",
			policies: func(ns string) string {
				return policyYAML(ns, "deny-batch-egress", `{podSelector: {matchLabels: {app: batch}}, policyTypes: [Egress]}`) +
					policyYAML(ns, "deny-ingress", `{podSelector: {}, policyTypes: [Ingress]}`)
			},
			pods:     "app: web, tier: frontend",
			want:     StatusPass,
			wantItem: []string{"allowed by (no egress policy)"},
		},
		{
			// The Deployment selects app=web; the policy selects
			// tier=frontend, which only the pod template carries.
			name: "no pods: the pod template's labels",
			policies: func(ns string) string {
				return policyYAML(ns, "deny-frontend", `{podSelector: {matchLabels: {tier: frontend}}, policyTypes: [Egress]}`)
			},
			want:     StatusFail,
			wantItem: []string{"UDP 53 blocked: deny-frontend: no egress rules"},
		},
		{
			// A running pod's actual labels win over the template's: this
			// pod lacks tier=frontend, so deny-frontend does not select it.
			name: "running pods: their actual labels",
			policies: func(ns string) string {
				return policyYAML(ns, "deny-frontend", `{podSelector: {matchLabels: {tier: frontend}}, policyTypes: [Egress]}`)
			},
			pods:     "app: web, version: v2",
			want:     StatusPass,
			wantItem: []string{"allowed by (no egress policy)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ns := cp.Namespace(t)
			manifests := webDeploymentYAML(ns) + tt.policies(ns)
			if tt.pods != "" {
				manifests += webPodYAML(ns, tt.pods)
			}
			cp.CreateYAML(t, manifests)
			p, rules := build(t, env, &DNSEgressSpec{Namespace: ns, DNSNamespace: dnsNS})
			res := observe(t, p, rules)
			if res.Status != tt.want {
				t.Fatalf("= %s %q (%s), items %+v; want %s", res.Status, res.Summary, res.Message, res.Items, tt.want)
			}
			if len(res.Items) != 1 || res.Items[0].Name != "deployment/web" {
				t.Fatalf("items = %+v, want deployment/web only", res.Items)
			}
			it := res.Items[0]
			for _, s := range tt.wantItem {
				if !strings.Contains(it.Summary, s) {
					t.Errorf("item summary %q lacks %q", it.Summary, s)
				}
			}
			for _, s := range tt.notItem {
				if strings.Contains(it.Summary, s) {
					t.Errorf("item summary %q has %q", it.Summary, s)
				}
			}
			if it.Status != tt.want {
				t.Errorf("item status = %s, want %s", it.Status, tt.want)
			}
			if tt.want == StatusFail && (it.Reason != "EgressDenied" || res.Values["denied"] != 1 || !strings.Contains(res.Summary, "deployment/web: ")) {
				t.Errorf("denied: reason %q, values %v, summary %q", it.Reason, res.Values, res.Summary)
			}
			if res.Values["dns_pods"] != 2 || res.Values["workloads"] != 1 {
				t.Errorf("values = %v, want 2 DNS pods, 1 workload", res.Values)
			}
		})
	}
}
