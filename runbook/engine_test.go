package runbook

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/probes"
)

const engineRunbook = `
apiVersion: cockpit/v1
kind: Runbook
metadata: {name: engine-test}
phases:
- id: preflight
  steps:
  - id: issuers
    retries: 1
    probe: {kind: http, url: "http://127.0.0.1:1/issuers"}
  - id: api
    needs: [issuers]
    probe: {kind: http, url: "http://127.0.0.1:1/api"}
  - id: notify
    manual: {prompt: "Stakeholders notified?", note: required}
  - id: extra
    optional: true
    probe: {kind: http, url: "http://127.0.0.1:1/extra"}
- id: monitor
  duration: 10m
  steps:
  - id: errors
    every: 1m
    failAfter: 2
    probe: {kind: http, url: "http://127.0.0.1:1/errors"}
`

func mustParse(t *testing.T, src string) *Runbook {
	t.Helper()
	rb, err := Parse("engine.yaml", []byte(src), Options{LookupEnv: env(nil)})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return rb
}

// sim drives the engine through a script, remembering the run IDs the
// engine handed out so results can refer to them.
type sim struct {
	t       *testing.T
	s       State
	now     time.Time
	runs    map[string]uint64 // step → latest RunID started
	effects []Effect
}

func newSim(t *testing.T, src string) *sim {
	return &sim{t: t, s: NewState(mustParse(t, src)), now: time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC), runs: map[string]uint64{}}
}

func (m *sim) do(ev Event) []Effect {
	m.s, m.effects = Apply(m.s, At{Time: m.now, Event: ev})
	for _, eff := range m.effects {
		if sp, ok := eff.(StartProbe); ok {
			m.runs[sp.Step] = sp.RunID
		}
	}
	return m.effects
}

func (m *sim) result(step string, st probes.Status) []Effect {
	return m.do(ProbeResult{Step: step, RunID: m.runs[step], Result: probes.Result{Status: st, Summary: st.String()}})
}

func (m *sim) advance(d time.Duration) []Effect {
	m.now = m.now.Add(d)
	return m.do(Tick{})
}

func (m *sim) step(id string) StepState {
	pi, si, ok := m.s.Find(id)
	if !ok {
		m.t.Fatalf("no step %s", id)
	}
	return m.s.Phases[pi].Steps[si]
}

func (m *sim) wantStep(id string, want StepStatus) {
	m.t.Helper()
	if got := m.step(id).Status; got != want {
		m.t.Errorf("step %s = %s, want %s", id, got, want)
	}
}

func (m *sim) wantGate(want probes.Status, msg string) {
	m.t.Helper()
	v := m.s.Gate(m.s.Current)
	if v.Status != want || !strings.Contains(v.Message, msg) {
		m.t.Errorf("gate = %s %q, want %s containing %q", v.Status, v.Message, want, msg)
	}
}

func started(effs []Effect) []string {
	var out []string
	for _, e := range effs {
		if sp, ok := e.(StartProbe); ok {
			out = append(out, fmt.Sprintf("%s#%d", sp.Step, sp.Attempt))
		}
	}
	return out
}

func refused(effs []Effect) string {
	for _, e := range effs {
		if r, ok := e.(Refused); ok {
			return r.Reason
		}
	}
	return ""
}

func TestEngineStartRunsProbesWhoseNeedsAreMet(t *testing.T) {
	m := newSim(t, engineRunbook)
	effs := m.do(Started{Operator: "lead"})
	if got, want := started(effs), []string{"issuers#1", "extra#1"}; !slices.Equal(got, want) {
		t.Errorf("started %v, want %v (api needs issuers; notify is manual)", got, want)
	}
	m.wantStep("api", StepPending)
	m.wantStep("notify", StepPending)
	m.wantGate(probes.StatusPending, "waiting for issuers, api, notify")
}

