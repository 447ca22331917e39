package promtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/internal/toolcache"
)

// The versions hack/promtest/go.mod pins (a test keeps them in step).
const (
	PrometheusVersion   = "v0.316.0"
	AlertmanagerVersion = "v0.35.0"
)

// BuildCommand builds the binaries and prints their directory.
const BuildCommand = "hack/promtest/build.sh"

// StartTimeout bounds how long a server may take to become ready.
const StartTimeout = 60 * time.Second

// BinDir returns the directory holding prometheus and alertmanager:
// $COCKPIT_PROMTEST_BIN when set, else the cache directory build.sh fills.
func BinDir() string {
	return toolcache.Dir("COCKPIT_PROMTEST_BIN", "COCKPIT_PROMTEST_CACHE", "promtest",
		fmt.Sprintf("prometheus-%s-alertmanager-%s-r%d-%s-%s", PrometheusVersion, AlertmanagerVersion, recipe, runtime.GOOS, runtime.GOARCH))
}

// recipe is hack/promtest/build.sh's recipe number, part of the cache key.
const recipe = 2

// Required reports whether missing binaries must fail the test rather than
// skip it.
func Required() bool { return toolcache.Required("COCKPIT_PROMTEST_BIN") }

// binary returns the path of the named server binary, skipping or failing
// t when it is missing.
func binary(t testing.TB, name string) string {
	t.Helper()
	path := filepath.Join(BinDir(), name)
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("promtest: %s not found in %s (set COCKPIT_PROMTEST_BIN)", name, BinDir())
		if !Required() {
			t.Skipf("%s\n\tbuild it with: COCKPIT_PROMTEST_BIN=$(%s) go test ..., or run the whole suite with 'make test'", msg, BuildCommand)
		}
		t.Fatalf("%s\n\tbuild it with %s", msg, BuildCommand)
	}
	return path
}

// Prometheus is a running Prometheus server.
type Prometheus struct {
	// URL is the server's base URL, http://127.0.0.1:PORT.
	URL string
	// Dir holds its configuration, rule files and storage.
	Dir string
}

// PrometheusOptions configure a Prometheus server.
type PrometheusOptions struct {
	// Targets are host:port addresses scraped (path /metrics) as job "test".
	Targets []string
	// Interval is the scrape and rule evaluation interval; default 1s.
	Interval time.Duration
	// Rules is the content of one rule file (groups: ...), if any.
	Rules string
	// Alertmanagers are host:port addresses alerts are sent to.
	Alertmanagers []string
}

// StartPrometheus starts Prometheus on a free loopback port and waits until
// it is ready. It stops with the test.
func StartPrometheus(t testing.TB, opts PrometheusOptions) *Prometheus {
	t.Helper()
	bin := binary(t, "prometheus")
	if err := CheckLoopback(slices.Concat(opts.Targets, opts.Alertmanagers)...); err != nil {
		t.Fatalf("promtest: tests only talk to loopback: %v", err)
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	dir := t.TempDir()
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\n",
		opts.Interval, opts.Interval, opts.Interval)
	if opts.Rules != "" {
		rules := filepath.Join(dir, "rules.yml")
		writeFile(t, rules, opts.Rules)
		fmt.Fprintf(&cfg, "rule_files: [%s]\n", strconv.Quote(rules))
	}
	if len(opts.Alertmanagers) > 0 {
		fmt.Fprintf(&cfg, "alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: [%s]\n", quoteAll(opts.Alertmanagers))
	}
	if len(opts.Targets) > 0 {
		fmt.Fprintf(&cfg, "scrape_configs:\n- job_name: test\n  static_configs:\n  - targets: [%s]\n", quoteAll(opts.Targets))
	}
	cfgFile := filepath.Join(dir, "prometheus.yml")
	writeFile(t, cfgFile, cfg.String())
	addr := start(t, "prometheus", func(addr string) []string {
		return []string{bin,
			"--config.file=" + cfgFile,
			"--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr,
			"--log.level=warn",
			// Apply discovered targets at once, not after the default 5 s
			// throttle (a hidden flag, stable since Prometheus 2.x).
			"--scrape.discovery-reload-interval=100ms",
			// Resend firing alerts every interval, not every minute: an
			// alert evaluated before the Alertmanager set is synced is
			// dropped, and the test should not wait a minute for the next.
			"--rules.alert.resend-delay=" + opts.Interval.String(),
		}
	})
	return &Prometheus{URL: "http://" + addr, Dir: dir}
}

