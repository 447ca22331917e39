package actions

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// mfRefs lists objects as "Kind/name" in order.
func mfRefs(t *testing.T, dir string, paths ...string) []string {
	t.Helper()
	objs, err := readManifests(dir, paths)
	if err != nil {
		t.Fatalf("readManifests: %v", err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	return out
}

func TestReadManifests(t *testing.T) {
	dir := t.TempDir()
	apWrite(t, dir, map[string]string{
		"app/b.yaml":         "# leading comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b1}\n---\n---\n# only a comment\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b2}\n",
		"app/a.yml":          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a1}\n",
		"app/c.json":         `{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}}, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "c2"}}]}`,
		"app/README.md":      "not a manifest",
		"app/nested/d.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: nested}\n",
		"crd.yaml":           "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec: {group: example.com, names: {kind: Widget, plural: widgets}, scope: Namespaced}\n",
		"single.yaml":        "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns1}\n",
		"empty/only.txt":     "",
		"replicas.yaml":      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {replicas: 3}\n",
		"nothing/empty.yaml": "# nothing\n",
	})
	tests := []struct {
		name  string
		paths []string
		want  []string
	}{
		{"directory in lexical order, not recursive, List expanded, Namespaces first", []string{"app"},
			[]string{"Namespace/c2", "ConfigMap/a1", "ConfigMap/b1", "Service/b2", "ConfigMap/c1"}},
		{"Namespaces, then CRDs, then the rest in file order", []string{"app/a.yml", "crd.yaml", "single.yaml"},
			[]string{"Namespace/ns1", "CustomResourceDefinition/widgets.example.com", "ConfigMap/a1"}},
		{"absolute path", []string{filepath.Join(dir, "single.yaml")}, []string{"Namespace/ns1"}},
		{"a file of comments holds nothing", []string{"nothing/empty.yaml"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mfRefs(t, dir, tt.paths...); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	// Numbers are int64, as the API machinery wants them.
	objs, err := readManifests(dir, []string{"replicas.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := objs[0].Object["spec"].(map[string]any)["replicas"].(int64); !ok || r != 3 {
		t.Errorf("replicas = %#v", objs[0].Object["spec"])
	}
	// Sources name the file and the document.
	ms, err := readManifestFiles(dir, []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, m := range ms {
		sources = append(sources, m.source)
	}
	want := []string{"app/c.json: document 1, item 2", "app/a.yml: document 1", "app/b.yaml: document 1", "app/b.yaml: document 2", "app/c.json: document 1, item 1"}
	if !slices.Equal(sources, want) {
		t.Errorf("sources = %q, want %q", sources, want)
	}
}

func TestReadManifestsErrors(t *testing.T) {
	dir := t.TempDir()
	ok := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n"
	apWrite(t, dir, map[string]string{"empty/x.txt": "", "dup.yaml": ok})
	tests := []struct {
		name, content, want string
	}{
		{"yaml syntax", ok + "---\napiVersion: v1\nkind: [\n", "m.yaml: document 2: "},
		{"no kind", ok + "---\napiVersion: v1\nmetadata: {name: x}\n", "m.yaml: document 2: kind: required"},
		{"no apiVersion", "kind: ConfigMap\nmetadata: {name: x}\n", "m.yaml: document 1: apiVersion: required"},
		{"bad apiVersion", "apiVersion: a/b/c\nkind: ConfigMap\nmetadata: {name: x}\n", `m.yaml: document 1: apiVersion "a/b/c": `},
		{"no name", ok + "---\n# c\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: x-}\n", "m.yaml: document 2: ConfigMap: metadata.name: required (apply does not generate names)"},
		{"no metadata", "apiVersion: v1\nkind: ConfigMap\n", "m.yaml: document 1: ConfigMap: metadata: required"},
		{"not a mapping", "- a\n- b\n", "m.yaml: document 1: want a Kubernetes object (a mapping), got a list"},
		{"scalar", "hello\n", "m.yaml: document 1: want a Kubernetes object (a mapping), got a string"},
		{"namespace not a string", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: [a]}\n", "m.yaml: document 1: ConfigMap x: metadata.namespace: want a string, got a list"},
		{"labels not a mapping", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, labels: a}\n", "m.yaml: document 1: ConfigMap x: metadata.labels: want a mapping, got a string"},
		{"list item", `{"apiVersion": "v1", "kind": "List", "items": [` + `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}, 7]}`, "m.yaml: document 1, item 2: want an object, got a number"},
		{"duplicate", ok, "m.yaml: document 1: ConfigMap fine is also in dup.yaml: document 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			apWrite(t, dir, map[string]string{"m.yaml": tt.content})
			_, err := readManifests(dir, []string{"dup.yaml", "m.yaml"})
			if tt.name != "duplicate" {
				_, err = readManifests(dir, []string{"m.yaml"})
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %v, want prefix %q", err, tt.want)
			}
		})
	}
	for _, tt := range []struct{ path, want string }{
		{"missing.yaml", "missing.yaml: no such file or directory"},
		{"empty", "empty: directory holds no manifests"},
	} {
		if _, err := readManifests(dir, []string{tt.path}); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want prefix %q", tt.path, err, tt.want)
		}
	}
	// A Secret's values never reach an error.
	apWrite(t, dir, map[string]string{"s.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s, labels: hunter2-secret}\nstringData: {p: hunter2-secret}\n"})
	if _, err := readManifests(dir, []string{"s.yaml"}); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("err = %v", err)
	}
	// Unreadable files and oversized ones.
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, maxManifestBytes+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readManifests(dir, []string{"big.yaml"}); err == nil || !strings.Contains(err.Error(), "big.yaml: larger than 16 MiB") {
		t.Errorf("big: err = %v", err)
	}
}

func TestApplySpecValidateDescribePermissions(t *testing.T) {
	if err := (&ApplySpec{}).Validate(); err == nil || !strings.Contains(err.Error(), "files: required") {
		t.Errorf("no files: %v", err)
	}
	if err := (&ApplySpec{Files: []string{"a.yaml", " "}, Namespace: "Bad_NS"}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "files[1]: empty path") || !strings.Contains(err.Error(), "namespace: ") {
		t.Errorf("bad fields: %v", err)
	}
	if (&ApplySpec{}).Mutating() != true {
		t.Error("apply is not mutating")
	}

	dir := t.TempDir()
	apWrite(t, dir, map[string]string{
		"m/1.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np, namespace: prod}\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\n",
		"m/2.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: prod}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\napiVersion: other.example/v1\nkind: Gateway\nmetadata: {name: g}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api2}\n",
		"crd.yaml": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec: {group: example.com, names: {kind: Widget, plural: widgetz}, scope: Cluster}\n",
	})
	spec := &ApplySpec{Files: []string{"m", "crd.yaml"}, Namespace: "prod", Context: "eu"}
	spec.SetBaseDir(dir)
	if d := spec.Describe(); d != "apply 8 objects from 3 files to prod (context eu)" {
		t.Errorf("Describe = %q", d)
	}
	var got []string
	for _, p := range spec.Permissions() {
		s := p.String()
		if p.Assumed {
			s += " (assumed)"
		}
		if p.Context != "eu" {
			s += " context " + p.Context
		}
		got = append(got, s)
	}
	want := []string{
		"get,create,patch namespaces",
		"get,create,patch customresourcedefinitions.apiextensions.k8s.io",
		"get,create,patch deployments.apps in prod",
		"get,create,patch networkpolicies.networking.k8s.io in prod",
		"get,create,patch ingresses.networking.k8s.io in prod",
		"get,create,patch widgetz.example.com",
		"get,create,patch gateways.other.example in prod (assumed)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Permissions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	unreadable := &ApplySpec{Files: []string{"nope.yaml"}}
	unreadable.SetBaseDir(dir)
	if p := unreadable.Permissions(); p != nil {
		t.Errorf("unreadable files: permissions %v", p)
	}
	if d := unreadable.Describe(); d != "apply file nope.yaml (unreadable: nope.yaml: no such file or directory)" {
		t.Errorf("unreadable Describe = %q", d)
	}
}

// FuzzReadManifests: the manifest reader never panics, whatever the
// bytes, and what it accepts is applicable (apiVersion, kind, name).
func FuzzReadManifests(f *testing.F) {
	for _, seed := range []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n",
		`{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, 1]}`,
		"---\n---\n# c\n",
		"- a\n- b\n",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: s, labels: 3}\ndata: {k: djE=}\n",
		"a: &a [*a]\n",
		"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: x.y}\nspec: {group: 7, names: []}\n",
		"apiVersion: v1\nkind: List\nitems: {a: b}\nmetadata: {name: l}\n",
		"\xff\xfe\x00",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := decodeManifests("f.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml: document ") {
				t.Fatalf("error does not name the document: %v", err)
			}
			return
		}
		for _, m := range orderForApply(ms) {
			if m.obj.GetAPIVersion() == "" || m.obj.GetKind() == "" || m.obj.GetName() == "" {
				t.Fatalf("accepted an object apply cannot use: %v", m.obj.Object)
			}
			_ = objectKey(m.obj, m.obj.GetNamespace())
			_, _ = crdKindOf(m.obj)
			_ = kindPermission(m.obj.GroupVersionKind().GroupKind(), nil)
			if _, err := displayYAML(m.obj, newRedactor()); err != nil {
				t.Fatalf("displayYAML: %v", err)
			}
		}
		_ = checkDuplicates(ms, "ns")
		_ = manifestPermissions("", "ns", ms)
	})
}

