package runbook

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml/parser"
)

type testDuration time.Duration

func (d *testDuration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = testDuration(v)
	return err
}

type testInner struct {
	Count int     `yaml:"count"`
	Ratio float64 `yaml:"ratio"`
}

type testDoc struct {
	Name    string            `yaml:"name"`
	Enabled bool              `yaml:"enabled"`
	Every   testDuration      `yaml:"every"`
	Tags    []string          `yaml:"tags"`
	Vars    map[string]string `yaml:"vars"`
	Inner   *testInner        `yaml:"inner"`
	List    []testInner       `yaml:"list"`
	Any     any               `yaml:"any"`
	Small   int8              `yaml:"small"`
}

func decodeString(t *testing.T, src string, v any) ErrorList {
	t.Helper()
	f, err := parser.ParseBytes([]byte(src), 0, parser.AllowDuplicateMapKey())
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	d := newDecoder("doc.yaml")
	d.decode(f.Docs[0].Body, "", reflect.ValueOf(v).Elem())
	return d.errs
}

func TestDecodeOK(t *testing.T) {
	var got testDoc
	errs := decodeString(t, `
name: gravl
enabled: true
every: 30s
tags: [a, "b"]
vars: {apiURL: "https://gravl.app", version: 1.0, port: 8080}
inner: {count: 3, ratio: 1}
list:
- &one {count: 1, ratio: 0.5}
- *one
any: {x: [1, two, 3.5, true, null]}
small: 127
`, &got)
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	want := testDoc{
		Name: "gravl", Enabled: true, Every: testDuration(30 * time.Second), Tags: []string{"a", "b"},
		Vars:  map[string]string{"apiURL": "https://gravl.app", "version": "1.0", "port": "8080"},
		Inner: &testInner{Count: 3, Ratio: 1},
		List:  []testInner{{Count: 1, Ratio: 0.5}, {Count: 1, Ratio: 0.5}},
		Any:   map[string]any{"x": []any{int64(1), "two", 3.5, true, nil}},
		Small: 127,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // every error, in order, as file:line:col: path: message
	}{
		{name: "unknown field with suggestion", src: "name: x\nenabeld: true\n",
			want: []string{`doc.yaml:2:1: enabeld: unknown field "enabeld" (hint: did you mean "enabled"?)`}},
		{name: "unknown field lists known", src: "zzzzzzzz: 1\n",
			want: []string{`doc.yaml:1:1: zzzzzzzz: unknown field "zzzzzzzz" (hint: known fields: name, enabled, every, tags, vars, inner, list, any, small)`}},
		{name: "duplicate map key", src: "vars: {a: 1, b: 2, a: 3}\n",
			want: []string{`doc.yaml:1:20: vars.a: duplicate key "a"`}},
		{name: "wrong types, all reported", src: "enabled: yes\ntags: a\ninner: {count: 1.5, ratio: x}\nsmall: 300\n",
			want: []string{
				`doc.yaml:1:10: enabled: want true or false, got "yes"`,
				`doc.yaml:2:7: tags: want a list, got "a"`,
				`doc.yaml:3:16: inner.count: want an integer, got number 1.5`,
				`doc.yaml:3:28: inner.ratio: want a number, got "x"`,
				`doc.yaml:4:8: small: want an integer, got number 300`,
			}},
		{name: "text unmarshaler error", src: "every: soon\n",
			want: []string{`doc.yaml:1:8: every: time: invalid duration "soon"`}},
		{name: "nested list path", src: "list:\n- {count: 1}\n- {count: 2, bogus: 1}\n",
			want: []string{`doc.yaml:3:14: list[1].bogus: unknown field "bogus"`}},
		{name: "mapping where string wanted", src: "name: {a: 1}\n",
			want: []string{`doc.yaml:1:7: name: want a string, got a mapping`}},
		{name: "unknown alias", src: "inner: *nope\n",
			want: []string{`doc.yaml:1:8: inner: alias *nope refers to no anchor defined before it`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got testDoc
			errs := decodeString(t, tt.src, &got)
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(tt.want), errs)
			}
			for i, e := range errs {
				if !strings.HasPrefix(e.Error(), tt.want[i]) {
					t.Errorf("error %d:\n got  %s\n want %s", i, e, tt.want[i])
				}
			}
		})
	}
}

func TestErrorListUnwrap(t *testing.T) {
	l := ErrorList{{File: "a.yaml", Line: 2, Col: 3, Path: "x", Msg: "bad"}}
	var e *Error
	if !errors.As(error(l), &e) || e.Line != 2 {
		t.Errorf("errors.As through ErrorList failed: %v", e)
	}
	if got := (&Error{File: "f", Msg: "m"}).Error(); got != "f: m" {
		t.Errorf("no-position error = %q", got)
	}
}
