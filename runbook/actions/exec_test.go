package actions

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/probes"
)

// execBuild validates spec and builds it with the runbook directory dir.
func execBuild(t *testing.T, dir string, spec *ExecSpec) *execAction {
	t.Helper()
	if err := spec.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	a, err := spec.Build(Env{Dir: dir})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return a.(*execAction)
}

// execJSON is the result as the journal would write it.
func execJSON(t *testing.T, res Result) string {
	t.Helper()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExecSpecValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		spec ExecSpec
		want []string // fields with errors; none: valid
	}{
		{"ok", ExecSpec{Command: []string{"true"}}, nil},
		{"full", ExecSpec{Command: []string{"sh", "-c", "exit 3"}, Dir: "ops", Env: map[string]string{"TOKEN": "x"}, Timeout: probes.Duration(time.Minute), ExpectExitCode: 3}, nil},
		{"no command", ExecSpec{}, []string{"command"}},
		{"empty program", ExecSpec{Command: []string{" ", "x"}}, []string{"command[0]"}},
		{"nul in arg", ExecSpec{Command: []string{"echo", "a\x00b"}}, []string{"command[1]"}},
		{"bad env name", ExecSpec{Command: []string{"true"}, Env: map[string]string{"A=B": "x", "": "y"}}, []string{"env", "env"}},
		{"nul in env value", ExecSpec{Command: []string{"true"}, Env: map[string]string{"K": "se\x00cret"}}, []string{"env.K"}},
		{"negative timeout", ExecSpec{Command: []string{"true"}, Timeout: -1}, []string{"timeout"}},
		{"exit code range", ExecSpec{Command: []string{"true"}, ExpectExitCode: 256}, []string{"expectExitCode"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			got := specErrFields(t, err)
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("fields = %v, want %v (%v)", got, tt.want, err)
			}
			if err != nil && strings.Contains(err.Error(), "cret") {
				t.Errorf("an env value leaked into the error: %v", err)
			}
		})
	}
}

// specErrFields lists the Field of each *probes.FieldError joined in err.
func specErrFields(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var out []string
	for _, e := range errs {
		var fe *probes.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v is not a *probes.FieldError", e)
		}
		out = append(out, fe.Field)
	}
	return out
}

func TestExecDescribeAndKind(t *testing.T) {
	d, err := Lookup("exec")
	if err != nil {
		t.Fatal(err)
	}
	spec := d.NewSpec().(*ExecSpec)
	spec.Command, spec.Dir, spec.Env = []string{"gcloud", "dns", "record-sets", "list", "--filter=name ~ api"}, "ops", map[string]string{"TOKEN": "s3cr3t", "A": "b"}
	if got, want := spec.Describe(), "run gcloud dns record-sets list '--filter=name ~ api' in ops with A, TOKEN set"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
	if !spec.Mutating() || spec.Permissions() != nil {
		t.Errorf("mutating %v, permissions %v", spec.Mutating(), spec.Permissions())
	}
}

// The plan shows the argv, the directory and the variables' names, never
// their values, and runs nothing.
func TestExecPlan(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "ops"), 0o755); err != nil {
		t.Fatal(err)
	}
	a := execBuild(t, dir, &ExecSpec{Command: []string{"sh", "-c", "touch ran"}, Dir: "ops", Env: map[string]string{"API_TOKEN": "s3cr3t-value"}})
	plan := a.Plan(context.Background())
	if plan.Status != probes.StatusPass || plan.Changes != 1 || plan.Summary != "would run sh -c 'touch ran'" {
		t.Errorf("plan = %s %q, changes %d", plan.Status, plan.Summary, plan.Changes)
	}
	js := execJSON(t, plan)
	for _, want := range []string{filepath.Join(dir, "ops"), "API_TOKEN", "timeout 5m", "expect exit code 0"} {
		if !strings.Contains(js, want) {
			t.Errorf("the plan lacks %q: %s", want, js)
		}
	}
	if strings.Contains(js, "s3cr3t") {
		t.Errorf("the plan shows an env value: %s", js)
	}
	if _, err := os.Stat(filepath.Join(dir, "ops", "ran")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the plan ran the command (stat: %v)", err)
	}

	for _, tt := range []struct {
		name string
		spec ExecSpec
		want string
	}{
		{"no such program", ExecSpec{Command: []string{"cockpit-no-such-program"}}, `program "cockpit-no-such-program"`},
		{"no such script", ExecSpec{Command: []string{"./nope.sh"}}, "nope.sh: no such file"},
		{"no such dir", ExecSpec{Command: []string{"true"}, Dir: "missing"}, "working directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			plan := execBuild(t, dir, &tt.spec).Plan(context.Background())
			if plan.Status != probes.StatusError || plan.Changes != 0 || !strings.Contains(plan.Message, tt.want) {
				t.Errorf("plan = %s %q %q, changes %d; want error with %q", plan.Status, plan.Summary, plan.Message, plan.Changes, tt.want)
			}
		})
	}
}

