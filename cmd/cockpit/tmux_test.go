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

// waitScreen polls the pane until it shows want (or the deadline passes).
func (x tmux) waitScreen(want string) string {
	x.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var screen string
	for time.Now().Before(deadline) {
		screen = x.run("capture-pane", "-p", "-t", "demo")
		if strings.Contains(screen, want) {
			return screen
		}
		time.Sleep(50 * time.Millisecond) // polling the screen: the condition is what we wait for
	}
	x.t.Fatalf("the screen never showed %q; last screen:\n%s", want, screen)
	return ""
}

// The cockpit in a real terminal: `cockpit demo` in a detached tmux session
// at 120×40, driven by keys — select the failing issuer, override it with a
// reason — and read back from the screen and the journal.
func TestDemoInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if controlplane.Required() {
			t.Fatalf("tmux is needed for the real-terminal test (make test installs it): %v", err)
		}
		t.Skip("tmux not installed (apt-get install tmux); make test installs it")
	}
	dir := t.TempDir()
	journal := filepath.Join(dir, "demo.journal.jsonl")
	argv, _ := json.Marshal([]string{"demo", "--journal", journal, "--operator", "lead"})
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
	x.waitScreen("gate ✗ fail")
	x.run("send-keys", "-t", "demo", "j")
	x.run("send-keys", "-t", "demo", "o")
	x.waitScreen("Reason:")
	x.run("send-keys", "-t", "demo", "-l", "internal CA unused by gravl")
	x.run("send-keys", "-t", "demo", "Enter")
	screen := x.waitScreen("⚑")
	if !strings.Contains(screen, "cluster-issuers") {
		t.Errorf("the overridden step is not on screen:\n%s", screen)
	}
	x.run("send-keys", "-t", "demo", "q")
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
	if !strings.Contains(string(data), `"type":"override"`) || !strings.Contains(string(data), "internal CA unused by gravl") {
		t.Errorf("the override is not in the journal:\n%s", data)
	}
}
