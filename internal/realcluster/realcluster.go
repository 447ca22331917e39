package realcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/internal/toolcache"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Versions of the rig's components. They must match hack/realcluster's
// go.mod files (a test checks); the cache directory is keyed by them.
const (
	KubernetesVersion    = "v1.37.2"
	EtcdVersion          = "v3.7.0"
	ContainerdVersion    = "v2.4.2"
	CoreDNSVersion       = "v1.15.0"
	KubeRouterVersion    = "v2.1.0"
	SealedSecretsVersion = "v0.40.0"
	// CertManagerVersion is the cert-manager library module
	// CertManagerController is built from. It is not part of the cache key:
	// build.sh rebuilds a binary of another version in place.
	CertManagerVersion = "v1.21.2"
	// recipe is build.sh's recipe number, part of the cache key.
	recipe = 2
)

// BuildCommand is what a developer runs to build the rig.
const BuildCommand = "hack/realcluster/build.sh (or: make realcluster)"

// The rig's addresses. Nothing of the rig uses any other: loopback, the
// node IP kept on lo, and the pod and Service ranges routed to its bridge.
const (
	NodeName     = "cockpit-node"
	NodeIP       = "10.89.255.1"  // on lo; the API server and the kubelet listen here
	PodCIDR      = "10.88.0.0/16" // the cluster's pod range
	NodePodCIDR  = "10.88.0.0/24" // the node's share of it (the controller-manager's first /24)
	PodGateway   = "10.88.0.1"    // the bridge's address in the pods' subnet
	ServiceCIDR  = "10.96.0.0/16" // the Service range
	APIServiceIP = "10.96.0.1"    // the kubernetes Service
	DNSServiceIP = "10.96.0.10"   // kube-dns (CoreDNS)
	Bridge       = "cockpitrc0"   // the CNI bridge
	APIPort      = 6443           // kube-apiserver on NodeIP
	etcdPort     = 23790          // etcd on 127.0.0.1 (and +1 for peers)
	apiServerURL = "https://" + NodeIP + ":6443"
)

// The rig's images, imported into containerd's k8s.io namespace at start
// (pods must use imagePullPolicy Never or IfNotPresent: every registry is
// 127.0.0.1:1).
const (
	PauseImage         = "registry.k8s.io/pause:3.10.2"
	CoreDNSImage       = "cockpit.local/coredns:" + CoreDNSVersion
	BusyboxImage       = "docker.io/library/busybox:1.37" // Debian's static busybox; "busybox:1.37" in a pod spec
	GravlImage         = "cockpit.local/gravl:v1"         // the reference HTTP target, listening on :8080
	CockpitImage       = "cockpit.local/cockpit:dev"      // the cockpit binary of the checkout build.sh ran in
	SealedSecretsImage = "docker.io/bitnami/sealed-secrets-controller:0.40.0"
)

// GravlAliases are the names examples/gravl/app.yaml gives gravl's images;
// the rig tags GravlImage with each, so the example's manifests run on the
// node as they are (their tags are pinned, so the kubelet pulls only when
// the image is missing: it is not).
var GravlAliases = []string{"ghcr.io/gravl-app/backend:10.9.0", "ghcr.io/gravl-app/frontend:10.9.0"}

// images are the tarballs build.sh writes into images/, imported at start.
var images = []string{"pause.tar", "coredns.tar", "busybox.tar", "gravl.tar", "cockpit.tar", "sealed-secrets-controller.tar"}

// CertManagerController is the binary in BinDir that runs cert-manager's own
// clusterissuers controller, with its SelfSigned and CA issuers, as a host
// process: `cert-manager-controller --kubeconfig FILE
// --cluster-resource-namespace NS` (hack/realcluster/cert-manager). The rig
// does not start it; a test that needs it does, and stops it.
const CertManagerController = "cert-manager-controller"

// binaries are what build.sh writes into bin/ and the rig runs.
var binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet",
	"kube-proxy", "containerd", "containerd-shim-runc-v2", "ctr", "kube-router"}

