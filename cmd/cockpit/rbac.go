package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
)

// rbacOptions are the flags of `cockpit rbac`.
type rbacOptions struct {
	vars     varFlags
	subjects []string
	name     string
	discover bool
}

func newRBACCmd(s streams, g *globalOptions) *cobra.Command {
	opts := &rbacOptions{vars: varFlags{}}
	cmd := &cobra.Command{
		Use:   "rbac RUNBOOK",
		Short: "Print the minimal Role/ClusterRole YAML the runbook's probes and actions need",
		Long: `Print the least RBAC a runbook's Kubernetes probes and actions need, as YAML
to apply: per kubeconfig context (a step's cluster: names its context), one
Role per namespace and one ClusterRole for cluster-scoped resources
(namespaces, clusterissuers…). Probes read through shared informers, so every
read is list + watch; actions add exactly the verbs they use (apply: get,
create, patch; rollout restart: patch; check-pod: create, get, watch, delete
pods and get pods/log; sealed-secret: get services/proxy…); rules with the
same API group and verbs are merged. A header comment says which steps need
which resource. Other probes, load tests, local commands and manual steps
need nothing.

Before a phase with actions, the cockpit itself checks these permissions with
SelfSubjectAccessReviews and lists what is missing.

--subject adds the RoleBindings and ClusterRoleBinding for a user, group or
service account. Probes that name no namespace read the context's default
namespace: -n, else the kubeconfig context's, else "default".

A resource a runbook names (resource: clusterissuers.cert-manager.io) is
resolved offline, through a table of well-known resource types and their
scope (built-ins, cert-manager, sealed-secrets, prometheus-operator); any
other is taken as written and assumed namespaced, which the header says.
--discover asks each context's API server instead (discovery only: no
permission beyond what every authenticated user has).`,
		Example: `  cockpit rbac gravl-go-live.yaml --subject user:ci-cockpit | kubectl --context gravl-prod apply -f -
  cockpit rbac gravl-go-live.yaml --subject serviceaccount:ops/cockpit --name gravl-golive --discover`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			subjects, err := parseSubjects(opts.subjects)
			if err != nil {
				return flagError(cmd, err)
			}
			if opts.name != "" {
				if errs := validation.IsDNS1123Subdomain(opts.name); len(errs) > 0 {
					return flagError(cmd, fmt.Errorf("--name %q: %s", opts.name, strings.Join(errs, "; ")))
				}
			}
			rb, err := parseRunbook(args[0], opts.vars)
			if err != nil {
				return err
			}
			plan, err := planRBAC(rb, g.kube, opts.discover)
			if err != nil {
				return err
			}
			plan.source = filepath.Base(args[0])
			plan.subjects = subjects
			plan.name = opts.name
			if plan.name == "" {
				plan.name = defaultRBACName(rb.Metadata.Name)
			}
			return plan.write(s.out)
		},
	}
	f := cmd.Flags()
	f.Var(opts.vars, "var", "override a runbook variable (repeatable)")
	f.StringArrayVar(&opts.subjects, "subject", nil, "bind the roles to user:NAME, group:NAME or serviceaccount:NAMESPACE/NAME (repeatable)")
	f.StringVar(&opts.name, "name", "", "name of the roles and bindings (default: cockpit-RUNBOOK-NAME)")
	f.BoolVar(&opts.discover, "discover", false, "confirm resource types and their scope with each context's API server (discovery)")
	return cmd
}

// parseSubjects parses --subject values.
func parseSubjects(args []string) ([]rbacv1.Subject, error) {
	var out []rbacv1.Subject
	for _, a := range args {
		kind, name, _ := strings.Cut(a, ":")
		bad := func(why string) error {
			return fmt.Errorf("--subject %q: %s (want user:NAME, group:NAME or serviceaccount:NAMESPACE/NAME)", a, why)
		}
		if name == "" {
			return nil, bad("no name")
		}
		var sub rbacv1.Subject
		switch strings.ToLower(kind) {
		case "user":
			sub = rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
		case "group":
			sub = rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
		case "serviceaccount", "sa":
			ns, sa, ok := strings.Cut(name, "/")
			if !ok || ns == "" || sa == "" {
				return nil, bad("a service account is NAMESPACE/NAME")
			}
			if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
				return nil, bad("namespace: " + strings.Join(errs, "; "))
			}
			if errs := validation.IsDNS1123Subdomain(sa); len(errs) > 0 {
				return nil, bad("name: " + strings.Join(errs, "; "))
			}
			sub = rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: sa}
		default:
			return nil, bad(fmt.Sprintf("unknown kind %q", kind))
		}
		if !slices.Contains(out, sub) {
			out = append(out, sub)
		}
	}
	return out, nil
}

