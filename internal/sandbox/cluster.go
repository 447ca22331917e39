package sandbox

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/applyconfigurations"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/clock"
)

// Custom resources the simulated cluster serves through its dynamic client.
// (Functions, not variables: the package holds no mutable globals.)

// ClusterIssuersGVR is cert-manager's ClusterIssuer resource.
func ClusterIssuersGVR() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "clusterissuers"}
}

// IssuersGVR is cert-manager's Issuer resource.
func IssuersGVR() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "issuers"}
}

// CertificatesGVR is cert-manager's Certificate resource.
func CertificatesGVR() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}
}

// CertificateRequestsGVR is cert-manager's CertificateRequest resource.
func CertificateRequestsGVR() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificaterequests"}
}

// SealedSecretsGVR is the sealed-secrets controller's SealedSecret resource.
func SealedSecretsGVR() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "bitnami.com", Version: "v1alpha1", Resource: "sealedsecrets"}
}

// customResource is a custom resource type the simulated cluster knows.
type customResource struct {
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
	shortNames []string
}

func customResources() []customResource {
	return []customResource{
		{gvr: ClusterIssuersGVR(), kind: "ClusterIssuer"},
		{gvr: IssuersGVR(), kind: "Issuer", namespaced: true},
		{gvr: CertificatesGVR(), kind: "Certificate", namespaced: true, shortNames: []string{"cert", "certs"}},
		{gvr: CertificateRequestsGVR(), kind: "CertificateRequest", namespaced: true, shortNames: []string{"cr", "crs"}},
		{gvr: SealedSecretsGVR(), kind: "SealedSecret", namespaced: true},
	}
}

// ClusterName is what the simulated cluster calls itself in the cockpit.
const ClusterName = "simulated cluster"

// ClusterOptions configure NewSimulatedCluster.
type ClusterOptions struct {
	// Clock drives the simulated controllers and stamps the seed objects;
	// nil means the real clock. Tests pass a fake clock.
	Clock clock.WithTicker
	// RolloutStep is the controllers' tick; zero means DefaultRolloutStep.
	RolloutStep time.Duration
	// Seed makes generated names, UIDs and IPs reproducible.
	Seed uint64
}

// SimulatedCluster is a demo fake: client-go's fake typed and dynamic
// clients seeded with the cluster state of the seed document, plus small
// simulated controllers that roll Deployments out. It is what `cockpit demo`
// points the cockpit at. It is not Kubernetes: there is no API server,
// admission, validation or RBAC; tests that claim Kubernetes behaviour use
// the envtest control plane, never this.
//
// Typed and Dynamic share one store for built-in kinds (a Deployment applied
// through Dynamic is rolled out and visible through Typed); custom resources
// (cert-manager, sealed-secrets) live behind Dynamic only. Watches never
// overflow (the plain fakes panic when a watcher falls 100 events behind),
// honour label and metadata.name/namespace field selectors, and dry-run
// requests change nothing. Dynamic answers unknown resources (404) and
// invalid selectors (400) as an API server would; Typed is client-go's fake
// and panics on an unparsable selector string, so validate selectors before
// using them (a runbook validator should anyway). There is no RBAC: a
// SelfSubjectAccessReview is always allowed.
type SimulatedCluster struct {
	// Typed is the typed clientset.
	Typed kubernetes.Interface
	// Dynamic is the dynamic client, for built-in and custom resources.
	Dynamic dynamic.Interface

	typed      *kubefake.Clientset
	store      *registryTracker        // typed store, kept as an API server's registry would
	rv         atomic.Int64            // the typed store's resourceVersion counter
	typedReact k8stesting.ReactionFunc // serves the typed store, for Typed and Dynamic
	clock      clock.WithTicker
	step       time.Duration
	names      *nameSource
	watches    *watchHub
	builtins   map[schema.GroupVersionResource]bool
	dynScheme  *runtime.Scheme
	converter  func() managedfields.TypeConverter
	startMu    sync.Mutex
	started    bool
	errMu      sync.Mutex
	controlErr error
	badRelease atomic.Bool
}