// Dir returns the directory build.sh fills (bin/, images/):
// $COCKPIT_REALCLUSTER_BIN when set, else the versioned directory under
// $COCKPIT_REALCLUSTER_CACHE or the user cache.
func Dir() string {
	return toolcache.Dir("COCKPIT_REALCLUSTER_BIN", "COCKPIT_REALCLUSTER_CACHE", "realcluster",
		fmt.Sprintf("kube-%s-containerd-%s-coredns-%s-kube-router-%s-sealed-secrets-%s-r%d-%s-%s",
			KubernetesVersion, ContainerdVersion, CoreDNSVersion, KubeRouterVersion, SealedSecretsVersion,
			recipe, runtime.GOOS, runtime.GOARCH))
}

// Required reports whether a rig that cannot start must fail the tests
// rather than skip them (CI=true, COCKPIT_REQUIRE_CONTROLPLANE=1, or
// COCKPIT_REALCLUSTER_BIN set).
func Required() bool { return toolcache.Required("COCKPIT_REALCLUSTER_BIN") }

// StateDir is where a running rig keeps everything (configs, certificates,
// logs, pid files, etcd, containerd, the kubelet): one fixed place, so the
// next start finds a crashed run's leftovers.
func StateDir() string { return filepath.Join(os.TempDir(), "cockpit-realcluster") }

// lockPath is the lock a test binary holds while its rig runs: the ports are
// fixed, so two packages' tests take turns.
func lockPath() string { return filepath.Join(os.TempDir(), "cockpit-realcluster.lock") }

// Cluster is a running single-node cluster.
type Cluster struct {
	// Kubeconfig is a kubeconfig file for the cluster admin.
	Kubeconfig string
	// Config reaches the API server as the cluster admin.
	Config *rest.Config
	// Typed is an admin client for Config.
	Typed kubernetes.Interface
	// NodeIP is the node's address (on lo).
	NodeIP string
	// BinDir holds the rig's binaries, kubeseal among them; ImagesDir its
	// image tarballs.
	BinDir, ImagesDir string
	// StartupTime is how long Start took, from nothing to a Ready node with
	// CoreDNS Ready and kube-router enforcing.
	StartupTime time.Duration
	// Milestones are the start's steps with their time since the guard
	// went in ("node Ready 4.9s", ...).
	Milestones []string

	state    string
	base     *baseline
	lock     *os.File
	mu       sync.Mutex
	procs    []*proc
	nsSeq    atomic.Int64
	stopping atomic.Bool
	left     []string // what Stop found left on the host, before it unlocked
}

var shared struct {
	mu      sync.Mutex
	started bool
	c       *Cluster
	err     error
}

// Start returns the test binary's cluster, starting it on first use (about
// 5–10 s). Without the binaries, or without root, it skips the test with the
// command that builds them — or fails it when [Required].
//
// It starts only when COCKPIT_REALCLUSTER_BIN names the build (`make
// test` and `make test-realcluster` set it): a plain `go test ./...`
// skips, naming the build command.
func Start(t testing.TB) *Cluster {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.started {
		shared.started = true
		if os.Getenv("COCKPIT_REALCLUSTER_BIN") == "" {
			// The rig changes the host's network: it runs when asked for.
			shared.err = fmt.Errorf("%w: COCKPIT_REALCLUSTER_BIN is not set; the rig's tests run under 'make test' and 'make test-realcluster'", errNotRequested)
			if _, err := os.Stat(filepath.Join(Dir(), "bin", "kubelet")); err != nil {
				shared.err = fmt.Errorf("%w: not built in %s", errNotRequested, Dir())
			}
		} else {
			shared.c, shared.err = start(context.Background())
		}
	}
	if shared.err != nil {
		if errors.Is(shared.err, errNotRequested) || errors.Is(shared.err, ErrUnavailable) && !Required() {
			t.Skipf("realcluster: %v\n\tbuild it with %s, or run it with 'make test-realcluster'", shared.err, BuildCommand)
		}
		t.Fatalf("realcluster: %v", shared.err)
	}
	return shared.c
}

