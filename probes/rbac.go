package probes

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ErrNotServed is returned by [Cluster.DiscoverPermission] for a resource
// type the API server does not serve (a CRD not installed).
var ErrNotServed = errors.New("not served by the API server")

// Permission is one thing a probe's credentials must be allowed to do: the
// verbs on a resource type, in a namespace or cluster-wide. It is what
// `cockpit rbac` turns into Role and ClusterRole rules.
type Permission struct {
	// Context is the kubeconfig context the probe reads through; "" is the
	// step's cluster, else the default context.
	Context string
	// Group is the API group ("" is the core group).
	Group string
	// Resource is the resource type's plural name, as RBAC names it.
	Resource string
	// Namespace is where a namespaced resource is read; "" means the
	// context's default namespace (-n, else the kubeconfig context's, else
	// "default"). It is ignored when ClusterScoped.
	Namespace string
	// ClusterScoped resources (namespaces, clusterissuers…) need a
	// ClusterRole.
	ClusterScoped bool
	// Verbs are RBAC verbs. A probe's read is list and watch: probes read
	// through shared informers.
	Verbs []string
	// Assumed is true when Resource came from a runbook and is not in the
	// well-known table: its group is taken as written and its scope assumed
	// namespaced, until [Cluster.DiscoverPermission] confirms them.
	Assumed bool
}

// String is "list,watch clusterissuers.cert-manager.io" or
// "list,watch pods in kube-system".
func (p Permission) String() string {
	s := strings.Join(p.Verbs, ",") + " " + p.GroupResource()
	switch {
	case p.ClusterScoped:
	case p.Namespace == "":
		s += " in the default namespace"
	default:
		s += " in " + p.Namespace
	}
	return s
}

// GroupResource is the resource as RBAC and kubectl name it:
// "deployments.apps", "pods".
func (p Permission) GroupResource() string {
	return schema.GroupResource{Group: p.Group, Resource: p.Resource}.String()
}

// PermissionsSpec is implemented by the specs of every Kubernetes probe:
// the permissions its observations need, exactly what it reads (a test
// runs each probe as a user bound to just these).
type PermissionsSpec interface {
	Spec
	// Permissions lists what the probe reads. The spec has been validated.
	Permissions() []Permission
}

// readVerbs are what an informer needs: the initial list (or streaming
// list) and the watch.
var readVerbs = []string{"list", "watch"}

// reads is the permission to read a built-in resource type in namespace.
func reads(contextName string, res kubeResource, namespace string) Permission {
	p := Permission{Context: contextName, Group: res.gvr.Group, Resource: res.gvr.Resource,
		ClusterScoped: !res.namespaced, Verbs: slices.Clone(readVerbs)}
	if res.namespaced {
		p.Namespace = namespace
	}
	return p
}

// readsArg is the permission to read a resource type given as kubectl takes
// it ("clusterissuers.cert-manager.io", "netpol", "deploy.apps"), resolved
// offline through the well-known table.
func readsArg(contextName, arg, namespace string) Permission {
	gr, cluster, known := ParseResource(arg)
	p := Permission{Context: contextName, Group: gr.Group, Resource: gr.Resource, ClusterScoped: cluster,
		Verbs: slices.Clone(readVerbs), Assumed: !known}
	if !cluster {
		p.Namespace = namespace
	}
	return p
}

// wellKnownResource is a resource type cockpit knows without an API server.
type wellKnownResource struct {
	group, resource string
	cluster         bool     // cluster-scoped
	aliases         []string // singular and short names
}

