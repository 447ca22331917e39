package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
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
