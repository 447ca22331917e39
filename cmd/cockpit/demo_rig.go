package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/cockpit-dev/cockpit/examples"
	"github.com/cockpit-dev/cockpit/internal/sandbox"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/tui"
)

// demoRig is the demo's wiring around a running sandbox: the runbook with
// the sandbox's addresses filled in, a probes cluster over the simulated
// cluster's clients, the fault keys and the temporary directory holding
// the sandbox CA, the runbook with the manifests its actions apply, and the
// journal.
type demoRig struct {
	sb      *sandbox.Sandbox
	dir     string
	journal string
	rb      *runbook.Runbook
	cluster *probes.Cluster
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
	// The runbook and its manifests are written out: its actions read
	// files relative to it, and the operator may read them too.
	if err := writeDemoFiles(dir); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	rb, err := runbook.Parse(filepath.Join(dir, "demo.yaml"), examples.Demo, runbook.Options{Vars: all})
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

// writeDemoFiles writes demo.yaml and the files under examples/demo/
// into dir.
func writeDemoFiles(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "demo.yaml"), examples.Demo, 0o600); err != nil {
		return fmt.Errorf("write the demo runbook: %w", err)
	}
	return fs.WalkDir(examples.DemoFiles, "demo", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, path), 0o700)
		}
		b, err := examples.DemoFiles.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, path), b, 0o600); err != nil {
			return fmt.Errorf("write the demo's %s: %w", path, err)
		}
		return nil
	})
}

// session is the demo's cockpit session.
func (r *demoRig) session() session {
	return session{
		rb:       r.rb,
		env:      probes.Env{Kube: func(string) (*probes.Cluster, error) { return r.cluster, nil }},
		journal:  r.journal,
		cluster:  r.sb.Cluster.Name(),
		operator: operatorFlag(""),
		faults:   demoFaults{f: r.sb.Faults, cluster: r.sb.Cluster},
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
type demoFaults struct {
	f       *sandbox.Faults
	cluster *sandbox.SimulatedCluster
}

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
	return d.describe(), nil
}

func (d demoFaults) ToggleErrors() (string, error) {
	rate := demoErrorRate
	if d.f.Snapshot().ErrorRate > 0 {
		rate = 0
	}
	if err := d.f.SetErrorRate(rate); err != nil {
		return "", fmt.Errorf("error rate: %w", err)
	}
	return d.describe(), nil
}

func (d demoFaults) ToggleStall() (string, error) {
	d.f.SetStall(!d.f.Snapshot().Stalled)
	return d.describe(), nil
}

// ToggleBadRelease switches the simulated cluster's bad-release fault:
// a new version's pods crash-loop and its rollout fails.
func (d demoFaults) ToggleBadRelease() (string, error) {
	d.cluster.SetBadRelease(!d.cluster.BadRelease())
	return d.describe(), nil
}

func (d demoFaults) Reset() (string, error) {
	d.f.Reset()
	d.cluster.SetBadRelease(false)
	return d.describe(), nil
}

// describe is the faults in force: the backend's, and the bad release.
func (d demoFaults) describe() string {
	release := "off"
	if d.cluster.BadRelease() {
		release = "ON (a new version crash-loops)"
	}
	return d.f.Snapshot().String() + " · bad release " + release
}
