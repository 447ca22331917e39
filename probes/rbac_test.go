package probes

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
)

func TestRbacParseResource(t *testing.T) {
	tests := []struct {
		arg         string
		want        schema.GroupResource
		cluster     bool
		wantUnknown bool
	}{
		{arg: "clusterissuers.cert-manager.io", want: schema.GroupResource{Group: "cert-manager.io", Resource: "clusterissuers"}, cluster: true},
		{arg: "ClusterIssuer.cert-manager.io", want: schema.GroupResource{Group: "cert-manager.io", Resource: "clusterissuers"}, cluster: true},
		{arg: "certificates.v1.cert-manager.io", want: schema.GroupResource{Group: "cert-manager.io", Resource: "certificates"}},
		{arg: "networkpolicies", want: schema.GroupResource{Group: "networking.k8s.io", Resource: "networkpolicies"}},
		{arg: "netpol", want: schema.GroupResource{Group: "networking.k8s.io", Resource: "networkpolicies"}},
		{arg: "networkpolicies.networking.k8s.io", want: schema.GroupResource{Group: "networking.k8s.io", Resource: "networkpolicies"}},
		{arg: "deploy.apps", want: schema.GroupResource{Group: "apps", Resource: "deployments"}},
		{arg: "deployments.v1.apps", want: schema.GroupResource{Group: "apps", Resource: "deployments"}},
		{arg: "ns", want: schema.GroupResource{Resource: "namespaces"}, cluster: true},
		{arg: "namespaces", want: schema.GroupResource{Resource: "namespaces"}, cluster: true},
		{arg: "crd", want: schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}, cluster: true},
		{arg: "events", want: schema.GroupResource{Resource: "events"}}, // core before events.k8s.io
		{arg: "sealedsecrets.bitnami.com", want: schema.GroupResource{Group: "bitnami.com", Resource: "sealedsecrets"}},
		{arg: "widgets.example.com", want: schema.GroupResource{Group: "example.com", Resource: "widgets"}, wantUnknown: true},
		{arg: "pods.example.com", want: schema.GroupResource{Group: "example.com", Resource: "pods"}, wantUnknown: true},
	}
	for _, tt := range tests {
		gr, cluster, known := ParseResource(tt.arg)
		if gr != tt.want || cluster != tt.cluster || known == tt.wantUnknown {
			t.Errorf("ParseResource(%q) = %v, cluster %v, known %v; want %v, cluster %v, known %v",
				tt.arg, gr, cluster, known, tt.want, tt.cluster, !tt.wantUnknown)
		}
	}
}

func TestRbacRulesMerge(t *testing.T) {
	perms := []Permission{
		{Group: "apps", Resource: "statefulsets", Verbs: []string{"watch", "list"}},
		{Group: "", Resource: "secrets", Verbs: []string{"list", "watch"}},
		{Group: "apps", Resource: "deployments", Verbs: []string{"list", "watch"}},
		{Group: "apps", Resource: "deployments", Verbs: []string{"patch"}}, // an action, later
		{Group: "", Resource: "pods", Verbs: []string{"list", "watch"}},
		{Group: "", Resource: "pods", Verbs: []string{"list", "watch"}},
		{Group: "cert-manager.io", Resource: "certificates", Verbs: []string{"list", "watch"}},
	}
	got := Rules(perms)
	want := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "secrets"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"list", "patch", "watch"}},
		{APIGroups: []string{"apps"}, Resources: []string{"statefulsets"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"cert-manager.io"}, Resources: []string{"certificates"}, Verbs: []string{"list", "watch"}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Rules =\n%v\nwant\n%v", got, want)
	}
	for range 20 { // map order must not leak into the output
		if again := Rules(perms); fmt.Sprint(again) != fmt.Sprint(got) {
			t.Fatalf("Rules is not deterministic:\n%v\n%v", again, got)
		}
	}
}

