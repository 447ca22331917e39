package actions

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/cockpit-dev/cockpit/internal/realcluster"
	"github.com/cockpit-dev/cockpit/probes"
)

// dnsPolicies are the seed's default deny and a DNS egress rule whose peer
// is kube-system selected by labels (UDP and TCP 53).
func dnsPolicies(ns string, kubeSystem map[string]string) []*networkingv1.NetworkPolicy {
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	return []*networkingv1.NetworkPolicy{
		{
			ObjectMeta: metav1.ObjectMeta{Name: "default-deny", Namespace: ns},
			Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: "allow-dns-egress", Namespace: ns},
			Spec: networkingv1.NetworkPolicySpec{
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{{
					To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: kubeSystem}}},
					Ports: []networkingv1.NetworkPolicyPort{
						{Protocol: &udp, Port: ptr.To(intstr.FromInt32(53))},
						{Protocol: &tcp, Port: ptr.To(intstr.FromInt32(53))},
					},
				}},
			},
		},
	}
}

// rigCheckPod sets up a namespace on the rig that enforces the restricted
// Pod Security Standard, and watches its pods: at the end of the test none
// may have been Ready, and none may be left.
func rigCheckPod(t *testing.T) (*realcluster.Cluster, string, Env) {
	t.Helper()
	c := realcluster.Start(t)
	ns := c.Namespace(t)
	ctx := context.Background()
	n, err := c.Typed.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
	if _, err := c.Typed.CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := c.Typed.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ready []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
					mu.Lock()
					ready = append(ready, p.Name)
					mu.Unlock()
				}
			}
		}
	}()
	t.Cleanup(func() {
		// The check pods were deleted with a grace period: wait for them
		// to be gone.
		var left []string
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
			pods, err := c.Typed.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			left = left[:0]
			for _, p := range pods.Items {
				left = append(left, p.Name)
			}
			return len(left) == 0, nil
		})
		w.Stop()
		<-done
		if err != nil {
			t.Errorf("check pods left in %s: %v (%v)", ns, left, err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(ready) > 0 {
			t.Errorf("check pods became Ready: %v", ready)
		}
	})
	cl, err := probes.NewClusterForConfig("realcluster", c.Config, ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return c, ns, Env{Kube: func(string) (*probes.Cluster, error) { return cl, nil }}
}

// rigDNSCheck is the seed's DNS test, labelled like the backend.
func rigDNSCheck() *CheckPodSpec {
	return &CheckPodSpec{Image: realcluster.BusyboxImage, Command: []string{"nslookup", "kubernetes.default.svc.cluster.local"},
		Labels: map[string]string{"app": "backend"}}
}

// TestCheckPodDNSUnderPoliciesOnRealCluster: kube-router programs a new
// pod's rules a moment after it starts, so an nslookup in a pod's first
// second can get through a policy that blocks it. The check's verdict is
// the settled result: blocked under the seed's DNS rule (which selects a
// namespace label nobody has), allowed under the fixed one; never "allowed"
// from a first-second race.
func TestCheckPodDNSUnderPoliciesOnRealCluster(t *testing.T) {
	tests := []struct {
		name       string
		kubeSystem map[string]string
		runs       int
		want       probes.Status
	}{
		{name: "seed name=kube-system blocks", kubeSystem: map[string]string{"name": "kube-system"}, runs: 3, want: probes.StatusFail},
		{name: "kubernetes.io/metadata.name=kube-system allows", kubeSystem: map[string]string{"kubernetes.io/metadata.name": "kube-system"}, runs: 1, want: probes.StatusPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ns, env := rigCheckPod(t)
			for _, np := range dnsPolicies(ns, tt.kubeSystem) {
				if _, err := c.Typed.NetworkingV1().NetworkPolicies(ns).Create(context.Background(), np, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			// kube-router programs the policies themselves asynchronously
			// too: the first check runs at once, as a runbook's would.
			for i := range tt.runs {
				res := roBuild(t, env, rigDNSCheck()).Execute(context.Background(), nil)
				t.Logf("run %d: %s: %s\n%s\n%s", i+1, res.Status, res.Summary, res.Message, res.Output)
				if res.Status != tt.want {
					t.Errorf("run %d: %s %q, want %s", i+1, res.Status, res.Summary, tt.want)
				}
				if res.Values["attempts"] < 2 {
					t.Errorf("run %d: %v attempts, want at least 2 (values %v)", i+1, res.Values["attempts"], res.Values)
				}
				if len(res.Objects) != 1 || res.Objects[0].Op != OpDeleted {
					t.Errorf("run %d: objects %+v, want the pod deleted", i+1, res.Objects)
				}
			}
		})
	}
}

// TestCheckPodReportsAFlipOnRealCluster: the policies arrive while the
// check runs — once its first attempt has resolved (read from the pod's
// log), the seed's policies are created; the later attempts are blocked.
// The check fails on the settled result and says when the result changed.
func TestCheckPodReportsAFlipOnRealCluster(t *testing.T) {
	c, ns, env := rigCheckPod(t)
	spec := rigDNSCheck()
	spec.Window = ptr.To(probes.Duration(10 * time.Second))
	var once sync.Once
	var wg sync.WaitGroup
	var first string
	var applyErr error
	res := roBuild(t, env, spec).Execute(context.Background(), func(r Result) {
		if !strings.HasSuffix(r.Summary, " Running") || len(r.Objects) != 1 {
			return
		}
		name := r.Objects[0].Ref[strings.LastIndex(r.Objects[0].Ref, "/")+1:]
		once.Do(func() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := context.Background()
				applyErr = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
					logs, err := c.Typed.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
					if err != nil {
						return false, nil // not readable yet
					}
					for _, l := range strings.Split(string(logs), "\n") {
						if strings.HasPrefix(l, "[cockpit check-pod] attempt 1 ") {
							first = l
							return true, nil
						}
					}
					return false, nil
				})
				for _, np := range dnsPolicies(ns, map[string]string{"name": "kube-system"}) {
					if _, err := c.Typed.NetworkingV1().NetworkPolicies(ns).Create(ctx, np, metav1.CreateOptions{}); err != nil && applyErr == nil {
						applyErr = err
					}
				}
			}()
		})
	})
	wg.Wait()
	t.Logf("%s: %s\n%s\n%s", res.Status, res.Summary, res.Message, res.Output)
	if applyErr != nil {
		t.Fatalf("waiting for the first attempt, then applying the policies: %v", applyErr)
	}
	if !strings.HasSuffix(first, ": exit 0") {
		t.Fatalf("the first attempt, before any policy, did not resolve: %q", first)
	}
	if res.Status != probes.StatusFail || res.Values["exit_code"] == 0 {
		t.Errorf("= %s %q (values %v), want a failure on the settled, blocked result", res.Status, res.Summary, res.Values)
	}
	if res.Values["result_changes"] < 1 || !strings.Contains(res.Summary, "earlier attempts differed (exit 0 ") ||
		!strings.Contains(res.Message, "the result changed during the window: exit 0 ") {
		t.Errorf("summary %q, message %q: want the change from exit 0 reported", res.Summary, res.Message)
	}
}
