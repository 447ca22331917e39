package actions

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
	"github.com/cockpit-dev/cockpit/probes"
)

var ptIngresses = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}

// ptBuild validates and builds a spec.
func ptBuild(t *testing.T, env Env, spec Spec) Action {
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

// ptIngress is an Ingress named name in ns with extra annotations.
func ptIngress(ns, name, annotations string) string {
	return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ` + name + `
  namespace: ` + ns + `
  annotations: {` + annotations + `}
spec:
  rules:
  - host: ` + name + `.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: ` + name + `, port: {number: 80}}}
`
}

// The seed's use case: the cluster issuer on an Ingress. The plan diffs
// the annotation and changes nothing; the execution sets it; a second
// plan has nothing to do.
func TestAnnotateIngress(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	before := cp.CreateYAML(t, ptIngress(ns, "web", `team: gravl`))[0]
	spec := &AnnotateSpec{
		TargetSpec:   TargetSpec{Resource: "ingress", Names: []string{"web"}, Namespace: ns},
		MetadataEdit: MetadataEdit{Set: map[string]string{"cert-manager.io/cluster-issuer": "letsencrypt-prod"}},
	}
	if d := spec.Describe(); d != "annotate ingress web in "+ns+": set cert-manager.io/cluster-issuer=letsencrypt-prod" {
		t.Errorf("Describe = %q", d)
	}
	ctx := context.Background()
	ref := "Ingress/" + ns + "/web"

	plan := ptBuild(t, env, spec).Plan(ctx)
	if plan.Status != probes.StatusPass || plan.Changes != 1 || !slices.Equal(apOps(plan), []string{ref + "=configured"}) {
		t.Fatalf("plan = %s %q %v: %s", plan.Status, plan.Summary, apOps(plan), plan.Message)
	}
	wantDiff := "--- live/" + ref + "\n+++ planned/" + ref + "\n@@ -2,6 +2,7 @@\n kind: Ingress\n metadata:\n   annotations:\n" +
		"+    cert-manager.io/cluster-issuer: letsencrypt-prod\n     team: gravl\n   name: web\n   namespace: " + ns + "\n"
	if plan.Diff != wantDiff {
		t.Errorf("plan diff:\n%s\nwant:\n%s", plan.Diff, wantDiff)
	}
	if live := apGet(t, cp, ptIngresses, ns, "web"); live.GetResourceVersion() != before.GetResourceVersion() {
		t.Fatal("the plan changed the Ingress")
	}

	res := ptBuild(t, env, spec).Execute(ctx, nil)
	live := apGet(t, cp, ptIngresses, ns, "web")
	if res.Status != probes.StatusPass || res.Summary != "1 object: 1 configured" || res.Objects[0].ResourceVersion != live.GetResourceVersion() {
		t.Fatalf("execute = %s %q %+v", res.Status, res.Summary, res.Objects)
	}
	if got := live.GetAnnotations(); got["cert-manager.io/cluster-issuer"] != "letsencrypt-prod" || got["team"] != "gravl" {
		t.Errorf("live annotations = %v", got)
	}
	again := ptBuild(t, env, spec).Plan(ctx)
	if again.Status != probes.StatusPass || again.Changes != 0 || again.Diff != "" || again.Summary != "1 object: 1 unchanged" {
		t.Errorf("second plan = %s %q changes %d diff %q", again.Status, again.Summary, again.Changes, again.Diff)
	}
}

// Without overwrite, a key with another value refuses the object (others
// go on); the same value is fine; with overwrite it changes.
func TestAnnotateOverwrite(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	cp.CreateYAML(t, ptIngress(ns, "staging", `cert-manager.io/cluster-issuer: letsencrypt-staging`))
	cp.CreateYAML(t, ptIngress(ns, "ready", `cert-manager.io/cluster-issuer: letsencrypt-prod`))
	cp.CreateYAML(t, ptIngress(ns, "bare", ``))
	set := MetadataEdit{Set: map[string]string{"cert-manager.io/cluster-issuer": "letsencrypt-prod"}}
	target := TargetSpec{Resource: "ingresses.networking.k8s.io", Names: []string{"staging", "ready", "bare"}}
	ctx := context.Background()

	res := ptBuild(t, env, &AnnotateSpec{TargetSpec: target, MetadataEdit: set}).Execute(ctx, nil)
	want := []string{"Ingress/" + ns + "/staging=failed", "Ingress/" + ns + "/ready=unchanged", "Ingress/" + ns + "/bare=configured"}
	if res.Status != probes.StatusFail || res.Summary != "2 of 3 objects annotated; 1 failed" || !slices.Equal(apOps(res), want) {
		t.Fatalf("execute = %s %q %v", res.Status, res.Summary, apOps(res))
	}
	if e := res.Objects[0].Error; e != `annotation cert-manager.io/cluster-issuer already has a value ("letsencrypt-staging"), and overwrite is false` || res.Items[0].Reason != "AlreadySet" {
		t.Errorf("refusal = %q (%s)", e, res.Items[0].Reason)
	}
	if v := apGet(t, cp, ptIngresses, ns, "staging").GetAnnotations()["cert-manager.io/cluster-issuer"]; v != "letsencrypt-staging" {
		t.Errorf("refused object changed: %q", v)
	}

	set.Overwrite = true
	res = ptBuild(t, env, &AnnotateSpec{TargetSpec: target, MetadataEdit: set}).Execute(ctx, nil)
	want = []string{"Ingress/" + ns + "/staging=configured", "Ingress/" + ns + "/ready=unchanged", "Ingress/" + ns + "/bare=unchanged"}
	if res.Status != probes.StatusPass || !slices.Equal(apOps(res), want) {
		t.Fatalf("overwrite = %s %q %v", res.Status, res.Summary, apOps(res))
	}
	if !strings.Contains(res.Diff, "-    cert-manager.io/cluster-issuer: letsencrypt-staging\n+    cert-manager.io/cluster-issuer: letsencrypt-prod\n") {
		t.Errorf("overwrite diff:\n%s", res.Diff)
	}
	if v := apGet(t, cp, ptIngresses, ns, "staging").GetAnnotations()["cert-manager.io/cluster-issuer"]; v != "letsencrypt-prod" {
		t.Errorf("overwritten value = %q", v)
	}
}

// Label removal by selector: the matching objects lose the label, others
// are untouched; a selector matching nothing fails.
func TestLabelRemoveBySelector(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	cp.CreateYAML(t, `apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: `+ns+`, labels: {app: api, canary: "true"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, namespace: `+ns+`, labels: {app: api}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: `+ns+`, labels: {app: web, canary: "true"}}
`)
	spec := &LabelSpec{TargetSpec: TargetSpec{Resource: "cm", Selector: "app=api"}, MetadataEdit: MetadataEdit{Remove: []string{"canary"}}}
	if d := spec.Describe(); d != "label cm selected by app=api: remove canary" {
		t.Errorf("Describe = %q", d)
	}
	ctx := context.Background()
	plan := ptBuild(t, env, spec).Plan(ctx)
	if plan.Changes != 1 || !strings.Contains(plan.Diff, "-    canary: \"true\"") {
		t.Errorf("plan = %q changes %d diff:\n%s", plan.Summary, plan.Changes, plan.Diff)
	}
	res := ptBuild(t, env, spec).Execute(ctx, nil)
	want := []string{"ConfigMap/" + ns + "/a=configured", "ConfigMap/" + ns + "/b=unchanged"}
	if res.Status != probes.StatusPass || !slices.Equal(apOps(res), want) {
		t.Fatalf("execute = %s %q %v", res.Status, res.Summary, apOps(res))
	}
	if l := apGet(t, cp, apConfigMaps, ns, "a").GetLabels(); l["canary"] != "" || l["app"] != "api" {
		t.Errorf("a labels = %v", l)
	}
	if l := apGet(t, cp, apConfigMaps, ns, "c").GetLabels(); l["canary"] != "true" {
		t.Errorf("c labels = %v", l)
	}
	none := ptBuild(t, env, &LabelSpec{TargetSpec: TargetSpec{Resource: "cm", Selector: "app=nothing"}, MetadataEdit: MetadataEdit{Set: map[string]string{"x": "y"}}}).Plan(ctx)
	if none.Status != probes.StatusFail || none.Summary != "no configmaps match app=nothing in "+ns {
		t.Errorf("no match = %s %q", none.Status, none.Summary)
	}
}

// Merge, JSON and strategic patches, their failures, and a missing object.
func TestPatch(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	cp.CreateYAML(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: "+ns+"}\ndata: {mode: blue, size: \"1\"}\n")
	cp.CreateYAML(t, `apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: web, namespace: `+ns+`}
