package probes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cockpit-dev/cockpit/internal/kube"
)

// PhaseStatus is the item status a rollout phase shows: complete passes,
// failed fails, anything else is still pending.
func PhaseStatus(p kube.RolloutPhase) Status {
	switch p {
	case kube.RolloutComplete:
		return StatusPass
	case kube.RolloutFailed:
		return StatusFail
	}
	return StatusPending
}

// workloadResource is the resource a workload kind is read from.
func workloadResource(k kube.WorkloadKind) kubeResource {
	return kubeResource{gvr: k.GVR(), namespaced: true}
}

// WorkloadSpec configures a "k8s.workload" probe: Deployments, StatefulSets
// or DaemonSets rolled out by kubectl's rollout status semantics.
//
//	probe: {kind: k8s.workload, namespace: cert-manager,
//	        names: [cert-manager, cert-manager-cainjector, cert-manager-webhook]}
//	probe: {kind: k8s.workload, namespace: gravl-prod, selector: app.kubernetes.io/part-of=gravl}
//	probe: {kind: k8s.workload, namespace: gravl-prod, names: [deployment/backend, statefulset/postgres]}
type WorkloadSpec struct {
	Context   string `json:"context,omitempty" yaml:"context,omitempty"`
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	// Resource is deployments (default), statefulsets or daemonsets (short
	// names too). A name "TYPE/NAME" overrides it for that name.
	Resource string        `json:"resource,omitempty" yaml:"resource,omitempty"`
	Names    []string      `json:"names,omitempty" yaml:"names,omitempty"`
	Selector string        `json:"selector,omitempty" yaml:"selector,omitempty"`
	Outcomes []OutcomeSpec `json:"outcomes,omitempty" yaml:"outcomes,omitempty"`
}

var (
	_ Spec            = (*WorkloadSpec)(nil)
	_ PermissionsSpec = (*WorkloadSpec)(nil)
)

// workloadValues are what a k8s.workload probe observes.
var workloadValues = []string{"desired", "ready", "progressing", "failing", "missing", "replicas", "replicas_ready"}

// defaultWorkloadOutcomes fail on anything not rolled out. A rollout still
// in progress, with nothing failed or missing, is not judged by the rules:
// the observation is pending (ErrPending) until it completes or fails.
var defaultWorkloadOutcomes = []OutcomeSpec{
	{Fail: &RuleSpec{When: "missing > 0", Message: "{{missing}} workload(s) missing"}},
	{Fail: &RuleSpec{When: "failing > 0", Message: "{{failing}} rollout(s) exceeded the progress deadline"}},
	{Fail: &RuleSpec{When: "desired == 0", Message: "no workload matched"}},
	{Fail: &RuleSpec{When: "ready < desired", Message: "{{progressing}} rollout(s) in progress: {{ready}}/{{desired}} ready"}},
	{Pass: &RuleSpec{Message: "{{ready}}/{{desired}} rolled out"}},
}

// Values implements Spec.
func (s *WorkloadSpec) Values() []string { return workloadValues }

// Permissions implements PermissionsSpec: list and watch of each workload
// type the probe reads (the types its names give, else Resource, else
// deployments) in its namespace.
func (s *WorkloadSpec) Permissions() []Permission {
	var kinds []kube.WorkloadKind
	for _, n := range s.Names {
		if ref, err := s.ref(n); err == nil && !slices.Contains(kinds, ref.Kind) {
			kinds = append(kinds, ref.Kind)
		}
	}
	if len(kinds) == 0 {
		kinds = append(kinds, s.defaultKind())
	}
	out := make([]Permission, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, reads(s.Context, workloadResource(k), s.Namespace))
	}
	return out
}

