package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cockpit-dev/cockpit/internal/kube"
	"github.com/cockpit-dev/cockpit/internal/sandbox"
	"github.com/cockpit-dev/cockpit/runbook/signoff"
)

// The demo runbook end to end against the sandbox, headless: without an
// override the seed's failing issuer stops it (NO-GO); with one but read
// only, the deploy phase shows the release's dry run (only the images
// change) and stops naming --allow-actions (NO-GO); with actions allowed it
// applies the release, watches the rollout it causes, runs the load test
// and the monitor window to GO WITH OVERRIDES — and the sign-off report
// says the same.
func TestDemoHeadless(t *testing.T) {
	noKubeconfig(t)
	short := []string{"--var", "deployWindow=10s", "--var", "loadDuration=3s", "--var", "monitorWindow=3s"}
	override := []string{"--override", "cluster-issuers=internal CA unused by gravl; OPS-112"}
	tests := []struct {
		name        string
		args        []string
		wantCode    int
		wantVerdict string
		wantStdout  []string
		wantStderr  []string
	}{
		{name: "the seed's issuer stops it", wantCode: exitFailed, wantVerdict: "NO-GO",
			wantStdout: []string{"cluster-issuers", "failed", "internal-ca-issuer"}},
		{name: "read-only, the release's dry run", args: override, wantCode: exitFailed, wantVerdict: "NO-GO",
			wantStdout: []string{"release", "--allow-actions"},
			wantStderr: []string{"read-only run", "release                  dry run    2 objects: 2 configured",
				"-      - image: ghcr.io/gravl-app/backend:1.8.2", "+      - image: ghcr.io/gravl-app/backend:1.9.0",
				"+      - image: ghcr.io/gravl-app/frontend:1.9.0"}},
		{name: "overridden, actions allowed, all four phases", args: append([]string{"--allow-actions", "--auto-confirm-actions"}, override...),
			wantCode: exitWarned, wantVerdict: "GO WITH OVERRIDES",
			wantStdout: []string{"PHASE monitor", "release          passed", "rollout          passed      2/2 rolled out",
				"backend-rollout", "baseline", "reqs", "health-watch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			journal := filepath.Join(t.TempDir(), "demo.journal.jsonl")
			args := append([]string{"demo", "--headless", "--journal", journal}, append(short, tt.args...)...)
			code, stdout, stderr := cockpit(t, args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, "verdict: "+tt.wantVerdict+" —") {
				t.Errorf("stdout lacks the verdict %q:\n%s", tt.wantVerdict, stdout)
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			md, err := os.ReadFile(strings.TrimSuffix(journal, ".journal.jsonl") + ".signoff.md")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(md), "## Verdict: **"+tt.wantVerdict+"**") {
				t.Errorf("the report's verdict differs:\n%s", md)
			}
			// The HTML beside it, rendered from the real run's journal.
			html := strings.TrimSuffix(journal, ".journal.jsonl") + ".signoff.html"
			if page, err := os.ReadFile(html); err != nil || !strings.Contains(string(page), ">"+tt.wantVerdict+"<") {
				t.Errorf("the HTML report's verdict differs (%v)", err)
			}
			checkInBrowser(t, html)
		})
	}
}

// The demo's bad release, headless: with the sandbox's bad-release fault
// on (key 4 in the cockpit), the release applies, its new pods crash-loop,
// the rollout fails on ProgressDeadlineExceeded naming the crash, and
// --undo-on-failure takes the undo it offers — through the same rollout
// action code as on a real cluster — rolling the simulated backend back to
// 1.8.2 (revision 1's ReplicaSet, now revision 3), which then rolls out.
// The rollout step stays failed. (The watch stops at the first failure,
// as kubectl rollout status does — which of backend and frontend fails
// first is the simulation's timing; the other, still rolling out, is
// offered the undo too, and both are rolled back.)
func TestDemoBadReleaseIsUndone(t *testing.T) {
	noKubeconfig(t)
	ctx := t.Context()
	sb, err := sandbox.Start(ctx, sandbox.Options{Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	sb.Cluster.SetBadRelease(true)
	journal := filepath.Join(t.TempDir(), "demo.journal.jsonl")
	opts := &demoOptions{journal: journal, run: runOptions{vars: varFlags{"deployWindow": "5s"},
		override: []string{"cluster-issuers=internal CA unused by gravl"}, phase: "deploy",
		allowActions: true, autoActions: true, undo: true}}
	var out, errb bytes.Buffer
	err = runDemoHeadless(ctx, streams{in: strings.NewReader(""), out: &out, err: &errb}, sb, opts)
	if exitCode(err) != exitFailed {
		t.Fatalf("exit %d (%v), want %d: the rollout failed\nstdout: %s\nstderr: %s", exitCode(err), err, exitFailed, out.String(), errb.String())
	}
	for _, want := range []string{`ReplicaSet "`, "has timed out progressing", "CrashLoopBackOff",
		"last terminated: Error, exit code 1", "deployment/frontend to revision 1", "deployment/backend to revision 1",
		"deployment/backend rolled back from revision 2 to revision 1", "deployment/frontend rolled back from revision 2 to revision 1",
		"spec.template.spec.containers[backend].image: ghcr.io/gravl-app/backend:1.9.0 → ghcr.io/gravl-app/backend:1.8.2",
		"spec.template.spec.containers[frontend].image: ghcr.io/gravl-app/frontend:1.9.0 → ghcr.io/gravl-app/frontend:1.8.2"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, errb.String())
		}
	}
	r, err := signoff.FromJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	undone := false
	for _, c := range r.Changes {
		if c.Step == "rollout" && strings.Contains(c.What, "undo") && c.Status == "pass" {
			undone = true
		}
	}
	if !undone {
		t.Errorf("no passed undo of the rollout among the changes: %+v", r.Changes)
	}

	// The undo restored 1.8.2's template; the simulated controller rolls
	// it out again (its old pods still serve, so at once).
	for _, name := range []string{"backend", "frontend"} {
		w, err := sb.Cluster.Typed.AppsV1().Deployments("gravl-staging").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.NewTimer(30 * time.Second)
		var last *appsv1.Deployment
	wait:
		for {
			select {
			case ev := <-w.ResultChan():
				d, ok := ev.Object.(*appsv1.Deployment)
				if !ok {
					continue
				}
				last = d
				if kube.DeploymentRollout(d).Phase == kube.RolloutComplete && d.Generation == 3 {
					break wait
				}
			case <-deadline.C:
				t.Fatalf("%s never rolled back out; last: %+v", name, last)
			}
		}
		deadline.Stop()
		w.Stop()
		if img := last.Spec.Template.Spec.Containers[0].Image; img != "ghcr.io/gravl-app/"+name+":1.8.2" || last.Annotations["deployment.kubernetes.io/revision"] != "3" {
			t.Errorf("%s after the undo: image %s, revision %s; want 1.8.2 at revision 3", name, img, last.Annotations["deployment.kubernetes.io/revision"])
		}
	}
}
