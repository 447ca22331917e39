package probes

import (
	"bytes"
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
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
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

var _ Spec = (*PrometheusSpec)(nil)

// prometheusValues are what a prometheus probe observes. series counts the
// result's series and failing those that miss expect; value (exactly one
// series) and min, max, sum, avg (over the finite values) are absent when
// there is nothing to read them from.
var prometheusValues = []string{"series", "failing", "value", "min", "max", "sum", "avg", "query_ms"}

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
	base, err := url.Parse(s.URL)
	if err != nil {
		return nil, nil, fmt.Errorf("url: %w", err)
	}
	next, err := apiTransport(s.Insecure, s.CACert, s.ServerName)
	if err != nil {
		return nil, nil, err
	}
	client, err := api.NewClient(api.Config{
		Address: s.URL,
		RoundTripper: &promTransport{
			next: next,
			host: base.Host,
			auth: apiAuth{token: s.BearerToken, basic: s.BasicAuth, headers: s.Headers},
		},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("url: %w", err)
	}
	p := &prometheusProbe{
		api:     v1.NewAPI(client),
		base:    base,
		timeout: s.Timeout.Or(10 * time.Second),
		query:   s.Query,
		expect:  exp,
		env:     env,
	}
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
	return d + " at " + RedactURL(s.URL)
}

// prometheusProbe evaluates its query through client_golang's v1 API
// (/api/v1/query, or /api/v1/query_range with a window).
type prometheusProbe struct {
	api     v1.API
	base    *url.URL // the server's URL, for messages
	timeout time.Duration
	query   string
	expect  *expectation // nil: no per-series condition
	over    time.Duration
	step    time.Duration
	reduce  string // max, min, avg, last; with over
	env     Env
}

var _ Probe = (*prometheusProbe)(nil)

// promSample is one series of a result, reduced to one value.
type promSample struct {
	Metric model.Metric
	Value  float64
}

// Observe implements Probe.
func (p *prometheusProbe) Observe(ctx context.Context) Observation {
	start := p.env.now()
	ex := &exchange{}
	qctx, cancel := context.WithTimeout(context.WithValue(ctx, exchangeKey{}, ex), p.timeout)
	defer cancel()
	var (
		val      model.Value
		warnings v1.Warnings
		err      error
	)
	if p.over > 0 {
		r := v1.Range{Start: start.Add(-p.over), End: start, Step: p.step}
		val, warnings, err = p.api.QueryRange(qctx, p.query, r, v1.WithTimeout(p.timeout))
	} else {
		// The zero time leaves the time out: the server evaluates at its own now.
		val, warnings, err = p.api.Query(qctx, p.query, time.Time{}, v1.WithTimeout(p.timeout))
	}
	elapsed := p.env.now().Sub(start)
	if err != nil {
		return Observation{Err: fmt.Errorf("query: %w", p.explain(ctx, ex, err))}
	}
	samples, err := p.samples(val)
	if err != nil {
		return Observation{Err: fmt.Errorf("query: %w", err)}
	}
	obs := p.judgeSeries(samples)
	if p.over > 0 && len(samples) > 0 {
		obs.Summary += fmt.Sprintf(" (%s over %s)", p.reduce, p.over)
	}
	obs.Values["query_ms"] = float64(elapsed) / float64(time.Millisecond)
	for _, w := range slices.Concat([]string(warnings), ex.infos()) {
		obs.Items = append(obs.Items, Item{Name: "warning", Status: StatusWarn, Summary: w})
	}
	return obs
}

// endpoint returns the redacted URL of the API path the probe queries, for
// messages.
func (p *prometheusProbe) endpoint() string {
	path := "/api/v1/query"
	if p.over > 0 {
		path = "/api/v1/query_range"
	}
	return RedactURL(p.base.JoinPath(path).String())
}

// samples turns a query's value into one sample per series: a vector's
// samples, a scalar as one series without labels, or (with over) each
// series of a matrix reduced to one value.
func (p *prometheusProbe) samples(v model.Value) ([]promSample, error) {
	rangeQuery := p.over > 0
	switch v := v.(type) {
	case model.Vector:
		if rangeQuery {
			return nil, resultTypeError(model.ValVector.String(), true)
		}
		out := make([]promSample, 0, len(v))
		for _, s := range v {
			if s.Histogram != nil {
				return nil, histogramError(s.Metric)
			}
			out = append(out, promSample{Metric: s.Metric, Value: float64(s.Value)})
		}
		return out, nil
	case *model.Scalar:
		if rangeQuery {
			return nil, resultTypeError(model.ValScalar.String(), true)
		}
		return []promSample{{Metric: model.Metric{}, Value: float64(v.Value)}}, nil
	case model.Matrix:
		if !rangeQuery {
			return nil, resultTypeError(model.ValMatrix.String(), false)
		}
		out := make([]promSample, 0, len(v))
		for _, s := range v {
			if len(s.Histograms) > 0 {
				return nil, histogramError(s.Metric)
			}
			if len(s.Values) == 0 {
				continue
			}
			out = append(out, promSample{Metric: s.Metric, Value: reducePoints(s.Values, p.reduce)})
		}
		return out, nil
	case nil:
		return nil, fmt.Errorf("%w: no result", ErrBadResponse)
	}
	return nil, resultTypeError(v.Type().String(), rangeQuery)
}

// resultTypeError explains a result of type t the probe cannot judge.
func resultTypeError(t string, rangeQuery bool) error {
	switch {
	case t == "":
		return fmt.Errorf("%w: no result type", ErrBadResponse)
	case rangeQuery:
		return fmt.Errorf("%w: a range query returned a %s", ErrBadResponse, t)
	case t == model.ValMatrix.String():
		return errors.New("the query returns a range vector; write an instant query (wrap it in a function such as max_over_time)")
	}
	return fmt.Errorf("the query returns a %s; want a vector or a scalar", t)
}

// histogramError explains a series of native histograms, which have no one
// value to judge.
func histogramError(m model.Metric) error {
	return fmt.Errorf("series %s is a native histogram; want float samples (wrap the query in histogram_quantile, histogram_count, histogram_sum or histogram_fraction)", seriesName(m))
}

// reducePoints reduces points to one value: max, min or avg over them (NaN
// ones skipped; NaN when all are), or the last one.
func reducePoints(pts []model.SamplePair, reduce string) float64 {
	if reduce == "last" {
		return float64(pts[len(pts)-1].Value)
	}
	var (
		n      int
		sum    float64
		lo, hi = math.Inf(1), math.Inf(-1)
	)
	for _, pt := range pts {
		v := float64(pt.Value)
		if math.IsNaN(v) {
			continue
		}
		n++
		sum += v
		lo, hi = min(lo, v), max(hi, v)
	}
	if n == 0 {
		return math.NaN()
	}
	switch reduce {
	case "max":
		return hi
	case "min":
		return lo
	case "avg":
		return sum / float64(n)
	}
	return math.NaN()
}

// explain turns an error of client_golang's v1 API into the probe's
// message, with what the exchange recorded: the method, the status line
// (client_golang's errors keep only the class of a status) and the body.
func (p *prometheusProbe) explain(ctx context.Context, ex *exchange, err error) error {
	method, code, status, body := ex.result()
	where := method + " " + p.endpoint()
	var apiErr *v1.Error
	switch {
	case ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: timeout after %s: %w", where, p.timeout, context.DeadlineExceeded)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", where, UnwrapURLError(err))
	case errors.As(err, &apiErr):
		return p.apiError(apiErr, where, code, status, body)
	case errors.Is(err, ErrBadResponse): // the body bound
		return fmt.Errorf("%s: %w", where, err)
	case code == 0: // no answer: connection, TLS, redirects, a cancelled run
		return fmt.Errorf("%s: %w", where, UnwrapURLError(err))
	case code/100 == 2: // an answer client_golang's decoder rejected
		return undecodable(where, body, err, p.over > 0)
	}
	return fmt.Errorf("%s: %w", where, err)
}

