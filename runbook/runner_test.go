package runbook

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/cockpit-dev/cockpit/probes"
)

// fakeClock advances one step per reading, so a monitor window passes in a
// bounded number of ticks whatever the machine's speed.
type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

func runnerRunbook(url string) string {
	return fmt.Sprintf(`
apiVersion: cockpit/v1
kind: Runbook
metadata: {name: runner-test}
phases:
- id: preflight
  steps:
  - id: health
    probe: {kind: http, url: "%[1]s/health", json: {status: ok}}
  - id: notify
    manual: {prompt: "Stakeholders notified?"}
- id: validate
  steps:
  - id: broken
    probe: {kind: http, url: "%[1]s/broken"}
- id: monitor
  duration: 10s
  steps:
  - id: watch
    every: 2s
    probe: {kind: http, url: "%[1]s/health"}
`, url)
}

func gravlServer(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"status":"ok"}`) })
	mux.HandleFunc("/broken", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestRunnerHeadless(t *testing.T) {
	srv := gravlServer(t)
	tests := []struct {
		name        string
		pilot       Autopilot
		wantOutcome Outcome
		wantReason  string
		wantPhases  []PhaseStatus
	}{
		{name: "red gate aborts", pilot: Autopilot{Operator: "ci", Confirm: map[string]string{"notify": "done"}},
			wantOutcome: OutcomeFailed, wantReason: `gate of phase "validate" is fail: 1 required step(s) failed: broken`,
			wantPhases: []PhaseStatus{PhasePassed, PhaseAborted, PhaseWaiting}},
		{name: "unconfirmed manual step aborts", pilot: Autopilot{Operator: "ci"},
			wantOutcome: OutcomeFailed, wantReason: "manual step(s) notify need a confirmation",
			wantPhases: []PhaseStatus{PhaseAborted, PhaseWaiting, PhaseWaiting}},
		{name: "override recorded, run warned", pilot: Autopilot{Operator: "ci", Confirm: map[string]string{"notify": "done"},
			Override: map[string]string{"broken": "502 expected until the CDN switch"}},
			wantOutcome: OutcomeWarned, wantPhases: []PhaseStatus{PhasePassed, PhaseWarned, PhasePassed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb := mustParse(t, runnerRunbook(srv.URL))
			clock := &fakeClock{t: time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC), step: 100 * time.Millisecond}
			path := filepath.Join(t.TempDir(), "j.jsonl")
			j, err := CreateJournal(path, Header{Runbook: rb.Metadata.Name, Digest: rb.Digest}, clock.Now(), nil)
			if err != nil {
				t.Fatal(err)
			}
			r := &Runner{Journal: j, Operator: "ci", Now: clock.Now, TickEvery: time.Millisecond, Autopilot: &tt.pilot}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			final, err := r.Run(ctx, NewState(rb), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			j.Close()
			if !final.Finished() {
				t.Fatalf("run did not finish: %v", ctx.Err())
			}
			if final.Outcome != tt.wantOutcome || !strings.Contains(final.Reason, tt.wantReason) {
				t.Errorf("outcome %s %q, want %s %q", final.Outcome, final.Reason, tt.wantOutcome, tt.wantReason)
			}
			for i, want := range tt.wantPhases {
				if got := final.Phases[i].Status; got != want {
					t.Errorf("phase %s = %s, want %s", final.Phases[i].ID, got, want)
				}
			}

			// The journal alone rebuilds the same verdicts.
			replayed := replayJournal(t, rb, path)
			if replayed.Outcome != final.Outcome {
				t.Errorf("replayed outcome %s, live %s", replayed.Outcome, final.Outcome)
			}
			for i := range final.Phases {
				for k := range final.Phases[i].Steps {
					if a, b := replayed.Phases[i].Steps[k].Status, final.Phases[i].Steps[k].Status; a != b {
						t.Errorf("step %s: replayed %s, live %s", final.Phases[i].Steps[k].ID, a, b)
					}
				}
			}
		})
	}
}

// A probe that hangs is cut off by its step timeout and fails; the others
// are not held up.
func TestRunnerProbeTimeout(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(hang.Close)
	srv := gravlServer(t)
	rb := mustParse(t, fmt.Sprintf(`
apiVersion: cockpit/v1
kind: Runbook
metadata: {name: timeout-test}
phases:
- id: preflight
  steps:
  - id: stuck
    timeout: 100ms
    probe: {kind: http, url: "%s/"}
  - id: health
    probe: {kind: http, url: "%s/health"}
