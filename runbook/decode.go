package runbook

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// decoder maps a YAML syntax tree onto Go values strictly: unknown fields,
// duplicate keys and wrong types are errors, each with its position and
// path, and decoding goes on after an error so every problem is reported.
// Struct fields are named by their yaml tag (else json tag); ",inline"
// embeds a struct's fields.
type decoder struct {
	file    string
	errs    ErrorList
	anchors map[string]ast.Node
	// pos records where every decoded path starts, so that later semantic
	// checks can point at a field.
	pos map[string]token.Position
	// expand, when set, resolves ${vars} in every string scalar.
	expand func(string) (string, error)
}

// yamlDecoder is implemented by types that decode themselves from a node.
type yamlDecoder interface {
	decodeYAML(d *decoder, n ast.Node, path string)
}

var yamlDecoderType = reflect.TypeFor[yamlDecoder]()

func newDecoder(file string) *decoder {
	return &decoder{file: file, anchors: map[string]ast.Node{}, pos: map[string]token.Position{}}
}

// errorAt records a problem at node n.
func (d *decoder) errorAt(n ast.Node, path, hint, format string, args ...any) {
	e := &Error{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...), Hint: hint}
	if n != nil {
		if tk := n.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Col = tk.Position.Line, tk.Position.Column
		}
	}
	d.errs = append(d.errs, e)
}

// errorAtPath records a problem at a path decoded earlier (or the nearest
// decoded parent of it).
func (d *decoder) errorAtPath(path, hint, format string, args ...any) {
	e := &Error{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...), Hint: hint}
	for p := path; p != ""; p = parentPath(p) {
		if pos, ok := d.pos[p]; ok {
			e.Line, e.Col = pos.Line, pos.Column
			break
		}
	}
	d.errs = append(d.errs, e)
}

// parentPath drops the last element of a path: "a.b[2]" → "a.b" → "a" → "".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// joinPath appends a field name to a path.
func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// unwrap resolves anchors, aliases and tags to the value node.
func (d *decoder) unwrap(n ast.Node, path string) ast.Node {
	for range 64 {
		switch v := n.(type) {
		case *ast.AnchorNode:
			if name, ok := v.Name.(*ast.StringNode); ok {
				d.anchors[name.Value] = v.Value
			}
			n = v.Value
		case *ast.AliasNode:
			name := v.Value.GetToken().Value
			target, ok := d.anchors[name]
			if !ok {
				d.errorAt(n, path, "", "alias *%s refers to no anchor defined before it", name)
				return nil
			}
			n = target
		case *ast.TagNode:
			n = v.Value
		default:
			return n
		}
	}
	d.errorAt(n, path, "", "aliases nest too deep")
	return nil
}

