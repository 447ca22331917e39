package realcluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/cockpit-dev/cockpit/internal/kube"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

//go:embed assets/*
var assets embed.FS

// startTimeout bounds the whole start, from the guard to CoreDNS Ready.
const startTimeout = 3 * time.Minute

// vars fill the asset templates.
type vars struct {
	State, Etc, NodeName, NodeIP, PodCIDR, NodePodCIDR, PodGateway, ServiceCIDR, DNSServiceIP, Bridge string
	PauseImage, CoreDNSImage                                                                          string
}

// start brings a cluster up: lock, a crashed run's clean-up, the network
// guard, then the components. On any failure it tears down what it started.
func start(ctx context.Context) (c *Cluster, err error) {
	dir := Dir()
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved
	}
	bin, imgs := filepath.Join(dir, "bin"), filepath.Join(dir, "images")
	for _, b := range binaries {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return nil, fmt.Errorf("%w: binaries not built in %s: %v", ErrUnavailable, dir, err)
		}
	}
	for _, i := range images {
		if _, err := os.Stat(filepath.Join(imgs, i)); err != nil {
			return nil, fmt.Errorf("%w: images not built in %s: %v", ErrUnavailable, dir, err)
		}
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: it needs root (network namespaces, iptables, mounts); running as uid %d", ErrUnavailable, os.Geteuid())
	}
	for _, tool := range []string{"iptables", "ip6tables", "iptables-restore", "ip", "ipset", "/usr/sbin/runc", "/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%w: %s not found (build.sh installs the Debian packages): %v", ErrUnavailable, tool, err)
		}
	}

	lock, err := os.OpenFile(lockPath(), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		lock.Close()
		return nil, fmt.Errorf("lock %s: %w", lockPath(), err)
	}
	state := StateDir()
	if err := Cleanup(dir); err != nil {
		_ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		lock.Close()
		return nil, fmt.Errorf("clean up a previous run's leftovers: %w", err)
	}
	t0 := time.Now() // after the lock and a crashed run's clean-up
	c = &Cluster{
		Kubeconfig: filepath.Join(state, "kubeconfig"),
		NodeIP:     NodeIP,
		BinDir:     bin,
		ImagesDir:  imgs,
		state:      state,
		lock:       lock,
	}
	defer func() {
		if err != nil {
			if serr := c.Stop(); serr != nil {
				err = fmt.Errorf("%w (and stopping what had started: %v)", err, serr)
			}
			if left := c.Leftovers(); len(left) > 0 {
				err = fmt.Errorf("%w (and left on the host: %s)", err, strings.Join(left, "; "))
			}
			c = nil
		}
	}()
	for _, d := range []string{"logs", "pids", "etc/cni", "etc/certs.d/_default", "containerd", "kubelet", "pod-logs"} {
		if err := os.MkdirAll(filepath.Join(state, d), 0o755); err != nil {
			return c, fmt.Errorf("state dir: %w", err)
		}
	}
	if c.base, err = recordBaseline(state); err != nil {
		return c, err
	}
	// Nothing starts before the guard.
	if err := installGuard(); err != nil {
		return c, err
	}
	if err := run("ip", "addr", "add", NodeIP+"/32", "dev", "lo"); err != nil {
		return c, fmt.Errorf("node IP: %w", err)
	}
	pki, err := writePKI(state)
	if err != nil {
		return c, err
	}
	if err := c.render(); err != nil {
		return c, err
	}
	c.Config = &rest.Config{
		Host:            apiServerURL,
		BearerToken:     pki.token,
		TLSClientConfig: rest.TLSClientConfig{CAData: pki.caPEM},
		QPS:             200,
		Burst:           400,
	}
	if c.Typed, err = kubernetes.NewForConfig(c.Config); err != nil {
		return c, fmt.Errorf("client: %w", err)
	}
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: realcluster, cluster: {server: %q, certificate-authority: %q}}]
users: [{name: admin, user: {token: %q}}]
contexts: [{name: realcluster, context: {cluster: realcluster, user: admin, namespace: default}}]
current-context: realcluster
`, apiServerURL, filepath.Join(state, "ca.crt"), pki.token)
	if err := os.WriteFile(c.Kubeconfig, []byte(kc), 0o600); err != nil {
		return c, fmt.Errorf("kubeconfig: %w", err)
	}

	ctx, cancel := context.WithTimeoutCause(ctx, startTimeout, fmt.Errorf("the cluster did not come up within %v", startTimeout))
	defer cancel()
	// A component that exits while the rig waits ends the wait with its reason.
	ctx, died := context.WithCancelCause(ctx)
	defer died(nil)
	watchExit := func(p *proc) {
		go func() {
			select {
			case <-p.done:
				if !p.stopped.Load() {
					died(p.exitErr())
				}
			case <-ctx.Done():
			}
		}()
	}
	startC := func(name string, args ...string) error {
		p, err := startProc(state, name, filepath.Join(bin, name), args...)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.procs = append(c.procs, p)
		c.mu.Unlock()
		watchExit(p)
		return nil
	}
	cause := func(err error) error {
		if cerr := context.Cause(ctx); cerr != nil {
			return cerr
		}
		return err
	}

	// etcd and containerd first, side by side; containerd's images are
	// imported while the control plane comes up.
	if err := startC("etcd", "--data-dir", filepath.Join(state, "etcd"),
		"--listen-client-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPort),
		"--advertise-client-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPort),
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPort+1),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPort+1),
		"--initial-cluster", fmt.Sprintf("default=http://127.0.0.1:%d", etcdPort+1),
		"--listen-metrics-urls", "", "--unsafe-no-fsync", "--quota-backend-bytes=2147483648"); err != nil {
		return c, err
	}
	if err := startC("containerd", "--config", filepath.Join(state, "etc", "containerd.toml")); err != nil {
		return c, err
	}
	if err := startC("kube-apiserver",
		"--etcd-servers", fmt.Sprintf("http://127.0.0.1:%d", etcdPort),
		"--bind-address", NodeIP, "--advertise-address", NodeIP, fmt.Sprintf("--secure-port=%d", APIPort),
		"--tls-cert-file", filepath.Join(state, "apiserver.crt"), "--tls-private-key-file", filepath.Join(state, "apiserver.key"),
		"--client-ca-file", filepath.Join(state, "ca.crt"),
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", filepath.Join(state, "sa.pub"),
		"--service-account-signing-key-file", filepath.Join(state, "sa.key"),
		"--token-auth-file", filepath.Join(state, "tokens.csv"),
		"--authorization-mode", "Node,RBAC",
		"--service-cluster-ip-range", ServiceCIDR,
		"--kubelet-preferred-address-types", "InternalIP"); err != nil {
		return c, err
	}
	var importErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := waitFor(ctx, "containerd", 100*time.Millisecond, func() error {
			return run(filepath.Join(bin, "ctr"), "--address", c.sock(), "version")
		}); err != nil {
			importErr = cause(err)
			return
		}
		for _, i := range images {
			if err := c.ImportImage(filepath.Join(imgs, i)); err != nil {
				importErr = err
				return
			}
		}
		for _, alias := range GravlAliases {
			if err := run(filepath.Join(bin, "ctr"), "--address", c.sock(), "-n", "k8s.io", "images", "tag", "--force", GravlImage, alias); err != nil {
				importErr = fmt.Errorf("tag %s as %s: %w", GravlImage, alias, err)
				return
			}
		}
	}()
	httpc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // loopback health endpoints with self-signed certificates
	}}
	if err := waitFor(ctx, "kube-apiserver /readyz", 100*time.Millisecond, func() error {
		_, err := c.Typed.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	}); err != nil {
		wg.Wait()
		return c, cause(err)
	}
	mark := func(what string) {
		c.Milestones = append(c.Milestones, fmt.Sprintf("%s %.1fs", what, time.Since(t0).Seconds()))
	}
	mark("API server ready")
	kubeconfig := "--kubeconfig=" + c.Kubeconfig
	if err := startC("kube-controller-manager", kubeconfig, "--leader-elect=false",
		"--bind-address=127.0.0.1", "--secure-port=10257",
		"--service-account-private-key-file="+filepath.Join(state, "sa.key"),
		"--root-ca-file="+filepath.Join(state, "ca.crt"),
		"--allocate-node-cidrs", "--cluster-cidr="+PodCIDR, "--node-cidr-mask-size=24",
		// A node whose kubelet stopped is NotReady (Unknown) 20 s after its
		// last lease renewal (every 5 s: nodeLeaseDurationSeconds 20), not 50.
		"--node-monitor-grace-period=20s",
		"--service-cluster-ip-range="+ServiceCIDR,
		"--authentication-kubeconfig="+c.Kubeconfig, "--authorization-kubeconfig="+c.Kubeconfig); err != nil {
		wg.Wait()
		return c, err
	}
	if err := startC("kube-scheduler", kubeconfig, "--leader-elect=false",
		"--bind-address=127.0.0.1", "--secure-port=10259",
		"--authentication-kubeconfig="+c.Kubeconfig, "--authorization-kubeconfig="+c.Kubeconfig); err != nil {
		wg.Wait()
		return c, err
	}
	wg.Wait()
	if importErr != nil {
		return c, importErr
	}
	mark("images imported")
	if err := startC("kubelet", "--config="+filepath.Join(state, "etc", "kubelet.yaml"), kubeconfig,
		"--hostname-override="+NodeName, "--node-ip="+NodeIP,
		"--root-dir="+filepath.Join(state, "kubelet"), "--cert-dir="+filepath.Join(state, "kubelet", "pki")); err != nil {
		return c, err
	}
	if err := startC("kube-proxy", "--config="+filepath.Join(state, "etc", "kube-proxy.yaml")); err != nil {
		return c, err
	}
	if err := c.applyCoreDNS(ctx); err != nil {
		return c, cause(err)
	}
	for _, h := range []struct{ name, url string }{
		{"kube-controller-manager", "https://127.0.0.1:10257/healthz"},
		{"kube-scheduler", "https://127.0.0.1:10259/healthz"},
		{"kube-proxy", "http://127.0.0.1:10256/healthz"},
	} {
		if err := waitFor(ctx, h.name+" health", 100*time.Millisecond, func() error { return httpOK(ctx, httpc, h.url) }); err != nil {
			return c, cause(err)
		}
	}
	if err := c.waitNodeReady(ctx); err != nil {
		return c, cause(err)
	}
	mark("node Ready")
	// kube-router (NetworkPolicy enforcement only: no routing, no proxy, no
	// CNI) looks its node up once, at start: after the kubelet registered it.
	if err := startC("kube-router", kubeconfig, "--hostname-override="+NodeName,
		"--run-firewall=true", "--run-router=false", "--run-service-proxy=false", "--run-loadbalancer=false",
		"--enable-cni=false", "--enable-ipv6=false", "--health-port=0", "--metrics-port=0"); err != nil {
		return c, err
	}
	if err := c.waitDeploymentAvailable(ctx, "kube-system", "coredns"); err != nil {
		return c, cause(err)
	}
	mark("CoreDNS Ready")
	// kube-router has no health endpoint here (it would listen on every
	// address); its filter chain is its sign of life.
	if err := waitFor(ctx, "kube-router's KUBE-ROUTER-INPUT chain", 100*time.Millisecond, func() error {
		return run("iptables", "-w", "-t", "filter", "-S", "KUBE-ROUTER-INPUT")
	}); err != nil {
		return c, cause(err)
	}
	mark("kube-router enforcing")
	c.StartupTime = time.Since(t0)
	return c, nil
}

// Cleanup removes a previous run's leftovers from the host: processes in
// its pid files and any other process of the rig's binaries or pods, its
// mounts, network state, sysctls and paths, and its state dir. Start calls
// it; it is exported for a developer whose test binary was killed. dir is
// the build directory ([Dir]).
func Cleanup(dir string) error {
	state := StateDir()
	bin := filepath.Join(dir, "bin")
	_, serr := os.Stat(state)
	if errors.Is(serr, os.ErrNotExist) && len(leftovers(bin, state, nil)) == 0 {
		return nil
	}
	b, err := readBaseline(state)
	if err != nil {
		b = nil // no baseline: sysctls and host paths cannot be judged
	}
	notes, err := teardown(bin, state, b)
	if len(notes) > 0 {
		fmt.Fprintf(os.Stderr, "realcluster: cleaned up a previous run: %s\n", strings.Join(notes, "; "))
	}
	if err != nil {
		return err
	}
	if left := leftovers(bin, state, b); len(left) > 0 {
		return fmt.Errorf("still on the host after clean-up: %s", strings.Join(left, "; "))
	}
	return nil
}

// render writes the configuration files into the state dir's etc/.
func (c *Cluster) render() error {
	v := vars{
		State: c.state, Etc: filepath.Join(c.state, "etc"), NodeName: NodeName, NodeIP: NodeIP,
		PodCIDR: PodCIDR, NodePodCIDR: NodePodCIDR, PodGateway: PodGateway, ServiceCIDR: ServiceCIDR,
		DNSServiceIP: DNSServiceIP, Bridge: Bridge, PauseImage: PauseImage, CoreDNSImage: CoreDNSImage,
	}
	files := map[string]string{
		"containerd.toml": "etc/containerd.toml",
		"hosts.toml":      "etc/certs.d/_default/hosts.toml",
		"cni.conflist":    "etc/cni/10-cockpit-realcluster.conflist",
		"kubelet.yaml":    "etc/kubelet.yaml",
		"kube-proxy.yaml": "etc/kube-proxy.yaml",
		"Corefile":        "etc/Corefile",
		"coredns.yaml":    "etc/coredns.yaml",
	}
	for src, dst := range files {
		b, err := c.renderAsset(src, v)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(c.state, dst), b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", dst, err)
		}
	}
	// An empty resolv.conf: pods never get the host's resolver.
	if err := os.WriteFile(filepath.Join(c.state, "etc", "resolv.conf"), nil, 0o644); err != nil {
		return fmt.Errorf("write resolv.conf: %w", err)
	}
	return nil
}

func (c *Cluster) renderAsset(name string, v vars) ([]byte, error) {
	raw, err := assets.ReadFile("assets/" + name)
	if err != nil {
		return nil, fmt.Errorf("asset %s: %w", name, err)
	}
	tmpl, err := template.New(name).Option("missingkey=error").Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("asset %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, v); err != nil {
		return nil, fmt.Errorf("asset %s: %w", name, err)
	}
	return b.Bytes(), nil
}

func (c *Cluster) sock() string { return filepath.Join(c.state, "containerd", "containerd.sock") }

// ImportImage imports an image tarball (docker-archive, as build.sh's
// mkimage writes) into the node's containerd, where pods find it by the
// name it was built with.
func (c *Cluster) ImportImage(tarball string) error {
	if err := run(filepath.Join(c.BinDir, "ctr"), "--address", c.sock(), "-n", "k8s.io", "images", "import",
		"--snapshotter", "overlayfs", tarball); err != nil {
		return fmt.Errorf("import image %s: %w", filepath.Base(tarball), err)
	}
	return nil
}

// applyCoreDNS creates CoreDNS's ConfigMap and its objects (a Deployment of
// the local image, the kube-dns Service at DNSServiceIP).
func (c *Cluster) applyCoreDNS(ctx context.Context) error {
	corefile, err := os.ReadFile(filepath.Join(c.state, "etc", "Corefile"))
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: "kube-system"},
		Data: map[string]string{"Corefile": string(corefile)}}
	if _, err := c.Typed.CoreV1().ConfigMaps("kube-system").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("CoreDNS ConfigMap: %w", err)
	}
	manifests, err := os.ReadFile(filepath.Join(c.state, "etc", "coredns.yaml"))
	if err != nil {
		return err
	}
	objs, err := decode(manifests)
	if err != nil {
		return fmt.Errorf("CoreDNS manifests: %w", err)
	}
	for _, o := range objs {
		if err := c.create(ctx, o); err != nil {
			return fmt.Errorf("CoreDNS: %w", err)
		}
	}
	return nil
}

// decode splits a multi-document YAML stream into typed objects.
func decode(manifests []byte) ([]runtime.Object, error) {
	var out []runtime.Object
	for _, doc := range bytes.Split(manifests, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		js, err := yaml.ToJSON(doc)
		if err != nil {
			return nil, err
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(js, nil, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}

// create creates one of the few kinds the rig's manifests hold.
func (c *Cluster) create(ctx context.Context, o runtime.Object) error {
	var err error
	opts := metav1.CreateOptions{}
	switch o := o.(type) {
	case *corev1.ServiceAccount:
		_, err = c.Typed.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, opts)
	case *corev1.Service:
		_, err = c.Typed.CoreV1().Services(o.Namespace).Create(ctx, o, opts)
	case *appsv1.Deployment:
		_, err = c.Typed.AppsV1().Deployments(o.Namespace).Create(ctx, o, opts)
	case *rbacv1.ClusterRole:
		_, err = c.Typed.RbacV1().ClusterRoles().Create(ctx, o, opts)
	case *rbacv1.ClusterRoleBinding:
		_, err = c.Typed.RbacV1().ClusterRoleBindings().Create(ctx, o, opts)
	default:
		return fmt.Errorf("create: unexpected kind %T", o)
	}
	return err
}

// waitFor calls check every interval until it returns nil or ctx ends; the
// error then carries check's last error.
func waitFor(ctx context.Context, what string, interval time.Duration, check func() error) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var last error
	for {
		if last = check(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last error: %v)", what, context.Cause(ctx), last)
		case <-tick.C:
		}
	}
}

func httpOK(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// waitNodeReady watches the node until its Ready condition is True.
func (c *Cluster) waitNodeReady(ctx context.Context) error {
	lw := cache.NewListWatchFromClient(c.Typed.CoreV1().RESTClient(), "nodes", "", fields.OneTermEqualSelector("metadata.name", NodeName))
	var last string
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Node{}, nil, func(ev watch.Event) (bool, error) {
		n, ok := ev.Object.(*corev1.Node)
		if !ok {
			return false, nil
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				last = fmt.Sprintf("Ready=%s %s: %s", cond.Status, cond.Reason, cond.Message)
				return cond.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for node %s Ready (last: %s): %w", NodeName, last, err)
	}
	return nil
}

// waitDeploymentAvailable watches a Deployment until its current
// generation is observed with all replicas updated and available.
func (c *Cluster) waitDeploymentAvailable(ctx context.Context, ns, name string) error {
	return WaitDeploymentAvailable(ctx, c.Typed, ns, name)
}

// WaitDeploymentAvailable watches a Deployment until the deployment
// controller has observed its current generation and all its replicas are
// updated and available (what `kubectl rollout status` waits for). The
// error carries the last status seen.
func WaitDeploymentAvailable(ctx context.Context, cs kubernetes.Interface, ns, name string) error {
	lw := cache.NewListWatchFromClient(cs.AppsV1().RESTClient(), "deployments", ns, fields.OneTermEqualSelector("metadata.name", name))
	var last string
	_, err := watchtools.UntilWithSync(ctx, lw, &appsv1.Deployment{}, nil, func(ev watch.Event) (bool, error) {
		d, ok := ev.Object.(*appsv1.Deployment)
		if !ok {
			return false, nil
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		last = fmt.Sprintf("generation %d observed %d, replicas %d updated %d available %d, conditions %v",
			d.Generation, d.Status.ObservedGeneration, d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.AvailableReplicas, conditions(d))
		return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want &&
			d.Status.AvailableReplicas == want && d.Status.Replicas == want, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for deployment %s/%s (last: %s): %w", ns, name, last, err)
	}
	return nil
}

func conditions(d *appsv1.Deployment) string {
	var parts []string
	for _, c := range d.Status.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s(%s: %s)", c.Type, c.Status, c.Reason, c.Message))
	}
	return strings.Join(parts, " ")
}

// drainPods deletes every workload and pod through the API server and
// waits until the kubelet has stopped them all, so CNI releases their
// addresses and the kubelet tears their sandboxes down.
func (c *Cluster) drainPods() error {
	if c.Typed == nil || !c.running("kubelet") || !c.running("kube-apiserver") {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	nss, err := c.Typed.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("drain: list namespaces: %w", err)
	}
	grace := int64(1)
	background := metav1.DeletePropagationBackground
	del := metav1.DeleteOptions{GracePeriodSeconds: &grace, PropagationPolicy: &background}
	var errs []error
	for _, ns := range nss.Items {
		n := ns.Name
		for _, f := range []func() error{
			func() error { return c.Typed.AppsV1().Deployments(n).DeleteCollection(ctx, del, metav1.ListOptions{}) },
			func() error { return c.Typed.AppsV1().ReplicaSets(n).DeleteCollection(ctx, del, metav1.ListOptions{}) },
			func() error { return c.Typed.AppsV1().DaemonSets(n).DeleteCollection(ctx, del, metav1.ListOptions{}) },
			func() error { return c.Typed.AppsV1().StatefulSets(n).DeleteCollection(ctx, del, metav1.ListOptions{}) },
			func() error { return c.Typed.BatchV1().Jobs(n).DeleteCollection(ctx, del, metav1.ListOptions{}) },
			func() error { return c.Typed.CoreV1().Pods(n).DeleteCollection(ctx, del, metav1.ListOptions{}) },
		} {
			if err := f(); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("drain %s: %w", n, err))
			}
		}
	}
	// Watch until no pod is left: the precondition takes the pods the
	// informer listed, the events then add and remove.
	lw := cache.NewListWatchFromClient(c.Typed.CoreV1().RESTClient(), "pods", "", fields.Everything())
	left := map[string]bool{}
	_, err = watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, func(store cache.Store) (bool, error) {
		for _, k := range store.ListKeys() {
			left[k] = true
		}
		return len(left) == 0, nil
	}, func(ev watch.Event) (bool, error) {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			return false, nil
		}
		k := p.Namespace + "/" + p.Name
		if ev.Type == watch.Deleted {
			delete(left, k)
		} else {
			left[k] = true
		}
		return len(left) == 0, nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("drain: pods still there: %v: %w", sortedSet(left), err))
	}
	return errors.Join(errs...)
}

func (c *Cluster) running(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		if p.name == name {
			select {
			case <-p.done:
				return false
			default:
				return true
			}
		}
	}
	return false
}

// killTasks kills and deletes whatever tasks the kubelet left in containerd
// before containerd stops, so their shims exit.
func (c *Cluster) killTasks() {
	if !c.running("containerd") {
		return
	}
	ctr := filepath.Join(c.BinDir, "ctr")
	out, err := output(ctr, "--address", c.sock(), "-n", "k8s.io", "tasks", "ls", "-q")
	if err != nil {
		return
	}
	for _, id := range strings.Fields(out) {
		_ = run(ctr, "--address", c.sock(), "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", id)
		_ = run(ctr, "--address", c.sock(), "-n", "k8s.io", "tasks", "delete", "-f", id)
	}
}

// Namespace creates a namespace with a unique name derived from the test's,
// waits for its default ServiceAccount (pods need it), and deletes the
// namespace when the test ends.
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", kube.DNSLabel(t.Name(), 50), c.nsSeq.Add(1))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.Typed.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("realcluster: create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = c.Typed.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	// The ServiceAccount admission plugin refuses pods until the
	// controller-manager has created the namespace's "default" account.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lw := cache.NewListWatchFromClient(c.Typed.CoreV1().RESTClient(), "serviceaccounts", name, fields.OneTermEqualSelector("metadata.name", "default"))
	if _, err := watchtools.UntilWithSync(ctx, lw, &corev1.ServiceAccount{}, nil, func(ev watch.Event) (bool, error) {
		return ev.Type != watch.Deleted, nil
	}); err != nil {
		t.Fatalf("realcluster: namespace %s: waiting for its default ServiceAccount: %v", name, err)
	}
	return name
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
