package probes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cockpit-dev/cockpit/internal/kube"
)

// ErrUnreachable marks an observation that could not reach the API server
// (connection refused, reset, timeout) or that the server could not serve
// (502, 503, 504). The shared informers keep retrying with backoff; the
// probe recovers by itself when the server is back.
var ErrUnreachable = kube.ErrUnreachable

// kubeSyncTimeout bounds how long an observation waits for a new informer's
// first sync when the caller's context has no earlier deadline.
const kubeSyncTimeout = 30 * time.Second

// KubeconfigOptions are kubectl's connection flags.
type KubeconfigOptions struct {
	// Path is --kubeconfig; empty means $KUBECONFIG (a path list), then
	// ~/.kube/config.
	Path string
	// Context is --context: the context of probes that name none; empty
	// means the kubeconfig's current context.
	Context string
	// Namespace is -n: the namespace of probes that name none; empty means
	// each context's own namespace, then "default".
	Namespace string
}

// KubeClusters resolves kubeconfig context names to Clusters the way kubectl
// does, once per name: every probe naming the same context shares one
// Cluster and so one set of informers. Its Cluster method is what Env.Kube
// expects. It is safe for concurrent use.
type KubeClusters struct {
	opts     KubeconfigOptions
	mu       sync.Mutex
	clusters map[string]*Cluster
	closed   bool
}

// NewKubeClusters returns a resolver for opts. It reads nothing yet: each
// context is loaded on first use.
func NewKubeClusters(opts KubeconfigOptions) *KubeClusters {
	return &KubeClusters{opts: opts, clusters: map[string]*Cluster{}}
}

// Cluster returns the cluster of a kubeconfig context ("" is the default
// context). Loading the kubeconfig does not contact the API server.
func (k *KubeClusters) Cluster(contextName string) (*Cluster, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, errors.New("kubernetes clusters already closed")
	}
	if c, ok := k.clusters[contextName]; ok {
		return c, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if k.opts.Path != "" {
		rules.ExplicitPath = k.opts.Path
	}
	name := contextName
	if name == "" {
		name = k.opts.Context
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: name}
	overrides.Context.Namespace = k.opts.Namespace
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	// A context the kubeconfig lacks is said once, with those it has.
	if err := kube.CheckContext(cc, name); err != nil {
		return nil, err
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig context %q: %w", name, err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig context %q: namespace: %w", name, err)
	}
	if name == "" {
		if raw, err := cc.RawConfig(); err == nil {
			name = raw.CurrentContext
		}
	}
	c, err := NewClusterForConfig(name, cfg, ns)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig context %q: %w", name, err)
	}
	k.clusters[contextName] = c
	return c, nil
}

// Close stops the informers of every cluster handed out.
func (k *KubeClusters) Close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	for _, c := range k.clusters {
		c.Close()
	}
}

// ClusterOptions build a Cluster from clients the caller made (a real
// clientset, or the demo's simulated cluster).
type ClusterOptions struct {
	// Name is the cluster's display name (the kubeconfig context).
	Name string
	// Typed serves discovery and access reviews.
	Typed kubernetes.Interface
	// Dynamic serves every list and watch (built-in kinds included).
	Dynamic dynamic.Interface
	// Namespace is the namespace of probes that name none; "default" when
	// empty.
	Namespace string
}

// Cluster is one Kubernetes API server as probes see it: its clients, a
// discovery-backed REST mapper and the shared informers — one per resource
// type and namespace, however many probes read it, started on first use and
// stopped by Close. It is safe for concurrent use.
type Cluster struct {
	*clusterCore
	// namespace is the namespace of probes that name none; views made by
	// WithNamespace differ only in it.
	namespace string
}

// clusterCore is what every namespace view of a Cluster shares.
type clusterCore struct {
	name     string
	typed    kubernetes.Interface
	dynamic  dynamic.Interface
	mapper   meta.ResettableRESTMapper
	expander meta.RESTMapper

	mu        sync.Mutex
	resolved  map[string]kubeResource
	informers map[informerKey]*sharedInformer
	stop      chan struct{}
	closed    bool
}

