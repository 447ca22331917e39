package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/cockpit-dev/cockpit/examples"
	"github.com/cockpit-dev/cockpit/internal/sandbox"
	"github.com/cockpit-dev/cockpit/runbook"
)

// `cockpit demo` serves the sandbox on loopback until interrupted, then
// exits 0. The test reads the banner as it is written (no sleeps), uses the
// printed HTTP endpoint, then cancels the command's context as SIGINT would.
func TestDemoServesUntilInterrupted(t *testing.T) {
	noKubeconfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		code := runContext(ctx, []string{"demo", "--seed", "3"}, strings.NewReader(""), pw, &errb)
		_ = pw.Close()
		done <- code
	}()

	httpLine := regexp.MustCompile(`^\s+http\s+(http://127\.0\.0\.1:\d+)\s`)
	var base string
	var banner strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		banner.WriteString(line + "\n")
		if m := httpLine.FindStringSubmatch(line); m != nil {
			base = m[1]
		}
		if strings.HasPrefix(line, "The simulated cluster") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if base == "" {
		t.Fatalf("no http endpoint in the banner:\n%s", banner.String())
	}
	for _, want := range []string{"https://127.0.0.1:", "dns ", "dig @127.0.0.1", "simulated cluster"} {
		if !strings.Contains(banner.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, banner.String())
		}
	}

	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(base + "/health")
	if err != nil {
		t.Fatalf("GET /health: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /health: %s, want 200", resp.Status)
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit code %d after interrupt, want 0; stderr:\n%s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30s of the interrupt")
	}
	if _, err := client.Get(base + "/health"); err == nil {
		t.Error("the sandbox still serves after the demo stopped")
	}
}

func TestDemoRefusesNonLoopbackHost(t *testing.T) {
	noKubeconfig(t)
	for _, host := range []string{"0.0.0.0", "10.1.2.3", "gravl.app", ""} {
		code, _, stderr := cockpit(t, "demo", "--host", host)
		if code != exitInvalid || !strings.Contains(stderr, "loopback") {
			t.Errorf("demo --host %q: exit %d, stderr %q; want exit 2 naming loopback", host, code, stderr)
		}
	}
}

// The cockpit opened headless (teatest) on the demo runbook against the
// sandbox shows the seed's failing ClusterIssuer, overrides it with a
// reason, and journals the override.
func TestDemoCockpitShowsFailingIssuer(t *testing.T) {
	noKubeconfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	rig, err := newDemoRig(sb, filepath.Join(t.TempDir(), "demo.journal.jsonl"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rig.close()
	ss := rig.session()
	ss.operator = "tester"
	lr, err := ss.prepare()
	if err != nil {
		t.Fatal(err)
	}
	tm := teatest.NewTestModel(t, lr.model, teatest.WithInitialTermSize(200, 60))
	lr.start(ctx, tm.Send)
	// WaitFor consumes what it reads: one condition per stretch of output.
	has := func(all ...string) func([]byte) bool {
		return func(b []byte) bool {
			for _, s := range all {
				if !bytes.Contains(b, []byte(s)) {
					return false
				}
			}
			return true
		}
	}
	teatest.WaitFor(t, tm.Output(), has("simulated cluster", "internal-ca-issuer: Ready=False"), teatest.WithDuration(30*time.Second))

	tm.Send(tea.KeyPressMsg{Code: 'j', Text: "j"}) // cluster-issuers, the second step
	tm.Send(tea.KeyPressMsg{Code: 'o', Text: "o"})
	teatest.WaitFor(t, tm.Output(), has("Override cluster-issuers"), teatest.WithDuration(10*time.Second))
	tm.Type("CA secret restored after the window")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	teatest.WaitFor(t, tm.Output(), has("overridden by tester"), teatest.WithDuration(10*time.Second))

	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
	final, err := lr.stop()
	if err != nil {
		t.Fatalf("stop the run: %v", err)
	}
	if _, si, _ := final.Find("cluster-issuers"); final.Phases[0].Steps[si].Status != runbook.StepOverridden {
		t.Errorf("cluster-issuers is %s, want overridden", final.Phases[0].Steps[si].Status)
	}
	journal, err := os.ReadFile(rig.journal)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(journal, []byte("CA secret restored after the window")) {
		t.Error("the override's reason is not in the journal")
	}
}

// The embedded demo runbook is valid with the sandbox's addresses.
func TestDemoRunbookValid(t *testing.T) {
	if _, err := runbook.Parse("examples/demo.yaml", examples.Demo, runbook.Options{}); err != nil {
		t.Fatal(err)
	}
}
