package probes

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// TLSSpec configures a "tls" probe: a TLS handshake to host:port that
// observes the server's certificate — days until the leaf expires, its
// issuer, whether its SANs cover the name, whether the chain verifies
// against the system roots (or only the CAs in CACert).
//
// Verification is done by the probe itself, inside the handshake, so a bad
// certificate is observed and explained ("expired 3 days ago", "signed by an
// unknown authority") rather than reported as a failed dial. A chain that
// does not verify or a leaf that does not cover the name always fails —
// outcome rules judge the rest; the handshake is aborted before any data
// could flow over such a connection.
//
//	probe: {kind: tls, host: gravl.app, warnDays: 21, failDays: 7}
type TLSSpec struct {
	Host string `json:"host" yaml:"host"`
	Port int    `json:"port,omitempty" yaml:"port,omitempty"` // default 443
	// ServerName is sent as SNI and is the name the leaf must cover; default
	// Host.
	ServerName string `json:"serverName,omitempty" yaml:"serverName,omitempty"`
	// CACert is a PEM file of the only roots the chain may verify against;
	// default the system roots.
	CACert string `json:"caCert,omitempty" yaml:"caCert,omitempty"`
	// WarnDays and FailDays are the default outcome rules over days_left
	// (default 21 and 7); they exclude Outcomes.
	WarnDays *int          `json:"warnDays,omitempty" yaml:"warnDays,omitempty"`
	FailDays *int          `json:"failDays,omitempty" yaml:"failDays,omitempty"`
	Timeout  Duration      `json:"timeout,omitempty" yaml:"timeout,omitempty"` // default 10s
	Outcomes []OutcomeSpec `json:"outcomes,omitempty" yaml:"outcomes,omitempty"`
}

var _ Spec = (*TLSSpec)(nil)

// tlsValues are what a tls probe observes.
var tlsValues = []string{"days_left", "chain_ok", "san_ok", "handshake_ms"}

// Default thresholds of the days_left rules.
const (
	defaultTLSWarnDays = 21
	defaultTLSFailDays = 7
)

// tlsMandatoryOutcomes come before any rule: no rule can pass a chain that
// does not verify or a leaf that does not cover the name.
var tlsMandatoryOutcomes = []OutcomeSpec{
	{Fail: &RuleSpec{When: "chain_ok == 0", Message: "the certificate chain does not verify"}},
	{Fail: &RuleSpec{When: "san_ok == 0", Message: "the certificate does not cover the server name"}},
}

// Values implements Spec.
func (s *TLSSpec) Values() []string { return tlsValues }

// Validate implements Spec.
func (s *TLSSpec) Validate() error {
	errs := validateHostPort(s.Host, s.Port, false)
	if s.ServerName != "" && (strings.ContainsAny(s.ServerName, ":/ \t")) {
		errs = append(errs, fieldErr("serverName", "want a DNS name, got %q", s.ServerName))
	}
	for _, d := range []struct {
		field string
		v     *int
	}{{"warnDays", s.WarnDays}, {"failDays", s.FailDays}} {
		if d.v != nil && *d.v < 0 {
			errs = append(errs, fieldErr(d.field, "must not be negative"))
		}
		if d.v != nil && len(s.Outcomes) > 0 {
			errs = append(errs, fieldErr(d.field, "%s and outcomes exclude each other: write the days_left rule in outcomes", d.field))
		}
	}
	if s.WarnDays != nil && s.FailDays != nil && *s.FailDays > *s.WarnDays {
		errs = append(errs, fieldErr("failDays", "%d is more than warnDays (%d)", *s.FailDays, *s.WarnDays))
	}
	if s.Timeout < 0 {
		errs = append(errs, fieldErr("timeout", "must not be negative"))
	}
	if _, err := CompileOutcomes(s.Outcomes, tlsValues); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// thresholds returns the warn and fail days in force.
func (s *TLSSpec) thresholds() (warn, fail int) {
	warn, fail = defaultTLSWarnDays, defaultTLSFailDays
	if s.WarnDays != nil {
		warn = *s.WarnDays
	}
	if s.FailDays != nil {
		fail = *s.FailDays
	}
	if fail > warn { // only one of them given, beyond the other's default
		if s.WarnDays == nil {
			warn = fail
		} else {
			fail = warn
		}
	}
	return warn, fail
}

// outcomeSpecs returns the mandatory rules followed by the spec's own, or
// the days_left rules from the thresholds.
func (s *TLSSpec) outcomeSpecs() []OutcomeSpec {
	specs := append([]OutcomeSpec(nil), tlsMandatoryOutcomes...)
	if len(s.Outcomes) > 0 {
		return append(specs, s.Outcomes...)
	}
	warn, fail := s.thresholds()
	return append(specs,
		OutcomeSpec{Fail: &RuleSpec{When: fmt.Sprintf("days_left < %d", fail), Message: "certificate expires in {{days_left}} days (fail below " + strconv.Itoa(fail) + ")"}},
		OutcomeSpec{Warn: &RuleSpec{When: fmt.Sprintf("days_left < %d", warn), Message: "certificate expires in {{days_left}} days (warn below " + strconv.Itoa(warn) + ")"}},
		OutcomeSpec{Pass: &RuleSpec{Message: "certificate valid for {{days_left}} more days"}},
	)
}

// Build implements Spec.
func (s *TLSSpec) Build(env Env) (Probe, Outcomes, error) {
	rules, err := CompileOutcomes(s.outcomeSpecs(), tlsValues)
	if err != nil {
		return nil, nil, err
	}
	p := &tlsProbe{
		addr:       net.JoinHostPort(s.Host, strconv.Itoa(portOr(s.Port, 443))),
		serverName: s.ServerName,
		timeout:    s.Timeout.Or(10 * time.Second),
		env:        env,
		rootsName:  "system roots",
	}
	if p.serverName == "" {
		p.serverName = s.Host
	}
	p.warnDays, p.failDays = s.thresholds()
	if s.CACert != "" {
		pem, err := os.ReadFile(s.CACert)
		if err != nil {
			return nil, nil, fmt.Errorf("caCert: %w", err)
		}
		p.roots = x509.NewCertPool()
		if !p.roots.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("caCert: no PEM certificate in %s", s.CACert)
		}
		p.rootsName = s.CACert
	}
	return p, rules, nil
}