`, hang.URL, srv.URL))
	r := &Runner{Operator: "ci", TickEvery: time.Millisecond, Autopilot: &Autopilot{Operator: "ci"}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	final, err := r.Run(ctx, NewState(rb), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	stuck, health := final.Phases[0].Steps[0], final.Phases[0].Steps[1]
	if stuck.Status != StepFailed || stuck.Last.Status != probes.StatusError || !strings.Contains(stuck.Last.Message, "timed out after 100ms") {
		t.Errorf("stuck = %s, last %s %q", stuck.Status, stuck.Last.Status, stuck.Last.Message)
	}
	if health.Status != StepPassed {
		t.Errorf("health = %s, want passed", health.Status)
	}
}

// A step's cluster: picks the kubeconfig context of its Kubernetes probes
// unless the probe names one itself.
func TestRunnerStepCluster(t *testing.T) {
	rb := mustParse(t, `apiVersion: cockpit/v1
kind: Runbook
metadata: {name: clusters}
clusters:
  prod: {context: gravl-prod}
phases:
- id: preflight
  steps:
  - id: policies
    cluster: prod
    probe: {kind: k8s.exists, resource: networkpolicies.networking.k8s.io, names: [default-deny]}
  - id: own-context
    cluster: prod
    probe: {kind: k8s.exists, context: staging, resource: networkpolicies.networking.k8s.io, names: [default-deny]}
`)
	var mu sync.Mutex
	var asked []string
	env := probes.Env{Kube: func(name string) (*probes.Cluster, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, name)
		return nil, fmt.Errorf("no cluster %q here", name)
	}}
	r := &Runner{Env: env, Operator: "ci", TickEvery: time.Millisecond, Autopilot: &Autopilot{Operator: "ci"}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := r.Run(ctx, NewState(rb), nil, nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	got := strings.Join(asked, ",")
	if !strings.Contains(got, "gravl-prod") || !strings.Contains(got, "staging") {
		t.Errorf("contexts asked for: %q, want gravl-prod (from the step's cluster) and staging (the probe's own)", got)
	}
}

// journalEvents reads and verifies the journal at path.
func journalEvents(t *testing.T, path string) []At {
	t.Helper()
	rr, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	events, err := rr.Events()
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// replayJournal rebuilds a run's state from its journal alone.
func replayJournal(t *testing.T, rb *Runbook, path string) State {
	t.Helper()
	events := journalEvents(t, path)
	s := NewState(rb)
	for _, at := range events {
		s, _ = Apply(s, at)
	}
	return s
}

// A step's cluster: also gives its probes their default namespace, on a
// view sharing the context's informers.
func TestStepEnvNamespace(t *testing.T) {
	rb := mustParse(t, `apiVersion: cockpit/v1
kind: Runbook
metadata: {name: clusters}
clusters:
  prod: {context: gravl-prod, namespace: gravl-prod}
phases:
- id: preflight
  steps:
  - id: a
    cluster: prod
    probe: {kind: k8s.exists, resource: networkpolicies.networking.k8s.io, names: [default-deny]}
  - id: b
    probe: {kind: k8s.exists, resource: networkpolicies.networking.k8s.io, names: [default-deny]}
`)
	clusters := map[string]*probes.Cluster{}
	env := probes.Env{Kube: func(name string) (*probes.Cluster, error) {
		if clusters[name] == nil {
			clusters[name] = probes.NewCluster(probes.ClusterOptions{Name: name, Typed: kubefake.NewClientset()})
		}
		return clusters[name], nil
	}}
	tests := []struct {
		step, context, wantNS string
	}{
		{"a", "", "gravl-prod"},     // the cluster's context and namespace
		{"a", "staging", "default"}, // a probe's own context: not the cluster's namespace
		{"b", "", "default"},        // no cluster: the kubeconfig's
	}
	for _, tt := range tests {
		pi, si, _ := NewState(rb).Find(tt.step)
		c, err := stepEnv(rb, &rb.Phases[pi].Steps[si], env).Kube(tt.context)
		if err != nil {
			t.Fatal(err)
		}
		if c.Namespace() != tt.wantNS {
			t.Errorf("step %s, context %q: namespace %q, want %q", tt.step, tt.context, c.Namespace(), tt.wantNS)
		}
	}
	if c := clusters["gravl-prod"]; c.Namespace() != "default" {
		t.Errorf("the view changed the shared cluster's namespace to %q", c.Namespace())
	}
}
