package probes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DNSSpec configures a "dns" probe: one query (A, AAAA, CNAME, TXT or CAA)
// to a chosen resolver or the system's, checked for the rcode and the
// records in the answer.
//
// Expect compares as a set. With match "exact" (the default) the answer's
// records of the queried type must be exactly the expected ones: every
// expected value present (else "missing") and nothing else (else
// "unexpected") — what "verify all production DNS records" means. With
// match "contains" the expected values must be present and others may be
// (a TXT set shared with other verifications). Values are compared
// normalised: IP addresses canonically, names case-insensitively with or
// without the final dot, TXT as its strings joined, CAA as
// "FLAG TAG VALUE" (the flag may be left out: "issue letsencrypt.org").
//
//	probe: {kind: dns, name: gravl.app, type: A, expect: [203.0.113.10],
//	        server: "127.0.0.1:5353"}
type DNSSpec struct {
	Name string `json:"name" yaml:"name"`
	Type string `json:"type,omitempty" yaml:"type,omitempty"` // default A
	// Server is the resolver, "host" or "host:port" (port 53 by default);
	// empty: the nameservers of /etc/resolv.conf, in order.
	Server string `json:"server,omitempty" yaml:"server,omitempty"`
	// Net is "udp" (the default; a truncated answer is retried over TCP) or
	// "tcp".
	Net    string   `json:"net,omitempty" yaml:"net,omitempty"`
	Expect []string `json:"expect,omitempty" yaml:"expect,omitempty"`
	// Match is "exact" (the default) or "contains".
	Match string `json:"match,omitempty" yaml:"match,omitempty"`
	// Rcode is the expected response code by name (NOERROR, NXDOMAIN,
	// SERVFAIL, REFUSED…); default NOERROR.
	Rcode    string        `json:"rcode,omitempty" yaml:"rcode,omitempty"`
	Timeout  Duration      `json:"timeout,omitempty" yaml:"timeout,omitempty"` // default 5s
	Outcomes []OutcomeSpec `json:"outcomes,omitempty" yaml:"outcomes,omitempty"`
}

var _ Spec = (*DNSSpec)(nil)

// dnsValues are what a dns probe observes. rcode is the numeric response
// code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED).
var dnsValues = []string{"rcode", "answers", "missing", "unexpected", "latency_ms"}

// dnsTypes are the record types a dns probe queries.
var dnsTypes = map[string]uint16{
	"A":     dns.TypeA,
	"AAAA":  dns.TypeAAAA,
	"CNAME": dns.TypeCNAME,
	"TXT":   dns.TypeTXT,
	"CAA":   dns.TypeCAA,
}

// Match modes of a dns probe.
const (
	dnsMatchExact    = "exact"
	dnsMatchContains = "contains"
)

// resolvConf is where the system's resolvers are read from.
const resolvConf = "/etc/resolv.conf"

// Values implements Spec.
func (s *DNSSpec) Values() []string { return dnsValues }

