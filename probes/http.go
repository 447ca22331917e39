package probes

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// HTTPSpec configures an "http" probe: one request, checked for status,
// body and latency. TLS is verified unless Insecure.
//
//	probe: {kind: http, url: "https://gravl.app/health", status: [200],
//	        json: {status: ok}, maxLatency: 500ms}
type HTTPSpec struct {
	Method       string            `json:"method,omitempty" yaml:"method,omitempty"`
	URL          string            `json:"url" yaml:"url"`
	Headers      map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"`
	Body         string            `json:"body,omitempty" yaml:"body,omitempty"`
	Status       []int             `json:"status,omitempty" yaml:"status,omitempty"` // default: any 2xx
	BodyContains string            `json:"bodyContains,omitempty" yaml:"bodyContains,omitempty"`
	// JSON maps a dotted path into the JSON body ("items.0.name") to the
	// value expected there, compared as text.
	JSON       map[string]string `json:"json,omitempty" yaml:"json,omitempty"`
	MaxLatency Duration          `json:"maxLatency,omitempty" yaml:"maxLatency,omitempty"`
	Timeout    Duration          `json:"timeout,omitempty" yaml:"timeout,omitempty"` // default 10s
	Insecure   bool              `json:"insecure,omitempty" yaml:"insecure,omitempty"`
	CACert     string            `json:"caCert,omitempty" yaml:"caCert,omitempty"`         // PEM file of extra roots
	ServerName string            `json:"serverName,omitempty" yaml:"serverName,omitempty"` // SNI and verification name
	Outcomes   []OutcomeSpec     `json:"outcomes,omitempty" yaml:"outcomes,omitempty"`
}

var _ Spec = (*HTTPSpec)(nil)

// httpValues are what an http probe observes.
var httpValues = []string{"status_code", "latency_ms", "body_bytes", "checks_failed"}

// maxHTTPBody bounds how much of a response body a probe reads.
const maxHTTPBody = 1 << 20

// Values implements Spec.
func (s *HTTPSpec) Values() []string { return httpValues }

