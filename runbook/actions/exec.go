package actions

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cockpit-dev/cockpit/probes"
)

// Exec defaults.
const (
	// DefaultExecTimeout bounds a command when the runbook names no
	// timeout.
	DefaultExecTimeout = 5 * time.Minute
	// ExecKillGrace is how long a command has to end after SIGTERM (on
	// timeout or cancellation) before its process group is killed.
	ExecKillGrace = 5 * time.Second
)

// ExecSpec configures an "exec" action: one local command, run directly
// (no shell, unless Command[0] is one).
//
//	action: {kind: exec, command: [gcloud, dns, record-sets, update, api.gravl.app, --zone=gravl, --type=A, --rrdatas=34.1.2.3],
//	         env: {CLOUDSDK_AUTH_ACCESS_TOKEN: "${env:GCLOUD_TOKEN}"}, timeout: 2m}
//	action: {kind: exec, command: [sh, -c, "./scripts/flip-dns.sh && ./scripts/verify.sh"], dir: ops}
//
// The command inherits cockpit's environment, with Env added over it.
// It runs in a process group of its own: on timeout or cancellation the
// whole group gets SIGTERM, then SIGKILL after ExecKillGrace, and nothing
// it started outlives the step. Stdin is empty; stdout and stderr are
// captured together, keeping the last OutputLimit bytes. It passes when
// the exit code is ExpectExitCode.
//
// Env values are secrets to the journal (write them as ${env:…}): plans
// and results name the variables, never their values. Pass secrets there,
// not in Command, which plans and results show. What the command itself
// prints is its own business: a command that prints a secret puts it in
// the output (the journal still redacts ${env:…} values).
type ExecSpec struct {
	// Command is the argv (required): the program, found in $PATH (the
	// PATH Env sets, when it sets one) unless it has a slash (then
	// relative to Dir), and its arguments.
	Command []string `json:"command" yaml:"command"`
	// Dir is the working directory, relative to the runbook's directory
	// (default: the runbook's directory).
	Dir string `json:"dir,omitempty" yaml:"dir,omitempty"`
	// Env is set in the command's environment, over cockpit's.
	Env map[string]string `json:"env,omitempty" yaml:"env,omitempty"`
	// Timeout bounds the command (default 5m).
	Timeout probes.Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	// ExpectExitCode is the exit code that passes (default 0).
	ExpectExitCode int `json:"expectExitCode,omitempty" yaml:"expectExitCode,omitempty"`
}

var _ Spec = (*ExecSpec)(nil)

// Validate implements Spec.
func (s *ExecSpec) Validate() error {
	var errs []error
	switch {
	case len(s.Command) == 0:
		errs = append(errs, specFieldErr("command", "required: the argv to run, like [gcloud, dns, record-sets, list]; a shell only if you name one: [sh, -c, \"…\"]"))
	case strings.TrimSpace(s.Command[0]) == "":
		errs = append(errs, specFieldErr("command[0]", "the program must not be empty"))
	}
	for i, a := range s.Command {
		if strings.ContainsRune(a, 0) {
			errs = append(errs, specFieldErr(fmt.Sprintf("command[%d]", i), "must not contain a NUL byte"))
		}
	}
	if strings.ContainsRune(s.Dir, 0) {
		errs = append(errs, specFieldErr("dir", "must not contain a NUL byte"))
	}
	for _, k := range slices.Sorted(maps.Keys(s.Env)) {
		switch {
		case k == "" || strings.ContainsAny(k, "=\x00"):
			errs = append(errs, specFieldErr("env", "%q is not a variable name (empty, or with = or NUL)", k))
		case strings.ContainsRune(s.Env[k], 0):
			// The value is a secret: name the variable only.
			errs = append(errs, specFieldErr("env."+k, "the value must not contain a NUL byte"))
		}
	}
	if s.Timeout < 0 {
		errs = append(errs, specFieldErr("timeout", "must not be negative, got %s", time.Duration(s.Timeout)))
	}
	if s.ExpectExitCode < 0 || s.ExpectExitCode > 255 {
		errs = append(errs, specFieldErr("expectExitCode", "want 0 to 255, got %d", s.ExpectExitCode))
	}
	return errors.Join(errs...)
}

// Mutating implements Spec: a command may change anything, so it runs
// only on confirmation.
func (s *ExecSpec) Mutating() bool { return true }

