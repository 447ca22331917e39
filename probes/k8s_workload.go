package probes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/cockpit-dev/cockpit/internal/kube"
)

// RolloutPhase is where a workload's rollout stands.
type RolloutPhase uint8

// The phases, in kubectl rollout status's terms.
const (
	RolloutPending     RolloutPhase = iota // the controller has not observed the latest spec yet
	RolloutProgressing                     // new replicas are being rolled out
	RolloutComplete                        // successfully rolled out
	RolloutFailed                          // the Deployment exceeded its progress deadline
)

var rolloutPhaseNames = [...]string{
	RolloutPending:     "pending",
	RolloutProgressing: "progressing",
	RolloutComplete:    "complete",
	RolloutFailed:      "failed",
}

func (p RolloutPhase) String() string {
	if int(p) < len(rolloutPhaseNames) {
		return rolloutPhaseNames[p]
	}
	return fmt.Sprintf("RolloutPhase(%d)", p)
}

// Status is the item status a phase shows: complete passes, failed fails,
// anything else is still pending.
func (p RolloutPhase) Status() Status {
	switch p {
	case RolloutComplete:
		return StatusPass
	case RolloutFailed:
		return StatusFail
	}
	return StatusPending
}

// Rollout is the rollout state of one workload: a pure function of the
// object, mirroring kubectl's rollout status viewers.
type Rollout struct {
	Phase     RolloutPhase
	Desired   int32 // spec.replicas, or the daemon set's desired pods
	Updated   int32
	Ready     int32
	Available int32
	Reason    string    // ProgressDeadlineExceeded, or the Progressing condition's reason
	Message   string    // kubectl's words
	Since     time.Time // the Progressing condition's last transition, if any
}

// progressDeadlineExceeded is the Progressing condition reason the
// deployment controller sets when a rollout stalls (kubectl's
// TimedOutReason).
const progressDeadlineExceeded = "ProgressDeadlineExceeded"

// DeploymentRollout mirrors kubectl's DeploymentStatusViewer.
func DeploymentRollout(d *appsv1.Deployment) Rollout {
	desired := int32(1)
	if d.Spec.Replicas != nil {
		desired = *d.Spec.Replicas
	}
	st := d.Status
	r := Rollout{Desired: desired, Updated: st.UpdatedReplicas, Ready: st.ReadyReplicas, Available: st.AvailableReplicas}
	var cond *appsv1.DeploymentCondition
	for i := range st.Conditions {
		if st.Conditions[i].Type == appsv1.DeploymentProgressing {
			cond = &st.Conditions[i]
		}
	}
	if cond != nil {
		r.Reason, r.Since = cond.Reason, cond.LastTransitionTime.Time
	}
	switch {
	case d.Generation > st.ObservedGeneration:
		r.Phase, r.Message = RolloutPending, "waiting for deployment spec update to be observed"
	case cond != nil && cond.Reason == progressDeadlineExceeded:
		r.Phase, r.Message = RolloutFailed, fmt.Sprintf("deployment %q exceeded its progress deadline", d.Name)
		if cond.Message != "" {
			r.Message += ": " + cond.Message
		}
	case st.UpdatedReplicas < desired:
		r.Phase, r.Message = RolloutProgressing, fmt.Sprintf("%d out of %d new replicas have been updated", st.UpdatedReplicas, desired)
	case st.Replicas > st.UpdatedReplicas:
		r.Phase, r.Message = RolloutProgressing, fmt.Sprintf("%d old replicas are pending termination", st.Replicas-st.UpdatedReplicas)
	case st.AvailableReplicas < st.UpdatedReplicas:
		r.Phase, r.Message = RolloutProgressing, fmt.Sprintf("%d of %d updated replicas are available", st.AvailableReplicas, st.UpdatedReplicas)
	default:
		r.Phase, r.Message = RolloutComplete, "successfully rolled out"
	}
	return r
}