// Every Kubernetes kind declares its permissions.
func TestRbacKubeKindsDeclarePermissions(t *testing.T) {
	for _, d := range registry {
		_, ok := d.NewSpec().(PermissionsSpec)
		if strings.HasPrefix(d.Kind, "k8s.") != ok {
			t.Errorf("%s: implements PermissionsSpec = %v", d.Kind, ok)
		}
	}
}

// permCase is a spec whose declared permissions are checked against what
// its probe reads.
type permCase struct {
	name string
	spec PermissionsSpec
}

// permCases cover every Kubernetes kind and each branch of their
// Permissions methods. ns is the cluster's default namespace (holding a
// Deployment "web"), other a second namespace.
func permCases(ns, other string) []permCase {
	return []permCase{
		{name: "workload default", spec: &WorkloadSpec{}},
		{name: "workload names", spec: &WorkloadSpec{Namespace: other, Names: []string{"web", "statefulset/db", "deployment/api"}}},
		{name: "workload resource", spec: &WorkloadSpec{Resource: "ds", Selector: "app=agent"}},
		{name: "condition cluster-scoped", spec: &ConditionSpec{Resource: "clusterissuers.cert-manager.io", Names: []string{"letsencrypt-prod"}}},
		{name: "condition versioned", spec: &ConditionSpec{Namespace: other, Resource: "certificates.v1.cert-manager.io"}},
		{name: "condition default namespace", spec: &ConditionSpec{Resource: "sealedsecrets.bitnami.com", Condition: "Synced"}},
		{name: "exists namespaces", spec: &ExistsSpec{Resource: "namespaces", Names: []string{ns}}},
		{name: "exists short name", spec: &ExistsSpec{Namespace: other, Resource: "netpol"}},
		{name: "exists core", spec: &ExistsSpec{Resource: "configmaps", Names: []string{"kube-root-ca.crt"}}},
		{name: "certificate", spec: &CertificateSpec{Namespace: other}},
		{name: "sealed-secrets default", spec: &SealedSecretsSpec{}},
		{name: "sealed-secrets namespace", spec: &SealedSecretsSpec{Namespace: other, Controller: "ss"}},
		{name: "dns-egress all workloads", spec: &DNSEgressSpec{}},
		{name: "dns-egress named", spec: &DNSEgressSpec{Workloads: []string{"web"}, DNSNamespace: other}},
		{name: "pods", spec: &PodsSpec{Namespace: other, Selector: "app=web"}},
	}
}

// grantKey is one (group, resource, namespace) read; namespace "" for
// cluster-scoped types.
type grantKey struct {
	group, resource, namespace string
}