// NewSimulatedCluster builds the seeded fake clients. Call StartControllers
// to run the simulated controllers and Close to end open watches.
func NewSimulatedCluster(opts ClusterOptions) (*SimulatedCluster, error) {
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	step := opts.RolloutStep
	if step <= 0 {
		step = DefaultRolloutStep
	}
	c := &SimulatedCluster{
		clock:    clk,
		step:     step,
		names:    newNameSource(opts.Seed),
		watches:  newWatchHub(),
		builtins: builtinResources(),
	}

	typedObjs, customObjs, err := seedObjects(clk.Now(), c.names)
	if err != nil {
		return nil, fmt.Errorf("simulated cluster: seed: %w", err)
	}

	// The clientset's own tracker is never used: every action and watch
	// is served from the registry below.
	cs := kubefake.NewClientset()
	c.typed = cs
	// The type converter parses OpenAPI models once (about 0.1 s).
	c.converter = sync.OnceValue(func() managedfields.TypeConverter {
		return applyconfigurations.NewTypeConverter(clientgoscheme.Scheme)
	})
	c.store = c.newRegistry()
	if err := c.withReleaseFields(typedObjs); err != nil {
		return nil, err
	}
	for _, obj := range typedObjs {
		if err := c.store.Add(obj); err != nil {
			return nil, fmt.Errorf("simulated cluster: seed %s: %w", describe(obj), err)
		}
	}
	c.typedReact = c.storeReactor(c.store, c.typedScratch)
	cs.PrependReactor("*", "*", c.typedReact)
	cs.PrependReactor("create", "selfsubjectaccessreviews", allowEverything)
	cs.PrependWatchReactor("*", c.watches.reactor(func(schema.GroupVersionResource) (k8stesting.ObjectTracker, func(runtime.Object) (runtime.Object, error)) {
		return c.store, nil
	}))
	cs.Resources = apiResources()
	if d, ok := cs.Discovery().(*fakediscovery.FakeDiscovery); ok {
		d.FakedServerVersion = &version.Info{Major: "1", Minor: "37", GitVersion: "v1.37.2-sandbox", Platform: "linux/amd64"}
	}

	dyn, err := c.newDynamic(customObjs)
	if err != nil {
		return nil, err
	}
	c.Typed = cs
	c.Dynamic = dyn
	return c, nil
}

// Name returns "simulated cluster", the label the cockpit shows for it.
func (c *SimulatedCluster) Name() string { return ClusterName }

// StartControllers starts the simulated controllers. They run until ctx is
// cancelled or the cluster is closed; the returned channel is closed when
// they have stopped. The watch and ticker exist when it returns, so a test
// may step a fake clock at once. It may be called once.
func (c *SimulatedCluster) StartControllers(ctx context.Context) (<-chan struct{}, error) {
	c.startMu.Lock()
	defer c.startMu.Unlock()
	if c.started {
		return nil, errors.New("simulated cluster: controllers already started")
	}
	ctrl := &rolloutController{
		client:     c.Typed,
		badRelease: c.badRelease.Load,
		clock:      c.clock,
		step:       c.step,
		names:      c.names,
		states:     make(map[types.NamespacedName]*rollout),
		onError:    c.recordError,
	}
	done, err := ctrl.start(ctx)
	if err != nil {
		return nil, err
	}
	c.started = true
	return done, nil
}

// SetBadRelease switches the bad-release fault: while it is on, the new
// version of a Deployment — a pod template that has never completed a
// rollout — crashes. Its pods crash-loop (CrashLoopBackOff, exit code 1)
// instead of becoming ready, the rollout stops progressing and, after
// progressDeadlineSeconds, the Deployment reports ProgressDeadlineExceeded.
// A rollback to a template that rolled out before runs as it did. It takes
// effect at the controllers' next step, for rollouts in progress too.
func (c *SimulatedCluster) SetBadRelease(on bool) { c.badRelease.Store(on) }