func portOr(port, def int) int {
	if port == 0 {
		return def
	}
	return port
}

type tlsProbe struct {
	addr       string
	serverName string
	roots      *x509.CertPool // nil: the system roots
	rootsName  string         // for messages
	warnDays   int            // for the expiry item's own status
	failDays   int
	timeout    time.Duration
	env        Env
}

var _ Probe = (*tlsProbe)(nil)

// tlsVerdict is what the probe's own verification found during a handshake.
type tlsVerdict struct {
	certs    []*x509.Certificate
	chainErr error // nil: the chain verifies
	sanErr   error // nil: the leaf covers the server name
}

// errTLSRejected aborts a handshake whose certificate the probe rejected.
var errTLSRejected = errors.New("certificate rejected by the probe")

func (p *tlsProbe) Observe(ctx context.Context) Observation {
	var verdict *tlsVerdict
	now := p.env.now()
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: p.serverName,
		// The standard verification is replaced, not skipped: VerifyConnection
		// runs the same x509 verification and aborts the handshake on any
		// failure, after recording why.
		InsecureSkipVerify: true, //nolint:gosec // verified in VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			verdict = p.verify(cs.PeerCertificates, now)
			if verdict.chainErr != nil || verdict.sanErr != nil {
				return errTLSRejected
			}
			return nil
		},
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	start := p.env.now()
	raw, err := dialTCP(ctx, p.addr, p.timeout)
	if err != nil {
		return Observation{Err: fmt.Errorf("connect %s: %w", p.addr, err)}
	}
	defer raw.Close()
	conn := tls.Client(raw, cfg)
	err = conn.HandshakeContext(ctx)
	elapsed := p.env.now().Sub(start)
	switch {
	case err != nil && errors.Is(err, errTLSRejected) && verdict != nil:
		// Observed and rejected: the verdict says why.
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return Observation{Err: fmt.Errorf("TLS handshake with %s: timeout after %s: %w", p.addr, p.timeout, err)}
	case err != nil:
		return Observation{Err: fmt.Errorf("TLS handshake with %s: %w", p.addr, err)}
	case verdict == nil:
		return Observation{Err: fmt.Errorf("TLS handshake with %s: no certificate was verified", p.addr)}
	}
	return p.observation(verdict, now, elapsed)
}

