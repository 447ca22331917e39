package controlplane

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/internal/kube"
	"github.com/cockpit-dev/cockpit/internal/toolcache"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// Versions of the control plane binaries. They must match hack/envtest/go.mod
// (a test checks); the cache directory is keyed by them.
const (
	KubernetesVersion = "v1.37.2"
	EtcdVersion       = "v3.7.0"
)

// BuildCommand is what a developer runs to build the binaries.
const BuildCommand = "hack/envtest/build.sh (or: make envtest)"

//go:embed testdata/crds/*.yaml
var crdFiles embed.FS

// ControlPlane is a running kube-apiserver + etcd with admin credentials.
type ControlPlane struct {
	// Config reaches the API server as a cluster admin.
	Config *rest.Config
	// Typed and Dynamic are admin clients for Config.
	Typed   kubernetes.Interface
	Dynamic dynamic.Interface

	env     *envtest.Environment
	certDir string // the API server's certificates, kept across restarts
	mapper  meta.ResettableRESTMapper
	nsSeq   atomic.Int64
}

// sharedPlane is a control plane a test binary starts once, on first use.
type sharedPlane struct {
	started bool
	cp      *ControlPlane
	err     error
}

// shared holds the test binary's control planes: the usual one, and the
// one whose API server admits pods as a cluster's does (started only by
// the tests that need it).
var shared struct {
	mu     sync.Mutex
	plain  sharedPlane
	admits sharedPlane
}

// AssetsDir returns the directory holding kube-apiserver and etcd:
// $KUBEBUILDER_ASSETS when set, else the cache directory build.sh fills.
func AssetsDir() string {
	return toolcache.Dir("KUBEBUILDER_ASSETS", "COCKPIT_ENVTEST_CACHE", "envtest",
		fmt.Sprintf("kube-%s-etcd-%s-r%d-%s-%s", KubernetesVersion, EtcdVersion, recipe, runtime.GOOS, runtime.GOARCH))
}

// recipe is hack/envtest/build.sh's recipe number, part of the cache key.
const recipe = 2

// Required reports whether a missing or broken control plane must fail the
// test run rather than skip it.
func Required() bool { return toolcache.Required("KUBEBUILDER_ASSETS") }

// Main runs the tests of a package and then stops the control plane, if one
// was started. Call it from TestMain.
func Main(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	for _, sp := range []*sharedPlane{&shared.plain, &shared.admits} {
		if sp.cp == nil {
			continue
		}
		if err := sp.cp.env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "controlplane: stop: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
		_ = os.RemoveAll(sp.cp.certDir)
		sp.cp = nil
	}
	return code
}

// Start returns the test binary's control plane, starting it on first use.
// Without binaries it skips the test (or fails it when [Required]).
//
// Like envtest's, its API server runs without the ServiceAccount admission
// plugin: there is no controller-manager to create each namespace's
// "default" ServiceAccount, and every pod would be refused without it.
func Start(t testing.TB) *ControlPlane {
	t.Helper()
	return startShared(t, &shared.plain, false)
}

// StartServiceAccountAdmission returns a second control plane of the test
// binary, started on first use, whose API server runs the ServiceAccount
// admission plugin as a cluster's does: a pod is refused in a namespace
// whose ServiceAccount it runs as (by default "default") does not exist —
// and, with no controller-manager, no namespace has one until the test
// creates it. Only the tests of that refusal need it: it costs another
// kube-apiserver and etcd.
func StartServiceAccountAdmission(t testing.TB) *ControlPlane {
	t.Helper()
	return startShared(t, &shared.admits, true)
}

func startShared(t testing.TB, sp *sharedPlane, serviceAccounts bool) *ControlPlane {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !sp.started {
		sp.started = true
		sp.cp, sp.err = start(serviceAccounts)
	}
	if sp.err != nil {
		if errors.Is(sp.err, errNoBinaries) && !Required() {
			t.Skipf("controlplane: %v\n\tbuild it with %s, or run the whole suite with 'make test'", sp.err, BuildCommand)
		}
		t.Fatalf("controlplane: %v", sp.err)
	}
	return sp.cp
}

var errNoBinaries = errors.New("kube-apiserver/etcd binaries not found")