func TestEngineHappyPath(t *testing.T) {
	m := newSim(t, engineRunbook)
	m.do(Started{Operator: "lead"})
	if got := started(m.result("issuers", probes.StatusPass)); !slices.Equal(got, []string{"api#1"}) {
		t.Errorf("after issuers passed, started %v, want api", got)
	}
	m.result("api", probes.StatusPass)
	m.result("extra", probes.StatusPass)
	if r := refused(m.do(Confirmed{Step: "notify", Operator: "lead"})); !strings.Contains(r, "needs a note") {
		t.Errorf("confirm without the required note: refused %q", r)
	}
	m.wantGate(probes.StatusPending, "waiting for notify")
	if r := refused(m.do(Advance{Operator: "lead"})); !strings.Contains(r, "pending: waiting for notify") {
		t.Errorf("advance with a pending gate: refused %q", r)
	}
	m.do(Confirmed{Step: "notify", Operator: "lead", Note: "sent to #go-live"})
	m.wantStep("notify", StepPassed)
	m.wantGate(probes.StatusPass, "3 of 3 required step(s) passed")
	effs := m.do(Advance{Operator: "lead"})
	if m.s.Phases[0].Status != PhasePassed || m.s.Current != 1 {
		t.Fatalf("after advance: phase 0 %s, current %d", m.s.Phases[0].Status, m.s.Current)
	}
	if got := started(effs); !slices.Equal(got, []string{"errors#1"}) {
		t.Errorf("entering monitor started %v", got)
	}
	// Ten minutes of one-minute observations, all passing.
	m.result("errors", probes.StatusPass)
	for range 10 {
		m.wantGate(probes.StatusPending, "of the window left")
		if got := started(m.advance(time.Minute)); len(got) == 1 {
			m.result("errors", probes.StatusPass)
		}
	}
	m.wantStep("errors", StepPassed)
	m.wantGate(probes.StatusPass, "1 of 1")
	effs = m.do(Advance{Operator: "lead"})
	if m.s.Outcome != OutcomePassed || !slices.ContainsFunc(effs, func(e Effect) bool { _, ok := e.(Finished); return ok }) {
		t.Errorf("outcome %s, effects %v", m.s.Outcome, effs)
	}
	if r := refused(m.do(Tick{})); !strings.Contains(r, "finished") {
		t.Errorf("event after the end: refused %q", r)
	}
}

// A red check cannot slip through: a failed required step blocks the gate
// until it is overridden with a reason, and the run then ends "warned".
func TestEngineRedGateNeedsOverride(t *testing.T) {
	m := newSim(t, engineRunbook)
	m.do(Started{Operator: "lead"})
	if got := started(m.result("issuers", probes.StatusFail)); !slices.Equal(got, []string{"issuers#2"}) {
		t.Errorf("first failure with retries: 1 started %v, want a second attempt", got)
	}
	m.wantStep("issuers", StepRunning)
	m.result("issuers", probes.StatusFail)
	m.wantStep("issuers", StepFailed)
	m.wantStep("api", StepPending) // its need failed
	m.do(Confirmed{Step: "notify", Operator: "lead", Note: "done"})
	m.wantGate(probes.StatusFail, "1 required step(s) failed: issuers")
	if r := refused(m.do(Advance{Operator: "lead"})); !strings.Contains(r, `gate of phase "preflight" is fail: 1 required step(s) failed: issuers`) {
		t.Errorf("advance past a red gate: refused %q", r)
	}
	if r := refused(m.do(Overridden{Step: "issuers", Operator: "lead"})); !strings.Contains(r, "needs an operator and a reason") {
		t.Errorf("override without a reason: refused %q", r)
	}
	if r := refused(m.do(Overridden{Step: "api", Operator: "lead", Reason: "x"})); !strings.Contains(r, "not failed") {
		t.Errorf("override of a pending step: refused %q", r)
	}
	effs := m.do(Overridden{Step: "issuers", Operator: "lead", Reason: "internal-ca-issuer unused until phase 11"})
	m.wantStep("issuers", StepOverridden)
	if got := started(effs); !slices.Equal(got, []string{"api#1"}) {
		t.Errorf("after the override, started %v, want api", got)
	}
	m.result("api", probes.StatusPass)
	m.wantGate(probes.StatusWarn, "1 overridden")
	m.do(Advance{Operator: "lead"})
	if m.s.Phases[0].Status != PhaseWarned {
		t.Errorf("phase 0 = %s, want warned", m.s.Phases[0].Status)
	}
	if d := m.s.Phases[0].Steps[0].Override; d == nil || d.Operator != "lead" || !strings.Contains(d.Text, "phase 11") {
		t.Errorf("override not recorded: %+v", d)
	}
}

func TestEnginePhaseOverrideAndOutcome(t *testing.T) {
	m := newSim(t, engineRunbook)
	m.do(Started{Operator: "lead"})
	m.result("issuers", probes.StatusPass)
	m.result("api", probes.StatusFail)
	m.do(Confirmed{Step: "notify", Operator: "lead", Note: "ok"})
	if r := refused(m.do(Overridden{Phase: "monitor", Operator: "lead", Reason: "r"})); !strings.Contains(r, "not the current phase") {
		t.Errorf("override of another phase: refused %q", r)
	}
	m.do(Overridden{Phase: "preflight", Operator: "lead", Reason: "api flaky, accepted by CTO"})
	m.do(Advance{Operator: "lead"})
	if m.s.Phases[0].Status != PhaseOverridden || m.s.Phases[0].Verdict.Status != probes.StatusFail {
		t.Errorf("phase 0 = %s with verdict %v", m.s.Phases[0].Status, m.s.Phases[0].Verdict)
	}
	m.result("errors", probes.StatusPass)
	m.advance(10 * time.Minute)
	m.do(Advance{Operator: "lead"})
	if m.s.Outcome != OutcomeWarned {
		t.Errorf("outcome = %s, want warned", m.s.Outcome)
	}
}

