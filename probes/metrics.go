package probes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// MetricsSpec configures a "metrics" probe: it scrapes a Prometheus
// exposition endpoint (/metrics, text format) itself — no Prometheus server
// needed — and reads one number from it:
//
//   - the sum of the samples the selector matches (rate: false), or
//   - their per-second rate between this scrape and the previous one
//     (rate: true; counter resets handled as Prometheus does). The first
//     scrape has nothing to compare with: its result is pending, honestly;
//   - with quantile, the selector must match histogram buckets
//     (name_bucket, with le labels): value is the quantile estimated from
//     them as histogram_quantile does — over the buckets' increase between
//     the two scrapes when rate is set, over their totals otherwise.
//
// The probe keeps its previous scrape; one probe must not be observed
// concurrently with itself (the Watcher never does).
//
//	probe: {kind: metrics, url: "http://127.0.0.1:9090/metrics",
//	        metric: 'http_requests_total{code=~"5.."}', rate: true,
//	        expect: "< 0.5"}
type MetricsSpec struct {
	URL string `json:"url" yaml:"url"`
	// Metric is a selector in PromQL's syntax: a metric name and optional
	// label matchers (= != =~ !~), like `up{job="api",instance!~"canary.*"}`.
	Metric   string   `json:"metric" yaml:"metric"`
	Rate     bool     `json:"rate,omitempty" yaml:"rate,omitempty"`
	Quantile *float64 `json:"quantile,omitempty" yaml:"quantile,omitempty"`
	// Expect is the shorthand rule for value: "< 0.01", ">= 100". It and
	// outcomes exclude each other; one of the two is required.
	Expect     string            `json:"expect,omitempty" yaml:"expect,omitempty"`
	Headers    map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"`
	Timeout    Duration          `json:"timeout,omitempty" yaml:"timeout,omitempty"` // default 10s
	Insecure   bool              `json:"insecure,omitempty" yaml:"insecure,omitempty"`
	CACert     string            `json:"caCert,omitempty" yaml:"caCert,omitempty"`
	ServerName string            `json:"serverName,omitempty" yaml:"serverName,omitempty"`
	Outcomes   []OutcomeSpec     `json:"outcomes,omitempty" yaml:"outcomes,omitempty"`
}

var _ Spec = (*MetricsSpec)(nil)

// metricsValues are what a metrics probe observes. value is absent when no
// series matches (series == 0).
var metricsValues = []string{"value", "series", "scrape_ms"}

// maxScrapeBody bounds how much of an exposition a probe reads.
const maxScrapeBody = 16 << 20

// Values implements Spec.
func (s *MetricsSpec) Values() []string { return metricsValues }

// Validate implements Spec.
func (s *MetricsSpec) Validate() error {
	var errs []error
	errs = append(errs, validateHTTPURL("url", s.URL)...)
	if s.Metric == "" {
		errs = append(errs, fieldErr("metric", "required"))
	} else if _, err := ParseSelector(s.Metric); err != nil {
		errs = append(errs, selectorFieldErr("metric", err))
	}
	if s.Quantile != nil && (math.IsNaN(*s.Quantile) || *s.Quantile < 0 || *s.Quantile > 1) {
		errs = append(errs, fieldErr("quantile", "want a number from 0 to 1, got %v", *s.Quantile))
	}
	errs = append(errs, validateExpect(s.Expect, s.Outcomes)...)
	if s.Timeout < 0 {
		errs = append(errs, fieldErr("timeout", "must not be negative"))
	}
	if s.Insecure && s.CACert != "" {
		errs = append(errs, fieldErr("insecure", "insecure and caCert exclude each other"))
	}
	if _, err := CompileOutcomes(s.Outcomes, metricsValues); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// validateHTTPURL checks an http(s) URL field.
func validateHTTPURL(field, raw string) []error {
	if raw == "" {
		return []error{fieldErr(field, "required")}
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return []error{fieldErr(field, "%v", err)}
	case u.Scheme != "http" && u.Scheme != "https":
		return []error{fieldErr(field, "scheme must be http or https, got %q", u.Scheme)}
	case u.Host == "":
		return []error{fieldErr(field, "no host in %q", RedactURL(raw))}
	}
	return nil
}

// validateExpect checks the expect shorthand against outcomes.
func validateExpect(expect string, outcomes []OutcomeSpec) []error {
	switch {
	case expect == "" && len(outcomes) == 0:
		return []error{fieldErr("expect", "required (or outcomes): a number without a threshold judges nothing")}
	case expect != "" && len(outcomes) > 0:
		return []error{fieldErr("expect", "expect and outcomes exclude each other")}
	case expect != "":
		if _, err := parseExpect(expect); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return []error{fe}
			}
			return []error{fieldErr("expect", "%v", err)}
		}
	}
	return nil
}

