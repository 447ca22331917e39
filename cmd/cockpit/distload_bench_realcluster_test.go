package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/internal/realcluster"
	"github.com/cockpit-dev/cockpit/loader/report"
)

// procCPU is a process's user+system CPU time so far, from /proc/PID/stat
// (utime and stime, in clock ticks of 10 ms: USER_HZ is 100 on Linux).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu of %d: %w", pid, err)
	}
	// The command (field 2) is in parentheses and may hold spaces: the
	// fields counted from after its closing one; utime is field 14.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("cpu of %d: /proc/%d/stat has %d fields after the command", pid, pid, len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu of %d: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// scaleRun is one `cockpit load --workers N` run measured from outside.
type scaleRun struct {
	doc report.Document
	// cpu and wall are the coordinator process's CPU and the wall time
	// from the shared start to the summary: following the logs, merging,
	// the thresholds and the progress, not the creation nor the cleanup.
	cpu, wall time.Duration
}

// runScaled runs the cockpit binary bin with args and measures it.
func runScaled(t *testing.T, ctx context.Context, bin string, args ...string) scaleRun {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	errp, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var r scaleRun
	var cpu0 time.Duration
	var t0 time.Time
	var stderr strings.Builder
	sc := bufio.NewScanner(errp)
	for sc.Scan() {
		line := sc.Text()
		stderr.WriteString(line + "\n")
		switch {
		case strings.Contains(line, "every worker Running: the test starts at"):
			cpu0, err = procCPU(cmd.Process.Pid)
			t0 = time.Now()
		case strings.HasPrefix(line, "workers: ") && r.wall == 0 && !t0.IsZero():
			var cpu1 time.Duration
			cpu1, err = procCPU(cmd.Process.Pid)
			r.cpu, r.wall = cpu1-cpu0, time.Since(t0)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("cockpit %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	if r.wall == 0 {
		t.Fatalf("no start or summary in\n%s", stderr.String())
	}
	if err := json.Unmarshal(out.Bytes(), &r.doc); err != nil {
		t.Fatalf("JSON summary: %v\n%s", err, out.String())
	}
	return r
}

// TestDistributedLoadScaling is the benchmark of README's "delivered req/s
// vs N on the rig" (bench/distload.sh runs it): `cockpit load --workers N`
// for N = 1, 2, 3 at a fixed total rate and at a closed model's full speed
// against the reference target, the coordinator run as its own process
// (the binary of the workers' image) so that its CPU is its own. Only with
// COCKPIT_DISTLOAD_BENCH=1: it takes minutes.
func TestDistributedLoadScaling(t *testing.T) {
	if os.Getenv("COCKPIT_DISTLOAD_BENCH") == "" {
		t.Skip("COCKPIT_DISTLOAD_BENCH=1 runs it (bench/distload.sh)")
	}
	c := realcluster.Start(t)
	ns := c.Namespace(t)
	image, bin := workerImageAndBinary(t, c)
	deployGravl(t, c, ns)
	url := fmt.Sprintf("http://gravl.%s.svc.cluster.local:8080/", ns)
	secs, _ := strconv.Atoi(os.Getenv("DURATION"))
	if secs <= 0 {
		secs = 15
	}
	rate, vus := 300, 12
	base := []string{"load", "--kubeconfig", c.Kubeconfig, "-n", ns, "--image", image, "--image-pull-policy", "Never",
		"--duration", fmt.Sprintf("%ds", secs), "--allow-actions", "--yes", "--output", "json"}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	table := []string{
		"| model | N | delivered req/s | per worker | p50 | p99 | coordinator CPU | per worker |",
		"|---|---:|---:|---:|---:|---:|---:|---:|",
	}
	for _, model := range []struct {
		name string
		args []string
	}{
		{fmt.Sprintf("--rate %d", rate), []string{"--rate", fmt.Sprint(rate)}},
		{fmt.Sprintf("--vus %d", vus), []string{"--vus", fmt.Sprint(vus)}},
	} {
		for n := 1; n <= 3; n++ {
			args := append(append(append([]string{}, base...), model.args...), "--workers", fmt.Sprint(n), url)
			r := runScaled(t, ctx, bin, args...)
			rps := float64(r.doc.Requests) / float64(secs)
			core := 100 * r.cpu.Seconds() / r.wall.Seconds()
			table = append(table, fmt.Sprintf("| %s | %d | %.0f | %.0f | %.2f ms | %.2f ms | %.2f %% of a core (%s in %s) | %.2f %% |",
				model.name, n, rps, rps/float64(n), r.doc.Latency.Med, r.doc.Latency.P99, core,
				r.cpu.Round(10*time.Millisecond), r.wall.Round(100*time.Millisecond), core/float64(n)))
			if r.doc.Requests == 0 {
				t.Errorf("%s, %d workers: no requests", model.name, n)
			}
			if strings.HasPrefix(model.name, "--rate") {
				if want := float64(rate * secs); float64(r.doc.Requests) < want*0.98 {
					t.Errorf("%s, %d workers: %d requests, want %v − 2 %%", model.name, n, r.doc.Requests, want)
				}
			}
		}
	}
	t.Logf("%ds each, the coordinator's CPU from /proc (user+sys) from the shared start to the summary:\n%s", secs, strings.Join(table, "\n"))
}
