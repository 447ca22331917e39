package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/cockpit-dev/cockpit/internal/kube"
	"github.com/cockpit-dev/cockpit/probes"
)

// FieldManager is the field manager cockpit's server-side applies and
// patches write as.
const FieldManager = "cockpit"

// crdServedTimeout bounds the wait, during an apply, for a CRD the apply
// created to be served before its custom resources are applied.
const crdServedTimeout = 60 * time.Second

// ApplySpec configures an "apply" action: kubectl apply --server-side of
// manifest files, previewed by a server-side dry run and a diff against the
// live objects.
//
//	action: {kind: apply, files: [manifests/netpol.yaml, manifests/app/], namespace: gravl-prod}
//
// Files are read relative to the runbook's directory: a file is a
// multi-document YAML stream or JSON (a v1 List is expanded); a directory
// contributes its *.yaml, *.yml and *.json files in lexical order, not
// recursively. Namespaces and CustomResourceDefinitions are applied first,
// then the rest in file order; a custom resource whose CRD the same apply
// creates waits for it to be served.
//
// When an object fails, the others are still applied, except those that
// depend on it: the objects of a Namespace, or the custom resources of a
// CRD, that failed and does not exist. The result names what landed
// (created, configured, unchanged, with resourceVersion and generation)
// and what did not (failed with the error, or skipped).
type ApplySpec struct {
	// Files are manifest files and directories.
	Files []string `json:"files" yaml:"files"`
	// Namespace is the namespace of namespaced objects that name none, as
	// kubectl apply -n: an object naming another namespace is an error.
	// "" is the context's namespace (and objects may name any namespace).
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	// Context is the kubeconfig context; "" is the step's cluster.
	Context string `json:"context,omitempty" yaml:"context,omitempty"`
	// Force takes over fields other field managers own (server-side
	// apply's conflict resolution); without it a conflict fails the
	// object.
	Force bool `json:"force,omitempty" yaml:"force,omitempty"`

	// baseDir is where Describe and Permissions read relative files from
	// (SetBaseDir); Build reads them from Env.Dir.
	baseDir string
	files   *manifestCache // what Describe and Permissions read (SetBaseDir makes it)
}

var (
	_ Spec       = (*ApplySpec)(nil)
	_ BaseDirSet = (*ApplySpec)(nil)
)

// BaseDirSet is implemented by specs that read files named relative to
// the runbook: Build gets the runbook's directory in Env.Dir, but Describe
// and Permissions (which have no Env) read from the directory set here, the
// process's working directory until it is set.
type BaseDirSet interface {
	SetBaseDir(dir string)
}

// SetBaseDir implements BaseDirSet.
func (s *ApplySpec) SetBaseDir(dir string) { s.baseDir, s.files = dir, &manifestCache{} }

