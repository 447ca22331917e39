package actions

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
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

// deploymentAnnotationsKept are the Deployment annotations an undo keeps
// rather than take from the ReplicaSet of the revision it restores — the
// deployment controller's own bookkeeping, as kubectl rollout undo keeps
// them.
var deploymentAnnotationsKept = []string{
	corev1.LastAppliedConfigAnnotation,
	revisionAnnotation,
	"deployment.kubernetes.io/revision-history",
	"deployment.kubernetes.io/desired-replicas",
	"deployment.kubernetes.io/max-replicas",
	appsv1.DeprecatedRollbackTo,
}

// objectRef is the Object.Ref of workload r in namespace ns.
func objectRef(r kube.WorkloadRef, ns string) string {
	return r.Kind.String() + "/" + ns + "/" + r.Name
}

// parseWorkloadRef parses kubectl's TYPE/NAME form (a bare name is refused).
func parseWorkloadRef(s string) (kube.WorkloadRef, error) {
	return kube.ParseWorkloadRef(s, kube.NoWorkload)
}

// specFieldErr builds the *probes.FieldError a Spec's Validate returns.
func specFieldErr(field, format string, args ...any) error {
	return &probes.FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// specNamespaceErr checks an optional namespace field.
func specNamespaceErr(ns string) error {
	if ns == "" {
		return nil
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return specFieldErr("namespace", "%q: %s", ns, strings.Join(errs, "; "))
	}
	return nil
}

// kubeOf resolves a spec's kubeconfig context through env, and the
// namespace the action works in (the spec's, else the context's).
func kubeOf(env Env, contextName, namespace string) (*probes.Cluster, string, error) {
	if env.Kube == nil {
		return nil, "", errors.New("no Kubernetes access configured (kubeconfig)")
	}
	c, err := env.Kube(contextName)
	if err != nil {
		return nil, "", err // it names the context it looked for
	}
	if namespace == "" {
		namespace = c.Namespace()
	}
	return c, namespace, nil
}

// inNamespace is " in NS", or nothing when the spec leaves the namespace to
// the context.
func inNamespace(ns string) string {
	if ns == "" {
		return ""
	}
	return " in " + ns
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

// kubeErrStatus is the status a result shows for err: forbidden for an
// authorization denial (kube.Err made it a *probes.ForbiddenError), else
// error — an admission plugin's 403 included.
func kubeErrStatus(err error) probes.Status {
	if fe := (*probes.ForbiddenError)(nil); errors.As(err, &fe) {
		return probes.StatusForbidden
	}
	return probes.StatusError
}

// kubeErrFinal reports whether retrying err cannot help: RBAC, a missing
// object, a request the server rejects (admission included: a quota
// exceeded stays so for the run).
func kubeErrFinal(err error) bool {
	if fe := (*probes.ForbiddenError)(nil); errors.As(err, &fe) {
		return true
	}
	return apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || apierrors.IsNotFound(err) ||
		apierrors.IsBadRequest(err) || apierrors.IsInvalid(err) || apierrors.IsMethodNotSupported(err)
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

// pausedErr refuses to restart or undo a paused Deployment, as kubectl
// does: nothing would roll out until it is resumed.
func pausedErr(ref kube.WorkloadRef, u *unstructured.Unstructured) error {
	if ref.Kind != kube.Deployment {
		return nil
	}
	if paused, _, _ := unstructured.NestedBool(u.Object, "spec", "paused"); paused {
		return fmt.Errorf("%s is paused: resume it first (kubectl rollout resume %s)", ref, ref)
	}
	return nil
}

// restartPatch is kubectl rollout restart's patch.
func restartPatch(at string) []byte {
	b, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{restartedAtAnnotation: at}}}}})
	return b
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

// stamp sets a result's time and duration.
func stampResult(res Result, start time.Time, now func() time.Time) Result {
	res.ObservedAt = start
	res.Duration = now().Sub(start)
	return res
}

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

// planRestart dry-runs the restart patch of every workload.
func (a *rolloutAction) planRestart(ctx context.Context) Result {
	at := a.now().UTC().Format(time.RFC3339)
	var res Result
	var statuses []probes.Status
	for _, ref := range a.refs {
		item := probes.Item{Name: ref.String(), Status: probes.StatusPass}
		obj := Object{Ref: objectRef(ref, a.wl.ns), Op: OpConfigured}
		changes, err := a.dryRunRestart(ctx, ref, at)
		if err != nil {
			item.Status, item.Summary, item.Message = kubeErrStatus(err), "cannot restart", err.Error()
			if errors.Is(err, errPaused) {
				item.Status = probes.StatusFail
			}
			obj.Op, obj.Error = OpFailed, err.Error()
			res.Message = joinNotes(res.Message, err.Error())
		} else {
			res.Changes++
			item.Summary = "restartedAt → " + at
			item.Message = strings.Join(changes, "; ")
			res.Message = joinNotes(res.Message, ref.String()+": "+strings.Join(changes, "; "))
		}
		statuses = append(statuses, item.Status)
		res.Items = append(res.Items, item)
		res.Objects = append(res.Objects, obj)
	}
	res.Status = probes.Worst(statuses...)
	res.Summary = fmt.Sprintf("would restart %d of %d %s and watch them roll out (deadline %s)", res.Changes, len(a.refs),
		nounFor(len(a.refs), "workload", "workloads"), a.deadline)
	return res
}

// errPaused marks a refusal to restart or undo a paused Deployment.
var errPaused = errors.New("paused")