// The exit code decides; stdout and stderr are captured together; the
// env reaches the command and its values stay out of the result.
func TestExecExitCode(t *testing.T) {
	dir := t.TempDir()
	script := `echo out; echo err >&2; test "${#API_TOKEN}" = 12 || echo "token missing"; exit 3`
	for _, tt := range []struct {
		expect  int
		status  probes.Status
		summary string
	}{
		{3, probes.StatusPass, "sh -c '" + script + "' exited 3"},
		{0, probes.StatusFail, "sh -c '" + script + "' exited 3, want 0"},
	} {
		a := execBuild(t, dir, &ExecSpec{Command: []string{"sh", "-c", script}, Env: map[string]string{"API_TOKEN": "s3cr3t-value"}, ExpectExitCode: tt.expect})
		res := a.Execute(context.Background(), nil)
		if res.Status != tt.status || res.Summary != tt.summary {
			t.Errorf("expect %d: %s %q, want %s %q (%s)", tt.expect, res.Status, res.Summary, tt.status, tt.summary, res.Message)
		}
		if res.Output != "out\nerr\n" {
			t.Errorf("output = %q", res.Output)
		}
		if res.Values["exit_code"] != 3 || len(res.Items) != 1 || res.Items[0].Summary != "3 (want "+strconv.Itoa(tt.expect)+")" || res.Items[0].Status != tt.status {
			t.Errorf("values %v, items %+v", res.Values, res.Items)
		}
		if tt.status == probes.StatusFail && res.Message != "exit code 3, want 0; last line: err" {
			t.Errorf("message = %q", res.Message)
		}
		if js := execJSON(t, res); strings.Contains(js, "s3cr3t") {
			t.Errorf("the result shows an env value: %s", js)
		}
	}

	// The working directory is the runbook's, or dir under it.
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for sub, want := range map[string]string{"": dir, "sub": filepath.Join(dir, "sub")} {
		res := execBuild(t, dir, &ExecSpec{Command: []string{"pwd"}, Dir: sub}).Execute(context.Background(), nil)
		if res.Status != probes.StatusPass || strings.TrimSpace(res.Output) != want {
			t.Errorf("dir %q: %s, pwd %q, want %q", sub, res.Status, res.Output, want)
		}
	}

	// A program that cannot start is an error, not a failed exit.
	if err := os.WriteFile(filepath.Join(dir, "noexec.sh"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := execBuild(t, dir, &ExecSpec{Command: []string{"./noexec.sh"}}).Execute(context.Background(), nil)
	if res.Status != probes.StatusError || !strings.Contains(res.Message, "not executable") {
		t.Errorf("not executable: %s %q", res.Status, res.Message)
	}
}

// pidsIn reads the pids a test command wrote to file.
func pidsIn(t *testing.T, file string) []int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// alive reports whether pid is a running process (a zombie is dead: it
// waits only for its reaper).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// awaitDead waits until every pid has died.
func awaitDead(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var living []int
		for _, pid := range pids {
			if alive(pid) {
				living = append(living, pid)
			}
		}
		if len(living) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes %v still alive", living)
		}
		<-tick.C
	}
}

// On timeout the command and the child it started die — also when they
// ignore SIGTERM (then SIGKILL after the grace) — and the step fails
// saying so, with the output so far.
func TestExecTimeoutKillsGroup(t *testing.T) {
	for _, tt := range []struct {
		name, trap string
	}{
		{"SIGTERM", ""},
		{"SIGTERM ignored", `trap "" TERM; `},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			// The child holds the output pipe open and sleeps; the shell
			// waits for it. Both write their pids first.
			script := tt.trap + `sleep 60 & echo $! >> pids; echo $$ >> pids; echo started; wait`
			a := execBuild(t, dir, &ExecSpec{Command: []string{"sh", "-c", script}, Timeout: probes.Duration(300 * time.Millisecond)})
			a.grace = 200 * time.Millisecond
			start := time.Now()
			res := a.Execute(context.Background(), nil)
			took := time.Since(start)
			if res.Status != probes.StatusFail || res.Summary != "timed out after 300ms" || !strings.Contains(res.Message, "process group was killed") {
				t.Errorf("= %s %q %q", res.Status, res.Summary, res.Message)
			}
			if res.Output != "started\n" {
				t.Errorf("output = %q", res.Output)
			}
			if _, ok := res.Values["exit_code"]; ok || len(res.Items) != 1 || res.Items[0].Status != probes.StatusFail || res.Items[0].Reason != "Signaled" {
				t.Errorf("values %v, items %+v", res.Values, res.Items)
			}
			if took > 5*time.Second {
				t.Errorf("took %s", took)
			}
			pids := pidsIn(t, filepath.Join(dir, "pids"))
			if len(pids) != 2 {
				t.Fatalf("pids %v", pids)
			}
			awaitDead(t, pids)
		})
	}
}