// Validate implements Spec. Files are not read here (parsing has no
// runbook directory): Build reads them.
func (s *ApplySpec) Validate() error {
	var errs []error
	if len(s.Files) == 0 {
		errs = append(errs, specFieldErr("files", "required: manifest files or directories, relative to the runbook"))
	}
	for i, f := range s.Files {
		if strings.TrimSpace(f) == "" {
			errs = append(errs, specFieldErr(fmt.Sprintf("files[%d]", i), "empty path"))
		}
	}
	if err := specNamespaceErr(s.Namespace); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Mutating implements Spec: an apply always changes (or may change) the
// cluster.
func (s *ApplySpec) Mutating() bool { return true }

// Describe implements Spec: "apply 4 objects from 2 files to gravl-prod".
// It reads the files (once; see SetBaseDir) and never fails: unreadable
// files are described by their paths and why.
func (s *ApplySpec) Describe() string {
	target := inNamespace(s.Namespace)
	if target != "" {
		target = " to" + strings.TrimPrefix(target, " in")
	}
	if s.Context != "" {
		target += " (context " + s.Context + ")"
	}
	ms, err := s.cachedManifests()
	if err != nil {
		return fmt.Sprintf("apply %s %s%s (unreadable: %v)", nounFor(len(s.Files), "file", "files"), strings.Join(s.Files, ", "), target, err)
	}
	files := map[string]bool{}
	for _, m := range ms {
		f, _, _ := strings.Cut(m.source, ": document ")
		files[f] = true
	}
	if target == "" {
		if ns := commonNamespace(ms); ns != "" {
			target = " to " + ns
		}
	}
	return fmt.Sprintf("apply %d %s from %d %s%s", len(ms), nounFor(len(ms), "object", "objects"),
		len(files), nounFor(len(files), "file", "files"), target)
}

// commonNamespace is the one namespace the manifests name, or "".
func commonNamespace(ms []manifest) string {
	ns := ""
	for _, m := range ms {
		switch n := m.obj.GetNamespace(); {
		case n == "":
		case ns == "":
			ns = n
		case ns != n:
			return ""
		}
	}
	return ns
}

// cachedManifests reads the spec's files from its base directory, again
// when one of them changed.
func (s *ApplySpec) cachedManifests() ([]manifest, error) {
	return s.files.read(s.baseDir, s.Files)
}

// manifestStamp identifies the contents of paths (relative to dir) by the
// size and modification time of each manifest file, a directory's by
// those of its manifest files (following symbolic links), so that an
// edited, added or removed file changes it.
func manifestStamp(dir string, paths []string) (string, error) {
	var sb strings.Builder
	stamp := func(name, full string) error {
		fi, err := os.Stat(full)
		if err != nil {
			return err
		}
		fmt.Fprintf(&sb, "%s\x00%d\x00%d\x00%t\n", name, fi.Size(), fi.ModTime().UnixNano(), fi.IsDir())
		return nil
	}
	for _, p := range paths {
		full := p
		if !filepath.IsAbs(p) {
			full = filepath.Join(dir, p)
		}
		fi, err := os.Stat(full)
		if err != nil {
			return "", err
		}
		if !fi.IsDir() {
			if err := stamp(p, full); err != nil {
				return "", err
			}
			continue
		}
		entries, err := os.ReadDir(full)
		if err != nil {
			return "", err
		}
		for _, e := range entries {
			if slices.Contains(manifestExts, strings.ToLower(filepath.Ext(e.Name()))) {
				if err := stamp(filepath.Join(p, e.Name()), filepath.Join(full, e.Name())); err != nil {
					return "", err
				}
			}
		}
	}
	return sb.String(), nil
}

// Permissions implements Spec: get, create and patch of every kind in the
// files, in the namespace each object is applied in. Resources are known
// offline for common kinds and for kinds a CRD in the files defines;
// others are the lowercase plural of the kind, marked Assumed. Unreadable
// files give nil (the dry run reports them).
func (s *ApplySpec) Permissions() []probes.Permission {
	ms, err := s.cachedManifests()
	if err != nil {
		return nil
	}
	return manifestPermissions(s.Context, s.Namespace, ms)
}

// applyVerbs are what a server-side apply needs: the read of the live
// object for the diff, the patch, and create for a new object.
var applyVerbs = []string{"get", "create", "patch"}

// manifestPermissions lists the permissions applying ms needs.
func manifestPermissions(contextName, namespace string, ms []manifest) []probes.Permission {
	crds := map[schema.GroupKind]crdKind{}
	for _, m := range ms {
		if k, ok := crdKindOf(m.obj); ok {
			crds[k.gk] = k
		}
	}
	var out []probes.Permission
	for _, m := range ms {
		p := kindPermission(m.obj.GroupVersionKind().GroupKind(), crds)
		p.Context, p.Verbs = contextName, slices.Clone(applyVerbs)
		if !p.ClusterScoped {
			p.Namespace = m.obj.GetNamespace()
			if p.Namespace == "" {
				p.Namespace = namespace
			}
		}
		if !slices.ContainsFunc(out, func(q probes.Permission) bool {
			return q.Group == p.Group && q.Resource == p.Resource && q.Namespace == p.Namespace && q.ClusterScoped == p.ClusterScoped
		}) {
			out = append(out, p)
		}
	}
	return out
}

// kindPermission maps a kind to its resource offline: through a CRD of the
// same apply, the well-known table (probes.ParseResource), else the
// kind's English plural, Assumed.
func kindPermission(gk schema.GroupKind, crds map[schema.GroupKind]crdKind) probes.Permission {
	if k, ok := crds[gk]; ok && k.plural != "" {
		return probes.Permission{Group: gk.Group, Resource: k.plural, ClusterScoped: !k.namespaced}
	}
	kind := strings.ToLower(gk.Kind)
	arg := kind
	if gk.Group != "" {
		arg += "." + gk.Group
	}
	gr, cluster, known := probes.ParseResource(arg)
	if !known || gr.Group != gk.Group {
		return probes.Permission{Group: gk.Group, Resource: pluralize(kind), Assumed: true}
	}
	return probes.Permission{Group: gr.Group, Resource: gr.Resource, ClusterScoped: cluster}
}

// pluralize is the English plural of a lowercase kind, as Kubernetes
// names most resources (policy → policies, ingress → ingresses).
func pluralize(s string) string {
	switch {
	case s == "":
		return s
	case strings.HasSuffix(s, "s"), strings.HasSuffix(s, "x"), strings.HasSuffix(s, "ch"), strings.HasSuffix(s, "sh"):
		return s + "es"
	case strings.HasSuffix(s, "y") && len(s) > 1 && !strings.ContainsRune("aeiou", rune(s[len(s)-2])):
		return s[:len(s)-1] + "ies"
	}
	return s + "s"
}

// Build implements Spec: it reads and decodes the manifests (errors name
// the file and document), resolves the cluster, and refuses an object
// written twice, also once without a namespace and once naming the one it
// goes to (the step's, else the context's).
func (s *ApplySpec) Build(env Env) (Action, error) {
	ms, err := readManifestFiles(env.Dir, s.Files)
	if err != nil {
		return nil, fmt.Errorf("read manifests: %w", err)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("read manifests: %s hold no objects", strings.Join(s.Files, ", "))
	}
	c, ns, err := kubeOf(env, s.Context, s.Namespace)
	if err != nil {
		return nil, err
	}
	// The same object written twice, once naming the namespace objects
	// naming none go to: the second would silently win.
	if err := checkDuplicates(ms, ns); err != nil {
		return nil, fmt.Errorf("read manifests: %w", err)
	}
	return &applyAction{c: c, ms: ms, namespace: s.Namespace, force: s.Force, now: env.Clock()}, nil
}

// applyAction is a built apply.
type applyAction struct {
	c         *probes.Cluster
	ms        []manifest
	namespace string
	force     bool
	now       func() time.Time
}

var _ Action = (*applyAction)(nil)

// Plan implements Action: a server-side dry run of every object and its
// diff against the live one.
func (a *applyAction) Plan(ctx context.Context) Result {
	start := a.now()
	res := applyManifests(ctx, a.c, a.ms, a.namespace, a.force, true, nil)
	return stampResult(res, start, a.now)
}

// Execute implements Action: the apply, object by object, reporting
// progress after each.
func (a *applyAction) Execute(ctx context.Context, progress func(Result)) Result {
	start := a.now()
	var report func(Result)
	if progress != nil {
		report = func(r Result) { progress(stampResult(r, start, a.now)) }
	}
	res := applyManifests(ctx, a.c, a.ms, a.namespace, a.force, false, report)
	return stampResult(res, start, a.now)
}

// applyObjects server-side-applies objs (dry run when dryRun) through c, namespace overriding empty namespaces; the Result carries Diff, Changes, Objects, Items, Summary, Status.
//
// objs are applied in the order given (readManifests returns them in
// apply order). A namespaced object naming another namespace than a
// non-empty namespace fails, as with kubectl apply -n; with namespace ""
// objects naming none go to the cluster's default namespace. objs are not
// modified.
func applyObjects(ctx context.Context, c *probes.Cluster, objs []*unstructured.Unstructured, namespace string, force, dryRun bool) Result {
	ms := make([]manifest, len(objs))
	for i, o := range objs {
		ms[i] = manifest{obj: o}
	}
	res := applyManifests(ctx, c, ms, namespace, force, dryRun, nil)
	res.ObservedAt = time.Now()
	return res
}

// applyManifests applies ms in order; progress, when set, gets the result
// so far after each object.
func applyManifests(ctx context.Context, c *probes.Cluster, ms []manifest, namespace string, force, dryRun bool, progress func(Result)) Result {
	r := &applyRun{
		c: c, namespace: namespace, force: force, dryRun: dryRun, red: newRedactor(),
		crds:        map[schema.GroupKind]crdKind{},
		missingNS:   map[string]string{},
		missingKind: map[schema.GroupKind]string{},
		plannedNS:   map[string]bool{},
		appliedCRD:  map[schema.GroupKind]bool{},
	}
	for _, m := range ms {
		r.red.addSecret(m.obj)
		if k, ok := crdKindOf(m.obj); ok {
			r.crds[k.gk] = k
		}
	}
	verb := "applied"
	outs := make([]objOutcome, 0, len(ms))
	for _, m := range ms {
		outs = append(outs, r.apply(ctx, m))
		if progress != nil && len(outs) < len(ms) {
			progress(progressResult(outs, len(ms), dryRun, verb, r.red))
		}
	}
	return outcomeResult(outs, dryRun, verb, r.red)
}

// applyRun is the state of one apply.
type applyRun struct {
	c             *probes.Cluster
	namespace     string
	force, dryRun bool
	red           *redactor
	// crds are the CRDs among the manifests, by the kind they define.
	crds map[schema.GroupKind]crdKind
	// missingNS and missingKind are the Namespaces and CRDs of the apply
	// that failed and do not exist: their objects are skipped (why).
	missingNS   map[string]string
	missingKind map[schema.GroupKind]string
	// plannedNS are the Namespaces a dry run would create: their objects
	// cannot be dry-run (the API server has no namespace to put them in).
	plannedNS map[string]bool
	// appliedCRD are the CRDs this apply changed, whose kinds may not be
	// served yet.
	appliedCRD map[schema.GroupKind]bool
}

// objOutcome is what happened to one object of an apply or a patch.
type objOutcome struct {
	ref    string
	op     string
	status probes.Status
	reason string // the API's reason for a failure (Forbidden, Invalid…)
	msg    string // the error, or a note
	diff   string
	rv     string
	gen    int64
}

// objRef is Object.Ref: "Kind/name" or "Kind/namespace/name".
func objRef(kind, ns, name string) string {
	if ns == "" {
		return kind + "/" + name
	}
	return kind + "/" + ns + "/" + name
}

// failedOutcome is an object that did not land because of err: forbidden
// for an RBAC refusal, error when the API server could not be asked (a 5xx,
// a transport error, the context ending), fail otherwise (the server or
// cockpit refused the object), with the API's reason.
func failedOutcome(ref string, err error) objOutcome {
	o := objOutcome{ref: ref, op: OpFailed, status: probes.StatusFail, msg: err.Error()}
	var fe *probes.ForbiddenError
	var st apierrors.APIStatus
	switch {
	case errors.As(err, &fe):
		o.status, o.reason = probes.StatusForbidden, string(metav1.StatusReasonForbidden)
	case errors.As(err, &st):
		o.reason = string(st.Status().Reason)
		if code := st.Status().Code; code >= 500 || code == 0 {
			o.status = probes.StatusError
		}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		o.status, o.reason = probes.StatusError, "Timeout"
	case errors.As(err, new(*url.Error)):
		o.status, o.reason = probes.StatusError, "Unreachable"
	}
	return o
}

// skippedOutcome is an object not tried.
func skippedOutcome(ref, why string) objOutcome {
	return objOutcome{ref: ref, op: OpSkipped, status: probes.StatusFail, reason: "Skipped", msg: why}
}

// apply applies (or dry-runs) one object.
func (r *applyRun) apply(ctx context.Context, m manifest) objOutcome {
	o := r.applyObject(ctx, m)
	if o.op != OpFailed && o.op != OpSkipped {
		return o
	}
	if m.source != "" && o.op == OpFailed {
		o.msg = m.source + ": " + o.msg
	}
	return o
}

func (r *applyRun) applyObject(ctx context.Context, m manifest) (out objOutcome) {
	obj := m.obj.DeepCopy()
	stripServerFields(obj)
	gvk := obj.GroupVersionKind()
	gk, name := gvk.GroupKind(), obj.GetName()
	ref := objRef(gvk.Kind, obj.GetNamespace(), name)
	// Record the Namespaces and CRDs that did not land, for their
	// dependents.
	existed := false
	defer func() {
		if out.op != OpFailed && out.op != OpSkipped || existed {
			return
		}
		if isNamespaceObj(obj) {
			r.missingNS[name] = fmt.Sprintf("its namespace %s was not applied", name)
		}
		if k, ok := crdKindOf(obj); ok {
			r.missingKind[k.gk] = fmt.Sprintf("its CustomResourceDefinition %s was not applied", k.name)
		}
	}()
	if why, ok := r.missingKind[gk]; ok {
		return skippedOutcome(ref, why)
	}
	if err := ctx.Err(); err != nil {
		return skippedOutcome(ref, "not tried: "+err.Error())
	}
	if crd, ok := r.crds[gk]; ok && r.appliedCRD[gk] && !r.dryRun {
		if err := r.waitServed(ctx, crd); err != nil {
			r.missingKind[gk] = fmt.Sprintf("its CustomResourceDefinition %s is not served: %v", crd.name, err)
			return skippedOutcome(ref, r.missingKind[gk])
		}
		delete(r.appliedCRD, gk)
	}
	mapping, err := r.c.RESTMapper().RESTMapping(gk, gvk.Version)
	if err != nil {
		if !meta.IsNoMatchError(err) {
			return failedOutcome(ref, fmt.Errorf("discovery of %s: %w", gvk, err))
		}
		if crd, ok := r.crds[gk]; ok && r.dryRun {
			// Its CRD is applied first, for real; a dry run cannot
			// show the object before the kind is served. What the
			// execution would check without the server is checked
			// here: the namespace (the CRD's scope is known).
			ns := ""
			if crd.namespaced {
				var stop *objOutcome
				if ns, stop = r.objectNamespace(obj, ref); stop != nil {
					return *stop
				}
			}
			obj.SetNamespace(ns)
			ref = objRef(gvk.Kind, ns, name)
			if err := r.namespaceExists(ctx, ns); err != nil {
				return failedOutcome(ref, err)
			}
			o := objOutcome{ref: ref, op: OpCreated, status: probes.StatusPass}
			o.msg = fmt.Sprintf("not dry-run: %s is not served until its CustomResourceDefinition %s is applied", gvk.Kind, crd.name)
			o.diff, _ = objectDiff(o.ref, "planned", nil, obj, r.red)
			return o
		}
		return failedOutcome(ref, fmt.Errorf("the API server does not serve %s %s (is its CustomResourceDefinition installed?)", gvk.GroupVersion(), gvk.Kind))
	}
	namespaced := mapping.Scope.Name() == meta.RESTScopeNameNamespace
	ns := ""
	if namespaced {
		var stop *objOutcome
		if ns, stop = r.objectNamespace(obj, ref); stop != nil {
			return *stop
		}
	}
	obj.SetNamespace(ns)
	ref = objRef(gvk.Kind, ns, name)
	gr := mapping.Resource.GroupResource().String()
	var ri dynamic.ResourceInterface = r.c.Dynamic().Resource(mapping.Resource)
	if namespaced {
		ri = r.c.Dynamic().Resource(mapping.Resource).Namespace(ns)
	}

	live, err := ri.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		live = nil
	case err != nil:
		// Not known to be missing (a read forbidden, a 5xx): its
		// dependents are tried on their own, as kubectl would.
		existed = true
		return failedOutcome(ref, kube.Err(err, kube.Call{Verb: "get", Resource: gr, Namespace: ns, Name: name}))
	default:
		existed = true
		r.red.addSecret(live)
	}
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return failedOutcome(ref, fmt.Errorf("encode: %w", err))
	}
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: &r.force}
	side := "applied"
	if r.dryRun {
		opts.DryRun, side = []string{metav1.DryRunAll}, "planned"
	}
	applied, err := ri.Patch(ctx, name, types.ApplyPatchType, data, opts)
	if err != nil {
		if r.dryRun && live == nil && namespaced && r.plannedNS[ns] && isNamespaceNotFound(err, ns) {
			o := objOutcome{ref: ref, op: OpCreated, status: probes.StatusPass}
			o.msg = fmt.Sprintf("not dry-run: its namespace %s is created by this apply first", ns)
			o.diff, _ = objectDiff(ref, side, nil, obj, r.red)
			return o
		}
		err = kube.Err(err, kube.Call{Verb: "patch", Resource: gr, Namespace: ns, Name: name})
		if isFieldManagerConflict(err) && !r.force {
			err = fmt.Errorf("%w (set force: true to take these fields over)", err)
		}
		return failedOutcome(ref, err)
	}
	r.red.addSecret(applied)
	o := objOutcome{ref: ref, status: probes.StatusPass}
	if o.diff, err = objectDiff(ref, side, live, applied, r.red); err != nil {
		o.msg = err.Error()
	}
	switch {
	case live == nil:
		o.op = OpCreated
	case o.diff != "":
		o.op = OpConfigured
	default:
		o.op = OpUnchanged
	}
	if !r.dryRun {
		o.rv, o.gen = applied.GetResourceVersion(), applied.GetGeneration()
	}
	if isNamespaceObj(obj) && r.dryRun && live == nil {
		r.plannedNS[name] = true
	}
	if k, ok := crdKindOf(obj); ok && o.op != OpUnchanged {
		r.appliedCRD[k.gk] = true
	}
	return o
}