// dryRunRestart checks one restart and says what it changes.
func (a *rolloutAction) dryRunRestart(ctx context.Context, ref kube.WorkloadRef, at string) ([]string, error) {
	live, err := a.wl.get(ctx, ref)
	if err != nil {
		return nil, err
	}
	if err := pausedErr(ref, live); err != nil {
		return nil, fmt.Errorf("%w: %w", errPaused, err)
	}
	dry, err := a.wl.patch(ctx, ref, types.StrategicMergePatchType, restartPatch(at), true)
	if err != nil {
		return nil, err
	}
	changes := templateChanges(live, dry)
	if strategy, _, _ := unstructured.NestedString(live.Object, "spec", "updateStrategy", "type"); strategy == "OnDelete" {
		changes = append(changes, "note: the OnDelete update strategy restarts pods only as they are deleted")
	}
	return changes, nil
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

// doRestart patches every workload's template; on the first failure it
// stops, and the result says what was restarted, what failed and what was
// not tried.
func (a *rolloutAction) doRestart(ctx context.Context) ([]Object, Result, bool) {
	at := a.now().UTC().Format(time.RFC3339)
	var objects []Object
	for i, ref := range a.refs {
		u, err := a.wl.get(ctx, ref)
		if err == nil {
			if err = pausedErr(ref, u); err != nil {
				err = fmt.Errorf("%w: %w", errPaused, err)
			}
		}
		if err == nil {
			u, err = a.wl.patch(ctx, ref, types.StrategicMergePatchType, restartPatch(at), false)
		}
		if err != nil {
			objects = append(objects, Object{Ref: objectRef(ref, a.wl.ns), Op: OpFailed, Error: err.Error()})
			for _, rest := range a.refs[i+1:] {
				objects = append(objects, Object{Ref: objectRef(rest, a.wl.ns), Op: OpSkipped})
			}
			st := kubeErrStatus(err)
			if errors.Is(err, errPaused) {
				st = probes.StatusFail
			}
			return objects, Result{Result: probes.Result{Status: st,
				Summary: fmt.Sprintf("restart failed at %s (%d of %d restarted)", ref, i, len(a.refs)),
				Message: "restart " + ref.String() + ": " + err.Error()}, Objects: objects}, false
		}
		objects = append(objects, Object{Ref: objectRef(ref, a.wl.ns), Op: OpConfigured,
			ResourceVersion: u.GetResourceVersion(), Generation: u.GetGeneration()})
	}
	return objects, Result{}, true
}

// rolloutUpdate is a watcher's news of workload i.
type rolloutUpdate struct {
	i  int
	st rolloutState
}

// watch follows every workload until all have rolled out, one fails, or
// the deadline passes. A failure ends the watch at once (as kubectl
// rollout status does): the others go on rolling out in the cluster, their
// last state is in the result.
func (a *rolloutAction) watch(ctx context.Context, progress func(Result), start time.Time, objects []Object) Result {
	wctx, cancel := context.WithTimeout(ctx, a.deadline)
	defer cancel()
	states := make([]rolloutState, len(a.refs))
	for i, ref := range a.refs {
		states[i] = rolloutState{item: probes.Item{Name: ref.String(), Status: probes.StatusPending, Summary: "not read yet"}}
	}
	updates := make(chan rolloutUpdate)
	var wg sync.WaitGroup
	for i, ref := range a.refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.follow(wctx, ref, func(st rolloutState) bool {
				select {
				case updates <- rolloutUpdate{i: i, st: st}:
					return true
				case <-wctx.Done():
					return false
				}
			})
		}()
	}
	stoppedBy := ""
loop:
	for {
		select {
		case u := <-updates:
			if states[u.i].item == u.st.item && states[u.i].final == u.st.final {
				continue
			}
			states[u.i] = u.st
			if failed := firstFailed(states); failed != "" {
				stoppedBy = failed
				break loop
			}
			if allComplete(states) {
				break loop
			}
			if progress != nil {
				progress(stampResult(a.snapshot(states, objects), start, a.now))
			}
		case <-wctx.Done():
			break loop
		}
	}
	cancel()
	wg.Wait()
	return a.final(ctx, states, objects, stoppedBy)
}

// follow watches one workload, sending each state that differs, until it
// is final or ctx ends.
func (a *rolloutAction) follow(ctx context.Context, ref kube.WorkloadRef, send func(rolloutState) bool) {
	cl := a.wl.client(ref.Kind)
	var last rolloutState
	err := followObject(ctx, ref.Name,
		func(ctx context.Context) (runtime.Object, error) { return a.wl.get(ctx, ref) },
		func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			w, err := cl.Watch(ctx, opts)
			if err != nil {
				return nil, kube.Err(err, kube.Call{Verb: "watch", Resource: ref.Kind.Resource(), Namespace: a.wl.ns, Name: ref.Name})
			}
			return w, nil
		},
		func(obj runtime.Object, deleted bool) bool {
			u, ok := obj.(*unstructured.Unstructured)
			var st rolloutState
			switch {
			case deleted:
				st = rolloutState{phase: kube.RolloutFailed, final: true, item: probes.Item{Name: ref.String(), Status: probes.StatusFail,
					Summary: "deleted", Reason: "Deleted", Message: "deleted while it rolled out"}}
			case !ok:
				st = errState(ref, fmt.Errorf("watch %s: unexpected object %T", ref, obj))
			default:
				st = stateOf(ref, u)
			}
			last = st
			return !send(st) || st.final
		},
		func(err error) {
			// A passing failure: keep the last state, say why it is stale.
			st := last
			if st.item.Name == "" {
				st.item = probes.Item{Name: ref.String(), Status: probes.StatusPending, Summary: "not read yet"}
			}
			st.item.Message = joinNotes(st.item.Message, "retrying: "+err.Error())
			send(st)
		})
	if err != nil && ctx.Err() == nil {
		send(errState(ref, err))
	}
}