// Describe implements Spec.
func (s *ExecSpec) Describe() string {
	d := "run " + shellJoin(s.Command)
	if s.Dir != "" {
		d += " in " + s.Dir
	}
	if len(s.Env) > 0 {
		d += " with " + strings.Join(slices.Sorted(maps.Keys(s.Env)), ", ") + " set"
	}
	return d
}

// Permissions implements Spec: a local command needs no Kubernetes
// permission of cockpit's.
func (s *ExecSpec) Permissions() []probes.Permission { return nil }

// Build implements Spec.
func (s *ExecSpec) Build(env Env) (Action, error) {
	dir := env.Dir
	switch {
	case s.Dir == "":
	case filepath.IsAbs(s.Dir):
		dir = s.Dir
	default:
		dir = filepath.Join(env.Dir, s.Dir)
	}
	if dir == "" {
		dir = "."
	}
	return &execAction{
		argv:    slices.Clone(s.Command),
		dir:     dir,
		env:     maps.Clone(s.Env),
		timeout: s.Timeout.Or(DefaultExecTimeout),
		expect:  s.ExpectExitCode,
		grace:   ExecKillGrace,
		now:     env.Clock(),
	}, nil
}

type execAction struct {
	argv    []string
	dir     string
	env     map[string]string
	timeout time.Duration
	expect  int
	grace   time.Duration // SIGTERM to SIGKILL
	now     func() time.Time
}

var _ Action = (*execAction)(nil)

// envNames lists the names of the variables set, never their values.
func (a *execAction) envNames() string {
	if len(a.env) == 0 {
		return "none"
	}
	return strings.Join(slices.Sorted(maps.Keys(a.env)), ", ")
}

// resolve finds the program: in $PATH for a bare name (the PATH the
// spec's env sets, when it sets one), else relative to the working
// directory. It checks the working directory too. shown is what a result
// may say of where it was found: the path, but for one found through the
// env's PATH, whose value is the env's and so never shown.
func (a *execAction) resolve() (path, shown string, err error) {
	fi, err := os.Stat(a.dir)
	switch {
	case err != nil:
		return "", "", fmt.Errorf("working directory: %w", err)
	case !fi.IsDir():
		return "", "", fmt.Errorf("working directory %s is not a directory", a.dir)
	}
	prog := a.argv[0]
	if !strings.Contains(prog, "/") {
		pathList, own := a.env["PATH"]
		if !own {
			path, err = exec.LookPath(prog)
			if err != nil {
				return "", "", fmt.Errorf("program %q: %w", prog, err)
			}
			return path, path, nil
		}
		path, err = lookPathIn(prog, pathList, a.dir)
		if err != nil {
			return "", "", fmt.Errorf("program %q, looked up in the PATH the step's env sets: %w", prog, err)
		}
		return path, prog + " (found in the PATH the step's env sets)", nil
	}
	path = prog
	if !filepath.IsAbs(path) {
		path = filepath.Join(a.dir, path)
	}
	// Absolute: a relative path with no directory part would be looked up
	// in $PATH by os/exec.
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if err := checkExecutable(path); err != nil {
		return "", "", err
	}
	return path, path, nil
}

// checkExecutable checks that path is an executable file.
func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("program %s: %w", path, err)
	case fi.IsDir():
		return fmt.Errorf("program %s is a directory", path)
	case fi.Mode()&0o111 == 0:
		return fmt.Errorf("program %s: %w (not executable)", path, fs.ErrPermission)
	}
	return nil
}

// lookPathIn finds prog (a name without a slash) in pathList, a PATH
// value, as exec.LookPath does in the process's $PATH: the first
// executable regular file of that name in the list's directories. A
// relative entry (an empty one is ".") is relative to dir, the command's
// working directory; like exec.LookPath, it refuses a match found through
// one (exec.ErrDot): write ./prog, or make the entry absolute. Its errors
// never show the list (an env value).
func lookPathIn(prog, pathList, dir string) (string, error) {
	for _, entry := range filepath.SplitList(pathList) {
		if entry == "" {
			entry = "."
		}
		path := filepath.Join(entry, prog)
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		if fi, err := os.Stat(path); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			continue
		}
		if !filepath.IsAbs(entry) {
			return "", &exec.Error{Name: prog, Err: fmt.Errorf("found through a relative PATH entry: %w", exec.ErrDot)}
		}
		return path, nil
	}
	return "", &exec.Error{Name: prog, Err: exec.ErrNotFound}
}