// serverFields are what the API server writes in an object's metadata: a
// manifest dumped from a cluster (kubectl get -o yaml) carries them, and a
// server-side apply must not. A stale resourceVersion or another object's
// uid would fail the apply as a conflict; the others are not the
// manifest's to set.
var serverFields = []string{"resourceVersion", "uid", "creationTimestamp", "managedFields", "selfLink", "generation"}

// stripServerFields removes serverFields and the status from obj: a
// status is the controllers' (and is not applied through the main
// resource where it is a subresource).
func stripServerFields(obj *unstructured.Unstructured) {
	for _, f := range serverFields {
		unstructured.RemoveNestedField(obj.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(obj.Object, "status")
}

// isFieldManagerConflict reports a server-side apply refused because
// other field managers own fields it sets (a 409 whose causes are
// FieldManagerConflict), which force: true takes over; not other
// conflicts (a stale resourceVersion, a uid precondition).
func isFieldManagerConflict(err error) bool {
	var st apierrors.APIStatus
	if !apierrors.IsConflict(err) || !errors.As(err, &st) || st.Status().Details == nil {
		return false
	}
	return slices.ContainsFunc(st.Status().Details.Causes, func(c metav1.StatusCause) bool {
		return c.Type == metav1.CauseTypeFieldManagerConflict
	})
}

// objectNamespace is the namespace a namespaced object goes to: its own,
// else the step's, else the context's. An object naming another namespace
// than the step's fails (kubectl apply -n), and one whose Namespace of
// this apply did not land is skipped: stop is then its outcome.
func (r *applyRun) objectNamespace(obj *unstructured.Unstructured, ref string) (ns string, stop *objOutcome) {
	ns = obj.GetNamespace()
	switch {
	case ns != "" && r.namespace != "" && ns != r.namespace:
		o := failedOutcome(ref, fmt.Errorf("the object's namespace %q does not match the step's namespace %q", ns, r.namespace))
		return "", &o
	case ns == "" && r.namespace != "":
		ns = r.namespace
	case ns == "":
		ns = r.c.Namespace()
	}
	if why, ok := r.missingNS[ns]; ok {
		o := skippedOutcome(objRef(obj.GetKind(), ns, obj.GetName()), why)
		return "", &o
	}
	return ns, nil
}

// namespaceExists checks, for an object a dry run cannot send (its kind is
// not served yet), what the API server would: that its namespace exists
// or is created by this apply first. It is an error only when the
// namespace is known to be missing; a read that fails (get namespaces is
// not among the permissions an apply needs) leaves it to the execution.
func (r *applyRun) namespaceExists(ctx context.Context, ns string) error {
	if ns == "" || r.plannedNS[ns] {
		return nil
	}
	nsGVR := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	_, err := r.c.Dynamic().Resource(nsGVR).Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("its namespace %s does not exist, and this apply does not create it", ns)
	}
	return nil
}

// waitServed waits until the kind a CRD of this apply defines is served:
// the CRD Established and the kind in discovery.
func (r *applyRun) waitServed(ctx context.Context, crd crdKind) error {
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	var last error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, crdServedTimeout, true, func(ctx context.Context) (bool, error) {
		u, err := r.c.Dynamic().Resource(crdGVR).Get(ctx, crd.name, metav1.GetOptions{})
		switch {
		case apierrors.IsForbidden(err):
			// May apply it but not read it back: discovery decides.
		case err != nil:
			last = err
			return false, nil
		case !crdEstablished(u):
			last = errors.New("not Established yet")
			return false, nil
		}
		if _, err := r.c.RESTMapper().RESTMapping(crd.gk); err != nil {
			last = err
			return false, nil
		}
		return true, nil
	})
	if err != nil && last != nil {
		return fmt.Errorf("%w (%v)", err, last)
	}
	return err
}

