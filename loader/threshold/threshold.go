package threshold

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kind is a metric's type, which fixes the aggregations it accepts.
type Kind int

// Metric kinds.
const (
	// Trend metrics are distributions of durations in milliseconds:
	// avg, min, max, med, p(N) and count apply.
	Trend Kind = iota + 1
	// Rate metrics are the fraction of samples that are true: rate applies.
	Rate
	// Counter metrics only grow: count and rate (per second) apply.
	Counter
)

func (k Kind) String() string {
	switch k {
	case Trend:
		return "trend"
	case Rate:
		return "rate"
	case Counter:
		return "counter"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// The metrics the loader records, by name.
var metrics = map[string]Kind{
	"http_req_duration":        Trend, // corrected for coordinated omission in open models
	"http_req_dns":             Trend, // DNS lookup, on new connections only
	"http_req_connecting":      Trend, // TCP connect, on new connections only
	"http_req_tls_handshaking": Trend, // TLS handshake, on new connections only
	"http_req_sending":         Trend,
	"http_req_waiting":         Trend, // time to first byte after sending
	"http_req_receiving":       Trend,
	"http_req_failed":          Rate, // transport error or status >= 400
	"checks":                   Rate, // response checks that passed
	"errors":                   Rate, // requests with any error class, failed checks included
	"http_reqs":                Counter,
	"iterations":               Counter,
	"dropped_iterations":       Counter,
	"data_received":            Counter, // bytes
	"data_sent":                Counter, // bytes
}

// MetricKind returns the kind of the named metric and whether it is known.
func MetricKind(name string) (Kind, bool) {
	k, ok := metrics[name]
	return k, ok
}

// Metrics returns the known metric names, sorted.
func Metrics() []string {
	names := make([]string, 0, len(metrics))
	for n := range metrics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Func is an aggregation function.
type Func int

// Aggregation functions.
const (
	Avg Func = iota + 1
	Min
	Max
	Med
	Percentile // p(N)
	Count
	RateFunc // rate: a fraction for Rate metrics, per second for Counter metrics
)

var funcNames = map[string]Func{
	"avg": Avg, "min": Min, "max": Max, "med": Med, "count": Count, "rate": RateFunc,
}

// Aggregation is a function applied to a metric's samples.
type Aggregation struct {
	Func Func
	// P is the percentile for Percentile, in [0, 100].
	P float64
}

func (a Aggregation) String() string {
	switch a.Func {
	case Avg:
		return "avg"
	case Min:
		return "min"
	case Max:
		return "max"
	case Med:
		return "med"
	case Percentile:
		return "p(" + strconv.FormatFloat(a.P, 'g', -1, 64) + ")"
	case Count:
		return "count"
	case RateFunc:
		return "rate"
	}
	return fmt.Sprintf("Func(%d)", int(a.Func))
}

// appliesTo reports whether the aggregation is defined for the kind.
func (a Aggregation) appliesTo(k Kind) bool {
	switch k {
	case Trend:
		return a.Func != RateFunc
	case Rate:
		return a.Func == RateFunc
	case Counter:
		return a.Func == Count || a.Func == RateFunc
	}
	return false
}

// Op is a comparison operator.
type Op int

// Comparison operators.
const (
	Less Op = iota + 1
	LessEq
	Greater
	GreaterEq
	Equal
	NotEqual
)

func (o Op) String() string {
	switch o {
	case Less:
		return "<"
	case LessEq:
		return "<="
	case Greater:
		return ">"
	case GreaterEq:
		return ">="
	case Equal:
		return "=="
	case NotEqual:
		return "!="
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

// Compare reports whether "a op b" holds.
func (o Op) Compare(a, b float64) bool {
	switch o {
	case Less:
		return a < b
	case LessEq:
		return a <= b
	case Greater:
		return a > b
	case GreaterEq:
		return a >= b
	case Equal:
		return a == b
	case NotEqual:
		return a != b
	}
	return false
}

// Limits on the window of "over".
const (
	// MinWindow is the shortest window: the loader keeps one-second intervals.
	MinWindow = time.Second
	// MaxWindow is the longest window, which bounds the intervals kept.
	MaxWindow = time.Hour
)

// Threshold is one parsed threshold on one metric.
type Threshold struct {
	// Metric is the metric name, e.g. "http_req_duration".
	Metric string
	// Agg is the aggregation compared, e.g. p(95).
	Agg Aggregation
	// Op compares the aggregated value with Value.
	Op Op
	// Value is the bound, in the metric's unit.
	Value float64
	// Window, when non-zero, evaluates over the last Window of the run only
	// (whole seconds), instead of the whole run.
	Window time.Duration
	// AbortOnFail stops the test (gracefully) as soon as the threshold fails
	// during the run.
	AbortOnFail bool
	// DelayAbortEval holds back AbortOnFail until this much of the run has
	// elapsed, so a cold start does not abort the test.
	DelayAbortEval time.Duration
}

// Expr returns the expression in canonical form, e.g. "p(95)<200 over 30s".
// It parses back to the same aggregation, operator, value and window.
func (t Threshold) Expr() string {
	s := t.Agg.String() + t.Op.String() + strconv.FormatFloat(t.Value, 'g', -1, 64)
	if t.Window > 0 {
		s += " over " + formatWindow(t.Window)
	}
	return s
}

// String returns "metric: expr" followed by the options that are set, the
// form ParseLine reads.
func (t Threshold) String() string {
	s := t.Metric + ": " + t.Expr()
	if t.AbortOnFail {
		s += ", abortOnFail"
	}
	if t.DelayAbortEval > 0 {
		s += ", delayAbortEval=" + t.DelayAbortEval.String()
	}
	return s
}

// Kind returns the kind of the threshold's metric.
func (t Threshold) Kind() Kind { return metrics[t.Metric] }

// Eval judges an aggregated value. ok is false when the metric has no
// samples to aggregate, and then the threshold fails: a threshold nobody
// measured has not passed.
func (t Threshold) Eval(value float64, ok bool) bool {
	if !ok || math.IsNaN(value) {
		return false
	}
	return t.Op.Compare(value, t.Value)
}

func formatWindow(d time.Duration) string {
	s := d.String()
	// time.Duration prints "1m0s"; trim the zero units for readability.
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// ErrUnknownMetric is wrapped by the SyntaxError for a metric name the
// loader does not record.
var ErrUnknownMetric = errors.New("unknown metric")

// SyntaxError is a malformed threshold. Column points at the offending
// character of Input, counting characters (not bytes) from 1; a column one
// past the end means the input ended too early.
type SyntaxError struct {
	// Input is the text Column points into: the expression for Parse, the
	// whole line for ParseLine, the metric name for an unknown metric.
	Input string
	// Column is the 1-based character position in Input.
	Column int
	// Msg says what is wrong.
	Msg string
	// Err is a sentinel the caller may test with errors.Is (ErrUnknownMetric),
	// or nil.
	Err error
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("threshold %q: column %d: %s", e.Input, e.Column, e.Msg)
}

// Unwrap returns the sentinel, if any.
func (e *SyntaxError) Unwrap() error { return e.Err }

// Caret renders Input with a caret under the offending character:
//
//	p(95<200
//	    ^
func (e *SyntaxError) Caret() string {
	col := e.Column
	if col < 1 {
		col = 1
	}
	return e.Input + "\n" + strings.Repeat(" ", col-1) + "^"
}

// Parse parses expr, a threshold expression such as "p(95)<200" or
// "rate<0.01 over 1m", on the named metric. Errors are *SyntaxError.
func Parse(metric, expr string) (Threshold, error) {
	kind, ok := metrics[metric]
	if !ok {
		return Threshold{}, unknownMetric(metric, metric, 0)
	}
	p := &parser{in: expr}
	t, err := p.expr(kind)
	if err != nil {
		return Threshold{}, err
	}
	t.Metric = metric
	return t, nil
}

// ParseLine parses the command-line form "metric: expr[, option]…", e.g.
//
//	http_req_duration: p(95)<200 over 30s, abortOnFail, delayAbortEval=10s
//
// Options are abortOnFail (or abortOnFail=true|false) and
// delayAbortEval=DURATION. Errors are *SyntaxError with Column in line.
func ParseLine(line string) (Threshold, error) {
	p := &parser{in: line}
	p.space()
	start := p.pos
	for p.pos < len(p.in) && isIdent(p.in[p.pos]) {
		p.pos++
	}
	metric := p.in[start:p.pos]
	if metric == "" {
		return Threshold{}, p.errAt(start, "expected a metric name such as http_req_duration")
	}
	if p.pos < len(p.in) && p.in[p.pos] == '{' {
		return Threshold{}, p.errAt(p.pos, "sub-metrics (tags in braces) are not supported")
	}
	kind, ok := metrics[metric]
	if !ok {
		return Threshold{}, unknownMetric(line, metric, start)
	}
	p.space()
	if !p.eat(":") {
		return Threshold{}, p.errAt(p.pos, `expected ":" after the metric name`)
	}
	// The expression runs to the first comma; options follow.
	end := strings.IndexByte(p.in[p.pos:], ',')
	if end < 0 {
		end = len(p.in)
	} else {
		end += p.pos
	}
	sub := &parser{in: p.in[:end], pos: p.pos}
	t, err := sub.expr(kind)
	if err != nil {
		var se *SyntaxError
		if errors.As(err, &se) {
			se.Input = line
		}
		return Threshold{}, err
	}
	t.Metric = metric
	p.pos = end
	for p.pos < len(p.in) {
		p.pos++ // the comma
		if err := p.option(&t); err != nil {
			return Threshold{}, err
		}
	}
	return t, nil
}

func unknownMetric(input, metric string, at int) error {
	msg := fmt.Sprintf("unknown metric %q (known: %s)", metric, strings.Join(Metrics(), ", "))
	p := &parser{in: input}
	e := p.errAt(at, "%s", msg).(*SyntaxError)
	e.Err = ErrUnknownMetric
	return e
}

// parser is a hand-written scanner over one input; pos is a byte offset.
type parser struct {
	in  string
	pos int
}

func (p *parser) errAt(pos int, format string, args ...any) error {
	if pos > len(p.in) {
		pos = len(p.in)
	}
	return &SyntaxError{
		Input:  p.in,
		Column: len([]rune(p.in[:pos])) + 1,
		Msg:    fmt.Sprintf(format, args...),
	}
}

func (p *parser) space() {
	for p.pos < len(p.in) && (p.in[p.pos] == ' ' || p.in[p.pos] == '\t') {
		p.pos++
	}
}

func (p *parser) eat(s string) bool {
	if strings.HasPrefix(p.in[p.pos:], s) {
		p.pos += len(s)
		return true
	}
	return false
}

func isIdent(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// quote renders the rest of the input from pos for an error message.
func (p *parser) rest(pos int) string {
	r := p.in[pos:]
	if len(r) > 20 {
		r = r[:20] + "…"
	}
	return strconv.Quote(r)
}

// expr parses: agg op number ["over" duration], up to the end of p.in.
func (p *parser) expr(kind Kind) (Threshold, error) {
	var t Threshold
	p.space()
	aggAt := p.pos
	agg, err := p.aggregation()
	if err != nil {
		return t, err
	}
	if !agg.appliesTo(kind) {
		return t, p.errAt(aggAt, "%s does not apply to a %s metric (use %s)", agg, kind, allowed(kind))
	}
	t.Agg = agg
	p.space()
	if t.Op, err = p.operator(); err != nil {
		return t, err
	}
	p.space()
	if t.Value, err = p.number(); err != nil {
		return t, err
	}
	if p.pos < len(p.in) && isLetter(p.in[p.pos]) && !strings.HasPrefix(p.in[p.pos:], "over") {
		return t, p.errAt(p.pos, "unexpected %s: a value is a plain number (milliseconds for durations, a fraction for rates)", p.rest(p.pos))
	}
	p.space()
	if strings.HasPrefix(p.in[p.pos:], "over") {
		overAt := p.pos
		p.pos += len("over")
		if p.pos < len(p.in) && isIdent(p.in[p.pos]) {
			return t, p.errAt(overAt, "unexpected %s", p.rest(overAt))
		}
		p.space()
		if t.Window, err = p.window(); err != nil {
			return t, err
		}
		p.space()
	}
	if p.pos < len(p.in) {
		return t, p.errAt(p.pos, "unexpected %s after the threshold", p.rest(p.pos))
	}
	return t, nil
}

func allowed(k Kind) string {
	switch k {
	case Trend:
		return "avg, min, max, med, p(N) or count"
	case Rate:
		return "rate"
	default:
		return "count or rate"
	}
}

func (p *parser) aggregation() (Aggregation, error) {
	start := p.pos
	for p.pos < len(p.in) && isLetter(p.in[p.pos]) {
		p.pos++
	}
	name := p.in[start:p.pos]
	if name == "" {
		return Aggregation{}, p.errAt(start, "expected an aggregation: avg, min, max, med, p(N), count or rate")
	}
	if name == "p" {
		p.space()
		if !p.eat("(") {
			return Aggregation{}, p.errAt(p.pos, `expected "(" after p, as in p(95)`)
		}
		p.space()
		numAt := p.pos
		v, err := p.number()
		if err != nil {
			return Aggregation{}, err
		}
		if v < 0 || v > 100 {
			return Aggregation{}, p.errAt(numAt, "percentile %g is outside 0–100", v)
		}
		p.space()
		if !p.eat(")") {
			return Aggregation{}, p.errAt(p.pos, `expected ")" to close p(`)
		}
		return Aggregation{Func: Percentile, P: v}, nil
	}
	f, ok := funcNames[name]
	if !ok {
		return Aggregation{}, p.errAt(start, "unknown aggregation %q: want avg, min, max, med, p(N), count or rate", name)
	}
	return Aggregation{Func: f}, nil
}

func (p *parser) operator() (Op, error) {
	// Longest match first; k6 also accepts "===".
	for _, o := range []struct {
		s  string
		op Op
	}{{"<=", LessEq}, {">=", GreaterEq}, {"===", Equal}, {"==", Equal}, {"!=", NotEqual}, {"<", Less}, {">", Greater}} {
		if p.eat(o.s) {
			return o.op, nil
		}
	}
	if p.pos < len(p.in) && p.in[p.pos] == '=' {
		return 0, p.errAt(p.pos, `"=" is not a comparison: use "=="`)
	}
	return 0, p.errAt(p.pos, "expected a comparison operator: <, <=, >, >=, == or !=")
}

// number scans [+-]digits[.digits][e[+-]digits].
func (p *parser) number() (float64, error) {
	start := p.pos
	i := p.pos
	if i < len(p.in) && (p.in[i] == '+' || p.in[i] == '-') {
		i++
	}
	digits := 0
	for i < len(p.in) && p.in[i] >= '0' && p.in[i] <= '9' {
		i++
		digits++
	}
	if i < len(p.in) && p.in[i] == '.' {
		i++
		for i < len(p.in) && p.in[i] >= '0' && p.in[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0, p.errAt(start, "expected a number")
	}
	if i < len(p.in) && (p.in[i] == 'e' || p.in[i] == 'E') {
		j := i + 1
		if j < len(p.in) && (p.in[j] == '+' || p.in[j] == '-') {
			j++
		}
		expDigits := 0
		for j < len(p.in) && p.in[j] >= '0' && p.in[j] <= '9' {
			j++
			expDigits++
		}
		if expDigits > 0 {
			i = j
		}
	}
	v, err := strconv.ParseFloat(p.in[start:i], 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, p.errAt(start, "number %q is out of range", p.in[start:i])
	}
	p.pos = i
	return v, nil
}

func (p *parser) window() (time.Duration, error) {
	start := p.pos
	for p.pos < len(p.in) && (isIdent(p.in[p.pos]) || p.in[p.pos] == '.') {
		p.pos++
	}
	s := p.in[start:p.pos]
	if s == "" {
		return 0, p.errAt(start, `expected a window after "over", e.g. 30s`)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, p.errAt(start, "window %q is not a duration such as 30s or 5m", s)
	}
	if d < MinWindow || d > MaxWindow || d%time.Second != 0 {
		return 0, p.errAt(start, "window %s must be whole seconds from %s to %s", s, MinWindow, MaxWindow)
	}
	return d, nil
}

// option parses one ", option" of ParseLine; p.pos is after the comma.
func (p *parser) option(t *Threshold) error {
	p.space()
	start := p.pos
	for p.pos < len(p.in) && isIdent(p.in[p.pos]) {
		p.pos++
	}
	name := p.in[start:p.pos]
	p.space()
	var val string
	valAt := p.pos
	if p.eat("=") {
		p.space()
		valAt = p.pos
		for p.pos < len(p.in) && p.in[p.pos] != ',' && p.in[p.pos] != ' ' && p.in[p.pos] != '\t' {
			p.pos++
		}
		val = p.in[valAt:p.pos]
		if val == "" {
			return p.errAt(valAt, "expected a value after %q", name+"=")
		}
		p.space()
	}
	if p.pos < len(p.in) && p.in[p.pos] != ',' {
		return p.errAt(p.pos, "unexpected %s in options", p.rest(p.pos))
	}
	switch name {
	case "abortOnFail":
		switch val {
		case "", "true":
			t.AbortOnFail = true
		case "false":
			t.AbortOnFail = false
		default:
			return p.errAt(valAt, "abortOnFail takes true or false, not %q", val)
		}
	case "delayAbortEval":
		if val == "" {
			return p.errAt(valAt, "delayAbortEval needs a duration, e.g. delayAbortEval=10s")
		}
		d, err := time.ParseDuration(val)
		if err != nil || d < 0 {
			return p.errAt(valAt, "delayAbortEval %q is not a non-negative duration such as 10s", val)
		}
		t.DelayAbortEval = d
	case "":
		return p.errAt(start, "expected an option: abortOnFail or delayAbortEval=DURATION")
	default:
		return p.errAt(start, "unknown option %q: want abortOnFail or delayAbortEval=DURATION", name)
	}
	return nil
}
