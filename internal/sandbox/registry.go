package sandbox

import (
	"fmt"
	"reflect"
	"strconv"
	"sync/atomic"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/meta/testrestmapper"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/clock"
)

// registryTracker stores built-in objects as an API server's registry
// does, where client-go's field-managed fake tracker stops short:
//
//   - defaulting: the API server's defaults for the kinds the sandbox
//     serves workloads of (see defaultObject) — on create, update and
//     patch before the field manager sees the object (so the writer owns
//     them), and inside server-side apply after the merge (so an applier
//     does not), as the API server's field manager does;
//   - server-side apply through managedfields.NewDefaultFieldManager, the
//     API server's own field manager: managedFields per manager and
//     operation, conflicts naming the other manager, force;
//   - metadata the registry owns: uid and creationTimestamp on create
//     (kept on every later write), metadata.generation (1 on create,
//     bumped when the spec changes) and a resourceVersion on every write,
//     one counter for the whole store as etcd's revision is;
//   - a patch's response is the object as stored, managedFields and all.
//
// Like the fake, it does not check resourceVersion preconditions
// (optimistic concurrency): the sandbox's writers are serialized by
// storeReactor instead.
type registryTracker struct {
	k8stesting.ObjectTracker // the plain store, written only through this

	scheme    *runtime.Scheme
	mapper    meta.RESTMapper
	converter managedfields.TypeConverter
	clock     clock.PassiveClock
	names     *nameSource
	rv        *atomic.Int64
}

var _ k8stesting.ObjectTracker = (*registryTracker)(nil)

// newRegistryTracker returns an empty registry over a plain tracker of
// scheme; rv is the resourceVersion counter (shared by a store and the
// scratch copies its dry runs use, so a dry run's answer has a plausible
// resourceVersion without touching the store's).
func newRegistryTracker(scheme *runtime.Scheme, decoder runtime.Decoder, converter managedfields.TypeConverter, clk clock.PassiveClock, names *nameSource, rv *atomic.Int64) *registryTracker {
	return &registryTracker{
		ObjectTracker: k8stesting.NewObjectTracker(scheme, decoder),
		scheme:        scheme,
		mapper:        testrestmapper.TestOnlyStaticRESTMapper(scheme),
		converter:     converter,
		clock:         clk,
		names:         names,
		rv:            rv,
	}
}

// Add implements k8stesting.ObjectTracker: it stores a seed object
// defaulted and versioned, keeping the uid, timestamps and generation the
// seed gave it.
func (t *registryTracker) Add(obj runtime.Object) error {
	obj = obj.DeepCopyObject()
	defaultObject(obj)
	m, err := meta.Accessor(obj)
	if err != nil {
		return fmt.Errorf("add: %w", err)
	}
	if m.GetUID() == "" {
		m.SetUID(t.names.uid())
	}
	if ts := m.GetCreationTimestamp(); ts.IsZero() {
		m.SetCreationTimestamp(metav1.NewTime(t.clock.Now()))
	}
	m.SetResourceVersion(t.nextRV())
	return t.ObjectTracker.Add(obj)
}

// Create implements k8stesting.ObjectTracker.
func (t *registryTracker) Create(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.CreateOptions) error {
	var o metav1.CreateOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	obj = obj.DeepCopyObject()
	defaultObject(obj)
	gvk, mgr, err := t.fieldManager(gvr)
	if err != nil {
		return err
	}
	setKind(obj, gvk)
	live, err := t.scheme.New(gvk)
	if err != nil {
		return err
	}
	live.GetObjectKind().SetGroupVersionKind(gvk)
	managed, err := mgr.Update(live, obj, o.FieldManager)
	if err != nil {
		return err
	}
	if err := t.stamp(managed, nil); err != nil {
		return err
	}
	return t.ObjectTracker.Create(gvr, managed, ns, o)
}

// Update implements k8stesting.ObjectTracker.
func (t *registryTracker) Update(gvr schema.GroupVersionResource, obj runtime.Object, ns string, opts ...metav1.UpdateOptions) error {
	var o metav1.UpdateOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	managed, err := t.update(gvr, obj, ns, o.FieldManager)
	if err != nil {
		return err
	}
	return t.ObjectTracker.Update(gvr, managed, ns, o)
}

// Patch implements k8stesting.ObjectTracker; patched is the patched
// object, which is also the patch's response: it is set to the object as
// stored.
func (t *registryTracker) Patch(gvr schema.GroupVersionResource, patched runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	var o metav1.PatchOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	managed, err := t.update(gvr, patched, ns, o.FieldManager)
	if err != nil {
		return err
	}
	if err := t.ObjectTracker.Patch(gvr, managed, ns, o); err != nil {
		return err
	}
	if dst, src := reflect.ValueOf(patched), reflect.ValueOf(managed); dst.Type() == src.Type() && dst.Kind() == reflect.Pointer {
		dst.Elem().Set(src.Elem())
	}
	return nil
}

