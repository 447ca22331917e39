package probes

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ParseLeafPEM returns the first certificate of a PEM bundle (the leaf of a
// tls.crt). Only CERTIFICATE blocks are looked at: a private key is never
// decoded.
func ParseLeafPEM(data []byte) (*x509.Certificate, error) {
	for len(data) > 0 {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
	return nil, errors.New("no PEM certificate")
}

// secretCert reads and parses the tls.crt of a Secret from the informer
// cache (the only value the cache keeps).
func secretCert(secret *unstructured.Unstructured) (*x509.Certificate, error) {
	b64, ok, _ := unstructured.NestedString(secret.Object, "data", tlsCertKey)
	if !ok || b64 == "" {
		return nil, fmt.Errorf("secret %s has no %s", secret.GetName(), tlsCertKey)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("secret %s: %s: %w", secret.GetName(), tlsCertKey, err)
	}
	cert, err := ParseLeafPEM(raw)
	if err != nil {
		return nil, fmt.Errorf("secret %s: %s: %w", secret.GetName(), tlsCertKey, err)
	}
	return cert, nil
}

// RenewalTime is when cert-manager renews a certificate: status.renewalTime
// when it reported one, else NotAfter minus spec.renewBefore, else at two
// thirds of the certificate's lifetime (cert-manager's default).
func RenewalTime(certificate *unstructured.Unstructured, leaf *x509.Certificate) time.Time {
	if s, ok, _ := unstructured.NestedString(certificate.Object, "status", "renewalTime"); ok {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t
		}
	}
	if s, ok, _ := unstructured.NestedString(certificate.Object, "spec", "renewBefore"); ok {
		if d, err := time.ParseDuration(s); err == nil {
			return leaf.NotAfter.Add(-d)
		}
	}
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	return leaf.NotAfter.Add(-life / 3)
}

// daysLeft is the whole days from now to t (negative once past).
func daysLeft(now, t time.Time) float64 {
	return math.Floor(t.Sub(now).Hours() / 24)
}

// CertificateSpec configures a "k8s.certificate" probe: cert-manager
// Certificates and the TLS Secret behind each — the leaf's NotAfter,
// issuer and DNS names, and whether renewal is due. Only tls.crt is read;
// the key never is.
//
//	probe: {kind: k8s.certificate, namespace: gravl-prod, names: [gravl-tls]}
type CertificateSpec struct {
	Context   string        `json:"context,omitempty" yaml:"context,omitempty"`
	Namespace string        `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	Names     []string      `json:"names,omitempty" yaml:"names,omitempty"`
	Selector  string        `json:"selector,omitempty" yaml:"selector,omitempty"`
	Outcomes  []OutcomeSpec `json:"outcomes,omitempty" yaml:"outcomes,omitempty"`
}

var (
	_ Spec            = (*CertificateSpec)(nil)
	_ PermissionsSpec = (*CertificateSpec)(nil)
)

// certificateValues are what a k8s.certificate probe observes. days_left is
// the fewest days any certificate has left (absent when none was read).
var certificateValues = []string{"total", "ready", "failing", "missing", "days_left", "renewal_overdue", "not_covering"}

var defaultCertificateOutcomes = []OutcomeSpec{
	{Fail: &RuleSpec{When: "missing > 0", Message: "{{missing}} certificate(s) missing"}},
	{Fail: &RuleSpec{When: "total == 0", Message: "no certificate matched"}},
	{Fail: &RuleSpec{When: "failing > 0", Message: "{{failing}} certificate(s) not ready or unreadable"}},
	{Fail: &RuleSpec{When: "days_left < 7", Message: "a certificate expires in {{days_left}} days"}},
	{Warn: &RuleSpec{When: "days_left < 21 || renewal_overdue > 0", Message: "renewal overdue: {{days_left}} days left"}},
	{Warn: &RuleSpec{When: "not_covering > 0", Message: "{{not_covering}} certificate(s) not covering all their dnsNames"}},
	{Pass: &RuleSpec{Message: "{{ready}}/{{total}} ready, {{days_left}} days left"}},
}

// Values implements Spec.
func (s *CertificateSpec) Values() []string { return certificateValues }

// Permissions implements PermissionsSpec: list and watch of Certificates
// and of the namespace's Secrets (the informer keeps only their tls.crt).
func (s *CertificateSpec) Permissions() []Permission {
	return []Permission{
		readsArg(s.Context, certificatesResource, s.Namespace),
		reads(s.Context, resSecrets, s.Namespace),
	}
}

// Validate implements Spec.
func (s *CertificateSpec) Validate() error {
	errs := validateSelect(s.Names, s.Selector)
	if _, err := CompileOutcomes(s.Outcomes, certificateValues); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Build implements Spec.
func (s *CertificateSpec) Build(env Env) (Probe, Outcomes, error) {
	rules, err := buildOutcomes(s.Outcomes, defaultCertificateOutcomes, certificateValues)
	if err != nil {
		return nil, nil, err
	}
	c, err := kubeCluster(env, s.Context)
	if err != nil {
		return nil, nil, err
	}
	p := &certificateProbe{kubeReader: newKubeReader(c), spec: *s, env: env}
	if p.spec.Namespace == "" {
		p.spec.Namespace = c.Namespace()
	}
	return p, rules, nil
}

// certificatesResource is cert-manager's Certificate type, resolved through
// discovery (its served version may change).
const certificatesResource = "certificates.cert-manager.io"

type certificateProbe struct {
	kubeReader
	spec CertificateSpec
	env  Env
}

var (
	_ Probe   = (*certificateProbe)(nil)
	_ Changer = (*certificateProbe)(nil)
)

func (p *certificateProbe) Observe(ctx context.Context) Observation {
	certs, sel, err := p.readSelected(ctx, certificatesResource, p.spec.Namespace, p.spec.Names, p.spec.Selector)
	if err != nil {
		return Observation{Err: err}
	}
	// The Secrets behind the Certificates (their names may change, so the
	// probe follows every Secret of the namespace).
	secrets, err := p.read(ctx, resSecrets, p.spec.Namespace, nil)
	if err != nil {
		return Observation{Err: err}
	}
	now := p.env.now()
	var items []Item
	var ready, failing, overdue, uncovered int
	minDays, soonest := math.Inf(1), ""
	for _, c := range certs {
		it := p.check(c, secrets, now)
		switch it.item.Status {
		case StatusPass, StatusWarn:
			ready++
		default:
			failing++
		}
		if it.overdue {
			overdue++
		}
		if it.uncovered {
			uncovered++
		}
		if it.leaf != nil {
			if d := daysLeft(now, it.leaf.NotAfter); d < minDays {
				minDays, soonest = d, c.GetName()
			}
		}
		items = append(items, it.item)
	}
	missing := sel.missing(certs)
	for _, n := range missing {
		items = append(items, Item{Name: n, Status: StatusFail, Summary: "certificate not found", Reason: "NotFound"})
	}
	values := map[string]float64{
		"total":           float64(len(certs) + len(missing)),
		"ready":           float64(ready),
		"failing":         float64(failing),
		"missing":         float64(len(missing)),
		"renewal_overdue": float64(overdue),
		"not_covering":    float64(uncovered),
	}
	summary := fmt.Sprintf("%d/%d ready", ready, len(certs)+len(missing))
	if !math.IsInf(minDays, 1) {
		values["days_left"] = minDays
		summary += fmt.Sprintf(", next expiry in %sd (%s)", formatValue(minDays), soonest)
	}
	if len(missing) > 0 {
		summary += ", missing: " + strings.Join(missing, ", ")
	}
	return Observation{Summary: summary, Items: items, Values: values}
}

// certCheck is the verdict on one Certificate.
type certCheck struct {
	item    Item
	leaf    *x509.Certificate // nil when the secret could not be read
	overdue bool
	// uncovered: the leaf does not cover every name of spec.dnsNames.
	uncovered bool
}

// check judges one Certificate against its Secret's tls.crt.
func (p *certificateProbe) check(c *unstructured.Unstructured, secrets []*unstructured.Unstructured, now time.Time) certCheck {
	cond := CheckCondition(c, "Ready", "True")
	it := Item{Name: c.GetName(), Status: cond.Status, Reason: cond.Reason, Message: cond.Message, Since: cond.Since}
	secretName, _, _ := unstructured.NestedString(c.Object, "spec", "secretName")
	idx := slices.IndexFunc(secrets, func(s *unstructured.Unstructured) bool { return s.GetName() == secretName })
	if idx < 0 {
		it.Status = StatusFail
		it.Summary = fmt.Sprintf("%s; secret %q not found", cond.Summary, secretName)
		return certCheck{item: it}
	}
	leaf, err := secretCert(secrets[idx])
	if err != nil {
		it.Status = StatusFail
		it.Summary = fmt.Sprintf("%s; %v", cond.Summary, err)
		return certCheck{item: it}
	}
	renew := RenewalTime(c, leaf)
	days := daysLeft(now, leaf.NotAfter)
	parts := []string{
		cond.Summary,
		fmt.Sprintf("expires %s (%sd)", leaf.NotAfter.UTC().Format(time.DateOnly), formatValue(days)),
		"issuer " + leaf.Issuer.String(),
		"DNS " + strings.Join(leaf.DNSNames, ","),
	}
	out := certCheck{leaf: leaf}
	switch {
	case now.After(leaf.NotAfter):
		it.Status = StatusFail
		parts = append(parts, "EXPIRED")
	case now.After(renew):
		out.overdue = true
		parts = append(parts, fmt.Sprintf("renewal overdue since %s", renew.UTC().Format(time.DateOnly)))
		if it.Status == StatusPass {
			it.Status = StatusWarn
		}
	default:
		parts = append(parts, fmt.Sprintf("renewal due %s", renew.UTC().Format(time.DateOnly)))
	}
	want, _, _ := unstructured.NestedStringSlice(c.Object, "spec", "dnsNames")
	var uncovered []string
	for _, n := range want {
		if leaf.VerifyHostname(n) != nil {
			uncovered = append(uncovered, n)
		}
	}
	if len(uncovered) > 0 {
		out.uncovered = true
		parts = append(parts, "not covering "+strings.Join(uncovered, ","))
		if it.Status == StatusPass {
			it.Status = StatusWarn
		}
	}
	it.Summary = strings.Join(parts, ", ")
	out.item = it
	return out
}
