package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// A kubeconfig context that does not exist is said in one sentence that
// names it once and lists the contexts the kubeconfig has — from a probe,
// an action, and the version command; a kubeconfig with no current
// context says so. (It was: `cannot build probe — context "": kubeconfig
// context "gravl-prod": context "gravl-prod" does not exist`.)
func TestMissingKubeconfigContext(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBECONFIG", "")
	server := closedLoopbackURL(t) // never reached: the context is missing
	kubeconfig := func(current string) string {
		kc := clientcmdapi.NewConfig()
		kc.Clusters["local"] = &clientcmdapi.Cluster{Server: server}
		kc.AuthInfos["lead"] = &clientcmdapi.AuthInfo{Token: "s3cr3t-t0ken"}
		for _, n := range []string{"staging", "kind-dev"} {
			kc.Contexts[n] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "lead"}
		}
		kc.CurrentContext = current
		path := filepath.Join(t.TempDir(), "kubeconfig")
		if err := clientcmd.WriteToFile(*kc, path); err != nil {
			t.Fatal(err)
		}
		return path
	}
	rb := filepath.Join(t.TempDir(), "contexts.yaml")
	if err := os.WriteFile(rb, []byte(`apiVersion: cockpit/v1
kind: Runbook
metadata: {name: contexts}
clusters:
  prod: {context: gravl-prod, namespace: gravl-prod}
phases:
- id: preflight
  steps:
  - id: prod-policies
    cluster: prod
    probe: {kind: k8s.exists, resource: networkpolicies.networking.k8s.io, names: [gravl-default-deny]}
  - id: dns-from-a-pod
    cluster: prod
    action: {kind: check-pod, image: "busybox:1.37", command: [nslookup, kubernetes.default]}
  - id: default-context
    probe: {kind: k8s.exists, resource: namespaces, names: [default]}
`), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		current string
		args    func(kc string) []string
		code    int
		want    func(kc string) []string
	}{
		{
			name: "a step's cluster names a missing context", current: "kind-dev",
			args: func(kc string) []string {
				return []string{"run", rb, "--kubeconfig", kc, "--journal", filepath.Join(t.TempDir(), "j.jsonl"), "--fresh", "--allow-actions"}
			},
			code: exitFailed,
			want: func(kc string) []string {
				return []string{
					fmt.Sprintf(`prod-policies            failed     cannot build probe — kubeconfig context "gravl-prod" is not in %s (it has: kind-dev, staging)`, kc),
					fmt.Sprintf(`dns-from-a-pod           failed     cannot build action — kubeconfig context "gravl-prod" is not in %s (it has: kind-dev, staging)`, kc),
				}
			},
		},
		{
			name: "no current context", current: "",
			args: func(kc string) []string {
				return []string{"run", rb, "--kubeconfig", kc, "--journal", filepath.Join(t.TempDir(), "j.jsonl"), "--fresh"}
			},
			code: exitFailed,
			want: func(kc string) []string {
				return []string{fmt.Sprintf(`default-context          failed     cannot build probe — kubeconfig %s sets no current-context: name one with --context (it has: kind-dev, staging)`, kc)}
			},
		},
		{
			name: "--context names a missing context", current: "kind-dev",
			args: func(kc string) []string { return []string{"version", "--kubeconfig", kc, "--context", "gravl-prod"} },
			code: exitInvalid,
			want: func(kc string) []string {
				return []string{fmt.Sprintf(`kubeconfig context "gravl-prod" is not in %s (it has: kind-dev, staging)`, kc)}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kc := kubeconfig(tt.current)
			code, stdout, stderr := cockpit(t, tt.args(kc)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			for _, want := range tt.want(kc) {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks\n\t%s\nstderr:\n%s", want, stderr)
				}
			}
			for _, bad := range []string{`context ""`, `does not exist`, "s3cr3t-t0ken", "kubeconfig: kubeconfig"} {
				if strings.Contains(stdout+stderr, bad) {
					t.Errorf("the output has %q:\n%s%s", bad, stdout, stderr)
				}
			}
		})
	}
}
