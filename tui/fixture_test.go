package tui

import (
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
)

// fixtureYAML is a small go-live: a failing ClusterIssuer probe, a manual
// step with a required note, an optional step, and a monitor phase.
const fixtureYAML = `apiVersion: cockpit/v1
kind: Runbook
metadata: {name: gravl-go-live, description: test}
vars:
  token: ${env:TUI_TEST_TOKEN}
phases:
- id: preflight
  steps:
  - id: cluster-issuers
    probe: {kind: k8s.condition, resource: clusterissuers.cert-manager.io, names: [letsencrypt-prod, internal-ca-issuer], condition: Ready}
  - id: health
    probe: {kind: http, url: "http://127.0.0.1:1/health", headers: {Authorization: "Bearer ${token}"}}
  - id: notify
    manual: {prompt: "Stakeholders notified?", note: required}
  - id: dashboards
    optional: true
    manual: {prompt: "Dashboards open?"}
- id: deploy
  steps:
  - id: rollout
    manual: {prompt: "Rollout done?"}
- id: validate
  steps:
  - id: smoke
    probe: {kind: http, url: "http://127.0.0.1:1/api/exercises"}
- id: monitor
  duration: 2h
  steps:
  - id: health-watch
    every: 30s
    probe: {kind: http, url: "http://127.0.0.1:1/health"}
`

// t0 is the fixture's start of the window.
var t0 = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)

const testSecret = "s3cr3t-token-value"

func fixtureRunbook(t testing.TB) *runbook.Runbook {
	t.Helper()
	rb, err := runbook.Parse("fixture.yaml", []byte(fixtureYAML), runbook.Options{
		LookupEnv: func(name string) (string, bool) {
			if name == "TUI_TEST_TOKEN" {
				return testSecret, true
			}
			return "", false
		},
	})
	if err != nil {
		t.Fatalf("parse fixture: %v", err)
	}
	return rb
}

// engine applies events the way the Runner does and records the messages
// it would forward.
type engine struct {
	t    testing.TB
	s    runbook.State
	now  time.Time
	seq  uint64
	msgs []StateMsg
	runs map[string]uint64 // latest StartProbe run id per step
}

func newEngine(t testing.TB) *engine {
	return &engine{t: t, s: runbook.NewState(fixtureRunbook(t)), now: t0, runs: map[string]uint64{}}
}

func (e *engine) apply(ev runbook.Event) StateMsg {
	e.t.Helper()
	at := runbook.At{Time: e.now, Event: ev}
	next, effects := runbook.Apply(e.s, at)
	e.s = next
	for _, eff := range effects {
		switch eff := eff.(type) {
		case runbook.StartProbe:
			e.runs[eff.Step] = eff.RunID
		case runbook.PlanAction:
			e.runs[eff.Step] = eff.RunID
		case runbook.ExecuteAction:
			e.runs[eff.Step] = eff.RunID
		case runbook.UndoAction:
			e.runs[eff.Step] = eff.RunID
		}
	}
	e.seq++
	msg := StateMsg{State: next, At: at, Effects: effects, Seq: e.seq}
	e.msgs = append(e.msgs, msg)
	return msg
}

func (e *engine) advanceClock(d time.Duration) { e.now = e.now.Add(d) }

func (e *engine) result(step string, res probes.Result) StateMsg {
	res.ObservedAt = e.now
	return e.apply(runbook.ProbeResult{Step: step, RunID: e.runs[step], Result: res})
}

var issuersFailing = probes.Result{
	Status:   probes.StatusFail,
	Summary:  "1/2 Ready",
	Message:  "internal-ca-issuer is not Ready",
	Duration: 3 * time.Millisecond,
	Items: []probes.Item{
		{Name: "letsencrypt-prod", Status: probes.StatusPass, Summary: "Ready=True"},
		{Name: "internal-ca-issuer", Status: probes.StatusFail, Summary: "Ready=False",
			Reason: "ErrGetKeyPair", Message: `Error getting keypair for CA issuer: secrets "internal-ca" not found`},
	},
}

// preflightFailing is the fixture after a minute: issuers failed, health
// passed (whose request carried the secret token), nothing confirmed.
func preflightFailing(t testing.TB) *engine {
	e := newEngine(t)
	e.apply(runbook.Started{Operator: "lead"})
	e.advanceClock(2 * time.Second)
	e.result("cluster-issuers", issuersFailing)
	e.result("health", probes.Result{Status: probes.StatusPass, Summary: "200 in 4ms", Duration: 4 * time.Millisecond})
	e.advanceClock(58 * time.Second)
	return e
}

// newTestModel is a model at a fixed clock, fed the engine's messages.
func newTestModel(e *engine, w, h int, opts Options) *Model {
	now := e.now
	opts.Now = func() time.Time { return now }
	opts.Tick = -1
	if opts.Operator == "" {
		opts.Operator = "lead"
	}
	if opts.Journal == "" {
		opts.Journal = "/var/lib/cockpit/journal.jsonl"
	}
	if opts.Cluster == "" {
		opts.Cluster = "simulated cluster"
	}
	m := New(opts)
	m.Update(tea_WindowSize(w, h))
	for _, msg := range e.msgs {
		m.Update(msg)
	}
	return m
}
