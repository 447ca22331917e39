package probes

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// This file holds the Describe methods of the probe kinds that have no
// other natural home for one: the sign-off's Target column, `cockpit
// check` and the TUI's step pane read them. Each says, from the spec
// alone (no I/O), what the probe looks at and what it expects, as
//
//	SUBJECT [in NAMESPACE] [(context CONTEXT)]: EXPECTATION
//
// e.g. "deployments backend, frontend in gravl-staging: rolled out". A
// spec with its own outcome rules names what it observes and its rules
// instead of the default expectation. Names, expected values and the like
// are listed by nameList. Secrets never appear: no headers, tokens or
// passwords, and URLs through RedactURL.

// Compile-time checks: every kind of the registry implements Describer
// (a test checks the registry itself).
var (
	_ Describer = (*DNSSpec)(nil)
	_ Describer = (*TLSSpec)(nil)
	_ Describer = (*TCPSpec)(nil)
	_ Describer = (*MetricsSpec)(nil)
	_ Describer = (*WorkloadSpec)(nil)
	_ Describer = (*ConditionSpec)(nil)
	_ Describer = (*ExistsSpec)(nil)
	_ Describer = (*CertificateSpec)(nil)
	_ Describer = (*SealedSecretsSpec)(nil)
	_ Describer = (*DNSEgressSpec)(nil)
	_ Describer = (*PodsSpec)(nil)
)

// describeListMax is the longest list a target shows in full.
const describeListMax = 4

// nameList is the one rule for lists in targets: up to describeListMax
// items in full ("a, b, c, d"); a longer list shows its first two, an
// ellipsis, its last and the count ("a, b, …, g (7)").
func nameList(names []string) string {
	if len(names) <= describeListMax {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s, %s, …, %s (%d)", names[0], names[1], names[len(names)-1], len(names))
}

// kubeSubject is what a Kubernetes probe selects: "deployment backend",
// "deployments backend, frontend", "pods selected by app=api", "all
// deployments". one and many are the resource's singular and plural.
func kubeSubject(one, many string, names []string, selector string) string {
	switch {
	case len(names) == 1:
		return one + " " + names[0]
	case len(names) > 1:
		return many + " " + nameList(names)
	case selector != "":
		return many + " selected by " + selector
	}
	return "all " + many
}

// kubeWhere is where a Kubernetes probe looks: " in gravl-prod", " in the
// context's namespace" (a spec without a namespace reads the kubeconfig
// context's, or the step cluster's), nothing for a cluster-scoped
// resource; then " (context NAME)" when the spec names one. assumed marks
// a resource whose scope is not known offline.
func kubeWhere(namespace, context string, clusterScoped, assumed bool) string {
	var s string
	switch {
	case clusterScoped:
	case namespace != "":
		s = " in " + namespace
	case assumed:
		s = " in the context's namespace (if namespaced)"
	default:
		s = " in the context's namespace"
	}
	if context != "" {
		s += " (context " + context + ")"
	}
	return s
}

// resourceNouns names a resource argument ("clusterissuers.cert-manager.io",
// "netpol") for a target: the plural and singular of a well-known type
// ("clusterissuers", "clusterissuer"), else the argument as written (both
// forms), with its scope as ParseResource knows it offline.
func resourceNouns(arg string) (one, many string, clusterScoped, known bool) {
	gr, cluster, known := ParseResource(arg)
	if !known {
		s := strings.ToLower(strings.TrimSpace(arg))
		return s, s, false, false
	}
	return singular(gr.Resource), gr.Resource, cluster, true
}

// singular is the singular of a well-known plural resource name, from the
// table's aliases ("networkpolicies" → "networkpolicy"); the plural itself
// when no alias is its singular ("endpoints").
func singular(plural string) string {
	for _, w := range wellKnownResources {
		if w.resource != plural {
			continue
		}
		for _, a := range w.aliases {
			if plural == a+"s" || plural == a+"es" || (strings.HasSuffix(a, "y") && plural == strings.TrimSuffix(a, "y")+"ies") {
				return a
			}
		}
	}
	return plural
}

// rulesText renders outcome rules in their order (the first match
// decides): "fail if ready < 2; warn if restarts > 0; else pass".
func rulesText(specs []OutcomeSpec) string {
	parts := make([]string, 0, len(specs))
	for i, o := range specs {
		var st string
		var r *RuleSpec
		switch {
		case o.Fail != nil:
			st, r = "fail", o.Fail
		case o.Warn != nil:
			st, r = "warn", o.Warn
		case o.Pass != nil:
			st, r = "pass", o.Pass
		default:
			continue
		}
		switch {
		case strings.TrimSpace(r.When) != "":
			parts = append(parts, st+" if "+strings.TrimSpace(r.When))
		case i == 0:
			parts = append(parts, "always "+st)
		default:
			parts = append(parts, "else "+st)
		}
	}
	return strings.Join(parts, "; ")
}

// wantText is the default expectation def, or, with outcome rules, what
// the probe observes and the rules: "rollout status (rules: fail if ready
// < 2; else pass)".
func wantText(def, observes string, outcomes []OutcomeSpec) string {
	if len(outcomes) == 0 {
		return def
	}
	return observes + " (rules: " + rulesText(outcomes) + ")"
}

// validFor says an expiry threshold: "valid ≥ 21 days (warn below, fail
// below 7)". fail < 0 means no fail threshold.
func validFor(warn, fail int) string {
	switch {
	case fail < 0:
		return fmt.Sprintf("valid ≥ %d days (warn below)", warn)
	case warn <= fail:
		return fmt.Sprintf("valid ≥ %d days (fail below)", fail)
	}
	return fmt.Sprintf("valid ≥ %d days (warn below, fail below %d)", warn, fail)
}

// Describe implements Describer: "A records of gravl.app via
// 127.0.0.1:5353: exactly 203.0.113.10".
func (s *DNSSpec) Describe() string {
	via := "the system resolvers"
	if s.Server != "" {
		via = s.Server
	}
	d := fmt.Sprintf("%s records of %s via %s", s.typ(), s.Name, via)
	if strings.EqualFold(s.Net, "tcp") {
		d += " over TCP"
	}
	var want []string
	if s.Rcode != "" && !strings.EqualFold(s.Rcode, "NOERROR") {
		want = append(want, "answer "+strings.ToUpper(s.Rcode))
	}
	switch {
	case len(s.Expect) > 0 && s.match() == dnsMatchContains:
		want = append(want, "including "+nameList(s.Expect))
	case len(s.Expect) > 0:
		want = append(want, "exactly "+nameList(s.Expect))
	case len(want) == 0:
		want = append(want, "at least one record")
	}
	if len(s.Outcomes) > 0 {
		obs := "the answer"
		if len(s.Expect) > 0 {
			obs = "the answer compared with " + nameList(s.Expect)
		}
		return d + ": " + wantText("", obs, s.Outcomes)
	}
	return d + ": " + strings.Join(want, ", ")
}

// Describe implements Describer: "gravl.app:443: chain verified against
// the system roots, covers gravl.app, valid ≥ 21 days (warn below, fail
// below 7)".
func (s *TLSSpec) Describe() string {
	d := net.JoinHostPort(s.Host, strconv.Itoa(portOr(s.Port, 443)))
	name := s.Host
	if s.ServerName != "" && s.ServerName != s.Host {
		name = s.ServerName
		d += " (SNI " + s.ServerName + ")"
	}
	roots := "the system roots"
	if s.CACert != "" {
		roots = "the CAs in " + s.CACert
	}
	checks := "chain verified against " + roots + ", covers " + name
	if len(s.Outcomes) > 0 {
		return d + ": " + checks + ", " + wantText("", "expiry", s.Outcomes)
	}
	warn, fail := s.thresholds()
	return d + ": " + checks + ", " + validFor(warn, fail)
}

// Describe implements Describer: "db.gravl.internal:5432: accepts
// connections".
func (s *TCPSpec) Describe() string {
	return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) + ": " +
		wantText("accepts connections", "accepts connections", s.Outcomes)
}

