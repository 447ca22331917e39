package runbook

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// Options change how a runbook is read.
type Options struct {
	// Vars override the runbook's vars (the command line's --var k=v), so
	// one runbook serves staging and production.
	Vars map[string]string
	// LookupEnv resolves ${env:NAME}; os.LookupEnv when nil. Values from the
	// environment are secrets: they are expanded into specs but never
	// written back out (not into the digest, the journal or the report).
	LookupEnv func(string) (string, bool)
}

// ParseFile reads and parses the runbook at path.
func ParseFile(path string, opts Options) (*Runbook, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read runbook: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse parses and validates a runbook. On any problem it returns an
// ErrorList with every problem found, each at its file:line:col.
func Parse(file string, data []byte, opts Options) (*Runbook, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	var secrets []string
	lookup := opts.LookupEnv
	opts.LookupEnv = func(name string) (string, bool) {
		v, ok := lookup(name)
		if ok && v != "" && !slices.Contains(secrets, v) {
			secrets = append(secrets, v)
		}
		return v, ok
	}
	d, body, err := document(file, data, "runbook file", "start with apiVersion: "+APIVersion+" and kind: "+Kind)
	if err != nil {
		return nil, err
	}
	if _, ok := d.unwrap(body, "").(*ast.MappingNode); !ok {
		d.errorAt(body, "", "start with apiVersion: "+APIVersion+" and kind: "+Kind, "a runbook is a mapping, got %s", describe(body))
		return nil, d.errs
	}
	rb := &Runbook{File: file}
	vars := d.decodeVars(body, opts)
	d.expand = func(s string) (string, error) { return expandVars(s, vars, opts.LookupEnv) }
	d.decode(body, "", reflect.ValueOf(rb).Elem())
	rb.Vars = vars
	d.validate(rb)
	if len(d.errs) > 0 {
		return nil, d.errs.sorted()
	}
	rb.Digest = digest(data, opts.Vars)
	rb.secrets = secrets
	rb.source, rb.overrides = slices.Clone(data), maps.Clone(opts.Vars)
	return rb, nil
}

// document parses data as the one YAML document a runbook or load file
// holds and returns a decoder for it and its body. what names the kind of
// file in errors; emptyHint is the hint for an empty one.
func document(file string, data []byte, what, emptyHint string) (*decoder, ast.Node, error) {
	f, err := parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		return nil, nil, ErrorList{syntaxError(file, err)}
	}
	d := newDecoder(file)
	var body ast.Node
	for _, doc := range f.Docs {
		if doc.Body == nil {
			continue
		}
		if body != nil {
			d.errorAt(doc.Body, "", "", "a %s holds one YAML document; found another here", what)
			return nil, nil, d.errs
		}
		body = doc.Body
	}
	if body == nil {
		return nil, nil, ErrorList{{File: file, Msg: "empty " + what, Hint: emptyHint}}
	}
	return d, body, nil
}

// syntaxError converts a YAML parser error to an *Error at its place.
func syntaxError(file string, err error) *Error {
	e := &Error{File: file, Msg: err.Error()}
	var se *yaml.SyntaxError
	if errors.As(err, &se) {
		e.Msg = se.GetMessage()
		if tk := se.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Col = tk.Position.Line, tk.Position.Column
		}
	}
	return e
}

// decodeVars reads the top-level vars first (they may use ${env:…} but not
// each other) and applies the overrides.
func (d *decoder) decodeVars(body ast.Node, opts Options) map[string]string {
	vars := map[string]string{}
	if m, ok := body.(*ast.MappingNode); ok {
		for _, kv := range m.Values {
			if key, _ := scalarText(kv.Key); key == "vars" {
				d.expand = func(s string) (string, error) { return expandVars(s, nil, opts.LookupEnv) }
				d.decode(kv.Value, "vars", reflect.ValueOf(&vars).Elem())
				d.expand = nil
			}
		}
	}
	for k, v := range opts.Vars {
		vars[k] = v
	}
	return vars
}

var varRef = regexp.MustCompile(`\$\$|\$\{([^}]*)\}`)