// firstFailed names the first workload whose rollout failed or cannot be
// watched, if any.
func firstFailed(states []rolloutState) string {
	for _, st := range states {
		if st.final && st.phase != kube.RolloutComplete {
			return st.item.Name
		}
	}
	return ""
}

func allComplete(states []rolloutState) bool {
	for _, st := range states {
		if st.phase != kube.RolloutComplete {
			return false
		}
	}
	return true
}

// snapshot is an interim result.
func (a *rolloutAction) snapshot(states []rolloutState, objects []Object) Result {
	res := Result{Objects: objects}
	complete := 0
	for _, st := range states {
		res.Items = append(res.Items, st.item)
		if st.phase == kube.RolloutComplete {
			complete++
		}
	}
	res.Status = probes.StatusPending
	res.Summary = fmt.Sprintf("%d/%d rolled out", complete, len(states))
	res.Values = map[string]float64{"complete": float64(complete), "total": float64(len(states))}
	return res
}

// final is the result once the watch has ended: pass when every workload
// rolled out; else fail (forbidden or error when one could not be read)
// naming each that did not and why, with an undo offered for failed ones.
func (a *rolloutAction) final(ctx context.Context, states []rolloutState, objects []Object, stoppedBy string) Result {
	res := a.snapshot(states, objects)
	complete := int(res.Values["complete"])
	if complete == len(states) {
		res.Status = probes.StatusPass
		if a.restart {
			res.Summary = fmt.Sprintf("%d/%d restarted and rolled out", complete, len(states))
		}
		a.setOffered(nil, 0)
		return res
	}
	// Why the watch ended, for the workloads still rolling out.
	ended := ""
	switch {
	case stoppedBy != "":
		ended = "still rolling out (watch stopped: " + stoppedBy + " failed)"
	case ctx.Err() != nil:
		ended = fmt.Sprintf("not rolled out when the step ended (%v)", context.Cause(ctx))
	default:
		ended = fmt.Sprintf("not rolled out when the deadline (%s) passed", a.deadline)
	}
	var statuses, failedNames []string
	var failed []kube.WorkloadRef
	var stats []probes.Status
	for i := range states {
		st, ref := &states[i], a.refs[i]
		switch {
		case st.phase == kube.RolloutComplete:
			continue
		case st.final:
			statuses = append(statuses, ref.String()+": "+st.item.Message)
			if st.err == nil && !st.noUndo {
				failed = append(failed, ref)
			}
		default:
			why := ref.String() + " " + ended
			if st.item.Message != "" {
				why += ": " + st.item.Message
			}
			statuses = append(statuses, why)
			if stoppedBy == "" {
				// The deadline (or the step's end) failed it.
				st.item.Status, st.item.Reason = probes.StatusFail, "DeadlineExceeded"
				if ctx.Err() != nil {
					st.item.Reason = "Interrupted"
				}
				failed = append(failed, ref)
			}
		}
		failedNames = append(failedNames, ref.String())
		stats = append(stats, st.item.Status)
		res.Items[i] = st.item
	}
	res.Status = probes.Worst(append(stats, probes.StatusFail)...)
	res.Summary = fmt.Sprintf("%d/%d rolled out; not: %s", complete, len(states), strings.Join(failedNames, ", "))
	res.Message = strings.Join(statuses, "; ")
	if len(failed) > 0 {
		offer, note := a.offerUndo(ctx, failed)
		res.UndoRevision = offer
		res.Message = joinNotes(res.Message, note)
	}
	return res
}

// offerUndo looks up the revision each failed rollout would go back to
// (the one before its live template's, see workloadHistory.previous) and
// remembers them for Undo.
func (a *rolloutAction) offerUndo(ctx context.Context, failed []kube.WorkloadRef) (int64, string) {
	// The step's context may be over (that may be why the rollout
	// failed): the lookup gets a short one of its own.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	offered := map[kube.WorkloadRef]int64{}
	var first int64
	var offers, notes []string
	for _, ref := range failed {
		u, err := a.wl.get(hctx, ref)
		var h workloadHistory
		if err == nil {
			h, err = a.wl.history(hctx, ref, u)
		}
		if err != nil {
			notes = append(notes, fmt.Sprintf("no undo offered for %s: %v", ref, err))
			continue
		}
		prev, ok := h.previous()
		if !ok {
			notes = append(notes, fmt.Sprintf("no undo offered for %s: %s", ref, h.noPrevious()))
			continue
		}
		offered[ref] = prev.number
		if first == 0 {
			first = prev.number
		}
		offers = append(offers, fmt.Sprintf("%s to revision %d", ref, prev.number))
		if note := h.unmatchedNote(ref, prev); note != "" {
			notes = append(notes, note)
		}
	}
	a.setOffered(offered, first)
	switch {
	case len(offers) == 1 && len(failed) == 1:
		notes = append([]string{fmt.Sprintf("undo offered: revision %d", first)}, notes...)
	case len(offers) > 0:
		notes = append([]string{"undo offered: " + strings.Join(offers, ", ")}, notes...)
	}
	return first, strings.Join(notes, "; ")
}

