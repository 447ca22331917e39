package actions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/cockpit-dev/cockpit/internal/kube"
	"github.com/cockpit-dev/cockpit/probes"
)

// DefaultRolloutDeadline is how long a rollout action waits for its
// workloads when the runbook names no deadline.
const DefaultRolloutDeadline = 5 * time.Minute

// The annotations kubectl's rollout commands read and write.
const (
	// restartedAtAnnotation is what `kubectl rollout restart` sets on the
	// pod template: a new value makes a new template, so a new rollout.
	restartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"
	// revisionAnnotation numbers a Deployment's ReplicaSets.
	revisionAnnotation = kube.RevisionAnnotation
)

// objectRef is the Object.Ref of workload r in namespace ns.
func objectRef(r kube.WorkloadRef, ns string) string {
	return r.Kind.String() + "/" + ns + "/" + r.Name
}

// parseWorkloadRef parses kubectl's TYPE/NAME form (a bare name is refused).
func parseWorkloadRef(s string) (kube.WorkloadRef, error) {
	return kube.ParseWorkloadRef(s, kube.NoWorkload)
}

// RolloutSpec configures a "rollout" action: kubectl rollout status over
// several workloads at once with one deadline, after a kubectl rollout
// restart when Restart is set.
//
//	action: {kind: rollout, namespace: gravl-prod, resources: [deployment/api, statefulset/db], deadline: 10m}
//	action: {kind: rollout, namespace: gravl-prod, resources: [deploy/api], restart: true}
//
// It passes when every workload has rolled out, and fails when one fails
// (a Deployment past its progress deadline), is missing, is a paused
// Deployment (at once: it would not roll out before it is resumed), or has
// not rolled out when the deadline passes. A failed rollout (but a paused
// one) offers an undo to the revision before the live template's
// (Result.UndoRevision; the action is an Undoer).
type RolloutSpec struct {
	// Resources are the workloads, as kubectl TYPE/NAME (deployment/api,
	// sts/db, ds/agent).
	Resources []string `json:"resources" yaml:"resources"`
	// Namespace is where they live; "" is the context's namespace.
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	// Context is the kubeconfig context; "" is the step's cluster.
	Context string `json:"context,omitempty" yaml:"context,omitempty"`
	// Deadline bounds the wait for all of them together (default 5m).
	Deadline probes.Duration `json:"deadline,omitempty" yaml:"deadline,omitempty"`
	// Restart restarts them first, as kubectl rollout restart does: a new
	// kubectl.kubernetes.io/restartedAt annotation on the pod template.
	Restart bool `json:"restart,omitempty" yaml:"restart,omitempty"`
}

var _ Spec = (*RolloutSpec)(nil)