// NewClusterForConfig builds a Cluster's clients from a REST config. The
// config's rate limits are raised to what a few hundred probes need at
// start-up (informers then cost almost nothing).
func NewClusterForConfig(name string, cfg *rest.Config, namespace string) (*Cluster, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 100
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "cockpit"
	}
	typed, dyn, err := kube.Clients(cfg)
	if err != nil {
		return nil, err
	}
	return NewCluster(ClusterOptions{Name: name, Typed: typed, Dynamic: dyn, Namespace: namespace}), nil
}

// NewCluster builds a Cluster over the given clients. Nothing is contacted
// until a probe observes.
func NewCluster(opts ClusterOptions) *Cluster {
	ns := opts.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	disc := memory.NewMemCacheClient(opts.Typed.Discovery())
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(disc)
	return &Cluster{namespace: ns, clusterCore: &clusterCore{
		name:      opts.Name,
		typed:     opts.Typed,
		dynamic:   opts.Dynamic,
		mapper:    mapper,
		expander:  restmapper.NewShortcutExpander(mapper, disc, func(string) {}),
		resolved:  map[string]kubeResource{},
		informers: map[informerKey]*sharedInformer{},
		stop:      make(chan struct{}),
	}}
}

// WithNamespace returns a view of the cluster whose probes default to
// namespace ns (a runbook cluster's namespace:). It shares the clients and
// the informers: closing either closes both.
func (c *Cluster) WithNamespace(ns string) *Cluster {
	if ns == "" || ns == c.namespace {
		return c
	}
	return &Cluster{clusterCore: c.clusterCore, namespace: ns}
}

// Name is the cluster's display name.
func (c *Cluster) Name() string { return c.name }

// Namespace is the namespace of probes that name none.
func (c *Cluster) Namespace() string { return c.namespace }

// Close stops every informer of the cluster. Probes observing afterwards
// get an error.
func (c *Cluster) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.stop)
	}
}

// Informers reports how many shared informers the cluster runs: one per
// resource type and namespace in use (the benchmark checks it).
func (c *Cluster) Informers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.informers)
}

// kubeResource is a resolved resource type.
type kubeResource struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}

// name is the resource as RBAC names it: "deployments.apps", "pods".
func (r kubeResource) name() string { return r.gvr.GroupResource().String() }

// Built-in resource types the kinds read, known without discovery.
var (
	resPods            = kubeResource{gvr: schema.GroupVersionResource{Version: "v1", Resource: "pods"}, namespaced: true}
	resServices        = kubeResource{gvr: schema.GroupVersionResource{Version: "v1", Resource: "services"}, namespaced: true}
	resSecrets         = kubeResource{gvr: schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, namespaced: true}
	resNamespaces      = kubeResource{gvr: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}}
	resDeployments     = kubeResource{gvr: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, namespaced: true}
	resNetworkPolicies = kubeResource{gvr: schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}, namespaced: true}
	resEndpointSlices  = kubeResource{gvr: schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}, namespaced: true}
)

// resolve maps a runbook's resource argument — "clusterissuers.cert-manager.io",
// "deployments", "deploy.apps", "certificates.v1.cert-manager.io" — to a
// resource type through discovery (short names included), the way kubectl
// does. Results are cached; a miss resets the discovery cache once, for a
// CRD installed after the first look.
func (c *Cluster) resolve(arg string) (kubeResource, error) {
	c.mu.Lock()
	r, ok := c.resolved[arg]
	c.mu.Unlock()
	if ok {
		return r, nil
	}
	r, err := c.lookup(arg)
	if meta.IsNoMatchError(err) {
		c.mapper.Reset()
		r, err = c.lookup(arg)
	}
	if err != nil {
		if meta.IsNoMatchError(err) {
			return kubeResource{}, fmt.Errorf("resource %q: the API server does not serve it (is its CRD installed?): %w", arg, err)
		}
		return kubeResource{}, fmt.Errorf("resource %q: discovery: %w", arg, kube.Err(err, kube.Call{Verb: "get", Resource: "discovery"}))
	}
	c.mu.Lock()
	c.resolved[arg] = r
	c.mu.Unlock()
	return r, nil
}

