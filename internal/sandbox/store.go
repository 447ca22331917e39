package sandbox

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	k8stesting "k8s.io/client-go/testing"
)

// generationTracker stores objects as the API server would with respect to
// metadata.generation: 1 on create, bumped when the spec changes, kept
// otherwise (status and metadata writes). The plain fake tracker never
// touches it, so without this no rollout would ever look pending.
type generationTracker struct {
	k8stesting.ObjectTracker
}

// Create implements k8stesting.ObjectTracker.
func (t generationTracker) Create(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.CreateOptions) error {
	obj, err := withGeneration(obj, nil)
	if err != nil {
		return err
	}
	return t.ObjectTracker.Create(gvr, obj, ns, opts...)
}

// Update implements k8stesting.ObjectTracker.
func (t generationTracker) Update(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.UpdateOptions) error {
	obj, err := withGeneration(obj, t.live(gvr, ns, obj))
	if err != nil {
		return err
	}
	return t.ObjectTracker.Update(gvr, obj, ns, opts...)
}

// Patch implements k8stesting.ObjectTracker; obj is the patched object.
func (t generationTracker) Patch(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	obj, err := withGeneration(obj, t.live(gvr, ns, obj))
	if err != nil {
		return err
	}
	return t.ObjectTracker.Patch(gvr, obj, ns, opts...)
}

// Apply implements k8stesting.ObjectTracker. The merged object only exists
// after the apply, so a needed generation change is a second write.
func (t generationTracker) Apply(gvr schema.GroupVersionResource, cfg runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	old := t.live(gvr, ns, cfg)
	if err := t.ObjectTracker.Apply(gvr, cfg, ns, opts...); err != nil {
		return err
	}
	m, err := meta.Accessor(cfg)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	cur, err := t.ObjectTracker.Get(gvr, ns, m.GetName())
	if err != nil {
		return err
	}
	fixed, err := withGeneration(cur, old)
	if err != nil {
		return err
	}
	if generationOf(fixed) == generationOf(cur) {
		return nil
	}
	return t.ObjectTracker.Update(gvr, fixed, ns, metav1.UpdateOptions{FieldManager: "kube-apiserver"})
}

// live returns the stored object with obj's name, or nil.
func (t generationTracker) live(gvr schema.GroupVersionResource, ns string, obj runtime.Object) runtime.Object {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil
	}
	cur, err := t.ObjectTracker.Get(gvr, ns, m.GetName())
	if err != nil {
		return nil
	}
	return cur
}

// withGeneration returns a copy of obj with the generation the API server
// would store given the live object old (nil on create). Objects without a
// spec are returned unchanged.
func withGeneration(obj, old runtime.Object) (runtime.Object, error) {
	spec, ok := specOf(obj)
	if !ok {
		return obj, nil
	}
	obj = obj.DeepCopyObject()
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, fmt.Errorf("generation: %w", err)
	}
	switch oldSpec, hadSpec := specOf(old); {
	case old == nil:
		m.SetGeneration(1)
	case !hadSpec || !equality.Semantic.DeepEqual(spec, oldSpec):
		m.SetGeneration(generationOf(old) + 1)
	default:
		m.SetGeneration(generationOf(old))
	}
	return obj, nil
}

func generationOf(obj runtime.Object) int64 {
	m, err := meta.Accessor(obj)
	if err != nil {
		return 0
	}
	return m.GetGeneration()
}

// specOf returns obj's spec: the "spec" field of an unstructured object or
// the Spec field of a typed one.
func specOf(obj runtime.Object) (any, bool) {
	if obj == nil {
		return nil, false
	}
	if u, ok := obj.(runtime.Unstructured); ok {
		spec, ok := u.UnstructuredContent()["spec"]
		return spec, ok
	}
	v := reflect.ValueOf(obj)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil, false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil, false
	}
	f := v.FieldByName("Spec")
	if !f.IsValid() {
		return nil, false
	}
	return f.Interface(), true
}

// parseSelectors parses the label and field selectors of opts. Field
// selectors other than metadata.name and metadata.namespace cannot be
// evaluated here; they select everything.
func parseSelectors(opts metav1.ListOptions) (labels.Selector, fields.Selector, error) {
	ls, err := labels.Parse(opts.LabelSelector)
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("invalid label selector %q: %v", opts.LabelSelector, err))
	}
	fs, err := fields.ParseSelector(opts.FieldSelector)
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector %q: %v", opts.FieldSelector, err))
	}
	for _, r := range fs.Requirements() {
		if r.Field != "metadata.name" && r.Field != "metadata.namespace" {
			return ls, fields.Everything(), nil
		}
	}
	return ls, fs, nil
}