// start starts a control plane; serviceAccounts enables the ServiceAccount
// admission plugin, which envtest disables.
func start(serviceAccounts bool) (*ControlPlane, error) {
	dir := AssetsDir()
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return nil, fmt.Errorf("%w in %s: %v", errNoBinaries, dir, err)
		}
	}
	crds, err := loadCRDs()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    dir,
		CRDs:                     crds,
		ControlPlaneStartTimeout: 90 * time.Second,
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	// A certificate directory of our own: envtest regenerates the serving
	// certificate in a directory it allocated itself when the API server
	// restarts, which would invalidate every client's CA (RestartAPIServer).
	certDir, err := os.MkdirTemp("", "cockpit-apiserver-")
	if err != nil {
		return nil, fmt.Errorf("API server certificate directory: %w", err)
	}
	env.ControlPlane.GetAPIServer().CertDir = certDir
	if serviceAccounts {
		// The API server's default plugins (ServiceAccount among them),
		// instead of envtest's --disable-admission-plugins=ServiceAccount.
		env.ControlPlane.GetAPIServer().Configure().Disable("disable-admission-plugins")
	}
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		_ = os.RemoveAll(certDir)
		return nil, fmt.Errorf("start kube-apiserver %s + etcd %s from %s: %w", KubernetesVersion, EtcdVersion, dir, err)
	}
	cp, err := newControlPlane(env, cfg)
	if err != nil {
		return nil, err
	}
	cp.certDir = certDir
	return cp, nil
}

// StopAPIServer kills the kube-apiserver process (etcd keeps running), as
// a crash would: clients get connection refused on the same address. (A
// graceful SIGTERM can wait a minute for clients' open requests to drain.)
// Tests that call it must not run in parallel with others using the
// control plane, and must call StartAPIServer before they end.
func (cp *ControlPlane) StopAPIServer() error {
	pid, err := cp.apiServerPID()
	if err != nil {
		return fmt.Errorf("stop kube-apiserver: %w", err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("stop kube-apiserver: kill %d: %w", pid, err)
	}
	// envtest reaps its child and notices it has exited.
	if err := cp.env.ControlPlane.APIServer.Stop(); err != nil {
		return fmt.Errorf("stop kube-apiserver: %w", err)
	}
	return nil
}

// apiServerPID finds the kube-apiserver serving cp.Config.Host among this
// machine's processes: envtest keeps its process to itself.
func (cp *ControlPlane) apiServerPID() (int, error) {
	u, err := url.Parse(cp.Config.Host)
	if err != nil {
		return 0, fmt.Errorf("API server address %q: %w", cp.Config.Host, err)
	}
	port := "--secure-port=" + u.Port()
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("list processes: %w", err)
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue // gone meanwhile, or not ours to read
		}
		args := strings.Split(string(raw), "\x00")
		if len(args) > 0 && filepath.Base(args[0]) == "kube-apiserver" && slices.Contains(args, port) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no kube-apiserver process with %s", port)
}

// StartAPIServer starts the kube-apiserver stopped by StopAPIServer again,
// on the same address with the same certificates and users, and returns
// once it is healthy.
func (cp *ControlPlane) StartAPIServer() error {
	if err := cp.env.ControlPlane.APIServer.Start(); err != nil {
		return fmt.Errorf("start kube-apiserver: %w", err)
	}
	return nil
}

func newControlPlane(env *envtest.Environment, cfg *rest.Config) (*ControlPlane, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 200, 400 // tests are bursty; the default 5 QPS throttles them
	typed, dyn, err := kube.Clients(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	return &ControlPlane{
		Config:  cfg,
		Typed:   typed,
		Dynamic: dyn,
		env:     env,
		mapper:  restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
	}, nil
}

// CRDs returns the CRDs every control plane installs (cert-manager's and
// sealed-secrets', from testdata/crds), for a cluster that is not envtest's.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) { return loadCRDs() }

// loadCRDs decodes the embedded CRD manifests.
func loadCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var crds []*apiextensionsv1.CustomResourceDefinition
	err := fs.WalkDir(crdFiles, "testdata/crds", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := crdFiles.ReadFile(path)
		if err != nil {
			return err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		crds = append(crds, crd)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load CRDs: %w", err)
	}
	return crds, nil
}

// Namespace creates a namespace with a unique name derived from the test's
// and returns its name. Extra labels are added to the namespace (the API
// server adds kubernetes.io/metadata.name itself). There is no namespace
// controller, so namespaces are not deleted; names never collide.
func (cp *ControlPlane) Namespace(t testing.TB, labels ...map[string]string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", kube.DNSLabel(t.Name(), 50), cp.nsSeq.Add(1))
	ns := map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}
	if len(labels) > 0 {
		l := map[string]any{}
		for _, m := range labels {
			for k, v := range m {
				l[k] = v
			}
		}
		ns["metadata"].(map[string]any)["labels"] = l
	}
	cp.Create(t, &unstructured.Unstructured{Object: ns})
	return name
}

// ResourceFor maps an object's kind to its resource and scope through
// discovery (CRDs included).
func (cp *ControlPlane) ResourceFor(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := cp.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		cp.mapper.Reset() // a CRD installed after the cache filled
		m, err = cp.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", gvk, err)
	}
	return m, nil
}