func (c *Cluster) lookup(arg string) (kubeResource, error) {
	full, gr := schema.ParseResourceArg(strings.ToLower(arg))
	var gvk schema.GroupVersionKind
	var err error
	if full != nil {
		gvk, err = c.expander.KindFor(*full)
	}
	if full == nil || err != nil {
		gvk, err = c.expander.KindFor(gr.WithVersion(""))
	}
	if err != nil {
		return kubeResource{}, err
	}
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return kubeResource{}, err
	}
	return kubeResource{gvr: m.Resource, namespaced: m.Scope.Name() == meta.RESTScopeNameNamespace}, nil
}

// informerKey identifies a shared informer: one per resource type and
// namespace ("" for cluster-scoped types and all namespaces).
type informerKey struct {
	gvr       schema.GroupVersionResource
	namespace string
}

// informer returns the shared informer for res in namespace, creating and
// starting it on first use.
func (c *Cluster) informer(res kubeResource, namespace string) (*sharedInformer, error) {
	if !res.namespaced {
		namespace = ""
	}
	key := informerKey{gvr: res.gvr, namespace: namespace}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("cluster closed")
	}
	if s, ok := c.informers[key]; ok {
		return s, nil
	}
	s := newSharedInformer(c.dynamic, res, namespace)
	c.informers[key] = s
	go s.run(c.stop)
	return s, nil
}

// sharedInformer wraps one client-go informer with what probes need: the
// health of its list/watch (forbidden, unreachable) and change
// notifications fanned out to subscribed probes.
type sharedInformer struct {
	res       kubeResource
	namespace string
	inf       cache.SharedIndexInformer

	mu      sync.Mutex
	err     error         // the last list/watch failure; nil once one succeeds
	synced  bool          // the first full list has reached the store
	changed chan struct{} // closed (and replaced) when err or synced change
	subs    []subscription
}

// subscription is one probe's interest in an informer's objects.
type subscription struct {
	ch    chan struct{}
	match func(*unstructured.Unstructured) bool // nil: every object
}

func newSharedInformer(client dynamic.Interface, res kubeResource, namespace string) *sharedInformer {
	s := &sharedInformer{res: res, namespace: namespace, changed: make(chan struct{})}
	ri := client.Resource(res.gvr).Namespace(namespace)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			obj, err := ri.List(ctx, o)
			s.report(ctx, "list", err)
			return obj, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			w, err := ri.Watch(ctx, o)
			verb := "watch"
			if o.SendInitialEvents != nil && *o.SendInitialEvents {
				verb = "list" // a streaming list: what RBAC calls listing
			}
			s.report(ctx, verb, err)
			return w, err
		},
	}
	s.inf = cache.NewSharedIndexInformerWithOptions(
		cache.ToListWatcherWithWatchListSemantics(lw, client),
		&unstructured.Unstructured{},
		cache.SharedIndexInformerOptions{ObjectDescription: res.gvr.String()},
	)
	// Neither call fails before the informer runs.
	_ = s.inf.SetTransform(stripObject)
	_ = s.inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, _ *cache.Reflector, err error) {
		// A watch that ended with an error the list/watch calls did not
		// see (an expired resource version, a stream cut): relisting
		// follows and reports for itself. Only record real failures. A
		// forbidden answer came from a list or watch call, which reported
		// it with the verb RBAC checked (a streaming list is a list).
		if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) || apierrors.IsForbidden(err) || errors.Is(err, context.Canceled) {
			return
		}
		s.report(ctx, "watch", err)
	})
	_, _ = s.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { s.fanout(obj, nil) },
		UpdateFunc: func(old, obj any) {
			if o, n := asObject(old), asObject(obj); o != nil && n != nil && o.GetResourceVersion() == n.GetResourceVersion() {
				return // a relist that changed nothing
			}
			s.fanout(obj, old)
		},
		DeleteFunc: func(obj any) { s.fanout(obj, nil) },
	})
	return s
}

// run runs the informer until stop closes, and marks it synced when the
// first list is in the store.
func (s *sharedInformer) run(stop chan struct{}) {
	go s.inf.Run(stop)
	if cache.WaitForCacheSync(stop, s.inf.HasSynced) {
		s.mu.Lock()
		s.synced = true
		s.signalLocked()
		s.mu.Unlock()
	}
}