// Plan implements Action: what would run, where, with which variables
// (names only). Nothing is run; the program and directory are looked up.
func (a *execAction) Plan(_ context.Context) Result {
	start := a.now()
	res := Result{}
	res.Message = fmt.Sprintf("working directory %s; environment: cockpit's, with %s set (values hidden); timeout %s; expect exit code %d",
		a.dir, a.envNames(), ShortDuration(a.timeout), a.expect)
	_, shown, err := a.resolve()
	if err != nil {
		res.Status, res.Summary = probes.StatusError, "cannot run "+shellJoin(a.argv)
		res.Message = err.Error() + "; " + res.Message
		return stampResult(res, start, a.now)
	}
	res.Status, res.Changes = probes.StatusPass, 1
	res.Summary = "would run " + shellJoin(a.argv)
	res.Items = []probes.Item{
		{Name: "command", Status: probes.StatusPass, Summary: shellJoin(a.argv), Message: "program " + shown},
		{Name: "dir", Status: probes.StatusPass, Summary: a.dir},
		{Name: "env", Status: probes.StatusPass, Summary: a.envNames(), Message: "values hidden"},
	}
	return stampResult(res, start, a.now)
}

// Execute implements Action: run the command and judge its exit code.
func (a *execAction) Execute(ctx context.Context, _ func(Result)) Result {
	start := a.now()
	path, _, err := a.resolve()
	if err != nil {
		return stampResult(Result{Result: probes.Result{Status: probes.StatusError, Summary: "cannot run " + shellJoin(a.argv), Message: err.Error()}}, start, a.now)
	}
	out := &tailBuffer{}
	run := runGroup(ctx, path, a.argv, a.dir, a.environ(), a.timeout, a.grace, out)
	res := Result{Output: out.String()}
	cmd := shellJoin(a.argv)
	switch {
	case run.startErr != nil:
		res.Status, res.Summary, res.Message = probes.StatusError, "cannot run "+cmd, run.startErr.Error()
		return stampResult(res, start, a.now)
	case run.timedOut:
		res.Status = probes.StatusFail
		res.Summary = "timed out after " + ShortDuration(a.timeout)
		res.Message = fmt.Sprintf("%s timed out after %s: its process group was killed", cmd, ShortDuration(a.timeout))
	case run.interrupted:
		res.Status = probes.StatusError
		res.Summary = "interrupted"
		res.Message = fmt.Sprintf("%s interrupted (%v): its process group was killed", cmd, context.Cause(ctx))
	}
	exit := probes.Item{Name: "exit code", Status: probes.StatusFail}
	switch {
	case run.exitCode >= 0:
		res.Values = map[string]float64{"exit_code": float64(run.exitCode)}
		exit.Summary = fmt.Sprintf("%d (want %d)", run.exitCode, a.expect)
		if run.exitCode == a.expect {
			exit.Status = probes.StatusPass
		}
	default:
		exit.Summary = fmt.Sprintf("none: killed by %s (want %d)", run.signal, a.expect)
		exit.Reason = "Signaled"
	}
	if res.Status == probes.StatusPending { // not decided above: it ended by itself
		switch {
		case run.exitCode == a.expect:
			res.Status = probes.StatusPass
			res.Summary = fmt.Sprintf("%s exited %d", cmd, run.exitCode)
		case run.exitCode >= 0:
			res.Status = probes.StatusFail
			res.Summary = fmt.Sprintf("%s exited %d, want %d", cmd, run.exitCode, a.expect)
			res.Message = fmt.Sprintf("exit code %d, want %d%s", run.exitCode, a.expect, lastLineNote(res.Output))
		default:
			res.Status = probes.StatusFail
			res.Summary = fmt.Sprintf("%s killed by %s", cmd, run.signal)
			res.Message = fmt.Sprintf("killed by %s, want exit code %d%s", run.signal, a.expect, lastLineNote(res.Output))
		}
	}
	if run.waitErr != nil {
		res.Message = joinNotes(res.Message, run.waitErr.Error())
	}
	res.Items = []probes.Item{exit}
	return stampResult(res, start, a.now)
}

// lastLineNote is "; last line: …" of output, if it has one.
func lastLineNote(out string) string {
	out = strings.TrimRight(out, "\n\r\t ")
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	if out = probes.FirstLine(out); out == "" {
		return ""
	}
	return "; last line: " + out
}

