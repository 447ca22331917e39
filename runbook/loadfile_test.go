package runbook

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/loader"
)

// loadFileValid is a load file using every kind of field.
const loadFileValid = `# the seed's baseline, as a load file
vars:
  api: http://127.0.0.1:8080
executor: constant-arrival-rate
rate: 100
duration: 1m
preAllocatedVUs: 20
maxVUs: 50
maxLag: 1s
gracefulStop: 5s
baseURL: ${api}
timeout: 2s
window: 30s
requests:
- {url: /health}
- url: /api/exercises
  weight: 3
  headers: {Authorization: "Bearer ${env:LOADFILE_TEST_TOKEN}", Accept: application/json}
  checks: {status: [200], bodyContains: exercises, json: {ok: true}}
- {method: POST, url: /api/orders, body: '{"n": 1}'}
thresholds:
  http_req_duration: ["p(95)<200", {threshold: "p(99)<500", abortOnFail: true, delayAbortEval: 10s}]
  http_req_failed: ["rate<0.1"]
`

// loadFileMinimal has no thresholds: cockpit load may measure only.
const loadFileMinimal = `vus: 2
duration: 5s
requests: [{url: "http://127.0.0.1:8080/"}]
`

// loadFileRamping ramps the arrival rate.
const loadFileRamping = `executor: ramping-arrival-rate
rate: 10
preAllocatedVUs: 5
stages: [{duration: 30s, target: 100}, {duration: 1m, target: 100}]
requests: [{url: "https://127.0.0.1:8443/"}]
http2: true
insecure: true
`

func TestParseLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "load.yaml")
	if err := os.WriteFile(path, []byte(loadFileValid), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"LOADFILE_TEST_TOKEN": "s3cr3t"}
	step, err := ParseLoadFile(path, Options{Vars: map[string]string{"api": "http://127.0.0.1:9090"},
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := step.LoadConfig(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Executor
	if e.Kind != loader.ConstantArrivalRate || e.Rate != 100 || e.Duration != time.Minute || e.PreAllocatedVUs != 20 ||
		e.MaxVUs != 50 || e.MaxLag != time.Second || e.GracefulStop != 5*time.Second {
		t.Errorf("executor %+v", e)
	}
	if cfg.BaseURL != "http://127.0.0.1:9090" { // --var beats vars:
		t.Errorf("baseURL %q, want the override", cfg.BaseURL)
	}
	if cfg.Timeout != 2*time.Second || cfg.Window != 30*time.Second {
		t.Errorf("timeout %v window %v", cfg.Timeout, cfg.Window)
	}
	if len(cfg.Requests) != 3 {
		t.Fatalf("requests %+v", cfg.Requests)
	}
	r := cfg.Requests[1]
	if r.Header.Get("Authorization") != "Bearer s3cr3t" || r.Weight != 3 || r.Checks.BodyContains != "exercises" ||
		len(r.Checks.Status) != 1 || len(r.Checks.JSON) != 1 {
		t.Errorf("request 1 %+v", r)
	}
	if p := cfg.Requests[2]; p.Method != "POST" || string(p.Body) != `{"n": 1}` {
		t.Errorf("request 2 %+v", p)
	}
	if len(cfg.Thresholds) != 3 || !cfg.Thresholds[1].AbortOnFail || cfg.Thresholds[1].DelayAbortEval != 10*time.Second {
		t.Errorf("thresholds %+v", cfg.Thresholds)
	}

	for name, src := range map[string]string{"minimal": loadFileMinimal, "ramping": loadFileRamping} {
		step, err := ParseLoad(name+".yaml", []byte(src), Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := step.LoadConfig("."); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Every problem is reported at once, in file order, each at
// file:line:col with its path. Decoding problems (syntax, types, unknown
// fields, variables) come first; the loader's validation runs on a step
// that decoded cleanly, so it never repeats them.
func TestParseLoadFileErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"unknown fields and wrong types, all at once", `vus: ten
duration: 5s
requets: [{url: "http://127.0.0.1/"}]
thresholds:
  http_req_duration: ["p(95)<<200"]
timeout: {a: 1}
`, []string{
			`x.yaml:1:6: vus: want an integer, got "ten"`,
			`x.yaml:3:1: requets: unknown field "requets" (hint: did you mean "requests"?)`,
			`x.yaml:6:10: timeout: want a string, got a mapping`,
		}},
		{"semantic errors at their fields", `executor: constant-vus
vus: -3
duration: 5s
requests: [{url: "ftp://127.0.0.1/"}]
`, []string{`x.yaml:2:1: vus: must be > 0`}},
		{"thresholds checked with the column of the expression", `duration: 5s
requests: [{url: "http://127.0.0.1/"}]
thresholds:
  http_req_duration: ["p(95)<<200"]
  http_req_durations: ["p(95)<200"]
`, []string{
			`x.yaml:4:23: thresholds.http_req_duration[0]: column 7 of the expression: expected a number`,
			`x.yaml:5:3: thresholds.http_req_durations: unknown metric "http_req_durations"`,
		}},
		{"bad url", `duration: 5s
requests: [{url: "ftp://127.0.0.1/"}]
`, []string{`x.yaml:2:13: requests[0].url: scheme "ftp" is not http or https`}},
		{"undefined variable and unset environment", `vars: {api: "http://127.0.0.1"}
duration: 5s
baseURL: ${apy}
requests: [{url: /, headers: {X-Token: "${env:LOADFILE_TEST_UNSET}"}}]
`, []string{
			`x.yaml:3:10: baseURL: undefined variable ${apy} (hint: did you mean ${api}?)`,
			`x.yaml:4:40: requests[0].headers.X-Token: environment variable LOADFILE_TEST_UNSET is not set`,
		}},
		{"executor options that do not apply", `executor: ramping-vus
duration: 5s
stages: [{duration: 5s, target: 2}]
requests: [{url: "http://127.0.0.1/"}]
`, []string{`x.yaml:2:1: duration: is set by the stages of ramping-vus`}},
		{"unknown executor", `executor: shared-iterations
requests: [{url: "http://127.0.0.1/"}]
`, []string{`x.yaml:1:1: executor: unknown executor "shared-iterations"`}},
		{"no requests", `vus: 1
duration: 1s
`, []string{`x.yaml: requests: at least one request is needed`}},
		{"duplicate key", `vus: 1
vus: 2
duration: 1s
requests: [{url: "http://127.0.0.1/"}]
`, []string{`x.yaml:2:1: vus: duplicate field "vus"`}},
		{"two documents", "vus: 1\n---\nvus: 2\n", []string{`x.yaml:3:4: a load file holds one YAML document`}},
		{"empty", "# nothing\n", []string{`x.yaml: empty load file`}},
		{"not a mapping", "- vus: 1\n", []string{`x.yaml:1:1: want a mapping, got a list`}},
		{"syntax error", "vus: [1\n", []string{`x.yaml:`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLoad("x.yaml", []byte(tt.src), Options{LookupEnv: func(string) (string, bool) { return "", false }})
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("err = %v, want an ErrorList", err)
			}
			if len(list) != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%v", len(list), len(tt.want), err)
			}
			for i, w := range tt.want {
				if i < len(list) && !strings.HasPrefix(list[i].Error(), w) {
					t.Errorf("problem %d:\n got %s\nwant %s…", i, list[i].Error(), w)
				}
			}
		})
	}
}

