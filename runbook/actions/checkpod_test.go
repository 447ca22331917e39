package actions

import (
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/cockpit-dev/cockpit/probes"
)

// cpodSpec is the seed's DNS test, run as the api workload would.
func cpodSpec() *CheckPodSpec {
	return &CheckPodSpec{Image: "busybox:1.37", Command: []string{"nslookup", "kubernetes.default.svc.cluster.local"},
		Labels: map[string]string{"app": "api", "tier": "backend"}}
}

// cpodCreated waits for the progress that announces the created pod and
// returns its name.
func cpodCreated(t *testing.T, run *roRun) string {
	t.Helper()
	res := run.waitProgress(t, "pod created", func(r Result) bool { return len(r.Objects) == 1 && r.Objects[0].Op == OpCreated })
	ref := res.Objects[0].Ref
	return ref[strings.LastIndex(ref, "/")+1:]
}

// cpodEnd writes the pod's end as the kubelet would: the phase and the
// check container's terminated state, msg its termination message.
func cpodEnd(t *testing.T, cs kubernetes.Interface, ns, name string, phase corev1.PodPhase, exit int32, msg string) {
	t.Helper()
	ctx := context.Background()
	reason := "Completed"
	if exit != 0 {
		reason = "Error"
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		p.Status.Phase = phase
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: checkPodContainer, Image: p.Spec.Containers[0].Image,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exit, Reason: reason, Message: msg, StartedAt: now, FinishedAt: now}}}}
		_, err = cs.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("pod status: %v", err)
	}
}

// cpodGone asserts the pod no longer exists.
func cpodGone(t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	if _, err := cs.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pod %s after the action: err %v, want NotFound", name, err)
	}
}

// record is a windowed check's termination message: runs of "exit
// first-start last-end attempts", in centiseconds.
func record(runs ...string) string {
	return checkPodRecordHeader + "\n" + strings.Join(runs, "\n") + "\n"
}