// declared resolves a spec's permissions as `cockpit rbac` does: ""
// namespaces become defaultNS.
func declared(t *testing.T, spec PermissionsSpec, defaultNS string) []grantKey {
	t.Helper()
	var out []grantKey
	for _, p := range spec.Permissions() {
		if !slices.Equal(p.Verbs, readVerbs) {
			t.Errorf("%s: verbs %v, want %v (probes read through informers)", p, p.Verbs, readVerbs)
		}
		k := grantKey{group: p.Group, resource: p.Resource}
		if !p.ClusterScoped {
			k.namespace = p.Namespace
			if k.namespace == "" {
				k.namespace = defaultNS
			}
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

func sortKeys(keys []grantKey) []grantKey {
	slices.SortFunc(keys, func(a, b grantKey) int {
		return strings.Compare(a.group+"/"+a.resource+"/"+a.namespace, b.group+"/"+b.resource+"/"+b.namespace)
	})
	return keys
}

// Each probe's declared permissions are exactly the informers it starts:
// observed as admin (so every read succeeds), the cluster's shared
// informers afterwards are the declared (group, resource, namespace) set.
func TestRbacPermissionsAreWhatProbesRead(t *testing.T) {
	cp := controlplane.Start(t)
	ns, other := cp.Namespace(t), cp.Namespace(t)
	cp.CreateYAML(t, deploymentYAML(ns, "web", 1, "app: web", rolledOut(1)))
	for _, tt := range permCases(ns, other) {
		t.Run(tt.name, func(t *testing.T) {
			env, c := kubeEnv(t, cp.Config, ns)
			p, rules := build(t, env, tt.spec)
			if res := observe(t, p, rules); res.Status == StatusError || res.Status == StatusForbidden {
				// A read cut short (a missing object) would hide the
				// reads after it.
				if !strings.Contains(res.Message, "DNS namespace") {
					t.Fatalf("observe as admin = %s %q", res.Status, res.Message)
				}
			}
			var read []grantKey
			c.mu.Lock()
			for k := range c.informers {
				read = append(read, grantKey{group: k.gvr.Group, resource: k.gvr.Resource, namespace: k.namespace})
			}
			c.mu.Unlock()
			if got, want := sortKeys(read), sortKeys(declared(t, tt.spec, ns)); !slices.Equal(got, want) {
				t.Errorf("the probe read %v\nit declares  %v", got, want)
			}
		})
	}
}

// bindExactly grants user exactly perms: a ClusterRole for the
// cluster-scoped ones and a Role per namespace, built with Rules as
// `cockpit rbac` builds them.
func bindExactly(t *testing.T, cp *controlplane.ControlPlane, user string, perms []Permission, defaultNS string) {
	t.Helper()
	ctx := context.Background()
	rbac := cp.Typed.RbacV1()
	subjects := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	cluster, namespaced := ScopedPermissions(perms, defaultNS)
	if len(cluster) > 0 {
		if _, err := rbac.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: Rules(cluster)}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: user}, Subjects: subjects}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for ns, ps := range namespaced {
		if _, err := rbac.Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: Rules(ps)}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := rbac.RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: user}, Subjects: subjects}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// Each probe, run as a user bound to exactly its declared permissions, is
// never forbidden; with any one of them taken away, it is forbidden naming
// the one missing. The declared permissions are sufficient and each is
// necessary.
func TestRbacPermissionsSufficientAndNecessary(t *testing.T) {
	cp := controlplane.Start(t)
	ns, other := cp.Namespace(t), cp.Namespace(t)
	cp.CreateYAML(t, deploymentYAML(ns, "web", 1, "app: web", rolledOut(1)))
	for i, tt := range permCases(ns, other) {
		perms := tt.spec.Permissions()
		t.Run(tt.name, func(t *testing.T) {
			user := fmt.Sprintf("%s-perm-%d", ns, i)
			bindExactly(t, cp, user, perms, ns)
			env, _ := kubeEnv(t, cp.UserConfig(t, user), ns)
			t.Parallel()
			p, rules := build(t, env, tt.spec)
			// RBAC reaches the authorizer's cache a moment after the
			// binding is stored: a first forbidden list is retried by the
			// informer, which notifies the probe when it succeeds.
			waitResult(t, p, rules, 30*time.Second, "granted exactly the declared permissions", func(r Result) bool {
				return r.Status != StatusForbidden
			})
		})
		for j, drop := range perms {
			without := slices.Delete(slices.Clone(perms), j, j+1)
			t.Run(tt.name+" without "+drop.String(), func(t *testing.T) {
				user := fmt.Sprintf("%s-perm-%d-%d", ns, i, j)
				bindExactly(t, cp, user, without, ns)
				env, _ := kubeEnv(t, cp.UserConfig(t, user), ns)
				t.Parallel()
				p, rules := build(t, env, tt.spec)
				want := "forbidden: list " + drop.GroupResource()
				if !drop.ClusterScoped {
					want += " in namespace " + cmpOr(drop.Namespace, ns)
				}
				res := waitResult(t, p, rules, 30*time.Second, "forbidden naming "+drop.String(), func(r Result) bool {
					return r.Status == StatusForbidden && r.Message == want
				})
				if res.Message != want {
					t.Errorf("message %q, want %q", res.Message, want)
				}
			})
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