// expectation is the parsed expect shorthand: value OP number.
type expectation struct {
	src string
	op  string
	num float64
}

// parseExpect reads "< 0.01"; errors are *FieldError on "expect".
func parseExpect(src string) (expectation, error) {
	const prefix = "value "
	e, err := ParseExpr(prefix + src)
	if err != nil {
		var ee *ExprError
		if errors.As(err, &ee) {
			return expectation{}, &FieldError{Field: "expect", Col: max(ee.Col-len(prefix), 1), Msg: ee.Msg}
		}
		return expectation{}, fieldErr("expect", "%v", err)
	}
	if len(e.or) != 1 || len(e.or[0]) != 1 || e.or[0][0].name != "value" || e.or[0][0].ref != "" {
		return expectation{}, fieldErr("expect", "want one comparison like \"< 0.01\" or \">= 100\", got %q (write outcomes for more)", src)
	}
	c := e.or[0][0]
	return expectation{src: strings.TrimSpace(src), op: c.op, num: c.num}, nil
}

// Build implements Spec.
func (s *MetricsSpec) Build(env Env) (Probe, Outcomes, error) {
	sel, err := ParseSelector(s.Metric)
	if err != nil {
		return nil, nil, fmt.Errorf("metric: %w", err)
	}
	specs := s.Outcomes
	if len(specs) == 0 {
		exp, err := parseExpect(s.Expect)
		if err != nil {
			return nil, nil, err
		}
		specs = []OutcomeSpec{
			{Fail: &RuleSpec{When: "series == 0", Message: "no series matches " + s.Metric}},
			{Pass: &RuleSpec{When: "value " + exp.src}},
			{Fail: &RuleSpec{Message: "value {{value}}, want " + exp.src}},
		}
	}
	rules, err := CompileOutcomes(specs, metricsValues)
	if err != nil {
		return nil, nil, err
	}
	tlsCfg, err := ClientTLS(s.Insecure, s.CACert, s.ServerName)
	if err != nil {
		return nil, nil, err
	}
	p := &metricsProbe{
		url:     s.URL,
		sel:     sel,
		rate:    s.Rate,
		headers: s.Headers,
		env:     env,
		client: &http.Client{
			Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: tlsCfg, ForceAttemptHTTP2: true},
			Timeout:   s.Timeout.Or(10 * time.Second),
		},
	}
	if s.Quantile != nil {
		p.quantile, p.hasQuantile = *s.Quantile, true
	}
	return p, rules, nil
}

type metricsProbe struct {
	url         string
	sel         Selector
	rate        bool
	quantile    float64
	hasQuantile bool
	headers     map[string]string
	env         Env
	client      *http.Client

	mu   sync.Mutex // guards prev
	prev *scrape
}

var _ Probe = (*metricsProbe)(nil)

// scrape is one scrape's matched samples, by series.
type scrape struct {
	at      time.Time
	samples map[model.Fingerprint]*model.Sample
}

