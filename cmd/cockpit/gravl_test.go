package main

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
	"github.com/cockpit-dev/cockpit/internal/sandbox"
	"github.com/cockpit-dev/cockpit/runbook/signoff"
)

// seedCluster creates the seed report's cluster state in the real API
// server, statuses written through the status subresource as the
// controllers would have. It is idempotent: the package's tests share one
// control plane, and several seed it.
func seedCluster(t *testing.T, cp *controlplane.ControlPlane) {
	t.Helper()
	objs, err := sandbox.SeedObjects(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, obj := range objs {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			gvks, _, err := clientgoscheme.Scheme.ObjectKinds(obj)
			if err != nil {
				t.Fatalf("seed %T: %v", obj, err)
			}
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
			if err != nil {
				t.Fatal(err)
			}
			u = &unstructured.Unstructured{Object: m}
			u.SetGroupVersionKind(gvks[0])
		}
		u = u.DeepCopy()
		u.SetResourceVersion("")
		u.SetUID("")
		u.SetOwnerReferences(nil)
		if u.GetKind() == "Service" { // the API server allocates from its own range
			unstructured.RemoveNestedField(u.Object, "spec", "clusterIP")
			unstructured.RemoveNestedField(u.Object, "spec", "clusterIPs")
		}
		status, hasStatus := u.Object["status"].(map[string]any)
		m, err := cp.ResourceFor(u.GroupVersionKind())
		if err != nil {
			t.Fatalf("seed %s: %v", u.GetKind(), err)
		}
		ri := cp.Dynamic.Resource(m.Resource).Namespace(u.GetNamespace())
		created, err := ri.Create(ctx, u, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) && u.GetKind() == "Namespace" {
			// kube-system, default: the API server made them; give them the
			// seed's labels (the NetworkPolicies select on them).
			live, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			labels := live.GetLabels()
			for k, v := range u.GetLabels() {
				labels[k] = v
			}
			live.SetLabels(labels)
			if _, err := ri.Update(ctx, live, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if apierrors.IsAlreadyExists(err) {
			continue // seeded by an earlier test on this shared control plane
		}
		if err != nil {
			t.Fatalf("seed %s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
		if hasStatus && len(status) > 0 {
			if _, err := cp.SetStatus(ctx, created, status); err != nil {
				t.Fatalf("seed status of %s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
			}
		}
	}
}

// The preflight phase of examples/gravl-go-live.yaml against a real API
// server holding the state the seed report showed, and a loopback stand-in
// for staging: the report ticked ✅ over a READY False ClusterIssuer and
// ~20 req/s against a >100 req/s target. The cockpit must say NO-GO and
// name both.
func TestGravlPreflightOnTheSeedState(t *testing.T) {
	cp := controlplane.Start(t)
	seedCluster(t, cp)
	kubeconfig := cp.Kubeconfig(t, "gravl-prod")
	sb, err := sandbox.Start(context.Background(), sandbox.Options{Host: "127.0.0.1", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	t.Setenv("HOME", t.TempDir())

	dir := t.TempDir()
	journal := dir + "/gravl.journal.jsonl"
	code, stdout, stderr := cockpit(t, "run", "../../examples/gravl-go-live.yaml", "--kubeconfig", kubeconfig,
		"--journal", journal, "--phase", "preflight", "--auto-confirm-manual", "--operator", "ci",
		"--var", "stagingURL="+sb.HTTPURL, "--var", "baselineDuration=3s", "--var", "dnsResolver="+sb.DNSAddr)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d (NO-GO)\nstdout: %s\nstderr: %s", code, exitFailed, stdout, stderr)
	}
	r, err := signoff.FromJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, st := range r.Phases[0].Steps {
		got[st.ID] = st.Status + ": " + st.Achieved + " " + st.Evidence
	}
	// The seed's own evidence, named; everything the seed got right, passed.
	for step, want := range map[string]string{
		"cluster-issuers":          "failed: 3/4 Ready=True internal-ca-issuer",
		"load-baseline":            "failed: reqs",
		"cert-manager":             "passed",
		"sealed-secrets":           "passed",
		"staging-network-policies": "passed",
		"staging-dns-egress":       "passed",
		"dns-records":              "passed",
		"cluster-access":           "passed",
	} {
		g := got[step]
		for _, w := range strings.Fields(want) {
			if !strings.Contains(g, w) {
				t.Errorf("%s = %q, want it to contain %q", step, g, w)
			}
		}
	}
	if !strings.Contains(got["load-baseline"], "http_reqs: rate>100 fail") {
		t.Errorf("load-baseline does not name the throughput target: %q", got["load-baseline"])
	}
	if !strings.Contains(stdout, "verdict: NO-GO") {
		t.Errorf("stdout lacks the verdict:\n%s", stdout)
	}
	code, md, _ := cockpit(t, "report", journal)
	if code != exitFailed || !strings.Contains(md, "## Verdict: **NO-GO**") {
		t.Errorf("report: exit %d\n%s", code, md)
	}
}
