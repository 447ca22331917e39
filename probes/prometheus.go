package probes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PrometheusSpec configures a "prometheus" probe: an instant PromQL query
// against a Prometheus-compatible HTTP API (/api/v1/query), its vector
// judged series by series.
//
//	probe: {kind: prometheus, url: "https://prometheus.gravl.app",
//	        query: 'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))',
//	        expect: "< 0.01", bearerToken: "${env:PROM_TOKEN}"}
//
// Each series of the result is an item with its labels and value; expect is
// applied to every series on its own, and a series that misses it fails the
// probe. An empty result is judged by empty (default fail): a query that
// matches nothing usually means a wrong label, not a healthy system. For
// "no series is good" queries (`errors > 10`) write empty: pass and an
// outcome on series.
//
// With over, the query is evaluated over the window ending now
// (/api/v1/query_range, every step) and each series is reduced to one
// value — "stayed below 1 % for the last 10 minutes":
//
//	probe: {kind: prometheus, url: "${prom}", query: "...", expect: "< 0.01", over: 10m}
type PrometheusSpec struct {
	// URL is the server's base URL, with any path prefix
	// (https://host/prometheus); /api/v1/query is appended.
	URL   string `json:"url" yaml:"url"`
	Query string `json:"query" yaml:"query"`
	// Expect is a per-series condition on the value: "< 0.01", ">= 1".
	// It and outcomes exclude each other; one of the two is required.
	Expect string `json:"expect,omitempty" yaml:"expect,omitempty"`
	// Empty is the status of an empty result: pass, warn or fail (default).
	// It applies before expect and outcomes.
	Empty string `json:"empty,omitempty" yaml:"empty,omitempty"`
	// Over evaluates the query over this window instead of at one instant.
	Over Duration `json:"over,omitempty" yaml:"over,omitempty"`
	// Step is the resolution over the window; default over/60, at least 1s.
	Step Duration `json:"step,omitempty" yaml:"step,omitempty"`
	// Reduce turns a series' points over the window into its value: max,
	// min, avg or last. Default: the worst case for expect — max for < and
	// <=, min for > and >=; required otherwise.
	Reduce string `json:"reduce,omitempty" yaml:"reduce,omitempty"`
	// BearerToken and BasicAuth authenticate (write them as ${env:…}); they
	// exclude each other and are never shown.
	BearerToken string            `json:"bearerToken,omitempty" yaml:"bearerToken,omitempty"`
	BasicAuth   *BasicAuth        `json:"basicAuth,omitempty" yaml:"basicAuth,omitempty"`
	Headers     map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"` // e.g. X-Scope-OrgID
	Timeout     Duration          `json:"timeout,omitempty" yaml:"timeout,omitempty"` // default 10s
	Insecure    bool              `json:"insecure,omitempty" yaml:"insecure,omitempty"`
	CACert      string            `json:"caCert,omitempty" yaml:"caCert,omitempty"`
	ServerName  string            `json:"serverName,omitempty" yaml:"serverName,omitempty"`
	Outcomes    []OutcomeSpec     `json:"outcomes,omitempty" yaml:"outcomes,omitempty"`
}

// BasicAuth is an HTTP basic-auth pair. The password is never shown.
type BasicAuth struct {
	Username string `json:"username" yaml:"username"`
	Password string `json:"password" yaml:"password"`
}

var _ Spec = (*PrometheusSpec)(nil)

// prometheusValues are what a prometheus probe observes. series counts the
// result's series and failing those that miss expect; value (exactly one
// series) and min, max, sum, avg (over the finite values) are absent when
// there is nothing to read them from.
var prometheusValues = []string{"series", "failing", "value", "min", "max", "sum", "avg", "query_ms"}

// maxAPIBody bounds how much of an API response a probe reads.
const maxAPIBody = 16 << 20

// maxSeriesItems bounds the items a query result shows.
const maxSeriesItems = 20

// Values implements Spec.
func (s *PrometheusSpec) Values() []string { return prometheusValues }