func (p *metricsProbe) Observe(ctx context.Context) Observation {
	at := p.env.now()
	vec, err := p.scrape(ctx)
	elapsed := p.env.now().Sub(at)
	if err != nil {
		return Observation{Err: err}
	}
	cur := &scrape{at: at, samples: map[model.Fingerprint]*model.Sample{}}
	for _, s := range vec {
		if p.sel.Matches(s.Metric) {
			cur.samples[s.Metric.Fingerprint()] = s
		}
	}
	p.mu.Lock()
	prev := p.prev
	p.prev = cur
	p.mu.Unlock()

	values := map[string]float64{
		"series":    float64(len(cur.samples)),
		"scrape_ms": float64(elapsed) / float64(time.Millisecond),
	}
	items := seriesItems(cur.samples)
	if len(cur.samples) == 0 {
		return Observation{Summary: "no series matches " + p.sel.String(), Values: values}
	}
	var (
		v    float64
		what string
	)
	switch {
	case p.rate && (prev == nil || !cur.at.After(prev.at)):
		return Observation{Err: fmt.Errorf("%w: first scrape of %s; a rate needs a second one", ErrPending, p.sel), Items: items, Values: values}
	case p.rate:
		dt := cur.at.Sub(prev.at).Seconds()
		inc := increases(prev, cur)
		if p.hasQuantile {
			q, n, err := quantileOf(p.quantile, inc)
			if err != nil {
				return Observation{Err: fmt.Errorf("%s: %w", p.sel, err), Items: items, Values: values}
			}
			if n == 0 {
				return Observation{Err: fmt.Errorf("%s: no observations in the %s between two scrapes", p.sel, cur.at.Sub(prev.at)), Items: items, Values: values}
			}
			v, what = q, fmt.Sprintf("p%s over the last %s (%s observations)", formatValue(p.quantile*100), cur.at.Sub(prev.at), formatValue(n))
		} else {
			var sum float64
			for _, s := range inc {
				sum += float64(s.Value)
			}
			v, what = sum/dt, fmt.Sprintf("rate %s/s over %s", formatValue(sum/dt), cur.at.Sub(prev.at))
		}
	case p.hasQuantile:
		q, n, err := quantileOf(p.quantile, slices.Collect(maps.Values(cur.samples)))
		if err != nil {
			return Observation{Err: fmt.Errorf("%s: %w", p.sel, err), Items: items, Values: values}
		}
		if n == 0 {
			return Observation{Err: fmt.Errorf("%s: no observations yet", p.sel), Items: items, Values: values}
		}
		v, what = q, fmt.Sprintf("p%s of %s observations", formatValue(p.quantile*100), formatValue(n))
	default:
		for _, s := range cur.samples {
			v += float64(s.Value)
		}
		what = "value " + formatValue(v)
	}
	values["value"] = v
	return Observation{
		Summary: fmt.Sprintf("%s: %s (%d series)", p.sel, what, len(cur.samples)),
		Items:   items,
		Values:  values,
	}
}

// scrape fetches and flattens the exposition, as Prometheus would see it
// (histograms as _bucket/_sum/_count series).
func (p *metricsProbe) scrape(ctx context.Context) (model.Vector, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1")
	for k, v := range p.headers {
		req.Header.Set(k, v)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", RedactURL(p.url), UnwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", RedactURL(p.url), resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, maxScrapeBody))
	if err != nil {
		return nil, fmt.Errorf("scrape %s: parse: %w", RedactURL(p.url), err)
	}
	vec, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{Timestamp: model.TimeFromUnixNano(p.env.now().UnixNano())}, slices.Collect(maps.Values(fams))...)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", RedactURL(p.url), err)
	}
	return vec, nil
}

// increases returns, per series present in both scrapes, how much it grew;
// a decrease is a counter reset and counts the new value whole.
func increases(prev, cur *scrape) []*model.Sample {
	out := make([]*model.Sample, 0, len(cur.samples))
	for fp, s := range cur.samples {
		old, ok := prev.samples[fp]
		if !ok {
			continue // a new series: no base to compare with
		}
		d := s.Value - old.Value
		if s.Value < old.Value {
			d = s.Value
		}
		out = append(out, &model.Sample{Metric: s.Metric, Value: d, Timestamp: s.Timestamp})
	}
	return out
}

