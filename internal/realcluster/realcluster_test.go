package realcluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/utils/ptr"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestVersionsMatchGoMod keeps the constants (and so the cache key) in step
// with the tools modules build.sh builds from.
func TestVersionsMatchGoMod(t *testing.T) {
	for _, tt := range []struct{ mod, module, want string }{
		{".", "k8s.io/kubernetes", KubernetesVersion},
		{"containerd", "github.com/containerd/containerd/v2", ContainerdVersion},
		{"coredns", "github.com/coredns/coredns", CoreDNSVersion},
		{"kube-router", "github.com/cloudnativelabs/kube-router/v2", KubeRouterVersion},
		{"sealed-secrets", "github.com/bitnami/sealed-secrets", SealedSecretsVersion},
		{"cert-manager", "github.com/cert-manager/cert-manager", CertManagerVersion},
	} {
		path := filepath.Join("..", "..", "hack", "realcluster", tt.mod, "go.mod")
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(tt.module) + `\s+(\S+)`)
		m := re.FindSubmatch(raw)
		if m == nil {
			t.Errorf("%s: no requirement of %s", path, tt.module)
			continue
		}
		if got := string(m[1]); got != tt.want {
			t.Errorf("%s: %s %s, but the package says %s", path, tt.module, got, tt.want)
		}
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "hack", "envtest", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "go.etcd.io/etcd/server/v3 "+EtcdVersion) {
		t.Errorf("hack/envtest/go.mod does not pin etcd %s (the rig copies the envtest build's etcd)", EtcdVersion)
	}
	script, err := os.ReadFile(filepath.Join("..", "..", "hack", "realcluster", "build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("\nrecipe=%d\n", recipe); !strings.Contains(string(script), want) {
		t.Errorf("build.sh does not set %q: the cache keys differ", strings.TrimSpace(want))
	}
}

func TestNodeReady(t *testing.T) {
	c := Start(t)
	n, err := c.Typed.CoreV1().Nodes().Get(t.Context(), NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get node: %v", err)
	}
	ready := false
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			ready = cond.Status == corev1.ConditionTrue
			if !ready {
				t.Errorf("node Ready=%s: %s: %s", cond.Status, cond.Reason, cond.Message)
			}
		}
	}
	if !ready {
		t.Errorf("node %s has no Ready=True condition: %+v", NodeName, n.Status.Conditions)
	}
	// The controller-manager's allocation must be the CNI configuration's subnet.
	if n.Spec.PodCIDR != NodePodCIDR {
		t.Errorf("node podCIDR %q, want %q (the CNI configuration's range)", n.Spec.PodCIDR, NodePodCIDR)
	}
	if v := n.Status.NodeInfo.KubeletVersion; v != KubernetesVersion {
		t.Errorf("kubelet version %q, want %q", v, KubernetesVersion)
	}
	if v := n.Status.NodeInfo.ContainerRuntimeVersion; !strings.Contains(v, strings.TrimPrefix(ContainerdVersion, "v")) {
		t.Errorf("container runtime %q, want containerd %s", v, ContainerdVersion)
	}
}

// gravl creates a Deployment of the gravl app with a readiness probe, and
// a Service in front of it.
func gravl(t *testing.T, c *Cluster, ns string, replicas int32) *appsv1.Deployment {
	t.Helper()
	labels := map[string]string{"app": "gravl"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "gravl", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To(int64(1)),
					Containers: []corev1.Container{{
						Name: "gravl", Image: GravlImage, ImagePullPolicy: corev1.PullNever,
						Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080)}},
							PeriodSeconds: 1,
						},
					}},
				},
			},
		},
	}
	d, err := c.Typed.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "gravl", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	if _, err := c.Typed.CoreV1().Services(ns).Create(t.Context(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create service: %v", err)
	}
	return d
}

