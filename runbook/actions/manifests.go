package actions

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// manifestExts are the file extensions a directory's manifests are read
// from.
var manifestExts = []string{".yaml", ".yml", ".json"}

// maxManifestBytes bounds one manifest file: a runbook's manifests are
// small; a huge file is a mistake (a binary, a log).
const maxManifestBytes = 16 << 20

// manifest is one object read from a file, with where it came from.
type manifest struct {
	obj *unstructured.Unstructured
	// source is "manifests/np.yaml: document 2" ("" when the object did
	// not come from a file).
	source string
}

// readManifests reads files and directories (relative to dir) into objects, in apply order.
//
// A path is a file, or a directory whose *.yaml, *.yml and *.json files
// are read in lexical order (not recursively: subdirectories are
// skipped). A file is a multi-document YAML stream or JSON; a v1 List is
// expanded into its items. The order is Namespaces first, then
// CustomResourceDefinitions, then the rest in file order. Errors name the
// file and the (1-based) document: "manifests/np.yaml: document 2: …".
func readManifests(dir string, paths []string) ([]*unstructured.Unstructured, error) {
	ms, err := readManifestFiles(dir, paths)
	if err != nil {
		return nil, err
	}
	objs := make([]*unstructured.Unstructured, len(ms))
	for i, m := range ms {
		objs[i] = m.obj
	}
	return objs, nil
}

// readManifestFiles is readManifests keeping each object's source.
func readManifestFiles(dir string, paths []string) ([]manifest, error) {
	var all []manifest
	for _, p := range paths {
		files, err := manifestFiles(dir, p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			data, err := readManifestFile(filepath.Join(dir, f), f)
			if err != nil {
				return nil, err
			}
			ms, err := decodeManifests(f, data)
			if err != nil {
				return nil, err
			}
			all = append(all, ms...)
		}
	}
	if err := checkDuplicates(all, ""); err != nil {
		return nil, err
	}
	return orderForApply(all), nil
}

// manifestFiles lists the manifest files of a path (relative to dir, as
// written), a directory's sorted. An absolute path is taken as is.
func manifestFiles(dir, p string) ([]string, error) {
	full := p
	if !filepath.IsAbs(p) {
		full = filepath.Join(dir, p)
	}
	fi, err := os.Stat(full)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, pathErrCause(err))
	}
	if !fi.IsDir() {
		return []string{p}, nil
	}
	entries, err := os.ReadDir(full) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, pathErrCause(err))
	}
	var files []string
	for _, e := range entries {
		if e.IsDir() || !slices.Contains(manifestExts, strings.ToLower(filepath.Ext(e.Name()))) {
			continue
		}
		files = append(files, filepath.Join(p, e.Name()))
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: directory holds no manifests (%s files)", p, strings.Join(manifestExts, ", "))
	}
	return files, nil
}

// pathErrCause drops the operation and path of a *fs.PathError (the
// message names the path as the runbook wrote it); errors.Is still sees
// the cause (fs.ErrNotExist).
func pathErrCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readManifestFile reads a file of at most maxManifestBytes; name is how
// errors call it.
func readManifestFile(full, name string) ([]byte, error) {
	if filepath.IsAbs(name) {
		full = name
	}
	f, err := os.Open(full)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, pathErrCause(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, pathErrCause(err))
	}
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB", name, maxManifestBytes>>20)
	}
	return data, nil
}

// decodeManifests decodes a YAML stream (or JSON) named name into
// objects, in order. Empty documents are skipped and not counted. It never
// panics, whatever the bytes.
func decodeManifests(name string, data []byte) ([]manifest, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []manifest
	for n := 1; ; {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, n, err)
		}
		obj, empty, err := decodeDocument(doc)
		if empty {
			continue
		}
		where := fmt.Sprintf("%s: document %d", name, n)
		n++
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if !isList(obj) {
			if err := checkObject(obj); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			out = append(out, manifest{obj: obj, source: where})
			continue
		}
		items, _ := obj.Object["items"].([]any)
		for i, it := range items {
			iw := fmt.Sprintf("%s, item %d", where, i+1)
			m, ok := it.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: want an object, got %s", iw, describeValue(it))
			}
			item := &unstructured.Unstructured{Object: m}
			if err := checkObject(item); err != nil {
				return nil, fmt.Errorf("%s: %w", iw, err)
			}
			out = append(out, manifest{obj: item, source: iw})
		}
	}
}

