package signoff

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/internal/goldenfile"
	"github.com/cockpit-dev/cockpit/loader/report"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
)

const seedRunbook = `apiVersion: cockpit/v1
kind: Runbook
metadata: {name: gravl-go-live, description: Production go-live (phase 10-09)}
vars: {api: "http://127.0.0.1:8080"}
phases:
- id: preflight
  title: Critical blockers
  steps:
  - id: issuers
    title: ClusterIssuers Ready
    probe: {kind: http, url: "${api}/issuers", headers: {Authorization: "Bearer ${env:GRAVL_TOKEN}"}}
  - id: notify
    manual: {prompt: "Stakeholders notified?"}
- id: validate
  steps:
  - id: baseline
    load:
      vus: 10
      duration: 30s
      baseURL: ${api}
      requests: [{url: /health}]
      thresholds: {http_req_duration: ["p(95)<200"], http_req_failed: ["rate<0.1"]}
`

// recordRun writes a journal through the engine with a fixed clock: the
// events an operator and the probes would produce.
func recordRun(t *testing.T, operatorEvents func(step string) []runbook.Event) string {
	t.Helper()
	dir := t.TempDir()
	rb, err := runbook.Parse("gravl-go-live.yaml", []byte(seedRunbook), runbook.Options{LookupEnv: func(string) (string, bool) { return "s3cret-t0ken", true }})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)
	now := t0
	path := filepath.Join(dir, "gravl.journal.jsonl")
	sess, err := runbook.Open(rb, runbook.OpenOptions{Journal: path, Now: func() time.Time { return now }, Cockpit: "v0.1.0", Hostname: "ops-1"})
	if err != nil {
		t.Fatal(err)
	}
	s := sess.State
	apply := func(ev runbook.Event) []runbook.Effect {
		now = now.Add(30 * time.Second)
		at := runbook.At{Time: now, Event: ev}
		var effs []runbook.Effect
		s, effs = runbook.Apply(s, at)
		if err := sess.Journal.Append(at, "lead", s.Phases[s.Current].ID); err != nil {
			t.Fatal(err)
		}
		return effs
	}
	// runFor answers every effect that starts a probe or load test.
	var answer func([]runbook.Effect)
	answer = func(effs []runbook.Effect) {
		for _, e := range effs {
			switch e := e.(type) {
			case runbook.StartProbe:
				answer(apply(runbook.ProbeResult{Step: e.Step, RunID: e.RunID, Result: probes.Result{
					Status: probes.StatusFail, Summary: "3/4 Ready", Message: "1 of 4 not Ready (the token s3cret-t0ken is never shown)",
					Items:      []probes.Item{{Name: "internal-ca-issuer", Status: probes.StatusFail, Reason: "ErrGetKeyPair", Message: "secret \"internal-ca\" not found"}},
					ObservedAt: now}}))
			case runbook.StartLoad:
				doc := report.Document{Schema: 1, Executor: "constant-vus", Reason: "duration", Passed: false, DurationS: 30, VUsMax: 10,
					Requests: 612, RatePerSec: 20.4, Failed: report.Ratio{Rate: 0, Total: 612}, Latency: report.Trend{Count: 612, Med: 41.2, P90: 150.3, P95: 231.9, P99: 480.5, P999: 612, Max: 700.1},
					Thresholds: []report.ThresholdResult{
						{Threshold: "http_req_duration: p(95)<200", Metric: "http_req_duration", Expr: "p(95)<200", Value: 231.9, HasSamples: true},
						{Threshold: "http_req_failed: rate<0.1", Metric: "http_req_failed", Expr: "rate<0.1", Value: 0, HasSamples: true, Pass: true}}}
				answer(apply(runbook.LoadResult{Step: e.Step, RunID: e.RunID, Report: &doc, Result: probes.Result{
					Status: probes.StatusFail, Summary: "612 reqs · 20.4/s · p95 231.9ms · p99 480.5ms · 0.00% failed · 1/2 thresholds",
					Message: "1 of 2 threshold(s) failed", ObservedAt: now}}))
			}
		}
	}
	answer(apply(runbook.Started{Operator: "lead"}))
	for _, ev := range operatorEvents("issuers") {
		answer(apply(ev))
	}
	sess.Journal.Close()
	return path
}

