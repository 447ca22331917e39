package probes

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ExistsSpec configures a "k8s.exists" probe: the named objects (or at
// least Min objects matching a selector) are present.
//
//	probe: {kind: k8s.exists, resource: networkpolicies, namespace: gravl-staging,
//	        names: [gravl-default-deny, allow-dns-egress]}
type ExistsSpec struct {
	Context   string   `json:"context,omitempty" yaml:"context,omitempty"`
	Namespace string   `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	Resource  string   `json:"resource" yaml:"resource"`
	Names     []string `json:"names,omitempty" yaml:"names,omitempty"`
	Selector  string   `json:"selector,omitempty" yaml:"selector,omitempty"`
	// Min is how many objects a selector (or no names) must match; default 1.
	Min      int           `json:"min,omitempty" yaml:"min,omitempty"`
	Outcomes []OutcomeSpec `json:"outcomes,omitempty" yaml:"outcomes,omitempty"`
}

var (
	_ Spec            = (*ExistsSpec)(nil)
	_ PermissionsSpec = (*ExistsSpec)(nil)
)

// existsValues are what a k8s.exists probe observes: "expected" is the
// number of names, or Min.
var existsValues = []string{"present", "missing", "expected"}

var defaultExistsOutcomes = []OutcomeSpec{
	{Fail: &RuleSpec{When: "missing > 0", Message: "{{missing}} of {{expected}} missing"}},
	{Pass: &RuleSpec{Message: "{{present}} present"}},
}

// Values implements Spec.
func (s *ExistsSpec) Values() []string { return existsValues }

// Permissions implements PermissionsSpec: list and watch of Resource, in
// the namespace unless it is cluster-scoped.
func (s *ExistsSpec) Permissions() []Permission {
	return []Permission{readsArg(s.Context, s.Resource, s.Namespace)}
}

// Validate implements Spec.
func (s *ExistsSpec) Validate() error {
	errs := validateSelect(s.Names, s.Selector)
	if s.Resource == "" {
		errs = append(errs, fieldErr("resource", "required (e.g. networkpolicies)"))
	}
	if s.Min < 0 {
		errs = append(errs, fieldErr("min", "must not be negative"))
	}
	if s.Min > 0 && len(s.Names) > 0 {
		errs = append(errs, fieldErr("min", "min counts selector matches; with names, every name must exist"))
	}
	if _, err := CompileOutcomes(s.Outcomes, existsValues); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Build implements Spec.
func (s *ExistsSpec) Build(env Env) (Probe, Outcomes, error) {
	rules, err := buildOutcomes(s.Outcomes, defaultExistsOutcomes, existsValues)
	if err != nil {
		return nil, nil, err
	}
	c, err := kubeCluster(env, s.Context)
	if err != nil {
		return nil, nil, err
	}
	p := &existsProbe{kubeReader: newKubeReader(c), spec: *s}
	if p.spec.Namespace == "" {
		p.spec.Namespace = c.Namespace()
	}
	if p.spec.Min == 0 {
		p.spec.Min = 1
	}
	return p, rules, nil
}

type existsProbe struct {
	kubeReader
	spec ExistsSpec
}

var (
	_ Probe   = (*existsProbe)(nil)
	_ Changer = (*existsProbe)(nil)
)

func (p *existsProbe) Observe(ctx context.Context) Observation {
	objs, sel, err := p.readSelected(ctx, p.spec.Resource, p.spec.Namespace, p.spec.Names, p.spec.Selector)
	if err != nil {
		return Observation{Err: err}
	}
	items := make([]Item, 0, len(objs))
	for _, u := range objs {
		items = append(items, Item{Name: u.GetName(), Status: StatusPass, Summary: "present", Since: u.GetCreationTimestamp().Time})
	}
	missing := sel.missing(objs)
	for _, n := range missing {
		items = append(items, Item{Name: n, Status: StatusFail, Summary: "missing", Reason: "NotFound"})
	}
	expected, nMissing := len(p.spec.Names), len(missing)
	if expected == 0 {
		expected = p.spec.Min
		nMissing = max(0, expected-len(objs))
	}
	summary := fmt.Sprintf("%d/%d present", expected-nMissing, expected)
	switch {
	case len(missing) > 0:
		summary += ", missing: " + strings.Join(missing, ", ")
	case len(p.spec.Names) == 0:
		summary = fmt.Sprintf("%d present (want at least %d)", len(objs), expected)
	}
	return Observation{
		Summary: summary,
		Items:   items,
		Values: map[string]float64{
			"present":  float64(len(objs)),
			"missing":  float64(nMissing),
			"expected": float64(expected),
		},
	}
}