// The pod is created unprivileged with the spec's image, command and
// labels; the settled exit code of its attempts decides (or the exit code
// of its one run, with window 0); it is deleted afterwards. Logs need a
// kubelet, which envtest has not: the result says so and why, and the
// verdict still stands.
func TestCheckPodLifecycle(t *testing.T) {
	zero := probes.Duration(0)
	tests := []struct {
		name        string
		expect      int
		window      *probes.Duration
		phase       corev1.PodPhase
		exit        int32
		msg         string // the termination message
		wantStatus  probes.Status
		wantExit    string
		wantSummary string
		wantMessage string
	}{
		{name: "exit 0 passes", phase: corev1.PodSucceeded, exit: 0, msg: record("0 0 612 3"), wantStatus: probes.StatusPass, wantExit: "0 (want 0)",
			wantSummary: "exited 0 on every attempt from 0.0 s to 6.1 s (3 attempts)", wantMessage: "every attempt agreed: exit 0 from 0.0 s to 6.1 s (3 attempts)"},
		{name: "exit 1 fails", phase: corev1.PodFailed, exit: 1, msg: record("1 0 550 2"), wantStatus: probes.StatusFail, wantExit: "1 (want 0)",
			wantSummary: "exited 1 from 0.0 s on (2 attempts), want 0", wantMessage: "exit code 1, want 0 (Error)"},
		{name: "expected failure passes", expect: 1, phase: corev1.PodFailed, exit: 1, msg: record("1 0 550 2"), wantStatus: probes.StatusPass, wantExit: "1 (want 1)",
			wantSummary: "exited 1 on every attempt from 0.0 s to 5.5 s (2 attempts)"},
		// The race this design is for: the first attempt got through
		// before the policy engine programmed the pod's rules.
		{name: "allowed at start then blocked fails", phase: corev1.PodFailed, exit: 1, msg: record("0 0 4 1", "1 54 559 2"), wantStatus: probes.StatusFail, wantExit: "1 (want 0)",
			wantSummary: "exited 1 from 0.5 s on (2 attempts), want 0; earlier attempts differed (exit 0 at 0.0 s (1 attempt))",
			wantMessage: "the result changed during the window: exit 0 at 0.0 s (1 attempt), then exit 1 from 0.5 s to 5.6 s (2 attempts)"},
		{name: "never settles fails", phase: corev1.PodSucceeded, exit: 0, msg: record("0 0 4 1", "1 54 300 1", "0 350 1500 1"), wantStatus: probes.StatusFail, wantExit: "0 (want 0)",
			wantSummary: "did not settle: 3 attempts, the result changed 2 times", wantMessage: "no result held for two attempts in a row"},
		{name: "no record fails", phase: corev1.PodSucceeded, exit: 0, wantStatus: probes.StatusFail, wantExit: "0 (want 0)",
			wantSummary: "no record of the attempts (exit code 0)", wantMessage: "cannot tell whether the result settled"},
		{name: "no shell says window 0", phase: corev1.PodFailed, exit: 128, msg: `exec: "/bin/sh": stat /bin/sh: no such file or directory`, wantStatus: probes.StatusFail, wantExit: "128 (want 0)",
			wantMessage: "set window: 0 to run it once"},
		{name: "window 0 runs once", window: &zero, phase: corev1.PodSucceeded, exit: 0, wantStatus: probes.StatusPass, wantExit: "0 (want 0)",
			wantSummary: "exited 0 (Succeeded)", wantMessage: "run once, at the pod's start (window 0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp, ns, env := testEnv(t, t.TempDir())
			spec := cpodSpec()
			spec.ExpectExitCode = tt.expect
			spec.Window = tt.window
			run := roStart(context.Background(), roBuild(t, env, spec))
			name := cpodCreated(t, run)

			pod, err := cp.Typed.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkPodShape(t, pod, spec)
			// As the scheduler would: to a node (whose kubelet envtest has
			// not, so the logs cannot be read).
			if err := cp.Typed.CoreV1().Pods(ns).Bind(context.Background(), &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name},
				Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			cpodEnd(t, cp.Typed, ns, name, tt.phase, tt.exit, tt.msg)

			res := run.result(t)
			if res.Status != tt.wantStatus {
				t.Errorf("status = %s %q %q, want %s", res.Status, res.Summary, res.Message, tt.wantStatus)
			}
			if !strings.Contains(res.Summary, tt.wantSummary) || !strings.Contains(res.Message, tt.wantMessage) {
				t.Errorf("summary %q, message %q; want them to contain %q, %q", res.Summary, res.Message, tt.wantSummary, tt.wantMessage)
			}
			if len(res.Items) != 2 || res.Items[0].Summary != string(tt.phase) || res.Items[1].Summary != tt.wantExit {
				t.Errorf("items = %+v", res.Items)
			}
			if res.Values["exit_code"] != float64(tt.exit) {
				t.Errorf("values = %v", res.Values)
			}
			t.Logf("message: %s", res.Message)
			if !strings.Contains(res.Message, "logs unavailable: get pods/log "+name+" in namespace "+ns+": ") || res.Output != "" {
				t.Errorf("message %q, output %q: want the logs' unavailability and its reason", res.Message, res.Output)
			}
			if want := (Object{Ref: "Pod/" + ns + "/" + name, Op: OpDeleted}); len(res.Objects) != 1 || res.Objects[0] != want {
				t.Errorf("objects = %+v, want [%+v]", res.Objects, want)
			}
			cpodGone(t, cp.Typed, ns, name)
		})
	}
}

// checkPodShape checks the created pod against the spec and the safety
// settings every check pod has.
func checkPodShape(t *testing.T, pod *corev1.Pod, spec *CheckPodSpec) {
	t.Helper()
	if !strings.HasPrefix(pod.Name, "cockpit-check-") {
		t.Errorf("name = %s", pod.Name)
	}
	wantLabels := maps.Clone(spec.Labels)
	wantLabels["app.kubernetes.io/managed-by"] = "cockpit"
	if !maps.Equal(pod.Labels, wantLabels) {
		t.Errorf("labels = %v, want %v", pod.Labels, wantLabels)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("containers = %+v", pod.Spec.Containers)
	}
	c := pod.Spec.Containers[0]
	wantCommand := spec.Command
	if spec.window() > 0 {
		wantCommand = append([]string{"/bin/sh", "-c", checkPodLoop, "cockpit-check", strconv.FormatInt(spec.window().Milliseconds()/10, 10)}, spec.Command...)
	}
	if c.Image != spec.Image || !slices.Equal(c.Command, wantCommand) || len(c.Args) != 0 {
		t.Errorf("container = image %s, command %q, args %q", c.Image, c.Command, c.Args)
	}
	if g := pod.Spec.ReadinessGates; len(g) != 1 || g[0].ConditionType != checkPodNeverReady {
		t.Errorf("readiness gates %+v: the pod must never be a Service endpoint", g)
	}
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever || pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
		t.Errorf("restartPolicy %s, automount %v", pod.Spec.RestartPolicy, pod.Spec.AutomountServiceAccountToken)
	}
	sc := c.SecurityContext
	if sc == nil || sc.Privileged == nil || *sc.Privileged || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("security context = %+v", sc)
	}
	if psc := pod.Spec.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("pod security context = %+v", psc)
	}
	if c.Resources.Limits.Memory().IsZero() || c.Resources.Limits.Cpu().IsZero() {
		t.Errorf("limits = %v", c.Resources.Limits)
	}
}

// A pod that never ends fails at the timeout, saying where it was stuck,
// and is deleted all the same.
func TestCheckPodTimeout(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	spec := cpodSpec()
	spec.Timeout = probes.Duration(time.Second)
	spec.Window = ptr.To(probes.Duration(0))
	run := roStart(context.Background(), roBuild(t, env, spec))
	name := cpodCreated(t, run)
	res := run.result(t)
	want := "timed out after 1s waiting for pod " + name + " (phase Pending: not scheduled to a node yet)"
	if res.Status != probes.StatusFail || !strings.HasPrefix(res.Message, want) {
		t.Errorf("= %s %q, want fail %q", res.Status, res.Message, want)
	}
	if !strings.HasSuffix(res.Message, "; logs unavailable: the pod was never scheduled to a node") {
		t.Errorf("message %q does not say why there are no logs", res.Message)
	}
	if res.Items[0].Status != probes.StatusFail || res.Items[1].Status != probes.StatusPending {
		t.Errorf("items = %+v", res.Items)
	}
	cpodGone(t, cp.Typed, ns, name)
}

// The step's context cancelled mid-run: an error result, and the pod is
// deleted on a context of its own.
func TestCheckPodCancelled(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run := roStart(ctx, roBuild(t, env, cpodSpec()))
	name := cpodCreated(t, run)
	cancel()
	res := run.result(t)
	if res.Status != probes.StatusError || !strings.Contains(res.Message, "interrupted (context canceled) waiting for pod "+name) {
		t.Errorf("= %s %q", res.Status, res.Message)
	}
	if len(res.Objects) != 1 || res.Objects[0].Op != OpDeleted {
		t.Errorf("objects = %+v", res.Objects)
	}
	cpodGone(t, cp.Typed, ns, name)
}

// Someone else deletes the pod before it ends: the check fails.
func TestCheckPodDeletedUnderneath(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	run := roStart(context.Background(), roBuild(t, env, cpodSpec()))
	name := cpodCreated(t, run)
	if err := cp.Typed.CoreV1().Pods(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	res := run.result(t)
	if res.Status != probes.StatusFail || !strings.Contains(res.Message, "deleted before it ended") {
		t.Errorf("= %s %q", res.Status, res.Message)
	}
}

// The plan is a server-side dry run: it names the pod and what it runs,
// and creates nothing.
func TestCheckPodPlan(t *testing.T) {
	cp, ns, env := testEnv(t, t.TempDir())
	spec := cpodSpec()
	spec.Name = "dns-test"
	plan := roBuild(t, env, spec).Plan(context.Background())
	if plan.Status != probes.StatusPass || plan.Changes != 1 {
		t.Fatalf("plan = %s %q %q", plan.Status, plan.Summary, plan.Message)
	}
	for _, want := range []string{"image busybox:1.37", "command nslookup kubernetes.default.svc.cluster.local", "labels app=api,tier=backend", "no service account token",
		"expect exit code 0", "timeout 2m0s", "repeated for 5s until it settles"} {
		if !strings.Contains(plan.Message, want) {
			t.Errorf("plan message %q lacks %q", plan.Message, want)
		}
	}
	if len(plan.Objects) != 1 || !strings.HasPrefix(plan.Objects[0].Ref, "Pod/"+ns+"/dns-test-") || plan.Objects[0].Op != OpCreated {
		t.Errorf("objects = %+v", plan.Objects)
	}
	pods, err := cp.Typed.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 0 {
		t.Errorf("the plan left %d pods", len(pods.Items))
	}
}

// A user who may not create pods gets StatusForbidden naming the verb and
// resource, from the plan and the execution, and nothing is left behind.
func TestCheckPodForbidden(t *testing.T) {
	cp, ns, _ := testEnv(t, t.TempDir())
	env := apNarrowEnv(t, cp, ns, "", "pod-reader", []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}}})
	act := roBuild(t, env, cpodSpec())
	want := "forbidden: create pods in namespace " + ns
	start := time.Now()
	if plan := act.Plan(context.Background()); plan.Status != probes.StatusForbidden || plan.Message != want {
		t.Errorf("plan = %s %q, want forbidden %q", plan.Status, plan.Message, want)
	}
	if res := act.Execute(context.Background(), nil); res.Status != probes.StatusForbidden || res.Message != want || len(res.Objects) != 0 {
		t.Errorf("execute = %s %q, objects %+v; want forbidden %q", res.Status, res.Message, res.Objects, want)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("forbidden took %s", d)
	}
}