// Validate implements Spec.
func (s *RolloutSpec) Validate() error {
	var errs []error
	if len(s.Resources) == 0 {
		errs = append(errs, specFieldErr("resources", "name at least one workload, like deployment/api"))
	}
	seen := map[kube.WorkloadRef]int{}
	for i, r := range s.Resources {
		ref, err := parseWorkloadRef(r)
		if err != nil {
			errs = append(errs, specFieldErr(fmt.Sprintf("resources[%d]", i), "%v", err))
			continue
		}
		if j, ok := seen[ref]; ok {
			errs = append(errs, specFieldErr(fmt.Sprintf("resources[%d]", i), "%q repeats resources[%d]", r, j))
		}
		seen[ref] = i
	}
	if s.Deadline < 0 {
		errs = append(errs, specFieldErr("deadline", "must not be negative, got %s", time.Duration(s.Deadline)))
	}
	if err := specNamespaceErr(s.Namespace); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Mutating implements Spec: only a restart changes anything.
func (s *RolloutSpec) Mutating() bool { return s.Restart }

// Describe implements Spec.
func (s *RolloutSpec) Describe() string {
	verb := "watch"
	if s.Restart {
		verb = "restart and watch"
	}
	return fmt.Sprintf("%s %s roll out%s (deadline %s)", verb, strings.Join(s.Resources, ", "), inNamespace(s.Namespace), s.Deadline.Or(DefaultRolloutDeadline))
}

// Permissions implements Spec: get, list, watch and patch of each workload
// type named, and list of the resources their revisions live in
// (replicasets, controllerrevisions). Patch is for the restart and for the
// undo a failed rollout offers: the offer is part of the step, so the
// credentials it is planned for can take it up (a read-only run never
// does).
func (s *RolloutSpec) Permissions() []probes.Permission {
	return workloadPermissions(s.Context, s.Namespace, s.refs(), []string{"get", "list", "watch", "patch"})
}

// workloadPermissions are verbs on each type of refs, and list of their
// revision history's resources.
func workloadPermissions(contextName, ns string, refs []kube.WorkloadRef, verbs []string) []probes.Permission {
	var out []probes.Permission
	var types []kube.WorkloadKind
	var history []string
	for _, r := range refs {
		if slices.Contains(types, r.Kind) {
			continue
		}
		types = append(types, r.Kind)
		out = append(out, probes.Permission{Context: contextName, Group: appsv1.GroupName, Resource: r.Kind.GVR().Resource,
			Namespace: ns, Verbs: slices.Clone(verbs)})
		if !slices.Contains(history, r.Kind.History()) {
			history = append(history, r.Kind.History())
		}
	}
	for _, h := range history {
		out = append(out, probes.Permission{Context: contextName, Group: appsv1.GroupName, Resource: h, Namespace: ns, Verbs: []string{"list"}})
	}
	return out
}

// refs are the spec's valid resources.
func (s *RolloutSpec) refs() []kube.WorkloadRef {
	var refs []kube.WorkloadRef
	for _, r := range s.Resources {
		if ref, err := parseWorkloadRef(r); err == nil && !slices.Contains(refs, ref) {
			refs = append(refs, ref)
		}
	}
	return refs
}

// Build implements Spec.
func (s *RolloutSpec) Build(env Env) (Action, error) {
	c, ns, err := kubeOf(env, s.Context, s.Namespace)
	if err != nil {
		return nil, err
	}
	refs := s.refs()
	if len(refs) != len(s.Resources) {
		return nil, errors.New("rollout: invalid resources (the spec was not validated)")
	}
	return &rolloutAction{
		wl:       &workloads{typed: c.Typed(), dynamic: c.Dynamic(), ns: ns},
		refs:     refs,
		restart:  s.Restart,
		deadline: s.Deadline.Or(DefaultRolloutDeadline),
		now:      env.Clock(),
	}, nil
}

// workloads reads and changes the workloads of one namespace.
type workloads struct {
	typed   kubernetes.Interface
	dynamic dynamic.Interface
	ns      string
}

func (w *workloads) client(t kube.WorkloadKind) dynamic.ResourceInterface {
	return w.dynamic.Resource(t.GVR()).Namespace(w.ns)
}

func (w *workloads) get(ctx context.Context, ref kube.WorkloadRef) (*unstructured.Unstructured, error) {
	u, err := w.client(ref.Kind).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil, kube.Err(err, kube.Call{Verb: "get", Resource: ref.Kind.Resource(), Namespace: w.ns, Name: ref.Name})
	}
	return u, nil
}