// A mapping key JSON cannot hold fails Build and Describe naming the
// document and the key's type, never the key or its value (a Secret's).
func TestManifestKeyErrorHidesValues(t *testing.T) {
	dir := t.TempDir()
	_, _, env := testEnv(t, dir)
	const good = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n---\n"
	secret := func(data string) string {
		return good + "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n" + data + "\n"
	}
	tests := []struct {
		name, content, want string
	}{
		{"null key", secret("stringData: {null: hunter2}"), "s.yaml: document 2: a mapping key is null: keys must be strings (quote it)"},
		{"tilde key", secret("stringData: {~: hunter2}"), "s.yaml: document 2: a mapping key is null: keys must be strings (quote it)"},
		{"huge integer key", secret("data: {18446744073709551615: aHVudGVyMg==}\nstringData: {x: hunter2}"), "s.yaml: document 2: a mapping key is an integer beyond int64: keys must be strings (quote it)"},
		{"list key", secret("stringData: {? [hunter2]: hunter2}"), "s.yaml: document 2: a mapping key is a list: keys must be strings"},
		{"mapping key", secret("stringData: {? {password: hunter2}: hunter2}"), "s.yaml: document 2: a mapping key is a mapping: keys must be strings"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(dir, fmt.Sprint(i))
			apWrite(t, dir, map[string]string{"s.yaml": tt.content})
			env := env
			env.Dir = dir
			spec := &ApplySpec{Files: []string{"s.yaml"}}
			if err := spec.Validate(); err != nil {
				t.Fatal(err)
			}
			_, err := spec.Build(env)
			if err == nil || err.Error() != "read manifests: "+tt.want {
				t.Errorf("Build = %v, want %q", err, tt.want)
			}
			spec.SetBaseDir(dir)
			d := spec.Describe()
			if !strings.Contains(d, tt.want) {
				t.Errorf("Describe = %q, want %q in it", d, tt.want)
			}
			for _, s := range []string{d, fmt.Sprint(err)} {
				if strings.Contains(s, "hunter2") || strings.Contains(s, "aHVudGVyMg") || strings.Contains(s, "password") {
					t.Errorf("the error shows the key or its value: %s", s)
				}
			}
		})
	}
}