// quantileOf estimates the q-quantile from cumulative buckets (samples with
// an le label; several series with the same le are summed) the way
// Prometheus' histogram_quantile does: linear interpolation inside the
// bucket the rank falls in. It returns the estimate and the number of
// observations.
func quantileOf(q float64, samples []*model.Sample) (float64, float64, error) {
	byLE := map[float64]float64{}
	for _, s := range samples {
		raw, ok := s.Metric[model.BucketLabel]
		if !ok {
			return 0, 0, fmt.Errorf("series %s has no le label: quantile needs histogram buckets (name_bucket)", s.Metric)
		}
		le, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return 0, 0, fmt.Errorf("series %s: le %q: %w", s.Metric, raw, err)
		}
		byLE[le] += float64(s.Value)
	}
	les := slices.Sorted(maps.Keys(byLE))
	if len(les) < 2 || !math.IsInf(les[len(les)-1], 1) {
		return 0, 0, errors.New("quantile needs at least two buckets, the last le=\"+Inf\"")
	}
	counts := make([]float64, len(les))
	for i, le := range les {
		counts[i] = byLE[le]
		if i > 0 && counts[i] < counts[i-1] {
			counts[i] = counts[i-1] // buckets scraped a moment apart: keep them monotonic
		}
	}
	total := counts[len(counts)-1]
	if total == 0 {
		return 0, 0, nil
	}
	rank := q * total
	b := 0
	for b < len(counts)-1 && counts[b] < rank {
		b++
	}
	switch {
	case b == len(les)-1: // the +Inf bucket: the highest finite bound is all we know
		return les[len(les)-2], total, nil
	case b == 0 && les[0] <= 0:
		return les[0], total, nil
	}
	start, below := 0.0, 0.0
	if b > 0 {
		start, below = les[b-1], counts[b-1]
	}
	inBucket := counts[b] - below
	if inBucket == 0 {
		return les[b], total, nil
	}
	return start + (les[b]-start)*((rank-below)/inBucket), total, nil
}

// seriesItems lists matched series (at most 20) for the details pane. They
// are what was read, not judged: the value is.
func seriesItems(samples map[model.Fingerprint]*model.Sample) []Item {
	const maxItems = 20
	list := slices.SortedFunc(maps.Values(samples), func(a, b *model.Sample) int {
		return strings.Compare(a.Metric.String(), b.Metric.String())
	})
	items := make([]Item, 0, min(len(list), maxItems))
	for i, s := range list {
		if i == maxItems {
			items = append(items, Item{Name: "…", Status: StatusPass, Summary: fmt.Sprintf("%d more series", len(list)-maxItems)})
			break
		}
		items = append(items, Item{Name: s.Metric.String(), Status: StatusPass, Summary: formatValue(float64(s.Value))})
	}
	return items
}

// Selector is a PromQL instant-vector selector without range or offset:
// a metric name and label matchers.
type Selector struct {
	Name     string
	Matchers []LabelMatcher
}

// LabelMatcher matches one label: Op is =, !=, =~ or !~ (regular
// expressions are anchored, as in PromQL). A missing label has value "".
type LabelMatcher struct {
	Name  string
	Op    string
	Value string
	re    *regexp.Regexp
}

// Matches reports whether the label value v satisfies the matcher.
func (m LabelMatcher) Matches(v string) bool {
	switch m.Op {
	case "=":
		return v == m.Value
	case "!=":
		return v != m.Value
	case "=~":
		return m.re.MatchString(v)
	case "!~":
		return !m.re.MatchString(v)
	}
	return false
}

func (m LabelMatcher) String() string { return m.Name + m.Op + strconv.Quote(m.Value) }

// Matches reports whether a series matches the selector.
func (s Selector) Matches(m model.Metric) bool {
	if s.Name != "" && string(m[model.MetricNameLabel]) != s.Name {
		return false
	}
	for _, lm := range s.Matchers {
		if !lm.Matches(string(m[model.LabelName(lm.Name)])) {
			return false
		}
	}
	return true
}

func (s Selector) String() string {
	if len(s.Matchers) == 0 {
		return s.Name
	}
	parts := make([]string, len(s.Matchers))
	for i, m := range s.Matchers {
		parts[i] = m.String()
	}
	return s.Name + "{" + strings.Join(parts, ",") + "}"
}

// ParseSelector parses `name{label="v",other=~"re"}`; the name is required.
// Errors are *ExprError with the column.
func ParseSelector(src string) (Selector, error) {
	p := exprParser{src: src}
	p.space()
	start := p.pos
	for p.pos < len(src) && isMetricNameByte(src[p.pos], p.pos == start) {
		p.pos++
	}
	if p.pos == start {
		return Selector{}, p.errorf("want a metric name, got %q", p.rest())
	}
	sel := Selector{Name: src[start:p.pos]}
	p.space()
	if p.pos == len(src) {
		return sel, nil
	}
	if !p.eat("{") {
		return Selector{}, p.errorf("want { or the end, got %q", p.rest())
	}
	ms, err := p.matchers("}")
	if err != nil {
		return Selector{}, err
	}
	sel.Matchers = ms
	p.space()
	if p.pos != len(src) {
		return Selector{}, p.errorf("want the end after }, got %q", p.rest())
	}
	return sel, nil
}

