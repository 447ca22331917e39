package runbook

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
	"github.com/cockpit-dev/cockpit/internal/distload"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// distEnvtest is a runbook with one distributed load step in ns of a real
// API server (no kubelet: nothing runs), and a runner on it.
func distEnvtest(t *testing.T) (*Runbook, *Runner, *controlplane.ControlPlane, string) {
	t.Helper()
	cp := controlplane.Start(t)
	ns := cp.Namespace(t)
	c, err := probes.NewClusterForConfig("envtest", cp.Config, ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	rb := mustParse(t, workersRunbook(workersBase+fmt.Sprintf("      workers: {count: 2, namespace: %s, image: cockpit:test, imagePullPolicy: Never}\n", ns), ""))
	r := &Runner{Env: probes.Env{Kube: func(string) (*probes.Cluster, error) { return c, nil }}}
	return rb, r, cp, ns
}

// leftovers lists what of any load run exists in ns.
func leftovers(t *testing.T, cp *controlplane.ControlPlane, ns string) []string {
	t.Helper()
	cs := cp.Typed
	lo := metav1.ListOptions{LabelSelector: distload.LabelRun}
	var out []string
	cms, err := cs.CoreV1().ConfigMaps(ns).List(context.Background(), lo)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range cms.Items {
		out = append(out, "configmap/"+o.Name)
	}
	sas, _ := cs.CoreV1().ServiceAccounts(ns).List(context.Background(), lo)
	for _, o := range sas.Items {
		out = append(out, "serviceaccount/"+o.Name)
	}
	roles, _ := cs.RbacV1().Roles(ns).List(context.Background(), lo)
	for _, o := range roles.Items {
		out = append(out, "role/"+o.Name)
	}
	rbs, _ := cs.RbacV1().RoleBindings(ns).List(context.Background(), lo)
	for _, o := range rbs.Items {
		out = append(out, "rolebinding/"+o.Name)
	}
	jobs, _ := cs.BatchV1().Jobs(ns).List(context.Background(), lo)
	for _, o := range jobs.Items {
		out = append(out, "job/"+o.Name)
	}
	return out
}

// A read-only headless run of a distributed load step: its plan is the
// server's dry run of the five objects, journaled; nothing is created;
// the run stops saying how to enable it.
func TestDistributedLoadReadOnlyPlan(t *testing.T) {
	rb, r, cp, ns := distEnvtest(t)
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := CreateJournal(path, Header{Runbook: "load-test", File: "r.yaml", Digest: rb.Digest}, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Journal, r.Operator = j, "ci"
	s := NewState(rb)
	r.Autopilot = &Autopilot{Operator: "ci", ConfirmActions: true}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	final, err := r.Run(ctx, s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ss := final.Phases[0].Steps[0]
	if ss.Plan == nil || ss.Plan.Status != probes.StatusPass {
		t.Fatalf("plan = %+v", ss.Plan)
	}
	if len(ss.Plan.Objects) != 5 || ss.Plan.Changes != 5 {
		t.Errorf("plan objects = %+v", ss.Plan.Objects)
	}
	for i, kind := range []string{"ConfigMap", "ServiceAccount", "Role", "RoleBinding", "Job"} {
		if o := ss.Plan.Objects[i]; !strings.HasPrefix(o.Ref, kind+"/"+ns+"/cockpit-load-") || o.Op != actions.OpCreated || o.Error != "" {
			t.Errorf("plan object %d = %+v, want %s created", i, o, kind)
		}
	}
	if !strings.HasPrefix(ss.Plan.Cleanup, ns+"/cockpit-load-") {
		t.Errorf("the plan names the run %q", ss.Plan.Cleanup)
	}
	if ss.Status != StepPending || ss.LoadRun != "" {
		t.Errorf("step %s, run %q: a read-only run runs nothing", ss.Status, ss.LoadRun)
	}
	if !strings.Contains(final.Reason, "--allow-actions") {
		t.Errorf("the run ended with %q: want it to name --allow-actions", final.Reason)
	}
	if left := leftovers(t, cp, ns); len(left) > 0 {
		t.Errorf("a dry run created %v", left)
	}
	j.Close()
	planned := 0
	for _, at := range journalEvents(t, path) {
		if p, ok := at.Event.(ActionPlanned); ok && p.Result.Status == probes.StatusPass && len(p.Result.Objects) == 5 {
			planned++
		}
	}
	if planned != 1 {
		t.Errorf("%d plans of 5 objects journaled, want 1", planned)
	}
}

// The cockpit died while a distributed load step ran: on resume the run
// named by the confirmed plan is found, its objects deleted (journaled as
// a change), and only then may the step be confirmed again.
func TestDistributedLoadOrphansDeletedOnResume(t *testing.T) {
	rb, r, cp, ns := distEnvtest(t)
	st := &rb.Phases[0].Steps[0]
	name := distload.NewName()
	coord, _, err := r.distCoordinator(rb, st, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := coord.Create(context.Background()); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, cp, ns); len(left) != 5 {
		t.Fatalf("created %v, want 5 objects", left)
	}
	// The journal up to the crash: planned, confirmed, running.
	s := NewState(rb)
	t0 := time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)
	step := func(ev Event) []Effect {
		t0 = t0.Add(time.Second)
		var effs []Effect
		s, effs = Apply(s, At{Time: t0, Event: ev})
		return effs
	}
	step(Started{Operator: "lead", AllowActions: true})
	step(AccessReviewed{Phase: "validate", Result: probes.Result{Status: probes.StatusPass}})
	plan := actions.Result{Cleanup: ns + "/" + name}
	plan.Status = probes.StatusPass
	step(ActionPlanned{Step: "load", RunID: s.Phases[0].Steps[0].RunID, Result: plan})
	step(Confirmed{Step: "load", Operator: "lead"})
	if s.Phases[0].Steps[0].Status != StepRunning || s.Phases[0].Steps[0].LoadRun != ns+"/"+name {
		t.Fatalf("before the crash: %s, run %q", s.Phases[0].Steps[0].Status, s.Phases[0].Steps[0].LoadRun)
	}
	effs := step(Resumed{Operator: "lead", AllowActions: true})
	var cl *CleanupLoad
	for _, e := range effs {
		if c, ok := e.(CleanupLoad); ok {
			cl = &c
		}
	}
	if cl == nil || cl.Run != ns+"/"+name {
		t.Fatalf("resume effects %#v: want a CleanupLoad of %s/%s", effs, ns, name)
	}
	// The fresh dry run comes back before the deletion: not confirmable yet.
	plan2 := actions.Result{Cleanup: ns + "/" + distload.NewName()}
	plan2.Status = probes.StatusPass
	step(ActionPlanned{Step: "load", RunID: s.Phases[0].Steps[0].RunID, Result: plan2})
	if ok, why := s.CanConfirm("load"); ok || !strings.Contains(why, "are being deleted") {
		t.Errorf("CanConfirm before the deletion = %v %q", ok, why)
	}
	awaited := make(chan Event, 1)
	r.drained = make(chan struct{})
	r.cleanupOrphans(context.Background(), s, *cl, awaited)
	var ev LoadWorkersChanged
	select {
	case e := <-awaited:
		ev = e.(LoadWorkersChanged)
	case <-time.After(DefaultLoadCleanupTimeout):
		t.Fatal("no deletion reported")
	}
	if ev.What != LoadOrphansDeleted || ev.Result.Status != probes.StatusPass || len(ev.Result.Objects) < 5 {
		t.Errorf("deletion = %+v", ev)
	}
	for _, o := range ev.Result.Objects {
		if o.Op != actions.OpDeleted {
			t.Errorf("%s %s, want deleted", o.Ref, o.Op)
		}
	}
	if left := leftovers(t, cp, ns); len(left) > 0 {
		t.Errorf("left after the orphan cleanup: %v", left)
	}
	step(ev)
	if ss := s.Phases[0].Steps[0]; ss.LoadRun != "" || ss.Status != StepPending || ss.Plan == nil {
		t.Errorf("after the deletion: %s, run %q: want it pending on its new dry run", ss.Status, ss.LoadRun)
	}
	if ok, why := s.CanConfirm("load"); !ok {
		t.Errorf("CanConfirm after the deletion: %s", why)
	}
}