// Describe and Permissions (a TUI's redraws, the access review) follow
// edits of the manifests: a file changed, even to the same size, a file
// added to or removed from a directory, a file missing at first. What is
// unchanged is not read again.
func TestApplySpecFollowsEdits(t *testing.T) {
	dir := t.TempDir()
	const (
		cm  = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
		ns  = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n" // as long as cm
		cm2 = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"
	)
	// at writes files with a modification time of its own: the test does
	// not depend on the file system's clock resolution.
	tick := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(files map[string]string) {
		t.Helper()
		apWrite(t, dir, files)
		tick = tick.Add(time.Second)
		for name := range files {
			if err := os.Chtimes(filepath.Join(dir, name), tick, tick); err != nil {
				t.Fatal(err)
			}
		}
	}
	perms := func(s *ApplySpec) string {
		var out []string
		for _, p := range s.Permissions() {
			out = append(out, p.String())
		}
		return strings.Join(out, "; ")
	}
	file := &ApplySpec{Files: []string{"m.yaml"}, Namespace: "prod"}
	file.SetBaseDir(dir)
	folder := &ApplySpec{Files: []string{"d"}, Namespace: "prod"}
	folder.SetBaseDir(dir)
	steps := []struct {
		name     string
		do       func()
		spec     *ApplySpec
		describe string
		perms    string
	}{
		{"missing", func() {}, file,
			"apply file m.yaml to prod (unreadable: m.yaml: no such file or directory)", ""},
		{"created", func() { at(map[string]string{"m.yaml": cm}) }, file,
			"apply 1 object from 1 file to prod", "get,create,patch configmaps in prod"},
		{"same size, other kind", func() { at(map[string]string{"m.yaml": ns}) }, file,
			"apply 1 object from 1 file to prod", "get,create,patch namespaces"},
		{"unchanged stamp is not read again", func() {
			mtime := tick
			apWrite(t, dir, map[string]string{"m.yaml": cm})
			if err := os.Chtimes(filepath.Join(dir, "m.yaml"), mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}, file, "apply 1 object from 1 file to prod", "get,create,patch namespaces"},
		{"grown", func() { at(map[string]string{"m.yaml": cm + "---\n" + cm2}) }, file,
			"apply 2 objects from 1 file to prod", "get,create,patch configmaps in prod"},
		{"broken", func() { at(map[string]string{"m.yaml": "kind: [\n"}) }, file,
			"apply file m.yaml to prod (unreadable: m.yaml: document 1: ", ""},
		{"fixed", func() { at(map[string]string{"m.yaml": ns}) }, file,
			"apply 1 object from 1 file to prod", "get,create,patch namespaces"},
		{"directory", func() { at(map[string]string{"d/1.yaml": cm}) }, folder,
			"apply 1 object from 1 file to prod", "get,create,patch configmaps in prod"},
		{"file added to the directory", func() { at(map[string]string{"d/2.yaml": ns}) }, folder,
			"apply 2 objects from 2 files to prod", "get,create,patch namespaces; get,create,patch configmaps in prod"},
		{"file removed from the directory", func() {
			if err := os.Remove(filepath.Join(dir, "d/1.yaml")); err != nil {
				t.Fatal(err)
			}
		}, folder, "apply 1 object from 1 file to prod", "get,create,patch namespaces"},
	}
	for _, st := range steps {
		st.do()
		if d := st.spec.Describe(); !strings.HasPrefix(d, st.describe) {
			t.Errorf("%s: Describe = %q, want %q", st.name, d, st.describe)
		}
		if p := perms(st.spec); p != st.perms {
			t.Errorf("%s: Permissions = %q, want %q", st.name, p, st.perms)
		}
	}
}
