package actions

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
	"github.com/cockpit-dev/cockpit/internal/kube"
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

// apDeploymentYAML is a Deployment the tests apply (nothing rolls it
// out: there is no controller).
const apDeploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: registry.example/api:1}]}
`

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
	if res.Status != probes.StatusPass || res.Changes != 1 || res.Summary != "1 object: 1 created" || len(progress) != 0 {
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

	var progress []string
	res := apBuild(t, env, spec).Execute(ctx, func(r Result) { progress = append(progress, r.Status.String()+" "+r.Summary) })
	if want := []string{"pending 1/3 done: 1 created", "pending 2/3 done: 1 created, 1 failed"}; !slices.Equal(progress, want) {
		t.Errorf("progress = %q, want %q", progress, want)
	}
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

// apCRD is a namespaced CRD of kind Widget in group, YAML.
func apCRD(group string) string {
	return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.` + group + `
spec:
  group: ` + group + `
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`
}

// A Namespace and a CRD written last are applied first; the plan shows the
// objects that need them as created without a dry run, and the execution
// creates them all, the custom resource once its kind is served.
func TestApplyNamespaceAndCRDFirst(t *testing.T) {
	dir := t.TempDir()
	cp, ns, env := testEnv(t, dir)
	newNS := ns + "-new"
	group := ns + ".cockpit.test"
	apWrite(t, dir, map[string]string{"bundle.yaml": `apiVersion: ` + group + `/v1
kind: Widget
metadata: {name: gizmo, namespace: ` + newNS + `}
spec: {size: 3}
---
` + apCRD(group) + `---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: ` + newNS + `}
data: {k: v}
---
apiVersion: v1
kind: Namespace
metadata: {name: ` + newNS + `}
`})
	spec := &ApplySpec{Files: []string{"bundle.yaml"}}
	if d := spec.Describe(); d != "apply file bundle.yaml (unreadable: bundle.yaml: no such file or directory)" {
		t.Errorf("Describe without a base dir = %q", d)
	}
	spec.SetBaseDir(dir)
	if d := spec.Describe(); d != "apply 4 objects from 1 file to "+newNS {
		t.Errorf("Describe = %q", d)
	}
	want := []string{"Namespace/" + newNS + "=created", "CustomResourceDefinition/widgets." + group + "=created",
		"Widget/" + newNS + "/gizmo=created", "ConfigMap/" + newNS + "/cfg=created"}
	ctx := context.Background()

	plan := apBuild(t, env, spec).Plan(ctx)
	if plan.Status != probes.StatusPass || plan.Changes != 4 || !slices.Equal(apOps(plan), want) {
		t.Fatalf("plan = %s %q %v: %s", plan.Status, plan.Summary, apOps(plan), plan.Message)
	}
	if m := plan.Items[2].Message; !strings.Contains(m, "not dry-run: Widget is not served until its CustomResourceDefinition widgets."+group+" is applied") {
		t.Errorf("custom resource note = %q", m)
	}
	if m := plan.Items[3].Message; !strings.Contains(m, "not dry-run: its namespace "+newNS+" is created by this apply first") {
		t.Errorf("ConfigMap note = %q", m)
	}
	if !strings.Contains(plan.Diff, "+++ planned/Widget/"+newNS+"/gizmo") || !strings.Contains(plan.Diff, "+  size: 3") {
		t.Errorf("plan diff lacks the custom resource:\n%s", plan.Diff)
	}
	if apGet(t, cp, apNamespaces, "", newNS) != nil {
		t.Fatal("the plan created the namespace")
	}

	res := apBuild(t, env, spec).Execute(ctx, nil)
	if res.Status != probes.StatusPass || !slices.Equal(apOps(res), want) {
		t.Fatalf("execute = %s %q %v: %s", res.Status, res.Summary, apOps(res), res.Message)
	}
	widgets := schema.GroupVersionResource{Group: group, Version: "v1", Resource: "widgets"}
	if w := apGet(t, cp, widgets, newNS, "gizmo"); w == nil || res.Objects[2].ResourceVersion != w.GetResourceVersion() {
		t.Errorf("widget live %v, object %+v", w != nil, res.Objects[2])
	}
	if apGet(t, cp, apConfigMaps, newNS, "cfg") == nil {
		t.Error("ConfigMap not created")
	}
}