func TestReportGolden(t *testing.T) {
	tests := []struct {
		name        string
		events      []runbook.Event
		wantVerdict string
	}{
		// The seed's own evidence: a ClusterIssuer not Ready and a p95 over
		// its target. Nothing the operator types makes that GO.
		{name: "seed-no-go", events: []runbook.Event{
			runbook.Confirmed{Step: "notify", Operator: "lead", Note: "mail 08:55"},
			runbook.Advance{Operator: "lead"}, // refused: the gate is red
			runbook.Aborted{Operator: "lead", Reason: "internal-ca-issuer not Ready"},
		}, wantVerdict: VerdictNoGo},
		{name: "overridden", events: []runbook.Event{
			runbook.Confirmed{Step: "notify", Operator: "lead", Note: "mail 08:55"},
			runbook.Overridden{Step: "issuers", Operator: "lead", Reason: "internal CA unused by gravl; OPS-112"},
			runbook.Advance{Operator: "lead"},
			runbook.Overridden{Phase: "validate", Operator: "cto", Reason: "20 req/s accepted for launch week; OPS-113"},
			runbook.Advance{Operator: "lead"},
		}, wantVerdict: VerdictGoOverrides},
		{name: "incomplete", events: []runbook.Event{
			runbook.Confirmed{Step: "notify", Operator: "lead"},
		}, wantVerdict: VerdictIncompleteNo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := recordRun(t, func(string) []runbook.Event { return tt.events })
			r, err := FromJournal(path)
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict != tt.wantVerdict {
				t.Fatalf("verdict %q (%s), want %q", r.Verdict, r.Reason, tt.wantVerdict)
			}
			r.Journal = "gravl.journal.jsonl" // the temp dir varies
			var md bytes.Buffer
			if err := WriteMarkdown(&md, r); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(md.String(), "s3cret-t0ken") {
				t.Fatal("a secret reached the report")
			}
			goldenfile.Check(t, filepath.Join("testdata", tt.name+".md"), md.Bytes())
			js, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(js), "s3cret-t0ken") {
				t.Fatal("a secret reached the JSON report")
			}
		})
	}
}

func TestReportRefusesTamperedJournal(t *testing.T) {
	path := recordRun(t, func(string) []runbook.Event {
		return []runbook.Event{runbook.Overridden{Step: "issuers", Operator: "lead", Reason: "accepted"}}
	})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Turning the failed result into a pass after the fact breaks the chain.
	os.WriteFile(path, bytes.Replace(data, []byte(`"status":"fail"`), []byte(`"status":"pass"`), 1), 0o600)
	if _, err := FromJournal(path); err == nil || !strings.Contains(err.Error(), "hash chain broken") {
		t.Fatalf("err = %v, want the broken chain named", err)
	}
}

// The report's mode is the run's as last started or resumed, and says so
// when actions were enabled before a read-only resume.
func TestReportMode(t *testing.T) {
	for _, tt := range []struct {
		name   string
		events []runbook.Event
		want   string
	}{
		{"read-only", nil, "read-only"},
		{"enabled, then read-only", []runbook.Event{runbook.Resumed{Operator: "lead", AllowActions: true}, runbook.Resumed{Operator: "lead"}},
			"read-only since its last resume; actions were enabled before"},
		{"read-only, then enabled", []runbook.Event{runbook.Resumed{Operator: "lead", AllowActions: true}}, "actions enabled"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := recordRun(t, func(string) []runbook.Event { return tt.events })
			r, err := FromJournal(path)
			if err != nil {
				t.Fatal(err)
			}
			if r.Mode != tt.want {
				t.Errorf("mode %q, want %q", r.Mode, tt.want)
			}
		})
	}
}

// An open model's load test shows what it delivered against its target,
// a shortfall, and the generator's own lag beside the server's latency.
func TestMarkdownLoadDeliveryAndLag(t *testing.T) {
	lag := report.Trend{Count: 100, Med: 0.011, P90: 0.02, P95: 0.05, P99: 1.6, P999: 2, Max: 3}
	r := &Report{Loads: []Load{{Step: "baseline", Phase: "validate", Target: "constant-arrival-rate 200/s for 10s",
		Summary: report.Document{Executor: "constant-arrival-rate", Requests: 820, RatePerSec: 82, DurationS: 10, Reason: "duration",
			Lag: &lag, Delivery: &report.Delivery{TargetRate: 200, Rate: 82, Due: 2000, Sent: 820, Shortfall: true,
				Message: "delivered 82.0 of 200 req/s (59 % dropped): the generator, not the service, was the limit: VU cap reached"}}}}}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Delivered 82.0 of 200 req/s (820 of 2000 iterations due were sent).",
		"⚠️ delivered 82.0 of 200 req/s (59 % dropped): the generator, not the service, was the limit: VU cap reached",
		"| generator lag (actual − intended send) | 0.011 | 0.02 | 0.05 | 1.6 | 2 | 3 |",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("the sign-off lacks %q:\n%s", want, md.String())
		}
	}
}
