package runbook

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// APIVersion and Kind identify a runbook file.
const (
	APIVersion = "cockpit/v1"
	Kind       = "Runbook"
)

// Runbook is a parsed, validated go-live runbook.
type Runbook struct {
	APIVersion string             `yaml:"apiVersion"`
	Kind       string             `yaml:"kind"`
	Metadata   Metadata           `yaml:"metadata"`
	Vars       map[string]string  `yaml:"vars"`
	Clusters   map[string]Cluster `yaml:"clusters"`
	Phases     []Phase            `yaml:"phases"`

	// File is the path the runbook was read from.
	File string `yaml:"-"`
	// Digest is the SHA-256 of the runbook's bytes with its variables
	// resolved ("sha256:…"); a journal records it and refuses to resume
	// under another.
	Digest string `yaml:"-"`

	secrets   []string          // values read from ${env:…}
	source    []byte            // the file's bytes, as read
	overrides map[string]string // the --var overrides it was parsed with
}

// Source returns the runbook's bytes and the variable overrides it was
// parsed with: enough to parse it again (the journal keeps both, so a
// report needs nothing but the journal). ${env:…} values are not in it.
func (rb *Runbook) Source() ([]byte, map[string]string) {
	return slices.Clone(rb.source), maps.Clone(rb.overrides)
}

// Secrets returns the values the runbook read from the environment. They
// are secrets: the journal and the report redact them wherever they appear.
func (rb *Runbook) Secrets() []string { return slices.Clone(rb.secrets) }

// Metadata names the runbook.
type Metadata struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Owner       string `yaml:"owner"`
}

// Cluster is a named Kubernetes target: a kubeconfig context (and
// optionally file and default namespace). Steps pick one with `cluster:`;
// without any, the command line's kubeconfig flags apply.
type Cluster struct {
	Context    string `yaml:"context"`
	Kubeconfig string `yaml:"kubeconfig"`
	Namespace  string `yaml:"namespace"`
}

// Phase is a stage of the go-live with a gate at its end.
type Phase struct {
	ID    string `yaml:"id"`
	Title string `yaml:"title"`
	// Duration is how long a monitor phase watches (its repeating probes
	// must hold for that long).
	Duration Duration `yaml:"duration"`
	Gate     *Gate    `yaml:"gate"`
	Steps    []Step   `yaml:"steps"`
}

// Gate judges a phase from its steps' results. Without outcome rules, the
// default gate passes when every non-optional step passed (or was
// overridden).
type Gate struct {
	Outcomes []probes.OutcomeSpec `yaml:"outcomes"`
}

// Step is one thing to do: exactly one of Probe, Action, Manual and Load is
// set.
type Step struct {
	ID    string `yaml:"id"`
	Title string `yaml:"title"`

	Probe  *ProbeStep  `yaml:"probe"`
	Action *ActionStep `yaml:"action"`
	Manual *ManualStep `yaml:"manual"`
	Load   *LoadStep   `yaml:"load"`

	// Cluster names an entry of Runbook.Clusters for Kubernetes probes.
	Cluster string `yaml:"cluster"`
	// Timeout bounds one attempt (default: 30s for probes).
	Timeout Duration `yaml:"timeout"`
	// Retries re-runs a failed attempt that many times before failing.
	Retries int `yaml:"retries"`
	// Every repeats the probe at this interval (monitor phases).
	Every Duration `yaml:"every"`
	// FailAfter is how many failed results in a row of a repeating probe
	// make a sustained breach that fails the step (default 1).
	FailAfter int `yaml:"failAfter"`
	// Optional steps do not hold the default gate.
	Optional bool `yaml:"optional"`
	// Needs lists steps (by id, any earlier phase or this one) that must
	// have passed before this one runs.
	Needs []string `yaml:"needs"`
}

// StepKind names what a step does.
func (s *Step) StepKind() string {
	switch {
	case s.Probe != nil:
		return "probe"
	case s.Action != nil:
		return "action"
	case s.Manual != nil:
		return "manual"
	case s.Load != nil:
		return "load"
	}
	return ""
}

// runnable reports whether the engine runs the step (a probe, a load test,
// an action that changes nothing) rather than waiting for the operator.
func (s *Step) runnable() bool {
	return s.Probe != nil || s.Load != nil || (s.Action != nil && !s.Action.Spec.Mutating())
}

// ProbeStep is a probe of a registered kind with its decoded spec.
type ProbeStep struct {
	Kind string
	Spec probes.Spec
}

// ActionStep is an action of a registered kind with its decoded spec: a
// change to make, previewed by a dry run and confirmed by the operator
// when it is mutating.
type ActionStep struct {
	Kind string
	Spec actions.Spec
	// Kube is its kind's: it reads or writes Kubernetes, so its phase's
	// access is reviewed before anything is confirmed. Resolved when the
	// runbook is parsed: the engine asks no spec (no file is read while
	// events are applied).
	Kube bool
}

// Mutating reports whether the step changes anything: its action does, or
// its load test runs on workers it creates in a cluster (load: workers:).
// A mutating step is dry-run, then confirmed, and runs only in a run
// started with --allow-actions.
func (s *Step) Mutating() bool {
	return s.Action != nil && s.Action.Spec.Mutating() || s.Load.Distributed()
}

// ManualStep is confirmed by the operator.
type ManualStep struct {
	Prompt string `yaml:"prompt"`
	// Note is "required" when the confirmation must carry a note, else
	// "optional" (the default).
	Note string `yaml:"note"`
}

// Duration is a time.Duration written "30s", "5m", "2h" in runbooks.
type Duration time.Duration

// UnmarshalText parses a Go duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration like 30s, 5m or 2h, got %q", b)
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }
