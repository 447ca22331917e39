package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockpit-dev/cockpit/internal/realcluster"
)

// loadFileOnRealCluster is a subtest of TestDistributedLoadOnRealCluster
// (its image and reference target): `cockpit load --config FILE` of a load
// file with workers: runs distributed as `--workers` does — the file's two
// workers, in the file's namespace, from the file's image: both report to
// the end, the delivered rate is within 2 % of the target, the workers'
// own totals agree with the merged intervals, and nothing of the run is
// left.
func loadFileOnRealCluster(t *testing.T, c *realcluster.Cluster, ns, image string) {
	const rate, secs = 60, 5
	file := writeLoadFile(t, fmt.Sprintf(`executor: constant-arrival-rate
rate: %d
duration: %ds
baseURL: http://gravl.%s.svc.cluster.local:8080
requests: [{url: /}]
thresholds: {http_req_failed: ["rate<0.01"]}
workers: {count: 2, namespace: %s, image: %s, imagePullPolicy: Never, minWorkers: 2}
`, rate, secs, ns, ns, image))
	code, stdout, stderr := cockpit(t, "load", "--kubeconfig", c.Kubeconfig, "--config", file, "--allow-actions", "--yes", "--output", "json")
	t.Logf("exit %d\n%s", code, stderr)
	if code != exitOK {
		t.Errorf("exit %d, want %d\n%s", code, exitOK, stdout)
	}
	doc := jsonSummary(t, stdout)
	if doc.Delivery == nil {
		t.Fatalf("no delivery in %s", stdout)
	}
	if got, want := float64(doc.Delivery.Sent), float64(rate*secs); got < want*0.98 || got > want*1.02 {
		t.Errorf("delivered %v iterations, want %v ± 2 %%", got, want)
	}
	if len(doc.Thresholds) != 1 || !doc.Thresholds[0].Pass {
		t.Errorf("thresholds %+v, want the file's one, passed", doc.Thresholds)
	}
	for _, w := range []string{"2 workers (image " + image + ") in namespace " + ns, "created configmap, serviceaccount, role, rolebinding and job.batch",
		"2 of 2 workers reporting", "agree with the merged intervals", "nothing with label"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q", w)
		}
	}
	if left := runLeftovers(t, c, ns); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}