// TestGravlRollsOut: the real deployment controller, scheduler and kubelet
// bring two replicas Ready, and the Service answers from the host through
// kube-proxy's rules.
func TestGravlRollsOut(t *testing.T) {
	c := Start(t)
	ns := c.Namespace(t)
	gravl(t, c, ns, 2)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	if err := WaitDeploymentAvailable(ctx, c.Typed, ns, "gravl"); err != nil {
		t.Fatal(err)
	}
	pods, err := c.Typed.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=gravl"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 2 {
		t.Fatalf("%d gravl pods, want 2", len(pods.Items))
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != NodeName || !strings.HasPrefix(p.Status.PodIP, "10.88.0.") {
			t.Errorf("pod %s on node %q with IP %q, want %s and an IP in %s", p.Name, p.Spec.NodeName, p.Status.PodIP, NodeName, NodePodCIDR)
		}
	}
	svc, err := c.Typed.CoreV1().Services(ns).Get(ctx, "gravl", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// kube-proxy programs the new ClusterIP a moment after the rollout;
	// until then the route sends it to the bridge, where nothing answers.
	url := "http://" + svc.Spec.ClusterIP + "/"
	hc := &http.Client{Timeout: time.Second}
	var body string
	if err := waitFor(ctx, "gravl through its ClusterIP", 200*time.Millisecond, func() error {
		resp, err := hc.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		body = string(b)
		if err != nil || resp.StatusCode != http.StatusOK || body != "ok" {
			return fmt.Errorf("%s: %v %q %v", url, resp.Status, body, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// podResult is how a run-to-completion pod ended.
type podResult struct {
	phase corev1.PodPhase
	logs  string
}

// runPod runs a busybox pod with command to completion and returns its
// phase and output.
func runPod(t *testing.T, c *Cluster, ns, name string, labels map[string]string, caps []corev1.Capability, command ...string) podResult {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: ptr.To(int64(1)),
			Containers: []corev1.Container{{
				Name: "c", Image: "busybox:1.37", ImagePullPolicy: corev1.PullIfNotPresent, Command: command,
			}},
		},
	}
	if len(caps) > 0 {
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: caps}}
	}
	if _, err := c.Typed.CoreV1().Pods(ns).Create(t.Context(), p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	phase, err := waitPod(ctx, c, ns, name, func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	})
	if err != nil {
		t.Fatalf("pod %s: %v", name, err)
	}
	logs, err := c.Typed.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatalf("logs of pod %s: %v", name, err)
	}
	return podResult{phase: phase.Status.Phase, logs: string(logs)}
}

// waitPod watches a pod until done returns true; the error carries the
// last status seen.
func waitPod(ctx context.Context, c *Cluster, ns, name string, done func(*corev1.Pod) bool) (*corev1.Pod, error) {
	lw := cache.NewListWatchFromClient(c.Typed.CoreV1().RESTClient(), "pods", ns, fields.OneTermEqualSelector("metadata.name", name))
	var last *corev1.Pod
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, nil, func(ev watch.Event) (bool, error) {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			return false, nil
		}
		last = p
		return done(p), nil
	})
	if err != nil {
		status := "none"
		if last != nil {
			status = fmt.Sprintf("%s %+v", last.Status.Phase, last.Status.ContainerStatuses)
		}
		return nil, fmt.Errorf("waiting (last status: %s): %w", status, err)
	}
	return last, nil
}

// TestBusyboxResolvesThroughCoreDNS: the gravl runbook's check pod
// (busybox:1.37, nslookup) resolves the API server's Service through
// CoreDNS, by its full name and by the short name the runbook uses.
func TestBusyboxResolvesThroughCoreDNS(t *testing.T) {
	c := Start(t)
	ns := c.Namespace(t)
	r := runPod(t, c, ns, "dns", nil, nil, "sh", "-c",
		"cat /etc/resolv.conf && nslookup kubernetes.default.svc.cluster.local")
	if r.phase != corev1.PodSucceeded {
		t.Fatalf("nslookup pod %s, output:\n%s", r.phase, r.logs)
	}
	if !strings.Contains(r.logs, "nameserver "+DNSServiceIP) {
		t.Errorf("the pod's resolv.conf does not name CoreDNS's Service %s:\n%s", DNSServiceIP, r.logs)
	}
	if !strings.Contains(r.logs, "Address: "+APIServiceIP) {
		t.Errorf("kubernetes.default.svc.cluster.local did not resolve to %s; output:\n%s", APIServiceIP, r.logs)
	}
	// Busybox ≥ 1.29's nslookup does not use the search list (bug 11161),
	// which is why the gravl runbook's check pod names the full name:
	// report what this busybox makes of the short one.
	short := runPod(t, c, ns, "dns-short", nil, nil, "nslookup", "kubernetes.default")
	t.Logf("nslookup kubernetes.default: pod %s\n%s", short.phase, short.logs)
}

