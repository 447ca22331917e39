package main

import (
	"fmt"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cockpit-dev/cockpit/internal/kube"
)

// kubeFlags are kubectl's connection flags, resolved the way kubectl
// resolves them: --kubeconfig, else $KUBECONFIG (a path list), else
// ~/.kube/config; --context picks a context; -n overrides its namespace.
type kubeFlags struct {
	kubeconfig string
	context    string
	namespace  string
}

func (f *kubeFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	fs.StringVar(&f.context, "context", "", "the kubeconfig context to use")
	fs.StringVarP(&f.namespace, "namespace", "n", "", "the namespace for namespaced objects (default: the context's)")
}

// clientConfig returns the deferred kubeconfig loader for the flags.
func (f *kubeFlags) clientConfig() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if f.kubeconfig != "" {
		rules.ExplicitPath = f.kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: f.context}
	overrides.Context.Namespace = f.namespace
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
}

// restConfig resolves the flags to a client configuration and the name of
// the context it came from.
func (f *kubeFlags) restConfig() (*rest.Config, string, error) {
	cc := f.clientConfig()
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig: %w", err)
	}
	// A context the kubeconfig lacks is said once, with those it has (its
	// message names the kubeconfig).
	if err := kube.CheckContext(cc, f.context); err != nil {
		return nil, "", err
	}
	cfg, err := cc.ClientConfig()
	if clientcmd.IsEmptyConfig(err) {
		return nil, "", err // unwrapped: clientcmd.IsEmptyConfig tells it apart
	}
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig: %w", err)
	}
	name := f.context
	if name == "" {
		name = raw.CurrentContext
	}
	return cfg, name, nil
}
