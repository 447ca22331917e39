package signoff

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/runbooktest"
)

// A state that claims more than its journal shows is not rendered: the
// report names the step and the record that contradicts it.
func TestReportRefusesStatusTheJournalContradicts(t *testing.T) {
	path := recordRun(t, func(string) []runbook.Event {
		return []runbook.Event{
			runbook.Confirmed{Step: "notify", Operator: "lead", Note: "mail 08:55"},
			runbook.Overridden{Step: "issuers", Operator: "lead", Reason: "internal CA unused"},
		}
	})
	rr, err := runbook.ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := runbook.Parse(rr.Header.File, []byte(rr.Header.Source), runbook.Options{LookupEnv: redactedEnv})
	if err != nil {
		t.Fatal(err)
	}
	events, err := rr.Events()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		corrupt func(*runbook.State)
		want    string // "" renders
	}{
		{"as replayed", func(*runbook.State) {}, ""},
		{"a failed observation passed", func(s *runbook.State) {
			s.Phases[0].Steps[0].Status, s.Phases[0].Steps[0].Override = runbook.StepPassed, nil
		}, `step "issuers" is reported passed, but the journal shows its last observation (record 3) fail`},
		{"warned on a failure", func(s *runbook.State) { s.Phases[0].Steps[0].Status = runbook.StepWarned },
			`step "issuers" is reported warned, but the journal shows its last observation (record 3) fail`},
		{"a manual step never confirmed", func(s *runbook.State) { s.Phases[1].Steps[0].Status = runbook.StepPassed },
			`step "baseline" is reported passed, but the journal shows no observation of it`},
		{"skipped without a skip", func(s *runbook.State) { s.Phases[0].Steps[1].Status = runbook.StepSkipped },
			`step "notify" is reported skipped, but the journal shows no skip of it`},
		{"overridden without an override", func(s *runbook.State) { s.Phases[1].Steps[0].Status = runbook.StepOverridden },
			`step "baseline" is reported overridden, but the journal shows no override of it`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Report{}
			s, ix, _ := r.replay(rb, rr, events)
			s.Phases = cloneForCorruption(s.Phases)
			tt.corrupt(&s)
			err := r.phases(s, ix)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused the replayed state: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func cloneForCorruption(phases []runbook.PhaseState) []runbook.PhaseState {
	out := make([]runbook.PhaseState, len(phases))
	for i, ps := range phases {
		out[i] = ps
		out[i].Steps = append([]runbook.StepState(nil), ps.Steps...)
	}
	return out
}

// For every generated run written to a journal: the report renders, and
// each passed or warned step points at a record whose own payload passed
// (or warned); overridden ones at an override of that step.
func TestPropertyReportedStatusesPointAtTheirEvidence(t *testing.T) {
	const src = `apiVersion: cockpit/v1
kind: Runbook
metadata: {name: property}
phases:
- id: deploy
  duration: 10m
  steps:
  - {id: approved, manual: {prompt: "Approved?"}}
  - {id: rollout, every: 1m, failAfter: 3, needs: [approved], probe: {kind: http, url: "http://127.0.0.1:1/rollout"}}
  - {id: smoke, optional: true, retries: 2, probe: {kind: http, url: "http://127.0.0.1:1/smoke"}}
- id: monitor
  duration: 5m
  steps:
  - {id: errors, every: 30s, failAfter: 2, probe: {kind: http, url: "http://127.0.0.1:1/errors"}}
  - {id: once, probe: {kind: http, url: "http://127.0.0.1:1/once"}}
`
	rb, err := runbook.Parse("property.yaml", []byte(src), runbook.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	checked := 0
	for seed := range uint64(150) {
		events := runbooktest.RandomRun(rand.New(rand.NewPCG(seed, 0x51)), rb, 80)
		path := filepath.Join(dir, fmt.Sprintf("run-%d.journal.jsonl", seed))
		sess, err := runbook.Open(rb, runbook.OpenOptions{Journal: path, Now: func() time.Time { return events[0].Time }})
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range events {
			if err := sess.Journal.Append(at, "lead", ""); err != nil {
				t.Fatal(err)
			}
		}
		sess.Journal.Close()
		r, err := FromJournal(path)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		rr, err := runbook.ReadJournal(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range r.Phases {
			for _, st := range p.Steps {
				if st.Status == "pending" || st.Status == "running" || st.Status == "failed" {
					continue
				}
				checked++
				i := slices.IndexFunc(rr.Records, func(rec runbook.Record) bool { return rec.Seq == st.Record })
				if st.Record == 0 || i < 0 {
					t.Fatalf("seed %d: step %s %s points at record %d", seed, st.ID, st.Status, st.Record)
				}
				rec := rr.Records[i]
				if rec.Step != "" && rec.Step != st.ID {
					t.Fatalf("seed %d: step %s points at record %d of step %s", seed, st.ID, st.Record, rec.Step)
				}
				var payload struct {
					Step   string        `json:"step"`
					Result probes.Result `json:"result"`
				}
				if err := json.Unmarshal(rec.Payload, &payload); err != nil {
					t.Fatal(err)
				}
				ok := payload.Step == st.ID
				switch st.Status {
				case "passed":
					ok = ok && (rec.Type == "probe.result" && payload.Result.Status == probes.StatusPass || rec.Type == "step.confirmed")
				case "warned":
					ok = ok && rec.Type == "probe.result" && payload.Result.Status.OK()
				case "overridden":
					ok = ok && rec.Type == "override"
				}
				if !ok {
					t.Fatalf("seed %d: step %s %s points at record %d: %s %s", seed, st.ID, st.Status, st.Record, rec.Type, rec.Payload)
				}
			}
		}
	}
	if checked < 150 {
		t.Fatalf("only %d passed, warned or overridden steps were checked: the generator explores too little", checked)
	}
}
