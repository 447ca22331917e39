package signoff

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/loader/report"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

const distRunbook = `apiVersion: cockpit/v1
kind: Runbook
metadata: {name: distload}
clusters:
  prod: {context: gravl-prod, namespace: gravl-prod}
phases:
- id: validate
  steps:
  - id: load
    load:
      executor: constant-arrival-rate
      rate: 300
      duration: 10s
      baseURL: http://backend.gravl-prod.svc:3000
      requests: [{url: /health}]
      thresholds: {http_req_failed: ["rate<0.01"]}
      workers: {count: 2, cluster: prod, namespace: gravl-loadtest}
`

// recordDistributed journals a distributed load step's run through the
// engine as the runner would report it, with workers as given.
func recordDistributed(t *testing.T, workers *runbook.LoadWorkersReport, status probes.Status) string {
	t.Helper()
	rb, err := runbook.Parse("distload.yaml", []byte(distRunbook), runbook.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "distload.journal.jsonl")
	sess, err := runbook.Open(rb, runbook.OpenOptions{Journal: path, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Journal.Close()
	s := sess.State
	const run = "gravl-loadtest/cockpit-load-abc123"
	objs := func(op string) []actions.Object {
		var out []actions.Object
		for _, k := range []string{"ConfigMap", "ServiceAccount", "Role", "RoleBinding", "Job"} {
			out = append(out, actions.Object{Ref: k + "/gravl-loadtest/cockpit-load-abc123", Op: op})
		}
		return out
	}
	var answer func([]runbook.Effect)
	apply := func(ev runbook.Event) {
		now = now.Add(time.Second)
		at := runbook.At{Time: now, Event: ev}
		var effs []runbook.Effect
		s, effs = runbook.Apply(s, at)
		if err := sess.Journal.Append(at, "lead", s.Phases[s.Current].ID); err != nil {
			t.Fatal(err)
		}
		answer(effs)
	}
	answer = func(effs []runbook.Effect) {
		for _, e := range effs {
			switch e := e.(type) {
			case runbook.ReviewAccess:
				apply(runbook.AccessReviewed{Phase: e.Phase, Result: probes.Result{Status: probes.StatusPass, Summary: "all 19 permission(s) granted"}})
			case runbook.PlanAction:
				res := actions.Result{Objects: objs(actions.OpCreated), Changes: 5, Cleanup: run}
				res.Status, res.Summary = probes.StatusPass, "create 5 objects of load run cockpit-load-abc123 in gravl-loadtest"
				apply(runbook.ActionPlanned{Step: e.Step, RunID: e.RunID, Result: res})
			case runbook.StartLoad:
				created := runbook.LoadWorkersChanged{Step: e.Step, RunID: e.RunID, Run: run, What: runbook.LoadCreated}
				created.Result.Status, created.Result.Summary, created.Result.Objects = probes.StatusPass, "created load run cockpit-load-abc123", objs(actions.OpCreated)
				apply(created)
				deleted := runbook.LoadWorkersChanged{Step: e.Step, RunID: e.RunID, Run: run, What: runbook.LoadDeleted}
				deleted.Result.Status, deleted.Result.Summary, deleted.Result.Objects = probes.StatusPass, "deleted load run cockpit-load-abc123: nothing is left", objs(actions.OpDeleted)
				apply(deleted)
				doc := report.Document{Schema: 1, Executor: "constant-arrival-rate", Reason: "duration", DurationS: 10, Requests: 3000, RatePerSec: 300}
				w := *workers
				w.Run = run
				apply(runbook.LoadResult{Step: e.Step, RunID: e.RunID, Report: &doc, Workers: &w,
					Result: probes.Result{Status: status, Summary: "3000 reqs · 300.0/s", ObservedAt: now}})
			}
		}
	}
	apply(runbook.Started{Operator: "lead", AllowActions: true})
	apply(runbook.Confirmed{Step: "load", Operator: "lead", Note: "go"})
	return path
}

func TestSignoffDistributedLoad(t *testing.T) {
	tests := []struct {
		name    string
		workers runbook.LoadWorkersReport
		status  probes.Status
		want    []string // in the Markdown
		html    string
		notWant string
	}{
		{"all reporting", runbook.LoadWorkersReport{Workers: 2, Reporting: 2, Intervals: 10}, probes.StatusPass,
			[]string{"Workers: 2 of 2 workers reporting (run gravl-loadtest/cockpit-load-abc123); every interval complete."},
			`<p class="note">Workers: 2 of 2 workers reporting`, "not the whole test's"},
		{"a worker lost", runbook.LoadWorkersReport{Workers: 2, Reporting: 1, Intervals: 10, Incomplete: 6,
			Lost: []runbook.LostWorker{{Worker: 1, From: 4, Reason: "pod x deleted"}}}, probes.StatusWarn,
			[]string{"⚠️ Workers: 1 of 2 workers reporting · worker 1 lost from interval 4 (pod x deleted) · 6 of 10 intervals merged without a worker that owed them: not the whole test's figures (run gravl-loadtest/cockpit-load-abc123). INCOMPLETE: these figures are not the whole test's."},
			`<p class="warn">⚠ Workers: 1 of 2 workers reporting`, "every interval complete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := recordDistributed(t, &tt.workers, tt.status)
			r, err := FromJournal(path)
			if err != nil {
				t.Fatal(err)
			}
			var md, js, html bytes.Buffer
			if err := WriteMarkdown(&md, r); err != nil {
				t.Fatal(err)
			}
			want := append(tt.want,
				"## Changes made\n\nMode: actions enabled.",
				"| `load` (validate) | load workers created: ",
				"ConfigMap/gravl-loadtest/cockpit-load-abc123 created; ServiceAccount/gravl-loadtest/cockpit-load-abc123 created; Role/gravl-loadtest/cockpit-load-abc123 created; RoleBinding/gravl-loadtest/cockpit-load-abc123 created; Job/gravl-loadtest/cockpit-load-abc123 created | lead |",
				"| `load` (validate) | load workers deleted: ",
				"Job/gravl-loadtest/cockpit-load-abc123 deleted |")
			for _, w := range want {
				if !strings.Contains(md.String(), w) {
					t.Errorf("the Markdown lacks %q:\n%s", w, md.String())
				}
			}
			if strings.Contains(md.String(), tt.notWant) {
				t.Errorf("the Markdown says %q:\n%s", tt.notWant, md.String())
			}
			if err := json.NewEncoder(&js).Encode(r); err != nil {
				t.Fatal(err)
			}
			var back struct {
				Loads []struct {
					Workers *runbook.LoadWorkersReport `json:"workers"`
				} `json:"loads"`
				Changes []Change `json:"changes"`
			}
			if err := json.Unmarshal(js.Bytes(), &back); err != nil {
				t.Fatal(err)
			}
			if len(back.Loads) != 1 || back.Loads[0].Workers == nil || back.Loads[0].Workers.Reporting != tt.workers.Reporting ||
				back.Loads[0].Workers.Incomplete != tt.workers.Incomplete {
				t.Errorf("JSON loads = %s", js.String())
			}
			if len(back.Changes) != 2 || back.Changes[0].What != "created" || back.Changes[1].What != "deleted" {
				t.Errorf("JSON changes = %+v", back.Changes)
			}
			if err := WriteHTML(&html, r); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(html.String(), tt.html) {
				t.Errorf("the HTML lacks %q", tt.html)
			}
		})
	}
}