// Objects of a Namespace or a CRD that failed (and does not exist) are
// skipped; independent ones land.
func TestApplySkipsDependents(t *testing.T) {
	dir := t.TempDir()
	cp, ns, env := testEnv(t, dir)
	group := ns + ".cockpit.test"
	apWrite(t, dir, map[string]string{"deps.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: lonely}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: orphan, namespace: ` + ns + `-gone}
---
apiVersion: ` + group + `/v1
kind: Widget
metadata: {name: orphan}
---
apiVersion: v1
kind: Namespace
metadata: {name: ` + ns + `-gone, labels: {bad: "not a valid label value!"}}
---
` + strings.Replace(apCRD(group), "scope: Namespaced", "scope: Sideways", 1)})
	res := apBuild(t, env, &ApplySpec{Files: []string{"deps.yaml"}}).Execute(context.Background(), nil)
	want := []string{"Namespace/" + ns + "-gone=failed", "CustomResourceDefinition/widgets." + group + "=failed",
		"ConfigMap/" + ns + "/lonely=created", "ConfigMap/" + ns + "-gone/orphan=skipped", "Widget/orphan=skipped"}
	if res.Status != probes.StatusFail || res.Summary != "1 of 5 objects applied; 2 failed; 2 skipped" || !slices.Equal(apOps(res), want) {
		t.Fatalf("execute = %s %q %v", res.Status, res.Summary, apOps(res))
	}
	if e := res.Objects[3].Error; e != "its namespace "+ns+"-gone was not applied" {
		t.Errorf("skipped ConfigMap error = %q", e)
	}
	if e := res.Objects[4].Error; e != "its CustomResourceDefinition widgets."+group+" was not applied" {
		t.Errorf("skipped Widget error = %q", e)
	}
	if apGet(t, cp, apConfigMaps, ns, "lonely") == nil {
		t.Error("the independent ConfigMap did not land")
	}
}

// The step's namespace goes to objects naming none; an object naming
// another is an error, as with kubectl apply -n.
func TestApplyNamespaceOverride(t *testing.T) {
	dir := t.TempDir()
	cp, ns, env := testEnv(t, dir)
	other := cp.Namespace(t)
	apWrite(t, dir, map[string]string{"ns.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: here}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: same, namespace: ` + other + `}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: elsewhere, namespace: ` + ns + `}
`})
	ctx := context.Background()
	res := apBuild(t, env, &ApplySpec{Files: []string{"ns.yaml"}, Namespace: other}).Plan(ctx)
	want := []string{"ConfigMap/" + other + "/here=created", "ConfigMap/" + other + "/same=created", "ConfigMap/" + ns + "/elsewhere=failed"}
	if res.Status != probes.StatusFail || !slices.Equal(apOps(res), want) {
		t.Fatalf("plan = %s %q %v", res.Status, res.Summary, apOps(res))
	}
	if e := res.Objects[2].Error; e != `ns.yaml: document 3: the object's namespace "`+ns+`" does not match the step's namespace "`+other+`"` {
		t.Errorf("mismatch error = %q", e)
	}
	// Without a step namespace, objects keep theirs and the rest go to the
	// context's.
	res = apBuild(t, env, &ApplySpec{Files: []string{"ns.yaml"}}).Execute(ctx, nil)
	want = []string{"ConfigMap/" + ns + "/here=created", "ConfigMap/" + other + "/same=created", "ConfigMap/" + ns + "/elsewhere=created"}
	if res.Status != probes.StatusPass || !slices.Equal(apOps(res), want) {
		t.Fatalf("execute = %s %q %v", res.Status, res.Summary, apOps(res))
	}
	if apGet(t, cp, apConfigMaps, other, "same") == nil || apGet(t, cp, apConfigMaps, ns, "here") == nil {
		t.Error("objects not where they belong")
	}
}

// apNoSecret fails when res, marshalled as the journal stores it, holds
// any of values.
func apNoSecret(t *testing.T, what string, res Result, values ...string) {
	t.Helper()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if strings.Contains(string(b), v) {
			t.Errorf("%s: the result holds the secret value %q:\n%s", what, v, b)
		}
	}
}

// A Secret's values never appear in a result — plan, execution, changed
// value, kubectl's last-applied annotation on the live object — yet a
// changed value shows as a changed marker.
func TestApplySecretRedacted(t *testing.T) {
	dir := t.TempDir()
	cp, ns, env := testEnv(t, dir)
	const (
		password = "s3cr3t-plaintext-password"
		token    = "another-secret-token"
		newPass  = "rotated-plaintext-password"
		legacy   = "legacy-value-from-kubectl"
	)
	b64 := base64.StdEncoding.EncodeToString
	secrets := []string{password, b64([]byte(password)), token, b64([]byte(token)), newPass, b64([]byte(newPass)), legacy, b64([]byte(legacy))}
	manifest := func(pass string) string {
		return `apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: ` + pass + `}
data: {token: ` + b64([]byte(token)) + `}
`
	}
	// A live Secret written by kubectl's client-side apply: its
	// last-applied annotation holds the values too.
	live := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "legacy", "namespace": ns, "annotations": map[string]any{
			lastAppliedAnnotation: `{"apiVersion":"v1","kind":"Secret","stringData":{"old":"` + legacy + `"}}`}},
		"data": map[string]any{"old": b64([]byte(legacy))},
	}}
	cp.Create(t, live)
	apWrite(t, dir, map[string]string{
		"secret.yaml": manifest(password),
		"legacy.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: legacy}\nstringData: {old: " + newPass + "}\n",
		"bad.yaml":    "apiVersion: v1\nkind: Secret\nmetadata: {name: bad}\ntype: kubernetes.io/tls\nstringData: {tls.crt: " + token + "}\n",
	})
	ctx := context.Background()
	spec := &ApplySpec{Files: []string{"secret.yaml", "legacy.yaml", "bad.yaml"}}

	plan := apBuild(t, env, spec).Plan(ctx)
	apNoSecret(t, "plan", plan, secrets...)
	if !strings.Contains(plan.Diff, "+  password: <redacted hmac:") || !strings.Contains(plan.Diff, "-  old: <redacted hmac:") {
		t.Errorf("plan diff does not show redacted values:\n%s", plan.Diff)
	}
	if strings.Contains(plan.Diff, "last-applied") {
		t.Errorf("plan diff shows the last-applied annotation:\n%s", plan.Diff)
	}
	if plan.Objects[2].Op != OpFailed || !strings.Contains(plan.Objects[2].Error, "tls.key") {
		t.Errorf("invalid Secret = %+v", plan.Objects[2])
	}
	res := apBuild(t, env, spec).Execute(ctx, nil)
	apNoSecret(t, "execute", res, secrets...)
	if res.Objects[0].Op != OpCreated || res.Objects[1].Op != OpConfigured {
		t.Errorf("execute = %v", apOps(res))
	}

	// A rotated value: a changed marker, no value.
	apWrite(t, dir, map[string]string{"secret.yaml": manifest(newPass)})
	plan = apBuild(t, env, &ApplySpec{Files: []string{"secret.yaml"}}).Plan(ctx)
	apNoSecret(t, "plan after rotation", plan, secrets...)
	var minus, plus string
	for _, l := range strings.Split(plan.Diff, "\n") {
		switch {
		case strings.HasPrefix(l, "-  password: "):
			minus = l
		case strings.HasPrefix(l, "+  password: "):
			plus = l
		}
	}
	if plan.Changes != 1 || minus == "" || plus == "" || minus[1:] == plus[1:] {
		t.Errorf("rotation: changes %d, diff:\n%s", plan.Changes, plan.Diff)
	}
	if strings.Contains(plan.Diff, "-  token") || strings.Contains(plan.Diff, "+  token") {
		t.Errorf("rotation diff changes the unchanged token:\n%s", plan.Diff)
	}
}