func (w *workloads) patch(ctx context.Context, ref kube.WorkloadRef, pt types.PatchType, data []byte, dryRun bool) (*unstructured.Unstructured, error) {
	opts := metav1.PatchOptions{FieldManager: "cockpit"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	u, err := w.client(ref.Kind).Patch(ctx, ref.Name, pt, data, opts)
	if err != nil {
		return nil, kube.Err(err, kube.Call{Verb: "patch", Resource: ref.Kind.Resource(), Namespace: w.ns, Name: ref.Name})
	}
	return u, nil
}

// rolloutState is what a rollout action knows of one workload.
type rolloutState struct {
	item  probes.Item
	phase kube.RolloutPhase
	// final: nothing will change it — complete, failed, missing, deleted,
	// or unreadable for good (forbidden).
	final bool
	// err is why it could not be read (final), for the result's status.
	err error
	// noUndo: its failure is not one an undo mends (a paused Deployment,
	// which an undo refuses anyway).
	noUndo bool
}

// stateOf is the state a version of the workload shows.
func stateOf(ref kube.WorkloadRef, u *unstructured.Unstructured) rolloutState {
	ro, err := kube.RolloutStatus(ref.Kind, u, 0)
	if err != nil {
		return errState(ref, err)
	}
	summary := fmt.Sprintf("%d/%d updated, %d ready, %d available (%s)", ro.Updated, ro.Desired, ro.Ready, ro.Available, ro.Phase)
	if ro.Phase == kube.RolloutPending {
		summary = fmt.Sprintf("generation %d not observed yet (%s)", u.GetGeneration(), ro.Phase)
	}
	if ro.Paused && ro.Phase != kube.RolloutComplete {
		// A paused Deployment does not roll out until it is resumed:
		// waiting for it would only wait for the deadline.
		return rolloutState{
			item: probes.Item{Name: ref.String(), Status: probes.StatusFail,
				Summary: fmt.Sprintf("paused: %d/%d updated, %d ready, %d available", ro.Updated, ro.Desired, ro.Ready, ro.Available),
				Reason:  "Paused", Message: "paused: resume it (kubectl rollout resume) first", Since: ro.Since},
			phase: kube.RolloutFailed, final: true, noUndo: true,
		}
	}
	return rolloutState{
		item: probes.Item{Name: ref.String(), Status: probes.PhaseStatus(ro.Phase), Summary: summary,
			Reason: ro.Reason, Message: ro.Message, Since: ro.Since},
		phase: ro.Phase,
		final: ro.Done(),
	}
}

// errState is a workload that cannot be read for good.
func errState(ref kube.WorkloadRef, err error) rolloutState {
	st := rolloutState{phase: kube.RolloutPending, final: true, err: err,
		item: probes.Item{Name: ref.String(), Status: kubeErrStatus(err), Summary: "cannot read", Message: err.Error()}}
	switch {
	case apierrors.IsNotFound(err):
		st.item.Status, st.item.Summary, st.item.Reason, st.item.Message = probes.StatusFail, "not found", "NotFound", "not found"
	case st.item.Status == probes.StatusForbidden:
		st.item.Reason = "Forbidden"
	}
	return st
}

// rolloutAction is a built rollout.
type rolloutAction struct {
	wl       *workloads
	refs     []kube.WorkloadRef
	restart  bool
	deadline time.Duration
	now      func() time.Time

	mu sync.Mutex
	// offered are the failed rollouts of the last execution, with the
	// revision each offers to go back to; first is the one the result
	// named in UndoRevision.
	offered map[kube.WorkloadRef]int64
	first   int64
}

var (
	_ Action = (*rolloutAction)(nil)
	_ Undoer = (*rolloutAction)(nil)
)

// Plan implements Action: for a restart, a server-side dry run of each
// restart patch and the pod template fields it changes; for a watch, what
// each workload's rollout looks like now.
func (a *rolloutAction) Plan(ctx context.Context) Result {
	start := a.now()
	if a.restart {
		return stampResult(a.planRestart(ctx), start, a.now)
	}
	var res Result
	var statuses []probes.Status
	complete := 0
	for _, ref := range a.refs {
		var st rolloutState
		if u, err := a.wl.get(ctx, ref); err != nil {
			st = errState(ref, err)
		} else {
			st = stateOf(ref, u)
		}
		res.Items = append(res.Items, st.item)
		switch {
		case st.err != nil || st.phase == kube.RolloutFailed:
			statuses = append(statuses, st.item.Status)
			res.Message = joinNotes(res.Message, st.item.Message)
		case st.phase == kube.RolloutComplete:
			complete++
		}
	}
	res.Status = probes.Worst(statuses...)
	res.Summary = fmt.Sprintf("would watch %d %s (%d rolled out now)", len(a.refs), nounFor(len(a.refs), "workload", "workloads"), complete)
	return stampResult(res, start, a.now)
}

// Execute implements Action: the restart (when asked), then the watch.
func (a *rolloutAction) Execute(ctx context.Context, progress func(Result)) Result {
	start := a.now()
	// An undo offered by an earlier execution is not this one's.
	a.setOffered(nil, 0)
	var objects []Object
	if a.restart {
		var res Result
		var ok bool
		if objects, res, ok = a.doRestart(ctx); !ok {
			return stampResult(res, start, a.now)
		}
	}
	return stampResult(a.watch(ctx, progress, start, objects), start, a.now)
}