// defaultRBACName is "cockpit-" and the runbook's name made a DNS subdomain.
func defaultRBACName(runbookName string) string {
	var b strings.Builder
	b.WriteString("cockpit-")
	for _, r := range strings.ToLower(runbookName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return strings.TrimRight(b.String(), "-.")
}

// rbacGrant is one resource type read in one scope, and the steps reading
// it.
type rbacGrant struct {
	perm  probes.Permission // Namespace resolved; "" when ClusterScoped
	steps []string
}

// rbacContext is what one kubeconfig context's credentials need.
type rbacContext struct {
	name      string // "" when no context is named and the kubeconfig has no current one
	namespace string // the default namespace of probes that name none
	nsFrom    string // where namespace came from
	usesNS    bool   // some probe reads the default namespace
	grants    []*rbacGrant
	notes     []string
}

// rbacPlan is the RBAC a runbook needs, by context.
type rbacPlan struct {
	runbook  string
	source   string
	contexts []*rbacContext
	noKube   []string // steps that need no Kubernetes access
	actions  bool     // some step with Kubernetes access is an action
	name     string
	subjects []rbacv1.Subject
}

// planRBAC collects the permissions of the runbook's Kubernetes probes by
// the context each runs in (the probe's own context:, else its step's
// cluster:, else the default context), as the runner resolves them.
func planRBAC(rb *runbook.Runbook, kf kubeFlags, discover bool) (*rbacPlan, error) {
	raw, err := kf.clientConfig().RawConfig()
	if err != nil {
		return nil, invalidInput(fmt.Errorf("--kubeconfig: %w", err))
	}
	var kube *probes.KubeClusters
	if discover {
		kube = probes.NewKubeClusters(probes.KubeconfigOptions{Path: kf.kubeconfig, Context: kf.context, Namespace: kf.namespace})
		defer kube.Close()
	}
	plan := &rbacPlan{runbook: rb.Metadata.Name}
	byName := map[string]*rbacContext{}
	for pi := range rb.Phases {
		for si := range rb.Phases[pi].Steps {
			st := &rb.Phases[pi].Steps[si]
			perms := rb.StepPermissions(st)
			if len(perms) == 0 {
				plan.noKube = append(plan.noKube, st.ID)
				continue
			}
			plan.actions = plan.actions || st.Action != nil
			for _, sp := range perms {
				ctxName, p := sp.Context, sp.Permission
				rc := contextFor(byName, &plan.contexts, raw, kf, ctxName)
				if kube != nil && !strings.Contains(p.Resource, "/") { // subresources are their parent's scope
					p, err = discoverPermission(kube, ctxName, rc, p)
					if err != nil {
						return nil, err
					}
				}
				if p.Namespace == "" && !p.ClusterScoped {
					p.Namespace = sp.DefaultNamespace // the step's cluster names the namespace, as the runner reads it
				}
				rc.add(p, st.ID)
			}
		}
	}
	for _, rc := range plan.contexts {
		for _, g := range rc.grants {
			if g.perm.Assumed {
				rc.notes = append(rc.notes, fmt.Sprintf("%s is not a resource type cockpit knows offline: its scope is assumed namespaced (--discover asks the API server)", g.perm.GroupResource()))
			}
		}
		rc.notes = slices.Compact(rc.notes)
	}
	return plan, nil
}

// contextFor returns the plan's entry for a kubeconfig context name as a
// step gives it ("" is the default context), resolving the name and its
// default namespace the way the runner does.
func contextFor(byName map[string]*rbacContext, list *[]*rbacContext, raw clientcmdapi.Config, kf kubeFlags, name string) *rbacContext {
	if name == "" {
		name = kf.context
	}
	if name == "" {
		name = raw.CurrentContext
	}
	if rc, ok := byName[name]; ok {
		return rc
	}
	rc := &rbacContext{name: name}
	kc, known := raw.Contexts[name]
	switch {
	case kf.namespace != "":
		rc.namespace, rc.nsFrom = kf.namespace, "from -n"
	case known && kc.Namespace != "":
		rc.namespace, rc.nsFrom = kc.Namespace, "from the kubeconfig context"
	case known:
		rc.namespace, rc.nsFrom = metav1.NamespaceDefault, "the kubeconfig context names none"
	default:
		rc.namespace, rc.nsFrom = metav1.NamespaceDefault, "the context is not in the kubeconfig; -n to choose one"
	}
	byName[name] = rc
	*list = append(*list, rc)
	return rc
}

// discoverPermission confirms p through the API server of the context
// (name as the step gives it: "" is the default context). A type the
// server does not serve stays as resolved offline, with a note.
func discoverPermission(kube *probes.KubeClusters, name string, rc *rbacContext, p probes.Permission) (probes.Permission, error) {
	c, err := kube.Cluster(name) // reads the kubeconfig only
	if err != nil {
		return p, invalidInput(fmt.Errorf("--discover: %w", err))
	}
	d, err := c.DiscoverPermission(p)
	if errors.Is(err, probes.ErrNotServed) {
		scope := "assumed namespaced"
		if !p.Assumed {
			scope = "from cockpit's table"
		}
		rc.notes = append(rc.notes, fmt.Sprintf("%s is not served by the API server (CRD not installed?): its scope is %s", p.GroupResource(), scope))
		p.Assumed = false // the note above says it
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("--discover: context %q: %w", c.Name(), err)
	}
	return d, nil
}

// add records that step needs p.
func (rc *rbacContext) add(p probes.Permission, step string) {
	p.Context = ""
	if p.ClusterScoped {
		p.Namespace = ""
	} else if p.Namespace == "" {
		p.Namespace = rc.namespace
		rc.usesNS = true
	}
	for _, g := range rc.grants {
		if runbook.SameGrant(g.perm, p) {
			g.perm.Verbs = runbook.UnionVerbs(g.perm.Verbs, p.Verbs)
			g.perm.Assumed = g.perm.Assumed && p.Assumed
			if !slices.Contains(g.steps, step) {
				g.steps = append(g.steps, step)
			}
			return
		}
	}
	p.Verbs = slices.Clone(p.Verbs)
	rc.grants = append(rc.grants, &rbacGrant{perm: p, steps: []string{step}})
}

// scopes returns the context's grants split into cluster-scoped ones and
// namespaced ones by namespace (namespaces sorted), each sorted by
// resource.
func (rc *rbacContext) scopes() (cluster []*rbacGrant, namespaces []string, byNS map[string][]*rbacGrant) {
	byNS = map[string][]*rbacGrant{}
	for _, g := range rc.grants {
		if g.perm.ClusterScoped {
			cluster = append(cluster, g)
			continue
		}
		if _, ok := byNS[g.perm.Namespace]; !ok {
			namespaces = append(namespaces, g.perm.Namespace)
		}
		byNS[g.perm.Namespace] = append(byNS[g.perm.Namespace], g)
	}
	slices.Sort(namespaces)
	sortGrants := func(gs []*rbacGrant) {
		slices.SortFunc(gs, func(a, b *rbacGrant) int {
			return strings.Compare(a.perm.GroupResource(), b.perm.GroupResource())
		})
	}
	sortGrants(cluster)
	for _, ns := range namespaces {
		sortGrants(byNS[ns])
	}
	return cluster, namespaces, byNS
}

func grantPerms(gs []*rbacGrant) []probes.Permission {
	out := make([]probes.Permission, 0, len(gs))
	for _, g := range gs {
		out = append(out, g.perm)
	}
	return out
}

// write prints the header comment and the objects.
func (p *rbacPlan) write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# RBAC for runbook %s (%s): what its Kubernetes probes read and its actions change, nothing more.\n", p.runbook, p.source)
	b.WriteString("# Generated by 'cockpit rbac'. Probes read through shared informers: every read is list + watch.\n")
	if p.actions {
		b.WriteString("# Actions add the verbs they change with (a server-side apply: get, create, patch).\n")
	}
	if len(p.contexts) == 0 {
		b.WriteString("#\n# No step reads Kubernetes: the runbook needs no RBAC.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	if len(p.contexts) > 1 {
		b.WriteString("# Several contexts: apply each context's part to its own cluster (kubectl --context NAME apply -f).\n")
	}
	if len(p.subjects) == 0 {
		b.WriteString("# No --subject given: bind the roles to the identity cockpit runs as.\n")
	}
	var secrets bool
	width := 0 // one column for every context's resources
	for _, rc := range p.contexts {
		for _, g := range rc.grants {
			width = max(width, len(g.perm.GroupResource()))
		}
	}
	for _, rc := range p.contexts {
		cluster, namespaces, byNS := rc.scopes()
		fmt.Fprintf(&b, "#\n# %s", contextLabel(rc.name))
		if rc.usesNS {
			fmt.Fprintf(&b, " (default namespace %s, %s)", rc.namespace, rc.nsFrom)
		}
		b.WriteString("\n")
		section := func(title string, gs []*rbacGrant) {
			fmt.Fprintf(&b, "#   %s\n", title)
			for _, g := range gs {
				verbs := slices.Clone(g.perm.Verbs)
				slices.Sort(verbs)
				fmt.Fprintf(&b, "#     %-*s  %s  ← %s\n", width, g.perm.GroupResource(), strings.Join(verbs, ","), strings.Join(g.steps, ", "))
				secrets = secrets || (g.perm.Group == "" && g.perm.Resource == "secrets")
			}
		}
		if len(cluster) > 0 {
			section("ClusterRole "+p.name+" (cluster-scoped)", cluster)
		}
		for _, ns := range namespaces {
			section("Role "+p.name+" in namespace "+ns, byNS[ns])
		}
		for _, n := range rc.notes {
			fmt.Fprintf(&b, "#   note: %s\n", n)
		}
	}
	if secrets {
		b.WriteString("#\n# secrets: RBAC cannot narrow a list to some Secrets; cockpit's informers keep only\n")
		b.WriteString("# their metadata and tls.crt, never a key or other data.\n")
	}
	if len(p.noKube) > 0 {
		b.WriteString("#\n# Steps that need no Kubernetes access:")
		line := len("# Steps that need no Kubernetes access:")
		for i, id := range p.noKube {
			if i > 0 {
				b.WriteString(",")
				line++
			}
			if line+1+len(id) > 100 {
				b.WriteString("\n#  ")
				line = 3
			}
			b.WriteString(" " + id)
			line += 1 + len(id)
		}
		b.WriteString("\n")
	}

	for _, rc := range p.contexts {
		cluster, namespaces, byNS := rc.scopes()
		if len(p.contexts) > 1 {
			fmt.Fprintf(&b, "\n# ---- %s ----\n", contextLabel(rc.name))
		}
		var objs []any
		if len(cluster) > 0 {
			objs = append(objs, &rbacv1.ClusterRole{
				TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRole"},
				ObjectMeta: metav1.ObjectMeta{Name: p.name},
				Rules:      probes.Rules(grantPerms(cluster)),
			})
			if len(p.subjects) > 0 {
				objs = append(objs, &rbacv1.ClusterRoleBinding{
					TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRoleBinding"},
					ObjectMeta: metav1.ObjectMeta{Name: p.name},
					RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: p.name},
					Subjects:   p.subjects,
				})
			}
		}
		for _, ns := range namespaces {
			objs = append(objs, &rbacv1.Role{
				TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "Role"},
				ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: ns},
				Rules:      probes.Rules(grantPerms(byNS[ns])),
			})
			if len(p.subjects) > 0 {
				objs = append(objs, &rbacv1.RoleBinding{
					TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
					ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: ns},
					RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: p.name},
					Subjects:   p.subjects,
				})
			}
		}
		for _, o := range objs {
			y, err := objectYAML(o)
			if err != nil {
				return err
			}
			b.WriteString("---\n")
			b.Write(y)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// contextLabel names a context in the header.
func contextLabel(name string) string {
	if name == "" {
		return "the kubeconfig's current context"
	}
	return "context " + name
}

// objectYAML renders an API object without the fields a new object leaves
// empty (creationTimestamp: null).
func objectYAML(obj any) ([]byte, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("render %T: %w", obj, err)
	}
	unstructured.RemoveNestedField(m, "metadata", "creationTimestamp")
	y, err := yaml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("render %T: %w", obj, err)
	}
	return y, nil
}