// verify checks the presented chain the way crypto/tls would, keeping the
// chain and the name apart so each failure is reported on its own.
func (p *tlsProbe) verify(certs []*x509.Certificate, now time.Time) *tlsVerdict {
	v := &tlsVerdict{certs: certs}
	if len(certs) == 0 {
		v.chainErr = errors.New("the server presented no certificate")
		v.sanErr = v.chainErr
		return v
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, v.chainErr = certs[0].Verify(x509.VerifyOptions{
		Roots:         p.roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	v.sanErr = certs[0].VerifyHostname(p.serverName)
	return v
}

// observation turns a verdict into items and values.
func (p *tlsProbe) observation(v *tlsVerdict, now time.Time, elapsed time.Duration) Observation {
	leaf := v.certs[0]
	daysLeft := math.Floor(leaf.NotAfter.Sub(now).Hours() / 24)
	values := map[string]float64{
		"days_left":    daysLeft,
		"chain_ok":     boolValue(v.chainErr == nil),
		"san_ok":       boolValue(v.sanErr == nil),
		"handshake_ms": float64(elapsed) / float64(time.Millisecond),
	}
	items := []Item{
		{
			Name:    "leaf",
			Status:  StatusPass,
			Summary: fmt.Sprintf("%s issued by %s", certName(leaf.Subject.String(), leaf), certName(leaf.Issuer.String(), nil)),
			Message: fmt.Sprintf("serial %s, valid %s to %s", leaf.SerialNumber.Text(16), leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339)),
			Since:   leaf.NotBefore,
		},
		p.expiryItem(leaf, daysLeft, now),
		p.chainItem(v),
		p.sanItem(leaf, v.sanErr),
	}
	summary := fmt.Sprintf("%s: expires in %s days, issued by %s", p.serverName, formatValue(daysLeft), certName(leaf.Issuer.String(), nil))
	switch {
	case v.chainErr != nil:
		summary = fmt.Sprintf("%s: chain does not verify (%s)", p.serverName, chainReason(v.chainErr))
	case v.sanErr != nil:
		summary = fmt.Sprintf("%s: certificate does not cover %s", p.serverName, p.serverName)
	}
	return Observation{Summary: summary, Items: items, Values: values}
}

func (p *tlsProbe) expiryItem(leaf *x509.Certificate, daysLeft float64, now time.Time) Item {
	it := Item{Name: "expiry", Status: StatusPass, Since: leaf.NotBefore}
	switch {
	case now.After(leaf.NotAfter):
		it.Status, it.Reason = StatusFail, "Expired"
		it.Summary = fmt.Sprintf("expired %s ago (%s)", humanAge(now.Sub(leaf.NotAfter)), leaf.NotAfter.UTC().Format(time.RFC3339))
		return it
	case now.Before(leaf.NotBefore):
		it.Status, it.Reason = StatusFail, "NotYetValid"
		it.Summary = fmt.Sprintf("not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))
		return it
	case daysLeft < float64(p.failDays):
		it.Status = StatusFail
	case daysLeft < float64(p.warnDays):
		it.Status = StatusWarn
	}
	it.Summary = fmt.Sprintf("expires %s (%s days left)", leaf.NotAfter.UTC().Format(time.RFC3339), formatValue(daysLeft))
	return it
}

func (p *tlsProbe) chainItem(v *tlsVerdict) Item {
	if v.chainErr == nil {
		return Item{Name: "chain", Status: StatusPass, Summary: "verifies against " + p.rootsName}
	}
	return Item{Name: "chain", Status: StatusFail, Reason: chainReason(v.chainErr),
		Summary: "does not verify against " + p.rootsName, Message: v.chainErr.Error()}
}

func (p *tlsProbe) sanItem(leaf *x509.Certificate, sanErr error) Item {
	sans := leafSANs(leaf)
	if sanErr == nil {
		return Item{Name: "san", Status: StatusPass, Summary: fmt.Sprintf("%s covered by %s", p.serverName, sans)}
	}
	return Item{Name: "san", Status: StatusFail, Reason: "NameMismatch",
		Summary: fmt.Sprintf("%s not covered by %s", p.serverName, sans), Message: sanErr.Error()}
}

// chainReason names why x509 verification failed, in one word.
func chainReason(err error) string {
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	var hn x509.HostnameError
	switch {
	case errors.As(err, &ua):
		return "UnknownAuthority"
	case errors.As(err, &ci):
		switch ci.Reason {
		case x509.Expired:
			return "Expired"
		case x509.IncompatibleUsage:
			return "IncompatibleUsage"
		case x509.NotAuthorizedToSign:
			return "NotAuthorizedToSign"
		}
		return "Invalid"
	case errors.As(err, &hn):
		return "NameMismatch"
	}
	return "Invalid"
}

// leafSANs lists the DNS and IP SANs of a certificate.
func leafSANs(c *x509.Certificate) string {
	sans := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		sans = append(sans, ip.String())
	}
	if len(sans) == 0 {
		return "no SANs"
	}
	return "[" + strings.Join(sans, ", ") + "]"
}

// certName is a distinguished name for display, with the first DNS SAN when
// the subject is empty (as with many ACME certificates).
func certName(dn string, c *x509.Certificate) string {
	if dn == "" && c != nil && len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	if dn == "" {
		return "(empty subject)"
	}
	return dn
}

// humanAge prints a duration in days from two days on, else to the minute.
func humanAge(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	return d.Round(time.Minute).String()
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