// wellKnownResources are the built-in resource types and the CRDs a
// go-live runbook commonly names, with their scope: what `cockpit rbac`
// knows offline. A resource outside it is taken as written (group after
// the first dot) and assumed namespaced; `cockpit rbac --discover` asks the
// API server instead.
var wellKnownResources = []wellKnownResource{
	// core
	{group: "", resource: "pods", aliases: []string{"pod", "po"}},
	{group: "", resource: "services", aliases: []string{"service", "svc"}},
	{group: "", resource: "secrets", aliases: []string{"secret"}},
	{group: "", resource: "configmaps", aliases: []string{"configmap", "cm"}},
	{group: "", resource: "endpoints", aliases: []string{"ep"}},
	{group: "", resource: "events", aliases: []string{"event", "ev"}},
	{group: "", resource: "serviceaccounts", aliases: []string{"serviceaccount", "sa"}},
	{group: "", resource: "persistentvolumeclaims", aliases: []string{"persistentvolumeclaim", "pvc"}},
	{group: "", resource: "resourcequotas", aliases: []string{"resourcequota", "quota"}},
	{group: "", resource: "limitranges", aliases: []string{"limitrange", "limits"}},
	{group: "", resource: "replicationcontrollers", aliases: []string{"replicationcontroller", "rc"}},
	{group: "", resource: "namespaces", cluster: true, aliases: []string{"namespace", "ns"}},
	{group: "", resource: "nodes", cluster: true, aliases: []string{"node", "no"}},
	{group: "", resource: "persistentvolumes", cluster: true, aliases: []string{"persistentvolume", "pv"}},
	// apps, batch, autoscaling, policy
	{group: "apps", resource: "deployments", aliases: []string{"deployment", "deploy"}},
	{group: "apps", resource: "statefulsets", aliases: []string{"statefulset", "sts"}},
	{group: "apps", resource: "daemonsets", aliases: []string{"daemonset", "ds"}},
	{group: "apps", resource: "replicasets", aliases: []string{"replicaset", "rs"}},
	{group: "apps", resource: "controllerrevisions", aliases: []string{"controllerrevision"}},
	{group: "batch", resource: "jobs", aliases: []string{"job"}},
	{group: "batch", resource: "cronjobs", aliases: []string{"cronjob", "cj"}},
	{group: "autoscaling", resource: "horizontalpodautoscalers", aliases: []string{"horizontalpodautoscaler", "hpa"}},
	{group: "policy", resource: "poddisruptionbudgets", aliases: []string{"poddisruptionbudget", "pdb"}},
	// networking, discovery
	{group: "networking.k8s.io", resource: "networkpolicies", aliases: []string{"networkpolicy", "netpol"}},
	{group: "networking.k8s.io", resource: "ingresses", aliases: []string{"ingress", "ing"}},
	{group: "networking.k8s.io", resource: "ingressclasses", cluster: true, aliases: []string{"ingressclass"}},
	{group: "discovery.k8s.io", resource: "endpointslices", aliases: []string{"endpointslice"}},
	// cluster configuration
	{group: "rbac.authorization.k8s.io", resource: "roles", aliases: []string{"role"}},
	{group: "rbac.authorization.k8s.io", resource: "rolebindings", aliases: []string{"rolebinding"}},
	{group: "rbac.authorization.k8s.io", resource: "clusterroles", cluster: true, aliases: []string{"clusterrole"}},
	{group: "rbac.authorization.k8s.io", resource: "clusterrolebindings", cluster: true, aliases: []string{"clusterrolebinding"}},
	{group: "storage.k8s.io", resource: "storageclasses", cluster: true, aliases: []string{"storageclass", "sc"}},
	{group: "apiextensions.k8s.io", resource: "customresourcedefinitions", cluster: true, aliases: []string{"customresourcedefinition", "crd", "crds"}},
	{group: "admissionregistration.k8s.io", resource: "validatingwebhookconfigurations", cluster: true, aliases: []string{"validatingwebhookconfiguration"}},
	{group: "admissionregistration.k8s.io", resource: "mutatingwebhookconfigurations", cluster: true, aliases: []string{"mutatingwebhookconfiguration"}},
	{group: "scheduling.k8s.io", resource: "priorityclasses", cluster: true, aliases: []string{"priorityclass", "pc"}},
	// cert-manager, sealed-secrets, prometheus-operator
	{group: "cert-manager.io", resource: "certificates", aliases: []string{"certificate", "cert", "certs"}},
	{group: "cert-manager.io", resource: "certificaterequests", aliases: []string{"certificaterequest", "cr", "crs"}},
	{group: "cert-manager.io", resource: "issuers", aliases: []string{"issuer"}},
	{group: "cert-manager.io", resource: "clusterissuers", cluster: true, aliases: []string{"clusterissuer"}},
	{group: "bitnami.com", resource: "sealedsecrets", aliases: []string{"sealedsecret"}},
	{group: "monitoring.coreos.com", resource: "servicemonitors", aliases: []string{"servicemonitor", "smon"}},
	{group: "monitoring.coreos.com", resource: "podmonitors", aliases: []string{"podmonitor", "pmon"}},
	{group: "monitoring.coreos.com", resource: "prometheusrules", aliases: []string{"prometheusrule", "promrule"}},
}

// versionPart matches an API version inside a resource argument
// ("certificates.v1.cert-manager.io").
var versionPart = regexp.MustCompile(`^v[0-9]+((alpha|beta)[0-9]+)?$`)