// expandVars replaces ${name} by the var, ${env:NAME} by the environment
// and $$ by $. An undefined name is an error naming it.
func expandVars(s string, vars map[string]string, lookupEnv func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var errs []error
	out := varRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		name := m[2 : len(m)-1]
		if env, ok := strings.CutPrefix(name, "env:"); ok {
			v, ok := lookupEnv(env)
			if !ok {
				errs = append(errs, fmt.Errorf("environment variable %s is not set", env))
			}
			return v
		}
		v, ok := vars[name]
		if !ok {
			known := slices.Sorted(mapsKeys(vars))
			hint := "define it under vars: or pass --var " + name + "=…"
			if c := closest(name, known); c != "" {
				hint = fmt.Sprintf("did you mean ${%s}?", c)
			}
			errs = append(errs, fmt.Errorf("undefined variable ${%s} (hint: %s)", name, hint))
		}
		return v
	})
	return out, errors.Join(errs...)
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// digest identifies the runbook as run: its bytes and the --var overrides
// (never environment values).
func digest(data []byte, overrides map[string]string) string {
	h := sha256.New()
	h.Write(data)
	for _, k := range slices.Sorted(mapsKeys(overrides)) {
		fmt.Fprintf(h, "\x00%s=%s", k, overrides[k])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// decodeYAML decodes a probe mapping: its kind picks the spec type from the
// probes registry, the other fields are decoded strictly into the spec, and
// the spec validates itself.
func (p *ProbeStep) decodeYAML(d *decoder, n ast.Node, path string) {
	kind, kindNode, rest, ok := d.splitKind(n, path, "probe", probes.Kinds())
	if !ok {
		return
	}
	def, err := probes.Lookup(kind)
	if err != nil {
		d.unknownKind(kindNode, path, "probe", kind, probes.Kinds())
		return
	}
	p.Kind = kind
	p.Spec = def.NewSpec()
	d.decodeSpec(rest, path, p.Spec)
}

// decodeYAML decodes an action mapping like a probe's, from the actions
// registry.
func (a *ActionStep) decodeYAML(d *decoder, n ast.Node, path string) {
	kind, kindNode, rest, ok := d.splitKind(n, path, "action", actions.Kinds())
	if !ok {
		return
	}
	def, err := actions.Lookup(kind)
	if err != nil {
		d.unknownKind(kindNode, path, "action", kind, actions.Kinds())
		return
	}
	a.Kind, a.Kube = kind, def.Kube
	a.Spec = def.NewSpec()
	if b, ok := a.Spec.(actions.BaseDirSet); ok {
		// Files in an action are named relative to the runbook, as
		// kubectl apply -f names them relative to where it runs.
		b.SetBaseDir(filepath.Dir(d.file))
	}
	d.decodeSpec(rest, path, a.Spec)
}

// splitKind takes the kind out of a probe's or an action's mapping and
// returns it with the other fields.
func (d *decoder) splitKind(n ast.Node, path, what string, known []string) (kind string, kindNode ast.Node, rest *ast.MappingNode, ok bool) {
	m, isMap := n.(*ast.MappingNode)
	if !isMap {
		d.errorAt(n, path, "", "want a mapping with a kind, got %s", describe(n))
		return "", nil, nil, false
	}
	r := *m
	r.Values = nil
	for _, kv := range m.Values {
		if key, _ := scalarText(kv.Key); key == "kind" {
			kindNode = kv.Value
			continue
		}
		r.Values = append(r.Values, kv)
	}
	if kindNode == nil {
		d.errorAt(n, path, "known kinds: "+strings.Join(known, ", "), "%s has no kind", what)
		return "", nil, nil, false
	}
	kind, _ = scalarText(kindNode)
	return kind, kindNode, &r, true
}

// unknownKind reports a kind the registry does not hold, with the closest
// known one as a hint.
func (d *decoder) unknownKind(kindNode ast.Node, path, what, kind string, known []string) {
	hint := "known kinds: " + strings.Join(known, ", ")
	if c := closest(kind, known); c != "" {
		hint = fmt.Sprintf("did you mean %q?", c)
	}
	d.errorAt(kindNode, path+".kind", hint, "unknown %s kind %q", what, kind)
}

// decodeSpec decodes the fields of a probe's or an action's mapping
// strictly into spec, then lets the spec validate itself.
func (d *decoder) decodeSpec(rest *ast.MappingNode, path string, spec interface{ Validate() error }) {
	before := len(d.errs)
	d.decode(rest, path, reflect.ValueOf(spec).Elem())
	if len(d.errs) > before {
		return // validating a half-decoded spec would only repeat the problem
	}
	if err := spec.Validate(); err != nil {
		d.specErrors(path, err)
	}
}

// specErrors places a spec's validation errors at their fields.
func (d *decoder) specErrors(path string, err error) {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		if inner, ok := e.(interface{ Unwrap() []error }); ok {
			d.specErrors(path, errors.Join(inner.Unwrap()...))
			continue
		}
		var fe *probes.FieldError
		if !errors.As(e, &fe) {
			d.errorAtPath(path, "", "%v", e)
			continue
		}
		fp := joinPath(path, fe.Field)
		msg := fe.Msg
		if fe.Col > 0 {
			msg = fmt.Sprintf("column %d of the expression: %s", fe.Col, fe.Msg)
		}
		d.errorAtPath(fp, "", "%s", msg)
	}
}