// update is an update or patch: defaults, the writer's managedFields and
// the registry's metadata, over the live object.
func (t *registryTracker) update(gvr schema.GroupVersionResource, obj runtime.Object, ns, manager string) (runtime.Object, error) {
	obj = obj.DeepCopyObject()
	defaultObject(obj)
	gvk, mgr, err := t.fieldManager(gvr)
	if err != nil {
		return nil, err
	}
	setKind(obj, gvk)
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	live, err := t.ObjectTracker.Get(gvr, ns, m.GetName())
	if err != nil {
		return nil, err
	}
	managed, err := mgr.Update(live, obj, manager)
	if err != nil {
		return nil, err
	}
	if err := t.stamp(managed, live); err != nil {
		return nil, err
	}
	return managed, nil
}

// Apply implements k8stesting.ObjectTracker: server-side apply of cfg
// (an unstructured apply configuration) by opts' field manager.
func (t *registryTracker) Apply(gvr schema.GroupVersionResource, cfg runtime.Object, ns string, opts ...metav1.PatchOptions) error {
	var o metav1.PatchOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.FieldManager == "" {
		// The API server's words for an apply without a manager.
		return apierrors.NewBadRequest("PATCH /apply requires fieldManager to be set")
	}
	m, err := meta.Accessor(cfg)
	if err != nil {
		return err
	}
	gvk, mgr, err := t.fieldManager(gvr)
	if err != nil {
		return err
	}
	live, err := t.ObjectTracker.Get(gvr, ns, m.GetName())
	exists := err == nil
	switch {
	case apierrors.IsNotFound(err):
		if live, err = t.scheme.New(gvk); err != nil {
			return err
		}
		live.GetObjectKind().SetGroupVersionKind(gvk)
	case err != nil:
		return err
	}
	applied, err := mgr.Apply(live, cfg, o.FieldManager, o.Force != nil && *o.Force)
	if err != nil {
		return err
	}
	if !exists {
		if err := t.stamp(applied, nil); err != nil {
			return err
		}
		return t.ObjectTracker.Create(gvr, applied, ns, metav1.CreateOptions{FieldManager: o.FieldManager})
	}
	if err := t.stamp(applied, live); err != nil {
		return err
	}
	return t.ObjectTracker.Update(gvr, applied, ns, metav1.UpdateOptions{FieldManager: o.FieldManager})
}

// fieldManager is the API server's field manager for gvr's kind, with the
// sandbox's defaulter.
func (t *registryTracker) fieldManager(gvr schema.GroupVersionResource) (schema.GroupVersionKind, *managedfields.FieldManager, error) {
	gvk, err := t.mapper.KindFor(gvr)
	if err != nil {
		return gvk, nil, err
	}
	mgr, err := managedfields.NewDefaultFieldManager(t.converter, t.scheme, defaulter{}, t.scheme, gvk, gvk.GroupVersion(), "", nil)
	if err != nil {
		return gvk, nil, fmt.Errorf("field manager for %s: %w", gvk, err)
	}
	return gvk, mgr, nil
}

// stamp sets the metadata the registry owns on obj, about to be stored
// over live (nil on create).
func (t *registryTracker) stamp(obj, live runtime.Object) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	if live == nil {
		m.SetUID(t.names.uid())
		m.SetCreationTimestamp(metav1.NewTime(t.clock.Now()))
	} else if lm, err := meta.Accessor(live); err == nil {
		m.SetUID(lm.GetUID())
		m.SetCreationTimestamp(lm.GetCreationTimestamp())
	}
	withGen, err := withGeneration(obj, live)
	if err != nil {
		return err
	}
	m.SetGeneration(generationOf(withGen))
	m.SetResourceVersion(t.nextRV())
	return nil
}

func (t *registryTracker) nextRV() string {
	return strconv.FormatInt(t.rv.Add(1), 10)
}

// setKind sets obj's apiVersion and kind, as the field manager needs them.
func setKind(obj runtime.Object, gvk schema.GroupVersionKind) {
	obj.GetObjectKind().SetGroupVersionKind(gvk)
}

// defaulter is defaultObject as a runtime.ObjectDefaulter, for the field
// manager's server-side apply.
type defaulter struct{}

// Default implements runtime.ObjectDefaulter.
func (defaulter) Default(obj runtime.Object) { defaultObject(obj) }
