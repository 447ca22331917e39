package tui

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// fakeSpec is an action spec for the cockpit's tests: it describes itself
// and lists permissions, and is never built — nothing here talks to a
// cluster; the tests play the runner's part with ActionPlanned and
// ActionDone events.
type fakeSpec struct {
	mutating bool
	describe string
	perms    []probes.Permission
}

func (f *fakeSpec) Validate() error                  { return nil }
func (f *fakeSpec) Mutating() bool                   { return f.mutating }
func (f *fakeSpec) Describe() string                 { return f.describe }
func (f *fakeSpec) Permissions() []probes.Permission { return f.perms }
func (f *fakeSpec) Build(actions.Env) (actions.Action, error) {
	return nil, errors.New("fakeSpec is never built: the tests play the runner")
}

var _ actions.Spec = (*fakeSpec)(nil)

// actionsYAML is a deploy phase with actions: manual placeholders the
// fixture swaps for fake action specs (the registry's kinds would need a
// cluster), a manual step, and a monitor phase.
const actionsYAML = `apiVersion: cockpit/v1
kind: Runbook
metadata: {name: gravl-go-live, description: actions test}
phases:
- id: deploy
  title: roll out
  steps:
  - id: apply-manifests
    manual: {prompt: placeholder}
  - id: restart-api
    needs: [apply-manifests]
    manual: {prompt: placeholder}
  - id: rollout-status
    optional: true
    manual: {prompt: placeholder}
  - id: announce
    manual: {prompt: "Announced in #go-live?"}
- id: monitor
  duration: 1h
  steps:
  - id: health-watch
    every: 30s
    probe: {kind: http, url: "http://127.0.0.1:1/health"}
`

// actionSpecs are the fixture's actions by step id.
var actionSpecs = map[string]struct {
	kind string
	spec *fakeSpec
}{
	"apply-manifests": {"apply", &fakeSpec{mutating: true, describe: "apply 3 manifests to namespace gravl",
		perms: []probes.Permission{{Group: "apps", Resource: "deployments", Namespace: "gravl", Verbs: []string{"get", "create", "patch"}}}}},
	"restart-api": {"rollout", &fakeSpec{mutating: true, describe: "restart Deployment gravl/api and watch it roll out (deadline 5m)",
		perms: []probes.Permission{{Group: "apps", Resource: "deployments", Namespace: "gravl", Verbs: []string{"get", "watch", "patch"}}}}},
	"rollout-status": {"rollout", &fakeSpec{describe: "watch Deployment gravl/worker roll out"}},
}

func actionsRunbook(t testing.TB) *runbook.Runbook {
	t.Helper()
	rb, err := runbook.Parse("actions.yaml", []byte(actionsYAML), runbook.Options{})
	if err != nil {
		t.Fatalf("parse actions fixture: %v", err)
	}
	for pi := range rb.Phases {
		for si := range rb.Phases[pi].Steps {
			st := &rb.Phases[pi].Steps[si]
			if a, ok := actionSpecs[st.ID]; ok {
				st.Manual, st.Action = nil, &runbook.ActionStep{Kind: a.kind, Spec: a.spec, Kube: len(a.spec.perms) > 0}
			}
		}
	}
	return rb
}

// applyDiff is the dry run's diff of apply-manifests: file headers, hunks,
// a line too long for 80 columns, a tab and an escape sequence smuggled
// into a value (drawn harmless).
var applyDiff = func() string {
	var b strings.Builder
	b.WriteString("--- Deployment/gravl/api (live)\n+++ Deployment/gravl/api (dry run)\n")
	b.WriteString("@@ -12,9 +12,9 @@ spec:\n")
	b.WriteString("   template:\n     spec:\n       containers:\n")
	b.WriteString("-      - image: registry.example.com/gravl/api:1.41.2\n")
	b.WriteString("+      - image: registry.example.com/gravl/api:1.42.0\n")
	b.WriteString("         env:\n")
	b.WriteString("-        - {name: FEATURE_FLAGS, value: \"search,feed\"}\n")
	b.WriteString("+        - {name: FEATURE_FLAGS, value: \"search,feed,leaderboards,weekly-digest,exercise-video-previews\"}\n")
	b.WriteString("+        - {name: NOTE, value: \"tab\there \x1b[31mred\x1b[0m\"}\n")
	b.WriteString("--- ConfigMap/gravl/api-config (live)\n+++ ConfigMap/gravl/api-config (dry run)\n")
	b.WriteString("@@ -1,4 +1,6 @@\n")
	b.WriteString(" data:\n")
	for i := 1; i <= 24; i++ {
		fmt.Fprintf(&b, "+  key-%02d: value-%02d\n", i, i)
	}
	b.WriteString("--- Service/gravl/api (live)\n+++ Service/gravl/api (dry run)\n")
	b.WriteString("@@ -0,0 +1,8 @@\n+apiVersion: v1\n+kind: Service\n+metadata: {name: api, namespace: gravl}\n")
	return b.String()
}()

var applyPlan = actions.Result{
	Result: probes.Result{Status: probes.StatusPass, Summary: "would apply 3 objects to gravl", Duration: 40 * time.Millisecond},
	Diff:   applyDiff, Changes: 2,
	Objects: []actions.Object{
		{Ref: "Service/gravl/api", Op: actions.OpCreated},
		{Ref: "Deployment/gravl/api", Op: actions.OpConfigured},
		{Ref: "ConfigMap/gravl/api-config", Op: actions.OpUnchanged},
	},
}

