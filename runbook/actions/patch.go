package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/cockpit-dev/cockpit/internal/kube"
	"github.com/cockpit-dev/cockpit/probes"
)

// maxConflictRetries bounds the re-reads of an object changed between the
// read a patch was computed from and the patch.
const maxConflictRetries = 5

// TargetSpec selects the objects an annotate, label or patch action
// changes: named ones, or those a label selector matches (at least one
// must).
type TargetSpec struct {
	// Resource is the resource type as kubectl takes it: "ingress",
	// "ingresses.networking.k8s.io", "deploy".
	Resource string `json:"resource" yaml:"resource"`
	// Names are the objects' names (or Selector).
	Names []string `json:"names,omitempty" yaml:"names,omitempty"`
	// Selector is a label selector ("app=web,tier!=db"). An execution
	// changes the objects its plan listed, not ones selected since.
	Selector string `json:"selector,omitempty" yaml:"selector,omitempty"`
	// Namespace is where namespaced objects are; "" is the context's.
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	// Context is the kubeconfig context; "" is the step's cluster.
	Context string `json:"context,omitempty" yaml:"context,omitempty"`
}

func (t *TargetSpec) validate() []error {
	var errs []error
	switch {
	case strings.TrimSpace(t.Resource) == "":
		errs = append(errs, specFieldErr("resource", "required: a resource type (ingress, deployments.apps…)"))
	case strings.Contains(t.Resource, "/"):
		errs = append(errs, specFieldErr("resource", "%q: want a resource type; put the names in names", t.Resource))
	}
	switch {
	case len(t.Names) == 0 && t.Selector == "":
		errs = append(errs, specFieldErr("names", "want names or a selector"))
	case len(t.Names) > 0 && t.Selector != "":
		errs = append(errs, specFieldErr("selector", "want names or a selector, not both"))
	}
	for i, n := range t.Names {
		if n == "" || strings.Contains(n, "/") {
			errs = append(errs, specFieldErr(fmt.Sprintf("names[%d]", i), "%q: want an object name", n))
		}
		if slices.Index(t.Names, n) < i {
			errs = append(errs, specFieldErr(fmt.Sprintf("names[%d]", i), "%q named twice", n))
		}
	}
	if t.Selector != "" {
		if _, err := labels.Parse(t.Selector); err != nil {
			errs = append(errs, specFieldErr("selector", "%v", err))
		}
	}
	if err := specNamespaceErr(t.Namespace); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// describe is "ingress web, api in gravl-prod" or "ingress selected by
// app=web in gravl-prod".
func (t *TargetSpec) describe() string {
	s := t.Resource + " " + strings.Join(t.Names, ", ")
	if t.Selector != "" {
		s = t.Resource + " selected by " + t.Selector
	}
	s += inNamespace(t.Namespace)
	if t.Context != "" {
		s += " (context " + t.Context + ")"
	}
	return s
}

// permissions are verbs on the resource (list added for a selector),
// resolved offline.
func (t *TargetSpec) permissions(verbs ...string) []probes.Permission {
	gr, cluster, known := probes.ParseResource(t.Resource)
	if t.Selector != "" {
		verbs = append(verbs, "list")
	}
	p := probes.Permission{Context: t.Context, Group: gr.Group, Resource: gr.Resource, ClusterScoped: cluster, Verbs: verbs, Assumed: !known}
	if !cluster {
		p.Namespace = t.Namespace
	}
	return []probes.Permission{p}
}

// MetadataEdit is what an annotate or label action changes.
type MetadataEdit struct {
	// Set are keys to set to values.
	Set map[string]string `json:"set,omitempty" yaml:"set,omitempty"`
	// Remove are keys to remove (absent ones are left alone).
	Remove []string `json:"remove,omitempty" yaml:"remove,omitempty"`
	// Overwrite lets Set change a key that has another value. Without it,
	// as with kubectl, such an object is refused (fails) and left as it
	// is; a key that already has the value is fine either way.
	Overwrite bool `json:"overwrite,omitempty" yaml:"overwrite,omitempty"`
}

// validate checks keys (and, for labels, values).
func (e *MetadataEdit) validate(labelValues bool) []error {
	var errs []error
	if len(e.Set) == 0 && len(e.Remove) == 0 {
		errs = append(errs, specFieldErr("set", "want keys to set or remove"))
	}
	for _, k := range slices.Sorted(maps.Keys(e.Set)) {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			errs = append(errs, specFieldErr("set."+k, "invalid key: %s", strings.Join(msgs, "; ")))
		}
		if labelValues {
			if msgs := validation.IsValidLabelValue(e.Set[k]); len(msgs) > 0 {
				errs = append(errs, specFieldErr("set."+k, "invalid label value %q: %s", e.Set[k], strings.Join(msgs, "; ")))
			}
		}
		if slices.Contains(e.Remove, k) {
			errs = append(errs, specFieldErr("remove", "%q is both set and removed", k))
		}
	}
	for i, k := range e.Remove {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			errs = append(errs, specFieldErr(fmt.Sprintf("remove[%d]", i), "invalid key %q: %s", k, strings.Join(msgs, "; ")))
		}
	}
	return errs
}