func (cp *ControlPlane) resource(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	m, err := cp.ResourceFor(obj.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns := obj.GetNamespace()
		if ns == "" {
			return nil, fmt.Errorf("%s %q: namespaced, but no namespace set", obj.GetKind(), obj.GetName())
		}
		return cp.Dynamic.Resource(m.Resource).Namespace(ns), nil
	}
	return cp.Dynamic.Resource(m.Resource), nil
}

// Create creates obj (any kind, CRDs included) and returns the stored
// object. A status in obj is dropped by the API server; write it afterwards
// with SetStatus.
func (cp *ControlPlane) Create(t testing.TB, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	ri, err := cp.resource(obj)
	if err != nil {
		t.Fatalf("controlplane: create: %v", err)
	}
	out, err := ri.Create(context.Background(), obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("controlplane: create %s %s: %v", obj.GetKind(), key(obj), err)
	}
	return out
}

// CreateYAML creates every object in a multi-document YAML stream, in order.
// Objects with a top-level status get it written through the status
// subresource after creation, as a controller would have.
func (cp *ControlPlane) CreateYAML(t testing.TB, manifests string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := DecodeYAML(manifests)
	if err != nil {
		t.Fatalf("controlplane: %v", err)
	}
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, obj := range objs {
		status, hasStatus := obj.Object["status"]
		created := cp.Create(t, obj)
		if hasStatus {
			st, ok := status.(map[string]any)
			if !ok {
				t.Fatalf("controlplane: %s %s: status is %T, want a map", obj.GetKind(), key(obj), status)
			}
			var err error
			created, err = cp.SetStatus(context.Background(), created, st)
			if err != nil {
				t.Fatalf("controlplane: %v", err)
			}
		}
		out = append(out, created)
	}
	return out
}

// DecodeYAML splits a multi-document YAML stream into objects.
func DecodeYAML(manifests string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewBufferString(manifests), 4096)
	var objs []*unstructured.Unstructured
	for i := 0; ; i++ {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("manifest document %d: %w", i, err)
		}
		if len(obj.Object) == 0 {
			continue // an empty document between two ---
		}
		objs = append(objs, obj)
	}
}

// SetStatus replaces obj's status through the status subresource, the way a
// controller writes it, retrying on update conflicts with a fresh read. It
// returns the stored object.
func (cp *ControlPlane) SetStatus(ctx context.Context, obj *unstructured.Unstructured, status map[string]any) (*unstructured.Unstructured, error) {
	ri, err := cp.resource(obj)
	if err != nil {
		return nil, fmt.Errorf("set status: %w", err)
	}
	cur := obj
	for range 5 {
		next := cur.DeepCopy()
		next.Object["status"] = status
		out, err := ri.UpdateStatus(ctx, next, metav1.UpdateOptions{})
		if err == nil {
			return out, nil
		}
		if !apierrors.IsConflict(err) {
			return nil, fmt.Errorf("set status of %s %s: %w", obj.GetKind(), key(obj), err)
		}
		if cur, err = ri.Get(ctx, obj.GetName(), metav1.GetOptions{}); err != nil {
			return nil, fmt.Errorf("set status of %s %s: re-read after conflict: %w", obj.GetKind(), key(obj), err)
		}
	}
	return nil, fmt.Errorf("set status of %s %s: still conflicting after 5 tries", obj.GetKind(), key(obj))
}

// UserConfig provisions a user authenticated by client certificate, with the
// given groups and no permissions beyond what RBAC objects the test creates
// grant it, and returns a config that acts as that user.
func (cp *ControlPlane) UserConfig(t testing.TB, name string, groups ...string) *rest.Config {
	t.Helper()
	u, err := cp.env.ControlPlane.AddUser(envtest.User{Name: name, Groups: groups}, cp.Config)
	if err != nil {
		t.Fatalf("controlplane: add user %q: %v", name, err)
	}
	return u.Config()
}

// Kubeconfig writes a kubeconfig file for the admin credentials, with one
// context named contextName, and returns its path.
func (cp *ControlPlane) Kubeconfig(t testing.TB, contextName string) string {
	t.Helper()
	c := cp.Config
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["envtest"] = &clientcmdapi.Cluster{Server: c.Host, CertificateAuthorityData: c.CAData}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: c.CertData, ClientKeyData: c.KeyData, Token: c.BearerToken}
	cfg.Contexts[contextName] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = contextName
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatalf("controlplane: write kubeconfig: %v", err)
	}
	return path
}

func key(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return ns + "/" + obj.GetName()
	}
	return obj.GetName()
}
