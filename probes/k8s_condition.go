package probes

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Condition is one entry of an object's status.conditions, read from any
// resource (the shape of metav1.Condition, which CRDs follow).
type Condition struct {
	Type               string
	Status             string // True, False, Unknown
	Reason             string
	Message            string
	LastTransitionTime time.Time
	ObservedGeneration int64 // 0 when the resource does not record it
}

// FindCondition returns the condition of type condType in obj's
// status.conditions, matching the type case-insensitively.
func FindCondition(obj *unstructured.Unstructured, condType string) (Condition, bool) {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		typ, _ := m["type"].(string)
		if !strings.EqualFold(typ, condType) {
			continue
		}
		out := Condition{Type: typ}
		out.Status, _ = m["status"].(string)
		out.Reason, _ = m["reason"].(string)
		out.Message, _ = m["message"].(string)
		if ts, ok := m["lastTransitionTime"].(string); ok {
			out.LastTransitionTime, _ = time.Parse(time.RFC3339, ts)
		}
		switch g := m["observedGeneration"].(type) {
		case int64:
			out.ObservedGeneration = g
		case float64:
			out.ObservedGeneration = int64(g)
		}
		return out, true
	}
	return Condition{}, false
}

// ConditionCheck is the verdict on one object's condition.
type ConditionCheck struct {
	Status  Status // pass when the condition has the wanted status and is current
	Summary string // "Ready=False (ErrGetKeyPair)"
	Reason  string
	Message string
	Since   time.Time
}

// CheckCondition judges obj's condType against the wanted status. A
// missing condition is pending (the controller has not reported), and so is
// one whose observedGeneration lags the object's generation (stale).
func CheckCondition(obj *unstructured.Unstructured, condType, want string) ConditionCheck {
	c, ok := FindCondition(obj, condType)
	if !ok {
		return ConditionCheck{Status: StatusPending, Summary: condType + " not reported", Since: obj.GetCreationTimestamp().Time}
	}
	out := ConditionCheck{Summary: c.Type + "=" + c.Status, Reason: c.Reason, Message: c.Message, Since: c.LastTransitionTime}
	if c.Reason != "" {
		out.Summary += " (" + c.Reason + ")"
	}
	if out.Since.IsZero() {
		out.Since = obj.GetCreationTimestamp().Time
	}
	switch {
	case c.ObservedGeneration > 0 && c.ObservedGeneration < obj.GetGeneration():
		out.Status = StatusPending
		out.Summary += fmt.Sprintf(", stale: observed generation %d < %d", c.ObservedGeneration, obj.GetGeneration())
	case strings.EqualFold(c.Status, want):
		out.Status = StatusPass
	case strings.EqualFold(c.Status, "Unknown"):
		out.Status = StatusPending
	default:
		out.Status = StatusFail
	}
	return out
}

// ConditionSpec configures a "k8s.condition" probe: a condition of any
// resource (CRDs included), by names, by selector, or on every object.
//
//	probe: {kind: k8s.condition, resource: clusterissuers.cert-manager.io,
//	        names: [letsencrypt-prod, letsencrypt-staging, selfsigned-issuer, internal-ca-issuer],
//	        condition: Ready}
//	probe: {kind: k8s.condition, resource: sealedsecrets.bitnami.com, namespace: gravl-prod, condition: Synced}
type ConditionSpec struct {
	Context   string `json:"context,omitempty" yaml:"context,omitempty"`
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"` // ignored for cluster-scoped resources
	// Resource is the type as kubectl takes it: "clusterissuers.cert-manager.io",
	// "deployments", "deploy.apps", "certificates.v1.cert-manager.io".
	Resource string   `json:"resource" yaml:"resource"`
	Names    []string `json:"names,omitempty" yaml:"names,omitempty"`
	Selector string   `json:"selector,omitempty" yaml:"selector,omitempty"`
	// Condition is the condition type; default Ready.
	Condition string `json:"condition,omitempty" yaml:"condition,omitempty"`
	// Status is the wanted status: True (default), False or Unknown.
	Status   string        `json:"status,omitempty" yaml:"status,omitempty"`
	Outcomes []OutcomeSpec `json:"outcomes,omitempty" yaml:"outcomes,omitempty"`
}

var (
	_ Spec            = (*ConditionSpec)(nil)
	_ PermissionsSpec = (*ConditionSpec)(nil)
)

// conditionValues are what a k8s.condition probe observes.
var conditionValues = []string{"total", "ok", "failing", "pending", "missing"}