// Cancelling the step's context kills the group too, and says it was
// interrupted, not timed out.
func TestExecCancelKillsGroup(t *testing.T) {
	dir := t.TempDir()
	a := execBuild(t, dir, &ExecSpec{Command: []string{"sh", "-c", `sleep 60 & echo $! >> pids; echo $$ >> pids; echo started; wait`}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan Result, 1)
	go func() { done <- a.Execute(ctx, nil) }()
	// Wait for both pids, then cancel.
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if data, _ := os.ReadFile(filepath.Join(dir, "pids")); len(strings.Fields(string(data))) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the command did not start")
		}
		<-tick.C
	}
	cancel()
	res := <-done
	if res.Status != probes.StatusError || res.Summary != "interrupted" || !strings.Contains(res.Message, "context canceled") {
		t.Errorf("= %s %q %q", res.Status, res.Summary, res.Message)
	}
	awaitDead(t, pidsIn(t, filepath.Join(dir, "pids")))
}

// A command that ends leaving a background process behind: the process is
// killed with the step.
func TestExecLeftoversKilled(t *testing.T) {
	dir := t.TempDir()
	a := execBuild(t, dir, &ExecSpec{Command: []string{"sh", "-c", `sleep 60 >/dev/null 2>&1 & echo $! > pids; echo done`}})
	res := a.Execute(context.Background(), nil)
	if res.Status != probes.StatusPass || res.Output != "done\n" {
		t.Errorf("= %s %q %q", res.Status, res.Summary, res.Output)
	}
	awaitDead(t, pidsIn(t, filepath.Join(dir, "pids")))
}

// Output beyond OutputLimit keeps its tail, marked with what was cut.
func TestExecOutputBounded(t *testing.T) {
	const n = 3*OutputLimit + 123
	a := execBuild(t, t.TempDir(), &ExecSpec{Command: []string{"sh", "-c", "head -c " + strconv.Itoa(n) + " /dev/zero | tr '\\0' a; echo; echo END"}})
	res := a.Execute(context.Background(), nil)
	if res.Status != probes.StatusPass {
		t.Fatalf("= %s %q %q", res.Status, res.Summary, res.Message)
	}
	total := n + len("\nEND\n")
	wantHead := "[… " + strconv.Itoa(total-OutputLimit) + " bytes cut …]\n"
	if !strings.HasPrefix(res.Output, wantHead) || !strings.HasSuffix(res.Output, "aaa\nEND\n") || len(res.Output) != len(wantHead)+OutputLimit {
		t.Errorf("output: %d bytes, head %q, tail %q", len(res.Output), res.Output[:min(40, len(res.Output))], res.Output[max(0, len(res.Output)-10):])
	}
}

// The tail buffer keeps the same tail as TailOutput of everything,
// whatever the sizes of the writes.
func TestExecTailBuffer(t *testing.T) {
	var all strings.Builder
	b := &tailBuffer{}
	sizes := []int{10, OutputLimit - 5, 7, 2 * OutputLimit, 1, OutputLimit, 3, OutputLimit + 1, 100}
	for i, n := range sizes {
		chunk := strings.Repeat(string(rune('a'+i)), n)
		all.WriteString(chunk)
		if _, err := b.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
		if got, want := b.String(), TailOutput(all.String()); got != want {
			t.Fatalf("after write %d (%d bytes): got %d bytes %q…, want %d bytes %q…", i, n, len(got), got[:min(30, len(got))], len(want), want[:min(30, len(want))])
		}
		if cap(b.buf) > 2*OutputLimit {
			t.Fatalf("buffer grew to %d", cap(b.buf))
		}
	}
}

