package probes_test

import (
	"strings"
	"testing"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
)

// The prometheus and alertmanager specs as a runbook writes them, through
// the runbook's strict decoder: fields, ${env:…} credentials, and every
// problem at its file:line:col.

const monitorRunbook = `apiVersion: cockpit/v1
kind: Runbook
metadata: {name: gravl-go-live}
vars: {prom: "https://prometheus.gravl.app", am: "https://alertmanager.gravl.app"}
phases:
- id: monitor
  duration: 2h
  steps:
  - id: error-rate
    every: 30s
    probe:
      kind: prometheus
      url: ${prom}
      query: sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))
      expect: "< 0.01"
      empty: warn
      bearerToken: ${env:PROM_TOKEN}
      timeout: 5s
  - id: no-critical-alerts
    probe:
      kind: alertmanager
      url: ${am}
      matchers: ['severity="critical"', 'namespace=~"gravl-.*"']
      basicAuth: {username: cockpit, password: "${env:AM_PASSWORD}"}
      inhibited: true
`

func lookup(vals map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vals[k]
		return v, ok
	}
}

func TestDecodePrometheusAndAlertmanager(t *testing.T) {
	rb, err := runbook.Parse("monitor.yaml", []byte(monitorRunbook), runbook.Options{
		LookupEnv: lookup(map[string]string{"PROM_TOKEN": "prom-s3cr3t", "AM_PASSWORD": "am-s3cr3t"}),
	})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	steps := rb.Phases[0].Steps
	prom, ok := steps[0].Probe.Spec.(*probes.PrometheusSpec)
	if !ok {
		t.Fatalf("error-rate spec = %T", steps[0].Probe.Spec)
	}
	if prom.URL != "https://prometheus.gravl.app" || prom.Expect != "< 0.01" || prom.Empty != "warn" ||
		prom.BearerToken != "prom-s3cr3t" || prom.Timeout.Or(0).String() != "5s" || !strings.Contains(prom.Query, `code=~"5.."`) {
		t.Errorf("prometheus spec = %+v", prom)
	}
	am, ok := steps[1].Probe.Spec.(*probes.AlertmanagerSpec)
	if !ok {
		t.Fatalf("no-critical-alerts spec = %T", steps[1].Probe.Spec)
	}
	if len(am.Matchers) != 2 || am.BasicAuth == nil || am.BasicAuth.Password != "am-s3cr3t" || !am.Inhibited || am.Silenced {
		t.Errorf("alertmanager spec = %+v", am)
	}
	for _, d := range []probes.Describer{prom, am} {
		if s := d.Describe(); strings.Contains(s, "s3cr3t") {
			t.Errorf("Describe leaks a credential: %s", s)
		}
	}
	if got := rb.Secrets(); len(got) != 2 {
		t.Errorf("secrets = %d values, want the token and the password", len(got))
	}
}

func TestDecodePrometheusAndAlertmanagerErrors(t *testing.T) {
	const head = "apiVersion: cockpit/v1\nkind: Runbook\nmetadata: {name: x}\nphases:\n- id: p\n  steps:\n  - id: s\n    probe:\n"
	tests := []struct {
		name string
		body string // the probe mapping, indented by 6
		want []string
	}{
		{name: "unknown field with a suggestion", body: "      kind: prometheus\n      url: http://127.0.0.1:9090\n      qurey: up\n      expect: '== 1'\n",
			want: []string{`r.yaml:11:7: phases[0].steps[0].probe.qurey: unknown field "qurey" (hint: did you mean "query"?)`}},
		{name: "missing query and bad empty", body: "      kind: prometheus\n      url: http://127.0.0.1:9090\n      expect: '== 1'\n      empty: ok\n",
			want: []string{"query: required", `empty: want pass, warn or fail, got "ok"`}},
		{name: "expect column", body: "      kind: prometheus\n      url: http://127.0.0.1:9090\n      query: up\n      expect: '=< 1'\n",
			want: []string{"phases[0].steps[0].probe.expect"}},
		{name: "matcher column", body: "      kind: alertmanager\n      url: http://127.0.0.1:9093\n      matchers: ['severity=critical']\n",
			want: []string{"phases[0].steps[0].probe.matchers[0]", "want a quoted value"}},
		{name: "basicAuth unknown field", body: "      kind: alertmanager\n      url: http://127.0.0.1:9093\n      basicAuth: {user: a, password: b}\n",
			want: []string{`basicAuth.user: unknown field "user"`}},
		{name: "silenced is a boolean", body: "      kind: alertmanager\n      url: http://127.0.0.1:9093\n      silenced: sometimes\n",
			want: []string{"phases[0].steps[0].probe.silenced"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runbook.Parse("r.yaml", []byte(head+tt.body), runbook.Options{LookupEnv: lookup(nil)})
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