// describe is "set a=b, c=d; remove e, overwriting".
func (e *MetadataEdit) describe() string {
	var parts []string
	if len(e.Set) > 0 {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(e.Set)) {
			kv = append(kv, k+"="+shortenValue(e.Set[k], 40))
		}
		parts = append(parts, "set "+strings.Join(kv, ", "))
	}
	if len(e.Remove) > 0 {
		parts = append(parts, "remove "+strings.Join(e.Remove, ", "))
	}
	s := strings.Join(parts, "; ")
	if e.Overwrite {
		s += " (overwrite)"
	}
	return s
}

// shortenValue cuts s to n runes, marking the cut.
func shortenValue(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// change is the merge patch that makes an object's field ("annotations"
// or "labels") carry the edit; noop when it already does. The patch
// carries the object's resourceVersion: it was computed from this version.
func (e *MetadataEdit) change(field, what string, live *unstructured.Unstructured) (types.PatchType, []byte, bool, error) {
	cur, _, _ := unstructured.NestedStringMap(live.Object, "metadata", field)
	edit := map[string]any{}
	var refused []string
	for _, k := range slices.Sorted(maps.Keys(e.Set)) {
		v := e.Set[k]
		old, has := cur[k]
		switch {
		case has && old == v:
		case has && !e.Overwrite:
			shown := fmt.Sprintf(" (%q)", shortenValue(old, 64))
			if isSecret(live) {
				shown = ""
			}
			refused = append(refused, fmt.Sprintf("%s %s already has a value%s", what, k, shown))
		default:
			edit[k] = v
		}
	}
	if len(refused) > 0 {
		return "", nil, false, fmt.Errorf("%s, and overwrite is false", strings.Join(refused, "; "))
	}
	for _, k := range e.Remove {
		if _, has := cur[k]; has {
			edit[k] = nil
		}
	}
	if len(edit) == 0 {
		return "", nil, true, nil
	}
	patch := map[string]any{"metadata": map[string]any{"resourceVersion": live.GetResourceVersion(), field: edit}}
	data, err := json.Marshal(patch)
	return types.MergePatchType, data, false, err
}

// AnnotateSpec configures an "annotate" action: kubectl annotate.
//
//	action: {kind: annotate, resource: ingress, names: [web], namespace: gravl-prod,
//	         set: {cert-manager.io/cluster-issuer: letsencrypt-prod}}
type AnnotateSpec struct {
	TargetSpec   `yaml:",inline"`
	MetadataEdit `yaml:",inline"`
}

// LabelSpec configures a "label" action: kubectl label.
//
//	action: {kind: label, resource: deploy, selector: app=api, remove: [canary]}
type LabelSpec struct {
	TargetSpec   `yaml:",inline"`
	MetadataEdit `yaml:",inline"`
}

var (
	_ Spec = (*AnnotateSpec)(nil)
	_ Spec = (*LabelSpec)(nil)
	_ Spec = (*PatchSpec)(nil)
)

// Validate implements Spec.
func (s *AnnotateSpec) Validate() error {
	return errors.Join(append(s.TargetSpec.validate(), s.MetadataEdit.validate(false)...)...)
}

// Mutating implements Spec.
func (s *AnnotateSpec) Mutating() bool { return true }

// Describe implements Spec: "annotate ingress web in gravl-prod: set
// cert-manager.io/cluster-issuer=letsencrypt-prod".
func (s *AnnotateSpec) Describe() string {
	return "annotate " + s.TargetSpec.describe() + ": " + s.MetadataEdit.describe()
}

// Permissions implements Spec: get and patch (list with a selector).
func (s *AnnotateSpec) Permissions() []probes.Permission {
	return s.TargetSpec.permissions("get", "patch")
}

// Build implements Spec.
func (s *AnnotateSpec) Build(env Env) (Action, error) {
	edit := s.MetadataEdit
	return buildTargetAction(env, s.TargetSpec, "annotated", func(u *unstructured.Unstructured) (types.PatchType, []byte, bool, error) {
		return edit.change("annotations", "annotation", u)
	})
}

// Validate implements Spec.
func (s *LabelSpec) Validate() error {
	return errors.Join(append(s.TargetSpec.validate(), s.MetadataEdit.validate(true)...)...)
}

// Mutating implements Spec.
func (s *LabelSpec) Mutating() bool { return true }

// Describe implements Spec: "label deploy selected by app=api: remove
// canary".
func (s *LabelSpec) Describe() string {
	return "label " + s.TargetSpec.describe() + ": " + s.MetadataEdit.describe()
}

// Permissions implements Spec: get and patch (list with a selector).
func (s *LabelSpec) Permissions() []probes.Permission {
	return s.TargetSpec.permissions("get", "patch")
}

// Build implements Spec.
func (s *LabelSpec) Build(env Env) (Action, error) {
	edit := s.MetadataEdit
	return buildTargetAction(env, s.TargetSpec, "labeled", func(u *unstructured.Unstructured) (types.PatchType, []byte, bool, error) {
		return edit.change("labels", "label", u)
	})
}

// Patch types, as kubectl patch --type names them.
const (
	PatchMerge     = "merge"
	PatchJSON      = "json"
	PatchStrategic = "strategic"
)

var patchTypes = map[string]types.PatchType{
	PatchMerge:     types.MergePatchType,
	PatchJSON:      types.JSONPatchType,
	PatchStrategic: types.StrategicMergePatchType,
}

// jsonPatchOps are RFC 6902's operations.
var jsonPatchOps = []string{"add", "remove", "replace", "move", "copy", "test"}

// PatchSpec configures a "patch" action: kubectl patch.
//
//	action: {kind: patch, resource: deploy, names: [api], type: merge,
//	         patch: {spec: {replicas: 3}}}
//	action: {kind: patch, resource: deploy, names: [api], type: json,
//	         patch: [{op: replace, path: /spec/replicas, value: 3}]}
type PatchSpec struct {
	TargetSpec `yaml:",inline"`
	// Type is merge (RFC 7386, the default), json (RFC 6902) or strategic
	// (Kubernetes' strategic merge patch; built-in kinds only).
	Type string `json:"type,omitempty" yaml:"type,omitempty"`
	// Patch is the patch: a mapping for merge and strategic, a list of
	// operations for json; or the same as a YAML or JSON string.
	Patch any `json:"patch" yaml:"patch"`
}

// patchType is the spec's type, merge by default.
func (s *PatchSpec) patchType() string {
	if s.Type == "" {
		return PatchMerge
	}
	return s.Type
}

// data is the patch as JSON, its shape checked against its type.
func (s *PatchSpec) data() ([]byte, error) {
	p := s.Patch
	if text, ok := p.(string); ok {
		j, err := yaml.YAMLToJSON([]byte(text))
		if err != nil {
			return nil, fmt.Errorf("not YAML or JSON: %w", err)
		}
		p = nil
		if err := json.Unmarshal(j, &p); err != nil {
			return nil, fmt.Errorf("not YAML or JSON: %w", err)
		}
	}
	switch v := p.(type) {
	case nil:
		return nil, errors.New("required")
	case map[string]any:
		if s.patchType() == PatchJSON {
			return nil, errors.New("a json patch is a list of operations ({op: replace, path: /spec/replicas, value: 3})")
		}
	case []any:
		if s.patchType() != PatchJSON {
			return nil, fmt.Errorf("a %s patch is a mapping; a list of operations is type: json", s.patchType())
		}
		for i, op := range v {
			m, ok := op.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("operation %d: want a mapping with op and path", i+1)
			}
			if name, _ := m["op"].(string); !slices.Contains(jsonPatchOps, name) {
				return nil, fmt.Errorf("operation %d: op %v: want one of %s", i+1, m["op"], strings.Join(jsonPatchOps, ", "))
			}
			if path, _ := m["path"].(string); !strings.HasPrefix(path, "/") {
				return nil, fmt.Errorf("operation %d: path %v: want a JSON pointer (/spec/replicas)", i+1, m["path"])
			}
		}
	default:
		return nil, fmt.Errorf("want a mapping or a list, got %s", describeValue(p))
	}
	data, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return data, nil
}

