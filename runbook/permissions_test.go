package runbook

import (
	"slices"
	"testing"
)

// One planner: a step's permissions carry its cluster's context and
// namespace, and a phase's are merged per grant with their verbs unioned.
func TestPhasePermissions(t *testing.T) {
	rb := mustParse(t, `
apiVersion: cockpit/v1
kind: Runbook
metadata: {name: perms}
clusters:
  prod: {context: gravl-prod, namespace: gravl-prod}
phases:
- id: preflight
  steps:
  - id: backend
    cluster: prod
    probe: {kind: k8s.workload, names: [backend]}
  - id: backend-again
    cluster: prod
    probe: {kind: k8s.workload, names: [deployment/frontend]}
  - id: staging
    probe: {kind: k8s.workload, namespace: gravl-staging, names: [backend]}
  - id: issuers
    cluster: prod
    probe: {kind: k8s.condition, resource: clusterissuers.cert-manager.io, condition: Ready}
  - id: health
    probe: {kind: http, url: "http://127.0.0.1:1/health"}
`)
	if got := rb.StepPermissions(&rb.Phases[0].Steps[4]); len(got) != 0 {
		t.Errorf("an http probe needs %v", got)
	}
	perms := rb.PhasePermissions(&rb.Phases[0])
	find := func(ctx, resource, ns string) *StepPermission {
		for i := range perms {
			p := &perms[i]
			if p.Context == ctx && p.Resource == resource && p.Namespace+p.DefaultNamespace == ns {
				return p
			}
		}
		t.Fatalf("no %s %s in %q among %+v", ctx, resource, ns, perms)
		return nil
	}
	prodDeploys := find("gravl-prod", "deployments", "gravl-prod")
	if prodDeploys.Namespace != "" || prodDeploys.DefaultNamespace != "gravl-prod" {
		t.Errorf("prod deployments: namespace %q, default %q: want the cluster's as the default", prodDeploys.Namespace, prodDeploys.DefaultNamespace)
	}
	if !slices.Contains(prodDeploys.Verbs, "list") || !slices.Contains(prodDeploys.Verbs, "watch") {
		t.Errorf("prod deployments verbs %v", prodDeploys.Verbs)
	}
	n := 0
	for _, p := range perms {
		if p.Context == "gravl-prod" && p.Resource == "deployments" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("two steps reading prod deployments give %d grants, want them merged into 1", n)
	}
	find("", "deployments", "gravl-staging")
	if p := find("gravl-prod", "clusterissuers", ""); !p.ClusterScoped || p.DefaultNamespace != "" {
		t.Errorf("clusterissuers: %+v", p)
	}
}
