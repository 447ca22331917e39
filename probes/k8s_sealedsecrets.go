package probes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/cockpit-dev/cockpit/internal/kube"
)

// Labels the sealed-secrets controller and the seed document use on the
// active sealing key. The controller sets sealed-secrets-key=active; the
// seed's backup command selects status=active. Either marks the key.
const (
	sealingKeyLabel       = "sealedsecrets.bitnami.com/sealed-secrets-key"
	sealingKeyStatusLabel = "sealedsecrets.bitnami.com/status"
)

// ReadyEndpoints counts the ready addresses of a Service's EndpointSlices
// (an endpoint whose ready condition is unset counts as ready, as the API
// defines).
func ReadyEndpoints(slices []*discoveryv1.EndpointSlice) int {
	n := 0
	for _, s := range slices {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				n += len(ep.Addresses)
			}
		}
	}
	return n
}

// SealedSecretsSpec configures a "k8s.sealed-secrets" probe: the controller
// is rolled out, its Service has ready endpoints, and an active sealing key
// exists, with its certificate's expiry. The key's private part is never
// read (the informer cache keeps only tls.crt).
//
//	probe: {kind: k8s.sealed-secrets}   # kube-system, sealed-secrets-controller
type SealedSecretsSpec struct {
	Context string `json:"context,omitempty" yaml:"context,omitempty"`
	// Namespace of the controller; default kube-system.
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	// Controller is the Deployment's name; default sealed-secrets-controller.
	Controller string `json:"controller,omitempty" yaml:"controller,omitempty"`
	// Service is the controller's Service; default the controller's name.
	Service string `json:"service,omitempty" yaml:"service,omitempty"`
	// KeySelector selects the active sealing key Secrets; default: either
	// sealedsecrets.bitnami.com/sealed-secrets-key=active or
	// sealedsecrets.bitnami.com/status=active.
	KeySelector string        `json:"keySelector,omitempty" yaml:"keySelector,omitempty"`
	Outcomes    []OutcomeSpec `json:"outcomes,omitempty" yaml:"outcomes,omitempty"`
}

var (
	_ Spec            = (*SealedSecretsSpec)(nil)
	_ PermissionsSpec = (*SealedSecretsSpec)(nil)
)

// sealedSecretsValues are what a k8s.sealed-secrets probe observes;
// days_left is the newest active key's (absent without a readable key).
var sealedSecretsValues = []string{"failing", "keys", "endpoints", "days_left"}

var defaultSealedSecretsOutcomes = []OutcomeSpec{
	{Fail: &RuleSpec{When: "failing > 0", Message: "{{failing}} check(s) failed"}},
	{Warn: &RuleSpec{When: "days_left < 30", Message: "the sealing key's certificate expires in {{days_left}} days"}},
	{Pass: &RuleSpec{Message: "controller ready, {{endpoints}} endpoint(s), {{keys}} active key(s)"}},
}

// Values implements Spec.
func (s *SealedSecretsSpec) Values() []string { return sealedSecretsValues }

// Permissions implements PermissionsSpec: list and watch of the
// controller's Deployment, Service, EndpointSlices and sealing key Secrets
// in its namespace (the informer keeps only the keys' tls.crt).
func (s *SealedSecretsSpec) Permissions() []Permission {
	d := s.withDefaults()
	return []Permission{
		reads(s.Context, resDeployments, d.Namespace),
		reads(s.Context, resServices, d.Namespace),
		reads(s.Context, resEndpointSlices, d.Namespace),
		reads(s.Context, resSecrets, d.Namespace),
	}
}