// crdEstablished reports a CRD's Established condition.
func crdEstablished(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// isNamespaceNotFound reports a create refused because namespace ns does
// not exist.
func isNamespaceNotFound(err error, ns string) bool {
	var st apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &st) {
		return false
	}
	d := st.Status().Details
	return d != nil && d.Kind == "namespaces" && d.Name == ns
}

// outcomeResult sums outcomes up; verb is the past tense of what was done
// ("applied", "patched"). Every text is scrubbed of Secret values.
func outcomeResult(outs []objOutcome, dryRun bool, verb string, red *redactor) Result {
	var res Result
	counts := map[string]int{}
	var statuses []probes.Status
	var diffs, problems []string
	for _, o := range outs {
		counts[o.op]++
		msg := red.scrub(o.msg)
		res.Objects = append(res.Objects, Object{Ref: o.ref, Op: o.op, ResourceVersion: o.rv, Generation: o.gen})
		if o.op == OpFailed || o.op == OpSkipped {
			res.Objects[len(res.Objects)-1].Error = msg
			problems = append(problems, o.ref+": "+o.op+": "+msg)
		}
		item := probes.Item{Name: o.ref, Status: o.status, Summary: opSummary(o.op, dryRun), Reason: o.reason, Message: msg}
		if !dryRun && o.rv != "" {
			item.Message = joinNotes(fmt.Sprintf("resourceVersion %s, generation %d", o.rv, o.gen), msg)
		}
		res.Items = append(res.Items, item)
		statuses = append(statuses, o.status)
		if o.diff != "" {
			diffs = append(diffs, red.scrub(o.diff))
		}
		if o.op == OpCreated || o.op == OpConfigured {
			res.Changes++
		}
	}
	res.Status = probes.Worst(statuses...)
	res.Diff = capDiff(strings.Join(diffs, ""))
	res.Message = strings.Join(problems, "; ")
	failed, skipped := counts[OpFailed], counts[OpSkipped]
	landed := len(outs) - failed - skipped
	if dryRun || failed+skipped == 0 {
		res.Summary = fmt.Sprintf("%d %s", len(outs), nounFor(len(outs), "object", "objects"))
		if c := opCounts(counts); c != "" {
			res.Summary += ": " + c
		}
	} else {
		res.Summary = fmt.Sprintf("%d of %d %s %s", landed, len(outs), nounFor(len(outs), "object", "objects"), verb)
		if failed > 0 {
			res.Summary += fmt.Sprintf("; %d failed", failed)
		}
		if skipped > 0 {
			res.Summary += fmt.Sprintf("; %d skipped", skipped)
		}
	}
	res.Values = map[string]float64{
		"objects":    float64(len(outs)),
		"changes":    float64(res.Changes),
		"created":    float64(counts[OpCreated]),
		"configured": float64(counts[OpConfigured]),
		"unchanged":  float64(counts[OpUnchanged]),
		"failed":     float64(failed),
		"skipped":    float64(skipped),
	}
	return res
}

// opCounts is "1 created, 2 unchanged": the ops of counts, in a fixed
// order.
func opCounts(counts map[string]int) string {
	var parts []string
	for _, op := range []string{OpCreated, OpConfigured, OpUnchanged, OpFailed, OpSkipped} {
		if counts[op] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[op], op))
		}
	}
	return strings.Join(parts, ", ")
}

// progressResult is an interim result after outs, of total objects:
// pending, "2/3 done: 1 created, 1 unchanged".
func progressResult(outs []objOutcome, total int, dryRun bool, verb string, red *redactor) Result {
	res := outcomeResult(outs, dryRun, verb, red)
	counts := map[string]int{}
	for _, o := range outs {
		counts[o.op]++
	}
	res.Status = probes.StatusPending
	res.Summary = fmt.Sprintf("%d/%d done: %s", len(outs), total, opCounts(counts))
	return res
}

// opSummary is an item's summary for an op, conditional in a plan.
func opSummary(op string, dryRun bool) string {
	if !dryRun {
		return op
	}
	switch op {
	case OpCreated, OpConfigured, OpDeleted:
		return "would be " + op
	case OpFailed:
		return "would fail"
	}
	return op
}