// Validate implements Spec.
func (s *PatchSpec) Validate() error {
	errs := s.TargetSpec.validate()
	if _, ok := patchTypes[s.patchType()]; !ok {
		errs = append(errs, specFieldErr("type", "%q: want merge, json or strategic", s.Type))
	} else if _, err := s.data(); err != nil {
		errs = append(errs, specFieldErr("patch", "%v", err))
	}
	return errors.Join(errs...)
}

// Mutating implements Spec.
func (s *PatchSpec) Mutating() bool { return true }

// Describe implements Spec: "merge-patch deploy api in gravl-prod".
func (s *PatchSpec) Describe() string {
	name := map[string]string{PatchMerge: "merge-patch", PatchJSON: "json-patch", PatchStrategic: "strategic-merge-patch"}[s.patchType()]
	if name == "" {
		name = "patch"
	}
	return name + " " + s.TargetSpec.describe()
}

// Permissions implements Spec: get and patch (list with a selector).
func (s *PatchSpec) Permissions() []probes.Permission {
	return s.TargetSpec.permissions("get", "patch")
}

// Build implements Spec.
func (s *PatchSpec) Build(env Env) (Action, error) {
	data, err := s.data()
	if err != nil {
		return nil, fmt.Errorf("patch: %w", err)
	}
	pt := patchTypes[s.patchType()]
	a, err := buildTargetAction(env, s.TargetSpec, "patched", func(*unstructured.Unstructured) (types.PatchType, []byte, bool, error) {
		return pt, data, false, nil
	})
	if err != nil {
		return nil, err
	}
	a.strategic = s.patchType() == PatchStrategic
	return a, nil
}