// Main runs a package's tests and then stops the cluster, if one was
// started, and checks that nothing of it is left on the host: a failed
// stop or any leftover fails the run. Call it from TestMain.
func Main(m *testing.M) int { return Run(m.Run) }

// Run is [Main] for a package whose TestMain has other harnesses to stop:
// run runs the tests (and stops the others), then Run stops the cluster:
//
//	func TestMain(m *testing.M) {
//		os.Exit(realcluster.Run(func() int { return controlplane.Main(m) }))
//	}
func Run(run func() int) int {
	code := run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.c == nil {
		return code
	}
	c := shared.c
	shared.c = nil
	rss, _ := c.RSS()
	var sum int64
	for _, v := range rss {
		sum += v
	}
	t0 := time.Now()
	err := c.Stop()
	fmt.Fprintf(os.Stderr, "realcluster: start-up %.1fs (%s), RSS of the node at the end %d MiB (%s), teardown %.1fs\n",
		c.StartupTime.Seconds(), strings.Join(c.Milestones, ", "), sum>>10, formatRSS(rss), time.Since(t0).Seconds())
	if err != nil {
		fmt.Fprintf(os.Stderr, "realcluster: stop: %v\n", err)
		code = 1
	}
	if left := c.Leftovers(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "realcluster: left on the host after Stop:\n\t%s\n", strings.Join(left, "\n\t"))
		code = 1
	}
	return code
}

func formatRSS(rss map[string]int64) string {
	names := make([]string, 0, len(rss))
	for n := range rss {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return rss[names[i]] > rss[names[j]] })
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d", n, rss[n]>>10))
	}
	return strings.Join(parts, ", ")
}

// ErrUnavailable means the rig cannot run here: its binaries are not built,
// or the process is not root. Other start errors are failures.
var ErrUnavailable = errors.New("the real-cluster rig is unavailable")

// errNotRequested: the run did not ask for the rig (always a skip, for now).
var errNotRequested = errors.New("the real-cluster rig was not requested")

// Stop stops the cluster and removes everything it put on the host (see
// the package doc). It is safe to call twice.
func (c *Cluster) Stop() error {
	if c.stopping.Swap(true) {
		return nil
	}
	defer func() {
		if c.lock != nil {
			_ = syscall.Flock(int(c.lock.Fd()), syscall.LOCK_UN)
			_ = c.lock.Close()
		}
	}()
	var errs []error
	if err := c.drainPods(); err != nil {
		errs = append(errs, err)
	}
	c.mu.Lock()
	byName := map[string]*proc{}
	for _, p := range c.procs {
		byName[p.name] = p
	}
	c.mu.Unlock()
	for _, n := range stopOrder {
		p := byName[n]
		if p == nil {
			continue
		}
		if n == "containerd" {
			c.killTasks()
		}
		if err := p.stop(10 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := teardown(c.BinDir, c.state, c.base); err != nil {
		errs = append(errs, err)
	}
	// What is left is read while the lock is held: once it is released,
	// another test binary's rig may start and put its own guard in place.
	c.left = leftovers(c.BinDir, c.state, c.base)
	return errors.Join(errs...)
}

// Leftovers lists whatever of the rig is still on the host (processes,
// mounts, the bridge, routes, the node IP, iptables chains and rules,
// ipsets, changed sysctls, created host paths and cgroups, the state dir).
// After Stop it must be empty.
func (c *Cluster) Leftovers() []string {
	if c.stopping.Load() {
		return c.left
	}
	return leftovers(c.BinDir, c.state, c.base)
}

// RSS returns the resident memory of the rig's processes in KiB, by
// component; the pods' shims and containers are summed as "pods".
func (c *Cluster) RSS() (map[string]int64, error) {
	out := map[string]int64{}
	c.mu.Lock()
	known := map[int]string{}
	for _, p := range c.procs {
		known[p.cmd.Process.Pid] = p.name
	}
	c.mu.Unlock()
	for _, pid := range rigPIDs(c.BinDir, c.state) {
		name, ok := known[pid]
		if !ok {
			name = "pods"
		}
		out[name] += rssKiB(pid)
	}
	return out, nil
}