// apNarrowEnv is an Env reading manifests from dir and acting as a user
// bound to a Role with rules in ns.
func apNarrowEnv(t *testing.T, cp *controlplane.ControlPlane, ns, dir, user string, rules []rbacv1.PolicyRule) Env {
	t.Helper()
	ctx := context.Background()
	if len(rules) > 0 {
		if _, err := cp.Typed.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: user}, Rules: rules}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cp.Typed.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: user},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: user},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := probes.NewClusterForConfig("narrow", cp.UserConfig(t, user), ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return Env{Dir: dir, Kube: func(string) (*probes.Cluster, error) { return c, nil }}
}

// A user whose Role lacks a verb gets StatusForbidden naming the verb and
// resource, per object, in the plan and the execution.
func TestApplyForbidden(t *testing.T) {
	dir := t.TempDir()
	cp, ns, _ := testEnv(t, dir)
	apWrite(t, dir, map[string]string{"cm.yaml": apConfigMapYAML, "deploy.yaml": apDeploymentYAML})
	cp.CreateYAML(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: "+ns+"}\n")
	cmRule := func(verbs ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: verbs}
	}
	nobody := apNarrowEnv(t, cp, ns, dir, "ap-nobody", nil)
	getter := apNarrowEnv(t, cp, ns, dir, "ap-getter", []rbacv1.PolicyRule{cmRule("get"), {APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "patch"}}})
	tests := []struct {
		name  string
		env   Env
		files []string
		plan  bool
		want  []string // items' messages
	}{
		{"get", nobody, []string{"cm.yaml"}, true, []string{"forbidden: get configmaps in namespace " + ns}},
		{"patch plan", getter, []string{"cm.yaml"}, true, []string{"forbidden: patch configmaps in namespace " + ns}},
		{"patch", getter, []string{"cm.yaml"}, false, []string{"forbidden: patch configmaps in namespace " + ns}},
		{"create", getter, []string{"deploy.yaml"}, false, []string{"forbidden: create deployments.apps in namespace " + ns}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			act := apBuild(t, tt.env, &ApplySpec{Files: tt.files})
			var res Result
			if tt.plan {
				res = act.Plan(context.Background())
			} else {
				res = act.Execute(context.Background(), nil)
			}
			if res.Status != probes.StatusForbidden {
				t.Errorf("status = %s %q", res.Status, res.Message)
			}
			var msgs []string
			for _, it := range res.Items {
				msgs = append(msgs, strings.TrimPrefix(it.Message, tt.files[0]+": document 1: "))
				if it.Status != probes.StatusForbidden || it.Reason != "Forbidden" {
					t.Errorf("item = %+v", it)
				}
			}
			if !slices.Equal(msgs, tt.want) {
				t.Errorf("messages = %q, want %q", msgs, tt.want)
			}
		})
	}
}

