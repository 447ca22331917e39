package actions

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/cockpit-dev/cockpit/internal/kube"
	"github.com/cockpit-dev/cockpit/probes"
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

// offerUndo looks up the revision each failed rollout would go back to
// (the one before its live template's, see workloadHistory.previous) and
// remembers them for Undo. The workloads of rolling (still rolling out
// when another's failure ended the watch) are offered it too where they
// have a revision to go back to; where not, nothing is said of them.
func (a *rolloutAction) offerUndo(ctx context.Context, failed, rolling []kube.WorkloadRef) (int64, string) {
	// The step's context may be over (that may be why the rollout
	// failed): the lookup gets a short one of its own.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	offered := map[kube.WorkloadRef]int64{}
	var first int64
	var offers, notes []string
	for i, ref := range slices.Concat(failed, rolling) {
		quiet := i >= len(failed)
		u, err := a.wl.get(hctx, ref)
		var h workloadHistory
		if err == nil {
			h, err = a.wl.history(hctx, ref, u)
		}
		if err != nil {
			if !quiet {
				notes = append(notes, fmt.Sprintf("no undo offered for %s: %v", ref, err))
			}
			continue
		}
		prev, ok := h.previous()
		if !ok {
			if !quiet {
				notes = append(notes, fmt.Sprintf("no undo offered for %s: %s", ref, h.noPrevious()))
			}
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
	case len(offers) == 1 && len(failed) == 1 && len(rolling) == 0:
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
				Message: fmt.Sprintf("revision %d names one workload's history, and %d workloads are offered the undo; undo each to its offered revision (0) or use a rollout-undo step", revision, len(targets))}}, start, a.now)
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