// cacert is resolved from the load file's directory; a file without a
// certificate is an error at the field.
func TestParseLoadFileCACert(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "empty.pem"), []byte("nothing here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := "duration: 1s\nrequests: [{url: \"https://127.0.0.1/\"}]\ncacert: %s\n"
	path := filepath.Join(dir, "load.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(src, "%s", "ca.pem", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	step, err := ParseLoadFile(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := step.LoadConfig(dir)
	if err != nil || cfg.RootCAs == nil {
		t.Fatalf("config %v, RootCAs %v", err, cfg.RootCAs)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(src, "%s", "empty.pem", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = ParseLoadFile(path, Options{})
	if err == nil || !strings.Contains(err.Error(), path+":3:1: cacert: no PEM certificate in") {
		t.Errorf("err = %v", err)
	}
	if _, err := ParseLoadFile(filepath.Join(dir, "missing.yaml"), Options{}); err == nil || !strings.Contains(err.Error(), "read load file") {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzParseLoad: any input gives a step or positioned errors, never a
// panic; a step that parses always builds its loader configuration.
func FuzzParseLoad(f *testing.F) {
	for _, s := range []string{loadFileValid, loadFileMinimal, loadFileRamping,
		"vus: ten\nrequets: []\n", "vus: 1\n---\nvus: 2\n", "- 1\n", "vus: [1\n", "a: &x {b: *x}\n",
		"thresholds: {http_req_duration: [\"p(95)<<200\"]}\n"} {
		f.Add([]byte(s))
	}
	lookup := func(string) (string, bool) { return "", false }
	f.Fuzz(func(t *testing.T, data []byte) {
		step, err := ParseLoad("fuzz.yaml", data, Options{LookupEnv: lookup})
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("err %v is not a non-empty ErrorList", err)
			}
			for _, e := range list {
				if e.File != "fuzz.yaml" || e.Msg == "" {
					t.Fatalf("problem without its place or message: %#v", e)
				}
			}
			return
		}
		if _, err := step.LoadConfig("."); err != nil {
			t.Fatalf("parsed, but the configuration fails: %v", err)
		}
	})
}