// ParseMatcher parses one label matcher, `severity="critical"` or
// `alertname=~"Gravl.*"`. Errors are *ExprError with the column.
func ParseMatcher(src string) (LabelMatcher, error) {
	p := exprParser{src: src}
	m, err := p.matcher()
	if err != nil {
		return LabelMatcher{}, err
	}
	p.space()
	if p.pos != len(src) {
		return LabelMatcher{}, p.errorf("want the end after the matcher, got %q", p.rest())
	}
	return m, nil
}

// matchers reads `a="b", c!~"d"` up to the closing token (a trailing comma
// is allowed, as in PromQL).
func (p *exprParser) matchers(closing string) ([]LabelMatcher, error) {
	var ms []LabelMatcher
	for {
		p.space()
		if p.eat(closing) {
			return ms, nil
		}
		m, err := p.matcher()
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
		p.space()
		if p.eat(",") {
			continue
		}
		if p.eat(closing) {
			return ms, nil
		}
		if p.pos == len(p.src) {
			return nil, p.errorf("want , or %s, got the end", closing)
		}
		return nil, p.errorf("want , or %s, got %q", closing, p.rest())
	}
}

func (p *exprParser) matcher() (LabelMatcher, error) {
	p.space()
	m := LabelMatcher{Name: p.name(isLabelNameByte)}
	if m.Name == "" {
		return LabelMatcher{}, p.errorf("want a label name, got %q", p.rest())
	}
	p.space()
	if m.Op = p.operator("=~", "!~", "!=", "="); m.Op == "" {
		return LabelMatcher{}, p.errorf("want one of = != =~ !~ after %q", m.Name)
	}
	p.space()
	valStart := p.pos
	if p.pos == len(p.src) || (p.src[p.pos] != '"' && p.src[p.pos] != '\'' && p.src[p.pos] != '`') {
		return LabelMatcher{}, p.errorf("want a quoted value, got %q", p.rest())
	}
	quote := p.src[p.pos]
	p.pos++
	for p.pos < len(p.src) && p.src[p.pos] != quote {
		if p.src[p.pos] == '\\' && quote != '`' {
			p.pos++
		}
		p.pos++
	}
	if p.pos >= len(p.src) {
		p.pos = valStart
		return LabelMatcher{}, p.errorf("unterminated string")
	}
	p.pos++
	lit := p.src[valStart:p.pos]
	if quote == '\'' { // PromQL allows single quotes; strconv does not
		lit = `"` + strings.ReplaceAll(strings.ReplaceAll(lit[1:len(lit)-1], `\'`, `'`), `"`, `\"`) + `"`
	}
	v, err := strconv.Unquote(lit)
	if err != nil {
		p.pos = valStart
		return LabelMatcher{}, p.errorf("bad string %s: %v", p.src[valStart:min(valStart+20, len(p.src))], err)
	}
	m.Value = v
	if m.Op == "=~" || m.Op == "!~" {
		re, err := regexp.Compile("^(?:" + v + ")$")
		if err != nil {
			p.pos = valStart
			return LabelMatcher{}, p.errorf("bad regular expression: %v", err)
		}
		m.re = re
	}
	return m, nil
}

func isMetricNameByte(b byte, first bool) bool {
	return b == ':' || isLabelNameByte(b, first)
}

func isLabelNameByte(b byte, first bool) bool {
	switch {
	case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b == '_':
		return true
	case b >= '0' && b <= '9':
		return !first
	}
	return false
}

// selectorFieldErr turns a selector or matcher error into a *FieldError.
func selectorFieldErr(field string, err error) error {
	var ee *ExprError
	if errors.As(err, &ee) {
		return &FieldError{Field: field, Col: ee.Col, Msg: ee.Msg}
	}
	return fieldErr(field, "%v", err)
}