// apiError maps a *v1.Error: 401 and 403 are a *ForbiddenError; the
// server's error envelope (400 bad_data, 422 execution, 503 timeout, ...)
// is an *APIError with its type and message; another answer is an
// *APIError with the status line and the body's first line.
func (p *prometheusProbe) apiError(e *v1.Error, where string, code int, status string, body []byte) error {
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return &ForbiddenError{Verb: "get", Resource: p.endpoint() + " (" + status + ")"}
	case e.Type == v1.ErrClient || e.Type == v1.ErrServer:
		// A status other than 2xx, 400 and 422, with the body as Detail;
		// Prometheus answers 503 with its envelope.
		if env, ok := errorEnvelope([]byte(e.Detail)); ok {
			return &APIError{Type: env.ErrorType, Status: status, Msg: env.Error}
		}
		return &APIError{Status: status, Msg: FirstLine(e.Detail)}
	case e.Type == v1.ErrBadResponse && code/100 == 2:
		return undecodable(where, body, e, p.over > 0)
	case e.Type == v1.ErrBadResponse:
		// A 400 or 422 without the error envelope (a proxy's page), or a
		// status client_golang does not expect.
		return &APIError{Status: status, Msg: FirstLine(string(body))}
	}
	if code/100 == 2 {
		status = ""
	}
	return &APIError{Type: string(e.Type), Status: status, Msg: e.Msg}
}