// A field another manager owns is a conflict, named with the way out;
// force takes it over.
func TestApplyConflictAndForce(t *testing.T) {
	dir := t.TempDir()
	cp, ns, env := testEnv(t, dir)
	other := []byte(`{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": "red"}}`)
	force := true
	if _, err := cp.Dynamic.Resource(apConfigMaps).Namespace(ns).Patch(context.Background(), "settings", types.ApplyPatchType, other,
		metav1.PatchOptions{FieldManager: "helm", Force: &force}); err != nil {
		t.Fatal(err)
	}
	apWrite(t, dir, map[string]string{"cm.yaml": apConfigMapYAML})
	ctx := context.Background()
	res := apBuild(t, env, &ApplySpec{Files: []string{"cm.yaml"}}).Plan(ctx)
	if res.Status != probes.StatusFail || res.Items[0].Reason != "Conflict" ||
		!strings.Contains(res.Message, `conflict with "helm"`) || !strings.Contains(res.Message, "set force: true to take these fields over") {
		t.Fatalf("plan = %s %q: %s (%s)", res.Status, res.Summary, res.Message, res.Items[0].Reason)
	}
	res = apBuild(t, env, &ApplySpec{Files: []string{"cm.yaml"}, Force: true}).Execute(ctx, nil)
	if res.Status != probes.StatusPass || res.Objects[0].Op != OpConfigured || !strings.Contains(res.Diff, "-  mode: red\n+  mode: blue\n") {
		t.Fatalf("forced = %s %q %v:\n%s", res.Status, res.Summary, apOps(res), res.Diff)
	}
}

