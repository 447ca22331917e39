package probes

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cockpit-dev/cockpit/internal/kinds"
)

// ErrUnknownKind is returned for a probe kind the registry does not hold.
var ErrUnknownKind = errors.New("unknown probe kind")

// Spec is a probe's configuration as decoded from a runbook (strictly: the
// runbook decoder rejects unknown fields). The runbook parser gets a zero
// Spec from the registry, decodes the step's probe mapping into it, then
// calls Validate and, when the run starts, Build.
type Spec interface {
	// Validate checks the spec's fields, outcome rules included. Its errors
	// are *FieldError values (joined), naming fields relative to the spec.
	Validate() error
	// Values names the values the probe observes: what outcome rules and
	// gates may read.
	Values() []string
	// Build makes the probe. The spec has been validated.
	Build(env Env) (Probe, Outcomes, error)
}

// Env is what probes get from the process that runs them.
type Env struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Kube returns the Kubernetes cluster of a kubeconfig context name
	// ("" is the default context); Kubernetes probes share its informers.
	// (*KubeClusters).Cluster is the usual value. Nil means no Kubernetes
	// access: Kubernetes probes then fail to build.
	Kube func(context string) (*Cluster, error)
}

// now returns the env's clock.
func (e Env) now() time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}

// Definition describes one probe kind.
type Definition struct {
	Kind string
	// Summary is one line for `cockpit check` and the README.
	Summary string
	// NewSpec returns a zero spec to decode a runbook's mapping into.
	NewSpec func() Spec
}

// registry is the table of kinds (kubectl's StatusViewerFor shape): one
// entry per probe file.
var registry = []Definition{
	{Kind: "http", Summary: "an HTTP request: status, body, latency", NewSpec: func() Spec { return &HTTPSpec{} }},
	{Kind: "dns", Summary: "DNS records of a name: the values expected, from a given resolver", NewSpec: func() Spec { return &DNSSpec{} }},
	{Kind: "tls", Summary: "a TLS endpoint: chain verification, expiry, issuer, SANs, protocol", NewSpec: func() Spec { return &TLSSpec{} }},
	{Kind: "tcp", Summary: "a TCP port accepts connections, with connect latency", NewSpec: func() Spec { return &TCPSpec{} }},
	{Kind: "metrics", Summary: "a /metrics exposition scraped: a selector's value or rate against an expectation", NewSpec: func() Spec { return &MetricsSpec{} }},
	{Kind: "k8s.workload", Summary: "Deployments, StatefulSets, DaemonSets rolled out (kubectl rollout status)", NewSpec: func() Spec { return &WorkloadSpec{} }},
	{Kind: "k8s.condition", Summary: "a status condition of any resource (ClusterIssuer Ready, SealedSecret Synced)", NewSpec: func() Spec { return &ConditionSpec{} }},
	{Kind: "k8s.exists", Summary: "Kubernetes objects present, missing ones named", NewSpec: func() Spec { return &ExistsSpec{} }},
	{Kind: "k8s.certificate", Summary: "cert-manager Certificates and their TLS Secrets: expiry, issuer, renewal", NewSpec: func() Spec { return &CertificateSpec{} }},
	{Kind: "k8s.sealed-secrets", Summary: "sealed-secrets controller, endpoints and active sealing key", NewSpec: func() Spec { return &SealedSecretsSpec{} }},
	{Kind: "k8s.dns-egress", Summary: "NetworkPolicies let workloads reach cluster DNS on UDP and TCP 53", NewSpec: func() Spec { return &DNSEgressSpec{} }},
	{Kind: "k8s.pods", Summary: "pod health: not ready, restarts, CrashLoopBackOff", NewSpec: func() Spec { return &PodsSpec{} }},
	{Kind: "prometheus", Summary: "an instant PromQL query, each series judged against a threshold", NewSpec: func() Spec { return &PrometheusSpec{} }},
	{Kind: "alertmanager", Summary: "Alertmanager alerts firing for label matchers, silences listed", NewSpec: func() Spec { return &AlertmanagerSpec{} }},
}

// KindName implements kinds.Named.
func (d Definition) KindName() string { return d.Kind }

// Lookup returns the definition of kind.
func Lookup(kind string) (Definition, error) {
	if d, ok := kinds.Lookup(registry, kind); ok {
		return d, nil
	}
	return Definition{}, fmt.Errorf("probe %q: %w (known: %s)", kind, ErrUnknownKind, strings.Join(Kinds(), ", "))
}

// Kinds lists the registered kinds, sorted.
func Kinds() []string { return kinds.Names(registry) }

// Duration is a time.Duration written as "5s", "1m30s" in runbooks.
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration like 5s or 1m30s: %w", err)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Or returns d, or def when d is zero.
func (d Duration) Or(def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}

// Describer is implemented by specs that can say in one line what they
// look at ("GET https://gravl.app/health"), for `cockpit check` and the
// report. The line never carries secrets.
type Describer interface {
	Describe() string
}
