package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
)

// tmux runs a tmux command on the test's own server socket.
type tmux struct {
	t      *testing.T
	socket string
}

func (x tmux) run(args ...string) string {
	x.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", x.socket}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitScreen polls the pane until it shows one of want (or the deadline
// passes).
func (x tmux) waitScreen(want ...string) string {
	x.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var screen string
	for time.Now().Before(deadline) {
		screen = x.run("capture-pane", "-p", "-t", "demo")
		for _, w := range want {
			if strings.Contains(screen, w) {
				return screen
			}
		}
		time.Sleep(50 * time.Millisecond) // polling the screen: the condition is what we wait for
	}
	x.t.Fatalf("the screen never showed %q; last screen:\n%s", want, screen)
	return ""
}

// keys sends keys to the pane (tmux key names: j, Enter, Escape).
func (x tmux) keys(keys ...string) {
	x.t.Helper()
	x.run(append([]string{"send-keys", "-t", "demo"}, keys...)...)
}

// text types text literally.
func (x tmux) text(s string) {
	x.t.Helper()
	x.run("send-keys", "-t", "demo", "-l", s)
}

// The cockpit in a real terminal: `cockpit demo --allow-actions` in a
// detached tmux session at 120×40, driven by keys and read back from the
// screen and the journal. Preflight: select the failing issuer, override
// it with a reason, confirm the notification, advance. Deploy: confirm the
// change ticket; open the release's dry-run diff with d (the image
// change); press the sandbox's 4 so the new version crashes; confirm the
// apply from the diff viewer; watch the rollout fail and offer its undo;
// undo with a reason and see the Deployment rolled back.
//
// The fault key is pressed before the confirmation, not during the
// rollout: the simulated rollout completes a few seconds after the apply,
// and a key racing it would make the test's outcome depend on the
// machine's speed.
func TestDemoInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if controlplane.Required() {
			t.Fatalf("tmux is needed for the real-terminal test (make test installs it): %v", err)
		}
		t.Skip("tmux not installed (apt-get install tmux); make test installs it")
	}
	dir := t.TempDir()
	journal := filepath.Join(dir, "demo.journal.jsonl")
	argv, _ := json.Marshal([]string{"demo", "--journal", journal, "--operator", "lead", "--allow-actions"})
	x := tmux{t: t, socket: fmt.Sprintf("cockpit-test-%d", os.Getpid())}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", x.socket, "kill-server").Run() })
	script := filepath.Join(dir, "run.sh")
	body := fmt.Sprintf("#!/bin/sh\nexport COCKPIT_CHILD_ARGS='%s' HOME='%s' KUBECONFIG= TERM=xterm-256color\nexec '%s' 2>'%s'\n",
		argv, dir, os.Args[0], filepath.Join(dir, "stderr"))
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	x.run("new-session", "-d", "-s", "demo", "-x", "120", "-y", "40", script)

	x.waitScreen("cluster-issuers")
	x.waitScreen("ACTIONS ENABLED")
	x.waitScreen("gate ✗ fail")
	x.keys("j", "o")
	x.waitScreen("Reason:")
	x.text("internal CA unused by gravl")
	x.keys("Enter")
	screen := x.waitScreen("⚑")
	if !strings.Contains(screen, "cluster-issuers") {
		t.Errorf("the overridden step is not on screen:\n%s", screen)
	}
	// notify, the manual step, is the last of preflight's seven.
	x.keys("j", "j", "j", "j", "j", "c")
	x.waitScreen("Confirm notify")
	x.keys("Enter")
	x.waitScreen("gate ! warn 0 warned, 1 overridden")
	x.keys("a")
	if screen := x.waitScreen("roll gravl 1.9.0 out", "Advance preflight"); strings.Contains(screen, "Advance preflight") {
		x.keys("Enter") // the dialog over a gate with overrides
		x.waitScreen("roll gravl 1.9.0 out")
	}

	// Deploy: the change ticket (a note is required), then the release.
	x.keys("c")
	x.waitScreen("Confirm change-approved")
	x.text("CHG-1042")
	x.keys("Enter")
	x.waitScreen("2 objects: 2 configured")
	x.keys("j", "d")
	x.waitScreen("+      - image: ghcr.io/gravl-app/backend:1.9.0")
	x.waitScreen("-      - image: ghcr.io/gravl-app/backend:1.8.2")
	x.keys("d") // closes the viewer (esc would reach the terminal as alt+ with the next key)
	x.waitScreen("╭─ deploy · roll gravl 1.9.0 out")
	x.keys("4")
	x.waitScreen("bad release ON")
	x.keys("d")
	x.waitScreen("+      - image: ghcr.io/gravl-app/backend:1.9.0")
	x.keys("c")
	x.waitScreen("Confirm action release")
	x.keys("Enter")
	x.waitScreen("rolled out")
	x.waitScreen("✗ ◇ rollout")
	x.keys("j") // the rollout step: its detail says why it failed and offers the undo
	screen = x.waitScreen("u undoes the rollout to revision 1")
	for _, want := range []string{"CrashLoopBackOff"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the failed rollout's detail lacks %q:\n%s", want, screen)
		}
	}
	x.keys("u")
	x.waitScreen("Undo rollout of rollout to revision 1?")
	x.text("1.9.0 crash-loops; back to 1.8.2")
	x.keys("Enter")
	x.waitScreen("rolled back from revision 2 to revision 1")
	x.keys("q")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if exec.Command("tmux", "-L", x.socket, "has-session", "-t", "demo").Run() != nil {
			break // the cockpit quit and the session closed
		}
		time.Sleep(50 * time.Millisecond)
	}
	data, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"type":"override"`, "internal CA unused by gravl", "CHG-1042",
		"1.9.0 crash-loops; back to 1.8.2", "rolled back from revision 2 to revision 1", "1.9.0 → ghcr.io/gravl-app/"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the journal lacks %q:\n%s", want, data)
		}
	}
}
