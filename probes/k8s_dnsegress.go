package probes

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/cockpit-dev/cockpit/internal/kube"
)

// EgressSource is the sending side of a NetworkPolicy question: a pod's
// namespace and labels.
type EgressSource struct {
	Namespace string
	Labels    map[string]string
}

// EgressTarget is the receiving side: a pod, its namespace's labels, its IP
// (for ipBlock peers; "" when unknown) and its container ports (for named
// policy ports).
type EgressTarget struct {
	Namespace       string
	NamespaceLabels map[string]string
	Labels          map[string]string
	IP              string
	Ports           []corev1.ContainerPort
}

// EgressVerdict answers whether the policies allow the traffic, and why.
type EgressVerdict struct {
	Allowed bool
	// Isolated is true when some policy selects the source for egress
	// (otherwise all egress is allowed).
	Isolated bool
	// AllowedBy names the policy whose rule allows the traffic.
	AllowedBy string
	// Why says, per selecting policy, why it does not allow the traffic.
	Why []string
}

// EffectivePolicyTypes are a policy's types as the API server defaults
// them: Ingress always, Egress when there are egress rules.
func EffectivePolicyTypes(p *networkingv1.NetworkPolicy) []networkingv1.PolicyType {
	if len(p.Spec.PolicyTypes) > 0 {
		return p.Spec.PolicyTypes
	}
	types := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	if len(p.Spec.Egress) > 0 {
		types = append(types, networkingv1.PolicyTypeEgress)
	}
	return types
}

