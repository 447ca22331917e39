package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockpit-dev/cockpit/internal/realcluster"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/signoff"
)

// TestDistributedLoadRunbookOnRealCluster: a runbook's load step with
// workers: runs as two pods of an Indexed Job from this checkout's image
// against the reference target in the cluster, as a mutating action
// (planned, confirmed, executed). The run is GO, the merged intervals are
// journaled, the sign-off says "2 of 2 workers reporting" and lists the
// run's objects created and deleted, the delivered rate is within 2 % of
// the target, and nothing of the run is left. Read-only, the same
// runbook creates nothing and names --allow-actions.
func TestDistributedLoadRunbookOnRealCluster(t *testing.T) {
	c := realcluster.Start(t)
	ns := c.Namespace(t)
	image := workerImage(t, c) // before HOME moves: the build uses this machine's module cache
	t.Setenv("HOME", t.TempDir())
	deployGravl(t, c, ns)
	rb := rigRunbook(t, map[string]string{"runbook.yaml": fmt.Sprintf(`apiVersion: cockpit/v1
kind: Runbook
metadata: {name: distributed-load}
clusters:
  rig: {context: realcluster, namespace: %[1]s}
phases:
- id: load
  steps:
  - id: peak
    load:
      executor: constant-arrival-rate
      rate: 100
      duration: 8s
      baseURL: http://gravl.%[1]s.svc.cluster.local:8080
      requests: [{url: /}]
      thresholds: {http_req_failed: ["rate<0.01"], http_req_duration: ["p(95)<2000"]}
      workers: {count: 2, cluster: rig, namespace: %[1]s, image: %[2]s, imagePullPolicy: Never}
`, ns, image)})

	t.Run("read-only", func(t *testing.T) {
		journal := filepath.Join(t.TempDir(), "ro.journal.jsonl")
		code, stdout, stderr := cockpit(t, "run", rb, "--kubeconfig", c.Kubeconfig, "--journal", journal, "--operator", "ci")
		t.Logf("exit %d\n%s%s", code, stdout, stderr)
		if code == exitOK || !strings.Contains(stdout+stderr, "--allow-actions") {
			t.Errorf("exit %d, want a run that stops naming --allow-actions", code)
		}
		if left := runLeftovers(t, c, ns); len(left) > 0 {
			t.Errorf("a read-only run created %v", left)
		}
	})

	t.Run("two workers", func(t *testing.T) {
		journal := filepath.Join(t.TempDir(), "rw.journal.jsonl")
		code, stdout, stderr0 := cockpit(t, "run", rb, "--kubeconfig", c.Kubeconfig, "--journal", journal,
			"--operator", "ci", "--allow-actions", "--auto-confirm-actions")
		t.Logf("exit %d\n%s%s", code, stdout, stderr0)
		if code != exitOK {
			t.Errorf("exit %d, want %d (GO)", code, exitOK)
		}
		rr, err := runbook.ReadJournal(journal)
		if err != nil {
			t.Fatal(err)
		}
		events, err := rr.Events()
		if err != nil {
			t.Fatal(err)
		}
		intervals, complete := 0, 0
		for _, at := range events {
			if iv, ok := at.Event.(runbook.LoadInterval); ok && iv.Step == "peak" {
				intervals++
				if iv.Workers == 2 && iv.Merged == 2 && len(iv.Missing) == 0 {
					complete++
				}
			}
		}
		if intervals < 5 || complete != intervals {
			t.Errorf("%d load.interval events journaled, %d of them merged from both workers; want ≥ 5, all complete", intervals, complete)
		}

		r, err := signoff.FromJournal(journal)
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != signoff.VerdictGo {
			t.Errorf("sign-off verdict %s (%s), want %s", r.Verdict, r.Reason, signoff.VerdictGo)
		}
		if len(r.Loads) != 1 || r.Loads[0].Workers == nil {
			t.Fatalf("sign-off loads %+v: want one distributed load", r.Loads)
		}
		l := r.Loads[0]
		if w := l.WorkersLine(); !strings.Contains(w, "2 of 2 workers reporting") || !strings.Contains(w, "every interval complete") {
			t.Errorf("workers line %q", w)
		}
		if d := l.Summary.Delivery; d == nil {
			t.Errorf("no delivery in the sign-off's load summary")
		} else {
			const want = 800.0
			if got := float64(d.Sent); got < want*0.98 || got > want*1.02 {
				t.Errorf("delivered %v iterations, want %v ± 2 %%", got, want)
			}
			t.Logf("delivered %d of %d due (%.3f/s over %.3fs), %d requests, p95 %.3fms",
				d.Sent, d.Due, d.Rate, d.ActiveS, l.Summary.Requests, l.Summary.Latency.P95)
		}
		kinds := map[string]bool{}
		for _, ch := range r.Changes {
			if ch.Step != "peak" || ch.Status != "pass" {
				continue
			}
			for _, o := range ch.Objects {
				kinds[ch.What+" "+strings.SplitN(o.Ref, "/", 2)[0]] = true
			}
		}
		for _, what := range []string{runbook.LoadCreated, runbook.LoadDeleted} {
			for _, k := range []string{"ConfigMap", "ServiceAccount", "Role", "RoleBinding", "Job"} {
				if !kinds[what+" "+k] {
					t.Errorf("changes made lack the %s %s (have %v)", k, what, kinds)
				}
			}
		}

		code, md, stderr := cockpit(t, "report", journal)
		if code != exitOK {
			t.Errorf("cockpit report: exit %d, want %d\n%s", code, exitOK, stderr)
		}
		run := l.Workers.Run
		_, name, _ := strings.Cut(run, "/")
		if !strings.HasPrefix(run, ns+"/cockpit-load-") {
			t.Errorf("the sign-off names the run %q", run)
		}
		for _, want := range []string{"2 of 2 workers reporting", "ConfigMap/" + run + " created", "Job/" + run + " created",
			"ConfigMap/" + run + " deleted", "Job/" + run + " deleted", "deleted load run " + name + " in " + ns + ": nothing labelled"} {
			if !strings.Contains(md, want) {
				t.Errorf("the sign-off lacks %q", want)
			}
		}
		// The headless log names each object as it is created and
		// deleted (below the load workers line, not the dry run's), and
		// the cleanup's result.
		for _, op := range []string{"created", "deleted"} {
			objs := loggedObjects(stderr0, "load workers "+op+" load run "+name)
			for _, k := range []string{"ConfigMap", "ServiceAccount", "Role", "RoleBinding", "Job"} {
				if objs[k+"/"+run] != op {
					t.Errorf("the run log's load workers %s lines lack %s/%s %s (have %v)", op, k, run, op, objs)
				}
			}
		}
		for _, want := range []string{"load workers created load run " + name + " in " + ns + ": 2 worker(s)",
			"load workers deleted load run " + name + " in " + ns + ": nothing labelled"} {
			if !strings.Contains(stderr0, want) {
				t.Errorf("the run log lacks %q", want)
			}
		}
		if left := runLeftovers(t, c, ns); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
		if t.Failed() {
			t.Logf("sign-off:\n%s", md)
		}
	})
}

// loggedObjects are the object lines ("HH:MM:SS    Kind/ns/name  op") of a
// headless run log that follow its first line holding header: ref → op.
func loggedObjects(log, header string) map[string]string {
	objs := map[string]string{}
	lines := strings.Split(log, "\n")
	for i, ln := range lines {
		if !strings.Contains(ln, header) {
			continue
		}
		for _, o := range lines[i+1:] {
			f := strings.Fields(o)
			if len(f) != 3 || strings.Count(f[1], "/") != 2 {
				break
			}
			objs[f[1]] = f[2]
		}
		break
	}
	return objs
}