func TestEngineMonitorSustainedBreach(t *testing.T) {
	tests := []struct {
		name    string
		results []probes.Status
		want    StepStatus
		gate    probes.Status
	}{
		{name: "all pass", results: []probes.Status{probes.StatusPass, probes.StatusPass, probes.StatusPass}, want: StepPassed, gate: probes.StatusPass},
		{name: "one blip is not sustained", results: []probes.Status{probes.StatusPass, probes.StatusFail, probes.StatusPass}, want: StepPassed, gate: probes.StatusPass},
		{name: "two in a row breach", results: []probes.Status{probes.StatusPass, probes.StatusFail, probes.StatusError, probes.StatusPass}, want: StepFailed, gate: probes.StatusFail},
		{name: "a warning stays", results: []probes.Status{probes.StatusWarn, probes.StatusPass}, want: StepWarned, gate: probes.StatusWarn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newSim(t, engineRunbook)
			m.do(Started{Operator: "lead"})
			m.do(Overridden{Phase: "preflight", Operator: "lead", Reason: "skip to monitor"})
			m.do(Advance{Operator: "lead"})
			for i, st := range tt.results {
				if i > 0 {
					if got := started(m.advance(time.Minute)); len(got) != 1 {
						t.Fatalf("minute %d: started %v, want the repeating probe", i, got)
					}
				}
				m.result("errors", st)
			}
			// A result sent twice for the same run is dropped.
			m.result("errors", probes.StatusFail)
			m.advance(10 * time.Minute)
			m.wantStep("errors", tt.want)
			m.wantGate(tt.gate, "")
		})
	}
}

func TestEngineStaleResultsDropped(t *testing.T) {
	m := newSim(t, engineRunbook)
	m.do(Started{Operator: "lead"})
	old := m.runs["extra"]
	m.do(RunStep{Step: "extra"}) // re-run: a new RunID supersedes
	m.do(ProbeResult{Step: "extra", RunID: old, Result: probes.Result{Status: probes.StatusFail}})
	m.wantStep("extra", StepRunning)
	m.result("extra", probes.StatusPass)
	m.wantStep("extra", StepPassed)
}

func TestEngineRefusals(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{name: "unknown step", ev: RunStep{Step: "nope"}, want: `no step "nope"`},
		{name: "step of a later phase", ev: RunStep{Step: "errors"}, want: `belongs to phase "monitor"`},
		{name: "run a manual step", ev: RunStep{Step: "notify"}, want: "manual step: confirm it"},
		{name: "run before needs", ev: RunStep{Step: "api"}, want: "needs issuers to pass first"},
		{name: "confirm a probe", ev: Confirmed{Step: "api", Operator: "lead", Note: "n"}, want: "not a manual step"},
		{name: "skip a required step", ev: Skipped{Step: "api", Operator: "lead"}, want: "only optional steps can be skipped"},
		{name: "override nothing", ev: Overridden{Operator: "lead", Reason: "r"}, want: "names a step or a phase"},
		{name: "override a pending gate", ev: Overridden{Phase: "preflight", Operator: "lead", Reason: "r"}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newSim(t, engineRunbook)
			m.do(Started{Operator: "lead"})
			if r := refused(m.do(tt.ev)); !strings.Contains(r, tt.want) || (tt.want == "" && r != "") {
				t.Errorf("refused %q, want %q", r, tt.want)
			}
		})
	}
	m := newSim(t, engineRunbook)
	if r := refused(m.do(Tick{})); !strings.Contains(r, "not started") {
		t.Errorf("before start: refused %q", r)
	}
}

func TestEngineSkipAndAbort(t *testing.T) {
	m := newSim(t, engineRunbook)
	m.do(Started{Operator: "lead"})
	m.do(Skipped{Step: "extra", Operator: "lead", Reason: "not in scope"})
	m.wantStep("extra", StepSkipped)
	m.result("extra", probes.StatusFail) // its run was abandoned
	m.wantStep("extra", StepSkipped)
	m.do(Aborted{Operator: "lead", Reason: "rollback"})
	if m.s.Outcome != OutcomeFailed || m.s.Phases[0].Status != PhaseAborted || !strings.Contains(m.s.Reason, "rollback") {
		t.Errorf("after abort: outcome %s, phase %s, reason %q", m.s.Outcome, m.s.Phases[0].Status, m.s.Reason)
	}
}