// TestNetworkPolicy: kube-router enforces a default-deny ingress policy
// while an allow rule lets one client through.
func TestNetworkPolicy(t *testing.T) {
	c := Start(t)
	ns := c.Namespace(t)
	gravl(t, c, ns, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	if err := WaitDeploymentAvailable(ctx, c.Typed, ns, "gravl"); err != nil {
		t.Fatal(err)
	}
	pods, err := c.Typed.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=gravl"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("gravl pods: %v %v", pods, err)
	}
	ip := pods.Items[0].Status.PodIP
	target := ip + ":8080"
	// get fetches the target once with nc (Debian's static busybox wget
	// segfaults), waiting at most a second for it.
	get := fmt.Sprintf(`get() { printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 1 %s 8080 2>&1 | grep -q '200 OK'; }; `, ip)
	// fetchUntil tries up to n times; the pod succeeds on the first answer
	// and fails if none comes.
	fetchUntil := func(n int) string {
		return get + fmt.Sprintf(`i=0; while [ $i -lt %d ]; do if get; then echo REACHED; exit 0; fi; i=$((i+1)); done; echo NOANSWER; exit 1`, n)
	}
	// blockedUntil tries up to n times and succeeds on the first failure.
	blockedUntil := func(n int) string {
		return get + fmt.Sprintf(`i=0; while [ $i -lt %d ]; do if ! get; then echo BLOCKED; exit 0; fi; i=$((i+1)); done; echo STILLOPEN; exit 1`, n)
	}

	// Without a policy everyone gets through: the blocks below are the policy's.
	if r := runPod(t, c, ns, "before", nil, nil, "sh", "-c", fetchUntil(20)); r.phase != corev1.PodSucceeded {
		t.Fatalf("before any policy, an unlabelled client got no answer from %s:\n%s", target, r.logs)
	}
	tcp := corev1.ProtocolTCP
	for _, np := range []*networkingv1.NetworkPolicy{
		{
			ObjectMeta: metav1.ObjectMeta{Name: "default-deny", Namespace: ns},
			Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "gravl-from-clients", Namespace: ns},
			Spec: networkingv1.NetworkPolicySpec{
				PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "gravl"}},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "client"}}}},
					Ports: []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: ptr.To(intstr.FromInt32(8080))}},
				}},
			},
		},
	} {
		if _, err := c.Typed.NetworkingV1().NetworkPolicies(ns).Create(ctx, np, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create policy %s: %v", np.Name, err)
		}
	}
	// kube-router programs the policies asynchronously: wait until an
	// unlabelled client is refused...
	if r := runPod(t, c, ns, "wait-deny", nil, nil, "sh", "-c", blockedUntil(30)); r.phase != corev1.PodSucceeded {
		t.Fatalf("the default-deny policy never blocked an unlabelled client:\n%s", r.logs)
	}
	// ...then the allowed client gets through...
	if r := runPod(t, c, ns, "client-ok", map[string]string{"role": "client"}, nil, "sh", "-c", fetchUntil(20)); r.phase != corev1.PodSucceeded || !strings.Contains(r.logs, "REACHED") {
		t.Fatalf("the client the policy allows got no answer:\n%s", r.logs)
	}
	// ...and another unlabelled client gets nothing, three times in a row.
	r := runPod(t, c, ns, "client-no", nil, nil, "sh", "-c",
		get+`for i in 1 2 3; do if get; then echo LEAKED; exit 0; fi; done; echo BLOCKED; exit 1`)
	if r.phase != corev1.PodFailed || !strings.Contains(r.logs, "BLOCKED") {
		t.Fatalf("an unlabelled client got through the default-deny policy (phase %s):\n%s", r.phase, r.logs)
	}
}