// Validate implements Spec.
func (s *DNSSpec) Validate() error {
	var errs []error
	if s.Name == "" {
		errs = append(errs, fieldErr("name", "required"))
	} else if _, ok := dns.IsDomainName(s.Name); !ok {
		errs = append(errs, fieldErr("name", "%q is not a domain name", s.Name))
	}
	qtype, typeOK := dnsTypes[s.typ()]
	if !typeOK {
		errs = append(errs, fieldErr("type", "want one of A, AAAA, CNAME, TXT, CAA, got %q", s.Type))
	}
	if s.Server != "" {
		if _, err := dnsServerAddr(s.Server); err != nil {
			errs = append(errs, fieldErr("server", "%v", err))
		}
	}
	if s.Net != "" && s.Net != "udp" && s.Net != "tcp" {
		errs = append(errs, fieldErr("net", "want udp or tcp, got %q", s.Net))
	}
	if s.Match != "" && s.Match != dnsMatchExact && s.Match != dnsMatchContains {
		errs = append(errs, fieldErr("match", "want exact or contains, got %q", s.Match))
	}
	if s.Match != "" && len(s.Expect) == 0 {
		errs = append(errs, fieldErr("match", "match without expect compares nothing"))
	}
	if s.Rcode != "" {
		if _, ok := dns.StringToRcode[strings.ToUpper(s.Rcode)]; !ok {
			errs = append(errs, fieldErr("rcode", "unknown response code %q (NOERROR, NXDOMAIN, SERVFAIL, REFUSED…)", s.Rcode))
		}
	}
	if typeOK {
		seen := map[string]int{}
		for i, e := range s.Expect {
			field := fmt.Sprintf("expect[%d]", i)
			n, err := normalizeExpected(qtype, e)
			if err != nil {
				errs = append(errs, fieldErr(field, "%v", err))
				continue
			}
			if j, dup := seen[n]; dup {
				errs = append(errs, fieldErr(field, "same record as expect[%d]", j))
			}
			seen[n] = i
		}
	}
	if s.Timeout < 0 {
		errs = append(errs, fieldErr("timeout", "must not be negative"))
	}
	if _, err := CompileOutcomes(s.Outcomes, dnsValues); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (s *DNSSpec) typ() string {
	if s.Type == "" {
		return "A"
	}
	return strings.ToUpper(s.Type)
}

func (s *DNSSpec) rcode() int {
	if s.Rcode == "" {
		return dns.RcodeSuccess
	}
	return dns.StringToRcode[strings.ToUpper(s.Rcode)]
}

func (s *DNSSpec) match() string {
	if s.Match == "" {
		return dnsMatchExact
	}
	return s.Match
}

// defaultOutcomes fail on an unexpected rcode, a missing or (exact) an
// unexpected record, or — with no expectation and NOERROR wanted — an empty
// answer.
func (s *DNSSpec) defaultOutcomes() []OutcomeSpec {
	want := s.rcode()
	specs := []OutcomeSpec{{Fail: &RuleSpec{
		When:    fmt.Sprintf("rcode != %d", want),
		Message: fmt.Sprintf("response code is not %s", dns.RcodeToString[want]),
	}}}
	if len(s.Expect) > 0 {
		specs = append(specs, OutcomeSpec{Fail: &RuleSpec{When: "missing > 0", Message: "{{missing}} expected record(s) missing"}})
		if s.match() == dnsMatchExact {
			specs = append(specs, OutcomeSpec{Fail: &RuleSpec{When: "unexpected > 0", Message: "{{unexpected}} unexpected record(s)"}})
		}
	} else if want == dns.RcodeSuccess {
		specs = append(specs, OutcomeSpec{Fail: &RuleSpec{When: "answers == 0", Message: "no " + s.typ() + " record"}})
	}
	return append(specs, OutcomeSpec{Pass: &RuleSpec{}})
}

// Build implements Spec.
func (s *DNSSpec) Build(env Env) (Probe, Outcomes, error) {
	specs := s.Outcomes
	if len(specs) == 0 {
		specs = s.defaultOutcomes()
	}
	rules, err := CompileOutcomes(specs, dnsValues)
	if err != nil {
		return nil, nil, err
	}
	qtype := dnsTypes[s.typ()]
	p := &dnsProbe{
		name:      dns.Fqdn(s.Name),
		qtype:     qtype,
		net:       s.Net,
		match:     s.match(),
		timeout:   s.Timeout.Or(5 * time.Second),
		env:       env,
		resolvers: func() ([]string, error) { return systemResolvers(resolvConf) },
	}
	if p.net == "" {
		p.net = "udp"
	}
	if s.Server != "" {
		addr, err := dnsServerAddr(s.Server)
		if err != nil {
			return nil, nil, fmt.Errorf("server: %w", err)
		}
		p.resolvers = func() ([]string, error) { return []string{addr}, nil }
	}
	for _, e := range s.Expect {
		n, err := normalizeExpected(qtype, e)
		if err != nil {
			return nil, nil, fmt.Errorf("expect: %w", err)
		}
		p.expect = append(p.expect, n)
	}
	return p, rules, nil
}

// dnsServerAddr returns host:port for "host" or "host:port" ("[::1]:53").
func dnsServerAddr(server string) (string, error) {
	host, port, err := net.SplitHostPort(server)
	if err != nil {
		// No port: a bare host or IPv6 address.
		host, port = strings.Trim(server, "[]"), "53"
	}
	if host == "" || strings.ContainsAny(host, "/ \t") {
		return "", fmt.Errorf("want host or host:port, got %q", server)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%q: bad port %q", server, port)
	}
	return net.JoinHostPort(host, port), nil
}

// systemResolvers reads the nameservers of a resolv.conf file.
func systemResolvers(path string) ([]string, error) {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("system resolvers: %w", err)
	}
	if len(cfg.Servers) == 0 {
		return nil, fmt.Errorf("system resolvers: no nameserver in %s", path)
	}
	addrs := make([]string, len(cfg.Servers))
	for i, s := range cfg.Servers {
		addrs[i] = net.JoinHostPort(s, cfg.Port)
	}
	return addrs, nil
}