// Validate implements Spec.
func (s *WorkloadSpec) Validate() error {
	errs := validateSelect(nil, s.Selector)
	if len(s.Names) > 0 && s.Selector != "" {
		errs = append(errs, fieldErr("selector", "names and selector exclude each other"))
	}
	if _, ok := kube.ParseWorkloadKind(s.Resource); s.Resource != "" && !ok {
		errs = append(errs, fieldErr("resource", "want deployments, statefulsets or daemonsets, got %q", s.Resource))
	}
	seen := map[kube.WorkloadRef]int{}
	for i, n := range s.Names {
		ref, err := s.ref(n)
		if err != nil {
			errs = append(errs, fieldErr(fmt.Sprintf("names[%d]", i), "%v", err))
			continue
		}
		if j, ok := seen[ref]; ok {
			errs = append(errs, fieldErr(fmt.Sprintf("names[%d]", i), "%q repeats names[%d]", n, j))
		}
		seen[ref] = i
	}
	if _, err := CompileOutcomes(s.Outcomes, workloadValues); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// defaultKind is the kind of a bare name: Resource's, else (unset or
// invalid, which Validate reports) Deployment.
func (s *WorkloadSpec) defaultKind() kube.WorkloadKind {
	if k, ok := kube.ParseWorkloadKind(s.Resource); ok {
		return k
	}
	return kube.Deployment
}

// ref parses "NAME" or "TYPE/NAME".
func (s *WorkloadSpec) ref(n string) (kube.WorkloadRef, error) {
	return kube.ParseWorkloadRef(n, s.defaultKind())
}

// Build implements Spec.
func (s *WorkloadSpec) Build(env Env) (Probe, Outcomes, error) {
	rules, err := buildOutcomes(s.Outcomes, defaultWorkloadOutcomes, workloadValues)
	if err != nil {
		return nil, nil, err
	}
	c, err := kubeCluster(env, s.Context)
	if err != nil {
		return nil, nil, err
	}
	p := &workloadProbe{kubeReader: newKubeReader(c), namespace: s.Namespace, selector: s.Selector}
	if p.namespace == "" {
		p.namespace = c.Namespace()
	}
	for _, n := range s.Names {
		ref, err := s.ref(n)
		if err != nil {
			return nil, nil, fmt.Errorf("names: %w", err)
		}
		p.refs = append(p.refs, ref)
	}
	if len(p.refs) == 0 {
		p.kinds = []kube.WorkloadKind{s.defaultKind()}
	}
	for _, r := range p.refs {
		if !slices.Contains(p.kinds, r.Kind) {
			p.kinds = append(p.kinds, r.Kind)
		}
	}
	return p, rules, nil
}

type workloadProbe struct {
	kubeReader
	namespace string
	selector  string
	refs      []kube.WorkloadRef  // named workloads, if any
	kinds     []kube.WorkloadKind // the kinds read
}

var (
	_ Probe   = (*workloadProbe)(nil)
	_ Changer = (*workloadProbe)(nil)
)

func (p *workloadProbe) Observe(ctx context.Context) Observation {
	var items []Item
	var desired, ready, progressing, failing, replicas, replicasReady int
	var missing []string
	for _, k := range p.kinds {
		sel := kubeSelect{namespace: p.namespace, selector: parseSelector(p.selector)}
		for _, r := range p.refs {
			if r.Kind == k {
				sel.names = append(sel.names, r.Name)
			}
		}
		objs, err := p.read(ctx, workloadResource(k), p.namespace, sel.match)
		if err != nil {
			return Observation{Err: err}
		}
		for _, n := range sel.missing(objs) {
			ref := kube.WorkloadRef{Kind: k, Name: n}.String()
			missing = append(missing, ref)
			items = append(items, Item{Name: ref, Status: StatusFail, Summary: "not found", Reason: "NotFound"})
		}
		for _, u := range objs {
			ro, err := kube.RolloutStatus(k, u, 0)
			if err != nil {
				return Observation{Err: err}
			}
			desired++
			replicas += int(ro.Desired)
			replicasReady += int(ro.Ready)
			switch ro.Phase {
			case kube.RolloutComplete:
				ready++
			case kube.RolloutFailed:
				failing++
			default:
				progressing++
			}
			since := ro.Since
			if since.IsZero() {
				since = u.GetCreationTimestamp().Time
			}
			items = append(items, Item{
				Name:    kube.WorkloadRef{Kind: k, Name: u.GetName()}.String(),
				Status:  PhaseStatus(ro.Phase),
				Summary: fmt.Sprintf("%d/%d ready, %d updated, %d available (%s)", ro.Ready, ro.Desired, ro.Updated, ro.Available, ro.Phase),
				Reason:  ro.Reason,
				Message: ro.Message,
				Since:   since,
			})
		}
	}
	summary := fmt.Sprintf("%d/%d ready (%d/%d replicas)", ready, desired+len(missing), replicasReady, replicas)
	if progressing > 0 {
		summary += fmt.Sprintf(", %d rolling out", progressing)
	}
	if failing > 0 {
		summary += fmt.Sprintf(", %d failed", failing)
	}
	if len(missing) > 0 {
		summary += ", missing: " + strings.Join(missing, ", ")
	}
	obs := Observation{
		Summary: summary,
		Items:   items,
		Values: map[string]float64{
			"desired":        float64(desired + len(missing)),
			"ready":          float64(ready),
			"progressing":    float64(progressing),
			"failing":        float64(failing),
			"missing":        float64(len(missing)),
			"replicas":       float64(replicas),
			"replicas_ready": float64(replicasReady),
		},
	}
	if progressing > 0 && failing == 0 && len(missing) == 0 {
		// Nothing has failed and the rest is still moving: no verdict yet.
		obs.Err = fmt.Errorf("%w: %d %s in progress", ErrPending, progressing, plural(progressing, "rollout", "rollouts"))
	}
	return obs
}