// Validate implements Spec.
func (s *SealedSecretsSpec) Validate() error {
	var errs []error
	if s.KeySelector != "" {
		if _, err := labels.Parse(s.KeySelector); err != nil {
			errs = append(errs, fieldErr("keySelector", "%v", err))
		}
	}
	if _, err := CompileOutcomes(s.Outcomes, sealedSecretsValues); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Build implements Spec.
func (s *SealedSecretsSpec) Build(env Env) (Probe, Outcomes, error) {
	rules, err := buildOutcomes(s.Outcomes, defaultSealedSecretsOutcomes, sealedSecretsValues)
	if err != nil {
		return nil, nil, err
	}
	c, err := kubeCluster(env, s.Context)
	if err != nil {
		return nil, nil, err
	}
	p := &sealedSecretsProbe{kubeReader: newKubeReader(c), spec: s.withDefaults(), env: env}
	return p, rules, nil
}

func (s *SealedSecretsSpec) withDefaults() SealedSecretsSpec {
	out := *s
	if out.Namespace == "" {
		out.Namespace = "kube-system"
	}
	if out.Controller == "" {
		out.Controller = "sealed-secrets-controller"
	}
	if out.Service == "" {
		out.Service = out.Controller
	}
	return out
}

type sealedSecretsProbe struct {
	kubeReader
	spec SealedSecretsSpec
	env  Env
}

var (
	_ Probe   = (*sealedSecretsProbe)(nil)
	_ Changer = (*sealedSecretsProbe)(nil)
)

// isSealingKey reports whether a Secret is an active sealing key.
func (p *sealedSecretsProbe) isSealingKey(u *unstructured.Unstructured) bool {
	l := labels.Set(u.GetLabels())
	if p.spec.KeySelector != "" {
		return parseSelector(p.spec.KeySelector).Matches(l)
	}
	return l[sealingKeyLabel] == "active" || l[sealingKeyStatusLabel] == "active"
}

func (p *sealedSecretsProbe) Observe(ctx context.Context) Observation {
	ns := p.spec.Namespace
	byName := func(name string) func(*unstructured.Unstructured) bool {
		return func(u *unstructured.Unstructured) bool { return u.GetName() == name }
	}
	deps, err := p.read(ctx, resDeployments, ns, byName(p.spec.Controller))
	if err != nil {
		return Observation{Err: err}
	}
	svcs, err := p.read(ctx, resServices, ns, byName(p.spec.Service))
	if err != nil {
		return Observation{Err: err}
	}
	sliceObjs, err := p.read(ctx, resEndpointSlices, ns, func(u *unstructured.Unstructured) bool {
		return u.GetLabels()[discoveryv1.LabelServiceName] == p.spec.Service
	})
	if err != nil {
		return Observation{Err: err}
	}
	keys, err := p.read(ctx, resSecrets, ns, p.isSealingKey)
	if err != nil {
		return Observation{Err: err}
	}

	var items []Item
	failing := 0
	add := func(it Item) {
		if !it.Status.OK() {
			failing++
		}
		items = append(items, it)
	}

	// The controller.
	ctrl := Item{Name: "deployment/" + p.spec.Controller, Status: StatusFail, Summary: "not found", Reason: "NotFound"}
	if len(deps) == 1 {
		d, err := fromUnstructured[appsv1.Deployment](deps[0])
		if err != nil {
			return Observation{Err: err}
		}
		ro := kube.DeploymentRollout(d)
		ctrl = Item{Name: ctrl.Name, Status: PhaseStatus(ro.Phase), Reason: ro.Reason, Message: ro.Message, Since: d.CreationTimestamp.Time,
			Summary: fmt.Sprintf("%d/%d ready (%s)", ro.Ready, ro.Desired, ro.Phase)}
	}
	add(ctrl)

	// Its Service and endpoints.
	var eps []*discoveryv1.EndpointSlice
	for _, u := range sliceObjs {
		es, err := fromUnstructured[discoveryv1.EndpointSlice](u)
		if err != nil {
			return Observation{Err: err}
		}
		eps = append(eps, es)
	}
	ready := ReadyEndpoints(eps)
	svc := Item{Name: "service/" + p.spec.Service, Status: StatusFail, Summary: "not found", Reason: "NotFound"}
	if len(svcs) == 1 {
		svc.Since, svc.Reason = svcs[0].GetCreationTimestamp().Time, ""
		svc.Summary = fmt.Sprintf("%d ready %s", ready, plural(ready, "endpoint", "endpoints"))
		svc.Status = StatusPass
		if ready == 0 {
			svc.Status, svc.Reason = StatusFail, "NoEndpoints"
		}
	}
	add(svc)

	// The active sealing key: the newest one seals.
	slices.SortFunc(keys, func(a, b *unstructured.Unstructured) int {
		return b.GetCreationTimestamp().Compare(a.GetCreationTimestamp().Time)
	})
	values := map[string]float64{"keys": float64(len(keys)), "endpoints": float64(ready)}
	key := Item{Name: "sealing key", Status: StatusFail, Summary: "no active sealing key Secret in " + ns, Reason: "NotFound"}
	if len(keys) > 0 {
		k := keys[0]
		key = Item{Name: "secret/" + k.GetName(), Status: StatusPass, Since: k.GetCreationTimestamp().Time}
		leaf, err := secretCert(k)
		if err != nil {
			key.Status, key.Summary = StatusFail, err.Error()
		} else {
			d := daysLeft(p.env.now(), leaf.NotAfter)
			values["days_left"] = d
			key.Summary = fmt.Sprintf("active, certificate %s expires %s (%sd)", leaf.Subject.String(), leaf.NotAfter.UTC().Format("2006-01-02"), formatValue(d))
			if d < 0 {
				key.Status = StatusFail
			}
		}
		if len(keys) > 1 {
			key.Message = fmt.Sprintf("%d active keys; the newest seals", len(keys))
		}
	}
	add(key)
	values["failing"] = float64(failing)

	var parts []string
	for _, it := range items {
		parts = append(parts, it.Name+" "+it.Summary)
	}
	summary := strings.Join(parts, "; ")
	if d, ok := values["days_left"]; ok && failing == 0 {
		summary = fmt.Sprintf("controller %s, %d %s, key expires in %sd", ctrl.Summary, ready, plural(ready, "endpoint", "endpoints"), formatValue(d))
	}
	return Observation{Summary: summary, Items: items, Values: values}
}