func selected(obj runtime.Object, ls labels.Selector, fs fields.Selector) bool {
	m, err := meta.Accessor(obj)
	if err != nil {
		return true
	}
	return ls.Matches(labels.Set(m.GetLabels())) &&
		fs.Matches(fields.Set{"metadata.name": m.GetName(), "metadata.namespace": m.GetNamespace()})
}

// watchHub hands out watches that never overflow: a goroutine per watch
// drains the tracker's bounded fake watcher into an unbounded queue, filters
// by selector and converts objects. close ends all of them.
type watchHub struct {
	mu      sync.Mutex
	cond    *sync.Cond // broadcast when a watch starts
	started map[schema.GroupVersionResource]int
	closed  bool
	done    chan struct{}
	wg      sync.WaitGroup
}

func newWatchHub() *watchHub {
	h := &watchHub{done: make(chan struct{}), started: make(map[schema.GroupVersionResource]int)}
	h.cond = sync.NewCond(&h.mu)
	return h
}

// waitWatches blocks until n watches on gvr have started. The fakes' watches
// have no resource versions, so a change made between an informer's list
// and its watch is lost: tests wait here before they change anything.
func (h *watchHub) waitWatches(gvr schema.GroupVersionResource, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.started[gvr] < n && !h.closed {
		h.cond.Wait()
	}
}

// watchRoute picks the tracker serving gvr and an optional conversion of
// the objects its watch delivers.
type watchRoute func(gvr schema.GroupVersionResource) (k8stesting.ObjectTracker, func(runtime.Object) (runtime.Object, error))

func (h *watchHub) reactor(route watchRoute) k8stesting.WatchReactionFunc {
	return func(action k8stesting.Action) (bool, watch.Interface, error) {
		var opts metav1.ListOptions
		if wa, ok := action.(k8stesting.WatchActionImpl); ok {
			opts = wa.ListOptions
		}
		ls, fs, err := parseSelectors(opts)
		if err != nil {
			return true, nil, err
		}
		tracker, convert := route(action.GetResource())
		src, err := tracker.Watch(action.GetResource(), action.GetNamespace(), opts)
		if err != nil {
			return true, nil, err
		}
		w, err := h.start(action.GetResource(), src, ls, fs, convert)
		if err != nil {
			return true, nil, err
		}
		return true, w, nil
	}
}

// hubWatch is the watch.Interface consumers get.
type hubWatch struct {
	src  watch.Interface
	out  chan watch.Event
	stop chan struct{}
	once sync.Once
}

// Stop implements watch.Interface.
func (w *hubWatch) Stop() {
	w.once.Do(func() {
		close(w.stop)
		w.src.Stop()
	})
}

// ResultChan implements watch.Interface.
func (w *hubWatch) ResultChan() <-chan watch.Event { return w.out }

func (h *watchHub) start(gvr schema.GroupVersionResource, src watch.Interface, ls labels.Selector, fs fields.Selector, convert func(runtime.Object) (runtime.Object, error)) (watch.Interface, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		src.Stop()
		return nil, apierrors.NewServiceUnavailable("simulated cluster is closed")
	}
	w := &hubWatch{src: src, out: make(chan watch.Event), stop: make(chan struct{})}
	h.wg.Go(func() { h.pump(w, ls, fs, convert) })
	h.started[gvr]++
	h.cond.Broadcast()
	return w, nil
}

func (h *watchHub) pump(w *hubWatch, ls labels.Selector, fs fields.Selector, convert func(runtime.Object) (runtime.Object, error)) {
	defer close(w.out)
	defer w.src.Stop()
	in := w.src.ResultChan()
	var queue []watch.Event
	for {
		var out chan<- watch.Event
		var next watch.Event
		switch {
		case len(queue) > 0:
			out, next = w.out, queue[0]
		case in == nil:
			return
		}
		select {
		case ev, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			if ev.Type == watch.Added || ev.Type == watch.Modified || ev.Type == watch.Deleted {
				if !selected(ev.Object, ls, fs) {
					continue
				}
				if convert != nil {
					obj, err := convert(ev.Object)
					if err != nil {
						ev = watch.Event{Type: watch.Error, Object: &apierrors.NewInternalError(err).ErrStatus}
					} else {
						ev.Object = obj
					}
				}
			}
			queue = append(queue, ev)
		case out <- next:
			queue[0] = watch.Event{}
			queue = queue[1:]
		case <-w.stop:
			return
		case <-h.done:
			return
		}
	}
}

func (h *watchHub) close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.done)
		h.cond.Broadcast()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// guardedDynamic answers resources the simulated cluster does not serve with
// 404, as an API server does, where the plain dynamic fake would panic on
// List.
type guardedDynamic struct {
	dynamic.Interface
	known map[schema.GroupVersionResource]bool
}

// IsWatchListSemanticsUnSupported tells client-go's informers (through
// util/watchlist) that these watches cannot stream the initial list, as the
// wrapped fake says for itself: without it an informer waits forever for the
// initial-events bookmark.
func (g guardedDynamic) IsWatchListSemanticsUnSupported() bool { return true }

// Resource implements dynamic.Interface.
func (g guardedDynamic) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	if g.known[gvr] {
		return checkedResource{NamespaceableResourceInterface: g.Interface.Resource(gvr)}
	}
	return unknownResource{gvr: gvr}
}

// checkedResource rejects invalid selectors with 400 Bad Request, as an API
// server does, before the fake (which panics on them) sees them.
type checkedResource struct {
	dynamic.NamespaceableResourceInterface
}

// Namespace implements dynamic.NamespaceableResourceInterface.
func (r checkedResource) Namespace(ns string) dynamic.ResourceInterface {
	return checkedNamespacedResource{ResourceInterface: r.NamespaceableResourceInterface.Namespace(ns)}
}

// List implements dynamic.ResourceInterface.
func (r checkedResource) List(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	if _, _, err := parseSelectors(opts); err != nil {
		return nil, err
	}
	return r.NamespaceableResourceInterface.List(ctx, opts)
}

// Watch implements dynamic.ResourceInterface.
func (r checkedResource) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	if _, _, err := parseSelectors(opts); err != nil {
		return nil, err
	}
	return r.NamespaceableResourceInterface.Watch(ctx, opts)
}

// DeleteCollection implements dynamic.ResourceInterface.
func (r checkedResource) DeleteCollection(ctx context.Context, opts metav1.DeleteOptions, listOpts metav1.ListOptions) error {
	if _, _, err := parseSelectors(listOpts); err != nil {
		return err
	}
	return r.NamespaceableResourceInterface.DeleteCollection(ctx, opts, listOpts)
}

// checkedNamespacedResource is checkedResource within a namespace.
type checkedNamespacedResource struct {
	dynamic.ResourceInterface
}

// List implements dynamic.ResourceInterface.
func (r checkedNamespacedResource) List(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	if _, _, err := parseSelectors(opts); err != nil {
		return nil, err
	}
	return r.ResourceInterface.List(ctx, opts)
}

// Watch implements dynamic.ResourceInterface.
func (r checkedNamespacedResource) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	if _, _, err := parseSelectors(opts); err != nil {
		return nil, err
	}
	return r.ResourceInterface.Watch(ctx, opts)
}

// DeleteCollection implements dynamic.ResourceInterface.
func (r checkedNamespacedResource) DeleteCollection(ctx context.Context, opts metav1.DeleteOptions, listOpts metav1.ListOptions) error {
	if _, _, err := parseSelectors(listOpts); err != nil {
		return err
	}
	return r.ResourceInterface.DeleteCollection(ctx, opts, listOpts)
}

// unknownResource is a resource the simulated cluster does not serve.
type unknownResource struct {
	gvr schema.GroupVersionResource
}

func (u unknownResource) err() error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    404,
		Reason:  metav1.StatusReasonNotFound,
		Details: &metav1.StatusDetails{Group: u.gvr.Group, Kind: u.gvr.Resource},
		Message: fmt.Sprintf("the server could not find the requested resource (%s is not served by the %s)", u.gvr, ClusterName),
	}}
}

func (u unknownResource) Namespace(string) dynamic.ResourceInterface { return u }

func (u unknownResource) Create(context.Context, *unstructured.Unstructured, metav1.CreateOptions, ...string) (*unstructured.Unstructured, error) {
	return nil, u.err()
}

func (u unknownResource) Update(context.Context, *unstructured.Unstructured, metav1.UpdateOptions, ...string) (*unstructured.Unstructured, error) {
	return nil, u.err()
}

func (u unknownResource) UpdateStatus(context.Context, *unstructured.Unstructured, metav1.UpdateOptions) (*unstructured.Unstructured, error) {
	return nil, u.err()
}

func (u unknownResource) Delete(context.Context, string, metav1.DeleteOptions, ...string) error {
	return u.err()
}

func (u unknownResource) DeleteCollection(context.Context, metav1.DeleteOptions, metav1.ListOptions) error {
	return u.err()
}

func (u unknownResource) Get(context.Context, string, metav1.GetOptions, ...string) (*unstructured.Unstructured, error) {
	return nil, u.err()
}

func (u unknownResource) List(context.Context, metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	return nil, u.err()
}

func (u unknownResource) Watch(context.Context, metav1.ListOptions) (watch.Interface, error) {
	return nil, u.err()
}

func (u unknownResource) Patch(context.Context, string, types.PatchType, []byte, metav1.PatchOptions, ...string) (*unstructured.Unstructured, error) {
	return nil, u.err()
}

func (u unknownResource) Apply(context.Context, string, *unstructured.Unstructured, metav1.ApplyOptions, ...string) (*unstructured.Unstructured, error) {
	return nil, u.err()
}

func (u unknownResource) ApplyStatus(context.Context, string, *unstructured.Unstructured, metav1.ApplyOptions) (*unstructured.Unstructured, error) {
	return nil, u.err()
}

// apiResource is one row of the simulated discovery document.
type apiResource struct {
	groupVersion string
	name         string
	kind         string
	namespaced   bool
	shortNames   []string
	subresources []string
}

// apiResources is what the simulated cluster's discovery reports, so RESTMappers
// built from it resolve the resources the cockpit names.
func apiResources() []*metav1.APIResourceList {
	rows := []apiResource{
		{groupVersion: "v1", name: "namespaces", kind: "Namespace", shortNames: []string{"ns"}, subresources: []string{"status"}},
		{groupVersion: "v1", name: "nodes", kind: "Node", shortNames: []string{"no"}, subresources: []string{"status"}},
		{groupVersion: "v1", name: "pods", kind: "Pod", namespaced: true, shortNames: []string{"po"}, subresources: []string{"status", "log"}},
		{groupVersion: "v1", name: "services", kind: "Service", namespaced: true, shortNames: []string{"svc"}, subresources: []string{"status"}},
		{groupVersion: "v1", name: "endpoints", kind: "Endpoints", namespaced: true, shortNames: []string{"ep"}},
		{groupVersion: "v1", name: "secrets", kind: "Secret", namespaced: true},
		{groupVersion: "v1", name: "configmaps", kind: "ConfigMap", namespaced: true, shortNames: []string{"cm"}},
		{groupVersion: "v1", name: "serviceaccounts", kind: "ServiceAccount", namespaced: true, shortNames: []string{"sa"}},
		{groupVersion: "v1", name: "events", kind: "Event", namespaced: true, shortNames: []string{"ev"}},
		{groupVersion: "apps/v1", name: "deployments", kind: "Deployment", namespaced: true, shortNames: []string{"deploy"}, subresources: []string{"status", "scale"}},
		{groupVersion: "apps/v1", name: "replicasets", kind: "ReplicaSet", namespaced: true, shortNames: []string{"rs"}, subresources: []string{"status", "scale"}},
		{groupVersion: "apps/v1", name: "statefulsets", kind: "StatefulSet", namespaced: true, shortNames: []string{"sts"}, subresources: []string{"status", "scale"}},
		{groupVersion: "apps/v1", name: "daemonsets", kind: "DaemonSet", namespaced: true, shortNames: []string{"ds"}, subresources: []string{"status"}},
		{groupVersion: "batch/v1", name: "jobs", kind: "Job", namespaced: true, subresources: []string{"status"}},
		{groupVersion: "networking.k8s.io/v1", name: "networkpolicies", kind: "NetworkPolicy", namespaced: true, shortNames: []string{"netpol"}},
		{groupVersion: "networking.k8s.io/v1", name: "ingresses", kind: "Ingress", namespaced: true, shortNames: []string{"ing"}, subresources: []string{"status"}},
		{groupVersion: "discovery.k8s.io/v1", name: "endpointslices", kind: "EndpointSlice", namespaced: true},
	}
	for _, cr := range customResources() {
		rows = append(rows, apiResource{
			groupVersion: cr.gvr.GroupVersion().String(), name: cr.gvr.Resource, kind: cr.kind,
			namespaced: cr.namespaced, shortNames: cr.shortNames, subresources: []string{"status"},
		})
	}
	verbs := metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	var lists []*metav1.APIResourceList
	index := map[string]*metav1.APIResourceList{}
	for _, r := range rows {
		l, ok := index[r.groupVersion]
		if !ok {
			l = &metav1.APIResourceList{GroupVersion: r.groupVersion}
			index[r.groupVersion] = l
			lists = append(lists, l)
		}
		l.APIResources = append(l.APIResources, metav1.APIResource{
			Name: r.name, Kind: r.kind, Namespaced: r.namespaced, Verbs: verbs,
			SingularName: strings.ToLower(r.kind), ShortNames: r.shortNames,
		})
		for _, sub := range r.subresources {
			l.APIResources = append(l.APIResources, metav1.APIResource{
				Name: r.name + "/" + sub, Kind: r.kind, Namespaced: r.namespaced,
				Verbs: metav1.Verbs{"get", "patch", "update"},
			})
		}
	}
	return lists
}
