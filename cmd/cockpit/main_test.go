package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
	"github.com/cockpit-dev/cockpit/internal/realcluster"
)

func TestMain(m *testing.M) {
	// A test that needs the CLI as a separate process (to kill it) runs the
	// test binary itself with the command line in COCKPIT_CHILD_ARGS.
	if args := os.Getenv("COCKPIT_CHILD_ARGS"); args != "" {
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err != nil {
			os.Exit(exitError)
		}
		os.Exit(run(argv, os.Stdin, os.Stdout, os.Stderr))
	}
	// The envtest control plane, then the real cluster (realcluster_test.go).
	os.Exit(realcluster.Run(func() int { return controlplane.Main(m) }))
}

// cockpit runs the CLI in-process and returns its exit code and output.
func cockpit(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runContext(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// noKubeconfig points kubeconfig discovery at an empty home.
func noKubeconfig(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", t.TempDir())
}

func TestExitCodesAndUsage(t *testing.T) {
	noKubeconfig(t)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring
	}{
		{name: "no args shows help", args: nil, wantCode: exitOK, wantStdout: "cockpit demo"},
		{name: "help lists exit codes", args: []string{"--help"}, wantCode: exitOK, wantStdout: "3  a gate or threshold failed"},
		{name: "subcommand help lists exit codes", args: []string{"version", "--help"}, wantCode: exitOK, wantStdout: "4  passed with warnings or overrides"},
		{name: "unknown flag", args: []string{"--bogus"}, wantCode: exitInvalid, wantStderr: "unknown flag: --bogus"},
		{name: "unknown flag prints usage", args: []string{"version", "--bogus"}, wantCode: exitInvalid, wantStderr: "Usage:"},
		{name: "unknown command", args: []string{"bogus"}, wantCode: exitInvalid, wantStderr: `unknown command "bogus"`},
		{name: "misspelt command suggests", args: []string{"verison"}, wantCode: exitInvalid, wantStderr: "Did you mean this?\n\tversion"},
		{name: "stray argument", args: []string{"version", "extra"}, wantCode: exitInvalid, wantStderr: "takes no arguments"},
		{name: "bad output format", args: []string{"version", "-o", "yaml"}, wantCode: exitInvalid, wantStderr: "--output: want text or json"},
		{name: "bad duration", args: []string{"version", "--request-timeout", "soon"}, wantCode: exitInvalid, wantStderr: "invalid argument"},
		{name: "missing kubeconfig file", args: []string{"version", "--kubeconfig", "/nonexistent/kubeconfig"}, wantCode: exitInvalid, wantStderr: "/nonexistent/kubeconfig"},
		{name: "runbook needs a terminal", args: []string{"../../examples/gravl-go-live.yaml"}, wantCode: exitInvalid, wantStderr: "needs a terminal and stdout is not one; 'cockpit run"},
		{name: "missing runbook", args: []string{"nope.yaml"}, wantCode: exitInvalid, wantStderr: "nope.yaml"},
		{name: "two runbooks", args: []string{"a.yaml", "b.yaml"}, wantCode: exitInvalid, wantStderr: "want one runbook file"},
		{name: "client only", args: []string{"version", "--client"}, wantCode: exitOK, wantStdout: "Client: cockpit "},
		{name: "no kubeconfig: client only", args: []string{"version"}, wantCode: exitOK, wantStdout: "Client: cockpit "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := cockpit(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("stdout does not contain %q:\n%s", tt.wantStdout, stdout)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.wantStderr, stderr)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{err: nil, want: exitOK},
		{err: os.ErrNotExist, want: exitError},
		{err: invalidInputf("bad %s", "flag"), want: exitInvalid},
		{err: verdict{code: exitFailed}, want: exitFailed},
		{err: verdict{code: exitWarned}, want: exitWarned},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestVersionJSON(t *testing.T) {
	noKubeconfig(t)
	code, stdout, stderr := cockpit(t, "version", "--client", "-o", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep versionReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if rep.Client.GoVersion == "" || rep.Client.Platform == "" || rep.Server != nil {
		t.Errorf("report = %+v", rep)
	}
}

// kubectl-style flags reach a real API server: --kubeconfig and --context
// select it, and the server's version comes back.
func TestVersionAgainstControlPlane(t *testing.T) {
	cp := controlplane.Start(t)
	noKubeconfig(t)
	path := cp.Kubeconfig(t, "envtest")
	addContext(t, path, "unreachable", closedLoopbackURL(t))

	code, stdout, stderr := cockpit(t, "version", "--kubeconfig", path, "-o", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep versionReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if rep.Server == nil || rep.Server.GitVersion != controlplane.KubernetesVersion || rep.Server.Context != "envtest" {
		t.Errorf("server = %+v, want %s via context envtest", rep.Server, controlplane.KubernetesVersion)
	}

	// $KUBECONFIG is honoured like kubectl's.
	t.Setenv("KUBECONFIG", path)
	if code, stdout, stderr := cockpit(t, "version"); code != exitOK || !strings.Contains(stdout, "Server: "+controlplane.KubernetesVersion) {
		t.Errorf("with $KUBECONFIG: exit %d\n%s%s", code, stdout, stderr)
	}

	// --context picks another context; an unreachable server is a runtime
	// error (1), not bad input, and the client version is still printed.
	code, stdout, stderr = cockpit(t, "version", "--context", "unreachable", "--request-timeout", "2s")
	if code != exitError || !strings.Contains(stdout, "Client: cockpit") || !strings.Contains(stderr, `context "unreachable"`) {
		t.Errorf("unreachable context: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	// An unknown context is bad input.
	if code, _, stderr := cockpit(t, "version", "--context", "nope"); code != exitInvalid || !strings.Contains(stderr, "nope") {
		t.Errorf("unknown context: exit %d: %s", code, stderr)
	}
}

// addContext adds a context named name whose cluster is server.
func addContext(t *testing.T, path, name, server string) {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, InsecureSkipTLSVerify: true}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: "admin"}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
}

// closedLoopbackURL returns an https URL on a loopback port nothing listens on.
func closedLoopbackURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return "https://" + addr
}