// targetAction is a built annotate, label or patch: it reads each target
// object and patches it with what change computes from it.
type targetAction struct {
	c         *probes.Cluster
	target    TargetSpec
	namespace string
	verb      string // annotated, labeled, patched
	strategic bool
	change    func(live *unstructured.Unstructured) (pt types.PatchType, data []byte, noop bool, err error)
	now       func() time.Time

	// mu guards planned.
	mu sync.Mutex
	// planned are the names the last Plan's selector listed, in order
	// (nil before a Plan listed them): Execute acts on these only, as the
	// operator confirmed them.
	planned []string
}

var _ Action = (*targetAction)(nil)

func buildTargetAction(env Env, t TargetSpec, verb string, change func(*unstructured.Unstructured) (types.PatchType, []byte, bool, error)) (*targetAction, error) {
	c, ns, err := kubeOf(env, t.Context, t.Namespace)
	if err != nil {
		return nil, err
	}
	return &targetAction{c: c, target: t, namespace: ns, verb: verb, change: change, now: env.Clock()}, nil
}

// Plan implements Action: a server-side dry run of each object's patch
// and its diff.
func (a *targetAction) Plan(ctx context.Context) Result {
	start := a.now()
	return stampResult(a.run(ctx, true, nil), start, a.now)
}

