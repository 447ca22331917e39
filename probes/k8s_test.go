package probes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
	"github.com/cockpit-dev/cockpit/internal/realcluster"
)

// TestMain stops the harnesses the tests started: the envtest control
// plane, then the real cluster (k8s_dnsegress_realcluster_test.go).
func TestMain(m *testing.M) {
	os.Exit(realcluster.Run(func() int { return controlplane.Main(m) }))
}

// kubeEnv returns an Env whose every context is one Cluster for cfg,
// closed when the test ends.
func kubeEnv(t *testing.T, cfg *rest.Config, namespace string) (Env, *Cluster) {
	t.Helper()
	c, err := NewClusterForConfig("envtest", cfg, namespace)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return Env{Kube: func(string) (*Cluster, error) { return c, nil }}, c
}

// build validates and builds a spec.
func build(t *testing.T, env Env, spec Spec) (Probe, Outcomes) {
	t.Helper()
	if err := spec.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	p, rules, err := spec.Build(env)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return p, rules
}

// observe runs p once within a deadline.
func observe(t *testing.T, p Probe, rules Outcomes) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return Run(ctx, p, rules, time.Now)
}

// waitResult observes p, then again on every change notification, until
// want accepts the result or the deadline passes. It never polls: between
// observations it waits on the probe's Changes channel.
func waitResult(t *testing.T, p Probe, rules Outcomes, within time.Duration, what string, want func(Result) bool) Result {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	changes := p.(Changer).Changes()
	for {
		res := observe(t, p, rules)
		if want(res) {
			return res
		}
		select {
		case <-changes:
		case <-deadline.C:
			t.Fatalf("%s: not within %s; last result %s %q (%s), items %+v", what, within, res.Status, res.Summary, res.Message, res.Items)
		}
	}
}

func statusIs(st Status) func(Result) bool { return func(r Result) bool { return r.Status == st } }

// deploymentYAML is a Deployment with a status, as the controller would
// have written it.
func deploymentYAML(ns, name string, replicas int, labels, status string) string {
	return fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[2]s, namespace: %[1]s, labels: {%[4]s}}
spec:
  replicas: %[3]d
  selector: {matchLabels: {%[4]s}}
  template:
    metadata: {labels: {%[4]s}}
    spec: {containers: [{name: main, image: "registry.example/%[2]s:1"}]}