// Alertmanager is a running Alertmanager.
type Alertmanager struct {
	// URL is the server's base URL, http://127.0.0.1:PORT.
	URL string
	// Addr is its host:port, for Prometheus' alerting configuration.
	Addr string
}

// alertmanagerConfig routes every alert to a receiver that sends nothing.
const alertmanagerConfig = `route:
  receiver: blackhole
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
- name: blackhole
`

// StartAlertmanager starts Alertmanager on a free loopback port, cluster
// gossip disabled, and waits until it is ready. It stops with the test.
func StartAlertmanager(t testing.TB) *Alertmanager {
	t.Helper()
	bin := binary(t, "alertmanager")
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "alertmanager.yml")
	writeFile(t, cfgFile, alertmanagerConfig)
	addr := start(t, "alertmanager", func(addr string) []string {
		return []string{bin,
			"--config.file=" + cfgFile,
			"--storage.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr,
			"--cluster.listen-address=",
			"--log.level=warn",
		}
	})
	return &Alertmanager{URL: "http://" + addr, Addr: addr}
}

// start runs a server on a free loopback port until it answers /-/ready,
// retrying with a new port when the chosen one was taken meanwhile.
func start(t testing.TB, name string, args func(addr string) []string) string {
	t.Helper()
	var lastErr error
	for range 3 {
		addr, err := freeAddr()
		if err != nil {
			t.Fatalf("promtest: %v", err)
		}
		proc, err := launch(t, name, args(addr))
		if err != nil {
			t.Fatalf("promtest: %v", err)
		}
		err = waitReady(t.Context(), "http://"+addr+"/-/ready", proc)
		if err == nil {
			return addr
		}
		lastErr = err
		proc.stop()
		if !strings.Contains(proc.output(), "address already in use") {
			break
		}
	}
	t.Fatalf("promtest: %s: %v", name, lastErr)
	return ""
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// process is a started server and its combined output.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
	err  error         // its exit, valid after done

	mu  sync.Mutex
	out bytes.Buffer
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// launch starts the command; it is stopped (and its output logged when
// the test failed) at cleanup.
func launch(t testing.TB, name string, argv []string) (*process, error) {
	p := &process{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("promtest: %s output:\n%s", name, p.output())
		}
	})
	return p, nil
}

// stop interrupts the server and waits for it, killing it after 10 s.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitReady polls url until it answers 200, the process exits or
// StartTimeout passes.
func waitReady(ctx context.Context, url string, p *process) error {
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited before ready (%v):\n%s", p.err, p.output())
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s:\n%s", StartTimeout, p.output())
		case <-tick.C:
		}
	}
}

// Eventually polls cond every 50 ms until it returns true, failing t after
// timeout with the last description cond gave of what it saw.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("promtest: %s: not within %s; last saw: %s", what, timeout, saw)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("promtest: %s: %v", what, t.Context().Err())
		case <-tick.C:
		}
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("promtest: %v", err)
	}
}

func quoteAll(addrs []string) string {
	q := make([]string, len(addrs))
	for i, a := range addrs {
		q[i] = strconv.Quote(a)
	}
	return strings.Join(q, ", ")
}

// errNotLoopback guards the package's promise: tests only talk to loopback.
var errNotLoopback = errors.New("not a loopback address")

// CheckLoopback returns an error unless every host:port is on loopback.
func CheckLoopback(addrs ...string) error {
	for _, a := range addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return fmt.Errorf("%q: %w", a, err)
		}
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("%q: %w", a, errNotLoopback)
		}
	}
	return nil
}
