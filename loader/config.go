package loader

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cockpit-dev/cockpit/loader/threshold"
)

// ExecutorKind names an executor, with k6's names.
type ExecutorKind string

// Executors. The VU models are closed: a VU sends its next request when the
// previous one is done (plus think time), so a slow target slows the load.
// The arrival-rate models are open: iterations start on a schedule whatever
// the target does, and latency is also recorded from the intended start.
const (
	ConstantVUs         ExecutorKind = "constant-vus"
	RampingVUs          ExecutorKind = "ramping-vus"
	ConstantArrivalRate ExecutorKind = "constant-arrival-rate"
	RampingArrivalRate  ExecutorKind = "ramping-arrival-rate"
)

// Open reports whether the executor is an open (arrival-rate) model.
func (k ExecutorKind) Open() bool { return k == ConstantArrivalRate || k == RampingArrivalRate }

// Stage is one step of a ramping executor: the target (VUs, or total
// iterations per second) is reached linearly over Duration.
type Stage struct {
	Duration time.Duration
	Target   float64
}

// Executor says how iterations are scheduled. One iteration sends one
// request, picked by weight from Config.Requests.
type Executor struct {
	Kind ExecutorKind
	// VUs is the number of VUs of constant-vus, and the starting number of
	// ramping-vus.
	VUs int
	// Duration is how long constant-vus and constant-arrival-rate run; the
	// ramping executors take it from their stages.
	Duration time.Duration
	// Iterations, when positive, stops the run after that many iterations
	// in total.
	Iterations int64
	// ThinkTime is a pause after each iteration of a closed model.
	ThinkTime time.Duration
	// Stages drive the ramping executors.
	Stages []Stage
	// Rate is the total iterations per second of constant-arrival-rate and
	// the starting rate of ramping-arrival-rate.
	Rate float64
	// PreAllocatedVUs are started up front by the arrival-rate executors.
	// When neither it nor MaxVUs is set, the VUs are sized from the rate
	// (see AutoVUs); when only MaxVUs is, it is AutoVUs's pool, at most
	// MaxVUs.
	PreAllocatedVUs int
	// MaxVUs caps the VUs an arrival-rate executor may start when the
	// pre-allocated ones are busy (default PreAllocatedVUs when that is
	// set, as in k6; AutoVUs's bound when neither is).
	MaxVUs int
	// MaxLag is how late an arrival-rate iteration may start; one later than
	// that is dropped and counted in dropped_iterations. Iterations that
	// start late but within MaxLag are recorded with their lateness in the
	// corrected latency. An iteration due before the end of the duration
	// but not started by then is dropped too. Default 2s.
	MaxLag time.Duration
	// GracefulStop is how long in-flight requests may finish after the run
	// ends before they are cancelled (default 30s; negative: cancel at once).
	GracefulStop time.Duration

	autoVUs bool // MaxVUs came from AutoVUs: it follows the rate
}

// PeakRate is the highest rate an arrival-rate executor's plan reaches:
// Rate, or the highest stage target.
func (e Executor) PeakRate() float64 {
	peak := e.Rate
	for _, s := range e.Stages {
		peak = max(peak, s.Target)
	}
	return peak
}

// Automatic VU sizing of the arrival-rate executors.
const (
	// AutoMaxVUs caps the VUs sized from the rate: at most this many
	// requests in flight, and as many connections.
	AutoMaxVUs = 10_000
	// AutoPreAllocatedVUs caps the VUs started up front.
	AutoPreAllocatedVUs = 100
	// autoPoolLatency sizes the pool started up front: enough VUs for the
	// peak rate when responses take this long.
	autoPoolLatency = 50 * time.Millisecond
)

// AutoVUs sizes an arrival-rate executor whose VUs are not given: a small
// pool started up front (peakRate × 50ms, from 1 to 100), and a bound it
// may grow to on demand. The bound is peakRate × timeout, rounded up — no
// more requests than that can ever be in flight, since each one ends by
// its timeout — capped at AutoMaxVUs.
func AutoVUs(peakRate float64, timeout time.Duration) (preAllocated, maxVUs int) {
	most := math.Ceil(peakRate * timeout.Seconds())
	maxVUs = int(min(max(most, 1), AutoMaxVUs))
	pre := math.Ceil(peakRate * autoPoolLatency.Seconds())
	preAllocated = int(min(max(pre, 1), AutoPreAllocatedVUs))
	return min(preAllocated, maxVUs), maxVUs
}

