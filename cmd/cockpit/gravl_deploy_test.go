package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
	"github.com/cockpit-dev/cockpit/internal/promtest"
	"github.com/cockpit-dev/cockpit/internal/sandbox"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/signoff"
)

// The deploy phase of examples/gravl-go-live.yaml against a real API server
// (stand-ins play the controllers it lacks) and a real Alertmanager. Read
// only, it dry-runs every action, changes nothing and stops saying how to
// execute them. With --allow-actions it applies the manifests under
// examples/gravl/, watches the rollout, annotates the Ingress and silences
// the rollout's alerts; the sign-off lists every change with the objects'
// versions. Run again, every apply's dry run shows nothing left to change.
func TestGravlDeployPhase(t *testing.T) {
	cp := controlplane.Start(t)
	seedCluster(t, cp)
	startStandIns(t, cp, "gravl-prod")
	am := promtest.StartAlertmanager(t)
	sb, err := sandbox.Start(context.Background(), sandbox.Options{Host: "127.0.0.1", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	// The sealing certificate, served as the controller serves it (the
	// test API server cannot proxy to a server on loopback).
	certPEM, _, _, err := selfSigned([]string{"sealed-secrets-controller"})
	if err != nil {
		t.Fatal(err)
	}
	certSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(certPEM) }))
	t.Cleanup(certSrv.Close)
	kubeconfig := cp.Kubeconfig(t, "gravl-prod")
	t.Setenv("HOME", t.TempDir())
	journal := t.TempDir() + "/gravl.journal.jsonl"
	run := func(extra ...string) (int, string, *signoff.Report) {
		t.Helper()
		args := append([]string{"run", "../../examples/gravl-go-live.yaml", "--kubeconfig", kubeconfig,
			"--journal", journal, "--fresh", "--phase", "deploy", "--auto-confirm-manual", "--operator", "ci",
			"--var", "stagingURL=" + sb.HTTPURL, "--var", "baselineDuration=2s", "--var", "dnsResolver=" + sb.DNSAddr,
			"--var", "alertmanagerURL=" + am.URL, "--var", "sealingCert=" + certSrv.URL + "/v1/cert.pem",
			// The seed's own preflight failures, accepted to reach the deploy phase.
			"--override", "cluster-issuers=internal CA unused by gravl (test)",
			"--override", "load-baseline=staging throughput measured elsewhere (test)"}, extra...)
		code, stdout, stderr := cockpit(t, args...)
		r, err := signoff.FromJournal(journal)
		if err != nil {
			t.Fatalf("report: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
		}
		return code, stdout + stderr, r
	}
	deploySteps := func(r *signoff.Report) map[string]signoff.Step {
		out := map[string]signoff.Step{}
		for _, ph := range r.Phases {
			if ph.ID == "deploy" {
				for _, st := range ph.Steps {
					out[st.ID] = st
				}
			}
		}
		return out
	}
	policies := func() int {
		l, err := cp.Dynamic.Resource(gvrNetworkPolicies).Namespace("gravl-prod").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}

	// Read-only: dry runs only.
	code, out, r := run()
	if code != exitFailed || !strings.Contains(out, "--allow-actions") {
		t.Fatalf("read-only: exit %d, want %d naming --allow-actions\n%s", code, exitFailed, out)
	}
	if n := policies(); n != 0 {
		t.Fatalf("read-only run created %d NetworkPolicies in gravl-prod", n)
	}
	if r.Mode != "read-only" || len(r.Changes) != 0 {
		t.Errorf("read-only report: mode %q, %d changes", r.Mode, len(r.Changes))
	}
	if st := deploySteps(r)["apply-network-policies"]; !strings.HasPrefix(st.Achieved, "dry run only:") || !strings.Contains(st.Achieved, "created") {
		t.Errorf("read-only apply-network-policies = %+v, want its dry run", st)
	}
	if !strings.Contains(out, "+  name: allow-dns-egress") && !strings.Contains(out, "+  name: gravl-default-deny") {
		t.Errorf("the log lacks the dry run's diff:\n%s", out)
	}

	// Actions allowed: executed, each once, then verified.
	code, out, r = run("--allow-actions", "--auto-confirm-actions")
	if code != exitWarned {
		t.Fatalf("with actions: exit %d, want %d (GO WITH OVERRIDES: the preflight's)\n%s", code, exitWarned, out)
	}
	steps := deploySteps(r)
	for _, id := range []string{"silence-rollout-noise", "apply-network-policies", "prod-dns-egress", "dns-from-a-pod",
		"create-sealed-secrets", "apply-app", "rollout", "ingress-tls", "certificates"} {
		if steps[id].Status != "passed" {
			t.Errorf("with actions, %s = %s %q %q", id, steps[id].Status, steps[id].Achieved, steps[id].Evidence)
		}
	}
	if n := policies(); n != 9 {
		t.Errorf("gravl-prod has %d NetworkPolicies, want the 9 applied", n)
	}
	ing, err := cp.Dynamic.Resource(gvrIngresses).Namespace("gravl-prod").Get(context.Background(), "gravl", metav1.GetOptions{})
	if err != nil || ing.GetAnnotations()["cert-manager.io/cluster-issuer"] != "letsencrypt-prod" {
		t.Errorf("ingress gravl not annotated: %v %v", err, ing.GetAnnotations())
	}
	kinds := map[string]int{}
	for _, c := range r.Changes {
		kinds[c.Kind+" "+c.What]++
		if c.Status != "pass" {
			t.Errorf("change %s %s: %s %q", c.Step, c.What, c.Status, c.Summary)
		}
		if c.Kind == "apply" {
			for _, o := range c.Objects {
				if o.ResourceVersion == "" || (o.Op != "created" && o.Op != "configured" && o.Op != "unchanged") {
					t.Errorf("applied %s: %+v", c.Step, o)
				}
			}
		}
	}
	for _, want := range []string{"apply executed", "silence executed", "annotate executed", "check-pod executed", "sealed-secret executed", "rollout executed"} {
		if kinds[want] == 0 {
			t.Errorf("the report's changes lack %q: %v", want, kinds)
		}
	}
	// The silence is active: --phase deploy stops inside the phase, and
	// the silence lasts until a later run leaves it (or its 2h end).
	silences := alertmanagerSilences(t, am.URL)
	if len(silences) != 1 || silences[0].Status.State != "active" || !strings.Contains(silences[0].Comment, "gravl go-live") ||
		silences[0].CreatedBy != "cockpit" {
		t.Errorf("silences: %+v, want the one silence, active", silences)
	}
	code, md, _ := cockpit(t, "report", journal)
	// The run stopped after deploy: the sign-off is NO-GO (INCOMPLETE)
	// until validate and monitor have run.
	if code != exitFailed || !strings.Contains(md, "NO-GO (INCOMPLETE)") || !strings.Contains(md, "## Changes made") || !strings.Contains(md, "Mode: actions enabled.") {
		t.Errorf("report: exit %d\n%s", code, md)
	}

	// Again: the applies have nothing left to change.
	_, out, _ = run("--allow-actions", "--auto-confirm-actions")
	rr, err := runbook.ReadJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	events, err := rr.Events()
	if err != nil {
		t.Fatal(err)
	}
	planned := map[string]int{}
	for _, at := range events {
		if p, ok := at.Event.(runbook.ActionPlanned); ok && (p.Step == "apply-network-policies" || p.Step == "apply-app") {
			planned[p.Step]++
			if p.Result.Changes != 0 || p.Result.Diff != "" {
				t.Errorf("re-run: %s dry run has %d changes:\n%s", p.Step, p.Result.Changes, p.Result.Diff)
			}
		}
	}
	if planned["apply-network-policies"] != 1 || planned["apply-app"] != 1 {
		t.Errorf("re-run: dry runs %v, want one of each apply\n%s", planned, out)
	}
}

type amSilence struct {
	ID        string `json:"id"`
	CreatedBy string `json:"createdBy"`
	Comment   string `json:"comment"`
	Status    struct {
		State string `json:"state"`
	} `json:"status"`
}

func alertmanagerSilences(t *testing.T, base string) []amSilence {
	t.Helper()
	resp, err := http.Get(base + "/api/v2/silences")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []amSilence
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(fmt.Errorf("decode silences: %w", err))
	}
	return out
}