// outside is an address off this machine (TEST-NET-3). Nothing may ever be
// sent to it: pods have no route there, and the guard drops the packets of
// a pod that adds one. (TEST-NET-1's 192.0.2.1 is this machine kind's
// default gateway, so the test does not use it.)
const outside = "203.0.113.1"

// TestGuardDropsTrafficLeavingThePodNetwork: a pod has no default route,
// and a pod that adds a route to an outside address gets nothing: the
// guard drops its packets before routing and its counter rises, while the
// last-hop chain never sees one.
func TestGuardDropsTrafficLeavingThePodNetwork(t *testing.T) {
	c := Start(t)
	ns := c.Namespace(t)
	guard0, egress0, err := GuardDrops()
	if err != nil {
		t.Fatal(err)
	}
	r := runPod(t, c, ns, "escape", nil, []corev1.Capability{"NET_ADMIN"}, "sh", "-c", fmt.Sprintf(`
echo "routes:"; ip route
if ip route | grep -q '^default'; then echo "HAS-DEFAULT-ROUTE"; fi
if printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 %[1]s 80; then echo "REACHED-WITHOUT-ROUTE"; fi
ip route add %[1]s/32 via %[2]s || { echo "ROUTE-ADD-FAILED"; exit 2; }
if printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 3 %[1]s 80; then echo "REACHED"; exit 0; fi
echo "NOTHING"; exit 1`, outside, PodGateway))
	t.Logf("escape pod output:\n%s", r.logs)
	for _, bad := range []string{"HAS-DEFAULT-ROUTE", "REACHED-WITHOUT-ROUTE", "ROUTE-ADD-FAILED", "REACHED\n"} {
		if strings.Contains(r.logs, bad) {
			t.Errorf("escape pod: %s", strings.TrimSpace(bad))
		}
	}
	if r.phase != corev1.PodFailed || !strings.Contains(r.logs, "NOTHING") {
		t.Errorf("escape pod ended %s, want Failed with NOTHING", r.phase)
	}
	guard1, egress1, err := GuardDrops()
	if err != nil {
		t.Fatal(err)
	}
	if guard1 <= guard0 {
		t.Errorf("%s DROP counter %d → %d: the pod's packets to %s were not dropped by the guard", GuardChain, guard0, guard1, outside)
	}
	if egress1 != egress0 || egress1 != 0 {
		t.Errorf("%s DROP counter %d → %d, want 0: something of the rig's ranges tried to leave through another interface", EgressChain, egress0, egress1)
	}
	t.Logf("%s dropped %d packets of the pod's", GuardChain, guard1-guard0)
}

// TestImagePullsStayLocal: every registry is 127.0.0.1:1, so a pull of an
// image the node does not have fails locally.
func TestImagePullsStayLocal(t *testing.T) {
	c := Start(t)
	ns := c.Namespace(t)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pull", Namespace: ns},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To(int64(1)),
			Containers:                    []corev1.Container{{Name: "c", Image: "registry.example/none:1", ImagePullPolicy: corev1.PullAlways}},
		},
	}
	if _, err := c.Typed.CoreV1().Pods(ns).Create(t.Context(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	got, err := waitPod(ctx, c, ns, "pull", func(p *corev1.Pod) bool {
		for _, s := range p.Status.ContainerStatuses {
			if w := s.State.Waiting; w != nil && (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff") {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	msg := got.Status.ContainerStatuses[0].State.Waiting.Message
	if !strings.Contains(msg, "127.0.0.1:1") {
		t.Errorf("the pull did not go to 127.0.0.1:1: %s", msg)
	}
}
