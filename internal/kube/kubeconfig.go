package kube

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// CheckContext checks, before a client is built, that the kubeconfig cc
// loads has the context name ("" is its current context), and says in one
// sentence which contexts it has when it does not:
//
//	kubeconfig context "gravl-prod" is not in /home/lead/.kube/config (it has: kind-dev, staging)
//
// A kubeconfig that is missing or empty altogether is left to clientcmd's
// own error (clientcmd.IsEmptyConfig), unless a context was named.
func CheckContext(cc clientcmd.ClientConfig, name string) error {
	raw, err := cc.RawConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	files := "the kubeconfig"
	if access := cc.ConfigAccess(); access != nil {
		if paths := access.GetLoadingPrecedence(); len(paths) > 0 {
			files = strings.Join(paths, ", ")
		}
	}
	return contextErr(raw, files, name)
}

// contextErr is CheckContext's verdict on raw, loaded from files.
func contextErr(raw clientcmdapi.Config, files, name string) error {
	empty := len(raw.Contexts) == 0 && len(raw.Clusters) == 0 && len(raw.AuthInfos) == 0
	current := name == ""
	if current {
		name = raw.CurrentContext
	}
	switch {
	case name == "" && empty:
		return nil // clientcmd says there is no configuration
	case name == "":
		return fmt.Errorf("kubeconfig %s sets no current-context: name one with --context (%s)", files, hasContexts(raw))
	case raw.Contexts[name] != nil:
		return nil
	case current:
		return fmt.Errorf("kubeconfig context %q, its current-context, is not in %s (%s)", name, files, hasContexts(raw))
	}
	return fmt.Errorf("kubeconfig context %q is not in %s (%s)", name, files, hasContexts(raw))
}

// maxListedContexts bounds the contexts an error lists.
const maxListedContexts = 12

// hasContexts is "it has: a, b", "it has none", or for a long list "it
// has: a, b, … and 3 more".
func hasContexts(raw clientcmdapi.Config) string {
	if len(raw.Contexts) == 0 {
		return "it has none"
	}
	names := slices.Sorted(maps.Keys(raw.Contexts))
	if n := len(names) - maxListedContexts; n > 0 {
		return "it has: " + strings.Join(names[:maxListedContexts], ", ") + fmt.Sprintf(" and %d more", n)
	}
	return "it has: " + strings.Join(names, ", ")
}
