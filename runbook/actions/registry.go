package actions

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cockpit-dev/cockpit/internal/kinds"
)

// Definition describes one action kind.
type Definition struct {
	Kind string
	// Summary is one line for `cockpit check` and the README.
	Summary string
	// Kube is set for kinds that read or write Kubernetes: a phase with
	// one has its access reviewed before anything is confirmed.
	Kube bool
	// NewSpec returns a zero spec to decode a runbook's mapping into.
	NewSpec func() Spec
}

// registry is the table of kinds: adding a kind is its own file, its test
// and one line here.
var registry = []Definition{
	{Kind: "annotate", Kube: true, NewSpec: func() Spec { return &AnnotateSpec{} },
		Summary: "set or remove annotations of Kubernetes objects (kubectl annotate), after a dry run and a diff"},
	{Kind: "apply", Kube: true, NewSpec: func() Spec { return &ApplySpec{} },
		Summary: "server-side apply Kubernetes manifests (files and directories, Namespaces and CRDs first), after a dry run and a diff against the live objects"},
	{Kind: "check-pod", Kube: true, NewSpec: func() Spec { return &CheckPodSpec{} },
		Summary: "run a short-lived pod in the cluster (an in-cluster test: DNS, egress, a service's health) and judge its exit code; the pod is always deleted"},
	{Kind: "exec", Kube: false, NewSpec: func() Spec { return &ExecSpec{} },
		Summary: "run a local command (a provider's CLI, a script) with a timeout, judged by its exit code; its output is kept, bounded"},
	{Kind: "label", Kube: true, NewSpec: func() Spec { return &LabelSpec{} },
		Summary: "set or remove labels of Kubernetes objects (kubectl label), after a dry run and a diff"},
	{Kind: "patch", Kube: true, NewSpec: func() Spec { return &PatchSpec{} },
		Summary: "patch Kubernetes objects with a merge, JSON or strategic merge patch (kubectl patch), after a dry run and a diff"},
	{Kind: "rollout", Kube: true, NewSpec: func() Spec { return &RolloutSpec{} },
		Summary: "watch Deployments, StatefulSets and DaemonSets roll out by kubectl rollout status's rules, restarting them first on request; a failed rollout offers an undo"},
	{Kind: "rollout-undo", Kube: true, NewSpec: func() Spec { return &RolloutUndoSpec{} },
		Summary: "roll a Deployment, StatefulSet or DaemonSet back to an earlier revision (kubectl rollout undo)"},
	{Kind: "sealed-secret", Kube: true, NewSpec: func() Spec { return &SealedSecretSpec{} },
		Summary: "check the sealed-secrets controller answers with its public certificate (as kubeseal --fetch-cert), then apply SealedSecret manifests and wait until each is Synced"},
	{Kind: "silence", Kube: false, NewSpec: func() Spec { return &SilenceSpec{} },
		Summary: "silence matching alerts in Alertmanager for the go-live window (amtool silence add); expired when its phase or the run ends"},
}

// KindName implements kinds.Named.
func (d Definition) KindName() string { return d.Kind }

// Lookup returns the definition of kind.
func Lookup(kind string) (Definition, error) {
	if d, ok := kinds.Lookup(registry, kind); ok {
		return d, nil
	}
	return Definition{}, fmt.Errorf("action %q: %w (known: %s)", kind, ErrUnknownKind, strings.Join(Kinds(), ", "))
}

// Kinds lists the registered kinds, sorted.
func Kinds() []string { return kinds.Names(registry) }

// Definitions lists the registered kinds' definitions, sorted by kind.
func Definitions() []Definition {
	out := slices.Clone(registry)
	slices.SortFunc(out, func(a, b Definition) int { return strings.Compare(a.Kind, b.Kind) })
	return out
}
