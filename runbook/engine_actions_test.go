package runbook

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// fakeSpec is an action kind for the engine's pure tests: what it does is
// scripted by the test. Real kinds are tested in runbook/actions against a
// real API server and Alertmanager.
type fakeSpec struct {
	mutating bool
	until    string
	perms    []probes.Permission
	action   *fakeAction
	build    actions.Action // built instead of action when set
}

func (f *fakeSpec) Validate() error                  { return nil }
func (f *fakeSpec) Mutating() bool                   { return f.mutating }
func (f *fakeSpec) Describe() string                 { return "a fake action" }
func (f *fakeSpec) Permissions() []probes.Permission { return f.perms }
func (f *fakeSpec) Until() string                    { return f.until }
func (f *fakeSpec) Build(actions.Env) (actions.Action, error) {
	if f.build != nil {
		return f.build, nil
	}
	if f.action == nil {
		f.action = &fakeAction{}
	}
	return f.action, nil
}

// fakeAction answers with scripted results and counts its calls.
type fakeAction struct {
	plan, exec, undo, clean actions.Result
	plans, execs, undos     int
	cleaned                 []string
}

func (f *fakeAction) Plan(context.Context) actions.Result { f.plans++; return f.plan }
func (f *fakeAction) Execute(_ context.Context, progress func(actions.Result)) actions.Result {
	f.execs++
	progress(actions.Result{Result: probes.Result{Status: probes.StatusPending, Summary: "half way"}})
	return f.exec
}
func (f *fakeAction) Undo(context.Context, int64) actions.Result { f.undos++; return f.undo }
func (f *fakeAction) Cleanup(_ context.Context, ref string) actions.Result {
	f.cleaned = append(f.cleaned, ref)
	return f.clean
}

const actionRunbook = `
apiVersion: cockpit/v1
kind: Runbook
metadata: {name: action-test}
phases:
- id: deploy
  steps:
  - id: apply
    retries: 2
    manual: {prompt: placeholder}
  - id: watch
    needs: [apply]
    retries: 1
    manual: {prompt: placeholder}
- id: monitor
  steps:
  - id: silence
    manual: {prompt: placeholder}
- id: signoff
  steps:
  - id: done
    manual: {prompt: Signed off?}
`

// actionSim is a sim whose placeholder steps are fake actions: apply and
// silence mutate, watch only observes.
func actionSim(t *testing.T) (*sim, map[string]*fakeSpec) {
	t.Helper()
	rb := mustParse(t, actionRunbook)
	specs := map[string]*fakeSpec{
		"apply":   {mutating: true, perms: []probes.Permission{{Resource: "configmaps", Verbs: []string{"get", "patch"}}}},
		"watch":   {},
		"silence": {mutating: true, until: "monitor"},
	}
	for pi := range rb.Phases {
		for si := range rb.Phases[pi].Steps {
			st := &rb.Phases[pi].Steps[si]
			if spec, ok := specs[st.ID]; ok {
				st.Manual, st.Action = nil, &ActionStep{Kind: "fake", Spec: spec, Kube: len(spec.perms) > 0}
			}
		}
	}
	m := &sim{t: t, s: NewState(rb), now: newSim(t, engineRunbook).now, runs: map[string]uint64{}}
	return m, specs
}

// run records the RunIDs of action effects too.
func (m *sim) act(ev Event) []Effect {
	effs := m.do(ev)
	for _, eff := range effs {
		switch eff := eff.(type) {
		case PlanAction:
			m.runs[eff.Step] = eff.RunID
		case ExecuteAction:
			m.runs[eff.Step] = eff.RunID
		case UndoAction:
			m.runs[eff.Step] = eff.RunID
		}
	}
	return effs
}

func result(st probes.Status, summary string) actions.Result {
	return actions.Result{Result: probes.Result{Status: st, Summary: summary}}
}

