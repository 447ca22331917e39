package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
	"github.com/cockpit-dev/cockpit/internal/goldenfile"
	"github.com/cockpit-dev/cockpit/internal/sandbox"
	"github.com/cockpit-dev/cockpit/runbook/signoff"
)

// golden checks got against testdata/NAME.
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got)
}

// The RBAC of the gravl runbook: one context, a ClusterRole for the
// ClusterIssuers and namespaces, a Role per namespace read, bound to a
// user.
func TestRbacGravlGolden(t *testing.T) {
	noKubeconfig(t)
	code, stdout, stderr := cockpit(t, "rbac", "../../examples/gravl-go-live.yaml", "--subject", "user:cockpit-ci")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	golden(t, "rbac-gravl.golden", stdout)
}

// Two contexts (the default one, a step's cluster) and a probe naming its
// own, the default namespace from -n, a resource type not known offline,
// several subjects; the output is deterministic.
func TestRbacContextsGolden(t *testing.T) {
	noKubeconfig(t)
	args := []string{"rbac", "testdata/rbac-contexts.yaml", "-n", "team-a", "--name", "golive",
		"--subject", "group:sre", "--subject", "serviceaccount:ops/cockpit", "--subject", "group:sre"}
	code, stdout, stderr := cockpit(t, args...)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	golden(t, "rbac-contexts.golden", stdout)
	for range 5 {
		if _, again, _ := cockpit(t, args...); again != stdout {
			t.Fatal("output is not deterministic")
		}
	}
}