// decode decodes node n into v (settable), at path.
func (d *decoder) decode(n ast.Node, path string, v reflect.Value) {
	if n == nil {
		return
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		if _, seen := d.pos[path]; !seen {
			d.pos[path] = *tk.Position
		}
	}
	n = d.unwrap(n, path)
	if n == nil {
		return
	}
	if _, isNull := n.(*ast.NullNode); isNull {
		return // leave the zero value
	}
	if v.CanAddr() && v.Addr().Type().Implements(yamlDecoderType) {
		v.Addr().Interface().(yamlDecoder).decodeYAML(d, n, path)
		return
	}
	if v.CanAddr() && v.Addr().Type().Implements(textUnmarshaler) {
		text, ok := d.stringValue(n, path)
		if !ok {
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(text)); err != nil {
			d.errorAt(n, path, "", "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, path, v.Elem())
	case reflect.Struct:
		d.decodeStruct(n, path, v)
	case reflect.Map:
		d.decodeMap(n, path, v)
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			d.errorAt(n, path, "", "want a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
		for i, item := range seq.Values {
			d.decode(item, fmt.Sprintf("%s[%d]", path, i), s.Index(i))
		}
		v.Set(s)
	case reflect.String:
		if text, ok := d.stringValue(n, path); ok {
			v.SetString(text)
		}
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.errorAt(n, path, "", "want true or false, got %s", describe(n))
			return
		}
		v.SetBool(b.Value)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, ok := intValue(n)
		if !ok || v.OverflowInt(i) {
			d.errorAt(n, path, "", "want an integer, got %s", describe(n))
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		i, ok := intValue(n)
		if !ok || i < 0 || v.OverflowUint(uint64(i)) {
			d.errorAt(n, path, "", "want a non-negative integer, got %s", describe(n))
			return
		}
		v.SetUint(uint64(i))
	case reflect.Float32, reflect.Float64:
		f, ok := floatValue(n)
		if !ok {
			d.errorAt(n, path, "", "want a number, got %s", describe(n))
			return
		}
		v.SetFloat(f)
	case reflect.Interface:
		if v.NumMethod() != 0 {
			d.errorAt(n, path, "", "cannot decode into %s", v.Type())
			return
		}
		if g := d.generic(n, path); g != nil {
			v.Set(reflect.ValueOf(g))
		}
	default:
		d.errorAt(n, path, "", "cannot decode into %s", v.Type())
	}
}

// stringValue returns a scalar's text with variables expanded.
func (d *decoder) stringValue(n ast.Node, path string) (string, bool) {
	text, ok := scalarText(n)
	if !ok {
		d.errorAt(n, path, "", "want a string, got %s", describe(n))
		return "", false
	}
	if d.expand != nil {
		var err error
		if text, err = d.expand(text); err != nil {
			d.errorAt(n, path, "", "%v", err)
			return "", false
		}
	}
	return text, true
}

// field is a struct field by its YAML name.
type field struct {
	name  string
	index []int
}

// fieldsOf lists t's decodable fields, inline structs flattened.
func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "" {
			tag = f.Tag.Get("json")
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") || (f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct) {
			for _, sub := range fieldsOf(f.Type) {
				out = append(out, field{name: sub.name, index: append([]int{i}, sub.index...)})
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name[:1]) + f.Name[1:]
		}
		out = append(out, field{name: name, index: []int{i}})
	}
	return out
}

func (d *decoder) decodeStruct(n ast.Node, path string, v reflect.Value) {
	m, ok := n.(*ast.MappingNode)
	if !ok {
		d.errorAt(n, path, "", "want a mapping, got %s", describe(n))
		return
	}
	fields := fieldsOf(v.Type())
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	seen := map[string]bool{}
	for _, kv := range m.Values {
		key, ok := scalarText(d.unwrap(kv.Key, path))
		if !ok {
			d.errorAt(kv.Key, path, "", "want a field name, got %s", describe(kv.Key))
			continue
		}
		if key == "<<" {
			d.errorAt(kv.Key, path, "", "merge keys (<<) are not supported")
			continue
		}
		fp := joinPath(path, key)
		if seen[key] {
			d.errorAt(kv.Key, fp, "", "duplicate field %q", key)
			continue
		}
		seen[key] = true
		i := slices.Index(names, key)
		if i < 0 {
			hint := "known fields: " + strings.Join(names, ", ")
			if c := closest(key, names); c != "" {
				hint = fmt.Sprintf("did you mean %q?", c)
			}
			d.errorAt(kv.Key, fp, hint, "unknown field %q", key)
			continue
		}
		if tk := kv.Key.GetToken(); tk != nil && tk.Position != nil {
			d.pos[fp] = *tk.Position
		}
		d.decode(kv.Value, fp, fieldByIndex(v, fields[i].index))
	}
}

// fieldByIndex is v.FieldByIndex allocating nil embedded pointers.
func fieldByIndex(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

func (d *decoder) decodeMap(n ast.Node, path string, v reflect.Value) {
	m, ok := n.(*ast.MappingNode)
	if !ok {
		d.errorAt(n, path, "", "want a mapping, got %s", describe(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		d.errorAt(n, path, "", "cannot decode into %s", v.Type())
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(v.Type(), len(m.Values)))
	}
	for _, kv := range m.Values {
		key, ok := scalarText(d.unwrap(kv.Key, path))
		if !ok {
			d.errorAt(kv.Key, path, "", "want a string key, got %s", describe(kv.Key))
			continue
		}
		fp := joinPath(path, key)
		if v.MapIndex(reflect.ValueOf(key).Convert(v.Type().Key())).IsValid() {
			d.errorAt(kv.Key, fp, "", "duplicate key %q", key)
			continue
		}
		if tk := kv.Key.GetToken(); tk != nil && tk.Position != nil {
			d.pos[fp] = *tk.Position
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(kv.Value, fp, elem)
		v.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), elem)
	}
}

// generic converts a node to string/int64/float64/bool/[]any/map[string]any.
func (d *decoder) generic(n ast.Node, path string) any {
	n = d.unwrap(n, path)
	switch v := n.(type) {
	case nil, *ast.NullNode:
		return nil
	case *ast.MappingNode:
		out := make(map[string]any, len(v.Values))
		for _, kv := range v.Values {
			key, ok := scalarText(d.unwrap(kv.Key, path))
			if !ok {
				d.errorAt(kv.Key, path, "", "want a string key, got %s", describe(kv.Key))
				continue
			}
			if _, dup := out[key]; dup {
				d.errorAt(kv.Key, joinPath(path, key), "", "duplicate key %q", key)
				continue
			}
			out[key] = d.generic(kv.Value, joinPath(path, key))
		}
		return out
	case *ast.SequenceNode:
		out := make([]any, len(v.Values))
		for i, item := range v.Values {
			out[i] = d.generic(item, fmt.Sprintf("%s[%d]", path, i))
		}
		return out
	case *ast.BoolNode:
		return v.Value
	case *ast.IntegerNode:
		if i, ok := intValue(v); ok {
			return i
		}
		f, _ := floatValue(v)
		return f
	case *ast.FloatNode:
		return v.Value
	}
	text, _ := scalarText(n)
	return text
}

// scalarText returns a scalar's text as written (strings unquoted).
func scalarText(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		return v.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return v.GetToken().Value, true
	}
	return "", false
}

func intValue(n ast.Node) (int64, bool) {
	iv, ok := n.(*ast.IntegerNode)
	if !ok {
		return 0, false
	}
	switch x := iv.Value.(type) {
	case int64:
		return x, true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}

func floatValue(n ast.Node) (float64, bool) {
	switch v := n.(type) {
	case *ast.FloatNode:
		return v.Value, true
	case *ast.IntegerNode:
		f, err := strconv.ParseFloat(v.GetToken().Value, 64)
		return f, err == nil
	}
	return 0, false
}

// describe names a node's kind for error messages.
func describe(n ast.Node) string {
	switch v := n.(type) {
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.NullNode:
		return "nothing"
	case *ast.BoolNode:
		return fmt.Sprintf("boolean %v", v.Value)
	case *ast.IntegerNode, *ast.FloatNode:
		return "number " + v.GetToken().Value
	case *ast.StringNode:
		return strconv.Quote(v.Value)
	case *ast.LiteralNode:
		return "a text block"
	case nil:
		return "nothing"
	}
	return n.Type().String()
}