func (a *rolloutAction) setOffered(offered map[kube.WorkloadRef]int64, first int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.offered, a.first = offered, first
}

// Undo implements Undoer: it rolls back the workloads whose rollout failed
// in the last execution — to revision when one failed, else each to the
// revision it was offered (revision 0 or the offered UndoRevision). Without
// a failed execution in this process (the action rebuilt after a restart),
// it rolls back the spec's only workload, or those whose rollout is not
// complete now. Like kubectl rollout undo, it changes the template and
// does not wait for the rollback to roll out.
func (a *rolloutAction) Undo(ctx context.Context, revision int64) Result {
	start := a.now()
	if revision < 0 {
		return stampResult(Result{Result: probes.Result{Status: probes.StatusError, Summary: "undo refused",
			Message: fmt.Sprintf("a revision must be > 0 (0: the previous one), got %d", revision)}}, start, a.now)
	}
	a.mu.Lock()
	offered, first := a.offered, a.first
	a.mu.Unlock()
	targets := map[kube.WorkloadRef]int64{}
	switch {
	case len(offered) > 0:
		for ref, rev := range offered {
			targets[ref] = rev
		}
	case len(a.refs) == 1:
		targets[a.refs[0]] = 0
	default:
		for _, ref := range a.refs {
			u, err := a.wl.get(ctx, ref)
			if err != nil {
				return stampResult(Result{Result: probes.Result{Status: kubeErrStatus(err), Summary: "undo failed",
					Message: fmt.Sprintf("choosing what to undo: %v", err)}}, start, a.now)
			}
			if st := stateOf(ref, u); st.phase != kube.RolloutComplete {
				targets[ref] = 0
			}
		}
		if len(targets) == 0 {
			return stampResult(Result{Result: probes.Result{Status: probes.StatusError, Summary: "nothing to undo",
				Message: "every workload of this rollout has rolled out; roll one back with a rollout-undo step"}}, start, a.now)
		}
	}
	if revision > 0 {
		switch {
		case len(targets) == 1:
			for ref := range targets {
				targets[ref] = revision
			}
		case revision != first:
			return stampResult(Result{Result: probes.Result{Status: probes.StatusError, Summary: "undo refused",
				Message: fmt.Sprintf("revision %d names one workload's history, and %d rollouts failed; undo each to its offered revision (0) or use a rollout-undo step", revision, len(targets))}}, start, a.now)
		}
	}
	var res Result
	var statuses []probes.Status
	var summaries []string
	for _, ref := range a.refs {
		to, ok := targets[ref]
		if !ok {
			continue
		}
		out, err := a.wl.undo(ctx, ref, to, false)
		item, obj := out.report(ref, a.wl.ns, err, false)
		res.Items = append(res.Items, item)
		res.Objects = append(res.Objects, obj)
		statuses = append(statuses, item.Status)
		summaries = append(summaries, item.Summary)
		res.Message = joinNotes(res.Message, item.Message)
	}
	res.Status = probes.Worst(statuses...)
	res.Summary = strings.Join(summaries, "; ")
	return stampResult(res, start, a.now)
}

// RolloutUndoSpec configures a "rollout-undo" action: kubectl rollout undo
// of one workload, for runbooks that roll back on purpose.
//
//	action: {kind: rollout-undo, namespace: gravl-prod, resource: deployment/api}
//	action: {kind: rollout-undo, namespace: gravl-prod, resource: deployment/api, revision: 4}
//
// A Deployment goes back through its ReplicaSets' revisions, a StatefulSet
// or DaemonSet through its ControllerRevisions. The action changes the
// template; a rollout step after it watches the rollback roll out.
type RolloutUndoSpec struct {
	// Resource is the workload, as kubectl TYPE/NAME.
	Resource string `json:"resource" yaml:"resource"`
	// Revision to go back to; 0 (the default) is the previous one.
	Revision int64 `json:"revision,omitempty" yaml:"revision,omitempty"`
	// Namespace is where it lives; "" is the context's namespace.
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	// Context is the kubeconfig context; "" is the step's cluster.
	Context string `json:"context,omitempty" yaml:"context,omitempty"`
}

var _ Spec = (*RolloutUndoSpec)(nil)