func effectsOf[T Effect](effs []Effect) []T {
	var out []T
	for _, e := range effs {
		if t, ok := e.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

func wantRefused(t *testing.T, effs []Effect, substr string) {
	t.Helper()
	r := effectsOf[Refused](effs)
	if len(r) != 1 || !strings.Contains(r[0].Reason, substr) {
		t.Fatalf("want one refusal containing %q, got %+v", substr, effs)
	}
}

func TestActionReadOnlyDryRunsButNeverExecutes(t *testing.T) {
	m, _ := actionSim(t)
	effs := m.act(Started{Operator: "lead"})
	if len(effectsOf[ReviewAccess](effs)) != 1 {
		t.Errorf("entering a phase with Kubernetes actions reviews access: %+v", effs)
	}
	plans := effectsOf[PlanAction](effs)
	if len(plans) != 1 || plans[0].Step != "apply" {
		t.Fatalf("want the mutating action dry-run on entering, got %+v", effs)
	}
	if len(effectsOf[ExecuteAction](effs)) != 0 {
		t.Fatalf("nothing executes before a confirmation: %+v", effs)
	}
	m.act(ActionPlanned{Step: "apply", RunID: m.runs["apply"], Result: result(probes.StatusPass, "1 object: 1 created")})
	if ss := m.step("apply"); ss.Status != StepPending || ss.Plan == nil || ss.Plan.Summary != "1 object: 1 created" {
		t.Fatalf("planned action waits for a confirmation with its plan: %+v", ss)
	}
	wantRefused(t, m.act(Confirmed{Step: "apply", Operator: "lead"}), "--allow-actions")
	wantRefused(t, m.act(UndoRequested{Step: "apply", Operator: "lead", Revision: 2}), "read-only")
	if v := m.s.Gate(0); v.Status != probes.StatusPending {
		t.Errorf("a read-only deploy phase cannot pass by itself: %+v", v)
	}
	wantRefused(t, m.act(Advance{Operator: "lead"}), "waiting for apply")
}

func TestActionConfirmExecutesOnceAndNeverRetries(t *testing.T) {
	m, specs := actionSim(t)
	m.act(Started{Operator: "lead", AllowActions: true})
	wantRefused(t, m.act(Confirmed{Step: "watch", Operator: "lead"}), "runs by itself")
	wantRefused(t, m.act(Confirmed{Step: "apply", Operator: "lead"}), "dry run is still out")
	m.act(ActionPlanned{Step: "apply", RunID: m.runs["apply"], Result: result(probes.StatusPass, "ok")})
	wantRefused(t, m.act(Confirmed{Step: "apply", Operator: "lead", Note: "-----BEGIN RSA PRIVATE KEY-----\nMII"}), "private key")
	effs := m.act(Confirmed{Step: "apply", Operator: "lead", Note: "change 42"})
	ex := effectsOf[ExecuteAction](effs)
	if len(ex) != 1 || ex[0].Step != "apply" {
		t.Fatalf("a confirmation executes the action: %+v", effs)
	}
	if ss := m.step("apply"); ss.Status != StepRunning || ss.Confirm == nil || ss.Confirm.Text != "change 42" {
		t.Fatalf("executing, with the confirmation recorded: %+v", ss)
	}
	wantRefused(t, m.act(Confirmed{Step: "apply", Operator: "lead"}), "already executing")
	// retries: 2 is for probes; a failed mutation is never repeated unasked.
	effs = m.act(ActionDone{Step: "apply", RunID: m.runs["apply"], Result: result(probes.StatusFail, "1 of 2 objects applied; 1 failed")})
	if len(effectsOf[ExecuteAction](effs)) != 0 || m.step("apply").Status != StepFailed {
		t.Fatalf("a failed mutation is recorded, not retried: %+v %+v", effs, m.step("apply"))
	}
	wantRefused(t, m.act(Confirmed{Step: "apply", Operator: "lead"}), "re-run it for a fresh dry run")
	// Re-running asks for a fresh plan, then a fresh confirmation.
	effs = m.act(RunStep{Step: "apply"})
	if len(effectsOf[PlanAction](effs)) != 1 {
		t.Fatalf("re-run = a fresh dry run: %+v", effs)
	}
	m.act(ActionPlanned{Step: "apply", RunID: m.runs["apply"], Result: result(probes.StatusPass, "ok")})
	m.act(Confirmed{Step: "apply", Operator: "lead"})
	effs = m.act(ActionDone{Step: "apply", RunID: m.runs["apply"], Result: result(probes.StatusPass, "2 objects applied")})
	if m.step("apply").Status != StepPassed {
		t.Fatalf("apply passed: %+v", m.step("apply"))
	}
	// Its dependent, an action that changes nothing, runs by itself and
	// honours its retries.
	ex = effectsOf[ExecuteAction](effs)
	if len(ex) != 1 || ex[0].Step != "watch" {
		t.Fatalf("the observing action starts when its needs pass: %+v", effs)
	}
	effs = m.act(ActionDone{Step: "watch", RunID: m.runs["watch"], Result: result(probes.StatusFail, "not rolled out")})
	if ex = effectsOf[ExecuteAction](effs); len(ex) != 1 || ex[0].Attempt != 2 {
		t.Fatalf("an observing action is retried: %+v", effs)
	}
	m.act(ActionDone{Step: "watch", RunID: m.runs["watch"], Result: result(probes.StatusPass, "3/3 updated")})
	if v := m.s.Gate(0); v.Status != probes.StatusPass {
		t.Fatalf("gate: %+v", v)
	}
	_ = specs
}

func TestActionFailedDryRunIsRedAndUnconfirmable(t *testing.T) {
	m, _ := actionSim(t)
	m.act(Started{Operator: "lead", AllowActions: true})
	m.act(ActionPlanned{Step: "apply", RunID: m.runs["apply"], Result: result(probes.StatusForbidden, "forbidden: patch configmaps")})
	if ss := m.step("apply"); ss.Status != StepFailed || ss.Last.Status != probes.StatusForbidden {
		t.Fatalf("a dry run that fails fails the step: %+v", ss)
	}
	wantRefused(t, m.act(Confirmed{Step: "apply", Operator: "lead"}), "dry run failed")
	// A stale plan (older run) is dropped.
	old := m.runs["apply"]
	m.act(RunStep{Step: "apply"})
	m.act(ActionPlanned{Step: "apply", RunID: old, Result: result(probes.StatusPass, "stale")})
	if ss := m.step("apply"); ss.Plan != nil || !ss.Planning() {
		t.Fatalf("a stale plan is dropped: %+v", ss)
	}
}

func TestActionUndoOfferedAfterFailedRollout(t *testing.T) {
	m, _ := actionSim(t)
	m.act(Started{Operator: "lead", AllowActions: true})
	m.act(ActionPlanned{Step: "apply", RunID: m.runs["apply"], Result: result(probes.StatusPass, "ok")})
	m.act(Confirmed{Step: "apply", Operator: "lead"})
	wantRefused(t, m.act(UndoRequested{Step: "apply", Operator: "lead", Reason: "r"}), "still running")
	wantRefused(t, m.act(Advance{Operator: "lead"}), "changing things right now")
	failed := result(probes.StatusFail, "ProgressDeadlineExceeded")
	failed.UndoRevision = 3
	m.act(ActionDone{Step: "apply", RunID: m.runs["apply"], Result: failed})
	wantRefused(t, m.act(UndoRequested{Step: "apply", Operator: "lead"}), "needs a reason")
	effs := m.act(UndoRequested{Step: "apply", Operator: "lead", Reason: "api 5xx"})
	u := effectsOf[UndoAction](effs)
	if len(u) != 1 || u[0].Revision != 0 {
		t.Fatalf("undo to the offered revision: %+v", effs)
	}
	wantRefused(t, m.act(UndoRequested{Step: "apply", Operator: "lead", Reason: "again"}), "already being undone")
	// While the undo is out, nothing else about the step is decided.
	wantRefused(t, m.act(Overridden{Step: "apply", Operator: "lead", Reason: "accept"}), "being undone")
	wantRefused(t, m.act(RunStep{Step: "apply"}), "being undone")
	wantRefused(t, m.act(Advance{Operator: "lead"}), "changing things right now")
	undone := result(probes.StatusPass, "rolled back 4 → 3")
	m.act(ActionUndone{Step: "apply", RunID: m.runs["apply"], Result: undone})
	ss := m.step("apply")
	if ss.Undo == nil || ss.Undo.Summary != "rolled back 4 → 3" || ss.Status != StepFailed {
		t.Fatalf("the undo is recorded, the failed rollout stays failed: %+v", ss)
	}
	wantRefused(t, m.act(UndoRequested{Step: "watch", Operator: "lead", Reason: "r"}), "only a failed rollout")
	// A fresh dry run of the failed step: no undo while it is out, and
	// a passed step is not undone.
	m.act(RunStep{Step: "apply"})
	wantRefused(t, m.act(UndoRequested{Step: "apply", Operator: "lead", Reason: "r", Revision: 2}), "dry run is out")
}

func TestActionCleanupAtWindowEndAndAfterAbort(t *testing.T) {
	for _, abort := range []bool{false, true} {
		m, _ := actionSim(t)
		m.act(Started{Operator: "lead", AllowActions: true})
		m.act(Overridden{Phase: "deploy", Operator: "lead", Reason: "tested elsewhere"})
		m.act(Advance{Operator: "lead"})
		m.act(ActionPlanned{Step: "silence", RunID: m.runs["silence"], Result: result(probes.StatusPass, "silence 2h")})
		m.act(Confirmed{Step: "silence", Operator: "lead"})
		done := result(probes.StatusPass, "silence created")
		done.Cleanup = "sil-123"
		m.act(ActionDone{Step: "silence", RunID: m.runs["silence"], Result: done})
		var effs []Effect
		if abort {
			effs = m.act(Aborted{Operator: "lead", Reason: "rollback"})
		} else {
			effs = m.act(Advance{Operator: "lead"})
		}
		c := effectsOf[CleanupAction](effs)
		if len(c) != 1 || c[0].Ref != "sil-123" {
			t.Fatalf("abort=%v: the silence is expired when its window ends: %+v", abort, effs)
		}
		if abort != m.s.Finished() {
			t.Fatalf("abort=%v finished=%v", abort, m.s.Finished())
		}
		if abort {
			// The process dies before the cleanup's answer: resuming the
			// finished run asks for it again.
			effs = m.act(Resumed{Operator: "lead"})
			if c := effectsOf[CleanupAction](effs); len(c) != 1 || c[0].Ref != "sil-123" || len(effectsOf[Refused](effs)) != 0 {
				t.Fatalf("resumed after the end: %+v", effs)
			}
		}
		m.act(ActionCleaned{Step: "silence", Result: result(probes.StatusPass, "expired")})
		if ss := m.step("silence"); ss.Cleaned == nil || ss.Cleaned.Summary != "expired" {
			t.Fatalf("abort=%v: the cleanup is recorded (after the end too): %+v", abort, ss)
		}
		if !abort {
			if effs := m.act(Advance{Operator: "lead"}); len(effectsOf[CleanupAction](effs)) != 0 {
				t.Fatalf("taken back once: %+v", effs)
			}
		} else if effs := m.act(Resumed{Operator: "lead"}); len(effectsOf[CleanupAction](effs)) != 0 {
			t.Fatalf("taken back once, also across resumes: %+v", effs)
		}
	}
}

func TestActionResumeNeverRepeatsAMutation(t *testing.T) {
	m, _ := actionSim(t)
	m.act(Started{Operator: "lead", AllowActions: true})
	m.act(ActionPlanned{Step: "apply", RunID: m.runs["apply"], Result: result(probes.StatusPass, "ok")})
	m.act(Confirmed{Step: "apply", Operator: "lead"})
	// The process dies while the apply executes.
	effs := m.act(Resumed{Operator: "lead", AllowActions: true})
	if len(effectsOf[ExecuteAction](effs)) != 0 {
		t.Fatalf("an interrupted mutation is not executed again: %+v", effs)
	}
	if len(effectsOf[PlanAction](effs)) != 1 {
		t.Fatalf("it gets a fresh dry run: %+v", effs)
	}
	ss := m.step("apply")
	if ss.Status != StepPending || ss.Confirm != nil || !strings.Contains(ss.Last.Message, "not repeated unasked") {
		t.Fatalf("it waits for a new confirmation, saying why: %+v", ss)
	}
	if r := effectsOf[ReviewAccess](effs); len(r) != 1 || r[0].Phase != "deploy" || m.s.Phases[0].Access != nil {
		t.Fatalf("a resumed phase with actions has its access reviewed again: %+v", effs)
	}
	// Headless: --auto-confirm-actions does not repeat it; naming it does.
	m.act(AccessReviewed{Phase: "deploy", Result: probes.Result{Status: probes.StatusPass}})
	m.act(ActionPlanned{Step: "apply", RunID: m.runs["apply"], Result: result(probes.StatusPass, "1 object: 1 unchanged")})
	auto := Autopilot{Operator: "ci", ConfirmActions: true}
	evs := auto.Next(m.s)
	if len(evs) != 1 {
		t.Fatalf("auto-confirm after a crash: %+v", evs)
	}
	if ab, ok := evs[0].(Aborted); !ok || !strings.Contains(ab.Reason, "cut off by a crash") || !strings.Contains(ab.Reason, "--confirm STEP=NOTE") {
		t.Fatalf("auto-confirm after a crash: %+v", evs)
	}
	named := Autopilot{Operator: "ci", Confirm: map[string]string{"apply": "checked the dry run"}}
	if evs := named.Next(m.s); len(evs) != 1 {
		t.Fatalf("--confirm apply after a crash: %+v", evs)
	} else if c, ok := evs[0].(Confirmed); !ok || c.Step != "apply" {
		t.Fatalf("--confirm apply after a crash: %+v", evs)
	}
	m.act(Confirmed{Step: "apply", Operator: "ci", Note: "checked"})
	if m.step("apply").Interrupted {
		t.Error("a confirmation clears the interruption")
	}
}

// The headless autopilot confirms nothing before the phase's access review
// is in, and --auto-confirm-actions starts nothing when it found
// permissions missing; an explicit --confirm still stands.
func TestAutopilotWaitsForTheAccessReview(t *testing.T) {
	missing := probes.Result{Status: probes.StatusFail, Summary: "1 of 2 permission(s) missing",
		Items: []probes.Item{{Name: "get configmaps in gravl-prod", Status: probes.StatusPass}, {Name: "patch configmaps in gravl-prod", Status: probes.StatusFail, Summary: "missing: patch"}}}
	for _, tt := range []struct {
		name   string
		ap     Autopilot
		review probes.Result
		want   string // "confirm", "abort"
	}{
		{"granted", Autopilot{Operator: "ci", ConfirmActions: true}, probes.Result{Status: probes.StatusPass, Summary: "all 2 permission(s) granted"}, "confirm"},
		{"missing, auto", Autopilot{Operator: "ci", ConfirmActions: true}, missing, "abort"},
		{"missing, explicit", Autopilot{Operator: "ci", Confirm: map[string]string{"apply": "change 42"}}, missing, "confirm"},
		{"review failed", Autopilot{Operator: "ci", ConfirmActions: true}, probes.Result{Status: probes.StatusError, Summary: "access review failed: 1 error(s)"}, "confirm"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := actionSim(t)
			m.act(Started{Operator: "lead", AllowActions: true})
			m.act(ActionPlanned{Step: "apply", RunID: m.runs["apply"], Result: result(probes.StatusPass, "ok")})
			if evs := tt.ap.Next(m.s); len(evs) != 0 {
				t.Fatalf("before the review: %+v", evs)
			}
			m.act(AccessReviewed{Phase: "deploy", Result: tt.review})
			evs := tt.ap.Next(m.s)
			switch tt.want {
			case "confirm":
				if len(evs) != 1 {
					t.Fatalf("after the review: %+v", evs)
				}
				if c, ok := evs[0].(Confirmed); !ok || c.Step != "apply" {
					t.Fatalf("after the review: %+v", evs)
				}
			case "abort":
				if len(evs) != 1 {
					t.Fatalf("after the review: %+v", evs)
				}
				a, ok := evs[0].(Aborted)
				if !ok || !strings.Contains(a.Reason, "patch configmaps in gravl-prod (missing: patch)") || strings.Contains(a.Reason, "get configmaps") {
					t.Fatalf("after the review: %+v", evs)
				}
			}
		})
	}
}

func TestActionEventsRoundTripTheJournal(t *testing.T) {
	res := result(probes.StatusFail, "x")
	res.Diff, res.UndoRevision, res.Cleanup = "--- a\n+++ b\n", 2, "id"
	res.Objects = []actions.Object{{Ref: "ConfigMap/ns/a", Op: actions.OpCreated, ResourceVersion: "7"}}
	for _, ev := range []Event{
		Started{Operator: "a", AllowActions: true}, Resumed{Operator: "a", Events: 3, AllowActions: true},
		ActionPlanned{Step: "s", RunID: 1, Result: res}, ActionDone{Step: "s", RunID: 2, Result: res},
		UndoRequested{Step: "s", Revision: 3, Operator: "a", Reason: "r"}, ActionUndone{Step: "s", RunID: 4, Result: res},
		ActionCleaned{Step: "s", Result: res}, AccessReviewed{Phase: "deploy", Result: res.Result},
		Tick{}, RunPhase{},
	} {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeEvent(ev.EventType(), b)
		if err != nil {
			t.Fatalf("%s: %v", ev.EventType(), err)
		}
		if !reflect.DeepEqual(got, ev) {
			t.Errorf("%s round trip:\n got %+v\nwant %+v", ev.EventType(), got, ev)
		}
	}
}

// Read-only mode refuses every action kind: each registered kind, in a
// form that changes things, is dry-run on entering its phase and its
// confirmation refused, and nothing is ever executed. A new kind must be
// added here.
func TestActionReadOnlyRefusesEveryKind(t *testing.T) {
	mutating := map[string]string{
		"apply":         "{kind: apply, files: [manifests/]}",
		"rollout":       "{kind: rollout, resources: [deployment/api], restart: true}",
		"rollout-undo":  "{kind: rollout-undo, resource: deployment/api}",
		"annotate":      "{kind: annotate, resource: ingress, names: [web], set: {a: b}}",
		"label":         "{kind: label, resource: deploy, names: [api], set: {a: b}}",
		"patch":         "{kind: patch, resource: deploy, names: [api], patch: {spec: {replicas: 3}}}",
		"sealed-secret": "{kind: sealed-secret, files: [sealed.yaml]}",
		"check-pod":     "{kind: check-pod, image: busybox, command: [nslookup, kubernetes.default]}",
		"silence":       `{kind: silence, url: "http://127.0.0.1:9093", matchers: ['a="b"'], duration: 1h, comment: c}`,
		"exec":          "{kind: exec, command: [true]}",
	}
	var b strings.Builder
	b.WriteString("apiVersion: cockpit/v1\nkind: Runbook\nmetadata: {name: every-kind}\nphases:\n- id: deploy\n  steps:\n")
	for _, kind := range actions.Kinds() {
		spec, ok := mutating[kind]
		if !ok {
			t.Fatalf("action kind %q has no case in this test", kind)
		}
		fmt.Fprintf(&b, "  - id: %s\n    action: %s\n", kind, spec)
	}
	rb := mustParse(t, b.String())
	m := &sim{t: t, s: NewState(rb), now: newSim(t, engineRunbook).now, runs: map[string]uint64{}}
	effs := m.act(Started{Operator: "lead"})
	if got := len(effectsOf[PlanAction](effs)); got != len(actions.Kinds()) {
		t.Fatalf("%d dry runs on entering, want one per kind (%d): %+v", got, len(actions.Kinds()), effs)
	}
	for i, kind := range actions.Kinds() {
		if !rb.Phases[0].Steps[i].Mutating() {
			t.Fatalf("%s: the case does not change things", kind)
		}
		effs := m.act(ActionPlanned{Step: kind, RunID: m.runs[kind], Result: result(probes.StatusPass, "would change")})
		effs = append(effs, m.act(Confirmed{Step: kind, Operator: "lead"})...)
		wantRefused(t, effs, "--allow-actions")
		if ex := effectsOf[ExecuteAction](effs); len(ex) != 0 {
			t.Errorf("%s executed read-only: %+v", kind, ex)
		}
		if ss := m.step(kind); ss.Action != nil || ss.Status != StepPending {
			t.Errorf("%s after a refused confirmation: %+v", kind, ss)
		}
	}
}