// Execute implements Action: the patches, object by object. With a
// selector, after a Plan, it patches the objects that plan listed only:
// one no longer selected is skipped, and one selected since is left alone
// and named in the result (a warning). Without a Plan it patches what the
// selector matches.
func (a *targetAction) Execute(ctx context.Context, progress func(Result)) Result {
	start := a.now()
	var report func(Result)
	if progress != nil {
		report = func(r Result) { progress(stampResult(r, start, a.now)) }
	}
	return stampResult(a.run(ctx, false, report), start, a.now)
}

// targetFailure is the Result of an action that could not get to its
// objects.
func targetFailure(err error) Result {
	st := probes.StatusError
	var fe *probes.ForbiddenError
	if errors.As(err, &fe) {
		st = probes.StatusForbidden
	}
	return Result{Result: probes.Result{Status: st, Summary: err.Error(), Message: err.Error()}}
}

func (a *targetAction) run(ctx context.Context, dryRun bool, progress func(Result)) Result {
	gvr, namespaced, err := a.c.Resource(a.target.Resource)
	if err != nil {
		return targetFailure(err)
	}
	ns := ""
	if namespaced {
		ns = a.namespace
	}
	var ri dynamic.ResourceInterface = a.c.Dynamic().Resource(gvr)
	if namespaced {
		ri = a.c.Dynamic().Resource(gvr).Namespace(ns)
	}
	gr := gvr.GroupResource().String()
	kind := gr
	if gvk, err := a.c.RESTMapper().KindFor(gvr); err == nil {
		kind = gvk.Kind
	}
	red := newRedactor()
	var outs []objOutcome
	total := len(a.target.Names)
	done := func(o objOutcome) {
		outs = append(outs, o)
		if progress != nil && len(outs) < total {
			progress(progressResult(outs, total, dryRun, a.verb, red))
		}
	}
	if a.target.Selector != "" {
		list, err := ri.List(ctx, metav1.ListOptions{LabelSelector: a.target.Selector})
		if err != nil {
			if dryRun {
				a.setPlanned(nil)
			}
			return targetFailure(kube.Err(err, kube.Call{Verb: "list", Resource: gr, Namespace: ns}))
		}
		listed := map[string]*unstructured.Unstructured{}
		names := make([]string, 0, len(list.Items)) // not nil: a plan that matched nothing
		for i := range list.Items {
			listed[list.Items[i].GetName()] = &list.Items[i]
			names = append(names, list.Items[i].GetName())
		}
		// A plan acts on what it lists and remembers it; an execution
		// after a plan acts on what the plan listed only: objects
		// selected since were not in the confirmed diff.
		var added []string
		if dryRun {
			a.setPlanned(names)
		} else if planned := a.plannedNames(); planned != nil {
			for _, n := range names {
				if !slices.Contains(planned, n) {
					added = append(added, objRef(kind, ns, n))
				}
			}
			names = planned
		}
		if len(names) == 0 {
			res := Result{Result: probes.Result{Status: probes.StatusFail, Summary: fmt.Sprintf("no %s match %s%s", gr, a.target.Selector, inNamespace(ns))}}
			res.Message = joinNotes(res.Summary, newSincePlan(added))
			return res
		}
		total = len(names)
		for _, name := range names {
			ref := objRef(kind, ns, name)
			live, ok := listed[name]
			switch err := ctx.Err(); {
			case err != nil:
				done(skippedOutcome(ref, "not tried: "+err.Error()))
			case !ok:
				done(skippedOutcome(ref, fmt.Sprintf("no longer matches %s: deleted or relabeled since the plan", a.target.Selector)))
			default:
				done(a.patchOne(ctx, ri, gr, kind, ns, live, dryRun, red))
			}
		}
		res := outcomeResult(outs, dryRun, a.verb, red)
		if len(added) > 0 {
			// Not touched: the operator did not see them in the plan.
			res.Status = probes.Worst(res.Status, probes.StatusWarn)
			res.Summary += fmt.Sprintf("; %d new since the plan, not %s", len(added), a.verb)
			res.Message = joinNotes(res.Message, newSincePlan(added))
			res.Values["new"] = float64(len(added))
		}
		return res
	}
	for _, name := range a.target.Names {
		if err := ctx.Err(); err != nil {
			done(skippedOutcome(objRef(kind, ns, name), "not tried: "+err.Error()))
			continue
		}
		live, err := ri.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			o := failedOutcome(objRef(kind, ns, name), kube.Err(err, kube.Call{Verb: "get", Resource: gr, Namespace: ns, Name: name}))
			if apierrors.IsNotFound(err) {
				o.msg = fmt.Sprintf("%s %s not found%s", gr, name, inNamespace(ns))
			}
			done(o)
			continue
		}
		done(a.patchOne(ctx, ri, gr, kind, ns, live, dryRun, red))
	}
	return outcomeResult(outs, dryRun, a.verb, red)
}