// ParseResource resolves a resource argument as kubectl takes it —
// "clusterissuers.cert-manager.io", "networkpolicies", "netpol",
// "deploy.apps", "certificates.v1.cert-manager.io" — to the group and
// plural resource RBAC names, without an API server: through the
// well-known table (known reports a hit, and cluster its scope). Anything
// else is taken as written and assumed namespaced.
func ParseResource(arg string) (gr schema.GroupResource, cluster, known bool) {
	arg = strings.ToLower(strings.TrimSpace(arg))
	name, group, _ := strings.Cut(arg, ".")
	if v, rest, ok := strings.Cut(group, "."); ok && versionPart.MatchString(v) {
		group = rest // resource.version.group
	}
	var match *wellKnownResource
	for i := range wellKnownResources {
		w := &wellKnownResources[i]
		if w.resource != name && !slices.Contains(w.aliases, name) {
			continue
		}
		if group != "" {
			if w.group == group {
				match = w
				break
			}
			continue
		}
		// Without a group, the core group wins (as with kubectl), else
		// the table's first entry.
		if match == nil || (w.group == "" && match.group != "") {
			match = w
		}
	}
	if match == nil {
		return schema.GroupResource{Group: group, Resource: name}, false, false
	}
	return schema.GroupResource{Group: match.group, Resource: match.resource}, match.cluster, true
}

// DiscoverPermission confirms a permission's group, plural resource and
// scope through the cluster's discovery (the way probes resolve resource
// types at run time). A resource the API server does not serve is an error
// wrapping ErrNotServed; the permission comes back unchanged then.
func (c *Cluster) DiscoverPermission(p Permission) (Permission, error) {
	res, err := c.resolve(p.GroupResource())
	if err != nil {
		if meta.IsNoMatchError(err) {
			return p, fmt.Errorf("%s: %w", p.GroupResource(), ErrNotServed)
		}
		return p, err
	}
	p.Group, p.Resource = res.gvr.Group, res.gvr.Resource
	p.ClusterScoped, p.Assumed = !res.namespaced, false
	if p.ClusterScoped {
		p.Namespace = ""
	}
	return p, nil
}

// ScopedPermissions splits permissions by where RBAC grants them: the
// cluster-scoped ones (a ClusterRole) and the namespaced ones by namespace
// (a Role each), "" namespaces replaced by defaultNamespace.
func ScopedPermissions(perms []Permission, defaultNamespace string) (cluster []Permission, namespaced map[string][]Permission) {
	namespaced = map[string][]Permission{}
	for _, p := range perms {
		if p.ClusterScoped {
			cluster = append(cluster, p)
			continue
		}
		if p.Namespace == "" {
			p.Namespace = defaultNamespace
		}
		namespaced[p.Namespace] = append(namespaced[p.Namespace], p)
	}
	return cluster, namespaced
}

// Rules merges permissions of one scope into minimal RBAC rules: each
// resource's verbs united, then one rule per API group and verb set with
// its resources sorted; rules sorted by group, then resources. Namespaces
// and contexts are not looked at (split them first).
func Rules(perms []Permission) []rbacv1.PolicyRule {
	verbs := map[schema.GroupResource][]string{}
	for _, p := range perms {
		gr := schema.GroupResource{Group: p.Group, Resource: p.Resource}
		for _, v := range p.Verbs {
			if !slices.Contains(verbs[gr], v) {
				verbs[gr] = append(verbs[gr], v)
			}
		}
	}
	type ruleKey struct{ group, verbs string }
	byKey := map[ruleKey]*rbacv1.PolicyRule{}
	var rules []*rbacv1.PolicyRule
	for gr, vs := range verbs {
		slices.Sort(vs)
		k := ruleKey{group: gr.Group, verbs: strings.Join(vs, ",")}
		r, ok := byKey[k]
		if !ok {
			r = &rbacv1.PolicyRule{APIGroups: []string{gr.Group}, Verbs: vs}
			byKey[k] = r
			rules = append(rules, r)
		}
		r.Resources = append(r.Resources, gr.Resource)
	}
	out := make([]rbacv1.PolicyRule, 0, len(rules))
	for _, r := range rules {
		slices.Sort(r.Resources)
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b rbacv1.PolicyRule) int {
		if c := strings.Compare(a.APIGroups[0], b.APIGroups[0]); c != 0 {
			return c
		}
		if c := slices.Compare(a.Resources, b.Resources); c != 0 {
			return c
		}
		return slices.Compare(a.Verbs, b.Verbs)
	})
	return out
}