func TestRbacNothingToGrant(t *testing.T) {
	noKubeconfig(t)
	path := filepath.Join(t.TempDir(), "plain.yaml")
	if err := os.WriteFile(path, []byte(`apiVersion: cockpit/v1
kind: Runbook
metadata: {name: plain}
phases:
- id: validate
  steps:
  - {id: health, probe: {kind: http, url: "http://127.0.0.1:1/health"}}
  - {id: notify, manual: {prompt: "Told everyone?"}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := cockpit(t, "rbac", path)
	if code != exitOK || !strings.Contains(stdout, "No step reads Kubernetes: the runbook needs no RBAC.") || strings.Contains(stdout, "kind:") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
}

func TestRbacBadInput(t *testing.T) {
	noKubeconfig(t)
	gravl := "../../examples/gravl-go-live.yaml"
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{name: "subject kind", args: []string{gravl, "--subject", "robot:r2"}, want: `--subject "robot:r2": unknown kind "robot"`},
		{name: "subject without name", args: []string{gravl, "--subject", "user"}, want: `--subject "user": no name`},
		{name: "service account without namespace", args: []string{gravl, "--subject", "serviceaccount:cockpit"}, want: "a service account is NAMESPACE/NAME"},
		{name: "service account namespace", args: []string{gravl, "--subject", "serviceaccount:Ops/cockpit"}, want: `--subject "serviceaccount:Ops/cockpit": namespace`},
		{name: "name", args: []string{gravl, "--name", "Go_Live"}, want: `--name "Go_Live"`},
		{name: "var", args: []string{gravl, "--var", "nonsense"}, want: "--var"},
		{name: "kubeconfig", args: []string{gravl, "--kubeconfig", "/nonexistent/kubeconfig"}, want: "--kubeconfig"},
		{name: "no runbook", args: nil, want: "takes 1 argument(s)"},
		{name: "missing runbook", args: []string{"nope.yaml"}, want: "nope.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := cockpit(t, append([]string{"rbac"}, tt.args...)...)
			if code != exitInvalid || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, want %d with %q in stderr\nstdout: %s\nstderr: %s", code, exitInvalid, tt.want, stdout, stderr)
			}
		})
	}
}

// userKubeconfig writes a kubeconfig acting as a new user with no RBAC,
// with the given contexts (the first current), and returns its path.
func userKubeconfig(t *testing.T, cp *controlplane.ControlPlane, user string, contexts ...string) string {
	t.Helper()
	cfg := cp.UserConfig(t, user)
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData}
	for _, name := range contexts {
		kc.Contexts[name] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: user, Namespace: "default"}
	}
	kc.CurrentContext = contexts[0]
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// The gravl preflight as a user with no RBAC: every Kubernetes step is
// forbidden, naming what it may not list. With `cockpit rbac --subject`
// applied for that user, run afresh: no step is forbidden, and the verdict
// is NO-GO for the seed's real failures (internal-ca-issuer, the missed
// throughput target), not for permissions.
var rbacRuns atomic.Int64

func TestRbacGravlGrantsExactlyWhatTheRunNeeds(t *testing.T) {
	cp := controlplane.Start(t)
	seedCluster(t, cp)
	// A user and role names of their own: -count=N reruns share the control plane.
	n := rbacRuns.Add(1)
	user := fmt.Sprintf("gravl-rbac-ci-%d", n)
	kubeconfig := userKubeconfig(t, cp, user, "gravl-prod")
	sb, err := sandbox.Start(context.Background(), sandbox.Options{Host: "127.0.0.1", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBECONFIG", "")

	journal := filepath.Join(t.TempDir(), "gravl.journal.jsonl")
	run := func(extra ...string) (map[string]signoff.Step, string) {
		t.Helper()
		args := append([]string{"run", "../../examples/gravl-go-live.yaml", "--kubeconfig", kubeconfig,
			"--journal", journal, "--phase", "preflight", "--auto-confirm-manual", "--operator", "ci",
			"--var", "stagingURL=" + sb.HTTPURL, "--var", "baselineDuration=3s", "--var", "dnsResolver=" + sb.DNSAddr}, extra...)
		code, stdout, stderr := cockpit(t, args...)
		if code != exitFailed || !strings.Contains(stdout, "verdict: NO-GO") {
			t.Fatalf("exit %d, want %d (NO-GO)\nstdout: %s\nstderr: %s", code, exitFailed, stdout, stderr)
		}
		r, err := signoff.FromJournal(journal)
		if err != nil {
			t.Fatal(err)
		}
		steps := map[string]signoff.Step{}
		for _, st := range r.Phases[0].Steps {
			steps[st.ID] = st
		}
		return steps, stdout + stderr
	}

	// No RBAC: each Kubernetes step forbidden, naming the list it needs.
	steps, out := run()
	for id, want := range map[string]string{
		"cert-manager":             "forbidden: list deployments.apps in namespace cert-manager",
		"cluster-issuers":          "forbidden: list clusterissuers.cert-manager.io",
		"sealed-secrets":           "forbidden: list deployments.apps in namespace kube-system",
		"staging-network-policies": "forbidden: list networkpolicies.networking.k8s.io in namespace gravl-staging",
		"staging-dns-egress":       "forbidden: list deployments.apps in namespace gravl-staging",
		"cluster-access":           "forbidden: list namespaces",
	} {
		st := steps[id]
		// The probe's result is forbidden; the step it leaves, failed.
		if st.Status != "failed" || !strings.HasPrefix(st.Achieved, want) {
			t.Errorf("without RBAC, %s = %s %q, want failed, forbidden naming %q", id, st.Status, st.Achieved, want)
		}
	}
	if !strings.Contains(out, "forbidden: list clusterissuers.cert-manager.io") {
		t.Errorf("the run's output does not name the forbidden list:\n%s", out)
	}

	// cockpit rbac for that user, applied by an admin.
	code, manifests, stderr := cockpit(t, "rbac", "../../examples/gravl-go-live.yaml", "--kubeconfig", kubeconfig, "--subject", "user:"+user,
		"--name", fmt.Sprintf("cockpit-gravl-%d", n))
	if code != exitOK {
		t.Fatalf("rbac: exit %d\n%s", code, stderr)
	}
	cp.CreateYAML(t, manifests)

	// Afresh: nothing forbidden; the seed's own failures decide.
	steps, out = run("--fresh")
	for id, st := range steps {
		if strings.Contains(st.Achieved+" "+st.Evidence, "forbidden") {
			t.Errorf("with cockpit rbac applied, %s = %s %q %q", id, st.Status, st.Achieved, st.Evidence)
		}
	}
	if strings.Contains(out, "forbidden") {
		t.Errorf("the run still mentions forbidden:\n%s", out)
	}
	for id, want := range map[string]string{
		"cluster-issuers":          "failed",
		"load-baseline":            "failed",
		"cert-manager":             "passed",
		"sealed-secrets":           "passed",
		"staging-network-policies": "passed",
		"staging-dns-egress":       "passed",
		"cluster-access":           "passed",
	} {
		if steps[id].Status != want {
			t.Errorf("with cockpit rbac applied, %s = %s %q, want %s", id, steps[id].Status, steps[id].Evidence, want)
		}
	}
	if !strings.Contains(steps["cluster-issuers"].Achieved+steps["cluster-issuers"].Evidence, "internal-ca-issuer") {
		t.Errorf("cluster-issuers does not name internal-ca-issuer: %+v", steps["cluster-issuers"])
	}
}

// --discover asks each context's API server, with nothing but the
// discovery every authenticated user may do: a type unknown offline gets
// its group and scope (csinodes: storage.k8s.io, cluster-scoped), a type
// the server does not serve is named, the rest stays as offline.
func TestRbacDiscover(t *testing.T) {
	cp := controlplane.Start(t)
	kubeconfig := userKubeconfig(t, cp, "rbac-discover", "eu-prod", "us-prod")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBECONFIG", "")
	code, offline, stderr := cockpit(t, "rbac", "testdata/rbac-contexts.yaml", "--kubeconfig", kubeconfig)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		"note: csinodes is not a resource type cockpit knows offline",
		"note: widgets.example.com is not a resource type cockpit knows offline",
		"context eu-prod (default namespace default, from the kubeconfig context)",
	} {
		if !strings.Contains(offline, want) {
			t.Errorf("offline output lacks %q:\n%s", want, offline)
		}
	}

	code, discovered, stderr := cockpit(t, "rbac", "testdata/rbac-contexts.yaml", "--kubeconfig", kubeconfig, "--discover")
	if code != exitOK {
		t.Fatalf("--discover: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		"note: widgets.example.com is not served by the API server (CRD not installed?)",
		"csinodes.storage.k8s.io ",
		"- storage.k8s.io\n  resources:\n  - csinodes\n",
	} {
		if !strings.Contains(discovered, want) {
			t.Errorf("--discover output lacks %q:\n%s", want, discovered)
		}
	}
	if strings.Contains(discovered, "knows offline") {
		t.Errorf("--discover still assumes a scope:\n%s", discovered)
	}
}

// --discover against an API server that is not there is a runtime error
// (exit 1) naming it, promptly; without --discover nothing is contacted.
func TestRbacDiscoverUnreachable(t *testing.T) {
	noKubeconfig(t)
	kc := clientcmdapi.NewConfig()
	kc.Clusters["gone"] = &clientcmdapi.Cluster{Server: closedLoopbackURL(t), InsecureSkipTLSVerify: true}
	kc.AuthInfos["nobody"] = &clientcmdapi.AuthInfo{Token: "t"}
	kc.Contexts["gravl-prod"] = &clientcmdapi.Context{Cluster: "gone", AuthInfo: "nobody"}
	kc.CurrentContext = "gravl-prod"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	gravl := "../../examples/gravl-go-live.yaml"
	if code, _, stderr := cockpit(t, "rbac", gravl, "--kubeconfig", path); code != exitOK {
		t.Errorf("offline: exit %d\n%s", code, stderr)
	}
	// A context the kubeconfig lacks is bad input.
	code, stdout, stderr := cockpit(t, "rbac", "testdata/rbac-contexts.yaml", "--kubeconfig", path, "--context", "nope", "--discover")
	if code != exitInvalid || !strings.Contains(stderr, `--discover: kubeconfig context "nope"`) {
		t.Errorf("missing context: exit %d, want %d naming it\nstdout: %s\nstderr: %s", code, exitInvalid, stdout, stderr)
	}
	code, stdout, stderr = cockpit(t, "rbac", gravl, "--kubeconfig", path, "--discover")
	if code != exitError || !strings.Contains(stderr, "--discover") || !strings.Contains(stderr, "unreachable") || stdout != "" {
		t.Errorf("exit %d, want %d naming --discover and unreachable\nstdout: %s\nstderr: %s", code, exitError, stdout, stderr)
	}
}

// A distributed load step: the coordinator's verbs in the workers'
// namespace, through the step's cluster's context.
func TestRbacDistributedLoadGolden(t *testing.T) {
	noKubeconfig(t)
	code, stdout, stderr := cockpit(t, "rbac", "testdata/rbac-distload.yaml", "--subject", "user:cockpit-ci")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	golden(t, "rbac-distload.golden", stdout)
}