// environ is cockpit's environment with the spec's variables over it.
func (a *execAction) environ() []string {
	env := os.Environ()
	out := make([]string, 0, len(env)+len(a.env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, over := a.env[k]; !over {
			out = append(out, kv)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(a.env)) {
		out = append(out, k+"="+a.env[k])
	}
	return out
}

// groupRun is how a command run in its own process group ended.
type groupRun struct {
	startErr    error
	exitCode    int    // -1 when killed by a signal
	signal      string // the signal, when exitCode is -1
	timedOut    bool   // the timeout ended it
	interrupted bool   // ctx ended it
	waitErr     error  // an I/O problem after it ended (output held open)
}

// runGroup runs argv (path resolved) in a new process group, writing
// stdout and stderr to out. On timeout or when ctx ends, the group gets
// SIGTERM and, grace later, SIGKILL; when the command has ended, whatever
// is left of its group is killed.
func runGroup(ctx context.Context, path string, argv []string, dir string, env []string, timeout, grace time.Duration, out *tailBuffer) groupRun {
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(tctx, path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdin = nil // /dev/null
	cmd.Stdout, cmd.Stderr = out, out
	// A session of its own (and so a process group led by it, which the
	// kill signals): no controlling terminal, so a command that would
	// prompt on /dev/tty (a password, a re-login) fails at once instead
	// of stopping, unseen, until the timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	done := make(chan struct{})
	var killer sync.WaitGroup
	cancelled := false // set by Cancel, which Wait waits for
	cmd.Cancel = func() error {
		cancelled = true
		pgid := cmd.Process.Pid
		err := syscall.Kill(-pgid, syscall.SIGTERM)
		killer.Add(1)
		go func() {
			defer killer.Done()
			t := time.NewTimer(grace)
			defer t.Stop()
			select {
			case <-done:
			case <-t.C:
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			}
		}()
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
	// After SIGTERM, the grace and a little more; after the command's end,
	// how long its output may be held open by what it left running.
	cmd.WaitDelay = grace + time.Second

	if err := cmd.Start(); err != nil {
		return groupRun{startErr: err, exitCode: -1}
	}
	pgid := cmd.Process.Pid
	err := cmd.Wait()
	close(done)
	killer.Wait()
	// Nothing the command started outlives it.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)

	run := groupRun{exitCode: -1}
	if cancelled { // a command that ended by itself first is judged by its exit
		run.interrupted = ctx.Err() != nil
		run.timedOut = !run.interrupted
	}
	if ps := cmd.ProcessState; ps != nil {
		run.exitCode = ps.ExitCode()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			run.signal = ws.Signal().String()
		}
	}
	var ee *exec.ExitError
	switch {
	case err == nil, errors.As(err, &ee):
	case errors.Is(err, exec.ErrWaitDelay):
		run.waitErr = errors.New("its output was still held open by processes it started, which were killed")
	default:
		run.waitErr = fmt.Errorf("wait: %w", err)
	}
	return run
}

// tailBuffer is an io.Writer keeping the last OutputLimit bytes written
// (in at most 2×OutputLimit of memory), safe for concurrent writes.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	cut int64
}

// Write implements io.Writer; it never fails.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	if b.buf == nil {
		b.buf = make([]byte, 0, 2*OutputLimit)
	}
	if len(p) > OutputLimit {
		b.cut += int64(len(b.buf) + len(p) - OutputLimit)
		b.buf = append(b.buf[:0], p[len(p)-OutputLimit:]...)
		return n, nil
	}
	if len(b.buf)+len(p) > cap(b.buf) {
		drop := len(b.buf) + len(p) - OutputLimit
		b.cut += int64(drop)
		b.buf = append(b.buf[:0], b.buf[drop:]...)
	}
	b.buf = append(b.buf, p...)
	return n, nil
}

// String is the kept tail, marked with how much was cut as TailOutput
// marks it.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	buf, cut := b.buf, b.cut
	if len(buf) > OutputLimit {
		cut += int64(len(buf) - OutputLimit)
		buf = buf[len(buf)-OutputLimit:]
	}
	if cut == 0 {
		return string(buf)
	}
	return fmt.Sprintf("[… %d bytes cut …]\n%s", cut, buf)
}

// ShortDuration writes d as a runbook would: 5m, 2h, 1h30m, 1.5s (not
// 5m0s, 2h0m0s).
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