// Validate implements Spec.
func (s *PrometheusSpec) Validate() error {
	var errs []error
	errs = append(errs, validateHTTPURL("url", s.URL)...)
	if strings.TrimSpace(s.Query) == "" {
		errs = append(errs, fieldErr("query", "required"))
	}
	errs = append(errs, validateExpect(s.Expect, s.Outcomes)...)
	if _, err := parseStatusChoice("empty", s.Empty); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, s.validateWindow()...)
	errs = append(errs, validateAPIAccess(s.BearerToken, s.BasicAuth, s.Timeout, s.Insecure, s.CACert)...)
	if _, err := CompileOutcomes(s.Outcomes, prometheusValues); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// maxRangePoints bounds the points per series a window asks for (the
// server's own limit is 11,000).
const maxRangePoints = 10000

// validateWindow checks over, step and reduce.
func (s *PrometheusSpec) validateWindow() []error {
	var errs []error
	switch {
	case s.Over < 0:
		errs = append(errs, fieldErr("over", "must not be negative"))
	case s.Over == 0 && (s.Step != 0 || s.Reduce != ""):
		errs = append(errs, fieldErr("over", "step and reduce need a window: set over (e.g. over: 5m)"))
	case s.Over > 0:
		if s.Step < 0 || (s.Step > 0 && time.Duration(s.Step) > time.Duration(s.Over)) {
			errs = append(errs, fieldErr("step", "want a positive duration up to over (%s)", time.Duration(s.Over)))
		} else if n := time.Duration(s.Over) / s.step(); n > maxRangePoints {
			errs = append(errs, fieldErr("step", "%d points per series over %s; at most %d (raise step)", n, time.Duration(s.Over), maxRangePoints))
		}
		if _, err := s.reduction(); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// step returns the window's resolution.
func (s *PrometheusSpec) step() time.Duration {
	if s.Step > 0 {
		return time.Duration(s.Step)
	}
	return max(time.Duration(s.Over)/60, time.Second)
}

// reduction returns the reduce function's name, defaulted from expect.
func (s *PrometheusSpec) reduction() (string, error) {
	switch s.Reduce {
	case "max", "min", "avg", "last":
		return s.Reduce, nil
	case "":
		if e, err := parseExpect(s.Expect); err == nil {
			switch e.op {
			case "<", "<=":
				return "max", nil
			case ">", ">=":
				return "min", nil
			}
		}
		return "", fieldErr("reduce", "required with over here: max, min, avg or last")
	}
	return "", fieldErr("reduce", "want max, min, avg or last, got %q", s.Reduce)
}

// parseStatusChoice reads a pass|warn|fail field; "" is fail.
func parseStatusChoice(field, v string) (Status, error) {
	switch v {
	case "", "fail":
		return StatusFail, nil
	case "warn":
		return StatusWarn, nil
	case "pass":
		return StatusPass, nil
	}
	return StatusFail, fieldErr(field, "want pass, warn or fail, got %q", v)
}

// validateAPIAccess checks the fields the prometheus and alertmanager
// probes share.
func validateAPIAccess(token string, basic *BasicAuth, timeout Duration, insecure bool, caCert string) []error {
	var errs []error
	if token != "" && basic != nil {
		errs = append(errs, fieldErr("bearerToken", "bearerToken and basicAuth exclude each other"))
	}
	if basic != nil && basic.Username == "" {
		errs = append(errs, fieldErr("basicAuth.username", "required"))
	}
	if timeout < 0 {
		errs = append(errs, fieldErr("timeout", "must not be negative"))
	}
	if insecure && caCert != "" {
		errs = append(errs, fieldErr("insecure", "insecure and caCert exclude each other"))
	}
	return errs
}

// Build implements Spec.
func (s *PrometheusSpec) Build(env Env) (Probe, Outcomes, error) {
	empty, err := parseStatusChoice("empty", s.Empty)
	if err != nil {
		return nil, nil, err
	}
	var exp *expectation
	if s.Expect != "" {
		e, err := parseExpect(s.Expect)
		if err != nil {
			return nil, nil, err
		}
		exp = &e
	}
	specs := []OutcomeSpec{statusRule(empty, "series == 0", "the query returned no series")}
	switch {
	case len(s.Outcomes) > 0:
		specs = append(specs, s.Outcomes...)
	case exp != nil:
		specs = append(specs,
			OutcomeSpec{Fail: &RuleSpec{When: "failing > 0", Message: "{{failing}} of {{series}} series miss " + exp.src}},
			OutcomeSpec{Pass: &RuleSpec{}})
	default:
		return nil, nil, fieldErr("expect", "required (or outcomes)")
	}
	rules, err := CompileOutcomes(specs, prometheusValues)
	if err != nil {
		return nil, nil, err
	}
	api, err := newAPIClient(s.URL, s.BearerToken, s.BasicAuth, s.Headers, s.Timeout, s.Insecure, s.CACert, s.ServerName)
	if err != nil {
		return nil, nil, err
	}
	p := &prometheusProbe{api: api, query: s.Query, expect: exp, env: env}
	if s.Over > 0 {
		p.over, p.step = time.Duration(s.Over), s.step()
		if p.reduce, err = s.reduction(); err != nil {
			return nil, nil, err
		}
	}
	return p, rules, nil
}

// statusRule is an outcome rule of status st.
func statusRule(st Status, when, msg string) OutcomeSpec {
	r := &RuleSpec{When: when, Message: msg}
	switch st {
	case StatusPass:
		return OutcomeSpec{Pass: r}
	case StatusWarn:
		return OutcomeSpec{Warn: r}
	}
	return OutcomeSpec{Fail: r}
}

// Describe implements Describer.
func (s *PrometheusSpec) Describe() string {
	d := "PromQL " + s.Query
	if s.Over > 0 {
		r, _ := s.reduction()
		d += fmt.Sprintf(" (%s over %s)", r, time.Duration(s.Over))
	}
	return d + " at " + redactURL(s.URL)
}

type prometheusProbe struct {
	api    *apiClient
	query  string
	expect *expectation // nil: no per-series condition
	over   time.Duration
	step   time.Duration
	reduce string // max, min, avg, last; with over
	env    Env
}

var _ Probe = (*prometheusProbe)(nil)

// promResponse is the envelope of every Prometheus API answer.
type promResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
	Infos     []string        `json:"infos"`
}

// promQueryData is the data of /api/v1/query.
type promQueryData struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

// promSample is one series of an instant vector.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  promPoint         `json:"value"`
}