status: %[5]s
---`, ns, name, replicas, labels, status)
}

// rolledOut is the status of a fully rolled out Deployment of n replicas.
func rolledOut(n int) string {
	return fmt.Sprintf(`{observedGeneration: 1, replicas: %[1]d, updatedReplicas: %[1]d, readyReplicas: %[1]d, availableReplicas: %[1]d,
  conditions: [{type: Available, status: "True", reason: MinimumReplicasAvailable},
               {type: Progressing, status: "True", reason: NewReplicaSetAvailable}]}`, n)
}

var gvrDeployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

// A rollout through its phases, each seen through the informer's change
// notification: progressing (pending), ProgressDeadlineExceeded (fail),
// complete (pass).
func TestK8sWorkloadRollout(t *testing.T) {
	cp := controlplane.Start(t)
	ns := cp.Namespace(t)
	objs := cp.CreateYAML(t, deploymentYAML(ns, "backend", 3, "app: backend",
		`{observedGeneration: 1, replicas: 3, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2,
		  conditions: [{type: Progressing, status: "True", reason: ReplicaSetUpdated}]}`))
	env, _ := kubeEnv(t, cp.Config, ns)
	p, rules := build(t, env, &WorkloadSpec{Names: []string{"backend"}})

	res := observe(t, p, rules)
	if res.Status != StatusPending || !strings.Contains(res.Summary, "0/1 ready (2/3 replicas), 1 rolling out") {
		t.Fatalf("rolling out = %s %q (%s)", res.Status, res.Summary, res.Message)
	}
	if it := res.Items[0]; it.Name != "deployment/backend" || it.Status != StatusPending || !strings.Contains(it.Message, "2 out of 3 new replicas have been updated") {
		t.Errorf("item = %+v", it)
	}

	ctx := context.Background()
	if _, err := cp.SetStatus(ctx, objs[0], map[string]any{
		"observedGeneration": int64(1), "replicas": int64(3), "updatedReplicas": int64(2), "readyReplicas": int64(2), "availableReplicas": int64(2),
		"conditions": []any{map[string]any{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
			"message": `ReplicaSet "backend-7d9f" has timed out progressing.`}},
	}); err != nil {
		t.Fatal(err)
	}
	res = waitResult(t, p, rules, 30*time.Second, "ProgressDeadlineExceeded fails", statusIs(StatusFail))
	if res.Values["failing"] != 1 || !strings.Contains(res.Items[0].Message, "exceeded its progress deadline") || res.Items[0].Reason != "ProgressDeadlineExceeded" {
		t.Errorf("deadline exceeded = %q %+v %v", res.Message, res.Items, res.Values)
	}

	cur, err := cp.Dynamic.Resource(gvrDeployments).Namespace(ns).Get(ctx, "backend", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cp.SetStatus(ctx, cur, map[string]any{
		"observedGeneration": int64(1), "replicas": int64(3), "updatedReplicas": int64(3), "readyReplicas": int64(3), "availableReplicas": int64(3),
		"conditions": []any{map[string]any{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}},
	}); err != nil {
		t.Fatal(err)
	}
	res = waitResult(t, p, rules, 30*time.Second, "rolled out passes", statusIs(StatusPass))
	if res.Summary != "1/1 ready (3/3 replicas)" {
		t.Errorf("summary = %q", res.Summary)
	}

	// A spec change the controller has not observed yet: pending again.
	cur, err = cp.Dynamic.Resource(gvrDeployments).Namespace(ns).Get(ctx, "backend", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(cur.Object, int64(4), "spec", "replicas"); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Dynamic.Resource(gvrDeployments).Namespace(ns).Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	res = waitResult(t, p, rules, 30*time.Second, "unobserved spec is pending", statusIs(StatusPending))
	if !strings.Contains(res.Items[0].Message, "spec update to be observed") {
		t.Errorf("item = %+v", res.Items[0])
	}
}

// A user bound to a narrow Role (pods only, in one namespace) gets
// StatusForbidden naming the verb and resource — at once, not after a hang.
func TestK8sForbidden(t *testing.T) {
	cp := controlplane.Start(t)
	ns := cp.Namespace(t)
	ctx := context.Background()
	if _, err := cp.Typed.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "pods-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Typed.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "pods-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pods-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "narrow"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	env, _ := kubeEnv(t, cp.UserConfig(t, "narrow"), ns)

	tests := []struct {
		name    string
		spec    Spec
		wantMsg string
	}{
		{name: "cluster-scoped CRD", spec: &ConditionSpec{Resource: "clusterissuers.cert-manager.io"},
			wantMsg: "forbidden: list clusterissuers.cert-manager.io"},
		{name: "namespaced workloads", spec: &WorkloadSpec{Names: []string{"backend"}},
			wantMsg: "forbidden: list deployments.apps in namespace " + ns},
		{name: "sealed-secrets controller", spec: &SealedSecretsSpec{Namespace: ns},
			wantMsg: "forbidden: list deployments.apps in namespace " + ns},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rules := build(t, env, tt.spec)
			start := time.Now()
			res := observe(t, p, rules)
			if res.Status != StatusForbidden || res.Message != tt.wantMsg {
				t.Fatalf("= %s %q, want forbidden %q", res.Status, res.Message, tt.wantMsg)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("forbidden took %s to show", d)
			}
		})
	}

	// What the Role grants works for the same user.
	p, rules := build(t, env, &PodsSpec{})
	if res := observe(t, p, rules); res.Status != StatusFail || res.Message != "no pod matched" {
		t.Errorf("pods as the narrow user = %s %q", res.Status, res.Message)
	}
}

// The API server stopped and restarted mid-watch: results show
// "unreachable" meanwhile and recover by themselves, and the watch goes on
// (a change made after the restart is seen).
func TestK8sAPIServerRestart(t *testing.T) {
	cp := controlplane.Start(t)
	ns := cp.Namespace(t)
	objs := cp.CreateYAML(t, deploymentYAML(ns, "api", 2, "app: api", rolledOut(2)))
	env, cluster := kubeEnv(t, cp.Config, ns)
	p, rules := build(t, env, &WorkloadSpec{Names: []string{"api"}})
	waitResult(t, p, rules, 30*time.Second, "before the outage", statusIs(StatusPass))

	if err := cp.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			if err := cp.StartAPIServer(); err != nil {
				t.Errorf("restart in cleanup: %v", err)
			}
		}
	})
	res := waitResult(t, p, rules, 60*time.Second, "unreachable while down", statusIs(StatusError))
	if !strings.HasPrefix(res.Message, "unreachable: ") || !strings.Contains(res.Message, "connection refused") {
		t.Errorf("while down: %q, want unreachable: … connection refused", res.Message)
	}
	// A second probe of the same type built during the outage shares the
	// informer and says the same.
	p2, rules2 := build(t, env, &WorkloadSpec{Names: []string{"api"}})
	if res := observe(t, p2, rules2); res.Status != StatusError || !errors.Is(p2.Observe(context.Background()).Err, ErrUnreachable) {
		t.Errorf("new probe while down = %s %q", res.Status, res.Message)
	}

	if err := cp.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	waitResult(t, p, rules, 90*time.Second, "recovered after the restart", statusIs(StatusPass))

	// The watch is live again: a status written now is seen.
	if _, err := cp.SetStatus(context.Background(), objs[0], map[string]any{
		"observedGeneration": int64(1), "replicas": int64(2), "updatedReplicas": int64(1), "readyReplicas": int64(1), "availableReplicas": int64(1),
	}); err != nil {
		t.Fatal(err)
	}
	waitResult(t, p, rules, 30*time.Second, "a change after the restart", statusIs(StatusPending))
	if n := cluster.Informers(); n != 1 {
		t.Errorf("informers = %d, want 1 (deployments in %s)", n, ns)
	}
}

// However many probes read a resource type in a namespace, the cluster
// runs one informer for it.
func TestK8sSharedInformers(t *testing.T) {
	cp := controlplane.Start(t)
	ns := cp.Namespace(t)
	cp.CreateYAML(t, deploymentYAML(ns, "a", 1, "app: a", rolledOut(1))+deploymentYAML(ns, "b", 1, "app: b", rolledOut(1)))
	env, cluster := kubeEnv(t, cp.Config, ns)
	var specs []Spec
	for i := range 20 {
		specs = append(specs,
			&WorkloadSpec{Names: []string{[]string{"a", "b"}[i%2]}},
			&ConditionSpec{Resource: "deploy", Names: []string{"a"}, Condition: "Available"},
			&ExistsSpec{Resource: "deployments.apps", Names: []string{"a", "b"}},
			&ConditionSpec{Resource: "clusterissuers.cert-manager.io", Names: []string{"none"}},
		)
	}
	for _, s := range specs {
		p, rules := build(t, env, s)
		res := observe(t, p, rules)
		if _, ok := s.(*ConditionSpec); ok && s.(*ConditionSpec).Names[0] == "none" {
			if res.Status != StatusFail || res.Values["missing"] != 1 {
				t.Errorf("missing issuer = %s %q", res.Status, res.Summary)
			}
			continue
		}
		if res.Status != StatusPass {
			t.Errorf("%T = %s %q (%s)", s, res.Status, res.Summary, res.Message)
		}
	}
	if n := cluster.Informers(); n != 2 {
		t.Errorf("80 probes over deployments in %s and clusterissuers run %d informers, want 2", ns, n)
	}
}
