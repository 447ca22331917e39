package runbook

import (
	"slices"

	"github.com/cockpit-dev/cockpit/probes"
)

// Permission planning: what a runbook's steps need of Kubernetes, resolved
// once here for the runner's access review and for `cockpit rbac`.

// StepPermission is one permission a step needs, with the kubeconfig
// context and default namespace it is asked through — the permission's
// own context, else the step's cluster's, else "" (the default context) —
// as the runner resolves them.
type StepPermission struct {
	probes.Permission
	// Namespace, when the permission names none and is namespaced, is the
	// step's cluster's namespace ("" leaves it to the context's default).
	DefaultNamespace string
}

// StepPermissions lists the Kubernetes permissions st needs — its probe's
// reads, its action's writes, or what the coordinator of its distributed
// load test needs — with its cluster applied.
func (rb *Runbook) StepPermissions(st *Step) []StepPermission {
	var perms []probes.Permission
	switch {
	case st.Probe != nil:
		if ps, ok := st.Probe.Spec.(probes.PermissionsSpec); ok {
			perms = ps.Permissions()
		}
	case st.Action != nil:
		perms = st.Action.Spec.Permissions()
	case st.Load.Distributed():
		perms = workerPermissions(rb.WorkersTarget(st))
	}
	out := make([]StepPermission, 0, len(perms))
	for _, p := range perms {
		sp := StepPermission{Permission: p}
		if c, ok := rb.Clusters[st.Cluster]; ok && st.Cluster != "" && p.Context == "" {
			sp.Context = c.Context
			if !p.ClusterScoped && p.Namespace == "" {
				sp.DefaultNamespace = c.Namespace
			}
		}
		out = append(out, sp)
	}
	return out
}

// PhasePermissions lists the permissions the steps of a phase need,
// merged per context, resource, namespace and scope.
func (rb *Runbook) PhasePermissions(ph *Phase) []StepPermission {
	var out []StepPermission
	for i := range ph.Steps {
		for _, p := range rb.StepPermissions(&ph.Steps[i]) {
			j := slices.IndexFunc(out, func(q StepPermission) bool {
				return q.DefaultNamespace == p.DefaultNamespace && SameGrant(q.Permission, p.Permission)
			})
			if j < 0 {
				p.Verbs = slices.Clone(p.Verbs)
				out = append(out, p)
				continue
			}
			out[j].Verbs = UnionVerbs(out[j].Verbs, p.Verbs)
		}
	}
	return out
}

// SameGrant reports whether p and q are one grant: the same context,
// resource, scope and namespace (their verbs may differ).
func SameGrant(p, q probes.Permission) bool {
	return p.Context == q.Context && p.Group == q.Group && p.Resource == q.Resource &&
		p.ClusterScoped == q.ClusterScoped && p.Namespace == q.Namespace
}

// UnionVerbs adds to verbs those of more it lacks, in order.
func UnionVerbs(verbs, more []string) []string {
	for _, v := range more {
		if !slices.Contains(verbs, v) {
			verbs = append(verbs, v)
		}
	}
	return verbs
}