// promPoint is [unix seconds, "value"].
type promPoint struct {
	T float64
	V float64
}

// UnmarshalJSON reads Prometheus' [1700000000.123, "0.5"] pairs.
func (p *promPoint) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("sample: %w", err)
	}
	if len(raw) != 2 {
		return fmt.Errorf("sample: want [time, value], got %d elements", len(raw))
	}
	if err := json.Unmarshal(raw[0], &p.T); err != nil {
		return fmt.Errorf("sample time: %w", err)
	}
	var s string
	if err := json.Unmarshal(raw[1], &s); err != nil {
		return fmt.Errorf("sample value: %w", err)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("sample value: %w", err)
	}
	p.V = v
	return nil
}

func (p *prometheusProbe) Observe(ctx context.Context) Observation {
	start := p.env.now()
	path, params := "/api/v1/query", url.Values{"query": {p.query}}
	if p.over > 0 {
		path = "/api/v1/query_range"
		params.Set("start", promTime(start.Add(-p.over)))
		params.Set("end", promTime(start))
		params.Set("step", strconv.FormatFloat(p.step.Seconds(), 'f', -1, 64))
	}
	var resp promResponse
	err := p.api.get(ctx, path, params, &resp)
	elapsed := p.env.now().Sub(start)
	if err == nil {
		err = resp.err()
	}
	if err != nil {
		return Observation{Err: fmt.Errorf("query: %w", err)}
	}
	var samples []promSample
	if p.over > 0 {
		samples, err = decodeRange(resp.Data, p.reduce)
	} else {
		samples, err = decodeInstant(resp.Data)
	}
	if err != nil {
		return Observation{Err: fmt.Errorf("query: %w", err)}
	}
	obs := p.judgeSeries(samples)
	if p.over > 0 && len(samples) > 0 {
		obs.Summary += fmt.Sprintf(" (%s over %s)", p.reduce, p.over)
	}
	obs.Values["query_ms"] = float64(elapsed) / float64(time.Millisecond)
	for _, w := range slices.Concat(resp.Warnings, resp.Infos) {
		obs.Items = append(obs.Items, Item{Name: "warning", Status: StatusWarn, Summary: w})
	}
	return obs
}

// promTime writes a time as the API's unix seconds.
func promTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

// promRangeSeries is one series of a range query's matrix.
type promRangeSeries struct {
	Metric map[string]string `json:"metric"`
	Values []promPoint       `json:"values"`
}