// A context already ended: nothing is tried, and the result says so.
func TestApplyCancelled(t *testing.T) {
	dir := t.TempDir()
	cp, ns, env := testEnv(t, dir)
	apWrite(t, dir, map[string]string{"cm.yaml": apConfigMapYAML + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: two}\n"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := apBuild(t, env, &ApplySpec{Files: []string{"cm.yaml"}}).Execute(ctx, nil)
	if res.Status != probes.StatusFail || res.Summary != "0 of 2 objects applied; 2 skipped" || res.Objects[0].Error != "not tried: context canceled" {
		t.Errorf("result = %s %q %+v", res.Status, res.Summary, res.Objects)
	}
	if apGet(t, cp, apConfigMaps, ns, "settings") != nil {
		t.Error("applied after cancel")
	}
}

// A directory of real manifests (testdata/apply/app): read in lexical
// order, created, then idempotent; a Deployment's generation reported.
func TestApplyDirectory(t *testing.T) {
	dir, err := filepath.Abs("testdata/apply")
	if err != nil {
		t.Fatal(err)
	}
	cp, ns, env := testEnv(t, dir)
	spec := &ApplySpec{Files: []string{"app"}, Namespace: ns}
	spec.SetBaseDir(dir)
	if d := spec.Describe(); d != "apply 5 objects from 3 files to "+ns {
		t.Errorf("Describe = %q", d)
	}
	ctx := context.Background()
	want := []string{"ConfigMap/" + ns + "/api-settings=created", "Secret/" + ns + "/api-credentials=created",
		"Deployment/" + ns + "/api=created", "Service/" + ns + "/api=created", "NetworkPolicy/" + ns + "/api-ingress=created"}
	plan := apBuild(t, env, spec).Plan(ctx)
	if plan.Status != probes.StatusPass || plan.Summary != "5 objects: 5 created" || !slices.Equal(apOps(plan), want) {
		t.Fatalf("plan = %s %q %v: %s", plan.Status, plan.Summary, apOps(plan), plan.Message)
	}
	apNoSecret(t, "plan", plan, "fixture-database-password")
	res := apBuild(t, env, spec).Execute(ctx, nil)
	if res.Status != probes.StatusPass || !slices.Equal(apOps(res), want) {
		t.Fatalf("execute = %s %q %v: %s", res.Status, res.Summary, apOps(res), res.Message)
	}
	apNoSecret(t, "execute", res, "fixture-database-password")
	d := apGet(t, cp, apDeployments, ns, "api")
	if o := res.Objects[2]; o.Generation != 1 || o.Generation != d.GetGeneration() || o.ResourceVersion != d.GetResourceVersion() {
		t.Errorf("Deployment object = %+v, live generation %d rv %s", o, d.GetGeneration(), d.GetResourceVersion())
	}
	again := apBuild(t, env, spec).Plan(ctx)
	if again.Changes != 0 || again.Diff != "" || again.Summary != "5 objects: 5 unchanged" {
		t.Errorf("re-plan = %q changes %d:\n%s", again.Summary, again.Changes, again.Diff)
	}
}

// A custom resource whose CRD the same apply creates cannot be dry-run,
// yet its plan checks what the execution will: the step's namespace, a
// Namespace of the apply that failed, a namespace that does not exist.
// The plan and the execution agree, object by object.
func TestApplyCRDShortcutChecksNamespace(t *testing.T) {
	dir := t.TempDir()
	cp, ns, env := testEnv(t, dir)
	other := cp.Namespace(t)
	widget := func(group, namespace string) string {
		md := "{name: gizmo}"
		if namespace != "" {
			md = "{name: gizmo, namespace: " + namespace + "}"
		}
		return "apiVersion: " + group + "/v1\nkind: Widget\nmetadata: " + md + "\nspec: {size: 3}\n---\n" + apCRD(group)
	}
	tests := []struct {
		name      string
		namespace string // the step's
		bundle    func(group string) string
		want      func(group string) []string // ops of plan and execution
		widgetErr string                      // the Widget's error, in both
	}{
		{
			name: "another namespace than the step's", namespace: other,
			bundle: func(g string) string { return widget(g, ns) },
			want: func(g string) []string {
				return []string{"CustomResourceDefinition/widgets." + g + "=created", "Widget/" + ns + "/gizmo=failed"}
			},
			widgetErr: `the object's namespace "` + ns + `" does not match the step's namespace "` + other + `"`,
		},
		{
			name: "its Namespace fails",
			bundle: func(g string) string {
				return widget(g, ns+"-bad") + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns + "-bad, labels: {bad: \"not a label!\"}}\n"
			},
			want: func(g string) []string {
				return []string{"Namespace/" + ns + "-bad=failed", "CustomResourceDefinition/widgets." + g + "=created", "Widget/" + ns + "-bad/gizmo=skipped"}
			},
			widgetErr: "its namespace " + ns + "-bad was not applied",
		},
		{
			name:   "its namespace does not exist",
			bundle: func(g string) string { return widget(g, ns+"-nowhere") },
			want: func(g string) []string {
				return []string{"CustomResourceDefinition/widgets." + g + "=created", "Widget/" + ns + "-nowhere/gizmo=failed"}
			},
			widgetErr: ns + "-nowhere",
		},
		{
			name: "the step's namespace for an object naming none", namespace: other,
			bundle: func(g string) string { return widget(g, "") },
			want: func(g string) []string {
				return []string{"CustomResourceDefinition/widgets." + g + "=created", "Widget/" + other + "/gizmo=created"}
			},
		},
	}
	ctx := context.Background()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			group := fmt.Sprintf("%s-%d.cockpit.test", ns, i)
			file := fmt.Sprintf("crd-%d.yaml", i)
			apWrite(t, dir, map[string]string{file: tt.bundle(group)})
			spec := &ApplySpec{Files: []string{file}, Namespace: tt.namespace}
			want := tt.want(group)
			plan := apBuild(t, env, spec).Plan(ctx)
			res := apBuild(t, env, spec).Execute(ctx, nil)
			for _, r := range []struct {
				what string
				res  Result
			}{{"plan", plan}, {"execute", res}} {
				if !slices.Equal(apOps(r.res), want) {
					t.Fatalf("%s = %s %q %v, want %v: %s", r.what, r.res.Status, r.res.Summary, apOps(r.res), want, r.res.Message)
				}
				w := r.res.Objects[len(want)-1]
				if tt.widgetErr == "" && (r.res.Status != probes.StatusPass || w.Error != "") ||
					tt.widgetErr != "" && (r.res.Status != probes.StatusFail || !strings.Contains(w.Error, tt.widgetErr)) {
					t.Errorf("%s: %s, Widget %+v, want error %q", r.what, r.res.Status, w, tt.widgetErr)
				}
			}
		})
	}
}

