package main

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
)

// workersFile is a load file of a test the workers can split, with a
// workers: block of its own (workers: "" for none).
func workersFile(t *testing.T, workers string) string {
	t.Helper()
	return writeLoadFile(t, `executor: constant-arrival-rate
rate: 40
duration: 5s
baseURL: http://127.0.0.1:1
requests: [{url: /}]
thresholds: {http_req_failed: ["rate<0.01"]}
`+workers)
}

// A load file's workers: is checked before anything reaches a cluster:
// its problems at FILE:LINE:COL, a flag that overrides it badly named as
// the flag, the workers' flags refused without a distributed run, and no
// ${env:…} value sent to the workers' ConfigMap (exit 2).
func TestLoadFileWorkersRejectsBadInput(t *testing.T) {
	noKubeconfig(t)
	t.Setenv("COCKPIT_LOAD_WORKERS_TOKEN", "s3cret-t0ken")
	two := workersFile(t, "workers: {count: 2, minWorkers: 2}\n")
	none := workersFile(t, "")
	clustered := workersFile(t, "workers: {count: 2, cluster: prod}\n")
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, encodePEM(srv.Certificate().Raw), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := writeLoadFile(t, `executor: constant-arrival-rate
rate: 40
duration: 5s
requests: [{url: "http://127.0.0.1:1/", headers: {Authorization: "Bearer ${env:COCKPIT_LOAD_WORKERS_TOKEN}"}}]
workers: {count: 2}
`)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"cluster: has no meaning in a load file", []string{"--config", clustered},
			clustered + ":7:21: workers.cluster: a load file has no clusters: to name (hint: --context NAME picks the kubeconfig context"},
		{"file problems at their place", []string{"--config", workersFile(t, "workers:\n  count: 0\n  imagePullPolicy: Sometimes\n")},
			":8:3: workers.count: must be at least 1, got 0"},
		{"--workers 0 over the file", []string{"--config", two, "--workers", "0"}, "--workers: must be at least 1, got 0"},
		{"--workers below the file's minWorkers", []string{"--config", two, "--workers", "1"},
			"workers.minWorkers: 2 is more than count 1 (with the values the command line overrides)"},
		{"--min-workers above the count", []string{"--config", two, "--min-workers", "3"}, "--min-workers: 3 is more than count 2"},
		{"--image-pull-policy", []string{"--config", two, "--image-pull-policy", "Sometimes"}, `--image-pull-policy: unknown pull policy "Sometimes"`},
		{"--worker-cpu", []string{"--config", two, "--worker-cpu", "lots"}, `--worker-cpu: "lots"`},
		{"--workers that cannot split the file's test", []string{"--config", two, "--workers", "50"}, "--workers: the test cannot be split 50 ways"},
		{"--cacert cannot go to the workers", []string{"--config", two, "--cacert", caFile}, "--cacert: cannot be used with workers: yet"},
		{"a workers' flag without a distributed run", []string{"--config", none, "--min-workers", "1"},
			"--min-workers applies to a distributed run: give --workers N, or workers: in " + none},
		{"--hdr-log", []string{"--config", two, "--hdr-log", "x.hlog"}, "--hdr-log cannot be used with --workers"},
		{"a secret from the environment", []string{"--config", secret}, secret + ": the test carries a value read from ${env:…}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := cockpit(t, append([]string{"load"}, tt.args...)...)
			if code != exitInvalid || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, want %d with %q\nstdout: %s\nstderr: %s", code, exitInvalid, tt.want, stdout, stderr)
			}
			if strings.Contains(stdout+stderr, "s3cret") {
				t.Error("the secret was echoed")
			}
		})
	}
}

// `cockpit load --config FILE` of a file with workers: is a distributed
// run: read-only, the API server dry-runs the file's workers' objects and
// nothing is created (exit 3). The workers' flags override the file's
// workers: as the test's flags override its test — --workers its count,
// -n its namespace, --image its image — and --workers distributes a file
// without workers:.
func TestLoadFileWorkersPlan(t *testing.T) {
	cp := controlplane.Start(t)
	noKubeconfig(t)
	kc := cp.Kubeconfig(t, "envtest")
	nsFile, nsFlag := cp.Namespace(t), cp.Namespace(t)
	file := workersFile(t, fmt.Sprintf(`workers:
  count: 2
  namespace: %s
  image: cockpit.local/from-file:v1
  imagePullPolicy: Never
  nodeSelector: {pool: load}
  tolerations: [{key: dedicated, operator: Equal, value: load, effect: NoSchedule}]
`, nsFile))
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"the file's workers", []string{"--config", file},
			[]string{"2 workers (image cockpit.local/from-file:v1) in namespace " + nsFile + " of context envtest",
				"the workers' pods: nodeSelector {pool=load}, 1 toleration(s)"}},
		{"flags override the file", []string{"--config", file, "--workers", "4", "-n", nsFlag, "--image", "cockpit.local/from-flag:v2"},
			[]string{"4 workers (image cockpit.local/from-flag:v2) in namespace " + nsFlag + " of context envtest", "completions = parallelism = 4"}},
		{"--workers distributes a file without workers:", []string{"--config", workersFile(t, ""), "--workers", "3", "-n", nsFlag},
			[]string{"3 workers (image " + defaultWorkerImage() + ") in namespace " + nsFlag}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := cockpit(t, append([]string{"load", "--kubeconfig", kc}, tt.args...)...)
			if code != exitFailed {
				t.Errorf("exit %d, want %d (read-only)\nstdout: %s\nstderr: %s", code, exitFailed, stdout, stderr)
			}
			for _, w := range append(tt.want, "job.batch/cockpit-load-", "created (server dry run)", "read-only: nothing created") {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, "refused") {
				t.Errorf("the dry run refused:\n%s", stderr)
			}
		})
	}
}

// encodePEM is a DER certificate as PEM.
func encodePEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
