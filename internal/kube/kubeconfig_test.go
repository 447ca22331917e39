package kube

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// kubeconfigWith is a kubeconfig of the named contexts (all on one
// cluster) whose current context is current.
func kubeconfigWith(current string, contexts ...string) *clientcmdapi.Config {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["c"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:6443"}
	kc.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "t0k3n"}
	for _, n := range contexts {
		kc.Contexts[n] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	}
	kc.CurrentContext = current
	return kc
}

// A context the kubeconfig lacks is one sentence naming it once, the
// file, and the contexts there are.
func TestCheckContext(t *testing.T) {
	many := make([]string, 14)
	for i := range many {
		many[i] = fmt.Sprintf("ctx-%02d", i)
	}
	tests := []struct {
		name    string
		kc      *clientcmdapi.Config
		context string
		want    string // "" for no error
	}{
		{name: "the named context", kc: kubeconfigWith("kind-dev", "kind-dev", "staging"), context: "staging"},
		{name: "the current context", kc: kubeconfigWith("kind-dev", "kind-dev", "staging")},
		{name: "a named context missing", kc: kubeconfigWith("kind-dev", "staging", "kind-dev"), context: "gravl-prod",
			want: `kubeconfig context "gravl-prod" is not in KC (it has: kind-dev, staging)`},
		{name: "the current context missing", kc: kubeconfigWith("gravl-prod", "kind-dev"),
			want: `kubeconfig context "gravl-prod", its current-context, is not in KC (it has: kind-dev)`},
		{name: "no current context", kc: kubeconfigWith("", "kind-dev", "staging"),
			want: `kubeconfig KC sets no current-context: name one with --context (it has: kind-dev, staging)`},
		{name: "no contexts at all", kc: kubeconfigWith(""), context: "gravl-prod",
			want: `kubeconfig context "gravl-prod" is not in KC (it has none)`},
		{name: "an empty kubeconfig is clientcmd's to report", kc: clientcmdapi.NewConfig()},
		{name: "an empty kubeconfig and a named context", kc: clientcmdapi.NewConfig(), context: "gravl-prod",
			want: `kubeconfig context "gravl-prod" is not in KC (it has none)`},
		{name: "a long list is cut", kc: kubeconfigWith("", many...), context: "gravl-prod",
			want: `kubeconfig context "gravl-prod" is not in KC (it has: ctx-00, ctx-01, ctx-02, ctx-03, ctx-04, ctx-05, ctx-06, ctx-07, ctx-08, ctx-09, ctx-10, ctx-11 and 2 more)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config")
			if err := clientcmd.WriteToFile(*tt.kc, path); err != nil {
				t.Fatal(err)
			}
			rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: path}
			cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: tt.context})
			err := CheckContext(cc, tt.context)
			want := strings.ReplaceAll(tt.want, "KC", path)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckContext() = %v, want nil", err)
			case tt.want != "" && (err == nil || err.Error() != want):
				t.Errorf("CheckContext() = %v\n want %s", err, want)
			}
			if err != nil && strings.Contains(err.Error(), "t0k3n") {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}