// BadRelease reports whether the bad-release fault is on.
func (c *SimulatedCluster) BadRelease() bool { return c.badRelease.Load() }

// ControllerError returns the last error the simulated controllers met, if
// any (they carry on after errors, as real controllers do).
func (c *SimulatedCluster) ControllerError() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.controlErr
}

func (c *SimulatedCluster) recordError(err error) {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	c.controlErr = err
}

// Close ends every open watch (their result channels close) and waits for
// the goroutines feeding them. Controllers stop when their watch ends.
func (c *SimulatedCluster) Close() {
	c.watches.close()
}

// newRegistry returns an empty typed store.
func (c *SimulatedCluster) newRegistry() *registryTracker {
	return newRegistryTracker(clientgoscheme.Scheme, clientgoscheme.Codecs.UniversalDecoder(), c.converter(), c.clock, c.names, &c.rv)
}

// typedScratch returns an empty typed store for a dry run.
func (c *SimulatedCluster) typedScratch() (k8stesting.ObjectTracker, error) {
	return c.newRegistry(), nil
}

// newDynamic builds the dynamic client: custom resources in its own store,
// built-in resources routed to the typed store and converted.
func (c *SimulatedCluster) newDynamic(customObjs []runtime.Object) (dynamic.Interface, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("simulated cluster: dynamic scheme: %w", err)
	}
	listKinds := make(map[schema.GroupVersionResource]string)
	for _, cr := range customResources() {
		listKinds[cr.gvr] = cr.kind + "List"
	}
	c.dynScheme = s
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(s, listKinds)
	custom := generationTracker{ObjectTracker: dyn.Tracker()}
	for _, obj := range customObjs {
		if err := custom.Add(obj); err != nil {
			return nil, fmt.Errorf("simulated cluster: seed %s: %w", describe(obj), err)
		}
	}
	customScratch := func() (k8stesting.ObjectTracker, error) {
		return generationTracker{ObjectTracker: k8stesting.NewObjectTracker(s, serializer.NewCodecFactory(s).UniversalDecoder())}, nil
	}
	typedReact := c.typedReact
	customReact := c.storeReactor(custom, customScratch)
	dyn.PrependReactor("*", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if !c.builtins[action.GetResource()] {
			return customReact(action)
		}
		typedAction, err := toTypedAction(action)
		if err != nil {
			return true, nil, err
		}
		handled, obj, err := typedReact(typedAction)
		if err != nil || obj == nil {
			return handled, obj, err
		}
		u, err := c.toUnstructured(obj)
		return handled, u, err
	})
	dyn.PrependWatchReactor("*", c.watches.reactor(func(gvr schema.GroupVersionResource) (k8stesting.ObjectTracker, func(runtime.Object) (runtime.Object, error)) {
		if c.builtins[gvr] {
			return c.store, c.toUnstructured
		}
		return dyn.Tracker(), nil
	}))
	known := make(map[schema.GroupVersionResource]bool, len(c.builtins))
	for gvr := range c.builtins {
		known[gvr] = true
	}
	for _, cr := range customResources() {
		known[cr.gvr] = true
	}
	return guardedDynamic{Interface: dyn, known: known}, nil
}