// Describe implements Describer: `rate of http_requests_total{code=~"5.."}
// at http://127.0.0.1:9090/metrics: < 0.5`. Headers are never shown.
func (s *MetricsSpec) Describe() string {
	what := s.Metric
	switch {
	case s.Quantile != nil:
		// p95, p99.9: six significant digits hide 0.29*100's rounding.
		what = "p" + strconv.FormatFloat(*s.Quantile*100, 'g', 6, 64) + " of " + s.Metric
		if s.Rate {
			what += " between scrapes"
		} else {
			what += " since start"
		}
	case s.Rate:
		what = "rate of " + s.Metric
	}
	d := what + " at " + RedactURL(s.URL)
	if len(s.Outcomes) > 0 {
		return d + ": " + wantText("", "the value", s.Outcomes)
	}
	return d + ": " + strings.TrimSpace(s.Expect)
}

// Describe implements Describer: "deployments backend, frontend in
// gravl-staging: rolled out", "deployment/api, statefulset/db in
// gravl-prod: rolled out", "all deployments in the context's namespace:
// rolled out".
func (s *WorkloadSpec) Describe() string {
	return workloadSubject(s.Resource, s.Names, s.Selector) + kubeWhere(s.Namespace, s.Context, false, false) + ": " +
		wantText("rolled out", "rollout status", s.Outcomes)
}

