package runbook

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
	"github.com/cockpit-dev/cockpit/probes"
)

// The access review before a phase with actions asks the real API server,
// as the run's own user, and names exactly what that user may not do.
func TestReviewAccessNamesWhatIsMissing(t *testing.T) {
	cp := controlplane.Start(t)
	ns := cp.Namespace(t)
	user := "access-review-" + ns
	cp.CreateYAML(t, fmt.Sprintf(`
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: narrow, namespace: %[1]s}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [get, create]}
- {apiGroups: [apps], resources: [deployments], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: narrow, namespace: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: narrow}
subjects: [{kind: User, name: %[2]s, apiGroup: rbac.authorization.k8s.io}]
`, ns, user))
	c, err := probes.NewClusterForConfig("envtest", cp.UserConfig(t, user), ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	m, specs := actionSim(t)
	specs["apply"].perms = []probes.Permission{
		{Resource: "configmaps", Verbs: []string{"get", "create", "patch"}},
		{Group: "apps", Resource: "deployments", Verbs: []string{"get", "patch"}},
		{Resource: "pods", Verbs: []string{"create"}, Namespace: ns},
		{Resource: "namespaces", ClusterScoped: true, Verbs: []string{"get"}},
	}
	r := &Runner{Env: probes.Env{Kube: func(string) (*probes.Cluster, error) { return c, nil }}}
	res := r.reviewAccess(context.Background(), m.s, "deploy")
	if res.Status != probes.StatusFail {
		t.Fatalf("status %s %q %q, want fail", res.Status, res.Summary, res.Message)
	}
	missing := map[string]string{}
	for _, it := range res.Items {
		if it.Status != probes.StatusPass {
			missing[it.Name] = it.Summary
		}
	}
	want := map[string]string{
		"get,create,patch configmaps in " + ns: "missing: patch",
		"get,patch deployments.apps in " + ns:  "missing: patch",
		"create pods in " + ns:                 "missing: create",
		"get namespaces":                       "missing: get",
	}
	if fmt.Sprint(missing) != fmt.Sprint(want) {
		t.Errorf("missing:\n got %v\nwant %v", missing, want)
	}
	if res.Values["checked"] != 7 || res.Values["missing"] != 4 || !strings.Contains(res.Summary, "4 of 7") {
		t.Errorf("values %v, summary %q", res.Values, res.Summary)
	}
}