// Request is one request an iteration may send.
type Request struct {
	// Name labels the request in output (default "METHOD path").
	Name string
	// Method defaults to GET.
	Method string
	// URL is absolute, or a path resolved against Config.BaseURL.
	URL string
	// Header is sent with every request. Authorization and Cookie values are
	// never rendered by the loader.
	Header http.Header
	// Body is sent with every request.
	Body []byte
	// Weight is the relative share of iterations (default 1).
	Weight int
	// Checks judge the response; their outcome feeds the checks rate.
	Checks Checks
}

// Checks are optional response checks; each one set counts once per response
// in the checks rate, and a failed check makes the request count as errored.
type Checks struct {
	// Status passes when the status code is one of these.
	Status []int
	// BodyContains passes when the body contains this text.
	BodyContains string
	// JSON pass when the body is JSON and each field equals its value.
	JSON []JSONCheck
}

func (c Checks) count() int {
	n := len(c.JSON)
	if len(c.Status) > 0 {
		n++
	}
	if c.BodyContains != "" {
		n++
	}
	return n
}

// JSONCheck compares one field of a JSON response body.
type JSONCheck struct {
	// Path is a dot-separated path of object keys and array indexes, e.g.
	// "data.items.0.status".
	Path string
	// Equals is the expected value, compared as JSON (1 equals 1.0).
	Equals any
}

// ClientKind selects the HTTP client implementation.
type ClientKind string

// HTTP clients. ClientAuto uses the lean HTTP/1.1 client unless HTTP2 is set.
const (
	ClientAuto ClientKind = ""
	// ClientH1 is the loader's own HTTP/1.1 client: one keep-alive connection
	// per VU and host, no per-request allocation.
	ClientH1 ClientKind = "h1"
	// ClientNetHTTP is net/http's Transport, which HTTP/2 requires.
	ClientNetHTTP ClientKind = "net/http"
)

// Config is a load test.
type Config struct {
	Executor Executor
	// Requests are picked by weight, one per iteration.
	Requests []Request
	// BaseURL resolves request URLs that are paths.
	BaseURL string
	// Timeout bounds each request, connection set-up included (default 10s).
	Timeout time.Duration
	// HTTP2 speaks HTTP/2: negotiated by ALPN over TLS, and with prior
	// knowledge (h2c) over http:// URLs.
	HTTP2 bool
	// Insecure skips TLS certificate verification.
	Insecure bool
	// RootCAs verifies servers instead of the system pool.
	RootCAs *x509.CertPool
	// Client selects the HTTP client (default: h1, or net/http for HTTP2).
	Client ClientKind
	// Thresholds are evaluated live and at the end.
	Thresholds []threshold.Threshold
	// Window is the span of Snapshot.Window, in whole seconds (default 10s).
	Window time.Duration
	// SnapshotInterval is the time between snapshots (default and minimum
	// 100ms: at most 10 a second).
	SnapshotInterval time.Duration
	// HDRLog, when set, receives the latency histogram of every one-second
	// interval in HdrHistogram's interval log format (values in µs).
	HDRLog io.Writer
	// Intervals, when set (whole seconds), makes snapshots carry an
	// Interval record every Intervals of the run (Snapshot.Intervals;
	// IntervalLength is the runbook's rule).
	Intervals time.Duration
	// Clock is the time source (default: the real clock).
	Clock Clock
	// UserAgent is sent unless a request sets its own (default "cockpit-load").
	UserAgent string
}

// Defaults.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultWindow           = 10 * time.Second
	DefaultSnapshotInterval = 100 * time.Millisecond
	DefaultGracefulStop     = 30 * time.Second
	DefaultMaxLag           = 2 * time.Second
	maxVUs                  = 100_000
	maxRate                 = 10_000_000
)