// Validate implements Spec.
func (s *HTTPSpec) Validate() error {
	var errs []error
	if s.URL == "" {
		errs = append(errs, fieldErr("url", "required"))
	} else if u, err := url.Parse(s.URL); err != nil {
		errs = append(errs, fieldErr("url", "%v", err))
	} else if u.Scheme != "http" && u.Scheme != "https" {
		errs = append(errs, fieldErr("url", "scheme must be http or https, got %q", u.Scheme))
	} else if u.Host == "" {
		errs = append(errs, fieldErr("url", "no host in %q", s.URL))
	}
	if s.Method != "" && strings.ToUpper(s.Method) != s.Method {
		errs = append(errs, fieldErr("method", "write methods in upper case (%q)", strings.ToUpper(s.Method)))
	}
	for i, c := range s.Status {
		if c < 100 || c > 599 {
			errs = append(errs, fieldErr(fmt.Sprintf("status[%d]", i), "%d is not an HTTP status code", c))
		}
	}
	if s.MaxLatency < 0 {
		errs = append(errs, fieldErr("maxLatency", "must not be negative"))
	}
	if s.Timeout < 0 {
		errs = append(errs, fieldErr("timeout", "must not be negative"))
	}
	if s.Insecure && s.CACert != "" {
		errs = append(errs, fieldErr("insecure", "insecure and caCert exclude each other"))
	}
	if _, err := CompileOutcomes(s.Outcomes, httpValues); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// defaultHTTPOutcomes fail on any failed check.
var defaultHTTPOutcomes = []OutcomeSpec{
	{Fail: &RuleSpec{When: "checks_failed > 0", Message: "{{checks_failed}} check(s) failed"}},
	{Pass: &RuleSpec{}},
}

// Build implements Spec.
func (s *HTTPSpec) Build(env Env) (Probe, Outcomes, error) {
	specs := s.Outcomes
	if len(specs) == 0 {
		specs = defaultHTTPOutcomes
	}
	rules, err := CompileOutcomes(specs, httpValues)
	if err != nil {
		return nil, nil, err
	}
	tlsCfg, err := ClientTLS(s.Insecure, s.CACert, s.ServerName)
	if err != nil {
		return nil, nil, err
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		TLSClientConfig:     tlsCfg,
		DisableKeepAlives:   true, // every observation measures the whole path
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return &httpProbe{spec: *s, env: env, client: &http.Client{
		Transport: tr,
		Timeout:   s.Timeout.Or(10 * time.Second),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // the probe judges the first answer
		},
	}}, rules, nil
}

// ClientTLS builds a verifying TLS client config: TLS 1.2 or later, the
// system roots plus caFile's certificates (PEM) when given, verification
// skipped only when insecure; the probes and the actions that speak HTTPS
// share it.
func ClientTLS(insecure bool, caFile, serverName string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName, InsecureSkipVerify: insecure} //nolint:gosec // opt-in, named insecure
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("caCert: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("caCert: no PEM certificate in %s", caFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

type httpProbe struct {
	spec   HTTPSpec
	env    Env
	client *http.Client
}

var _ Probe = (*httpProbe)(nil)

func (p *httpProbe) Observe(ctx context.Context) Observation {
	method := p.spec.Method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if p.spec.Body != "" {
		body = strings.NewReader(p.spec.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.spec.URL, body)
	if err != nil {
		return Observation{Err: fmt.Errorf("request: %w", err)}
	}
	for k, v := range p.spec.Headers {
		req.Header.Set(k, v)
	}
	start := p.env.now()
	resp, err := p.client.Do(req)
	if err != nil {
		return Observation{Err: fmt.Errorf("%s %s: %w", method, RedactURL(p.spec.URL), UnwrapURLError(err))}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPBody))
	latency := p.env.now().Sub(start)
	if err != nil {
		return Observation{Err: fmt.Errorf("%s %s: reading body: %w", method, RedactURL(p.spec.URL), err)}
	}
	return p.judgeChecks(resp, data, latency)
}

// judgeChecks runs the spec's checks over a response.
func (p *httpProbe) judgeChecks(resp *http.Response, body []byte, latency time.Duration) Observation {
	var items []Item
	check := func(name string, ok bool, summary string) {
		st := StatusPass
		if !ok {
			st = StatusFail
		}
		items = append(items, Item{Name: name, Status: st, Summary: summary})
	}
	code := resp.StatusCode
	if len(p.spec.Status) > 0 {
		check("status", slices.Contains(p.spec.Status, code), fmt.Sprintf("%d (want %s)", code, joinInts(p.spec.Status)))
	} else {
		check("status", code >= 200 && code < 300, fmt.Sprintf("%d (want 2xx)", code))
	}
	if p.spec.BodyContains != "" {
		ok := strings.Contains(string(body), p.spec.BodyContains)
		check("body", ok, fmt.Sprintf("contains %q: %v", p.spec.BodyContains, ok))
	}
	if len(p.spec.JSON) > 0 {
		var doc any
		jerr := json.Unmarshal(body, &doc)
		paths := make([]string, 0, len(p.spec.JSON))
		for path := range p.spec.JSON {
			paths = append(paths, path)
		}
		slices.Sort(paths)
		for _, path := range paths {
			want := p.spec.JSON[path]
			if jerr != nil {
				check("json "+path, false, fmt.Sprintf("body is not JSON: %v", jerr))
				continue
			}
			got, ok := jsonPath(doc, path)
			check("json "+path, ok && got == want, fmt.Sprintf("%s = %s (want %s)", path, quoteOrMissing(got, ok), want))
		}
	}
	if p.spec.MaxLatency > 0 {
		check("latency", latency <= time.Duration(p.spec.MaxLatency),
			fmt.Sprintf("%s (bound %s)", roundLatency(latency), time.Duration(p.spec.MaxLatency)))
	}
	counts, _ := CountItems(items)
	return Observation{
		Summary: fmt.Sprintf("%s in %s", resp.Status, roundLatency(latency)),
		Items:   items,
		Values: map[string]float64{
			"status_code":   float64(code),
			"latency_ms":    float64(latency) / float64(time.Millisecond),
			"body_bytes":    float64(len(body)),
			"checks_failed": float64(counts[StatusFail]),
		},
	}
}

// jsonPath walks a dotted path ("a.b.0.c") and renders the leaf as text.
func jsonPath(doc any, path string) (string, bool) {
	cur := doc
	for part := range strings.SplitSeq(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[part]
			if !ok {
				return "", false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(v) {
				return "", false
			}
			cur = v[i]
		default:
			return "", false
		}
	}
	switch v := cur.(type) {
	case string:
		return v, true
	case nil:
		return "null", true
	case map[string]any, []any:
		b, _ := json.Marshal(v)
		return string(b), true
	default:
		return fmt.Sprint(v), true
	}
}

func quoteOrMissing(s string, ok bool) string {
	if !ok {
		return "(missing)"
	}
	return strconv.Quote(s)
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return strings.Join(parts, ",")
}

// roundLatency rounds for display: µs below 1 ms, else 0.1 ms.
func roundLatency(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(100 * time.Microsecond)
}

// RedactURL drops a URL's user info and query string (tokens live there),
// for messages.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	return u.String()
}

// UnwrapURLError drops *url.Error's repetition of method and URL (which may
// carry credentials) and keeps the cause.
func UnwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("timeout: %w", ue.Err)
		}
		return ue.Err
	}
	return err
}

// Describe implements Describer.
func (s *HTTPSpec) Describe() string {
	m := s.Method
	if m == "" {
		m = http.MethodGet
	}
	return m + " " + RedactURL(s.URL)
}