// StatefulSetRollout mirrors kubectl's StatefulSetStatusViewer. kubectl
// refuses OnDelete stateful sets; here they are complete once every replica
// is ready, and say so.
func StatefulSetRollout(s *appsv1.StatefulSet) Rollout {
	desired := int32(1)
	if s.Spec.Replicas != nil {
		desired = *s.Spec.Replicas
	}
	st := s.Status
	r := Rollout{Desired: desired, Updated: st.UpdatedReplicas, Ready: st.ReadyReplicas, Available: st.AvailableReplicas}
	onDelete := s.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType
	switch {
	case st.ObservedGeneration == 0 || s.Generation > st.ObservedGeneration:
		r.Phase, r.Message = RolloutPending, "waiting for statefulset spec update to be observed"
	case st.ReadyReplicas < desired:
		r.Phase, r.Message = RolloutProgressing, fmt.Sprintf("waiting for %d pods to be ready", desired-st.ReadyReplicas)
	case onDelete:
		r.Phase, r.Message = RolloutComplete, fmt.Sprintf("%d pods ready (OnDelete: pods update when deleted)", st.ReadyReplicas)
	case s.Spec.UpdateStrategy.RollingUpdate != nil && s.Spec.UpdateStrategy.RollingUpdate.Partition != nil:
		want := desired - *s.Spec.UpdateStrategy.RollingUpdate.Partition
		if st.UpdatedReplicas < want {
			r.Phase, r.Message = RolloutProgressing, fmt.Sprintf("partitioned roll out: %d out of %d new pods have been updated", st.UpdatedReplicas, want)
		} else {
			r.Phase, r.Message = RolloutComplete, fmt.Sprintf("partitioned roll out complete: %d new pods have been updated", st.UpdatedReplicas)
		}
	case st.UpdateRevision != st.CurrentRevision:
		r.Phase, r.Message = RolloutProgressing, fmt.Sprintf("rolling update: %d pods at revision %s", st.UpdatedReplicas, st.UpdateRevision)
	default:
		r.Phase, r.Message = RolloutComplete, fmt.Sprintf("rolling update complete: %d pods at revision %s", st.CurrentReplicas, st.CurrentRevision)
	}
	return r
}

// DaemonSetRollout mirrors kubectl's DaemonSetStatusViewer (OnDelete daemon
// sets, which kubectl refuses, are complete once every pod is available).
func DaemonSetRollout(d *appsv1.DaemonSet) Rollout {
	st := d.Status
	r := Rollout{Desired: st.DesiredNumberScheduled, Updated: st.UpdatedNumberScheduled, Ready: st.NumberReady, Available: st.NumberAvailable}
	onDelete := d.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType
	switch {
	case d.Generation > st.ObservedGeneration:
		r.Phase, r.Message = RolloutPending, "waiting for daemon set spec update to be observed"
	case !onDelete && st.UpdatedNumberScheduled < st.DesiredNumberScheduled:
		r.Phase, r.Message = RolloutProgressing, fmt.Sprintf("%d out of %d new pods have been updated", st.UpdatedNumberScheduled, st.DesiredNumberScheduled)
	case st.NumberAvailable < st.DesiredNumberScheduled:
		r.Phase, r.Message = RolloutProgressing, fmt.Sprintf("%d of %d updated pods are available", st.NumberAvailable, st.DesiredNumberScheduled)
	default:
		r.Phase, r.Message = RolloutComplete, "successfully rolled out"
	}
	return r
}

// workloadResource is the resource a workload kind is read from.
func workloadResource(k kube.WorkloadKind) kubeResource {
	return kubeResource{gvr: k.GVR(), namespaced: true}
}

// rolloutOf computes the rollout of a workload object of kind k.
func rolloutOf(k kube.WorkloadKind, u *unstructured.Unstructured) (Rollout, error) {
	switch k {
	case kube.Deployment:
		d, err := fromUnstructured[appsv1.Deployment](u)
		if err != nil {
			return Rollout{}, err
		}
		return DeploymentRollout(d), nil
	case kube.StatefulSet:
		s, err := fromUnstructured[appsv1.StatefulSet](u)
		if err != nil {
			return Rollout{}, err
		}
		return StatefulSetRollout(s), nil
	case kube.DaemonSet:
		d, err := fromUnstructured[appsv1.DaemonSet](u)
		if err != nil {
			return Rollout{}, err
		}
		return DaemonSetRollout(d), nil
	}
	return Rollout{}, fmt.Errorf("%s is not a workload kind", k)
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
			ro, err := rolloutOf(k, u)
			if err != nil {
				return Observation{Err: err}
			}
			desired++
			replicas += int(ro.Desired)
			replicasReady += int(ro.Ready)
			switch ro.Phase {
			case RolloutComplete:
				ready++
			case RolloutFailed:
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
				Status:  ro.Phase.Status(),
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