// A PATH the step's env sets is where a bare program name is looked up
// (cockpit's own PATH lacks it here), entry by entry, skipping what is not
// an executable file; a relative entry's match is refused as exec.LookPath
// refuses it; a name with a slash stays relative to dir. The PATH value,
// an env value, shows in no result.
func TestExecPathFromEnv(t *testing.T) {
	dir := t.TempDir()
	noexec, bin := filepath.Join(dir, "s3cr3t-noexec"), filepath.Join(dir, "s3cr3t-bin")
	for _, d := range []string{noexec, bin, filepath.Join(bin, "cockpit-env-dir")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(noexec, "cockpit-env-tool"), []byte("#!/bin/sh\necho wrong one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "cockpit-env-tool"), []byte("#!/bin/sh\necho \"tool ran: $1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	pathList := strings.Join([]string{filepath.Join(dir, "missing"), noexec, bin, "/usr/bin", "/bin"}, string(os.PathListSeparator))
	noSecret := func(what string, res Result) {
		t.Helper()
		if js := execJSON(t, res); strings.Contains(js, "s3cr3t") {
			t.Errorf("%s shows the env's PATH: %s", what, js)
		}
	}

	a := execBuild(t, dir, &ExecSpec{Command: []string{"cockpit-env-tool", "x"}, Env: map[string]string{"PATH": pathList}})
	plan := a.Plan(context.Background())
	if plan.Status != probes.StatusPass || len(plan.Items) != 3 || plan.Items[0].Message != "program cockpit-env-tool (found in the PATH the step's env sets)" {
		t.Errorf("plan = %s %q %q, items %+v", plan.Status, plan.Summary, plan.Message, plan.Items)
	}
	noSecret("the plan", plan)
	res := a.Execute(context.Background(), nil)
	if res.Status != probes.StatusPass || res.Output != "tool ran: x\n" {
		t.Errorf("execute = %s %q %q, output %q", res.Status, res.Summary, res.Message, res.Output)
	}
	noSecret("the result", res)

	for _, tt := range []struct {
		name string
		spec ExecSpec
		want string
	}{
		// cockpit's PATH has sh; the env's does not.
		{"not in the env's PATH", ExecSpec{Command: []string{"sh", "-c", "true"}, Env: map[string]string{"PATH": bin}},
			`program "sh", looked up in the PATH the step's env sets: exec: "sh": executable file not found in $PATH`},
		{"a directory is no program", ExecSpec{Command: []string{"cockpit-env-dir"}, Env: map[string]string{"PATH": bin}}, "executable file not found"},
		{"relative entry", ExecSpec{Command: []string{"cockpit-env-tool"}, Env: map[string]string{"PATH": "s3cr3t-bin"}},
			"found through a relative PATH entry: cannot run executable found relative to current directory"},
		{"empty entry is the working directory", ExecSpec{Command: []string{"cockpit-env-tool"}, Dir: filepath.Join(bin, "..", "s3cr3t-bin"), Env: map[string]string{"PATH": ":/usr/bin"}},
			"found through a relative PATH entry"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := execBuild(t, dir, &tt.spec)
			plan := a.Plan(context.Background())
			res := a.Execute(context.Background(), nil)
			for what, r := range map[string]Result{"plan": plan, "execute": res} {
				if r.Status != probes.StatusError || !strings.Contains(r.Message, tt.want) {
					t.Errorf("%s = %s %q %q, want error with %q", what, r.Status, r.Summary, r.Message, tt.want)
				}
				if tt.spec.Dir == "" { // else the working directory, shown, has the marker
					noSecret(what, r)
				}
			}
		})
	}

	// A name with a slash is relative to dir, whatever the env's PATH.
	res = execBuild(t, dir, &ExecSpec{Command: []string{"./s3cr3t-bin/cockpit-env-tool", "y"}, Env: map[string]string{"PATH": "/nonexistent"}}).Execute(context.Background(), nil)
	if res.Status != probes.StatusPass || res.Output != "tool ran: y\n" {
		t.Errorf("relative path = %s %q %q, output %q", res.Status, res.Summary, res.Message, res.Output)
	}
}

// A runbook directory given relatively: a program named with a slash is
// still the one under it, not one of that name in $PATH.
func TestExecRelativeDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "true"), []byte("#!/bin/sh\necho mine\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	res := execBuild(t, ".", &ExecSpec{Command: []string{"./true"}}).Execute(context.Background(), nil)
	if res.Status != probes.StatusPass || res.Output != "mine\n" {
		t.Errorf("= %s %q %q, output %q", res.Status, res.Summary, res.Message, res.Output)
	}
}