// decodeDocument decodes one YAML document; empty is true for a document
// of nothing but comments and blank lines (or null).
func decodeDocument(doc []byte) (obj *unstructured.Unstructured, empty bool, err error) {
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, false, yamlKeyErr(err)
	}
	j = bytes.TrimSpace(j)
	if len(j) == 0 || string(j) == "null" {
		return nil, true, nil
	}
	if j[0] != '{' {
		var v any
		_ = utilyaml.Unmarshal(j, &v)
		return nil, false, fmt.Errorf("want a Kubernetes object (a mapping), got %s", describeValue(v))
	}
	m := map[string]any{}
	if err := utilyaml.Unmarshal(j, &m); err != nil {
		return nil, false, err
	}
	return &unstructured.Unstructured{Object: m}, false, nil
}

// unsupportedKeyType is the key's Go type in the YAML converter's error
// for a key JSON cannot hold ("unsupported map key of type: uint64, key:
// …, value: …"; a null key's type prints as %!s(<nil>)).
var unsupportedKeyType = regexp.MustCompile(`^unsupported map key of type: ([\w.%!()<>\[\]*]+), key: `)

// yamlKeyErr replaces the YAML converter's errors about a mapping key
// that JSON cannot hold, which quote the key and its value (a Secret's
// stringData: {null: hunter2} would show hunter2), with one naming the
// key's type only. Other errors are returned as they are.
func yamlKeyErr(err error) error {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "unsupported map key"):
		typ := "an unsupported type"
		if m := unsupportedKeyType.FindStringSubmatch(msg); m != nil {
			switch m[1] {
			case "%!s(<nil>)":
				typ = "null"
			case "uint64":
				typ = "an integer beyond int64"
			default:
				typ = "of type " + m[1]
			}
		}
		return fmt.Errorf("a mapping key is %s: keys must be strings (quote it)", typ)
	case strings.HasPrefix(msg, "yaml: invalid map key: "):
		typ := "an unsupported type"
		switch key := strings.TrimPrefix(msg, "yaml: invalid map key: "); {
		case strings.HasPrefix(key, "[]"):
			typ = "a list"
		case strings.HasPrefix(key, "map["):
			typ = "a mapping"
		}
		return fmt.Errorf("a mapping key is %s: keys must be strings", typ)
	}
	return err
}

// describeValue names a decoded value's type for an error, never its
// content (it may be a Secret's).
func describeValue(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return "a number"
}

// isList reports whether obj is a v1 List (kubectl get -o yaml's output).
func isList(obj *unstructured.Unstructured) bool {
	if obj.Object["kind"] != "List" {
		return false
	}
	_, ok := obj.Object["items"].([]any)
	return ok
}

// checkObject checks what apply needs of an object: apiVersion, kind and
// metadata.name (apply cannot generate names).
func checkObject(obj *unstructured.Unstructured) error {
	av, ok := obj.Object["apiVersion"].(string)
	if !ok || av == "" {
		return errors.New("apiVersion: required (a string like v1 or apps/v1)")
	}
	if _, err := schema.ParseGroupVersion(av); err != nil {
		return fmt.Errorf("apiVersion %q: %w", av, err)
	}
	if k, ok := obj.Object["kind"].(string); !ok || k == "" {
		return errors.New("kind: required (a string like ConfigMap)")
	}
	md, ok := obj.Object["metadata"].(map[string]any)
	if !ok {
		return fmt.Errorf("%s: metadata: required (a mapping with a name)", obj.Object["kind"])
	}
	if n, ok := md["name"].(string); !ok || n == "" {
		return fmt.Errorf("%s: metadata.name: required (apply does not generate names)", obj.Object["kind"])
	}
	if ns, ok := md["namespace"]; ok {
		if _, isStr := ns.(string); !isStr && ns != nil {
			return fmt.Errorf("%s %s: metadata.namespace: want a string, got %s", obj.Object["kind"], md["name"], describeValue(ns))
		}
	}
	for _, f := range []string{"labels", "annotations"} {
		if v, ok := md[f]; ok && v != nil {
			if _, isMap := v.(map[string]any); !isMap {
				return fmt.Errorf("%s %s: metadata.%s: want a mapping, got %s", obj.Object["kind"], md["name"], f, describeValue(v))
			}
		}
	}
	return nil
}