// tailOutputOf keeps what TailOutput keeps, reading any stream in bounded
// memory, and returns what it read before a read error.
func TestTailOutputOf(t *testing.T) {
	for _, n := range []int{0, 10, OutputLimit - 1, OutputLimit, OutputLimit + 1, 2*OutputLimit + 7, 5*OutputLimit + 3} {
		full := make([]byte, n)
		for i := range full {
			full[i] = byte('a' + i%26)
		}
		// One byte at a time and in big chunks.
		for _, r := range []io.Reader{iotest.OneByteReader(strings.NewReader(string(full))), strings.NewReader(string(full))} {
			got, err := tailOutputOf(r)
			if err != nil {
				t.Fatal(err)
			}
			if want := TailOutput(string(full)); got != want {
				t.Errorf("%d bytes: got %d bytes (%.40q…), want %d (%.40q…)", n, len(got), got, len(want), want)
			}
		}
	}
	boom := errors.New("connection reset")
	got, err := tailOutputOf(io.MultiReader(strings.NewReader("partial\n"), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || got != "partial\n" {
		t.Errorf("= %q, %v; want the partial output and the error", got, err)
	}
}

func TestCheckPodSpecValidate(t *testing.T) {
	long := strings.Repeat("x", 60)
	tests := []struct {
		name       string
		spec       *CheckPodSpec
		wantFields []string
	}{
		{name: "ok", spec: cpodSpec()},
		{name: "empty", spec: &CheckPodSpec{}, wantFields: []string{"image", "command"}},
		{name: "bad fields", spec: &CheckPodSpec{Image: "busybox", Command: []string{""}, Name: long, Timeout: probes.Duration(-1),
			ServiceAccount: "Not_Valid", Labels: map[string]string{"bad key!": "v"}, ExpectExitCode: 256, Window: ptr.To(probes.Duration(-1))},
			wantFields: []string{"command[0]", "name", "timeout", "serviceAccount", "labels", "window", "expectExitCode"}},
		{name: "window 0 runs once", spec: &CheckPodSpec{Image: "busybox", Command: []string{"true"}, Window: ptr.To(probes.Duration(0))}},
		{name: "window too long for the timeout", spec: &CheckPodSpec{Image: "busybox", Command: []string{"true"}, Window: ptr.To(probes.Duration(time.Minute))},
			wantFields: []string{"window"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roCheckFieldErrors(t, tt.spec.Validate(), tt.wantFields)
		})
	}
	s := cpodSpec()
	s.Command = []string{"sh", "-c", "nslookup kubernetes.default && echo 'ok'"}
	if d := s.Describe(); d != `run sh -c 'nslookup kubernetes.default && echo '\''ok'\''' in a check pod (busybox:1.37)` || !s.Mutating() {
		t.Errorf("describe = %s", d)
	}
	var perms []string
	for _, p := range s.Permissions() {
		perms = append(perms, p.String())
	}
	if want := []string{"create,get,watch,delete pods in the default namespace", "get pods/log in the default namespace"}; !slices.Equal(perms, want) {
		t.Errorf("permissions = %q, want %q", perms, want)
	}
	if _, err := Lookup("check-pod"); err != nil {
		t.Error(err)
	}
}