// decodeRange reads a range query's matrix and reduces each series to one
// sample: max, min or avg over its points (NaN ones skipped), or its last
// point.
func decodeRange(data json.RawMessage, reduce string) ([]promSample, error) {
	var d promQueryData
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	if d.ResultType != "matrix" {
		return nil, fmt.Errorf("%w: a range query returned a %s", ErrBadResponse, d.ResultType)
	}
	var series []promRangeSeries
	if err := json.Unmarshal(d.Result, &series); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	out := make([]promSample, 0, len(series))
	for _, s := range series {
		if len(s.Values) == 0 {
			continue
		}
		out = append(out, promSample{Metric: s.Metric, Value: reducePoints(s.Values, reduce)})
	}
	return out, nil
}

// reducePoints reduces points; NaN when all are NaN (last excepted).
func reducePoints(pts []promPoint, reduce string) promPoint {
	last := pts[len(pts)-1]
	if reduce == "last" {
		return last
	}
	var (
		n      int
		sum    float64
		lo, hi = math.Inf(1), math.Inf(-1)
	)
	for _, pt := range pts {
		if math.IsNaN(pt.V) {
			continue
		}
		n++
		sum += pt.V
		lo, hi = min(lo, pt.V), max(hi, pt.V)
	}
	v := math.NaN()
	if n > 0 {
		switch reduce {
		case "max":
			v = hi
		case "min":
			v = lo
		case "avg":
			v = sum / float64(n)
		}
	}
	return promPoint{T: last.T, V: v}
}

// err turns an API error envelope into an error with the server's text.
func (r *promResponse) err() error {
	if r.Status == "success" {
		return nil
	}
	if r.Status == "error" {
		return &APIError{Type: r.ErrorType, Msg: r.Error}
	}
	return fmt.Errorf("%w: status %q", ErrBadResponse, r.Status)
}

// decodeInstant reads the result of an instant query: a vector, or a scalar
// as one series without labels.
func decodeInstant(data json.RawMessage) ([]promSample, error) {
	var d promQueryData
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	switch d.ResultType {
	case "vector":
		var samples []promSample
		if err := json.Unmarshal(d.Result, &samples); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
		}
		return samples, nil
	case "scalar":
		var pt promPoint
		if err := json.Unmarshal(d.Result, &pt); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadResponse, err)
		}
		return []promSample{{Metric: map[string]string{}, Value: pt}}, nil
	case "matrix":
		return nil, errors.New("the query returns a range vector; write an instant query (wrap it in a function such as max_over_time)")
	default:
		return nil, fmt.Errorf("the query returns a %s; want a vector or a scalar", d.ResultType)
	}
}