// A manifest dumped from the cluster (kubectl get -o yaml, a List) after
// the object changed: its stale resourceVersion, uid, managedFields,
// generation and status are not applied, so it applies as written.
func TestApplyClusterDump(t *testing.T) {
	dir := t.TempDir()
	cp, ns, env := testEnv(t, dir)
	// Applied by cockpit first, so that the fields are its own.
	apWrite(t, dir, map[string]string{"first.yaml": apConfigMapYAML + "---\n" + apDeploymentYAML})
	ctx := context.Background()
	if res := apBuild(t, env, &ApplySpec{Files: []string{"first.yaml"}}).Execute(ctx, nil); res.Status != probes.StatusPass {
		t.Fatalf("first apply = %s %q: %s", res.Status, res.Summary, res.Message)
	}
	cm := apGet(t, cp, apConfigMaps, ns, "settings")
	deploy := apGet(t, cp, apDeployments, ns, "api")
	// The dump as kubectl shows it: server fields, a status.
	if err := unstructured.SetNestedField(deploy.Object, map[string]any{"replicas": int64(7), "observedGeneration": int64(9)}, "status"); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(deploy.Object, int64(2), "spec", "replicas"); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(cm.Object, "green", "data", "mode"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*unstructured.Unstructured{cm, deploy} {
		if u.GetResourceVersion() == "" || u.GetUID() == "" || len(u.GetManagedFields()) == 0 {
			t.Fatalf("the dump lacks server fields: %v", u.Object["metadata"])
		}
	}
	dump, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": []any{cm.Object, deploy.Object}})
	if err != nil {
		t.Fatal(err)
	}
	apWrite(t, dir, map[string]string{"dump.json": string(dump)})
	// The ConfigMap changes after the dump: its resourceVersion is stale.
	stale := cm.GetResourceVersion()
	if _, err := cp.Dynamic.Resource(apConfigMaps).Namespace(ns).Patch(ctx, "settings", types.MergePatchType,
		[]byte(`{"metadata": {"labels": {"touched": "yes"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"ConfigMap/" + ns + "/settings=configured", "Deployment/" + ns + "/api=configured"}
	spec := &ApplySpec{Files: []string{"dump.json"}}
	plan := apBuild(t, env, spec).Plan(ctx)
	if plan.Status != probes.StatusPass || !slices.Equal(apOps(plan), want) {
		t.Fatalf("plan = %s %q %v: %s", plan.Status, plan.Summary, apOps(plan), plan.Message)
	}
	res := apBuild(t, env, spec).Execute(ctx, nil)
	if res.Status != probes.StatusPass || !slices.Equal(apOps(res), want) {
		t.Fatalf("execute = %s %q %v: %s", res.Status, res.Summary, apOps(res), res.Message)
	}
	live := apGet(t, cp, apConfigMaps, ns, "settings")
	if mode, _, _ := unstructured.NestedString(live.Object, "data", "mode"); mode != "green" || live.GetResourceVersion() == stale {
		t.Errorf("ConfigMap mode %q, resourceVersion %s (dump's %s)", mode, live.GetResourceVersion(), stale)
	}
	d := apGet(t, cp, apDeployments, ns, "api")
	if r, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); r != 2 {
		t.Errorf("Deployment replicas = %d", r)
	}
	if _, has := d.Object["status"].(map[string]any)["replicas"]; has {
		t.Errorf("the dump's status was applied: %v", d.Object["status"])
	}
	for _, mf := range d.GetManagedFields() {
		if mf.Manager == FieldManager && mf.FieldsV1 != nil && strings.Contains(mf.FieldsV1.GetRawString(), "status") {
			t.Errorf("cockpit owns status fields: %s", mf.FieldsV1.GetRawString())
		}
	}
}

// force: true is offered for a server-side apply's field manager conflict
// only, not for other conflicts the API server reports.
func TestApplyForceHintOnlyForFieldConflicts(t *testing.T) {
	cp, ns, _ := testEnv(t, t.TempDir())
	ctx := context.Background()
	cms := cp.Dynamic.Resource(apConfigMaps).Namespace(ns)
	cm := cp.CreateYAML(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: "+ns+"}\ndata: {mode: blue}\n")[0]
	// Owned by helm through an apply of its own.
	force := true
	if _, err := cms.Patch(ctx, "settings", types.ApplyPatchType, []byte(`{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": "red"}}`),
		metav1.PatchOptions{FieldManager: "helm", Force: &force}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
		want bool
	}{
		{"field manager conflict", func() error {
			_, err := cms.Patch(ctx, "settings", types.ApplyPatchType, []byte(`{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"mode": "blue"}}`),
				metav1.PatchOptions{FieldManager: FieldManager})
			return err
		}, true},
		{"stale resourceVersion", func() error {
			_, err := cms.Update(ctx, cm, metav1.UpdateOptions{}) // cm is the version before helm's apply
			return err
		}, false},
		{"stale resourceVersion in an apply", func() error {
			_, err := cms.Patch(ctx, "settings", types.ApplyPatchType, []byte(`{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "resourceVersion": "`+cm.GetResourceVersion()+`"}}`),
				metav1.PatchOptions{FieldManager: FieldManager})
			return err
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := kube.Err(tt.call(), kube.Call{Verb: "patch", Resource: "configmaps", Namespace: ns, Name: "settings"})
			if !apierrors.IsConflict(err) {
				t.Fatalf("the API server answered %v, want a conflict", err)
			}
			if got := isFieldManagerConflict(err); got != tt.want {
				t.Errorf("isFieldManagerConflict(%v) = %v, want %v", err, got, tt.want)
			}
		})
	}
}

// The same object twice fails Build, naming both sources, also when one
// copy names no namespace and the other the namespace it goes to anyway:
// the step's, or the context's when the step names none.
func TestApplyDuplicateInEffectiveNamespace(t *testing.T) {
	dir := t.TempDir()
	cp, ns, env := testEnv(t, dir)
	other := cp.Namespace(t)
	cm := func(namespace string) string {
		if namespace == "" {
			return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: blue}\n"
		}
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: " + namespace + "}\ndata: {mode: green}\n"
	}
	tests := []struct {
		name      string
		namespace string // the step's
		a, b      string
		err       string // Build's error; "" builds
		ops       []string
	}{
		{"the step's namespace", ns, cm(""), cm(ns),
			"read manifests: b.yaml: document 1: ConfigMap settings is also in a.yaml: document 1 (both in namespace " + ns + ")", nil},
		{"the context's namespace", "", cm(ns), cm(""),
			"read manifests: b.yaml: document 1: ConfigMap settings is also in a.yaml: document 1 (both in namespace " + ns + ")", nil},
		{"as written", "", cm(other), cm(other),
			"read manifests: b.yaml: document 1: ConfigMap settings is also in a.yaml: document 1", nil},
		{"a cluster-scoped kind", "", "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns + "-x}\n", "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns + "-x, namespace: " + ns + "}\n",
			"read manifests: b.yaml: document 1: Namespace " + ns + "-x is also in a.yaml: document 1 (cluster-scoped)", nil},
		{"two namespaces", "", cm(""), cm(other), "",
			[]string{"ConfigMap/" + ns + "/settings=created", "ConfigMap/" + other + "/settings=created"}},
		{"another namespace than the step's", ns, cm(""), cm(other), "",
			[]string{"ConfigMap/" + ns + "/settings=created", "ConfigMap/" + other + "/settings=failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			apWrite(t, dir, map[string]string{"a.yaml": tt.a, "b.yaml": tt.b})
			spec := &ApplySpec{Files: []string{"a.yaml", "b.yaml"}, Namespace: tt.namespace}
			if err := spec.Validate(); err != nil {
				t.Fatal(err)
			}
			a, err := spec.Build(env)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("Build = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if plan := a.Plan(context.Background()); !slices.Equal(apOps(plan), tt.ops) {
				t.Errorf("plan = %v, want %v: %s", apOps(plan), tt.ops, plan.Message)
			}
		})
	}
}