var defaultConditionOutcomes = []OutcomeSpec{
	{Fail: &RuleSpec{When: "missing > 0", Message: "{{missing}} object(s) missing"}},
	{Fail: &RuleSpec{When: "failing > 0", Message: "{{failing}} of {{total}} not as wanted"}},
	{Fail: &RuleSpec{When: "total == 0", Message: "no object matched"}},
	{Fail: &RuleSpec{When: "pending > 0", Message: "{{pending}} of {{total}} undecided (Unknown, not reported or stale)"}},
	{Pass: &RuleSpec{Message: "{{ok}}/{{total}} as wanted"}},
}

// Values implements Spec.
func (s *ConditionSpec) Values() []string { return conditionValues }

// Permissions implements PermissionsSpec: list and watch of Resource, in
// the namespace unless it is cluster-scoped.
func (s *ConditionSpec) Permissions() []Permission {
	return []Permission{readsArg(s.Context, s.Resource, s.Namespace)}
}

// Validate implements Spec.
func (s *ConditionSpec) Validate() error {
	errs := validateSelect(s.Names, s.Selector)
	if s.Resource == "" {
		errs = append(errs, fieldErr("resource", "required (e.g. clusterissuers.cert-manager.io)"))
	}
	switch strings.ToLower(s.Status) {
	case "", "true", "false", "unknown":
	default:
		errs = append(errs, fieldErr("status", "want True, False or Unknown, got %q", s.Status))
	}
	if _, err := CompileOutcomes(s.Outcomes, conditionValues); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Build implements Spec.
func (s *ConditionSpec) Build(env Env) (Probe, Outcomes, error) {
	rules, err := buildOutcomes(s.Outcomes, defaultConditionOutcomes, conditionValues)
	if err != nil {
		return nil, nil, err
	}
	c, err := kubeCluster(env, s.Context)
	if err != nil {
		return nil, nil, err
	}
	p := &conditionProbe{kubeReader: newKubeReader(c), spec: *s}
	if p.spec.Namespace == "" {
		p.spec.Namespace = c.Namespace()
	}
	if p.spec.Condition == "" {
		p.spec.Condition = "Ready"
	}
	if p.spec.Status == "" {
		p.spec.Status = "True"
	}
	return p, rules, nil
}

type conditionProbe struct {
	kubeReader
	spec ConditionSpec
}

var (
	_ Probe   = (*conditionProbe)(nil)
	_ Changer = (*conditionProbe)(nil)
)

func (p *conditionProbe) Observe(ctx context.Context) Observation {
	objs, sel, err := p.readSelected(ctx, p.spec.Resource, p.spec.Namespace, p.spec.Names, p.spec.Selector)
	if err != nil {
		return Observation{Err: err}
	}
	var items []Item
	var ok, failing, pending int
	var bad []string
	for _, u := range objs {
		chk := CheckCondition(u, p.spec.Condition, p.spec.Status)
		switch chk.Status {
		case StatusPass:
			ok++
		case StatusPending:
			pending++
			bad = append(bad, u.GetName()+": "+chk.Summary)
		default:
			failing++
			bad = append(bad, u.GetName()+": "+chk.Summary)
		}
		items = append(items, Item{Name: u.GetName(), Status: chk.Status, Summary: chk.Summary, Reason: chk.Reason, Message: chk.Message, Since: chk.Since})
	}
	missing := sel.missing(objs)
	for _, n := range missing {
		items = append(items, Item{Name: n, Status: StatusFail, Summary: "not found", Reason: "NotFound"})
		bad = append(bad, n+": not found")
	}
	total := len(objs) + len(missing)
	summary := fmt.Sprintf("%d/%d %s=%s", ok, total, p.spec.Condition, p.spec.Status)
	if len(bad) > 0 {
		summary += " — " + strings.Join(bad, "; ")
	}
	obs := Observation{
		Summary: summary,
		Items:   items,
		Values: map[string]float64{
			"total":   float64(total),
			"ok":      float64(ok),
			"failing": float64(failing),
			"pending": float64(pending),
			"missing": float64(len(missing)),
		},
	}
	if pending > 0 && failing == 0 && len(missing) == 0 {
		// Not reported, Unknown or stale, and nothing wrong otherwise: the
		// controller has yet to say.
		obs.Err = fmt.Errorf("%w: %d of %d undecided (Unknown, not reported or stale)", ErrPending, pending, total)
	}
	return obs
}