type dnsProbe struct {
	name    string // fully qualified
	qtype   uint16
	net     string // udp or tcp
	match   string
	expect  []string // normalised
	timeout time.Duration
	env     Env
	// resolvers lists the servers to ask, in order (injected in tests).
	resolvers func() ([]string, error)
}

var _ Probe = (*dnsProbe)(nil)

func (p *dnsProbe) Observe(ctx context.Context) Observation {
	servers, err := p.resolvers()
	if err != nil {
		return Observation{Err: err}
	}
	m := new(dns.Msg)
	m.SetQuestion(p.name, p.qtype)
	m.RecursionDesired = true
	m.SetEdns0(1232, false)
	qname := strings.TrimSuffix(p.name, ".") + " " + dns.TypeToString[p.qtype]

	var errs []error
	for _, server := range servers {
		start := p.env.now()
		resp, err := p.exchange(ctx, m, server)
		latency := p.env.now().Sub(start)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", server, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		obs := p.judgeAnswer(resp, latency)
		obs.Summary = fmt.Sprintf("%s: %s from %s", qname, obs.Summary, server)
		return obs
	}
	return Observation{Err: fmt.Errorf("query %s: %w", qname, errors.Join(errs...))}
}

// exchange asks one server, over TCP again when a UDP answer is truncated.
func (p *dnsProbe) exchange(ctx context.Context, m *dns.Msg, server string) (*dns.Msg, error) {
	c := &dns.Client{Net: p.net, Timeout: p.timeout}
	resp, _, err := c.ExchangeContext(ctx, m, server)
	if err == nil && resp.Truncated && p.net == "udp" {
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(ctx, m, server)
	}
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("timeout after %s: %w", p.timeout, err)
		}
		return nil, err
	}
	if resp.Id != m.Id {
		return nil, fmt.Errorf("answer id %d does not match the query's %d", resp.Id, m.Id)
	}
	return resp, nil
}