// storeReactor serves actions from store, and dry runs from a scratch
// tracker holding a copy of the live object, so they change nothing (their
// answer keeps the live object's resourceVersion, or has none for a
// create, as the API server's does). Writes
// are serialized: the fake's read-modify-write of a patch, and the second
// write of a generation bump after an apply, are atomic as they would be
// behind an API server's optimistic concurrency.
func (c *SimulatedCluster) storeReactor(store k8stesting.ObjectTracker, scratch func() (k8stesting.ObjectTracker, error)) k8stesting.ReactionFunc {
	react := k8stesting.ObjectReaction(store)
	var writeMu sync.Mutex
	return func(action k8stesting.Action) (bool, runtime.Object, error) {
		if !isDryRun(action) {
			switch action.GetVerb() {
			case "create", "update", "patch", "delete", "delete-collection":
				writeMu.Lock()
				defer writeMu.Unlock()
			}
			return react(action)
		}
		gvr, ns := action.GetResource(), action.GetNamespace()
		name := actionObjectName(action)
		if _, ok := action.(k8stesting.DeleteActionImpl); ok {
			_, err := store.Get(gvr, ns, name)
			return true, nil, err
		}
		s, err := scratch()
		if err != nil {
			return true, nil, fmt.Errorf("dry run: %w", err)
		}
		rv := "" // a dry-run create has none: nothing was stored
		if live, err := store.Get(gvr, ns, name); err == nil {
			if err := s.Add(live); err != nil {
				return true, nil, fmt.Errorf("dry run: copy %s: %w", name, err)
			}
			if m, err := meta.Accessor(live); err == nil {
				rv = m.GetResourceVersion() // nothing was written
			}
		}
		handled, obj, err := k8stesting.ObjectReaction(s)(action)
		if m, merr := meta.Accessor(obj); err == nil && obj != nil && merr == nil {
			m.SetResourceVersion(rv)
		}
		return handled, obj, err
	}
}

// allowEverything answers a SelfSubjectAccessReview as an API server
// without RBAC (the simulated cluster has none) does: allowed, by
// nobody's rule.
func allowEverything(action k8stesting.Action) (bool, runtime.Object, error) {
	ca, ok := action.(k8stesting.CreateAction)
	if !ok {
		return false, nil, nil
	}
	review, ok := ca.GetObject().(*authorizationv1.SelfSubjectAccessReview)
	if !ok {
		return false, nil, nil
	}
	out := review.DeepCopy()
	out.Status = authorizationv1.SubjectAccessReviewStatus{Allowed: true, Reason: "the " + ClusterName + " has no RBAC: everything is allowed"}
	return true, out, nil
}

func isDryRun(action k8stesting.Action) bool {
	switch a := action.(type) {
	case k8stesting.CreateActionImpl:
		return len(a.CreateOptions.DryRun) > 0
	case k8stesting.UpdateActionImpl:
		return len(a.UpdateOptions.DryRun) > 0
	case k8stesting.PatchActionImpl:
		return len(a.PatchOptions.DryRun) > 0
	case k8stesting.DeleteActionImpl:
		return len(a.DeleteOptions.DryRun) > 0
	}
	return false
}

func actionObjectName(action k8stesting.Action) string {
	switch a := action.(type) {
	case k8stesting.CreateActionImpl:
		if m, err := meta.Accessor(a.Object); err == nil {
			return m.GetName()
		}
		return a.Name
	case k8stesting.UpdateActionImpl:
		if m, err := meta.Accessor(a.Object); err == nil {
			return m.GetName()
		}
	case k8stesting.PatchActionImpl:
		return a.Name
	case k8stesting.DeleteActionImpl:
		return a.Name
	}
	return ""
}

// toTypedAction converts the unstructured object of a create or update to
// its typed form, so the typed store holds only typed objects.
func toTypedAction(action k8stesting.Action) (k8stesting.Action, error) {
	switch a := action.(type) {
	case k8stesting.CreateActionImpl:
		obj, err := toTyped(a.Object)
		if err != nil {
			return nil, err
		}
		a.Object = obj
		return a, nil
	case k8stesting.UpdateActionImpl:
		obj, err := toTyped(a.Object)
		if err != nil {
			return nil, err
		}
		a.Object = obj
		return a, nil
	}
	return action, nil
}