// undecodable explains a 2xx answer client_golang's decoder rejected (err),
// from its body: not the API's envelope, a result type the probe cannot
// judge, or encoding/json's account of what is wrong in the result.
func undecodable(where string, body []byte, err error, rangeQuery bool) error {
	var env struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if jerr := json.Unmarshal(body, &env); jerr != nil {
		return fmt.Errorf("%s: %w: %w", where, ErrBadResponse, jerr)
	}
	if env.Status != "success" {
		return fmt.Errorf("%s: %w: status %q", where, ErrBadResponse, env.Status)
	}
	var into any
	switch env.Data.ResultType {
	case model.ValVector.String():
		into = &model.Vector{}
	case model.ValScalar.String():
		into = &model.Scalar{}
	case model.ValMatrix.String():
		into = &model.Matrix{}
	default:
		return resultTypeError(env.Data.ResultType, rangeQuery)
	}
	if derr := json.Unmarshal(env.Data.Result, into); derr != nil {
		var num *strconv.NumError
		if errors.As(derr, &num) && num.Func == "ParseFloat" {
			return fmt.Errorf("%w: sample value: %w", ErrBadResponse, derr)
		}
		return fmt.Errorf("%w: %w", ErrBadResponse, derr)
	}
	return fmt.Errorf("%s: %w: %w", where, ErrBadResponse, err)
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
		v := s.Value
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
		values["value"] = samples[0].Value
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
func seriesName(labels model.Metric) string {
	name := string(labels[model.MetricNameLabel])
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if k != model.MetricNameLabel {
			keys = append(keys, string(k))
		}
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(string(labels[model.LabelName(k)]))
	}
	if name != "" && len(parts) == 0 {
		return name
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

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

// promErrorEnvelope is the body of a Prometheus API error.
type promErrorEnvelope struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
}

// errorEnvelope decodes body as a Prometheus error envelope.
func errorEnvelope(body []byte) (promErrorEnvelope, bool) {
	var env promErrorEnvelope
	if json.Unmarshal(body, &env) != nil || env.Status != "error" {
		return promErrorEnvelope{}, false
	}
	return env, true
}

// exchangeKey is the context key of a query's *exchange.
type exchangeKey struct{}

// exchange records the last HTTP answer to one query — what
// client_golang's errors do not keep: the method, the status line and the
// body (at most maxAPIBody).
type exchange struct {
	mu     sync.Mutex
	method string
	code   int // 0: no answer
	status string
	body   bytes.Buffer
}

// begin starts recording a request.
func (e *exchange) begin(method string) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.method, e.code, e.status = method, 0, ""
	e.body.Reset()
}

