package actions

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// maxChangeLines bounds the fields a plan lists per object.
const maxChangeLines = 12

// templateChanges lists the pod template fields that differ between two
// versions of a workload, one line each ("spec.template.spec.containers[api].image:
// registry/api:3 → registry/api:2"): the plain summary a rollout plan
// shows.
func templateChanges(before, after *unstructured.Unstructured) []string {
	a, _, _ := unstructured.NestedFieldNoCopy(before.Object, "spec", "template")
	b, _, _ := unstructured.NestedFieldNoCopy(after.Object, "spec", "template")
	var out []string
	fieldChanges("spec.template", a, b, &out)
	if len(out) == 0 {
		return []string{"no pod template change"}
	}
	if len(out) > maxChangeLines {
		n := len(out) - maxChangeLines
		out = append(out[:maxChangeLines], fmt.Sprintf("… and %d more %s", n, nounFor(n, "field", "fields")))
	}
	return out
}

// plainKey is a map key written after a dot; others go in brackets.
var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func changePath(path, key string) string {
	if plainKey.MatchString(key) {
		return path + "." + key
	}
	return path + "[" + key + "]"
}

// fieldChanges appends a line per leaf field that differs between a and b
// (decoded JSON). Lists of named objects (containers, env) are matched by
// name, other lists by index.
func fieldChanges(path string, a, b any, out *[]string) {
	am, aIsMap := a.(map[string]any)
	bm, bIsMap := b.(map[string]any)
	if aIsMap && b == nil || bIsMap && a == nil || aIsMap && bIsMap {
		keys := make([]string, 0, len(am)+len(bm))
		for k := range am {
			keys = append(keys, k)
		}
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			fieldChanges(changePath(path, k), am[k], bm[k], out)
		}
		return
	}
	al, aIsList := a.([]any)
	bl, bIsList := b.([]any)
	if aIsList && bIsList {
		if an, bn := namedElements(al), namedElements(bl); an != nil && bn != nil {
			var names []string
			for _, l := range [][]any{al, bl} {
				for _, e := range l {
					if n := e.(map[string]any)["name"].(string); !slices.Contains(names, n) {
						names = append(names, n)
					}
				}
			}
			for _, n := range names {
				fieldChanges(path+"["+n+"]", an[n], bn[n], out)
			}
			return
		}
		for i := range max(len(al), len(bl)) {
			var x, y any
			if i < len(al) {
				x = al[i]
			}
			if i < len(bl) {
				y = bl[i]
			}
			fieldChanges(fmt.Sprintf("%s[%d]", path, i), x, y, out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, fmt.Sprintf("%s: %s → %s", path, changeValue(a), changeValue(b)))
	}
}

// namedElements indexes a list of objects by their unique string name, or
// returns nil if it is not such a list.
func namedElements(l []any) map[string]any {
	m := make(map[string]any, len(l))
	for _, e := range l {
		o, ok := e.(map[string]any)
		if !ok {
			return nil
		}
		n, ok := o["name"].(string)
		if _, dup := m[n]; !ok || dup {
			return nil
		}
		m[n] = o
	}
	return m
}

// changeValue shows a value in a change line, shortened.
func changeValue(v any) string {
	var s string
	switch v := v.(type) {
	case nil:
		return "(none)"
	case string:
		if v == "" {
			return `""`
		}
		s = v
	case map[string]any, []any:
		b, err := json.Marshal(v)
		if err != nil {
			s = fmt.Sprint(v)
		} else {
			s = string(b)
		}
	default:
		s = fmt.Sprint(v)
	}
	if r := []rune(s); len(r) > 80 {
		s = string(r[:79]) + "…"
	}
	return s
}