// report records the outcome of a list or watch call.
func (s *sharedInformer) report(ctx context.Context, verb string, err error) {
	if ctx.Err() != nil {
		return // the informer is stopping
	}
	var next error
	if err != nil {
		next = kube.Err(err, kube.Call{Verb: verb, Resource: s.res.name(), Namespace: s.namespace})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if (s.err == nil) == (next == nil) && (next == nil || s.err.Error() == next.Error()) {
		return
	}
	s.err = next
	s.signalLocked()
}

// signalLocked wakes Observe calls waiting on the state and notifies every
// subscriber (the result of all its probes may have changed).
func (s *sharedInformer) signalLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
	for _, sub := range s.subs {
		notify(sub.ch)
	}
}

// fanout notifies the subscribers an object change concerns.
func (s *sharedInformer) fanout(obj, old any) {
	o, prev := asObject(obj), asObject(old)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.subs {
		if sub.match == nil || (o != nil && sub.match(o)) || (prev != nil && sub.match(prev)) {
			notify(sub.ch)
		}
	}
}

func (s *sharedInformer) subscribe(sub subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, sub)
}

// notify sends without blocking: one pending notification is enough.
func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// list returns the informer's objects that match, once it has synced;
// while its list/watch fails it returns that failure instead of stale data.
func (s *sharedInformer) list(ctx context.Context, match func(*unstructured.Unstructured) bool) ([]*unstructured.Unstructured, error) {
	for {
		s.mu.Lock()
		err, synced, changed := s.err, s.synced, s.changed
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if synced {
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: waiting for the %s cache to sync: %w", ErrPending, s.res.name(), ctx.Err())
		}
	}
	var out []*unstructured.Unstructured
	for _, item := range s.inf.GetStore().List() {
		if u := asObject(item); u != nil && (match == nil || match(u)) {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b *unstructured.Unstructured) int {
		return strings.Compare(a.GetNamespace()+"/"+a.GetName(), b.GetNamespace()+"/"+b.GetName())
	})
	return out, nil
}

func asObject(obj any) *unstructured.Unstructured {
	switch o := obj.(type) {
	case *unstructured.Unstructured:
		return o
	case cache.DeletedFinalStateUnknown:
		return asObject(o.Obj)
	}
	return nil
}

// lastApplied is kubectl's annotation holding the whole applied manifest —
// for a Secret, its data in clear.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// stripObject is the informers' transform: it drops managed fields from
// every object, and from Secrets everything but their metadata, type and
// public certificate (tls.crt), so that private keys and other secret
// values never reach the cache, a result or a log.
func stripObject(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	u.SetManagedFields(nil)
	if u.GetKind() != "Secret" || u.GroupVersionKind().Group != "" {
		return u, nil
	}
	if ann := u.GetAnnotations(); ann[lastApplied] != "" {
		delete(ann, lastApplied)
		u.SetAnnotations(ann)
	}
	data, _, _ := unstructured.NestedMap(u.Object, "data")
	delete(u.Object, "stringData")
	delete(u.Object, "data")
	if crt, ok := data[tlsCertKey].(string); ok {
		u.Object["data"] = map[string]any{tlsCertKey: crt}
	}
	return u, nil
}

// tlsCertKey is the public certificate of a kubernetes.io/tls Secret: the
// only secret value a probe ever reads.
const tlsCertKey = "tls.crt"

// kubeReader is the part every Kubernetes probe shares: its cluster, its
// change channel, and the informers it has subscribed to.
type kubeReader struct {
	cluster *Cluster
	ch      chan struct{}

	mu   sync.Mutex
	subs map[*sharedInformer]bool
}

func newKubeReader(c *Cluster) kubeReader {
	return kubeReader{cluster: c, ch: make(chan struct{}, 1), subs: map[*sharedInformer]bool{}}
}

// Changes implements Changer.
func (r *kubeReader) Changes() <-chan struct{} { return r.ch }