// answered records a response's status.
func (e *exchange) answered(code int, status string) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.code, e.status = code, status
}

// write records body bytes.
func (e *exchange) write(b []byte) {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.body.Write(b)
}

// result returns what was recorded (a copy of the body); the method is GET
// when no request was made.
func (e *exchange) result() (method string, code int, status string, body []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	method = e.method
	if method == "" {
		method = http.MethodGet
	}
	return method, e.code, e.status, bytes.Clone(e.body.Bytes())
}

// infos returns the info annotations of the recorded answer ("PromQL info:
// metric might not be a counter"), which client_golang's v1 API drops: it
// returns the warnings only.
func (e *exchange) infos() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	body := e.body.Bytes()
	if !bytes.Contains(body, []byte(`"infos"`)) {
		return nil
	}
	var env struct {
		Infos []string `json:"infos"`
	}
	if json.Unmarshal(body, &env) != nil {
		return nil
	}
	return env.Infos
}

// promTransport is the http.RoundTripper under client_golang's client. It
// sets the headers and credentials (credentials only towards the server's
// own host, so they never follow a redirect elsewhere), stops after
// maxRedirects, keeps the query when a redirect turns client_golang's POST
// into a GET, bounds the body to maxAPIBody and records the answer in the
// request context's *exchange.
type promTransport struct {
	next http.RoundTripper
	host string // the server's host[:port]
	auth apiAuth
}

// RoundTrip implements http.RoundTripper.
func (t *promTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if redirects(req) >= maxRedirects {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	out := req.Clone(req.Context())
	out.Header.Set("Accept", "application/json")
	t.auth.apply(out, out.URL.Host == t.host)
	if err := keepForm(out); err != nil {
		return nil, err
	}
	ex, _ := req.Context().Value(exchangeKey{}).(*exchange)
	ex.begin(out.Method)
	resp, err := t.next.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	ex.answered(resp.StatusCode, resp.Status)
	resp.Body = &recordedBody{body: resp.Body, ex: ex}
	return resp, nil
}

// redirects counts the redirects that led to req.
func redirects(req *http.Request) int {
	n := 0
	for r := req.Response; r != nil && r.Request != nil; r = r.Request.Response {
		n++
	}
	return n
}

// keepForm puts the form of the POST a redirect (301, 302, 303) turned
// into a body-less GET back into the GET's URL, as client_golang's own GET
// fallback sends it.
func keepForm(req *http.Request) error {
	if req.Method != http.MethodGet || req.Response == nil {
		return nil
	}
	first := req
	for r := req.Response; r != nil && r.Request != nil; r = r.Request.Response {
		first = r.Request
	}
	if first.Method != http.MethodPost || first.GetBody == nil ||
		first.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		return nil
	}
	rc, err := first.GetBody()
	if err != nil {
		return fmt.Errorf("redirect: %w", err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxAPIBody))
	if err != nil {
		return fmt.Errorf("redirect: %w", err)
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return fmt.Errorf("redirect: %w", err)
	}
	q := req.URL.Query()
	for k, vs := range form {
		if !q.Has(k) {
			q[k] = vs
		}
	}
	req.URL.RawQuery = q.Encode()
	return nil
}

// errBodyTooLarge is an answer beyond maxAPIBody.
var errBodyTooLarge = fmt.Errorf("%w: body larger than %d MiB", ErrBadResponse, maxAPIBody>>20)

// recordedBody is a response body bounded to maxAPIBody and copied to an
// exchange.
type recordedBody struct {
	body io.ReadCloser
	ex   *exchange
	n    int
}

// Read implements io.Reader.
func (b *recordedBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	b.n += n
	if b.n > maxAPIBody {
		return 0, errBodyTooLarge
	}
	b.ex.write(p[:n])
	return n, err
}

// Close implements io.Closer.
func (b *recordedBody) Close() error { return b.body.Close() }