func toTyped(obj runtime.Object) (runtime.Object, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	gvk := u.GroupVersionKind()
	typed, err := clientgoscheme.Scheme.New(gvk)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("kind %s is not served: %v", gvk, err))
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, typed); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("decode %s %s: %v", gvk.Kind, u.GetName(), err))
	}
	typed.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
	return typed, nil
}

// toUnstructured converts a typed object or list, setting apiVersion and kind
// on it and on list items, as a real API server's responses carry them.
func (c *SimulatedCluster) toUnstructured(obj runtime.Object) (runtime.Object, error) {
	if _, ok := obj.(runtime.Unstructured); ok {
		return obj, nil
	}
	u := &unstructured.Unstructured{}
	if err := c.dynScheme.Convert(obj, u, nil); err != nil {
		return nil, fmt.Errorf("convert %T to unstructured: %w", obj, err)
	}
	if !u.IsList() {
		return u, nil
	}
	list, err := u.ToList()
	if err != nil {
		return nil, fmt.Errorf("convert %T to unstructured list: %w", obj, err)
	}
	itemGVK := list.GroupVersionKind()
	itemGVK.Kind = strings.TrimSuffix(itemGVK.Kind, "List")
	for i := range list.Items {
		if list.Items[i].GetKind() == "" {
			list.Items[i].SetGroupVersionKind(itemGVK)
		}
	}
	return list, nil
}

// builtinResources maps every resource of client-go's scheme.
func builtinResources() map[schema.GroupVersionResource]bool {
	out := make(map[schema.GroupVersionResource]bool)
	for gvk := range clientgoscheme.Scheme.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal || strings.HasSuffix(gvk.Kind, "List") {
			continue
		}
		gvr, _ := meta.UnsafeGuessKindToResource(gvk)
		out[gvr] = true
	}
	return out
}

func describe(obj runtime.Object) string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return fmt.Sprintf("%T", obj)
	}
	if m.GetNamespace() == "" {
		return fmt.Sprintf("%T %s", obj, m.GetName())
	}
	return fmt.Sprintf("%T %s/%s", obj, m.GetNamespace(), m.GetName())
}

func joinErrors(what string, errs []error) error {
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// nameSource generates reproducible names, UIDs and IPs from a seed.
type nameSource struct {
	mu      sync.Mutex
	rng     *rand.Rand
	nextPod int
	nextSvc int
	svcIPs  map[string]string
}

func newNameSource(seed uint64) *nameSource {
	return &nameSource{
		rng:    rand.New(rand.NewPCG(seed, seed^0x5bd1e9955bd1e995)),
		svcIPs: map[string]string{"kube-dns": "10.96.0.10"},
	}
}

// suffixAlphabet is the API server's generateName alphabet.
const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// suffix returns five characters as generateName appends them.
func (n *nameSource) suffix() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var b [5]byte
	for i := range b {
		b[i] = suffixAlphabet[n.rng.IntN(len(suffixAlphabet))]
	}
	return string(b[:])
}

// uid returns a random version-4 UUID.
func (n *nameSource) uid() types.UID {
	n.mu.Lock()
	defer n.mu.Unlock()
	hi, lo := n.rng.Uint64(), n.rng.Uint64()
	hi = hi&^0xf000 | 0x4000
	lo = lo&^(0xc<<60) | 0x8<<60
	return types.UID(fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff))
}

// podIP returns the next address of the pod network 10.244.0.0/16.
func (n *nameSource) podIP() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.nextPod++
	i := n.nextPod % (256 * 254)
	return fmt.Sprintf("10.244.%d.%d", i/254, i%254+1)
}

// serviceIP returns the stable cluster IP of the named service.
func (n *nameSource) serviceIP(name string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ip, ok := n.svcIPs[name]; ok {
		return ip
	}
	n.nextSvc++
	ip := fmt.Sprintf("10.96.%d.%d", 1+n.nextSvc/250, n.nextSvc%250+1)
	n.svcIPs[name] = ip
	return ip
}