// Validate implements Spec.
func (s *RolloutUndoSpec) Validate() error {
	var errs []error
	if s.Resource == "" {
		errs = append(errs, specFieldErr("resource", "name the workload, like deployment/api"))
	} else if _, err := parseWorkloadRef(s.Resource); err != nil {
		errs = append(errs, specFieldErr("resource", "%v", err))
	}
	if s.Revision < 0 {
		errs = append(errs, specFieldErr("revision", "must be > 0, or 0 for the previous revision; got %d", s.Revision))
	}
	if err := specNamespaceErr(s.Namespace); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Mutating implements Spec.
func (s *RolloutUndoSpec) Mutating() bool { return true }

// Describe implements Spec.
func (s *RolloutUndoSpec) Describe() string {
	to := "the previous revision"
	if s.Revision > 0 {
		to = fmt.Sprintf("revision %d", s.Revision)
	}
	return fmt.Sprintf("roll %s%s back to %s", s.Resource, inNamespace(s.Namespace), to)
}

// Permissions implements Spec: get and patch of the workload, list of its
// revision history (replicasets or controllerrevisions).
func (s *RolloutUndoSpec) Permissions() []probes.Permission {
	ref, err := parseWorkloadRef(s.Resource)
	if err != nil {
		return nil
	}
	return workloadPermissions(s.Context, s.Namespace, []kube.WorkloadRef{ref}, []string{"get", "patch"})
}

// Build implements Spec.
func (s *RolloutUndoSpec) Build(env Env) (Action, error) {
	ref, err := parseWorkloadRef(s.Resource)
	if err != nil {
		return nil, fmt.Errorf("rollout-undo: %w", err)
	}
	c, ns, err := kubeOf(env, s.Context, s.Namespace)
	if err != nil {
		return nil, err
	}
	return &rolloutUndoAction{wl: &workloads{typed: c.Typed(), dynamic: c.Dynamic(), ns: ns}, ref: ref, revision: s.Revision, now: env.Clock()}, nil
}

type rolloutUndoAction struct {
	wl       *workloads
	ref      kube.WorkloadRef
	revision int64
	now      func() time.Time
}

var _ Action = (*rolloutUndoAction)(nil)

// Plan implements Action: a server-side dry run of the rollback, naming
// the revisions and the pod template fields it changes.
func (a *rolloutUndoAction) Plan(ctx context.Context) Result {
	return a.run(ctx, true)
}

// Execute implements Action.
func (a *rolloutUndoAction) Execute(ctx context.Context, _ func(Result)) Result {
	return a.run(ctx, false)
}

func (a *rolloutUndoAction) run(ctx context.Context, dryRun bool) Result {
	start := a.now()
	out, err := a.wl.undo(ctx, a.ref, a.revision, dryRun)
	item, obj := out.report(a.ref, a.wl.ns, err, dryRun)
	res := Result{Result: probes.Result{Status: item.Status, Summary: item.Summary, Message: item.Message,
		Items: []probes.Item{item}}, Objects: []Object{obj}}
	if err == nil && !out.skipped && dryRun {
		res.Changes = 1
	}
	return stampResult(res, start, a.now)
}

// workloadRevision is one revision of a workload's history.
type workloadRevision struct {
	number int64
	source string // the ReplicaSet or ControllerRevision holding it
	// Deployments: the ReplicaSet's template (pod-template-hash label
	// removed) and annotations.
	template    *corev1.PodTemplateSpec
	annotations map[string]string
	// StatefulSets and DaemonSets: the ControllerRevision's strategic
	// merge patch restoring the template.
	patch []byte
}

// workloadHistory is a workload's revisions, oldest first.
type workloadHistory struct {
	revisions []workloadRevision
	// current is the revision holding the live template, when matched.
	// None may: the controller has not recorded the new template's
	// revision yet (slow, or kept from it by a quota or a webhook), so the
	// newest revision is not necessarily the live one.
	current int64
	matched bool
}

// previous is the revision an undo goes back to: the newest before the
// current one; when no revision holds the live template, the newest.
func (h workloadHistory) previous() (workloadRevision, bool) {
	for i := len(h.revisions) - 1; i >= 0; i-- {
		if !h.matched || h.revisions[i].number < h.current {
			return h.revisions[i], true
		}
	}
	return workloadRevision{}, false
}

// noPrevious says why previous found nothing.
func (h workloadHistory) noPrevious() string {
	if h.matched {
		return fmt.Sprintf("no revision before %d (revisions: %s)", h.current, h.numbers())
	}
	return "no revision recorded"
}

// unmatchedNote says which revision previous took when none holds the
// live template.
func (h workloadHistory) unmatchedNote(ref kube.WorkloadRef, prev workloadRevision) string {
	if h.matched {
		return ""
	}
	return fmt.Sprintf("no revision of %s holds its live template (its revision is not recorded yet): the newest, %d, is taken as the previous one", ref, prev.number)
}

func (h workloadHistory) find(n int64) (workloadRevision, bool) {
	for _, r := range h.revisions {
		if r.number == n {
			return r, true
		}
	}
	return workloadRevision{}, false
}

func (h workloadHistory) numbers() string {
	if len(h.revisions) == 0 {
		return "none"
	}
	s := make([]string, len(h.revisions))
	for i, r := range h.revisions {
		s[i] = strconv.FormatInt(r.number, 10)
	}
	return strings.Join(s, ", ")
}

// history reads the revisions of workload u: the ReplicaSets a Deployment
// controls, numbered by their revision annotation, or the
// ControllerRevisions a StatefulSet or DaemonSet controls — as kubectl
// rollout history does — and finds the current one, holding u's live
// template: the ReplicaSet whose template equals it but for the
// pod-template-hash label (kubectl's equality); the StatefulSet's
// status.updateRevision once it has observed its generation; else the
// ControllerRevision restoring exactly the live template.
func (w *workloads) history(ctx context.Context, ref kube.WorkloadRef, u *unstructured.Unstructured) (workloadHistory, error) {
	var h workloadHistory
	selMap, found, err := unstructured.NestedMap(u.Object, "spec", "selector")
	if err != nil || !found {
		return h, fmt.Errorf("%s has no selector", ref)
	}
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(selMap, &ls); err != nil {
		return h, fmt.Errorf("%s: selector: %w", ref, err)
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil {
		return h, fmt.Errorf("%s: selector: %w", ref, err)
	}
	opts := metav1.ListOptions{LabelSelector: sel.String()}
	owned := func(o metav1.Object) bool { return metav1.IsControlledBy(o, u) }
	if ref.Kind == kube.Deployment {
		list, err := w.typed.AppsV1().ReplicaSets(w.ns).List(ctx, opts)
		if err != nil {
			return h, kube.Err(err, kube.Call{Verb: "list", Resource: "replicasets.apps", Namespace: w.ns})
		}
		for i := range list.Items {
			rs := &list.Items[i]
			n, err := strconv.ParseInt(rs.Annotations[revisionAnnotation], 10, 64)
			if !owned(rs) || err != nil {
				continue
			}
			tpl := rs.Spec.Template.DeepCopy()
			delete(tpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
			h.revisions = append(h.revisions, workloadRevision{number: n, source: "replicaset/" + rs.Name, template: tpl, annotations: rs.Annotations})
		}
		var d appsv1.Deployment
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d); err != nil {
			return h, fmt.Errorf("decode %s: %w", ref, err)
		}
		live := d.Spec.Template.DeepCopy()
		delete(live.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
		for _, r := range h.revisions {
			if apiequality.Semantic.DeepEqual(live, r.template) && (!h.matched || r.number > h.current) {
				h.current, h.matched = r.number, true
			}
		}
	} else {
		list, err := w.typed.AppsV1().ControllerRevisions(w.ns).List(ctx, opts)
		if err != nil {
			return h, kube.Err(err, kube.Call{Verb: "list", Resource: "controllerrevisions.apps", Namespace: w.ns})
		}
		for i := range list.Items {
			cr := &list.Items[i]
			if !owned(cr) {
				continue
			}
			h.revisions = append(h.revisions, workloadRevision{number: cr.Revision, source: "controllerrevision/" + cr.Name, patch: cr.Data.Raw})
		}
		h.current, h.matched = controllerRevisionCurrent(ref, u, h.revisions)
	}
	slices.SortFunc(h.revisions, func(a, b workloadRevision) int { return cmp.Compare(a.number, b.number) })
	return h, nil
}

// controllerRevisionCurrent finds the ControllerRevision of a StatefulSet's
// or DaemonSet's live template: a StatefulSet's status.updateRevision, when
// the controller has observed the live generation; else the newest
// revision whose patch leaves the live template as it is.
func controllerRevisionCurrent(ref kube.WorkloadRef, u *unstructured.Unstructured, revisions []workloadRevision) (int64, bool) {
	if ref.Kind == kube.StatefulSet {
		observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
		update, _, _ := unstructured.NestedString(u.Object, "status", "updateRevision")
		if update != "" && observed >= u.GetGeneration() {
			for _, r := range revisions {
				if r.source == "controllerrevision/"+update {
					return r.number, true
				}
			}
		}
	}
	var current int64
	matched := false
	for _, r := range revisions {
		if _, _, same, err := controllerRevisionPatch(ref, u, r); err == nil && same && (!matched || r.number > current) {
			current, matched = r.number, true
		}
	}
	return current, matched
}

// undoOutcome is what an undo did (or would do).
type undoOutcome struct {
	from, to int64    // from 0: the live template is no revision's
	skipped  bool     // the template already is the revision's
	changes  []string // the template fields changed
	note     string   // how the revision was chosen, when worth saying
	obj      *unstructured.Unstructured
}

// undo rolls ref back to revision to (0: the previous one), as kubectl
// rollout undo does; dryRun only asks the server what it would do.
func (w *workloads) undo(ctx context.Context, ref kube.WorkloadRef, to int64, dryRun bool) (undoOutcome, error) {
	var out undoOutcome
	live, err := w.get(ctx, ref)
	if err != nil {
		return out, err
	}
	if err := pausedErr(ref, live); err != nil {
		return out, fmt.Errorf("%w: %w", errPaused, err)
	}
	h, err := w.history(ctx, ref, live)
	if err != nil {
		return out, err
	}
	out.from = h.current // 0: the live template is no revision's
	var target workloadRevision
	var ok bool
	if to == 0 {
		if target, ok = h.previous(); !ok {
			return out, fmt.Errorf("%w to go back to: %s: %s", errNoRevision, ref, h.noPrevious())
		}
		out.note = h.unmatchedNote(ref, target)
	} else if target, ok = h.find(to); !ok {
		return out, fmt.Errorf("%w: %s has no revision %d (revisions: %s)", errNoRevision, ref, to, h.numbers())
	}
	out.to = target.number
	var pt types.PatchType
	var data []byte
	if ref.Kind == kube.Deployment {
		pt, data, out.skipped, err = deploymentUndoPatch(live, target)
	} else {
		pt, data, out.skipped, err = controllerRevisionPatch(ref, live, target)
	}
	if err != nil {
		return out, fmt.Errorf("%s to revision %d: %w", ref, target.number, err)
	}
	if out.skipped {
		out.obj = live
		return out, nil
	}
	after, err := w.patch(ctx, ref, pt, data, dryRun)
	if err != nil {
		return out, err
	}
	out.obj = after
	out.changes = templateChanges(live, after)
	return out, nil
}

// errNoRevision marks an undo to a revision the history does not hold.
var errNoRevision = errors.New("no such revision")

// deploymentUndoPatch is kubectl's rollback of a Deployment: the
// revision's ReplicaSet template replaces the Deployment's, and its
// annotations replace the Deployment's but for the controller's own. skip
// is true when the template already matches.
func deploymentUndoPatch(live *unstructured.Unstructured, target workloadRevision) (types.PatchType, []byte, bool, error) {
	var d appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(live.Object, &d); err != nil {
		return "", nil, false, fmt.Errorf("decode deployment: %w", err)
	}
	cur := d.Spec.Template.DeepCopy()
	delete(cur.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	if apiequality.Semantic.DeepEqual(cur, target.template) {
		return "", nil, true, nil
	}
	annotations := map[string]string{}
	for _, k := range deploymentAnnotationsKept {
		if v, ok := d.Annotations[k]; ok {
			annotations[k] = v
		}
	}
	for k, v := range target.annotations {
		if !slices.Contains(deploymentAnnotationsKept, k) {
			annotations[k] = v
		}
	}
	data, err := json.Marshal([]map[string]any{
		{"op": "replace", "path": "/spec/template", "value": target.template},
		// add, not replace: it also works when there are no annotations.
		{"op": "add", "path": "/metadata/annotations", "value": annotations},
	})
	return types.JSONPatchType, data, false, err
}

// controllerRevisionPatch is kubectl's rollback of a StatefulSet or
// DaemonSet: the ControllerRevision's data is a strategic merge patch
// restoring the template. skip is true when applying it changes nothing.
func controllerRevisionPatch(ref kube.WorkloadRef, live *unstructured.Unstructured, target workloadRevision) (types.PatchType, []byte, bool, error) {
	if len(target.patch) == 0 {
		return "", nil, false, fmt.Errorf("%s holds no template", target.source)
	}
	var schemaObj any = &appsv1.StatefulSet{}
	if ref.Kind == kube.DaemonSet {
		schemaObj = &appsv1.DaemonSet{}
	}
	cur, err := json.Marshal(live.Object)
	if err != nil {
		return "", nil, false, err
	}
	patched, err := strategicpatch.StrategicMergePatch(cur, target.patch, schemaObj)
	if err != nil {
		return "", nil, false, fmt.Errorf("apply %s: %w", target.source, err)
	}
	var after map[string]any
	if err := json.Unmarshal(patched, &after); err != nil {
		return "", nil, false, err
	}
	// Compared as JSON: the live object's numbers are int64, the patched
	// document's float64.
	before, _ := json.Marshal(live.Object["spec"].(map[string]any)["template"])
	want, _ := json.Marshal(after["spec"].(map[string]any)["template"])
	return types.StrategicMergePatchType, target.patch, bytes.Equal(before, want), nil
}

// report turns an undo's outcome into a result item and object.
func (out undoOutcome) report(ref kube.WorkloadRef, ns string, err error, dryRun bool) (probes.Item, Object) {
	item := probes.Item{Name: ref.String()}
	obj := Object{Ref: objectRef(ref, ns)}
	switch {
	case err != nil:
		item.Status, item.Summary, item.Message = kubeErrStatus(err), "undo failed: "+ref.String(), err.Error()
		if errors.Is(err, errPaused) || errors.Is(err, errNoRevision) || apierrors.IsNotFound(err) {
			item.Status = probes.StatusFail
		}
		obj.Op, obj.Error = OpFailed, err.Error()
		return item, obj
	case out.skipped:
		item.Status = probes.StatusPass
		item.Summary = fmt.Sprintf("%s already matches revision %d: nothing to roll back", ref, out.to)
		obj.Op = OpUnchanged
	default:
		item.Status = probes.StatusPass
		verb := "rolled back"
		if dryRun {
			verb = "would roll back"
		}
		from := fmt.Sprintf("revision %d", out.from)
		if out.from == 0 {
			from = "a template no revision holds"
		}
		item.Summary = fmt.Sprintf("%s %s from %s to revision %d", ref, verb, from, out.to)
		item.Message = joinNotes(strings.Join(out.changes, "; "), out.note)
		obj.Op = OpConfigured
	}
	if !dryRun && out.obj != nil {
		obj.ResourceVersion, obj.Generation = out.obj.GetResourceVersion(), out.obj.GetGeneration()
	}
	return item, obj
}

// followObject reads one object and then watches it from the version
// read, calling visit with each version (deleted: it went away, the last
// call) until visit returns true or ctx ends. A watch that ends is resumed
// from the last version seen; one whose version expired (410 Gone) starts
// over with a fresh read. Other failures are retried with capped backoff
// and reported to retrying — but for those retrying cannot help
// (kubeErrFinal: forbidden, not found…), which it returns. get and watchFn
// return errors mapped by kube.Err.
func followObject(ctx context.Context, name string,
	get func(context.Context) (runtime.Object, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error),
	visit func(obj runtime.Object, deleted bool) bool,
	retrying func(error),
) error {
	backoff := followBackoff()
	pause := func(err error) error {
		retrying(err)
		t := time.NewTimer(backoff.Step())
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		}
	}
	rv := ""
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if rv == "" {
			obj, err := get(ctx)
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case err != nil && kubeErrFinal(err):
				return err
			case err != nil:
				if err := pause(err); err != nil {
					return err
				}
				continue
			}
			if visit(obj, false) {
				return nil
			}
			rv = resourceVersionOf(obj)
		}
		w, err := watchFn(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(),
			ResourceVersion: rv, AllowWatchBookmarks: true})
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && (apierrors.IsGone(err) || apierrors.IsResourceExpired(err)):
			rv = ""
			continue
		case err != nil && kubeErrFinal(err):
			return err
		case err != nil:
			if err := pause(err); err != nil {
				return err
			}
			continue
		}
		done, sawEvent, err := drainWatch(ctx, w, &rv, visit)
		w.Stop()
		switch {
		case done:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && kubeErrFinal(err):
			return err
		case err != nil || !sawEvent:
			// A watch that failed, or ended having shown nothing: wait a
			// little before the next, so a server closing every watch at
			// once is not hammered.
			if err == nil {
				err = errors.New("watch closed")
			}
			if err := pause(err); err != nil {
				return err
			}
		default:
			backoff = followBackoff()
		}
	}
}