// workloadSubject names workloads: by type and names when they share a
// type, else each as TYPE/NAME; by selector, or all of the type.
func workloadSubject(resource string, names []string, selector string) string {
	ws := WorkloadSpec{Resource: resource}
	kind := ws.defaultKind()
	same := true
	bare := make([]string, 0, len(names))
	typed := make([]string, 0, len(names))
	for i, n := range names {
		ref, err := ws.ref(n)
		if err != nil {
			same = false
			typed = append(typed, n)
			continue
		}
		if i == 0 {
			kind = ref.Kind
		}
		same = same && ref.Kind == kind
		bare = append(bare, ref.Name)
		typed = append(typed, ref.String())
	}
	if len(names) > 0 && !same {
		return nameList(typed)
	}
	return kubeSubject(kind.Singular(), kind.GVR().Resource, bare, selector)
}

// Describe implements Describer: "clusterissuers letsencrypt-prod,
// letsencrypt-staging: Ready=True".
func (s *ConditionSpec) Describe() string {
	one, many, cluster, known := resourceNouns(s.Resource)
	cond, status := s.Condition, s.Status
	if cond == "" {
		cond = "Ready"
	}
	if status == "" {
		status = "True"
	}
	want := cond + "=" + status
	return kubeSubject(one, many, s.Names, s.Selector) + kubeWhere(s.Namespace, s.Context, cluster, !known) + ": " +
		wantText(want, want, s.Outcomes)
}

// Describe implements Describer: "networkpolicies gravl-default-deny,
// allow-dns-egress in gravl-staging: present", "networkpolicies selected
// by app=gravl in gravl-staging: at least 2 present".
func (s *ExistsSpec) Describe() string {
	one, many, cluster, known := resourceNouns(s.Resource)
	want := "present"
	subject := kubeSubject(one, many, s.Names, s.Selector)
	if len(s.Names) == 0 {
		want = fmt.Sprintf("at least %d present", max(s.Min, 1))
		if s.Selector == "" {
			subject = many
		}
	}
	return subject + kubeWhere(s.Namespace, s.Context, cluster, !known) + ": " + wantText(want, "presence", s.Outcomes)
}

// Describe implements Describer: "certificate gravl-tls in gravl-prod:
// Ready, valid ≥ 21 days (warn below, fail below 7), renewal not overdue,
// covering its dnsNames".
func (s *CertificateSpec) Describe() string {
	whose := "their"
	if len(s.Names) == 1 {
		whose = "its"
	}
	want := "Ready, " + validFor(21, 7) + ", renewal not overdue, covering " + whose + " dnsNames"
	return kubeSubject("certificate", "certificates", s.Names, s.Selector) + kubeWhere(s.Namespace, s.Context, false, false) + ": " +
		wantText(want, "readiness, expiry and renewal", s.Outcomes)
}

// Describe implements Describer: "deployment sealed-secrets-controller in
// kube-system: rolled out, its service with ready endpoints, an active
// sealing key valid ≥ 30 days (warn below)".
func (s *SealedSecretsSpec) Describe() string {
	d := s.withDefaults()
	service := "its service"
	if d.Service != d.Controller {
		service = "service " + d.Service
	}
	key := "an active sealing key"
	if d.KeySelector != "" {
		key += " selected by " + d.KeySelector
	}
	checks := "rolled out, " + service + " with ready endpoints, " + key
	return "deployment " + d.Controller + kubeWhere(d.Namespace, d.Context, false, false) + ": " +
		wantText(checks+" "+validFor(30, -1), checks, d.Outcomes)
}

// Describe implements Describer: "all workloads in gravl-staging:
// NetworkPolicies allow UDP and TCP 53 to the DNS pods k8s-app=kube-dns in
// kube-system".
func (s *DNSEgressSpec) Describe() string {
	subject := "all workloads"
	if len(s.Workloads) > 0 {
		subject = workloadSubject("", s.Workloads, "")
	}
	ns, sel, port := s.DNSNamespace, s.DNSSelector, s.Port
	if ns == "" {
		ns = "kube-system"
	}
	if sel == "" {
		sel = "k8s-app=kube-dns"
	}
	if port == 0 {
		port = 53
	}
	traffic := fmt.Sprintf("UDP and TCP %d to the DNS pods %s in %s", port, sel, ns)
	return subject + kubeWhere(s.Namespace, s.Context, false, false) + ": " +
		wantText("NetworkPolicies allow "+traffic, "NetworkPolicies for "+traffic, s.Outcomes)
}

// Describe implements Describer: "pods selected by app=backend in
// gravl-prod: all ready (at least one), none crash-looping, no restarts".
func (s *PodsSpec) Describe() string {
	return kubeSubject("pod", "pods", nil, s.Selector) + kubeWhere(s.Namespace, s.Context, false, false) + ": " +
		wantText("all ready (at least one), none crash-looping, no restarts", "pod health", s.Outcomes)
}