// judgeAnswer compares an answer's records with the expected ones.
func (p *dnsProbe) judgeAnswer(resp *dns.Msg, latency time.Duration) Observation {
	var (
		items  []Item
		got    []string
		others int
	)
	for _, rr := range resp.Answer {
		v, ok := normalizeRR(p.qtype, rr)
		if !ok {
			// A CNAME on the way to the A/AAAA records, or a record of another type.
			items = append(items, Item{Name: dns.TypeToString[rr.Header().Rrtype], Status: StatusPass, Summary: strings.ReplaceAll(rr.String(), "\t", " ")})
			others++
			continue
		}
		if slices.Contains(got, v) {
			continue
		}
		got = append(got, v)
	}
	slices.Sort(got)
	unexpected := 0
	for _, v := range got {
		it := Item{Name: v, Status: StatusPass, Summary: "present"}
		if len(p.expect) > 0 {
			if slices.Contains(p.expect, v) {
				it.Summary = "present, expected"
			} else {
				unexpected++
				it.Summary = "present, not expected"
				if p.match == dnsMatchExact {
					it.Status = StatusFail
				}
			}
		}
		items = append(items, it)
	}
	missing := 0
	for _, e := range p.expect {
		if !slices.Contains(got, e) {
			missing++
			items = append(items, Item{Name: e, Status: StatusFail, Summary: "missing", Reason: "Missing"})
		}
	}
	rcode := dns.RcodeToString[resp.Rcode]
	if rcode == "" {
		rcode = "RCODE" + strconv.Itoa(resp.Rcode)
	}
	summary := fmt.Sprintf("%s, %d record(s) in %s", rcode, len(got), roundLatency(latency))
	if missing > 0 {
		summary += fmt.Sprintf(", %d missing", missing)
	}
	if unexpected > 0 && p.match == dnsMatchExact {
		summary += fmt.Sprintf(", %d unexpected", unexpected)
	}
	return Observation{
		Summary: summary,
		Items:   items,
		Values: map[string]float64{
			"rcode":      float64(resp.Rcode),
			"answers":    float64(len(got)),
			"missing":    float64(missing),
			"unexpected": float64(unexpected),
			"latency_ms": float64(latency) / float64(time.Millisecond),
		},
	}
}

// normalizeRR renders a record of the queried type in its comparable form;
// false for records of other types.
func normalizeRR(qtype uint16, rr dns.RR) (string, bool) {
	switch r := rr.(type) {
	case *dns.A:
		return r.A.String(), qtype == dns.TypeA
	case *dns.AAAA:
		return r.AAAA.String(), qtype == dns.TypeAAAA
	case *dns.CNAME:
		return strings.ToLower(dns.Fqdn(r.Target)), qtype == dns.TypeCNAME
	case *dns.TXT:
		return strings.Join(r.Txt, ""), qtype == dns.TypeTXT
	case *dns.CAA:
		return fmt.Sprintf("%d %s %s", r.Flag, strings.ToLower(r.Tag), r.Value), qtype == dns.TypeCAA
	}
	return "", false
}

// normalizeExpected parses an expected value of a record type into the form
// normalizeRR produces.
func normalizeExpected(qtype uint16, v string) (string, error) {
	switch qtype {
	case dns.TypeA, dns.TypeAAAA:
		ip := net.ParseIP(strings.TrimSpace(v))
		switch {
		case ip == nil:
			return "", fmt.Errorf("%q is not an IP address", v)
		case qtype == dns.TypeA && ip.To4() == nil:
			return "", fmt.Errorf("%q is not an IPv4 address (type A)", v)
		case qtype == dns.TypeAAAA && ip.To4() != nil:
			return "", fmt.Errorf("%q is not an IPv6 address (type AAAA)", v)
		}
		return ip.String(), nil
	case dns.TypeCNAME:
		name := strings.ToLower(strings.TrimSpace(v))
		if _, ok := dns.IsDomainName(name); !ok || name == "" {
			return "", fmt.Errorf("%q is not a domain name", v)
		}
		return dns.Fqdn(name), nil
	case dns.TypeTXT:
		return v, nil
	case dns.TypeCAA:
		return parseCAA(v)
	}
	return "", fmt.Errorf("unsupported record type %d", qtype)
}

// parseCAA reads `[FLAG] TAG VALUE` with an optionally quoted value.
func parseCAA(v string) (string, error) {
	fields := strings.Fields(v)
	flag := 0
	if len(fields) > 0 {
		if n, err := strconv.Atoi(fields[0]); err == nil {
			if n < 0 || n > 255 {
				return "", fmt.Errorf("CAA %q: flag %d is not 0-255", v, n)
			}
			flag, fields = n, fields[1:]
		}
	}
	if len(fields) < 2 {
		return "", fmt.Errorf("CAA %q: want [FLAG] TAG VALUE, like `0 issue \"letsencrypt.org\"`", v)
	}
	tag := strings.ToLower(fields[0])
	value := strings.Join(fields[1:], " ")
	if uq, err := strconv.Unquote(value); err == nil {
		value = uq
	}
	return fmt.Sprintf("%d %s %s", flag, tag, value), nil
}