// objectKey identifies an object in namespace ns: group, kind, namespace,
// name.
func objectKey(obj *unstructured.Unstructured, ns string) string {
	gvk := obj.GroupVersionKind()
	return gvk.Group + "/" + gvk.Kind + "/" + ns + "/" + obj.GetName()
}

// checkDuplicates refuses the same object twice: the second would silently
// win. Objects are compared in the namespace they are applied in: their
// own, else namespace (the step's or the context's; "" when not known
// yet, and an object naming none is then only the same as another naming
// none), and none for kinds known to be cluster-scoped (the well-known
// ones and those of a CRD among ms), whose written namespace is ignored.
func checkDuplicates(ms []manifest, namespace string) error {
	crds := map[schema.GroupKind]crdKind{}
	for _, m := range ms {
		if k, ok := crdKindOf(m.obj); ok {
			crds[k.gk] = k
		}
	}
	type seenAt struct{ source, ns string }
	seen := map[string]seenAt{}
	for _, m := range ms {
		ns := m.obj.GetNamespace()
		switch p := kindPermission(m.obj.GroupVersionKind().GroupKind(), crds); {
		case p.ClusterScoped && !p.Assumed:
			ns = ""
		case ns == "":
			ns = namespace
		}
		k := objectKey(m.obj, ns)
		first, dup := seen[k]
		if !dup {
			seen[k] = seenAt{source: m.source, ns: m.obj.GetNamespace()}
			continue
		}
		err := fmt.Errorf("%s: %s %s is also in %s", m.source, m.obj.GetKind(), m.obj.GetName(), first.source)
		if first.ns != m.obj.GetNamespace() {
			where := "cluster-scoped"
			if ns != "" {
				where = "both in namespace " + ns
			}
			err = fmt.Errorf("%w (%s)", err, where)
		}
		return err
	}
	return nil
}

// isNamespaceObj and isCRDObj pick out what other objects depend on.
func isNamespaceObj(obj *unstructured.Unstructured) bool {
	return obj.GetKind() == "Namespace" && obj.GetAPIVersion() == "v1"
}

func isCRDObj(obj *unstructured.Unstructured) bool {
	return obj.GetKind() == "CustomResourceDefinition" && obj.GroupVersionKind().Group == "apiextensions.k8s.io"
}

// applyRank orders kinds for apply: Namespaces, then CRDs, then the rest.
func applyRank(obj *unstructured.Unstructured) int {
	switch {
	case isNamespaceObj(obj):
		return 0
	case isCRDObj(obj):
		return 1
	}
	return 2
}

// orderForApply sorts manifests into apply order, stably: Namespaces,
// then CustomResourceDefinitions, then the rest as they were read.
func orderForApply(ms []manifest) []manifest {
	out := slices.Clone(ms)
	slices.SortStableFunc(out, func(a, b manifest) int { return applyRank(a.obj) - applyRank(b.obj) })
	return out
}

// crdKind is what a CustomResourceDefinition in a manifest defines.
type crdKind struct {
	name       string // the CRD's name: widgets.example.com
	gk         schema.GroupKind
	plural     string
	namespaced bool // namespaced
}

// crdKindOf reads what a CRD manifest defines (ok false when it is not
// one, or is incomplete).
func crdKindOf(obj *unstructured.Unstructured) (crdKind, bool) {
	if !isCRDObj(obj) {
		return crdKind{}, false
	}
	group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "kind")
	plural, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "plural")
	scope, _, _ := unstructured.NestedString(obj.Object, "spec", "scope")
	if group == "" || kind == "" {
		return crdKind{}, false
	}
	return crdKind{name: obj.GetName(), gk: schema.GroupKind{Group: group, Kind: kind}, plural: plural, namespaced: scope != "Cluster"}, true
}