// EvaluateEgress decides whether the NetworkPolicies allow src to send
// proto/port traffic to dst, with Kubernetes semantics: a pod is isolated
// for egress once any egress policy of its namespace selects it; then the
// union of those policies' rules must allow the traffic. A peer with only a
// podSelector selects pods of the policy's own namespace; with a
// namespaceSelector it selects by the namespace's actual labels; ipBlock
// matches the target's IP (whether ipBlock applies to pod IPs depends on
// the network plugin; most do).
func EvaluateEgress(policies []networkingv1.NetworkPolicy, src EgressSource, dst EgressTarget, proto corev1.Protocol, port int32) EgressVerdict {
	var v EgressVerdict
	for i := range policies {
		p := &policies[i]
		if p.Namespace != src.Namespace || !slices.Contains(EffectivePolicyTypes(p), networkingv1.PolicyTypeEgress) {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		if err != nil || !sel.Matches(labels.Set(src.Labels)) {
			continue
		}
		v.Isolated = true
		if len(p.Spec.Egress) == 0 {
			v.Why = append(v.Why, p.Name+": no egress rules (denies all egress)")
			continue
		}
		var why []string
		for j, rule := range p.Spec.Egress {
			reason := egressRuleAllows(rule, p.Namespace, dst, proto, port)
			if reason == "" {
				v.Allowed, v.AllowedBy, v.Why = true, p.Name, nil
				return v
			}
			if len(p.Spec.Egress) > 1 {
				reason = fmt.Sprintf("rule %d: %s", j+1, reason)
			}
			why = append(why, reason)
		}
		v.Why = append(v.Why, p.Name+": "+strings.Join(why, "; "))
	}
	if !v.Isolated {
		v.Allowed = true
	}
	return v
}

// egressRuleAllows returns "" when rule allows the traffic, else why not.
func egressRuleAllows(rule networkingv1.NetworkPolicyEgressRule, policyNS string, dst EgressTarget, proto corev1.Protocol, port int32) string {
	if !portsAllow(rule.Ports, dst, proto, port) {
		return fmt.Sprintf("ports %s do not include %s/%d", formatPolicyPorts(rule.Ports), proto, port)
	}
	if len(rule.To) == 0 {
		return "" // every destination
	}
	var why []string
	for _, peer := range rule.To {
		reason := peerSelects(peer, policyNS, dst)
		if reason == "" {
			return ""
		}
		why = append(why, reason)
	}
	return strings.Join(why, "; ")
}

// peerSelects returns "" when peer selects dst, else why not.
func peerSelects(peer networkingv1.NetworkPolicyPeer, policyNS string, dst EgressTarget) string {
	if peer.IPBlock != nil {
		return ipBlockSelects(peer.IPBlock, dst.IP)
	}
	if peer.NamespaceSelector == nil {
		if peer.PodSelector == nil {
			return "empty peer selects nothing"
		}
		if dst.Namespace != policyNS {
			return fmt.Sprintf("podSelector %s without namespaceSelector selects pods in %s only, not %s",
				formatSelector(peer.PodSelector), policyNS, dst.Namespace)
		}
	} else {
		nsSel, err := metav1.LabelSelectorAsSelector(peer.NamespaceSelector)
		if err != nil {
			return fmt.Sprintf("namespaceSelector: %v", err)
		}
		if !nsSel.Matches(labels.Set(dst.NamespaceLabels)) {
			return fmt.Sprintf("namespaceSelector %s does not match namespace %s (labels %s)",
				formatSelector(peer.NamespaceSelector), dst.Namespace, labels.Set(dst.NamespaceLabels))
		}
	}
	if peer.PodSelector != nil {
		podSel, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
		if err != nil {
			return fmt.Sprintf("podSelector: %v", err)
		}
		if !podSel.Matches(labels.Set(dst.Labels)) {
			return fmt.Sprintf("podSelector %s does not match the DNS pods (labels %s)", formatSelector(peer.PodSelector), labels.Set(dst.Labels))
		}
	}
	return ""
}

// ipBlockSelects returns "" when the block holds ip, else why not.
func ipBlockSelects(b *networkingv1.IPBlock, ip string) string {
	desc := "ipBlock " + b.CIDR
	if len(b.Except) > 0 {
		desc += " except " + strings.Join(b.Except, ",")
	}
	if ip == "" {
		return desc + ": the DNS pod's IP is unknown"
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return fmt.Sprintf("%s: DNS pod IP %q: %v", desc, ip, err)
	}
	in := func(cidr string) bool {
		p, err := netip.ParsePrefix(cidr)
		return err == nil && p.Contains(addr)
	}
	if !in(b.CIDR) {
		return fmt.Sprintf("%s does not hold the DNS pod IP %s", desc, ip)
	}
	for _, ex := range b.Except {
		if in(ex) {
			return fmt.Sprintf("%s excludes the DNS pod IP %s", desc, ip)
		}
	}
	return ""
}

// portsAllow reports whether a rule's ports admit proto/port at dst (no
// ports: every port).
func portsAllow(ports []networkingv1.NetworkPolicyPort, dst EgressTarget, proto corev1.Protocol, port int32) bool {
	if len(ports) == 0 {
		return true
	}
	for _, pp := range ports {
		pr := corev1.ProtocolTCP
		if pp.Protocol != nil {
			pr = *pp.Protocol
		}
		if pr != proto {
			continue
		}
		if pp.Port == nil {
			return true
		}
		if pp.Port.Type == intstr.String { // a named port: the target's container port of that name
			if slices.ContainsFunc(dst.Ports, func(cp corev1.ContainerPort) bool {
				cpProto := cp.Protocol
				if cpProto == "" {
					cpProto = corev1.ProtocolTCP
				}
				return cp.Name == pp.Port.StrVal && cp.ContainerPort == port && cpProto == proto
			}) {
				return true
			}
			continue
		}
		lo, hi := pp.Port.IntVal, pp.Port.IntVal
		if pp.EndPort != nil {
			hi = *pp.EndPort
		}
		if port >= lo && port <= hi {
			return true
		}
	}
	return false
}

func formatPolicyPorts(ports []networkingv1.NetworkPolicyPort) string {
	parts := make([]string, 0, len(ports))
	for _, pp := range ports {
		pr := corev1.ProtocolTCP
		if pp.Protocol != nil {
			pr = *pp.Protocol
		}
		switch {
		case pp.Port == nil:
			parts = append(parts, string(pr)+"/*")
		case pp.EndPort != nil:
			parts = append(parts, fmt.Sprintf("%s/%s-%d", pr, pp.Port.String(), *pp.EndPort))
		default:
			parts = append(parts, fmt.Sprintf("%s/%s", pr, pp.Port.String()))
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func formatSelector(s *metav1.LabelSelector) string {
	if s == nil {
		return "(none)"
	}
	str := metav1.FormatLabelSelector(s)
	if str == "<none>" {
		return "{} (all)"
	}
	return str
}

// DNSEgressSpec configures a "k8s.dns-egress" probe: for the pods of each
// workload in a namespace (their pod template's labels when no pod runs),
// do the NetworkPolicies that select them allow egress to the cluster DNS
// pods on UDP and TCP 53? Evaluated semantically: policy types, default
// deny, namespace and pod selectors against the actual labels, ports,
// ipBlocks.
//
//	probe: {kind: k8s.dns-egress, namespace: gravl-staging}
type DNSEgressSpec struct {
	Context   string `json:"context,omitempty" yaml:"context,omitempty"`
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	// Workloads limits the check to these ("NAME" is a Deployment, or
	// "statefulset/NAME", "daemonset/NAME"); default every workload.
	Workloads []string `json:"workloads,omitempty" yaml:"workloads,omitempty"`
	// DNSNamespace holds the DNS pods; default kube-system.
	DNSNamespace string `json:"dnsNamespace,omitempty" yaml:"dnsNamespace,omitempty"`
	// DNSSelector selects the DNS pods; default k8s-app=kube-dns (CoreDNS
	// keeps kube-dns's label).
	DNSSelector string `json:"dnsSelector,omitempty" yaml:"dnsSelector,omitempty"`
	// Port is the DNS port; default 53.
	Port     int32         `json:"port,omitempty" yaml:"port,omitempty"`
	Outcomes []OutcomeSpec `json:"outcomes,omitempty" yaml:"outcomes,omitempty"`
}

var (
	_ Spec            = (*DNSEgressSpec)(nil)
	_ PermissionsSpec = (*DNSEgressSpec)(nil)
)

// dnsEgressValues are what a k8s.dns-egress probe observes.
var dnsEgressValues = []string{"workloads", "allowed", "denied", "dns_pods"}

var defaultDNSEgressOutcomes = []OutcomeSpec{
	{Fail: &RuleSpec{When: "workloads == 0", Message: "no workload to check"}},
	{Fail: &RuleSpec{When: "denied > 0", Message: "{{denied}} of {{workloads}} workload(s) cannot reach cluster DNS"}},
	{Warn: &RuleSpec{When: "dns_pods == 0", Message: "no DNS pods found; judged against the selector's labels"}},
	{Pass: &RuleSpec{Message: "{{allowed}}/{{workloads}} workload(s) reach cluster DNS on UDP and TCP"}},
}

// Values implements Spec.
func (s *DNSEgressSpec) Values() []string { return dnsEgressValues }

// Permissions implements PermissionsSpec: list and watch of the workloads
// (the named ones' types, else deployments, statefulsets and daemonsets),
// pods and NetworkPolicies in the namespace, of namespaces (cluster-scoped:
// the DNS namespace's labels) and of the DNS pods' namespace's pods.
func (s *DNSEgressSpec) Permissions() []Permission {
	var out []Permission
	ws := WorkloadSpec{}
	for _, k := range kube.WorkloadKinds {
		named := false
		for _, w := range s.Workloads {
			if ref, err := ws.ref(w); err == nil && ref.Kind == k {
				named = true
			}
		}
		if len(s.Workloads) == 0 || named {
			out = append(out, reads(s.Context, workloadResource(k), s.Namespace))
		}
	}
	dnsNS := s.DNSNamespace
	if dnsNS == "" {
		dnsNS = "kube-system"
	}
	return append(out,
		reads(s.Context, resPods, s.Namespace),
		reads(s.Context, resNetworkPolicies, s.Namespace),
		reads(s.Context, resNamespaces, ""),
		reads(s.Context, resPods, dnsNS),
	)
}

// Validate implements Spec.
func (s *DNSEgressSpec) Validate() error {
	var errs []error
	ws := WorkloadSpec{}
	for i, w := range s.Workloads {
		if _, err := ws.ref(w); err != nil {
			errs = append(errs, fieldErr(fmt.Sprintf("workloads[%d]", i), "%v", err))
		}
	}
	if s.DNSSelector != "" {
		if _, err := labels.Parse(s.DNSSelector); err != nil {
			errs = append(errs, fieldErr("dnsSelector", "%v", err))
		}
	}
	if s.Port < 0 || s.Port > 65535 {
		errs = append(errs, fieldErr("port", "%d is not a port", s.Port))
	}
	if _, err := CompileOutcomes(s.Outcomes, dnsEgressValues); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Build implements Spec.
func (s *DNSEgressSpec) Build(env Env) (Probe, Outcomes, error) {
	rules, err := buildOutcomes(s.Outcomes, defaultDNSEgressOutcomes, dnsEgressValues)
	if err != nil {
		return nil, nil, err
	}
	c, err := kubeCluster(env, s.Context)
	if err != nil {
		return nil, nil, err
	}
	p := &dnsEgressProbe{kubeReader: newKubeReader(c), spec: *s}
	if p.spec.Namespace == "" {
		p.spec.Namespace = c.Namespace()
	}
	if p.spec.DNSNamespace == "" {
		p.spec.DNSNamespace = "kube-system"
	}
	if p.spec.DNSSelector == "" {
		p.spec.DNSSelector = "k8s-app=kube-dns"
	}
	if p.spec.Port == 0 {
		p.spec.Port = 53
	}
	ws := WorkloadSpec{}
	for _, w := range s.Workloads {
		ref, err := ws.ref(w)
		if err != nil {
			return nil, nil, fmt.Errorf("workloads: %w", err)
		}
		p.refs = append(p.refs, ref)
	}
	return p, rules, nil
}

type dnsEgressProbe struct {
	kubeReader
	spec DNSEgressSpec
	refs []kube.WorkloadRef
}

var (
	_ Probe   = (*dnsEgressProbe)(nil)
	_ Changer = (*dnsEgressProbe)(nil)
)

// egressWorkload is one workload's pod selector and template labels.
type egressWorkload struct {
	name     string // deployment/backend
	selector labels.Selector
	template map[string]string
}

func (p *dnsEgressProbe) workloads(ctx context.Context) ([]egressWorkload, error) {
	var out []egressWorkload
	for _, k := range kube.WorkloadKinds {
		var names []string
		for _, r := range p.refs {
			if r.Kind == k {
				names = append(names, r.Name)
			}
		}
		if len(p.refs) > 0 && len(names) == 0 {
			continue
		}
		sel := kubeSelect{namespace: p.spec.Namespace, names: names}
		objs, err := p.read(ctx, workloadResource(k), p.spec.Namespace, sel.match)
		if err != nil {
			return nil, err
		}
		for _, n := range sel.missing(objs) {
			return nil, fmt.Errorf("%s not found in %s", kube.WorkloadRef{Kind: k, Name: n}, p.spec.Namespace)
		}
		for _, u := range objs {
			w, err := egressWorkloadOf(k, u)
			if err != nil {
				return nil, err
			}
			out = append(out, w)
		}
	}
	return out, nil
}

func egressWorkloadOf(k kube.WorkloadKind, u *unstructured.Unstructured) (egressWorkload, error) {
	var sel *metav1.LabelSelector
	var tmpl map[string]string
	switch k {
	case kube.Deployment:
		d, err := fromUnstructured[appsv1.Deployment](u)
		if err != nil {
			return egressWorkload{}, err
		}
		sel, tmpl = d.Spec.Selector, d.Spec.Template.Labels
	case kube.StatefulSet:
		s, err := fromUnstructured[appsv1.StatefulSet](u)
		if err != nil {
			return egressWorkload{}, err
		}
		sel, tmpl = s.Spec.Selector, s.Spec.Template.Labels
	case kube.DaemonSet:
		d, err := fromUnstructured[appsv1.DaemonSet](u)
		if err != nil {
			return egressWorkload{}, err
		}
		sel, tmpl = d.Spec.Selector, d.Spec.Template.Labels
	}
	name := kube.WorkloadRef{Kind: k, Name: u.GetName()}.String()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return egressWorkload{}, fmt.Errorf("%s: selector: %w", name, err)
	}
	return egressWorkload{name: name, selector: s, template: tmpl}, nil
}

func (p *dnsEgressProbe) Observe(ctx context.Context) Observation {
	workloads, err := p.workloads(ctx)
	if err != nil {
		return Observation{Err: err}
	}
	podObjs, err := p.read(ctx, resPods, p.spec.Namespace, nil)
	if err != nil {
		return Observation{Err: err}
	}
	polObjs, err := p.read(ctx, resNetworkPolicies, p.spec.Namespace, nil)
	if err != nil {
		return Observation{Err: err}
	}
	dnsNS := p.spec.DNSNamespace
	nsObjs, err := p.read(ctx, resNamespaces, "", func(u *unstructured.Unstructured) bool { return u.GetName() == dnsNS })
	if err != nil {
		return Observation{Err: err}
	}
	dnsSel := parseSelector(p.spec.DNSSelector)
	dnsObjs, err := p.read(ctx, resPods, dnsNS, func(u *unstructured.Unstructured) bool {
		return u.GetNamespace() == dnsNS && dnsSel.Matches(labels.Set(u.GetLabels()))
	})
	if err != nil {
		return Observation{Err: err}
	}
	if len(nsObjs) == 0 {
		return Observation{Err: fmt.Errorf("DNS namespace %q not found", dnsNS)}
	}
	policies := make([]networkingv1.NetworkPolicy, 0, len(polObjs))
	for _, u := range polObjs {
		np, err := fromUnstructured[networkingv1.NetworkPolicy](u)
		if err != nil {
			return Observation{Err: err}
		}
		policies = append(policies, *np)
	}
	targets, err := dnsTargets(dnsObjs, nsObjs[0].GetLabels(), dnsNS, p.spec.DNSSelector)
	if err != nil {
		return Observation{Err: err}
	}

	var items []Item
	allowed, denied := 0, 0
	for _, w := range workloads {
		var sources []map[string]string
		for _, u := range podObjs {
			if l := u.GetLabels(); w.selector.Matches(labels.Set(l)) && !slices.ContainsFunc(sources, func(s map[string]string) bool { return labels.Equals(s, l) }) {
				sources = append(sources, l)
			}
		}
		if len(sources) == 0 {
			sources = append(sources, w.template)
		}
		it := judgeDNSEgress(w.name, sources, p.spec.Namespace, targets, policies, p.spec.Port)
		if it.Status == StatusPass {
			allowed++
		} else {
			denied++
		}
		items = append(items, it)
	}
	summary := fmt.Sprintf("%d/%d %s reach DNS (%s %s) on UDP+TCP %d", allowed, len(workloads), plural(len(workloads), "workload", "workloads"), dnsNS, p.spec.DNSSelector, p.spec.Port)
	for _, it := range items {
		if it.Status != StatusPass {
			summary += "; " + it.Name + ": " + it.Summary
			break
		}
	}
	return Observation{
		Summary: summary,
		Items:   items,
		Values: map[string]float64{
			"workloads": float64(len(workloads)),
			"allowed":   float64(allowed),
			"denied":    float64(denied),
			"dns_pods":  float64(len(dnsObjs)),
		},
	}
}

// dnsTargets turns the DNS pods into targets; without pods, one target
// with the selector's labels and no IP.
func dnsTargets(pods []*unstructured.Unstructured, nsLabels map[string]string, ns, selector string) ([]EgressTarget, error) {
	var out []EgressTarget
	for _, u := range pods {
		pod, err := fromUnstructured[corev1.Pod](u)
		if err != nil {
			return nil, err
		}
		t := EgressTarget{Namespace: ns, NamespaceLabels: nsLabels, Labels: pod.Labels, IP: pod.Status.PodIP}
		for _, c := range pod.Spec.Containers {
			t.Ports = append(t.Ports, c.Ports...)
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		l, err := labels.ConvertSelectorToLabelsMap(selector)
		if err != nil {
			return nil, fmt.Errorf("no DNS pods, and dnsSelector %q is not a plain label list: %w", selector, err)
		}
		out = append(out, EgressTarget{Namespace: ns, NamespaceLabels: nsLabels, Labels: l})
	}
	return out, nil
}

// judgeDNSEgress evaluates one workload's label sets against every DNS
// target on UDP and TCP.
func judgeDNSEgress(name string, sources []map[string]string, ns string, targets []EgressTarget, policies []networkingv1.NetworkPolicy, port int32) Item {
	it := Item{Name: name, Status: StatusPass}
	allowedBy := map[corev1.Protocol][]string{}
	var why []string
	for _, proto := range []corev1.Protocol{corev1.ProtocolUDP, corev1.ProtocolTCP} {
		for _, src := range sources {
			for _, dst := range targets {
				v := EvaluateEgress(policies, EgressSource{Namespace: ns, Labels: src}, dst, proto, port)
				switch {
				case !v.Allowed:
					it.Status = StatusFail
					msg := fmt.Sprintf("%s %d blocked", proto, port)
					if len(v.Why) > 0 {
						msg += ": " + strings.Join(v.Why, " | ")
					}
					if !slices.Contains(why, msg) {
						why = append(why, msg)
					}
				case v.AllowedBy != "":
					if !slices.Contains(allowedBy[proto], v.AllowedBy) {
						allowedBy[proto] = append(allowedBy[proto], v.AllowedBy)
					}
				default:
					if !slices.Contains(allowedBy[proto], "(no egress policy)") {
						allowedBy[proto] = append(allowedBy[proto], "(no egress policy)")
					}
				}
			}
		}
	}
	if it.Status == StatusFail {
		it.Reason = "EgressDenied"
		it.Summary = strings.Join(why, "; ")
		it.Message = it.Summary
		return it
	}
	udp, tcp := strings.Join(allowedBy[corev1.ProtocolUDP], ","), strings.Join(allowedBy[corev1.ProtocolTCP], ",")
	if udp == tcp {
		it.Summary = fmt.Sprintf("UDP+TCP %d allowed by %s", port, udp)
	} else {
		it.Summary = fmt.Sprintf("UDP %d allowed by %s, TCP %d by %s", port, udp, port, tcp)
	}
	return it
}