var applyDone = actions.Result{
	Result:  probes.Result{Status: probes.StatusPass, Summary: "applied 3 objects", Duration: 300 * time.Millisecond},
	Changes: 2,
	Objects: []actions.Object{
		{Ref: "Service/gravl/api", Op: actions.OpCreated, ResourceVersion: "81723", Generation: 1},
		{Ref: "Deployment/gravl/api", Op: actions.OpConfigured, ResourceVersion: "81725", Generation: 7},
		{Ref: "ConfigMap/gravl/api-config", Op: actions.OpUnchanged, ResourceVersion: "80011"},
	},
}

var restartPlan = actions.Result{
	Result:  probes.Result{Status: probes.StatusPass, Summary: "would restart 1 of 1 workload and watch it roll out (deadline 5m)"},
	Diff:    "--- Deployment/gravl/api (live)\n+++ Deployment/gravl/api (dry run)\n@@ -20,1 +20,2 @@\n   annotations:\n+    kubectl.kubernetes.io/restartedAt: \"2026-12-03T08:01:00Z\"\n",
	Changes: 1,
	Objects: []actions.Object{{Ref: "Deployment/gravl/api", Op: actions.OpConfigured}},
}

// restartFailed is a rollout that missed its progress deadline: it offers
// an undo to revision 4 and carries the pods' logs.
var restartFailed = func() actions.Result {
	var logs strings.Builder
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&logs, "api-7c9f %02d: readiness probe failed: GET /ready: 503\n", i)
	}
	logs.WriteString("api-7c9f: panic: migration 0042 missing\x07\n")
	return actions.Result{
		Result: probes.Result{Status: probes.StatusFail, Summary: "0/1 rolled out; not: Deployment/gravl/api",
			Message: "Deployment/gravl/api: ProgressDeadlineExceeded",
			Items: []probes.Item{{Name: "Deployment/gravl/api", Status: probes.StatusFail, Summary: "1 of 3 updated replicas available",
				Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "api-7c9f" has timed out progressing.`}}},
		Objects:      []actions.Object{{Ref: "Deployment/gravl/api", Op: actions.OpConfigured, ResourceVersion: "81802", Generation: 8}},
		Output:       logs.String(),
		UndoRevision: 4,
	}
}()

var accessMissing = probes.Result{
	Status: probes.StatusFail, Summary: "1 of 6 permission(s) missing",
	Items: []probes.Item{
		{Name: "get,create deployments.apps in gravl", Status: probes.StatusPass, Summary: "allowed"},
		{Name: "patch deployments.apps in gravl", Status: probes.StatusFail, Summary: "missing: patch"},
		{Name: "get,watch deployments.apps in gravl", Status: probes.StatusPass, Summary: "allowed"},
	},
}

func newActionEngine(t testing.TB) *engine {
	return &engine{t: t, s: runbook.NewState(actionsRunbook(t)), now: t0, runs: map[string]uint64{}}
}

// planned, done and undone play the runner: the result of the step's
// latest dry run, execution or undo.
func (e *engine) planned(step string, res actions.Result) StateMsg {
	res.ObservedAt = e.now
	return e.apply(runbook.ActionPlanned{Step: step, RunID: e.runs[step], Result: res})
}

func (e *engine) done(step string, res actions.Result) StateMsg {
	res.ObservedAt = e.now
	return e.apply(runbook.ActionDone{Step: step, RunID: e.runs[step], Result: res})
}

func (e *engine) undone(step string, res actions.Result) StateMsg {
	res.ObservedAt = e.now
	return e.apply(runbook.ActionUndone{Step: step, RunID: e.runs[step], Result: res})
}

// actionsPlanned is the deploy phase half a minute in: the access review
// back (one permission missing), the observing rollout passed, the
// manifests' dry run waiting for a confirmation.
func actionsPlanned(t testing.TB, allow bool) *engine {
	e := newActionEngine(t)
	e.apply(runbook.Started{Operator: "lead", AllowActions: allow})
	e.advanceClock(time.Second)
	e.apply(runbook.AccessReviewed{Phase: "deploy", Result: accessMissing})
	e.done("rollout-status", actions.Result{Result: probes.Result{Status: probes.StatusPass, Summary: "1/1 rolled out",
		Items: []probes.Item{{Name: "Deployment/gravl/worker", Status: probes.StatusPass, Summary: "3/3 updated, available"}}}})
	e.advanceClock(2 * time.Second)
	e.planned("apply-manifests", applyPlan)
	e.advanceClock(30 * time.Second)
	return e
}

// rolloutFailed goes on (actions mode): the manifests applied, the
// restart confirmed and failed, offering an undo to revision 4.
func rolloutFailed(t testing.TB) *engine {
	e := actionsPlanned(t, true)
	e.apply(runbook.Confirmed{Step: "apply-manifests", Operator: "lead", Note: "CHG-1234"})
	e.advanceClock(time.Second)
	e.done("apply-manifests", applyDone)
	e.advanceClock(time.Second)
	e.planned("restart-api", restartPlan)
	e.advanceClock(10 * time.Second)
	e.apply(runbook.Confirmed{Step: "restart-api", Operator: "lead"})
	e.advanceClock(5 * time.Minute)
	e.done("restart-api", restartFailed)
	e.advanceClock(20 * time.Second)
	return e
}

func TestActionFixture(t *testing.T) {
	e := rolloutFailed(t)
	pi, si, _ := e.s.Find("restart-api")
	ss := e.s.Phases[pi].Steps[si]
	if ss.Status != runbook.StepFailed || ss.Action == nil || ss.Action.UndoRevision != 4 {
		t.Fatalf("restart-api: %s, action %+v", ss.Status, ss.Action)
	}
	pi, si, _ = e.s.Find("apply-manifests")
	if ss := e.s.Phases[pi].Steps[si]; ss.Status != runbook.StepPassed {
		t.Fatalf("apply-manifests: %s", ss.Status)
	}
}
