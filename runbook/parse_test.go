package runbook

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockpit-dev/cockpit/internal/goldenfile"
	"github.com/cockpit-dev/cockpit/probes"
)

func env(vals map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vals[k]
		return v, ok
	}
}

func TestParseValid(t *testing.T) {
	rb, err := ParseFile("testdata/valid.yaml", Options{LookupEnv: env(map[string]string{"GRAVL_TOKEN": "s3cr3t"})})
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	if rb.Metadata.Name != "gravl-go-live" || len(rb.Phases) != 3 {
		t.Fatalf("runbook = %+v", rb)
	}
	health := rb.Phases[0].Steps[0]
	spec, ok := health.Probe.Spec.(*probes.HTTPSpec)
	if !ok || health.Probe.Kind != "http" {
		t.Fatalf("health probe = %#v", health.Probe)
	}
	if spec.URL != "https://gravl.app/health" || spec.Headers["Authorization"] != "Bearer s3cr3t" || spec.JSON["status"] != "ok" {
		t.Errorf("vars not expanded: %+v", spec)
	}
	if got := rb.Phases[1].Steps[0]; got.Retries != 2 || got.Timeout.String() != "10s" || got.Needs[0] != "health" {
		t.Errorf("step fields = %+v", got)
	}
	if rb.Phases[2].Duration.String() != "2h0m0s" || !rb.Phases[2].Steps[0].Optional {
		t.Errorf("monitor phase = %+v", rb.Phases[2])
	}
	if !strings.HasPrefix(rb.Digest, "sha256:") {
		t.Errorf("digest = %q", rb.Digest)
	}
	if strings.Contains(rb.Digest, "s3cr3t") {
		t.Error("digest carries the secret")
	}
}

// One runbook serves staging and production: --var overrides the file's
// vars and changes the digest; the environment does not.
func TestParseVarOverrides(t *testing.T) {
	lookup := env(map[string]string{"GRAVL_TOKEN": "a"})
	prod, err := ParseFile("testdata/valid.yaml", Options{LookupEnv: lookup})
	if err != nil {
		t.Fatal(err)
	}
	staging, err := ParseFile("testdata/valid.yaml", Options{LookupEnv: lookup, Vars: map[string]string{"apiURL": "https://staging.gravl.app"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := staging.Phases[0].Steps[0].Probe.Spec.(*probes.HTTPSpec).URL; got != "https://staging.gravl.app/health" {
		t.Errorf("override not applied: %s", got)
	}
	if prod.Digest == staging.Digest {
		t.Error("--var did not change the digest")
	}
	other, err := ParseFile("testdata/valid.yaml", Options{LookupEnv: env(map[string]string{"GRAVL_TOKEN": "b"})})
	if err != nil {
		t.Fatal(err)
	}
	if other.Digest != prod.Digest {
		t.Error("an environment value changed the digest: secrets would be fingerprinted")
	}
}

func TestParseMissingEnv(t *testing.T) {
	_, err := ParseFile("testdata/valid.yaml", Options{LookupEnv: env(nil)})
	if err == nil || !strings.Contains(err.Error(), "testdata/valid.yaml:8:10: vars.token: environment variable GRAVL_TOKEN is not set") {
		t.Errorf("err = %v", err)
	}
}

// The golden file lists every problem of invalid.yaml at once, in file
// order, each at file:line:col with its path.
func TestParseInvalidGolden(t *testing.T) {
	_, err := ParseFile("testdata/invalid.yaml", Options{LookupEnv: env(nil)})
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("err = %v, want an ErrorList", err)
	}
	goldenfile.Check(t, "testdata/invalid.golden", err.Error()+"\n")
}

func TestParseSmallErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{name: "empty", src: "", want: "r.yaml: empty runbook"},
		{name: "syntax", src: "apiVersion: [\n", want: "r.yaml:1:13:"},
		{name: "two documents", src: "a: 1\n---\nb: 2\n", want: "r.yaml:3:2: a runbook file holds one YAML document"},
		{name: "not a mapping", src: "- a\n", want: "r.yaml:1:1: a runbook is a mapping, got a list"},
		{name: "no phases", src: "apiVersion: cockpit/v1\nkind: Runbook\nmetadata: {name: x}\n", want: "r.yaml: phases: a runbook needs at least one phase"},
		{name: "probe without kind", src: "apiVersion: cockpit/v1\nkind: Runbook\nmetadata: {name: x}\nphases:\n- id: p\n  steps:\n  - id: s\n    probe: {url: x}\n", want: "r.yaml:8:12: phases[0].steps[0].probe: probe has no kind"},
		{name: "gate outcome", src: "apiVersion: cockpit/v1\nkind: Runbook\nmetadata: {name: x}\nphases:\n- id: p\n  gate: {outcomes: [{fail: {when: \"failed >> 0\"}}]}\n  steps:\n  - id: s\n    manual: {prompt: ok?}\n", want: "phases[0].gate.outcomes[0].fail.when: column 9 of the expression: want a number"},
		{name: "needs itself", src: "apiVersion: cockpit/v1\nkind: Runbook\nmetadata: {name: x}\nphases:\n- id: p\n  steps:\n  - id: s\n    needs: [s]\n    manual: {prompt: ok?}\n", want: `step "s" needs itself`},
		{name: "escaped dollar", src: "apiVersion: cockpit/v1\nkind: Runbook\nmetadata: {name: x}\nphases:\n- id: p\n  steps:\n  - id: s\n    manual: {prompt: \"$${notavar}\"}\n  - id: t\n    manual: {prompt: \"${nope}\"}\n", want: "r.yaml:10:22: phases[0].steps[1].manual.prompt: undefined variable ${nope}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(tt.src), Options{LookupEnv: env(nil)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	corpus, _ := filepath.Glob("testdata/invalid/*.yaml")
	for _, p := range append([]string{"testdata/valid.yaml", "testdata/invalid.yaml"}, corpus...) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("phases: [{id: p, steps: [{id: s, probe: {kind: http, url: '${env:X}'}}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rb, err := Parse("fuzz.yaml", data, Options{LookupEnv: env(nil)})
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error is not a non-empty ErrorList: %v", err)
			}
			for _, e := range list {
				if e.File != "fuzz.yaml" || e.Msg == "" {
					t.Fatalf("error without file or message: %#v", e)
				}
			}
			return
		}
		if rb.APIVersion != APIVersion || len(rb.Phases) == 0 {
			t.Fatalf("accepted an invalid runbook: %+v", rb)
		}
	})
}

// Every file of testdata/invalid is refused, with every problem at its
// file:line:col; the messages are kept in a golden file next to each one.
func TestParseInvalidCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 25 {
		t.Fatalf("the corpus has %d runbooks, want at least 25", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(f, data, Options{LookupEnv: env(nil)})
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("accepted, or not an ErrorList: %v", err)
			}
			for _, e := range list {
				if e.File != f || e.Msg == "" {
					t.Errorf("error without its file or a message: %#v", e)
				}
			}
			goldenfile.Check(t, strings.TrimSuffix(f, ".yaml")+".golden", err.Error()+"\n")
		})
	}
}
