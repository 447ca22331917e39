package runbook

import (
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/report"
	"github.com/cockpit-dev/cockpit/loader/threshold"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// LoadStep is a load test: k6's executor options flat, the requests, and
// thresholds keyed by metric as k6 writes them:
//
//	load:
//	  executor: constant-arrival-rate
//	  rate: 100
//	  duration: 1m
//	  preAllocatedVUs: 20
//	  baseURL: ${apiURL}
//	  requests:
//	  - {url: /health}
//	  - {url: /api/exercises, weight: 3, checks: {status: [200]}}
//	  thresholds:
//	    http_req_duration: ["p(95)<200", "p(99)<500"]
//	    http_req_failed: ["rate<0.01"]
//
// A load step passes when every threshold passes; a load step without
// thresholds is refused — it would measure without judging.
type LoadStep struct {
	// Executor is a k6 executor name (default constant-vus).
	Executor        string      `yaml:"executor"`
	VUs             int         `yaml:"vus"`
	Duration        Duration    `yaml:"duration"`
	Iterations      int64       `yaml:"iterations"`
	ThinkTime       Duration    `yaml:"thinkTime"`
	Stages          []LoadStage `yaml:"stages"`
	Rate            float64     `yaml:"rate"`
	PreAllocatedVUs int         `yaml:"preAllocatedVUs"`
	MaxVUs          int         `yaml:"maxVUs"`
	MaxLag          Duration    `yaml:"maxLag"`
	GracefulStop    Duration    `yaml:"gracefulStop"`

	BaseURL  string        `yaml:"baseURL"`
	Requests []LoadRequest `yaml:"requests"`
	Timeout  Duration      `yaml:"timeout"`
	HTTP2    bool          `yaml:"http2"`
	Insecure bool          `yaml:"insecure"`
	// CACert is a PEM file of CAs to verify servers with, relative to the
	// runbook's directory.
	CACert string `yaml:"cacert"`
	// Window is the span of the live percentiles (default 10s).
	Window Duration `yaml:"window"`

	Thresholds map[string][]LoadThreshold `yaml:"thresholds"`

	// Workers, when set, splits the test across the pods of a Job in a
	// cluster (LoadWorkers) instead of running it in the cockpit.
	Workers *LoadWorkers `yaml:"workers"`
}

// LoadStage is one stage of a ramping executor.
type LoadStage struct {
	Duration Duration `yaml:"duration"`
	Target   float64  `yaml:"target"`
}

// LoadRequest is one request of a load step.
type LoadRequest struct {
	Name    string            `yaml:"name"`
	Method  string            `yaml:"method"`
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`
	Weight  int               `yaml:"weight"`
	Checks  LoadChecks        `yaml:"checks"`
}

// LoadChecks are response checks feeding the checks rate.
type LoadChecks struct {
	Status       []int          `yaml:"status"`
	BodyContains string         `yaml:"bodyContains"`
	JSON         map[string]any `yaml:"json"`
}

// LoadThreshold is one k6 threshold: a string ("p(95)<200") or k6's object
// form ({threshold: "p(95)<200", abortOnFail: true, delayAbortEval: 10s}).
type LoadThreshold struct {
	Threshold      string   `yaml:"threshold"`
	AbortOnFail    bool     `yaml:"abortOnFail"`
	DelayAbortEval Duration `yaml:"delayAbortEval"`
}

// decodeYAML accepts the string form as well as the mapping.
func (t *LoadThreshold) decodeYAML(d *decoder, n ast.Node, path string) {
	if _, ok := n.(*ast.MappingNode); ok {
		d.decodeStruct(n, path, reflect.ValueOf(t).Elem())
		return
	}
	if s, ok := d.stringValue(n, path); ok {
		t.Threshold = s
	}
}

// thresholds parses the step's thresholds in metric order. Errors are
// positioned by the caller at the path returned with them.
func (l *LoadStep) thresholds() ([]threshold.Threshold, []pathError) {
	var out []threshold.Threshold
	var errs []pathError
	for _, metric := range slices.Sorted(maps.Keys(l.Thresholds)) {
		mp := "thresholds." + metric
		if _, ok := threshold.MetricKind(metric); !ok {
			errs = append(errs, pathError{mp, "metrics: " + strings.Join(threshold.Metrics(), ", "), fmt.Sprintf("unknown metric %q", metric)})
			continue
		}
		for i, lt := range l.Thresholds[metric] {
			p := fmt.Sprintf("%s[%d]", mp, i)
			th, err := threshold.Parse(metric, lt.Threshold)
			if err != nil {
				var se *threshold.SyntaxError
				if errors.As(err, &se) {
					errs = append(errs, pathError{p, "", fmt.Sprintf("column %d of the expression: %s", se.Column, se.Msg)})
				} else {
					errs = append(errs, pathError{p, "", err.Error()})
				}
				continue
			}
			th.AbortOnFail, th.DelayAbortEval = lt.AbortOnFail, time.Duration(lt.DelayAbortEval)
			out = append(out, th)
		}
	}
	return out, errs
}

// pathError is an error at a path below the step's load: mapping.
type pathError struct {
	path, hint, msg string
}

// Config builds the loader configuration of the step. base is the
// directory relative paths (cacert) are resolved from. Errors name the
// field below load: ("vus", "requests[1].url", "thresholds.http_req_failed[0]").
func (l *LoadStep) Config(base string) (loader.Config, error) {
	cfg, errs := l.config(base)
	if len(errs) > 0 {
		return cfg, fmt.Errorf("%s: %s", errs[0].path, errs[0].msg)
	}
	return cfg, nil
}

func (l *LoadStep) config(base string) (loader.Config, []pathError) {
	kind := loader.ExecutorKind(l.Executor)
	if kind == "" {
		kind = loader.ConstantVUs
	}
	cfg := loader.Config{
		Executor: loader.Executor{
			Kind: kind, VUs: l.VUs, Duration: time.Duration(l.Duration), Iterations: l.Iterations,
			ThinkTime: time.Duration(l.ThinkTime), Rate: l.Rate, PreAllocatedVUs: l.PreAllocatedVUs,
			MaxVUs: l.MaxVUs, MaxLag: time.Duration(l.MaxLag), GracefulStop: time.Duration(l.GracefulStop),
		},
		BaseURL: l.BaseURL, Timeout: time.Duration(l.Timeout), HTTP2: l.HTTP2, Insecure: l.Insecure,
		Window: time.Duration(l.Window),
	}
	if kind == loader.ConstantVUs && cfg.Executor.VUs == 0 {
		cfg.Executor.VUs = 1
	}
	// An open model without preAllocatedVUs and maxVUs is sized from its
	// rate by the loader (loader.AutoVUs); given, they keep k6's meaning.
	for _, s := range l.Stages {
		cfg.Executor.Stages = append(cfg.Executor.Stages, loader.Stage{Duration: time.Duration(s.Duration), Target: s.Target})
	}
	for _, r := range l.Requests {
		req := loader.Request{Name: r.Name, Method: r.Method, URL: r.URL, Weight: r.Weight,
			Checks: loader.Checks{Status: r.Checks.Status, BodyContains: r.Checks.BodyContains}}
		if req.Method == "" {
			req.Method = http.MethodGet
		}
		if len(r.Headers) > 0 {
			req.Header = make(http.Header, len(r.Headers))
			for k, v := range r.Headers {
				req.Header.Set(k, v)
			}
		}
		if r.Body != "" {
			req.Body = []byte(r.Body)
		}
		for _, k := range slices.Sorted(maps.Keys(r.Checks.JSON)) {
			req.Checks.JSON = append(req.Checks.JSON, loader.JSONCheck{Path: k, Equals: r.Checks.JSON[k]})
		}
		cfg.Requests = append(cfg.Requests, req)
	}
	ths, errs := l.thresholds()
	cfg.Thresholds = ths
	if len(l.Thresholds) == 0 {
		errs = append(errs, pathError{"thresholds", `e.g. thresholds: {http_req_duration: ["p(95)<200"], http_req_failed: ["rate<0.01"]}`,
			"a load step needs thresholds: without them it measures but judges nothing"})
	}
	if l.CACert != "" {
		path := l.CACert
		if !filepath.IsAbs(path) {
			path = filepath.Join(base, path)
		}
		pem, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, pathError{"cacert", "", err.Error()})
		} else {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				errs = append(errs, pathError{"cacert", "", fmt.Sprintf("no PEM certificate in %s", path)})
			}
			cfg.RootCAs = pool
		}
	}
	valid := false
	if len(errs) == 0 {
		if err := cfg.Validate(); err != nil {
			errs = append(errs, loaderFieldError(err))
		} else {
			valid = true
		}
	}
	if l.Workers != nil {
		errs = append(errs, l.workerErrors(cfg, valid)...)
	}
	return cfg, errs
}

// loaderFieldError maps a loader.FieldError path ("executor.vus") to the
// flat names of a load step ("vus").
func loaderFieldError(err error) pathError {
	var fe *loader.FieldError
	if !errors.As(err, &fe) {
		return pathError{"", "", err.Error()}
	}
	p := fe.Path
	switch {
	case p == "executor.kind":
		p = "executor"
	case strings.HasPrefix(p, "executor."):
		p = strings.TrimPrefix(p, "executor.")
	}
	return pathError{p, "", fe.Err.Error()}
}

// JudgeLoad judges a load test's final snapshot as a step result: pass
// when every threshold passed over a run that completed and delivered what
// it was asked for; fail when a threshold failed or the operator stopped
// the run before its end (its thresholds only judged the part that ran);
// warn when an open model's generator fell short of its target (less than
// 95 % sent, or more than 1 % of the iterations due dropped) — a threshold
// on dropped_iterations makes that a failure instead. Its values are what
// gates and the report read: requests, rps, p50_ms, p95_ms, p99_ms,
// max_ms, failed_rate, error_rate, dropped, thresholds_failed, and in open
// models target_rps, delivered_rps, delivered_ratio, dropped_ratio and the
// generator lag's lag_p50_ms and lag_p99_ms.
func JudgeLoad(s loader.Snapshot) probes.Result {
	t := s.Total
	res := probes.Result{Status: probes.StatusPass, ObservedAt: s.Time, Duration: s.Elapsed}
	failedRate, errRate := 0.0, 0.0
	if t.Requests > 0 {
		failedRate = float64(t.Failed) / float64(t.Requests)
		errRate = float64(t.Errored) / float64(t.Requests)
	}
	res.Values = map[string]float64{
		"requests": float64(t.Requests), "rps": round3(t.Rate), "p50_ms": msOf(t.Latency.P50),
		"p95_ms": msOf(t.Latency.P95), "p99_ms": msOf(t.Latency.P99), "max_ms": msOf(t.Latency.Max),
		"failed_rate": round3(failedRate), "error_rate": round3(errRate), "dropped": float64(t.Dropped),
	}
	failed := 0
	for _, th := range s.Thresholds {
		it := probes.Item{Name: th.Metric + ": " + th.Expr(), Status: probes.StatusPass}
		switch {
		case !th.HasSamples:
			it.Summary = "no samples"
		default:
			it.Summary = "observed " + formatThresholdValue(th)
		}
		if !th.Pass {
			it.Status = probes.StatusFail
			failed++
		}
		if th.Aborted {
			it.Reason = "AbortedTheRun"
		}
		res.Items = append(res.Items, it)
	}
	res.Values["thresholds_failed"] = float64(failed)
	shortfall := s.Shortfall()
	if s.Executor.Open() {
		d := s.Delivery
		res.Values["target_rps"] = round3(d.TargetRate())
		res.Values["delivered_rps"] = round3(d.Rate())
		res.Values["delivered_ratio"] = round3(d.Ratio())
		res.Values["dropped_ratio"] = round3(d.DroppedRatio())
		res.Values["lag_p50_ms"] = msOf(t.Lag.P50)
		res.Values["lag_p99_ms"] = msOf(t.Lag.P99)
		it := probes.Item{Name: "delivery", Status: probes.StatusPass,
			Summary: fmt.Sprintf("delivered %s of %s req/s (%d of %d iterations due sent); generator lag p50 %s, p99 %s",
				strconv.FormatFloat(d.Rate(), 'f', 1, 64), strconv.FormatFloat(round3(d.TargetRate()), 'f', -1, 64), d.Sent, d.Due,
				report.Duration(t.Lag.P50), report.Duration(t.Lag.P99))}
		if shortfall != "" {
			it.Status, it.Summary, it.Reason = probes.StatusWarn, shortfall, "Shortfall"
		}
		res.Items = append(res.Items, it)
	}
	res.Summary = fmt.Sprintf("%d reqs · %s/s · p95 %s · p99 %s · %s failed · %d/%d thresholds",
		t.Requests, strconv.FormatFloat(round3(t.Rate), 'f', 1, 64), report.Duration(t.Latency.P95),
		report.Duration(t.Latency.P99), strconv.FormatFloat(failedRate*100, 'f', 2, 64)+"%",
		len(s.Thresholds)-failed, len(s.Thresholds))
	switch {
	case failed > 0:
		res.Status = probes.StatusFail
		res.Message = fmt.Sprintf("%d of %d threshold(s) failed", failed, len(s.Thresholds))
	case len(s.Thresholds) == 0:
		res.Status = probes.StatusFail
		res.Message = "no thresholds judged the run"
	case t.Requests == 0:
		res.Status = probes.StatusFail
		res.Message = "no request completed"
	default:
		res.Message = fmt.Sprintf("all %d threshold(s) passed", len(s.Thresholds))
	}
	if shortfall != "" && s.Reason != loader.ReasonCancelled {
		if res.Status == probes.StatusPass {
			res.Status = probes.StatusWarn
			res.Message = shortfall + "; " + res.Message
		} else {
			res.Message += "; " + shortfall
		}
	}
	switch s.Reason {
	case loader.ReasonStopped:
		// The thresholds judged only the part that ran: a run the operator
		// cut short has not shown what it was meant to (an override, with
		// its reason, can still accept it).
		passed := len(s.Thresholds) - failed
		msg := "stopped by the operator after " + shortDuration(s.Elapsed) + planned(s) + ": " +
			fmt.Sprintf("%d threshold(s) passed", passed)
		if failed > 0 {
			msg += fmt.Sprintf(", %d failed", failed)
		}
		msg += " on the part that ran; the run did not complete"
		if shortfall != "" {
			msg += "; " + shortfall
		}
		res.Status, res.Message = probes.StatusFail, msg
	case loader.ReasonThreshold:
		res.Message += "; aborted by an abortOnFail threshold after " + report.Duration(s.Elapsed)
	case loader.ReasonCancelled:
		res.Status = probes.StatusError
		res.Message = "cancelled after " + report.Duration(s.Elapsed) + " before it finished"
	}
	return res
}

// planned is " of 5m" (and the iteration limit, if any) for a stopped
// run's message.
func planned(s loader.Snapshot) string {
	switch {
	case s.Planned > 0 && s.Iterations > 0:
		return fmt.Sprintf(" of %s (or %d iterations)", shortDuration(s.Planned), s.Iterations)
	case s.Planned > 0:
		return " of " + shortDuration(s.Planned)
	case s.Iterations > 0:
		return fmt.Sprintf(" (of %d iterations)", s.Iterations)
	}
	return ""
}

// shortDuration is a duration as an operator reads it: "45s", "5m",
// "1h30m", "2.5s" — to the tenth of a second under ten seconds, else to
// the second.
func shortDuration(d time.Duration) string {
	if d < 10*time.Second {
		return actions.ShortDuration(d.Round(100 * time.Millisecond))
	}
	return actions.ShortDuration(d.Round(time.Second))
}

func formatThresholdValue(th loader.ThresholdState) string {
	if th.Kind() == threshold.Trend {
		return strconv.FormatFloat(round3(th.Value), 'f', -1, 64) + "ms"
	}
	return strconv.FormatFloat(round3(th.Value), 'f', -1, 64)
}

func msOf(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// Describe is one line for `cockpit check` and the report's target column:
// "constant-arrival-rate 100/s for 1m · 2 request(s) · p(95)<200, rate<0.01".
func (l *LoadStep) Describe() string {
	kind := l.Executor
	if kind == "" {
		kind = string(loader.ConstantVUs)
	}
	var b strings.Builder
	b.WriteString(kind)
	switch loader.ExecutorKind(kind) {
	case loader.ConstantVUs:
		fmt.Fprintf(&b, " %d VU(s)", max(l.VUs, 1))
	case loader.ConstantArrivalRate:
		fmt.Fprintf(&b, " %s/s", strconv.FormatFloat(l.Rate, 'f', -1, 64))
	default:
		fmt.Fprintf(&b, " %d stage(s)", len(l.Stages))
	}
	if l.Duration > 0 {
		fmt.Fprintf(&b, " for %s", l.Duration)
	}
	if l.Iterations > 0 {
		fmt.Fprintf(&b, " (at most %d iterations)", l.Iterations)
	}
	fmt.Fprintf(&b, " · %d request(s)", len(l.Requests))
	var ths []string
	for _, m := range slices.Sorted(maps.Keys(l.Thresholds)) {
		for _, t := range l.Thresholds[m] {
			ths = append(ths, m+" "+t.Threshold)
		}
	}
	if len(ths) > 0 {
		b.WriteString(" · " + strings.Join(ths, ", "))
	}
	if l.Workers != nil {
		b.WriteString(" · " + l.describeWorkers(l.Workers.Cluster))
	}
	return b.String()
}
