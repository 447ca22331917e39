package probes_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/cockpit-dev/cockpit/internal/realcluster"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// dnsQueryTCP sends one DNS query for kubernetes.default.svc.cluster.local
// over TCP (a 2-byte length, then the message) to the DNS Service and
// succeeds when an answer comes back: busybox's nslookup only speaks UDP.
const dnsQueryTCP = `printf '\000\066\022\064\001\000\000\001\000\000\000\000\000\000` +
	`\012kubernetes\007default\003svc\007cluster\005local\000\000\001\000\001' | nc -w 2 ` + realcluster.DNSServiceIP + ` 53 | wc -c | { read n; [ "$n" -gt 2 ]; }`

// dnsLive is the live test: exit 0 when both protocols resolve, +1 when UDP
// does not, +2 when TCP does not.
const dnsLive = `u=0; t=0; nslookup kubernetes.default.svc.cluster.local >/dev/null 2>&1 || u=1; ` + dnsQueryTCP + ` || t=2; ` +
	`echo "udp blocked=$u tcp blocked=$((t/2))"; exit $((u+t))`

// describeDNS reads dnsLive's exit code.
func describeDNS(code int) string {
	word := func(blocked bool) string {
		if blocked {
			return "blocked"
		}
		return "allowed"
	}
	return fmt.Sprintf("UDP %s, TCP %s", word(code&1 != 0), word(code&2 != 0))
}

// TestDNSEgressAgreesWithKubeRouterOnRealCluster: for each shape of DNS
// egress policy, the k8s.dns-egress probe's verdict (from the policies)
// must be what a real pod under kube-router gets, protocol by protocol.
// The live result comes from a check pod labelled like the workload,
// repeated until it settles (see check-pod's window).
func TestDNSEgressAgreesWithKubeRouterOnRealCluster(t *testing.T) {
	const deny = `{podSelector: {}, policyTypes: [Ingress, Egress]}`
	tests := []struct {
		name string
		// dns is the DNS egress policy's spec ("" for none): default
		// deny is always there.
		dns string
	}{
		{name: "seed namespaceSelector name=kube-system",
			dns: `{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {name: kube-system}}}], ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]}`},
		{name: "kubernetes.io/metadata.name=kube-system",
			dns: `{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}], ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]}`},
		{name: "UDP only",
			dns: `{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}], ports: [{protocol: UDP, port: 53}]}]}`},
		{name: "port without protocol is TCP",
			dns: `{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}], ports: [{port: 53}]}]}`},
		{name: "default deny without a DNS rule"},
		{name: "podSelector k8s-app=kube-dns alone selects the policy's namespace",
			dns: `{podSelector: {}, policyTypes: [Egress], egress: [{to: [{podSelector: {matchLabels: {k8s-app: kube-dns}}}], ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]}`},
		{name: "any namespace and podSelector k8s-app=kube-dns",
			dns: `{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]}`},
		{name: "named ports dns and dns-tcp",
			dns: `{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}], ports: [{protocol: UDP, port: dns}, {protocol: TCP, port: dns-tcp}]}]}`},
		{name: "ipBlock of the DNS Service IP",
			dns: `{podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: ` + realcluster.DNSServiceIP + `/32}}], ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]}`},
		{name: "ipBlock of the pod range",
			dns: `{podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: ` + realcluster.PodCIDR + `}}], ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]}]}`},
	}
	c := realcluster.Start(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := c.Namespace(t)
			ctx := context.Background()
			specs := map[string]string{"default-deny": deny}
			if tt.dns != "" {
				specs["allow-dns"] = tt.dns
			}
			for name, spec := range specs {
				var np networkingv1.NetworkPolicy
				if err := yaml.UnmarshalStrict([]byte(spec), &np.Spec); err != nil {
					t.Fatalf("policy %s: %v", name, err)
				}
				np.Name, np.Namespace = name, ns
				if _, err := c.Typed.NetworkingV1().NetworkPolicies(ns).Create(ctx, &np, metav1.CreateOptions{}); err != nil {
					t.Fatalf("create policy %s: %v", name, err)
				}
			}
			// The workload the probe judges: its pod template's labels
			// (no replicas: the check pod plays its pod).
			labels := map[string]string{"app": "backend"}
			d := &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: "backend", Namespace: ns},
				Spec: appsv1.DeploymentSpec{
					Replicas: ptr.To(int32(0)),
					Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: labels},
						Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "backend", Image: realcluster.GravlImage}}},
					},
				},
			}
			if _, err := c.Typed.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			cl, err := probes.NewClusterForConfig("realcluster", c.Config, ns)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cl.Close)

			// Static: the probe, from the policies.
			spec := &probes.DNSEgressSpec{Namespace: ns}
			p, rules, err := spec.Build(probes.Env{Kube: func(string) (*probes.Cluster, error) { return cl, nil }})
			if err != nil {
				t.Fatal(err)
			}
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			static := probes.Run(pctx, p, rules, time.Now)
			if static.Status != probes.StatusPass && static.Status != probes.StatusFail || len(static.Items) != 1 {
				t.Fatalf("probe: %s %q %q, items %+v", static.Status, static.Summary, static.Message, static.Items)
			}
			staticCode := 0
			if strings.Contains(static.Items[0].Summary, "UDP 53 blocked") {
				staticCode |= 1
			}
			if strings.Contains(static.Items[0].Summary, "TCP 53 blocked") {
				staticCode |= 2
			}
			if (staticCode == 0) != (static.Status == probes.StatusPass) {
				t.Fatalf("probe: %s but item %q", static.Status, static.Items[0].Summary)
			}

			// Live: a pod labelled like the workload, under kube-router.
			check := &actions.CheckPodSpec{Image: realcluster.BusyboxImage, Command: []string{"sh", "-c", dnsLive}, Labels: labels}
			a, err := check.Build(actions.Env{Kube: func(string) (*probes.Cluster, error) { return cl, nil }})
			if err != nil {
				t.Fatal(err)
			}
			live := a.Execute(ctx, nil)
			if _, ok := live.Values["attempts"]; !ok || strings.Contains(live.Summary, "did not settle") {
				t.Fatalf("the live check has no settled result: %s %q %q\n%s", live.Status, live.Summary, live.Message, live.Output)
			}
			liveCode := int(live.Values["exit_code"])
			t.Logf("static: %s (%s)\nlive:   %s (%s)", describeDNS(staticCode), static.Items[0].Summary, describeDNS(liveCode), live.Items[1].Message)
			if liveCode > 3 {
				t.Fatalf("live check exited %d:\n%s", liveCode, live.Output)
			}
			if staticCode != liveCode {
				t.Errorf("the probe says %s, a real pod gets %s\nprobe: %s\nlive output:\n%s",
					describeDNS(staticCode), describeDNS(liveCode), static.Items[0].Summary, live.Output)
			}
		})
	}
}
