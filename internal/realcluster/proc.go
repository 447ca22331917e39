package realcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// proc is a component the rig started: its own child, in its own session,
// recorded in a pid file so a later run can stop it if this one crashes.
type proc struct {
	name    string
	bin     string   // what was started, with args: StartComponent starts it again
	args    []string //
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited and been reaped
	err     error         // its exit status, once done is closed
	stopped atomic.Bool   // set before the rig stops it: its exit is expected
}

// startProc starts bin with args, its output in logs/name.log under the
// state dir, and records "pid starttime" in pids/name.pid.
func startProc(state, name, bin string, args ...string) (*proc, error) {
	logPath := filepath.Join(state, "logs", name+".log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer lf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Dir = state
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, bin: bin, args: args, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	st, err := startTime(cmd.Process.Pid)
	if err != nil {
		st = "?"
	}
	pidFile := filepath.Join(state, "pids", name+".pid")
	if err := os.WriteFile(pidFile, []byte(fmt.Sprintf("%d %s\n", cmd.Process.Pid, st)), 0o644); err != nil {
		_ = p.stop(time.Second)
		return nil, fmt.Errorf("start %s: pid file: %w", name, err)
	}
	return p, nil
}

// exitErr describes an unexpected exit, with the end of the component's log
// (its own reason).
func (p *proc) exitErr() error {
	return fmt.Errorf("%s (pid %d) exited: %v; the end of %s:\n%s", p.name, p.cmd.Process.Pid, p.err, p.logPath, tail(p.logPath, 15))
}

// stop sends SIGTERM to the process by its PID, waits up to grace for it to
// exit, then sends SIGKILL and waits for it to be reaped.
func (p *proc) stop(grace time.Duration) error {
	p.stopped.Store(true)
	select {
	case <-p.done:
		return nil
	default:
	}
	pid := p.cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s: SIGTERM %d: %w", p.name, pid, err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop %s: SIGKILL %d: %w", p.name, pid, err)
	}
	t2 := time.NewTimer(10 * time.Second)
	defer t2.Stop()
	select {
	case <-p.done:
		return nil
	case <-t2.C:
		return fmt.Errorf("stop %s: pid %d still running 10s after SIGKILL", p.name, pid)
	}
}

// startTime is field 22 of /proc/pid/stat: when the process started, in
// clock ticks after boot. With the PID it names one process for good (a
// PID alone can be reused).
func startTime(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may contain spaces
	if i < 0 {
		return "", fmt.Errorf("/proc/%d/stat: no ')' in %q", pid, s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", fmt.Errorf("/proc/%d/stat: short: %q", pid, s)
	}
	return f[19], nil
}

// killPIDFile stops the process a crashed run recorded in a pid file, if it
// is still that process (same start time): SIGTERM, then SIGKILL after
// grace. It reports what it did, or "" when there was nothing to do.
func killPIDFile(path string, grace time.Duration) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return "", fmt.Errorf("pid file %s: %q", path, b)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		return "", fmt.Errorf("pid file %s: %w", path, err)
	}
	if st, err := startTime(pid); err != nil || st != f[1] {
		return "", nil // gone, or the PID now names another process
	}
	return fmt.Sprintf("stopped %s (pid %d)", strings.TrimSuffix(filepath.Base(path), ".pid"), pid), killPID(pid, grace)
}

// killPID sends SIGTERM to pid, and SIGKILL if it still runs after grace.
// It waits (polling /proc, the process is not its child) until it is gone.
func killPID(pid int, grace time.Duration) error {
	st, err := startTime(pid)
	if err != nil {
		return nil // already gone
	}
	alive := func() bool { s, err := startTime(pid); return err == nil && s == st && !zombie(pid) }
	sig := syscall.SIGTERM
	if grace == 0 {
		sig = syscall.SIGKILL
	}
	if err := syscall.Kill(pid, sig); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("kill %d: %w", pid, err)
	}
	if waitGone(alive, grace) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill -9 %d: %w", pid, err)
	}
	if waitGone(alive, 10*time.Second) {
		return nil
	}
	return fmt.Errorf("pid %d still running 10s after SIGKILL", pid)
}

// waitGone reports whether alive turned false within d (checked every
// 50 ms: the process is not the rig's child, so there is nothing to wait on).
func waitGone(alive func() bool, d time.Duration) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for alive() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// zombie reports whether pid has exited and waits for its parent to reap it.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && len(s) > i+2 && s[i+2] == 'Z'
}

// rigPIDs lists the processes that belong to the rig: those running one of
// the rig's binaries (a path under binDir: components, shims) and the pods'
// containers (in the kubelet's kubepods cgroups, or with their root under
// the state dir).
func rigPIDs(binDir, state string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || zombie(pid) {
			continue // a zombie holds nothing but its PID, until its parent (here: init) reaps it
		}
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		root, _ := os.Readlink(fmt.Sprintf("/proc/%d/root", pid))
		if under(exe, binDir) || under(root, state) || inKubepods(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// inKubepods reports whether pid is in a cgroup under the kubelet's
// kubepods (cgroupfs driver), in any hierarchy.
func inKubepods(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		// hierarchy-ID:controllers:path
		if f := strings.SplitN(l, ":", 3); len(f) == 3 && (f[2] == "/kubepods" || strings.HasPrefix(f[2], "/kubepods/")) {
			return true
		}
	}
	return false
}

// under reports whether path is dir or inside it.
func under(path, dir string) bool {
	path = strings.TrimSuffix(path, " (deleted)")
	return path != "" && dir != "" && (path == dir || strings.HasPrefix(path, dir+"/"))
}

// rssKiB is the resident set size of pid, from /proc/pid/status.
func rssKiB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
