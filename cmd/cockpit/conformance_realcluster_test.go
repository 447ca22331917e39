package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/internal/realcluster"
	"github.com/cockpit-dev/cockpit/internal/sandbox"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// simTarget is one cluster the conformance scenarios run on: the probes'
// view of it and what makes its "bad release" crash.
type simTarget struct {
	name    string
	cluster *probes.Cluster
	// badImage and badCommand are the v2 manifest's container (a command
	// when the image itself must fail); setBad tells a simulated cluster
	// that new versions crash (the real node needs no telling).
	badImage, badCommand string
	setBad               func(bool)
}

// TestSimulatedClusterConformsOnRealCluster: `cockpit demo`'s simulated
// cluster must never be different in kind from a real one. The same
// scenarios run on both, through the cockpit's own apply, rollout and undo
// actions: a rollout; a release whose pods crash (CrashLoopBackOff) and
// whose rollout fails (ProgressDeadlineExceeded); its undo back to the
// previous ReplicaSet. What the k8s.workload and k8s.pods probes report
// along the way — their verdicts and the cluster's reasons, in order — must
// be the same. The simulation may be faster: transitional "pending"
// observations are logged, not compared, since a fast simulation can finish
// a step between two observations.
func TestSimulatedClusterConformsOnRealCluster(t *testing.T) {
	c := realcluster.Start(t)
	ns := c.Namespace(t)
	real, err := probes.NewClusterForConfig("rig", c.Config, ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(real.Close)

	sim, err := sandbox.NewSimulatedCluster(sandbox.ClusterOptions{Seed: 1, RolloutStep: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if _, err := sim.StartControllers(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	simCluster := probes.NewCluster(probes.ClusterOptions{Name: sim.Name(), Typed: sim.Typed, Dynamic: sim.Dynamic, Namespace: ns})
	t.Cleanup(simCluster.Close)

	targets := []simTarget{
		{name: "simulated", cluster: simCluster, badImage: "cockpit.local/gravl:v2", setBad: sim.SetBadRelease},
		{name: "real", cluster: real, badImage: "busybox:1.37", badCommand: "echo v2 cannot start; exit 1", setBad: func(bool) {}},
	}
	got := map[string]map[string][]string{}
	for _, tg := range targets {
		got[tg.name] = runConformance(t, tg, ns)
	}
	// Each probe's sequence on its own: how two probes' changes interleave
	// is the clusters' timing, not a difference in kind.
	for _, probe := range []string{"workload", "pods"} {
		sim, real := got["simulated"][probe], got["real"][probe]
		t.Logf("%s, simulated: %s", probe, strings.Join(sim, " → "))
		t.Logf("%s, real:      %s", probe, strings.Join(real, " → "))
		if !slices.Equal(sim, real) {
			t.Errorf("the simulated cluster's %s probe reports differently in kind from the real one's:\n simulated: %s\n real:      %s",
				probe, strings.Join(sim, " → "), strings.Join(real, " → "))
		}
	}
}

// conformanceManifest is webDeployment with two replicas and a 10 s
// progress deadline.
func conformanceManifest(ns, image, command string) string {
	m := strings.Replace(webDeployment(ns, image, command), "replicas: 1", "replicas: 2", 1)
	return strings.Replace(m, "progressDeadlineSeconds: 15", "progressDeadlineSeconds: 10", 1)
}

// runConformance runs the scenarios on one target and returns, per probe,
// the verdict-bearing states it reported, in order, consecutive repeats
// collapsed.
func runConformance(t *testing.T, tg simTarget, ns string) map[string][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	for name, m := range map[string]string{"v1.yaml": conformanceManifest(ns, "cockpit.local/gravl:v1", ""),
		"v2.yaml": conformanceManifest(ns, tg.badImage, tg.badCommand)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(m), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := actions.Env{Dir: dir, Kube: func(string) (*probes.Cluster, error) { return tg.cluster, nil }}
	build := func(spec actions.Spec) actions.Action {
		t.Helper()
		if err := spec.Validate(); err != nil {
			t.Fatal(err)
		}
		a, err := spec.Build(env)
		if err != nil {
			t.Fatalf("%s: %v", tg.name, err)
		}
		return a
	}
	obs := newStateRecorder(t, tg)
	defer obs.stop()

	// 1. A rollout.
	if r := build(&actions.ApplySpec{Files: []string{"v1.yaml"}}).Execute(ctx, nil); r.Status != probes.StatusPass {
		t.Fatalf("%s: apply v1: %s %s", tg.name, r.Status, r.Message)
	}
	rollout := build(&actions.RolloutSpec{Resources: []string{"deployment/web"}, Deadline: probes.Duration(2 * time.Minute)})
	if r := rollout.Execute(ctx, nil); r.Status != probes.StatusPass {
		t.Fatalf("%s: rollout v1: %s %s", tg.name, r.Status, r.Message)
	}
	obs.until(ctx, "v1 rolled out", "workload pass", "pods pass")

	// 2. A release whose pods crash: its rollout fails.
	tg.setBad(true)
	defer tg.setBad(false)
	if r := build(&actions.ApplySpec{Files: []string{"v2.yaml"}}).Execute(ctx, nil); r.Status != probes.StatusPass {
		t.Fatalf("%s: apply v2: %s %s", tg.name, r.Status, r.Message)
	}
	rollout = build(&actions.RolloutSpec{Resources: []string{"deployment/web"}, Deadline: probes.Duration(2 * time.Minute)})
	failed := rollout.Execute(ctx, nil)
	if failed.Status != probes.StatusFail || failed.UndoRevision != 1 {
		t.Fatalf("%s: rollout v2: %s %q, undo offered to %d; want a failure offering revision 1", tg.name, failed.Status, failed.Message, failed.UndoRevision)
	}
	obs.until(ctx, "v2's failure", "workload fail ProgressDeadlineExceeded", "pods fail CrashLoopBackOff")

	// 3. Undo: back to v1's ReplicaSet, rolled out again.
	undoer, ok := rollout.(actions.Undoer)
	if !ok {
		t.Fatalf("the rollout action is not an Undoer")
	}
	if r := undoer.Undo(ctx, failed.UndoRevision); r.Status != probes.StatusPass {
		t.Fatalf("%s: undo: %s %s", tg.name, r.Status, r.Message)
	}
	tg.setBad(false)
	if r := build(&actions.RolloutSpec{Resources: []string{"deployment/web"}, Deadline: probes.Duration(2 * time.Minute)}).Execute(ctx, nil); r.Status != probes.StatusPass {
		t.Fatalf("%s: rollout after the undo: %s %s", tg.name, r.Status, r.Message)
	}
	obs.until(ctx, "the undo rolled out", "workload pass", "pods pass")
	return obs.states()
}

// stateRecorder observes a target's k8s.workload (deployment/web) and
// k8s.pods probes every 100 ms and keeps what they report.
type stateRecorder struct {
	t        *testing.T
	name     string
	workload judged
	pods     judged
	seq      map[string][]string // per probe: verdict-bearing states, repeats collapsed
	all      []string            // everything, for the log
	last     map[string]string
}

func newStateRecorder(t *testing.T, tg simTarget) *stateRecorder {
	t.Helper()
	env := probes.Env{Kube: func(string) (*probes.Cluster, error) { return tg.cluster, nil }}
	var out [2]judged
	for i, spec := range []probes.Spec{&probes.WorkloadSpec{Names: []string{"deployment/web"}}, &probes.PodsSpec{Selector: "app=web"}} {
		p, rules, err := spec.Build(env)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = judged{p, rules}
	}
	return &stateRecorder{t: t, name: tg.name, workload: out[0], pods: out[1], last: map[string]string{}, seq: map[string][]string{}}
}

// judged is a probe with its outcome rules, as a runbook step runs it.
type judged struct {
	probe probes.Probe
	rules probes.Outcomes
}

// until observes until the latest states of both probes are the wanted
// ones (as state strings), recording what it sees on the way.
func (s *stateRecorder) until(ctx context.Context, what, wantWorkload, wantPods string) {
	s.t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		w := s.observe(ctx, "workload", s.workload)
		p := s.observe(ctx, "pods", s.pods)
		if w == wantWorkload && p == wantPods {
			return
		}
		select {
		case <-ctx.Done():
			s.t.Fatalf("%s: waiting for %s (%s, %s): last %s, %s\nseen: %s", s.name, what, wantWorkload, wantPods, w, p, strings.Join(s.all, " → "))
		case <-tick.C:
		}
	}
}

// observe runs one probe and records its state: "NAME STATUS REASONS",
// the reasons being the distinct item reasons of failing items.
func (s *stateRecorder) observe(ctx context.Context, name string, p judged) string {
	o := probes.Judge(p.probe.Observe(ctx), p.rules)
	status := o.Status.String()
	var reasons []string
	for _, it := range o.Items {
		if it.Reason != "" && it.Status == probes.StatusFail && !slices.Contains(reasons, it.Reason) {
			reasons = append(reasons, it.Reason)
		}
	}
	slices.Sort(reasons)
	st := strings.TrimSpace(name + " " + status + " " + strings.Join(reasons, ","))
	if s.last[name] != st {
		s.last[name] = st
		s.all = append(s.all, st)
		if seq := s.seq[name]; o.Status != probes.StatusPending && (len(seq) == 0 || seq[len(seq)-1] != st) {
			s.seq[name] = append(seq, st)
		}
	}
	return st
}

func (s *stateRecorder) states() map[string][]string { return s.seq }

func (s *stateRecorder) stop() {
	s.t.Logf("%s: everything observed: %s", s.name, strings.Join(s.all, " → "))
}