// drainWatch consumes w until visit is done, the watch ends or ctx does.
// It keeps *rv at the last version seen ("" after a 410 Gone: read
// afresh).
func drainWatch(ctx context.Context, w watch.Interface, rv *string, visit func(runtime.Object, bool) bool) (done, sawEvent bool, err error) {
	for {
		select {
		case <-ctx.Done():
			return false, sawEvent, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return false, sawEvent, nil
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				sawEvent = true
				*rv = resourceVersionOf(ev.Object)
				if visit(ev.Object, false) {
					return true, true, nil
				}
			case watch.Deleted:
				visit(ev.Object, true)
				return true, true, nil
			case watch.Bookmark:
				*rv = resourceVersionOf(ev.Object)
			case watch.Error:
				err := apierrors.FromObject(ev.Object)
				if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
					*rv = ""
					return false, true, nil
				}
				return false, sawEvent, fmt.Errorf("watch: %w", err)
			}
		}
	}
}

func followBackoff() wait.Backoff {
	return wait.Backoff{Duration: 250 * time.Millisecond, Factor: 2, Jitter: 0.2, Steps: 1 << 30, Cap: 5 * time.Second}
}

func resourceVersionOf(obj runtime.Object) string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetResourceVersion()
}

// maxChangeLines bounds the fields a plan lists per object.
const maxChangeLines = 12