// judgeSeries makes one item per series (failing ones first) and the
// values.
func (p *prometheusProbe) judgeSeries(samples []promSample) Observation {
	type judged struct {
		name string
		v    float64
		ok   bool
	}
	list := make([]judged, 0, len(samples))
	var (
		failing, finite int
		sum             float64
		lo, hi          = math.Inf(1), math.Inf(-1)
		want            string
	)
	if p.expect != nil {
		want = " (want " + p.expect.src + ")"
	}
	for _, s := range samples {
		v := s.Value.V
		ok := p.expect == nil || compare(v, p.expect.op, p.expect.num)
		if !ok {
			failing++
		}
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			finite++
			sum += v
			lo, hi = min(lo, v), max(hi, v)
		}
		list = append(list, judged{name: seriesName(s.Metric), v: v, ok: ok})
	}
	slices.SortFunc(list, func(a, b judged) int {
		if a.ok != b.ok {
			if !a.ok {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	items := make([]Item, 0, min(len(list), maxSeriesItems+1))
	for i, j := range list {
		if i == maxSeriesItems {
			items = append(items, Item{Name: "…", Status: StatusPass, Summary: fmt.Sprintf("%d more series", len(list)-maxSeriesItems)})
			break
		}
		it := Item{Name: j.name, Status: StatusPass, Summary: formatSample(j.v)}
		if !j.ok {
			it.Status = StatusFail
			it.Summary += want
		}
		items = append(items, it)
	}
	values := map[string]float64{"series": float64(len(samples)), "failing": float64(failing)}
	if len(samples) == 1 && finite == 1 {
		values["value"] = samples[0].Value.V
	}
	if finite > 0 {
		values["min"], values["max"], values["sum"], values["avg"] = lo, hi, sum, sum/float64(finite)
	}
	var summary string
	switch {
	case len(samples) == 0:
		summary = "no series"
	case len(samples) == 1:
		summary = "value " + formatSample(list[0].v)
		if n := list[0].name; n != "{}" {
			summary = n + " = " + formatSample(list[0].v)
		}
	case p.expect != nil:
		summary = fmt.Sprintf("%d series, %d miss %s", len(samples), failing, p.expect.src)
	case finite > 0:
		summary = fmt.Sprintf("%d series, min %s, max %s", len(samples), formatValue(lo), formatValue(hi))
	default:
		summary = fmt.Sprintf("%d series", len(samples))
	}
	return Observation{Summary: summary, Items: items, Values: values}
}

// formatSample formats a sample value, NaN and infinities included.
func formatSample(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return formatValue(v)
}

// seriesName writes labels as PromQL does: name{a="b",c="d"}.
func seriesName(labels map[string]string) string {
	name := labels["__name__"]
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if k != "__name__" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(labels[k])
	}
	if name != "" && len(parts) == 0 {
		return name
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

// ErrBadResponse marks an answer that is not the API's documented shape.
var ErrBadResponse = errors.New("unexpected response")

// APIError is an error a Prometheus or Alertmanager API answered with: its
// type (bad_data, execution, timeout, ...) and the server's own message.
type APIError struct {
	Type   string // errorType; empty when the server gave none
	Status string // HTTP status line when the envelope carried no type
	Msg    string
}

func (e *APIError) Error() string {
	kind := e.Type
	if kind == "" {
		kind = e.Status
	}
	if e.Msg == "" {
		return kind
	}
	return kind + ": " + e.Msg
}

// apiClient is the HTTP side the prometheus and alertmanager probes share:
// a base URL, credentials that never leave the request, verified TLS.
type apiClient struct {
	base    *url.URL
	token   string
	basic   *BasicAuth
	headers map[string]string
	client  *http.Client
}

func newAPIClient(raw, token string, basic *BasicAuth, headers map[string]string, timeout Duration, insecure bool, caCert, serverName string) (*apiClient, error) {
	base, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	tlsCfg, err := clientTLS(insecure, caCert, serverName)
	if err != nil {
		return nil, err
	}
	return &apiClient{
		base:    base,
		token:   token,
		basic:   basic,
		headers: headers,
		client: &http.Client{
			Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: tlsCfg, ForceAttemptHTTP2: true},
			Timeout:   timeout.Or(10 * time.Second),
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				// Credentials never follow a redirect to another host.
				if len(via) > 0 && req.URL.Host != via[0].URL.Host {
					req.Header.Del("Authorization")
				}
				if len(via) >= 5 {
					return errors.New("stopped after 5 redirects")
				}
				return nil
			},
		},
	}, nil
}

// endpoint returns the redacted URL of path, for messages.
func (c *apiClient) endpoint(path string) string {
	return redactURL(c.base.JoinPath(path).String())
}

// get fetches path (relative to the base URL) with query and decodes the
// JSON answer into out. 401 and 403 are a *ForbiddenError; another non-2xx
// status is an *APIError carrying the server's message (a Prometheus error
// envelope is decoded into out instead, so the caller reads its type).
func (c *apiClient) get(ctx context.Context, path string, query url.Values, out any) error {
	u := c.base.JoinPath(path)
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	switch {
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	case c.basic != nil:
		req.SetBasicAuth(c.basic.Username, c.basic.Password)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", c.endpoint(path), unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIBody))
	if err != nil {
		return fmt.Errorf("GET %s: reading body: %w", c.endpoint(path), err)
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return &ForbiddenError{Verb: "get", Resource: c.endpoint(path) + " (" + resp.Status + ")"}
	}
	if resp.StatusCode/100 != 2 {
		// Prometheus answers errors (400 bad_data, 422 execution, 503
		// timeout) with its JSON envelope; keep its type and message.
		var env promResponse
		if json.Unmarshal(body, &env) == nil && env.Status == "error" {
			return &APIError{Type: env.ErrorType, Status: resp.Status, Msg: env.Error}
		}
		return &APIError{Status: resp.Status, Msg: firstLine(string(body))}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: %w: %w", c.endpoint(path), ErrBadResponse, err)
	}
	return nil
}

// firstLine returns the first line of s, trimmed and bounded, for messages.
func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