spec: {secretName: web-tls, dnsNames: [web.example.com], issuerRef: {name: letsencrypt-staging, kind: ClusterIssuer}}
`)
	tests := []struct {
		name     string
		spec     PatchSpec
		status   probes.Status
		ops      []string
		diff     []string // changed lines
		errorHas string
		check    func(t *testing.T)
	}{
		{
			name:   "merge",
			spec:   PatchSpec{TargetSpec: TargetSpec{Resource: "configmaps", Names: []string{"cfg"}}, Patch: map[string]any{"data": map[string]any{"mode": "green", "size": nil}}},
			status: probes.StatusPass, ops: []string{"ConfigMap/" + ns + "/cfg=configured"},
			diff: []string{"-  mode: blue", "-  size: \"1\"", "+  mode: green"},
			check: func(t *testing.T) {
				if d := apGet(t, cp, apConfigMaps, ns, "cfg").Object["data"]; !mapEqual(d, map[string]any{"mode": "green"}) {
					t.Errorf("data = %v", d)
				}
			},
		},
		{
			name:   "json",
			spec:   PatchSpec{TargetSpec: TargetSpec{Resource: "configmap", Names: []string{"cfg"}}, Type: "json", Patch: []any{map[string]any{"op": "add", "path": "/data/extra", "value": "x"}}},
			status: probes.StatusPass, ops: []string{"ConfigMap/" + ns + "/cfg=configured"},
			diff: []string{"+  extra: x"},
		},
		{
			name:   "json as a string",
			spec:   PatchSpec{TargetSpec: TargetSpec{Resource: "configmap", Names: []string{"cfg"}}, Type: "json", Patch: `[{"op": "replace", "path": "/data/extra", "value": "z"}]`},
			status: probes.StatusPass, ops: []string{"ConfigMap/" + ns + "/cfg=configured"},
			diff: []string{"-  extra: x", "+  extra: z"},
		},
		{
			name:   "json test fails",
			spec:   PatchSpec{TargetSpec: TargetSpec{Resource: "configmap", Names: []string{"cfg"}}, Type: "json", Patch: []any{map[string]any{"op": "test", "path": "/data/mode", "value": "purple"}}},
			status: probes.StatusFail, ops: []string{"ConfigMap/" + ns + "/cfg=failed"}, errorHas: "test",
		},
		{
			name:   "strategic on a built-in kind",
			spec:   PatchSpec{TargetSpec: TargetSpec{Resource: "cm", Names: []string{"cfg"}}, Type: "strategic", Patch: map[string]any{"metadata": map[string]any{"labels": map[string]any{"tier": "web"}}}},
			status: probes.StatusPass, ops: []string{"ConfigMap/" + ns + "/cfg=configured"},
			diff: []string{"+  labels:", "+    tier: web"},
		},
		{
			name:   "strategic on a custom resource",
			spec:   PatchSpec{TargetSpec: TargetSpec{Resource: "certificates.cert-manager.io", Names: []string{"web"}}, Type: "strategic", Patch: map[string]any{"spec": map[string]any{"issuerRef": map[string]any{"name": "letsencrypt-prod"}}}},
			status: probes.StatusFail, ops: []string{"Certificate/" + ns + "/web=failed"}, errorHas: "use type: merge",
		},
		{
			name:   "merge on a custom resource",
			spec:   PatchSpec{TargetSpec: TargetSpec{Resource: "cert", Names: []string{"web"}}, Patch: map[string]any{"spec": map[string]any{"issuerRef": map[string]any{"name": "letsencrypt-prod"}}}},
			status: probes.StatusPass, ops: []string{"Certificate/" + ns + "/web=configured"},
			diff: []string{"-    name: letsencrypt-staging", "+    name: letsencrypt-prod"},
		},
		{
			name:   "unchanged",
			spec:   PatchSpec{TargetSpec: TargetSpec{Resource: "cm", Names: []string{"cfg"}}, Patch: map[string]any{"data": map[string]any{"mode": "green"}}},
			status: probes.StatusPass, ops: []string{"ConfigMap/" + ns + "/cfg=unchanged"},
		},
		{
			name:   "missing object",
			spec:   PatchSpec{TargetSpec: TargetSpec{Resource: "cm", Names: []string{"cfg", "ghost"}}, Patch: map[string]any{"data": map[string]any{"mode": "green"}}},
			status: probes.StatusFail, ops: []string{"ConfigMap/" + ns + "/cfg=unchanged", "ConfigMap/" + ns + "/ghost=failed"}, errorHas: "configmaps ghost not found in " + ns,
		},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			plan := ptBuild(t, env, &spec).Plan(ctx)
			res := ptBuild(t, env, &spec).Execute(ctx, nil)
			for _, r := range []struct {
				what string
				res  Result
			}{{"plan", plan}, {"execute", res}} {
				if r.res.Status != tt.status || !slices.Equal(apOps(r.res), tt.ops) {
					t.Fatalf("%s = %s %q %v: %s", r.what, r.res.Status, r.res.Summary, apOps(r.res), r.res.Message)
				}
				if tt.errorHas != "" && !strings.Contains(r.res.Message, tt.errorHas) {
					t.Errorf("%s message = %q, want %q in it", r.what, r.res.Message, tt.errorHas)
				}
			}
			var changed []string
			for _, l := range strings.Split(plan.Diff, "\n") {
				if (strings.HasPrefix(l, "+") || strings.HasPrefix(l, "-")) && !strings.HasPrefix(l, "+++") && !strings.HasPrefix(l, "---") {
					changed = append(changed, l)
				}
			}
			if !slices.Equal(changed, tt.diff) {
				t.Errorf("plan changed lines = %q, want %q\n%s", changed, tt.diff, plan.Diff)
			}
			if tt.check != nil {
				tt.check(t)
			}
		})
	}
}

// mapEqual compares decoded JSON values.
func mapEqual(a any, b map[string]any) bool {
	m, ok := a.(map[string]any)
	if !ok || len(m) != len(b) {
		return false
	}
	for k, v := range b {
		if m[k] != v {
			return false
		}
	}
	return true
}

// Users whose Role lacks a verb get StatusForbidden naming it.
func TestPatchForbidden(t *testing.T) {
	cp, ns, _ := testEnv(t, t.TempDir())
	cp.CreateYAML(t, ptIngress(ns, "web", ``))
	nobody := apNarrowEnv(t, cp, ns, "", "pt-nobody", nil)
	getter := apNarrowEnv(t, cp, ns, "", "pt-getter", []rbacv1.PolicyRule{{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses"}, Verbs: []string{"get"}}})
	annotate := func(target TargetSpec) Spec {
		target.Resource = "ingress"
		return &AnnotateSpec{TargetSpec: target, MetadataEdit: MetadataEdit{Set: map[string]string{"cert-manager.io/cluster-issuer": "letsencrypt-prod"}}}
	}
	tests := []struct {
		name string
		env  Env
		spec Spec
		want string
	}{
		{"get", nobody, annotate(TargetSpec{Names: []string{"web"}}), "forbidden: get ingresses.networking.k8s.io in namespace " + ns},
		{"list", getter, annotate(TargetSpec{Selector: "app=web"}), "forbidden: list ingresses.networking.k8s.io in namespace " + ns},
		{"patch", getter, annotate(TargetSpec{Names: []string{"web"}}), "forbidden: patch ingresses.networking.k8s.io in namespace " + ns},
		{"merge patch", getter, &PatchSpec{TargetSpec: TargetSpec{Resource: "ing", Names: []string{"web"}}, Patch: map[string]any{"metadata": map[string]any{"labels": map[string]any{"a": "b"}}}},
			"forbidden: patch ingresses.networking.k8s.io in namespace " + ns},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, plan := range []bool{true, false} {
				act := ptBuild(t, tt.env, tt.spec)
				var res Result
				if plan {
					res = act.Plan(context.Background())
				} else {
					res = act.Execute(context.Background(), nil)
				}
				if res.Status != probes.StatusForbidden || !strings.Contains(res.Message, tt.want) {
					t.Errorf("plan %v: %s %q, want %q", plan, res.Status, res.Message, tt.want)
				}
			}
		})
	}
	if u := apGet(t, cp, ptIngresses, ns, "web"); len(u.GetAnnotations()) != 0 {
		t.Errorf("annotations = %v", u.GetAnnotations())
	}
}

// A Secret annotated or patched: its values stay out of the result.
func TestPatchSecretRedacted(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	const value = "patched-in-plaintext-secret"
	cp.Create(t, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s", "namespace": ns},
		"stringData": map[string]any{"old": "the-old-plaintext-secret"},
	}})
	spec := &PatchSpec{TargetSpec: TargetSpec{Resource: "secret", Names: []string{"s"}}, Patch: map[string]any{"stringData": map[string]any{"new": value}}}
	plan := ptBuild(t, env, spec).Plan(context.Background())
	res := ptBuild(t, env, spec).Execute(context.Background(), nil)
	for _, r := range []Result{plan, res} {
		apNoSecret(t, "patch", r, value, "the-old-plaintext-secret", "dGhlLW9sZC1wbGFpbnRleHQtc2VjcmV0", "cGF0Y2hlZC1pbi1wbGFpbnRleHQtc2VjcmV0")
		if r.Status != probes.StatusPass || !strings.Contains(r.Diff, "+  new: <redacted hmac:") {
			t.Errorf("result = %s %q diff:\n%s", r.Status, r.Summary, r.Diff)
		}
	}
}

func TestPatchSpecs(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		errs []string
	}{
		{"annotate ok", &AnnotateSpec{TargetSpec: TargetSpec{Resource: "ingress", Names: []string{"web"}}, MetadataEdit: MetadataEdit{Set: map[string]string{"a.b/c": "anything goes: here"}}}, nil},
		{"no resource", &AnnotateSpec{TargetSpec: TargetSpec{Names: []string{"web"}}, MetadataEdit: MetadataEdit{Remove: []string{"a"}}}, []string{"resource: required"}},
		{"type/name", &AnnotateSpec{TargetSpec: TargetSpec{Resource: "ingress/web"}, MetadataEdit: MetadataEdit{Remove: []string{"a"}}}, []string{"resource: \"ingress/web\": want a resource type", "names: want names or a selector"}},
		{"both", &LabelSpec{TargetSpec: TargetSpec{Resource: "cm", Names: []string{"a", "a"}, Selector: "x in (", Namespace: "NS"}, MetadataEdit: MetadataEdit{Set: map[string]string{"bad key!": "v", "k": "bad value!"}, Remove: []string{"k", "-x"}}},
			[]string{"selector: want names or a selector, not both", `names[1]: "a" named twice`, "selector: ", "namespace: ", "set.bad key!: invalid key", `set.k: invalid label value "bad value!"`, `remove: "k" is both set and removed`, `remove[1]: invalid key "-x"`}},
		{"nothing to do", &LabelSpec{TargetSpec: TargetSpec{Resource: "cm", Names: []string{"a"}}}, []string{"set: want keys to set or remove"}},
		{"patch ok", &PatchSpec{TargetSpec: TargetSpec{Resource: "deploy", Names: []string{"api"}}, Patch: map[string]any{"spec": map[string]any{"replicas": int64(3)}}}, nil},
		{"patch missing", &PatchSpec{TargetSpec: TargetSpec{Resource: "deploy", Names: []string{"api"}}}, []string{"patch: required"}},
		{"patch type", &PatchSpec{TargetSpec: TargetSpec{Resource: "deploy", Names: []string{"api"}}, Type: "xml", Patch: map[string]any{}}, []string{`type: "xml": want merge, json or strategic`}},
		{"json wants a list", &PatchSpec{TargetSpec: TargetSpec{Resource: "deploy", Names: []string{"api"}}, Type: "json", Patch: map[string]any{}}, []string{"patch: a json patch is a list of operations"}},
		{"merge wants a mapping", &PatchSpec{TargetSpec: TargetSpec{Resource: "deploy", Names: []string{"api"}}, Patch: []any{}}, []string{"patch: a merge patch is a mapping; a list of operations is type: json"}},
		{"json op", &PatchSpec{TargetSpec: TargetSpec{Resource: "deploy", Names: []string{"api"}}, Type: "json", Patch: []any{map[string]any{"op": "frob", "path": "/a"}}}, []string{"patch: operation 1: op frob: want one of add, remove"}},
		{"json path", &PatchSpec{TargetSpec: TargetSpec{Resource: "deploy", Names: []string{"api"}}, Type: "json", Patch: []any{map[string]any{"op": "add", "path": "a"}}}, []string{"patch: operation 1: path a: want a JSON pointer"}},
		{"string not yaml", &PatchSpec{TargetSpec: TargetSpec{Resource: "deploy", Names: []string{"api"}}, Patch: "{a: ["}, []string{"patch: not YAML or JSON"}},
		{"scalar", &PatchSpec{TargetSpec: TargetSpec{Resource: "deploy", Names: []string{"api"}}, Patch: int64(3)}, []string{"patch: want a mapping or a list, got a number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			if len(tt.errs) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate passed, want %q", tt.errs)
			}
			for _, want := range tt.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate = %v\nwant %q in it", err, want)
				}
			}
			if !tt.spec.Mutating() {
				t.Error("not mutating")
			}
		})
	}

	perms := func(s Spec) []string {
		var out []string
		for _, p := range s.Permissions() {
			str := p.String()
			if p.Assumed {
				str += " (assumed)"
			}
			out = append(out, str)
		}
		return out
	}
	for _, tt := range []struct {
		spec Spec
		want string
	}{
		{&AnnotateSpec{TargetSpec: TargetSpec{Resource: "ingress", Names: []string{"web"}, Namespace: "prod"}}, "get,patch ingresses.networking.k8s.io in prod"},
		{&LabelSpec{TargetSpec: TargetSpec{Resource: "ns", Selector: "a=b"}}, "get,patch,list namespaces"},
		{&PatchSpec{TargetSpec: TargetSpec{Resource: "widgets.example.com", Names: []string{"w"}}}, "get,patch widgets.example.com in the default namespace (assumed)"},
	} {
		if got := perms(tt.spec); !slices.Equal(got, []string{tt.want}) {
			t.Errorf("%T permissions = %q, want %q", tt.spec, got, tt.want)
		}
	}
	for spec, want := range map[Spec]string{
		&PatchSpec{TargetSpec: TargetSpec{Resource: "deploy", Names: []string{"api", "worker"}, Namespace: "prod", Context: "eu"}, Type: "json"}:                                                                     "json-patch deploy api, worker in prod (context eu)",
		&PatchSpec{TargetSpec: TargetSpec{Resource: "deploy", Selector: "app=api"}}:                                                                                                                                  "merge-patch deploy selected by app=api",
		&LabelSpec{TargetSpec: TargetSpec{Resource: "cm", Names: []string{"a"}}, MetadataEdit: MetadataEdit{Set: map[string]string{"b": "2", "a": strings.Repeat("x", 50)}, Remove: []string{"c"}, Overwrite: true}}: "label cm a: set a=" + strings.Repeat("x", 39) + "…, b=2; remove c (overwrite)",
	} {
		if got := spec.Describe(); got != want {
			t.Errorf("Describe = %q, want %q", got, want)
		}
	}
}

// The kinds are registered with specs of their own type.
func TestApplyPatchKindsRegistered(t *testing.T) {
	for kind, want := range map[string]Spec{"apply": &ApplySpec{}, "annotate": &AnnotateSpec{}, "label": &LabelSpec{}, "patch": &PatchSpec{}} {
		d, err := Lookup(kind)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.NewSpec(); fmt.Sprintf("%T", got) != fmt.Sprintf("%T", want) || d.Summary == "" || !got.Mutating() {
			t.Errorf("%s: spec %T, summary %q", kind, got, d.Summary)
		}
	}
}

// With a selector, the execution changes what the plan listed, and only
// that: an object selected since the plan is left alone and named, one
// deleted or relabeled since is skipped, a context ended skips them all.
// Without a plan it changes what the selector matches.
func TestLabelSelectorSincePlan(t *testing.T) {
	cms := func(cp *controlplane.ControlPlane) dynamic.NamespaceableResourceInterface {
		return cp.Dynamic.Resource(apConfigMaps)
	}
	create := func(t *testing.T, cp *controlplane.ControlPlane, ns, name, app string) {
		cp.CreateYAML(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "+name+", namespace: "+ns+", labels: {app: "+app+", canary: \"true\"}}\n")
	}
	tests := []struct {
		name     string
		apps     map[string]string // ConfigMaps before the plan: name → app label
		plan     bool
		between  func(t *testing.T, cp *controlplane.ControlPlane, ns string)
		cancel   bool // the context ends after the first object
		status   probes.Status
		ops      []string // names=op
		message  []string // in the message; "NS" is the namespace
		canaries []string // ConfigMaps that keep the canary label after
	}{
		{
			name: "selected since the plan", apps: map[string]string{"a": "api", "b": "api"}, plan: true,
			between: func(t *testing.T, cp *controlplane.ControlPlane, ns string) { create(t, cp, ns, "c", "api") },
			status:  probes.StatusWarn, ops: []string{"a=configured", "b=configured"},
			message:  []string{"new since the plan, not touched (plan again to include them): ConfigMap/NS/c"},
			canaries: []string{"c"},
		},
		{
			name: "deleted since the plan", apps: map[string]string{"a": "api", "b": "api"}, plan: true,
			between: func(t *testing.T, cp *controlplane.ControlPlane, ns string) {
				if err := cms(cp).Namespace(ns).Delete(context.Background(), "b", metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			status: probes.StatusFail, ops: []string{"a=configured", "b=skipped"},
			message: []string{"ConfigMap/NS/b: skipped: no longer matches app=api: deleted or relabeled since the plan"},
		},
		{
			name: "relabeled since the plan", apps: map[string]string{"a": "api", "b": "api"}, plan: true,
			between: func(t *testing.T, cp *controlplane.ControlPlane, ns string) {
				if _, err := cms(cp).Namespace(ns).Patch(context.Background(), "b", types.MergePatchType, []byte(`{"metadata": {"labels": {"app": "web"}}}`), metav1.PatchOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			status: probes.StatusFail, ops: []string{"a=configured", "b=skipped"},
			message: []string{"no longer matches app=api"}, canaries: []string{"b"},
		},
		{
			name: "none selected at the plan", apps: map[string]string{"w": "web"}, plan: true,
			between:  func(t *testing.T, cp *controlplane.ControlPlane, ns string) { create(t, cp, ns, "c", "api") },
			status:   probes.StatusFail,
			message:  []string{"no configmaps match app=api in NS", "new since the plan, not touched (plan again to include them): ConfigMap/NS/c"},
			canaries: []string{"c", "w"},
		},
		{
			name: "no plan", apps: map[string]string{"a": "api"},
			between: func(t *testing.T, cp *controlplane.ControlPlane, ns string) { create(t, cp, ns, "c", "api") },
			status:  probes.StatusPass, ops: []string{"a=configured", "c=configured"},
		},
		{
			name: "context ended", apps: map[string]string{"a": "api", "b": "api", "c": "api"}, plan: true, cancel: true,
			status: probes.StatusFail, ops: []string{"a=configured", "b=skipped", "c=skipped"},
			message: []string{"ConfigMap/NS/b: skipped: not tried: context canceled"}, canaries: []string{"b", "c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp, ns, env := testEnv(t, t.TempDir())
			for _, name := range slices.Sorted(maps.Keys(tt.apps)) {
				create(t, cp, ns, name, tt.apps[name])
			}
			act := ptBuild(t, env, &LabelSpec{TargetSpec: TargetSpec{Resource: "cm", Selector: "app=api"}, MetadataEdit: MetadataEdit{Remove: []string{"canary"}}})
			if tt.plan {
				if plan := act.Plan(context.Background()); plan.Status == probes.StatusError {
					t.Fatalf("plan = %s %q", plan.Status, plan.Summary)
				}
			}
			if tt.between != nil {
				tt.between(t, cp, ns)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var progress func(Result)
			if tt.cancel {
				progress = func(Result) { cancel() }
			}
			res := act.Execute(ctx, progress)
			var ops []string
			for _, op := range apOps(res) {
				ops = append(ops, strings.TrimPrefix(op, "ConfigMap/"+ns+"/"))
			}
			if res.Status != tt.status || !slices.Equal(ops, tt.ops) {
				t.Fatalf("execute = %s %q %v, want %s %v: %s", res.Status, res.Summary, ops, tt.status, tt.ops, res.Message)
			}
			for _, want := range tt.message {
				if want = strings.ReplaceAll(want, "NS", ns); !strings.Contains(res.Message, want) {
					t.Errorf("message = %q, want %q in it", res.Message, want)
				}
			}
			list, err := cms(cp).Namespace(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "canary"})
			if err != nil {
				t.Fatal(err)
			}
			var canaries []string
			for _, u := range list.Items {
				canaries = append(canaries, u.GetName())
			}
			if !slices.Equal(canaries, tt.canaries) {
				t.Errorf("ConfigMaps keeping the label = %v, want %v", canaries, tt.canaries)
			}
		})
	}
}