// read lists objects of res in namespace through the shared informer,
// subscribing the probe to the changes match selects (nil: all of them).
func (r *kubeReader) read(ctx context.Context, res kubeResource, namespace string, match func(*unstructured.Unstructured) bool) ([]*unstructured.Unstructured, error) {
	s, err := r.cluster.informer(res, namespace)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if !r.subs[s] {
		r.subs[s] = true
		s.subscribe(subscription{ch: r.ch, match: match})
	}
	r.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, kubeSyncTimeout)
		defer cancel()
	}
	return s.list(ctx, match)
}

// readSelected resolves resource and reads the objects of it that names
// or selector pick, in namespace unless the type is cluster-scoped. The
// selection comes back too: it tells which names are missing.
func (r *kubeReader) readSelected(ctx context.Context, resource, namespace string, names []string, selector string) ([]*unstructured.Unstructured, kubeSelect, error) {
	res, err := r.cluster.resolve(resource)
	if err != nil {
		return nil, kubeSelect{}, err
	}
	sel := kubeSelect{names: names, selector: parseSelector(selector)}
	if res.namespaced {
		sel.namespace = namespace
	}
	objs, err := r.read(ctx, res, sel.namespace, sel.match)
	return objs, sel, err
}

// kubeSelect is how a spec picks objects: by names, by label selector, or
// all of them (neither).
type kubeSelect struct {
	namespace string // "" for cluster-scoped types
	names     []string
	selector  labels.Selector // nil: everything
}

// match reports whether obj is one of the selected objects.
func (k kubeSelect) match(obj *unstructured.Unstructured) bool {
	if k.namespace != "" && obj.GetNamespace() != k.namespace {
		return false
	}
	if len(k.names) > 0 && !slices.Contains(k.names, obj.GetName()) {
		return false
	}
	return k.selector == nil || k.selector.Matches(labels.Set(obj.GetLabels()))
}

// missing returns the names asked for that objs lack, in the asked order.
func (k kubeSelect) missing(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, n := range k.names {
		if !slices.ContainsFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetName() == n }) {
			out = append(out, n)
		}
	}
	return out
}

// validateSelect checks the fields every Kubernetes spec shares.
func validateSelect(names []string, selector string) []error {
	var errs []error
	if len(names) > 0 && selector != "" {
		errs = append(errs, fieldErr("selector", "names and selector exclude each other"))
	}
	for i, n := range names {
		if n == "" {
			errs = append(errs, fieldErr(fmt.Sprintf("names[%d]", i), "empty name"))
		}
		if j := slices.Index(names, n); j < i {
			errs = append(errs, fieldErr(fmt.Sprintf("names[%d]", i), "%q repeats names[%d]", n, j))
		}
	}
	if selector != "" {
		if _, err := labels.Parse(selector); err != nil {
			errs = append(errs, fieldErr("selector", "%v", err))
		}
	}
	return errs
}

// parseSelector parses a validated selector ("" selects everything).
func parseSelector(s string) labels.Selector {
	if s == "" {
		return nil
	}
	sel, err := labels.Parse(s)
	if err != nil {
		return labels.Nothing()
	}
	return sel
}

// kubeCluster resolves a spec's context through env.
func kubeCluster(env Env, contextName string) (*Cluster, error) {
	if env.Kube == nil {
		return nil, errors.New("no Kubernetes access configured (kubeconfig)")
	}
	// The resolver's error names the context it looked for (a step's
	// cluster: may have named it where the probe names none).
	return env.Kube(contextName)
}

// buildOutcomes compiles a spec's rules, or the kind's defaults.
func buildOutcomes(specs, defaults []OutcomeSpec, values []string) (Outcomes, error) {
	if len(specs) == 0 {
		specs = defaults
	}
	return CompileOutcomes(specs, values)
}

// fromUnstructured converts an informer object into a typed one.
func fromUnstructured[T any](u *unstructured.Unstructured) (*T, error) {
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		return nil, fmt.Errorf("%s %s: %w", u.GetKind(), objKey(u), err)
	}
	return out, nil
}

// objKey is "namespace/name", or "name" for cluster-scoped objects.
func objKey(u metav1.Object) string {
	if ns := u.GetNamespace(); ns != "" {
		return ns + "/" + u.GetName()
	}
	return u.GetName()
}

// plural picks the singular or plural form of a noun for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