// templateChanges lists the pod template fields that differ between two
// versions of a workload, one line each ("spec.template.spec.containers[api].image:
// registry/api:3 → registry/api:2"): the plain summary a rollout plan
// shows.
func templateChanges(before, after *unstructured.Unstructured) []string {
	a, _, _ := unstructured.NestedFieldNoCopy(before.Object, "spec", "template")
	b, _, _ := unstructured.NestedFieldNoCopy(after.Object, "spec", "template")
	var out []string
	fieldChanges("spec.template", a, b, &out)
	if len(out) == 0 {
		return []string{"no pod template change"}
	}
	if len(out) > maxChangeLines {
		n := len(out) - maxChangeLines
		out = append(out[:maxChangeLines], fmt.Sprintf("… and %d more %s", n, nounFor(n, "field", "fields")))
	}
	return out
}

// plainKey is a map key written after a dot; others go in brackets.
var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func changePath(path, key string) string {
	if plainKey.MatchString(key) {
		return path + "." + key
	}
	return path + "[" + key + "]"
}

// fieldChanges appends a line per leaf field that differs between a and b
// (decoded JSON). Lists of named objects (containers, env) are matched by
// name, other lists by index.
func fieldChanges(path string, a, b any, out *[]string) {
	am, aIsMap := a.(map[string]any)
	bm, bIsMap := b.(map[string]any)
	if aIsMap && b == nil || bIsMap && a == nil || aIsMap && bIsMap {
		keys := make([]string, 0, len(am)+len(bm))
		for k := range am {
			keys = append(keys, k)
		}
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			fieldChanges(changePath(path, k), am[k], bm[k], out)
		}
		return
	}
	al, aIsList := a.([]any)
	bl, bIsList := b.([]any)
	if aIsList && bIsList {
		if an, bn := namedElements(al), namedElements(bl); an != nil && bn != nil {
			var names []string
			for _, l := range [][]any{al, bl} {
				for _, e := range l {
					if n := e.(map[string]any)["name"].(string); !slices.Contains(names, n) {
						names = append(names, n)
					}
				}
			}
			for _, n := range names {
				fieldChanges(path+"["+n+"]", an[n], bn[n], out)
			}
			return
		}
		for i := range max(len(al), len(bl)) {
			var x, y any
			if i < len(al) {
				x = al[i]
			}
			if i < len(bl) {
				y = bl[i]
			}
			fieldChanges(fmt.Sprintf("%s[%d]", path, i), x, y, out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, fmt.Sprintf("%s: %s → %s", path, changeValue(a), changeValue(b)))
	}
}

// namedElements indexes a list of objects by their unique string name, or
// returns nil if it is not such a list.
func namedElements(l []any) map[string]any {
	m := make(map[string]any, len(l))
	for _, e := range l {
		o, ok := e.(map[string]any)
		if !ok {
			return nil
		}
		n, ok := o["name"].(string)
		if _, dup := m[n]; !ok || dup {
			return nil
		}
		m[n] = o
	}
	return m
}

// changeValue shows a value in a change line, shortened.
func changeValue(v any) string {
	var s string
	switch v := v.(type) {
	case nil:
		return "(none)"
	case string:
		if v == "" {
			return `""`
		}
		s = v
	case map[string]any, []any:
		b, err := json.Marshal(v)
		if err != nil {
			s = fmt.Sprint(v)
		} else {
			s = string(b)
		}
	default:
		s = fmt.Sprint(v)
	}
	if r := []rune(s); len(r) > 80 {
		s = string(r[:79]) + "…"
	}
	return s
}

// joinNotes joins two message parts with "; ", either may be empty.
func joinNotes(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// plural picks the singular or plural form of a noun for n.
func nounFor(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
