package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cockpit-dev/cockpit/examples"
	"github.com/cockpit-dev/cockpit/internal/sandbox"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/tui"
)

// demoRolloutNamespace and demoRolloutDeployments are what the demo's
// "CI" rolls out once the change is approved.
const demoRolloutNamespace = "gravl-staging"

var demoRolloutDeployments = []string{"backend", "frontend"}

// demoRig is the demo's wiring around a running sandbox: the runbook with
// the sandbox's addresses filled in, a probes cluster over the simulated
// cluster's clients, the fault keys and the temporary directory holding
// the sandbox CA and the journal.
type demoRig struct {
	sb      *sandbox.Sandbox
	dir     string
	journal string
	rb      *runbook.Runbook
	cluster *probes.Cluster
	once    sync.Once
}

func newDemoRig(sb *sandbox.Sandbox, journal string, vars map[string]string) (*demoRig, error) {
	dir, err := os.MkdirTemp("", "cockpit-demo-")
	if err != nil {
		return nil, fmt.Errorf("demo directory: %w", err)
	}
	ca := filepath.Join(dir, "sandbox-ca.pem")
	if err := os.WriteFile(ca, sb.CAPEM, 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("write the sandbox CA: %w", err)
	}
	all := map[string]string{
		"apiURL":    sb.HTTPURL,
		"httpsURL":  sb.HTTPSURL,
		"caCert":    ca,
		"dnsServer": sb.DNSAddr,
	}
	for k, v := range vars { // --var: the windows' lengths, say
		all[k] = v
	}
	rb, err := runbook.Parse("examples/demo.yaml", examples.Demo, runbook.Options{Vars: all})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, invalidInput(fmt.Errorf("the embedded demo runbook: %w", err))
	}
	if journal == "" {
		journal = filepath.Join(dir, "gravl-go-live.journal.jsonl")
	}
	cluster := probes.NewCluster(probes.ClusterOptions{
		Name:    sb.Cluster.Name(),
		Typed:   sb.Cluster.Typed,
		Dynamic: sb.Cluster.Dynamic,
	})
	return &demoRig{sb: sb, dir: dir, journal: journal, rb: rb, cluster: cluster}, nil
}

// session is the demo's cockpit session.
func (r *demoRig) session() session {
	return session{
		rb:       r.rb,
		env:      probes.Env{Kube: func(string) (*probes.Cluster, error) { return r.cluster, nil }},
		journal:  r.journal,
		cluster:  r.sb.Cluster.Name(),
		operator: operatorFlag(""),
		faults:   demoFaults{f: r.sb.Faults},
		glue:     r.glue,
	}
}

// glue starts the simulated rollout when the change is approved, as the
// CI of a real go-live would.
func (r *demoRig) glue(_ runbook.State, at runbook.At, effects []runbook.Effect) {
	c, ok := at.Event.(runbook.Confirmed)
	if !ok || c.Step != "change-approved" {
		return
	}
	for _, eff := range effects {
		if _, refused := eff.(runbook.Refused); refused {
			return
		}
	}
	r.once.Do(func() { go r.rollout() })
}

// rollout changes the pod templates of the demo deployments; the sandbox's
// simulated controllers roll them out over a few seconds.
func (r *demoRig) rollout() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	deps := r.sb.Cluster.Typed.AppsV1().Deployments(demoRolloutNamespace)
	for _, name := range demoRolloutDeployments {
		d, err := deps.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			continue // the rollout probe reports what it sees
		}
		if d.Spec.Template.Annotations == nil {
			d.Spec.Template.Annotations = map[string]string{}
		}
		d.Spec.Template.Annotations["cockpit.dev/demo-release"] = "v2"
		_, _ = deps.Update(ctx, d, metav1.UpdateOptions{})
	}
}

// close stops the probes' informers and removes the temporary directory
// unless the journal lives in it (the journal is the record of the run).
func (r *demoRig) close() {
	r.cluster.Close()
	if filepath.Dir(r.journal) != r.dir {
		_ = os.RemoveAll(r.dir)
	}
}

// demoFaults are the sandbox keys: each toggles a fault and describes the
// faults in force.
type demoFaults struct{ f *sandbox.Faults }

var _ tui.Faults = demoFaults{}

// Injected fault levels: slow enough to breach the demo's 250ms latency
// bound, errors often enough to breach its checks.
const (
	demoSlowMedian = 300 * time.Millisecond
	demoSlowP99    = 1500 * time.Millisecond
	demoErrorRate  = 0.3
)

func (d demoFaults) ToggleLatency() (string, error) {
	st := d.f.Snapshot()
	median, p99 := demoSlowMedian, demoSlowP99
	if st.LatencyMedian == demoSlowMedian {
		median, p99 = sandbox.DefaultLatencyMedian, sandbox.DefaultLatencyP99
	}
	if err := d.f.SetLatency(median, p99); err != nil {
		return "", fmt.Errorf("latency: %w", err)
	}
	return d.f.Snapshot().String(), nil
}

func (d demoFaults) ToggleErrors() (string, error) {
	rate := demoErrorRate
	if d.f.Snapshot().ErrorRate > 0 {
		rate = 0
	}
	if err := d.f.SetErrorRate(rate); err != nil {
		return "", fmt.Errorf("error rate: %w", err)
	}
	return d.f.Snapshot().String(), nil
}

func (d demoFaults) ToggleStall() (string, error) {
	d.f.SetStall(!d.f.Snapshot().Stalled)
	return d.f.Snapshot().String(), nil
}

func (d demoFaults) Reset() (string, error) {
	d.f.Reset()
	return d.f.Snapshot().String(), nil
}