// FieldError is an invalid configuration field. Path names it the way the
// runbook and the config file spell it, e.g. "executor.vus" or
// "requests[1].url".
type FieldError struct {
	Path string
	Err  error
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// Field is the path without its indices and keys — "requests.url",
// "requests.headers", "executor.stages.target", "thresholds" — the name
// of the field whatever element of a list or map it is in.
func (e *FieldError) Field() string {
	var b strings.Builder
	depth := 0
	for _, r := range e.Path {
		switch {
		case r == '[':
			depth++
		case r == ']':
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Index is the first list index in the path (requests[2].url → 2), or -1.
func (e *FieldError) Index() int {
	_, rest, ok := strings.Cut(e.Path, "[")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(strings.SplitN(rest, "]", 2)[0])
	if err != nil {
		return -1
	}
	return n
}

func fieldErr(path, format string, args ...any) error {
	return &FieldError{Path: path, Err: fmt.Errorf(format, args...)}
}

// Validate checks the configuration without running it. Run calls it too.
func (c Config) Validate() error {
	_, err := c.normalize()
	return err
}

// normalize validates c and returns it with defaults filled in.
func (c Config) normalize() (Config, error) {
	if err := c.Executor.normalize(&c.Executor); err != nil {
		return c, err
	}
	if c.Timeout < 0 {
		return c, fieldErr("timeout", "must be > 0, got %s", c.Timeout)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if e := &c.Executor; e.Kind.Open() && e.PreAllocatedVUs == 0 {
		pre, most := AutoVUs(e.PeakRate(), c.Timeout)
		if e.MaxVUs == 0 {
			e.MaxVUs, e.autoVUs = most, true
		}
		e.PreAllocatedVUs = min(pre, e.MaxVUs)
	}
	switch c.Client {
	case ClientAuto, ClientNetHTTP:
	case ClientH1:
		if c.HTTP2 {
			return c, fieldErr("client", "the h1 client cannot speak HTTP/2")
		}
	default:
		return c, fieldErr("client", "unknown client %q (want h1 or net/http)", c.Client)
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Window < time.Second || c.Window > threshold.MaxWindow || c.Window%time.Second != 0 {
		return c, fieldErr("window", "must be whole seconds from 1s to %s, got %s", threshold.MaxWindow, c.Window)
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = DefaultSnapshotInterval
	}
	if c.SnapshotInterval < DefaultSnapshotInterval {
		return c, fieldErr("snapshotInterval", "must be at least %s (10 snapshots a second), got %s", DefaultSnapshotInterval, c.SnapshotInterval)
	}
	if c.Intervals < 0 || c.Intervals%time.Second != 0 {
		return c, fieldErr("intervals", "must be whole seconds, got %s", c.Intervals)
	}
	if c.UserAgent == "" {
		c.UserAgent = "cockpit-load"
	}
	if c.BaseURL != "" {
		if _, err := parseTarget(c.BaseURL); err != nil {
			return c, &FieldError{Path: "target", Err: err}
		}
	}
	if len(c.Requests) == 0 {
		return c, fieldErr("requests", "at least one request is needed")
	}
	reqs := make([]Request, len(c.Requests))
	for i, r := range c.Requests {
		path := fmt.Sprintf("requests[%d]", i)
		if r.Weight < 0 || r.Weight > 1000 {
			return c, fieldErr(path+".weight", "must be from 1 to 1000, got %d", r.Weight)
		}
		if err := r.normalize(path, c.BaseURL); err != nil {
			return c, err
		}
		reqs[i] = r
	}
	c.Requests = reqs
	for i, t := range c.Thresholds {
		if _, ok := threshold.MetricKind(t.Metric); !ok {
			return c, fieldErr(fmt.Sprintf("thresholds[%d]", i), "unknown metric %q", t.Metric)
		}
		if t.Window != 0 && (t.Window < threshold.MinWindow || t.Window > threshold.MaxWindow || t.Window%time.Second != 0) {
			return c, fieldErr(fmt.Sprintf("thresholds[%d]", i), "window must be whole seconds from 1s to %s", threshold.MaxWindow)
		}
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	return c, nil
}

func (e Executor) normalize(out *Executor) error {
	if e.Iterations < 0 {
		return fieldErr("executor.iterations", "must be >= 0, got %d", e.Iterations)
	}
	if e.GracefulStop == 0 {
		e.GracefulStop = DefaultGracefulStop
	}
	if e.ThinkTime < 0 {
		return fieldErr("executor.thinkTime", "must be >= 0, got %s", e.ThinkTime)
	}
	if e.ThinkTime > 0 && e.Kind.Open() {
		return fieldErr("executor.thinkTime", "applies to constant-vus and ramping-vus only; an arrival rate sets the pace")
	}
	switch e.Kind {
	case ConstantVUs, ConstantArrivalRate:
		if len(e.Stages) > 0 {
			return fieldErr("executor.stages", "apply to the ramping executors only, not %s", e.Kind)
		}
		if e.Duration <= 0 {
			return fieldErr("executor.duration", "must be > 0, got %s", e.Duration)
		}
	case RampingVUs, RampingArrivalRate:
		if len(e.Stages) == 0 {
			return fieldErr("executor.stages", "%s needs at least one stage", e.Kind)
		}
		if e.Duration != 0 {
			return fieldErr("executor.duration", "is set by the stages of %s; leave it out", e.Kind)
		}
		var total time.Duration
		for i, s := range e.Stages {
			p := fmt.Sprintf("executor.stages[%d]", i)
			if s.Duration < 0 {
				return fieldErr(p+".duration", "must be >= 0, got %s", s.Duration)
			}
			if s.Target < 0 || math.IsNaN(s.Target) || math.IsInf(s.Target, 0) {
				return fieldErr(p+".target", "must be >= 0, got %v", s.Target)
			}
			if e.Kind == RampingVUs && (s.Target != math.Trunc(s.Target) || s.Target > maxVUs) {
				return fieldErr(p+".target", "must be a whole number of VUs up to %d, got %v", maxVUs, s.Target)
			}
			if e.Kind == RampingArrivalRate && s.Target > maxRate {
				return fieldErr(p+".target", "must be at most %d/s, got %v", maxRate, s.Target)
			}
			total += s.Duration
		}
		if total <= 0 {
			return fieldErr("executor.stages", "last no time at all")
		}
		e.Duration = total
	case "":
		return fieldErr("executor.kind", "is required (constant-vus, ramping-vus, constant-arrival-rate or ramping-arrival-rate)")
	default:
		return fieldErr("executor.kind", "unknown executor %q (want constant-vus, ramping-vus, constant-arrival-rate or ramping-arrival-rate)", e.Kind)
	}
	switch e.Kind {
	case ConstantVUs:
		if e.VUs <= 0 || e.VUs > maxVUs {
			return fieldErr("executor.vus", "must be > 0 and at most %d, got %d", maxVUs, e.VUs)
		}
	case RampingVUs:
		if e.VUs < 0 || e.VUs > maxVUs {
			return fieldErr("executor.vus", "must be >= 0 and at most %d, got %d", maxVUs, e.VUs)
		}
	case ConstantArrivalRate, RampingArrivalRate:
		if e.Kind == ConstantArrivalRate && (e.Rate <= 0 || math.IsNaN(e.Rate) || math.IsInf(e.Rate, 0)) {
			return fieldErr("executor.rate", "must be > 0, got %v", e.Rate)
		}
		if e.Rate < 0 || math.IsNaN(e.Rate) || e.Rate > maxRate {
			return fieldErr("executor.rate", "must be >= 0 and at most %d/s, got %v", maxRate, e.Rate)
		}
		if e.PreAllocatedVUs < 0 || e.PreAllocatedVUs > maxVUs {
			return fieldErr("executor.preAllocatedVUs", "must be > 0 and at most %d, got %d", maxVUs, e.PreAllocatedVUs)
		}
		if e.MaxVUs < 0 || e.MaxVUs > maxVUs {
			return fieldErr("executor.maxVUs", "must be > 0 and at most %d, got %d", maxVUs, e.MaxVUs)
		}
		if e.MaxVUs == 0 && e.PreAllocatedVUs > 0 {
			e.MaxVUs = e.PreAllocatedVUs
		}
		if e.PreAllocatedVUs > 0 && e.MaxVUs < e.PreAllocatedVUs {
			return fieldErr("executor.maxVUs", "must be from preAllocatedVUs (%d) to %d, got %d", e.PreAllocatedVUs, maxVUs, e.MaxVUs)
		}
		if e.MaxLag < 0 {
			return fieldErr("executor.maxLag", "must be >= 0, got %s", e.MaxLag)
		}
		if e.MaxLag == 0 {
			e.MaxLag = DefaultMaxLag
		}
		if e.VUs != 0 {
			return fieldErr("executor.vus", "does not apply to %s: use preAllocatedVUs and maxVUs", e.Kind)
		}
	}
	if !e.Kind.Open() && (e.Rate != 0 || e.PreAllocatedVUs != 0 || e.MaxVUs != 0) {
		return fieldErr("executor.rate", "rate, preAllocatedVUs and maxVUs apply to the arrival-rate executors only, not %s", e.Kind)
	}
	*out = e
	return nil
}

var errNoScheme = errors.New("must be an absolute http:// or https:// URL")

// parseTarget parses an absolute http(s) URL.
func parseTarget(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		// url.Error repeats the URL, which may hold a password; keep the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("malformed URL: %w", err)
	}
	switch u.Scheme {
	case "http", "https":
	case "":
		return nil, errNoScheme
	default:
		return nil, fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("URL %q has no host", u.Redacted())
	}
	if p := u.Port(); p != "" {
		var n int
		if _, err := fmt.Sscanf(p, "%d", &n); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port %q is not 1–65535", p)
		}
	}
	if u.Fragment != "" {
		u.Fragment = ""
	}
	return u, nil
}

// resolveURL returns the absolute URL of a request.
func resolveURL(raw, base string) (*url.URL, error) {
	if raw == "" && base == "" {
		return nil, errors.New("is required")
	}
	if base == "" || strings.HasPrefix(raw, "http://") || strings.HasPrefix(raw, "https://") || strings.Contains(raw, "://") {
		return parseTarget(raw)
	}
	b, err := parseTarget(base)
	if err != nil {
		return nil, err
	}
	ref, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("malformed path: %w", err)
	}
	if ref.Scheme != "" || ref.Host != "" {
		return parseTarget(raw)
	}
	if strings.HasPrefix(ref.Path, "/") && b.Path != "" && b.Path != "/" {
		// "/health" against "https://h/api" means "https://h/api/health":
		// the target is the service's root, as the runbook writes it.
		ref.Path = strings.TrimSuffix(b.Path, "/") + ref.Path
	}
	return b.ResolveReference(ref), nil
}

func (r *Request) normalize(path, base string) error {
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	for _, c := range r.Method {
		if !isTokenChar(c) {
			return fieldErr(path+".method", "%q is not a valid HTTP method", r.Method)
		}
	}
	field := path + ".url"
	if r.URL == "" || !strings.Contains(r.URL, "://") && base != "" {
		field = path + ".path"
	}
	u, err := resolveURL(r.URL, base)
	if err != nil {
		return &FieldError{Path: field, Err: err}
	}
	r.URL = u.String()
	if r.Name == "" {
		r.Name = r.Method + " " + u.RequestURI()
	}
	if r.Weight == 0 {
		r.Weight = 1
	}
	for name, vals := range r.Header {
		if name == "" {
			return fieldErr(path+".headers", "a header has an empty name")
		}
		for _, c := range name {
			if !isTokenChar(c) {
				return fieldErr(path+".headers", "%q is not a valid header name", name)
			}
		}
		for _, v := range vals {
			if strings.ContainsAny(v, "\r\n\x00") {
				// The value is not repeated: it may be a secret.
				return fieldErr(fmt.Sprintf("%s.headers[%q]", path, name), "the value contains a line break or NUL")
			}
		}
		switch http.CanonicalHeaderKey(name) {
		case "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "Te", "Trailer", "Keep-Alive":
			return fieldErr(fmt.Sprintf("%s.headers[%q]", path, name), "is managed by the loader and cannot be set")
		}
	}
	for i, s := range r.Checks.Status {
		if s < 100 || s > 599 {
			return fieldErr(fmt.Sprintf("%s.checks.status[%d]", path, i), "%d is not an HTTP status code", s)
		}
	}
	for i, j := range r.Checks.JSON {
		if strings.TrimSpace(j.Path) == "" {
			return fieldErr(fmt.Sprintf("%s.checks.json[%d].path", path, i), "is required")
		}
	}
	return nil
}

// isTokenChar reports whether c may appear in an HTTP token (RFC 9110).
func isTokenChar(c rune) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.ContainsRune("!#$%&'*+-.^_`|~", c)
}

// RedactHeader returns the value to show for a header: secrets are replaced
// by "[redacted]".
func RedactHeader(name, value string) string {
	switch http.CanonicalHeaderKey(name) {
	case "Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "X-Auth-Token":
		return "[redacted]"
	}
	return value
}
