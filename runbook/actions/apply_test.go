package actions

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
	"github.com/cockpit-dev/cockpit/probes"
)

// apWrite writes files (name → content) under dir, making directories.
func apWrite(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// apBuild validates and builds an apply spec.
func apBuild(t *testing.T, env Env, spec *ApplySpec) Action {
	t.Helper()
	if err := spec.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	a, err := spec.Build(env)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return a
}

var (
	apConfigMaps  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	apDeployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	apNamespaces  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	apSecrets     = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
)

// apGet reads an object as the admin; nil when it does not exist.
func apGet(t *testing.T, cp *controlplane.ControlPlane, gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	t.Helper()
	var ri = cp.Dynamic.Resource(gvr)
	var (
		u   *unstructured.Unstructured
		err error
	)
	if ns == "" {
		u, err = ri.Get(context.Background(), name, metav1.GetOptions{})
	} else {
		u, err = ri.Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("get %s %s/%s: %v", gvr.Resource, ns, name, err)
	}
	return u
}

// apOps is the result's objects as "Ref=op" strings.
func apOps(res Result) []string {
	var out []string
	for _, o := range res.Objects {
		out = append(out, o.Ref+"="+o.Op)
	}
	return out
}

const apConfigMapYAML = `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: blue
  retries: "3"
`

// Plan shows the diff of a new object and creates nothing; Execute
// creates it; a second plan is empty; a changed field shows as exactly
// that change, and Execute configures it.
func TestApplyLifecycle(t *testing.T) {
	dir := t.TempDir()
	cp, ns, env := testEnv(t, dir)
	apWrite(t, dir, map[string]string{"manifests/cm.yaml": apConfigMapYAML})
	spec := &ApplySpec{Files: []string{"manifests/cm.yaml"}}
	ctx := context.Background()
	ref := "ConfigMap/" + ns + "/settings"

	plan := apBuild(t, env, spec).Plan(ctx)
	if plan.Status != probes.StatusPass || plan.Changes != 1 || plan.Summary != "1 object: 1 created" {
		t.Fatalf("plan = %s %q changes %d: %s", plan.Status, plan.Summary, plan.Changes, plan.Message)
	}
	if !slices.Equal(apOps(plan), []string{ref + "=created"}) || plan.Objects[0].ResourceVersion != "" {
		t.Errorf("plan objects = %+v", plan.Objects)
	}
	for _, want := range []string{"--- live/" + ref, "+++ planned/" + ref, "+  mode: blue", "+  name: settings", "+  namespace: " + ns} {
		if !strings.Contains(plan.Diff, want) {
			t.Errorf("plan diff lacks %q:\n%s", want, plan.Diff)
		}
	}
	for _, noise := range []string{"managedFields", "resourceVersion", "uid:", "creationTimestamp"} {
		if strings.Contains(plan.Diff, noise) {
			t.Errorf("plan diff shows %s:\n%s", noise, plan.Diff)
		}
	}
	if u := apGet(t, cp, apConfigMaps, ns, "settings"); u != nil {
		t.Fatalf("the plan created the ConfigMap: %v", u)
	}

	var progress []Result
	res := apBuild(t, env, spec).Execute(ctx, func(r Result) { progress = append(progress, r) })
	if res.Status != probes.StatusPass || res.Changes != 1 || res.Summary != "1 object: 1 created" || len(progress) != 1 {
		t.Fatalf("execute = %s %q changes %d (%d progress): %s", res.Status, res.Summary, res.Changes, len(progress), res.Message)
	}
	live := apGet(t, cp, apConfigMaps, ns, "settings")
	if live == nil {
		t.Fatal("the ConfigMap was not created")
	}
	if o := res.Objects[0]; o.Op != OpCreated || o.ResourceVersion != live.GetResourceVersion() {
		t.Errorf("object = %+v, live resourceVersion %s", o, live.GetResourceVersion())
	}
	if !strings.Contains(res.Diff, "+++ applied/"+ref) {
		t.Errorf("execute diff:\n%s", res.Diff)
	}

	// Idempotent: nothing to do, no diff, nothing changed.
	for _, run := range []struct {
		name string
		do   func(Action) Result
	}{
		{"plan", func(a Action) Result { return a.Plan(ctx) }},
		{"execute", func(a Action) Result { return a.Execute(ctx, nil) }},
	} {
		again := run.do(apBuild(t, env, spec))
		if again.Status != probes.StatusPass || again.Changes != 0 || again.Diff != "" || again.Summary != "1 object: 1 unchanged" {
			t.Errorf("re-%s = %s %q changes %d diff:\n%s", run.name, again.Status, again.Summary, again.Changes, again.Diff)
		}
	}
	if rv := apGet(t, cp, apConfigMaps, ns, "settings").GetResourceVersion(); rv != live.GetResourceVersion() {
		t.Errorf("re-apply changed resourceVersion %s → %s", live.GetResourceVersion(), rv)
	}

	// One field changed: the diff is exactly that line.
	apWrite(t, dir, map[string]string{"manifests/cm.yaml": strings.Replace(apConfigMapYAML, "mode: blue", "mode: green", 1)})
	plan = apBuild(t, env, spec).Plan(ctx)
	if plan.Changes != 1 || !slices.Equal(apOps(plan), []string{ref + "=configured"}) {
		t.Fatalf("plan after a change = %q %v", plan.Summary, apOps(plan))
	}
	var changed []string
	for _, l := range strings.Split(plan.Diff, "\n") {
		if (strings.HasPrefix(l, "+") || strings.HasPrefix(l, "-")) && !strings.HasPrefix(l, "+++") && !strings.HasPrefix(l, "---") {
			changed = append(changed, l)
		}
	}
	if !slices.Equal(changed, []string{"-  mode: blue", "+  mode: green"}) {
		t.Errorf("changed lines = %q; diff:\n%s", changed, plan.Diff)
	}
	res = apBuild(t, env, spec).Execute(ctx, nil)
	if res.Status != probes.StatusPass || !slices.Equal(apOps(res), []string{ref + "=configured"}) || res.Objects[0].ResourceVersion == live.GetResourceVersion() {
		t.Errorf("execute after a change = %s %q %+v", res.Status, res.Summary, res.Objects)
	}
	if mode, _, _ := unstructured.NestedString(apGet(t, cp, apConfigMaps, ns, "settings").Object, "data", "mode"); mode != "green" {
		t.Errorf("live mode = %q", mode)
	}
}

// A stream with a valid ConfigMap, an invalid Deployment and another
// ConfigMap: the valid ones land, the invalid one fails with the server's
// message, and the cluster agrees.
func TestApplyPartialFailure(t *testing.T) {
	dir := t.TempDir()
	cp, ns, env := testEnv(t, dir)
	apWrite(t, dir, map[string]string{"mixed.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: first}
data: {a: "1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: broken}
spec:
  template:
    metadata: {labels: {app: broken}}
    spec: {}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: second}
data: {b: "2"}
`})
	spec := &ApplySpec{Files: []string{"mixed.yaml"}}
	ctx := context.Background()

	plan := apBuild(t, env, spec).Plan(ctx)
	if plan.Status != probes.StatusFail || plan.Summary != "3 objects: 2 created, 1 failed" {
		t.Errorf("plan = %s %q", plan.Status, plan.Summary)
	}

	res := apBuild(t, env, spec).Execute(ctx, nil)
	want := []string{"ConfigMap/" + ns + "/first=created", "Deployment/" + ns + "/broken=failed", "ConfigMap/" + ns + "/second=created"}
	if res.Status != probes.StatusFail || res.Summary != "2 of 3 objects applied; 1 failed" || !slices.Equal(apOps(res), want) {
		t.Fatalf("execute = %s %q %v", res.Status, res.Summary, apOps(res))
	}
	bad := res.Objects[1]
	if !strings.Contains(bad.Error, "mixed.yaml: document 2") || !strings.Contains(bad.Error, `Deployment.apps "broken" is invalid`) || !strings.Contains(bad.Error, "spec.selector") {
		t.Errorf("failed object error = %q", bad.Error)
	}
	if it := res.Items[1]; it.Status != probes.StatusFail || it.Reason != "Invalid" {
		t.Errorf("failed item = %+v", it)
	}
	if !strings.Contains(res.Message, "Deployment/"+ns+"/broken: failed:") {
		t.Errorf("message = %q", res.Message)
	}
	for i, name := range []string{"first", "second"} {
		live := apGet(t, cp, apConfigMaps, ns, name)
		o := res.Objects[i*2]
		if live == nil || o.ResourceVersion != live.GetResourceVersion() {
			t.Errorf("%s: live %v, object %+v", name, live != nil, o)
		}
	}
	if apGet(t, cp, apDeployments, ns, "broken") != nil {
		t.Error("the invalid Deployment exists")
	}
}
