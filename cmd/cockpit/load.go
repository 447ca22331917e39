package main

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/report"
	"github.com/cockpit-dev/cockpit/loader/threshold"
	"github.com/cockpit-dev/cockpit/runbook"
)

// loadOptions are the flags of `cockpit load`.
type loadOptions struct {
	vus        int
	maxVUs     int
	duration   time.Duration
	iterations int64
	rate       float64
	stages     string
	think      time.Duration
	maxLag     time.Duration
	grace      time.Duration
	thresholds []string
	headers    []string
	method     string
	body       string
	timeout    time.Duration
	http2      bool
	insecure   bool
	cacert     string
	output     string
	hdrLog     string
	window     time.Duration
	config     string
	vars       varFlags
	noTUI      bool
}

func newLoadCmd(s streams, g *globalOptions) *cobra.Command {
	opts := &loadOptions{vars: varFlags{}}
	dist := &distOptions{}
	cmd := &cobra.Command{
		Use:   "load URL... | load --config FILE",
		Short: "Load-test HTTP endpoints: k6-style executors and thresholds, HdrHistogram percentiles",
		Long: `Send load to one or more URLs (iterations are spread over them in turn) and
report latency percentiles from HdrHistogram, errors by class and k6-style
thresholds.

The executor follows from the flags, with k6's names:
  --vus N --duration D              constant-vus (closed model: a VU sends its
                                    next request when the last one is done)
  --stages 30s:10,1m:50             ramping-vus from --vus to each target
  --rate R --duration D             constant-arrival-rate (open model: R
                                    requests/s in total whatever the target
                                    does)
  --rate R --stages 30s:100,1m:500  ramping-arrival-rate from R

The open models need no VU arithmetic: without --vus and --max-vus they
start a small pool (peak rate × 50ms VUs, 1 to 100) and grow it on demand
up to peak rate × --timeout — the most requests that can ever be in flight
— capped at ` + strconv.Itoa(loader.AutoMaxVUs) + `. --vus N alone means N VUs and no more, --max-vus M
caps the growth, both keep k6's preAllocatedVUs/maxVUs meaning.

In the open models latency is measured from each request's intended start
(corrected for coordinated omission) and from its actual send (raw); the
summary shows both. Iterations later than --max-lag are dropped and counted.
A shortfall — less than 95 % of the target delivered, or more than 1 % of
the iterations due dropped — is stated under TOTAL RESULTS with its
measured cause (VU cap reached, generator CPU saturated, connection errors)
and exits 4, or 3 when a threshold (e.g. on dropped_iterations) fails.

Thresholds use k6's grammar, one per --threshold, plus an optional window:
  --threshold 'http_req_duration: p(95)<200'
  --threshold 'http_req_failed: rate<0.01, abortOnFail'
  --threshold 'http_req_duration: p(99)<500 over 30s'
A threshold with no samples fails. Metrics: ` + strings.Join(threshold.Metrics(), ", ") + `.

--config FILE reads the test from a load file instead: the fields of a
runbook's load: step at the top level (executor, vus, duration, rate,
stages, preAllocatedVUs, maxVUs, baseURL, requests, thresholds, …) plus an
optional vars: mapping; strings may use ${var} (--var overrides vars:) and
${env:NAME}. It is checked strictly: every problem is reported at once as
FILE:LINE:COL: field: message (exit 2). Flags given with it override the
file's values: --vus (preAllocatedVUs for an arrival-rate executor),
--max-vus, --duration, --iterations, --rate, --stages, --think-time,
--max-lag, --graceful-stop, --timeout, --http2, --insecure, --cacert,
--window; --threshold adds to the file's thresholds. The executor is the
file's; URL arguments, -m, -H and --body are refused with --config (the
requests are the file's).

A load file may carry a runbook load: step's workers: block (count,
namespace, image, imagePullPolicy, resources, nodeSelector, tolerations,
minWorkers, startTimeout; not cluster: — a load file has no clusters:, the
kubeconfig context is --context's): the run is then distributed, exactly as
with --workers. The workers' flags override the file's workers: as the
test's flags override the test: --workers (count), --min-workers, --image,
--image-pull-policy, --worker-cpu, --worker-memory (resources), --start-timeout,
and -n (namespace). --workers N with a file without workers: distributes
the file's test. Values read from ${env:…} cannot go to the workers (they
would be written to a ConfigMap in the cluster).

--workers N splits the test across N pods of an Indexed Job in the cluster
(the kubeconfig's context and namespace; the image is the cockpit's own,
running "cockpit load-worker"): the objects are dry-run on the server and
shown; --allow-actions creates them (after a confirmation, or --yes), runs
the test with the workers' streams merged into the same progress, summary,
thresholds and exit code, and deletes every object however the run ends.
Its progress is a line a second on stderr, with who is reporting.

On a terminal the run is shown in a full-screen load view: live sparklines
of p50/p95/p99, requests/s and errors, threshold badges, corrected vs raw
latency, and the run's events. Keys: p pause/resume, + and - the rate (open
models), > and < the VUs, x stop gracefully, q or ctrl+c stop and quit.
When the run is over the view keeps the final state until a key is pressed.
With --no-tui, --output json, or when stdout is not a terminal, a progress
line is written to stderr every second instead. Either way the summary (or,
with --output json, a JSON document of schema version ` + strconv.Itoa(report.SchemaVersion) + `) then goes to
stdout.`,
		Example: `  cockpit load --vus 10 --duration 30s http://127.0.0.1:8080/health
  cockpit load --rate 200 --duration 1m --threshold 'http_req_duration: p(95)<200' http://127.0.0.1:8080/api/exercises
  cockpit load --rate 200 --duration 1m --vus 20 --max-vus 100 http://127.0.0.1:8080/api/exercises
  cockpit load -m POST -H 'Content-Type: application/json' --body @order.json https://staging.example/api/orders
  cockpit load --output json --hdr-log run.hlog --vus 4 --duration 10s http://127.0.0.1:8080/
  cockpit load --config baseline.yaml --var api=http://127.0.0.1:8080 --duration 10s
  cockpit load --config peak.yaml --workers 8 -n loadtest --allow-actions`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case opts.config != "" && len(args) > 0:
				return flagError(cmd, fmt.Errorf("URL arguments cannot be used with --config: the requests come from %s", opts.config))
			case opts.config == "" && len(args) == 0:
				return flagError(cmd, errors.New("at least one URL is required (or --config FILE)"))
			case opts.config == "" && len(opts.vars) > 0:
				return flagError(cmd, errors.New("--var applies to a --config load file only"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			flags := cmd.Flags()
			if opts.config != "" {
				cfg, t, err := fileConfig(opts, dist, flags)
				switch {
				case err != nil:
					return err
				case t != nil:
					return runDistributed(cmd.Context(), s, g, opts, dist, *t)
				}
				return runLoad(cmd.Context(), s, opts, cfg)
			}
			if flags.Changed("workers") {
				t, err := flagsDistTest(opts, dist, args, flags)
				if err != nil {
					return err
				}
				return runDistributed(cmd.Context(), s, g, opts, dist, t)
			}
			cfg, err := loadConfig(opts, args, flags.Changed("vus"))
			if err != nil {
				return err
			}
			return runLoad(cmd.Context(), s, opts, cfg)
		},
	}
	bindLoadFlags(cmd.Flags(), opts)
	bindDistFlags(cmd.Flags(), dist)
	return cmd
}

// bindLoadFlags defines the flags of a test on f: `cockpit load`'s, and
// the ones a load worker parses its test from.
func bindLoadFlags(f *pflag.FlagSet, opts *loadOptions) {
	f.IntVar(&opts.vus, "vus", 1, "VUs (closed models), or pre-allocated VUs with --rate (default with --rate: sized from the rate)")
	f.IntVar(&opts.maxVUs, "max-vus", 0, "with --rate: the most VUs to start when the pre-allocated ones are busy (default --vus if given, else rate × --timeout, at most "+strconv.Itoa(loader.AutoMaxVUs)+")")
	f.DurationVarP(&opts.duration, "duration", "d", 10*time.Second, "how long to run (not with --stages)")
	f.Int64VarP(&opts.iterations, "iterations", "i", 0, "stop after this many requests in total (0: no limit)")
	f.Float64VarP(&opts.rate, "rate", "r", 0, "total requests per second: an open, arrival-rate model")
	f.StringVar(&opts.stages, "stages", "", "ramp as DURATION:TARGET,… (VUs, or requests/s with --rate)")
	f.DurationVar(&opts.think, "think-time", 0, "pause after each request of a closed model")
	f.DurationVar(&opts.maxLag, "max-lag", loader.DefaultMaxLag, "with --rate: drop iterations that cannot start within this")
	f.DurationVar(&opts.grace, "graceful-stop", loader.DefaultGracefulStop, "time in-flight requests get to finish at the end")
	f.StringArrayVar(&opts.thresholds, "threshold", nil, "a k6 threshold 'metric: expr[, abortOnFail][, delayAbortEval=D]' (repeatable)")
	f.StringArrayVarP(&opts.headers, "header", "H", nil, "a request header 'Name: value' (repeatable)")
	f.StringVarP(&opts.method, "method", "m", http.MethodGet, "request method")
	f.StringVar(&opts.body, "body", "", "request body, or @FILE to read it from a file")
	f.DurationVar(&opts.timeout, "timeout", loader.DefaultTimeout, "per-request timeout, connection set-up included")
	f.BoolVar(&opts.http2, "http2", false, "speak HTTP/2 (ALPN over TLS, prior knowledge over http://)")
	f.BoolVarP(&opts.insecure, "insecure", "k", false, "skip TLS certificate verification")
	f.StringVar(&opts.cacert, "cacert", "", "PEM file of CA certificates to verify servers with, instead of the system's")
	f.StringVarP(&opts.output, "output", "o", "text", "summary format: text or json")
	f.StringVar(&opts.hdrLog, "hdr-log", "", "write per-second latency histograms to FILE in HdrHistogram's interval-log format")
	f.DurationVar(&opts.window, "window", loader.DefaultWindow, "span of the live percentiles in the progress line")
	f.StringVarP(&opts.config, "config", "c", "", "read the test from a load file (a runbook load: step's fields); flags override its values")
	f.Var(opts.vars, "var", "with --config: set a load-file variable, overriding its vars: (repeatable)")
	f.BoolVar(&opts.noTUI, "no-tui", false, "no full-screen load view on a terminal: a progress line a second on stderr")
}

// loadConfig turns the flags into a loader configuration. Errors name the
// flag or argument and are invalid input (exit 2).
func loadConfig(opts *loadOptions, urls []string, vusSet bool) (loader.Config, error) {
	cfg := loader.Config{Timeout: opts.timeout, HTTP2: opts.http2, Insecure: opts.insecure, Window: opts.window}
	if opts.output != "text" && opts.output != "json" {
		return cfg, invalidInputf("--output: want text or json, got %q", opts.output)
	}
	e := loader.Executor{Duration: opts.duration, Iterations: opts.iterations, ThinkTime: opts.think,
		MaxLag: opts.maxLag, GracefulStop: opts.grace}
	if opts.stages != "" {
		stages, err := parseStages(opts.stages)
		if err != nil {
			return cfg, invalidInputf("--stages: %w", err)
		}
		e.Stages, e.Duration = stages, 0
	}
	switch {
	case opts.rate != 0 || opts.maxVUs != 0:
		e.Kind = loader.ConstantArrivalRate
		if e.Stages != nil {
			e.Kind = loader.RampingArrivalRate
		}
		// Neither --vus nor --max-vus: the loader sizes the VUs from the
		// rate (loader.AutoVUs). Given, they keep k6's meaning.
		e.Rate, e.MaxVUs = opts.rate, opts.maxVUs
		if vusSet {
			if opts.vus <= 0 {
				return cfg, invalidInputf("--vus: must be > 0, got %d", opts.vus)
			}
			e.PreAllocatedVUs = opts.vus
		}
		if opts.maxVUs != 0 && opts.rate == 0 && e.Stages == nil {
			return cfg, invalidInputf("--max-vus applies with --rate only")
		}
	case e.Stages != nil:
		e.Kind = loader.RampingVUs
		e.VUs = 0
		if vusSet {
			e.VUs = opts.vus
		}
	default:
		e.Kind = loader.ConstantVUs
		e.VUs = opts.vus
	}
	cfg.Executor = e
	header := make(http.Header)
	for _, h := range opts.headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return cfg, invalidInputf("-H %q: want 'Name: value'", redactHeader(h))
		}
		header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	var body []byte
	if path, ok := strings.CutPrefix(opts.body, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, invalidInputf("--body: %w", err)
		}
		body = b
	} else if opts.body != "" {
		body = []byte(opts.body)
	}
	for _, u := range urls {
		cfg.Requests = append(cfg.Requests, loader.Request{URL: u, Method: opts.method, Header: header, Body: body})
	}
	ths, err := parseThresholds(opts.thresholds)
	if err != nil {
		return cfg, err
	}
	cfg.Thresholds = ths
	if opts.cacert != "" {
		pem, err := os.ReadFile(opts.cacert)
		if err != nil {
			return cfg, invalidInputf("--cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return cfg, invalidInputf("--cacert %s: no PEM certificate found", opts.cacert)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// redactHeader hides a header's value: a malformed -H may hold a token.
func redactHeader(h string) string {
	if name, _, ok := strings.Cut(h, ":"); ok {
		return name + ": …"
	}
	if len(h) > 12 {
		return h[:4] + "…"
	}
	return h
}

// parseStages reads "30s:10,1m:50".
func parseStages(src string) ([]loader.Stage, error) {
	var out []loader.Stage
	for i, part := range strings.Split(src, ",") {
		d, t, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return nil, fmt.Errorf("stage %d %q: want DURATION:TARGET, e.g. 30s:10", i+1, part)
		}
		dur, err := time.ParseDuration(d)
		if err != nil {
			return nil, fmt.Errorf("stage %d %q: duration: %w", i+1, part, err)
		}
		target, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return nil, fmt.Errorf("stage %d %q: target %q is not a number", i+1, part, t)
		}
		out = append(out, loader.Stage{Duration: dur, Target: target})
	}
	return out, nil
}

// loadFlags names the flag behind each loader configuration field
// (loader.FieldError.Field).
var loadFlags = map[string]string{
	"executor.vus":             "--vus",
	"executor.preAllocatedVUs": "--vus",
	"executor.maxVUs":          "--max-vus",
	"executor.duration":        "--duration",
	"executor.iterations":      "--iterations",
	"executor.thinkTime":       "--think-time",
	"executor.maxLag":          "--max-lag",
	"executor.stages":          "--stages",
	"executor.stages.duration": "--stages",
	"executor.stages.target":   "--stages",
	"thresholds":               "--threshold",
	"requests.method":          "--method",
	"requests.headers":         "--header",
	"timeout":                  "--timeout",
	"window":                   "--window",
}

// flagOf names the flag or argument behind a loader configuration error.
func flagOf(fe *loader.FieldError, open bool) string {
	field := fe.Field()
	switch field {
	case "requests.url":
		return fmt.Sprintf("URL argument %d", fe.Index()+1)
	case "executor.rate":
		if open {
			return "--rate"
		}
		return "--rate/--max-vus"
	}
	if f, ok := loadFlags[field]; ok {
		if strings.HasPrefix(field, "executor.stages") && fe.Index() >= 0 {
			return fmt.Sprintf("%s[%d]", f, fe.Index())
		}
		return f
	}
	return fe.Path
}

// fileConfig reads a --config load file and applies the flags given on the
// command line over its values. A file with workers:, or --workers, makes
// the run distributed: the test comes back as a distTest, the workers'
// flags (--workers, --min-workers, --image, …) over the file's workers:.
// Errors name FILE:LINE:COL and the field, or the flag, and are invalid
// input (exit 2).
func fileConfig(opts *loadOptions, d *distOptions, flags *pflag.FlagSet) (loader.Config, *distTest, error) {
	if opts.output != "text" && opts.output != "json" {
		return loader.Config{}, nil, invalidInputf("--output: want text or json, got %q", opts.output)
	}
	for _, name := range []string{"method", "header", "body"} {
		if flags.Changed(name) {
			return loader.Config{}, nil, invalidInputf("--%s cannot be used with --config: the requests come from %s", name, opts.config)
		}
	}
	// Values read from ${env:…} are secrets: they never go to the workers'
	// ConfigMap.
	var secrets []string
	lookup := func(name string) (string, bool) {
		v, ok := os.LookupEnv(name)
		if ok && v != "" {
			secrets = append(secrets, v)
		}
		return v, ok
	}
	step, err := runbook.ParseLoadFile(opts.config, runbook.Options{Vars: opts.vars, LookupEnv: lookup})
	if err != nil {
		var list runbook.ErrorList
		if errors.As(err, &list) {
			return loader.Config{}, nil, invalidInput(fmt.Errorf("%d problem(s) in %s:\n%w", len(list), opts.config, err))
		}
		return loader.Config{}, nil, invalidInputf("--config: %w", err)
	}
	cfg, err := overrideFile(step, opts, d, flags)
	if err != nil || !step.Distributed() {
		return cfg, nil, err
	}
	args, err := step.WorkerArgs()
	if err != nil {
		return cfg, nil, invalidInputf("%s: %w", opts.config, err)
	}
	for _, sec := range secrets {
		for _, a := range args {
			if strings.Contains(a, sec) {
				return cfg, nil, invalidInputf("%s: the test carries a value read from ${env:…}: it would be written to the workers' ConfigMap in the cluster; workers: cannot take secrets yet", opts.config)
			}
		}
	}
	minName := "workers.minWorkers"
	if flags.Changed("min-workers") {
		minName = "--min-workers"
	}
	return cfg, &distTest{cfg: cfg, args: args, workers: *step.Workers, minName: minName}, nil
}

// overrideFile applies the flags given over a load file's step and builds
// its configuration, the file and the flags validated together.
func overrideFile(step *runbook.LoadStep, opts *loadOptions, d *distOptions, flags *pflag.FlagSet) (loader.Config, error) {
	// The flags given override the file: field (its path, or its first
	// element) → flag.
	byFlag := map[string]string{}
	set := func(flag, field string, apply func() error) error {
		if !flags.Changed(flag) {
			return nil
		}
		byFlag[field] = "--" + flag
		return apply()
	}
	vusField := "vus"
	if loader.ExecutorKind(step.Executor).Open() {
		vusField = "preAllocatedVUs"
	}
	dur := func(p *runbook.Duration, v time.Duration) func() error {
		return func() error { *p = runbook.Duration(v); return nil }
	}
	err := errors.Join(
		set("vus", vusField, func() error {
			if vusField == "vus" {
				step.VUs = opts.vus
			} else {
				step.PreAllocatedVUs = opts.vus
			}
			return nil
		}),
		set("max-vus", "maxVUs", func() error { step.MaxVUs = opts.maxVUs; return nil }),
		set("duration", "duration", dur(&step.Duration, opts.duration)),
		set("iterations", "iterations", func() error { step.Iterations = opts.iterations; return nil }),
		set("rate", "rate", func() error { step.Rate = opts.rate; return nil }),
		set("stages", "stages", func() error {
			stages, err := parseStages(opts.stages)
			if err != nil {
				return invalidInputf("--stages: %w", err)
			}
			step.Stages = step.Stages[:0]
			for _, st := range stages {
				step.Stages = append(step.Stages, runbook.LoadStage{Duration: runbook.Duration(st.Duration), Target: st.Target})
			}
			return nil
		}),
		set("think-time", "thinkTime", dur(&step.ThinkTime, opts.think)),
		set("max-lag", "maxLag", dur(&step.MaxLag, opts.maxLag)),
		set("graceful-stop", "gracefulStop", dur(&step.GracefulStop, opts.grace)),
		set("timeout", "timeout", dur(&step.Timeout, opts.timeout)),
		set("window", "window", dur(&step.Window, opts.window)),
		set("http2", "http2", func() error { step.HTTP2 = opts.http2; return nil }),
		set("insecure", "insecure", func() error { step.Insecure = opts.insecure; return nil }),
		set("cacert", "cacert", func() error {
			abs, err := filepath.Abs(opts.cacert) // relative to the working directory, not the file
			step.CACert = abs
			return err
		}),
	)
	if flags.Changed("workers") && step.Workers == nil {
		step.Workers = &runbook.LoadWorkers{}
	}
	if step.Workers == nil {
		for _, name := range []string{"min-workers", "image", "image-pull-policy", "worker-cpu", "worker-memory", "start-timeout",
			"allow-actions", "yes", "worker-logs"} {
			if flags.Changed(name) {
				return loader.Config{}, invalidInputf("--%s applies to a distributed run: give --workers N, or workers: in %s", name, opts.config)
			}
		}
	}
	if w := step.Workers; w != nil {
		// Like the test's, the workers' flags override the file's
		// workers: (kubectl's -n too: runDistributed).
		err = errors.Join(err,
			set("workers", "workers.count", func() error { w.Count = d.workers; return nil }),
			set("min-workers", "workers.minWorkers", func() error { w.MinWorkers = d.minWorkers; return nil }),
			set("image", "workers.image", func() error { w.Image = d.image; return nil }),
			set("image-pull-policy", "workers.imagePullPolicy", func() error { w.ImagePullPolicy = d.pullPolicy; return nil }),
			set("worker-cpu", "workers.resources.cpu", func() error { w.Resources.CPU = d.cpu; return nil }),
			set("worker-memory", "workers.resources.memory", func() error { w.Resources.Memory = d.memory; return nil }),
			set("start-timeout", "workers.startTimeout", func() error { w.StartTimeout = runbook.Duration(d.startTimeout); return nil }),
		)
	}
	if err != nil {
		return loader.Config{}, invalidInput(err)
	}
	cfg, err := step.LoadConfig(filepath.Dir(opts.config))
	if err != nil {
		var fe *runbook.LoadFieldError
		if !errors.As(err, &fe) {
			return cfg, invalidInputf("%s: %w", opts.config, err)
		}
		if flag, ok := byFlag[fe.Path]; ok { // workers.count, workers.resources.cpu, …
			return cfg, invalidInputf("%s: %s", flag, fe.Msg)
		}
		field, _, _ := strings.Cut(strings.SplitN(fe.Path, "[", 2)[0], ".")
		if field == "rate" && byFlag["rate"] == "" {
			// The loader names rate for all three arrival-rate options.
			if flag := cmp.Or(byFlag["maxVUs"], byFlag["preAllocatedVUs"]); flag != "" {
				return cfg, invalidInputf("%s: %s", flag, fe.Msg)
			}
		}
		if flag, ok := byFlag[field]; ok {
			return cfg, invalidInputf("%s: %s", flag, fe.Msg)
		}
		return cfg, invalidInputf("%s: %s: %s (with the values the command line overrides)", opts.config, fe.Path, fe.Msg)
	}
	ths, err := parseThresholds(opts.thresholds)
	if err != nil {
		return cfg, err
	}
	cfg.Thresholds = append(cfg.Thresholds, ths...)
	return cfg, nil
}

// parseThresholds parses --threshold flags; errors point at the character.
func parseThresholds(lines []string) ([]threshold.Threshold, error) {
	var out []threshold.Threshold
	for _, line := range lines {
		th, err := threshold.ParseLine(line)
		if err != nil {
			var se *threshold.SyntaxError
			if errors.As(err, &se) {
				return nil, invalidInputf("--threshold: %v\n%s", err, se.Caret())
			}
			return nil, invalidInputf("--threshold %q: %w", line, err)
		}
		out = append(out, th)
	}
	return out, nil
}

// runLoad runs the test cfg in this process.
func runLoad(ctx context.Context, s streams, opts *loadOptions, cfg loader.Config) error {
	if opts.hdrLog != "" {
		f, err := os.Create(opts.hdrLog)
		if err != nil {
			return invalidInputf("--hdr-log: %w", err)
		}
		defer f.Close()
		cfg.HDRLog = f
	}
	snaps, ctl, err := loader.Run(ctx, cfg)
	if err != nil {
		var fe *loader.FieldError
		if errors.As(err, &fe) {
			if opts.config != "" && !strings.HasPrefix(fe.Path, "thresholds[") {
				return invalidInputf("%s: %s: %w", opts.config, fe.Path, fe.Err) // the file was validated: not expected
			}
			return invalidInputf("%s: %w", flagOf(fe, cfg.Executor.Kind.Open()), fe.Err)
		}
		return invalidInput(err)
	}
	var last loader.Snapshot
	var viewErr error
	if !opts.noTUI && opts.output != "json" && loadTerminal(s.out) {
		last, viewErr = runLoadView(ctx, s, cfg, snaps, ctl)
	} else {
		printed := time.Duration(0)
		for snap := range snaps {
			last = snap
			if !snap.Done && snap.Elapsed-printed >= time.Second {
				printed = snap.Elapsed.Truncate(time.Second)
				fmt.Fprintln(s.err, progressLine(snap, cfg.Executor))
			}
		}
	}
	if opts.hdrLog != "" {
		if err := cfg.HDRLog.(*os.File).Close(); err != nil {
			return fmt.Errorf("--hdr-log: %w", err)
		}
	}
	var out error
	if opts.output == "json" {
		out = report.WriteJSON(s.out, last)
	} else {
		out = report.Summary(s.out, last)
	}
	if out != nil {
		return out
	}
	switch {
	case viewErr != nil:
		return viewErr
	case last.Reason == loader.ReasonCancelled:
		return errors.New("interrupted: the summary covers the run up to the interruption")
	case !last.Passed():
		return verdict{code: exitFailed}
	case last.Shortfall() != "":
		fmt.Fprintln(s.err, "cockpit: warning: "+last.Shortfall())
		return verdict{code: exitWarned}
	}
	return nil
}

// progressLine is the once-a-second status of a run, for stderr.
func progressLine(s loader.Snapshot, e loader.Executor) string {
	var b strings.Builder
	fmt.Fprintf(&b, "running %5.1fs/%s", s.Elapsed.Seconds(), plannedDuration(e))
	if s.Executor.Open() {
		fmt.Fprintf(&b, "  rate %.0f/s (target %.0f)  vus %d/%d", s.Window.Rate, s.TargetRate, s.VUs, s.MaxVUs)
		if s.Total.Dropped > 0 {
			fmt.Fprintf(&b, "  dropped %d", s.Total.Dropped)
		}
		if s.Delivery.Short() {
			fmt.Fprintf(&b, "  SHORT: %.0f%% of the target sent", 100*s.Delivery.Ratio())
		}
	} else {
		fmt.Fprintf(&b, "  rate %.0f/s  vus %d", s.Window.Rate, s.VUs)
	}
	w := s.Window
	fmt.Fprintf(&b, "  reqs %d  p50 %s  p95 %s  p99 %s", s.Total.Requests,
		report.Duration(w.Latency.P50), report.Duration(w.Latency.P95), report.Duration(w.Latency.P99))
	if w.Requests > 0 {
		fmt.Fprintf(&b, "  failed %.2f%%", 100*float64(w.Failed)/float64(w.Requests))
	}
	if n := len(s.Thresholds); n > 0 {
		pass := 0
		for _, t := range s.Thresholds {
			if t.Pass {
				pass++
			}
		}
		fmt.Fprintf(&b, "  thresholds ✓%d ✗%d", pass, n-pass)
	}
	if s.Paused {
		b.WriteString("  PAUSED")
	}
	return b.String()
}
