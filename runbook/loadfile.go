package runbook

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"

	"github.com/cockpit-dev/cockpit/loader"
)

// loadFile is the document of a load file: a runbook load: step's fields at
// the top level, and the vars its strings may use.
type loadFile struct {
	Vars     map[string]string `yaml:"vars"`
	LoadStep `yaml:",inline"`
}

// ParseLoadFile reads the load file at path (`cockpit load --config`): the
// fields of a runbook's load: step at the top level, plus an optional
// vars: mapping, e.g.
//
//	vars: {api: "http://127.0.0.1:8080"}
//	executor: constant-arrival-rate
//	rate: 100
//	duration: 1m
//	preAllocatedVUs: 20
//	baseURL: ${api}
//	requests:
//	- {url: /health}
//	- {url: /api/exercises, headers: {Authorization: "Bearer ${env:API_TOKEN}"}}
//	thresholds:
//	  http_req_duration: ["p(95)<200"]
//
// It is decoded like a runbook: strictly (unknown fields, duplicate keys and
// wrong types are errors), ${name} from vars: or Options.Vars and
// ${env:NAME} from the environment expanded in every string, and the result
// validated as a loader configuration with cacert relative to the file's
// directory. Unlike a runbook's load step, thresholds are optional. A
// workers: block (LoadWorkers) runs the test on the pods of an Indexed Job,
// as a runbook's does; its cluster: is refused (a load file has no
// clusters:: the command line's kubeconfig context is used). On any
// problem the error is an ErrorList holding every problem found, each at
// file:line:col with its path ("requests[1].url").
func ParseLoadFile(path string, opts Options) (*LoadStep, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read load file: %w", err)
	}
	return ParseLoad(path, data, opts)
}

// ParseLoad parses and validates a load file's contents; file names it in
// errors and is the base of relative cacert paths. See ParseLoadFile.
func ParseLoad(file string, data []byte, opts Options) (*LoadStep, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	d, body, err := document(file, data, "load file", "e.g. executor: constant-vus, vus: 10, duration: 30s, requests: [{url: http://127.0.0.1:8080/}]")
	if err != nil {
		return nil, err
	}
	lf := &loadFile{}
	vars := d.decodeVars(body, opts)
	d.expand = func(s string) (string, error) { return expandVars(s, vars, opts.LookupEnv) }
	d.decode(body, "", reflect.ValueOf(lf).Elem())
	if len(d.errs) > 0 {
		return nil, d.errs.sorted() // validating a half-decoded step would only repeat the problems
	}
	step := &lf.LoadStep
	for _, e := range step.ConfigErrors(filepath.Dir(file)) {
		d.errorAtPath(e.Path, e.Hint, "%s", e.Msg)
	}
	if len(d.errs) > 0 {
		return nil, d.errs.sorted()
	}
	return step, nil
}

// LoadFieldError is a problem with one field of a load step, by its path
// below load: (the top level of a load file): "vus", "requests[1].url",
// "thresholds.http_req_failed[0]".
type LoadFieldError struct {
	Path, Hint, Msg string
}

func (e *LoadFieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// ConfigErrors validates the step as Config does, without requiring
// thresholds, and returns every problem found. base is the directory a
// relative cacert is resolved from.
func (l *LoadStep) ConfigErrors(base string) []*LoadFieldError {
	_, errs := l.loadConfig(base)
	return errs
}

// LoadConfig builds the loader configuration of a load file's step: like
// Config, but thresholds are optional. Its error is the first of
// ConfigErrors, a *LoadFieldError.
func (l *LoadStep) LoadConfig(base string) (loader.Config, error) {
	cfg, errs := l.loadConfig(base)
	if len(errs) > 0 {
		return cfg, errs[0]
	}
	return cfg, nil
}

func (l *LoadStep) loadConfig(base string) (loader.Config, []*LoadFieldError) {
	cfg, errs := l.config(base)
	if l.Workers != nil && l.Workers.Cluster != "" {
		// A runbook's cluster: names an entry of its clusters:, which a
		// load file has not.
		errs = append(errs, pathError{"workers.cluster", "--context NAME picks the kubeconfig context, -n or workers.namespace the namespace",
			"a load file has no clusters: to name"})
	}
	var out []*LoadFieldError
	skipped := false
	for _, e := range errs {
		if e.path == "thresholds" && len(l.Thresholds) == 0 {
			skipped = true // `cockpit load` may measure without judging
			continue
		}
		out = append(out, &LoadFieldError{Path: e.path, Hint: e.hint, Msg: e.msg})
	}
	if skipped && len(out) == 0 {
		// config stops before the loader's own validation when it has found
		// a problem: run it now that the only one is gone.
		if err := cfg.Validate(); err != nil {
			e := loaderFieldError(err)
			out = append(out, &LoadFieldError{Path: e.path, Hint: e.hint, Msg: e.msg})
		} else if l.Workers != nil {
			for _, e := range l.splitErrors(cfg) {
				out = append(out, &LoadFieldError{Path: e.path, Hint: e.hint, Msg: e.msg})
			}
		}
	}
	return cfg, out
}