// setPlanned remembers the names a plan listed (nil: the plan could not
// list).
func (a *targetAction) setPlanned(names []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.planned = names
}

// plannedNames are the names the last plan listed: nil when no plan
// listed (none ran, or its list failed), empty when it matched nothing.
func (a *targetAction) plannedNames() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.planned
}

// newSincePlan names objects a selector matches that the plan did not
// list ("" for none).
func newSincePlan(refs []string) string {
	if len(refs) == 0 {
		return ""
	}
	return "new since the plan, not touched (plan again to include them): " + strings.Join(refs, ", ")
}

// patchOne patches one object (dry run when dryRun), re-reading it when it
// changed since it was read.
func (a *targetAction) patchOne(ctx context.Context, ri dynamic.ResourceInterface, gr, kind, ns string, live *unstructured.Unstructured, dryRun bool, red *redactor) objOutcome {
	name := live.GetName()
	ref := objRef(kind, ns, name)
	opts := metav1.PatchOptions{FieldManager: FieldManager}
	side := "applied"
	if dryRun {
		opts.DryRun, side = []string{metav1.DryRunAll}, "planned"
	}
	for attempt := 1; ; attempt++ {
		red.addSecret(live)
		pt, data, noop, err := a.change(live)
		if err != nil {
			o := failedOutcome(ref, err)
			o.reason = "AlreadySet"
			return o
		}
		if noop {
			o := objOutcome{ref: ref, op: OpUnchanged, status: probes.StatusPass}
			if !dryRun {
				o.rv, o.gen = live.GetResourceVersion(), live.GetGeneration()
			}
			return o
		}
		out, err := ri.Patch(ctx, name, pt, data, opts)
		if apierrors.IsConflict(err) && attempt < maxConflictRetries {
			if live, err = ri.Get(ctx, name, metav1.GetOptions{}); err != nil {
				return failedOutcome(ref, kube.Err(err, kube.Call{Verb: "get", Resource: gr, Namespace: ns, Name: name}))
			}
			continue
		}
		if err != nil {
			err = kube.Err(err, kube.Call{Verb: "patch", Resource: gr, Namespace: ns, Name: name})
			if a.strategic && apierrors.IsUnsupportedMediaType(err) {
				err = fmt.Errorf("%w (a strategic merge patch works on built-in kinds only: use type: merge)", err)
			}
			return failedOutcome(ref, err)
		}
		red.addSecret(out)
		o := objOutcome{ref: ref, op: OpUnchanged, status: probes.StatusPass}
		if o.diff, err = objectDiff(ref, side, live, out, red); err != nil {
			o.msg = err.Error()
		}
		if o.diff != "" {
			o.op = OpConfigured
		}
		if !dryRun {
			o.rv, o.gen = out.GetResourceVersion(), out.GetGeneration()
		}
		return o
	}
}
