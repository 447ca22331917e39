package actions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/cockpit-dev/cockpit/internal/kube"
	"github.com/cockpit-dev/cockpit/probes"
)

// Check pod defaults.
const (
	// DefaultCheckPodTimeout bounds a check pod's run when the runbook
	// names no timeout.
	DefaultCheckPodTimeout = 2 * time.Minute
	// DefaultCheckPodName is the prefix of a check pod's generated name.
	DefaultCheckPodName = "cockpit-check"
	// DefaultCheckPodWindow is how long a check pod repeats its command
	// when the runbook names no window: long enough for a NetworkPolicy
	// engine to have programmed the new pod's rules (about a second for
	// kube-router on the rig).
	DefaultCheckPodWindow = 5 * time.Second
)

// checkPodPause is the pause between two attempts of a windowed check.
const checkPodPause = "0.5"

// checkPodContainer is the check pod's only container.
const checkPodContainer = "check"

// checkPodNeverReady is the readiness gate no controller sets: the check
// pod is never Ready, so never a Service's endpoint.
const checkPodNeverReady = "cockpit.dev/never-ready"

// checkPodUser is the user the check runs as: nobody, so that a namespace
// enforcing the restricted Pod Security Standard admits the pod whatever
// user the image names.
const checkPodUser = 65534

// checkPodCleanupTimeout bounds the deletion of a check pod and the read of
// its logs, which run on a context of their own (the step's may be over).
const checkPodCleanupTimeout = 15 * time.Second

// CheckPodSpec configures a "check-pod" action: a short-lived pod running
// one command, the in-cluster test an operator would run with
//
//	kubectl run dns-test --rm -it --image=busybox -- nslookup kubernetes.default
//
// In a runbook:
//
//	action: {kind: check-pod, namespace: gravl-prod, image: busybox:1.37,
//	         command: [nslookup, kubernetes.default.svc.cluster.local],
//	         labels: {app: api}}
//
// The pod runs unprivileged (user nobody, no capabilities, no privilege
// escalation, the runtime's default seccomp profile, small resource
// limits) with restartPolicy Never and no service account token unless a
// service account is named. The pod is deleted afterwards, whatever
// happened.
//
// A NetworkPolicy engine (kube-router, Calico, Cilium) programs a new
// pod's rules a moment after the pod starts: a command run once, at start,
// can get through a policy that blocks it a second later. So the command
// runs again and again for the Window (a POSIX shell loop: the image needs
// /bin/sh), until the window is over and the last two attempts agree; the
// check passes when that settled exit code is the expected one. Every
// change of result is reported with its time ("exit 0 at 0.0–0.4 s, exit 1
// from 1.1 s on"); results that never settle (within three windows) fail.
// Window 0 runs the command once, as kubectl run would, for an image
// without a shell or a command that must not be repeated; the result then
// says that one attempt may have raced the policy engine.
type CheckPodSpec struct {
	// Namespace is where the pod runs; "" is the context's namespace.
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	// Context is the kubeconfig context; "" is the step's cluster.
	Context string `json:"context,omitempty" yaml:"context,omitempty"`
	// Image runs the command (required).
	Image string `json:"image" yaml:"image"`
	// Command is the argv run, in place of the image's entrypoint
	// (required).
	Command []string `json:"command" yaml:"command"`
	// Name prefixes the pod's generated name (default cockpit-check).
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// Timeout bounds the whole run, pulling the image included (default
	// 2m).
	Timeout probes.Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	// ServiceAccount runs the pod as that service account, with its token
	// mounted; without it no token is mounted.
	ServiceAccount string `json:"serviceAccount,omitempty" yaml:"serviceAccount,omitempty"`
	// Labels are set on the pod, so that NetworkPolicies select it as they
	// select the workload under test (an egress test must run as the
	// workload would).
	Labels map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	// ExpectExitCode is the exit code that passes (default 0); a test that
	// must be refused (egress denied) expects the command's failure code.
	ExpectExitCode int `json:"expectExitCode,omitempty" yaml:"expectExitCode,omitempty"`
	// Window is how long the command is repeated before its result counts
	// (default 5s; 0 runs it once). See the type's doc.
	Window *probes.Duration `json:"window,omitempty" yaml:"window,omitempty"`
}

// window is the spec's window, its default if unset.
func (s *CheckPodSpec) window() time.Duration {
	if s.Window == nil {
		return DefaultCheckPodWindow
	}
	return time.Duration(*s.Window)
}

var _ Spec = (*CheckPodSpec)(nil)

// Validate implements Spec.
func (s *CheckPodSpec) Validate() error {
	var errs []error
	if strings.TrimSpace(s.Image) == "" {
		errs = append(errs, specFieldErr("image", "required: the image running the check, like busybox:1.37"))
	}
	if len(s.Command) == 0 {
		errs = append(errs, specFieldErr("command", "required: the argv to run, like [nslookup, kubernetes.default]"))
	} else if s.Command[0] == "" {
		errs = append(errs, specFieldErr("command[0]", "the program must not be empty"))
	}
	// A generated name adds 5 characters to the prefix and its dash.
	if s.Name != "" {
		if errs1 := validation.IsDNS1123Label(s.Name + "-abcde"); len(errs1) > 0 {
			errs = append(errs, specFieldErr("name", "%q is not a valid pod name prefix: %s", s.Name, strings.Join(errs1, "; ")))
		}
	}
	if s.Timeout < 0 {
		errs = append(errs, specFieldErr("timeout", "must not be negative, got %s", time.Duration(s.Timeout)))
	}
	if s.ServiceAccount != "" {
		if errs1 := validation.IsDNS1123Subdomain(s.ServiceAccount); len(errs1) > 0 {
			errs = append(errs, specFieldErr("serviceAccount", "%q: %s", s.ServiceAccount, strings.Join(errs1, "; ")))
		}
	}
	for _, e := range metav1validation.ValidateLabels(s.Labels, field.NewPath("labels")) {
		errs = append(errs, specFieldErr(e.Field, "%s", e.ErrorBody()))
	}
	if w := s.window(); w < 0 {
		errs = append(errs, specFieldErr("window", "must not be negative, got %s", w))
	} else if timeout := s.Timeout.Or(DefaultCheckPodTimeout); s.Timeout >= 0 && 3*w >= timeout {
		which := "window " + ShortDuration(w)
		if s.Window == nil {
			which = "the default window " + ShortDuration(w)
		}
		errs = append(errs, specFieldErr("window", "%s leaves no time to settle within the timeout %s (unsettled results are repeated for up to three windows): set a shorter window or a longer timeout", which, ShortDuration(timeout)))
	}
	if s.ExpectExitCode < 0 || s.ExpectExitCode > 255 {
		errs = append(errs, specFieldErr("expectExitCode", "want 0 to 255, got %d", s.ExpectExitCode))
	}
	if err := specNamespaceErr(s.Namespace); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Mutating implements Spec: the action creates (and deletes) a pod.
func (s *CheckPodSpec) Mutating() bool { return true }

// Describe implements Spec.
func (s *CheckPodSpec) Describe() string {
	return fmt.Sprintf("run %s in a check pod%s (%s)", shellJoin(s.Command), inNamespace(s.Namespace), s.Image)
}

// Permissions implements Spec: create, get, watch and delete of pods, and
// get of pods/log.
func (s *CheckPodSpec) Permissions() []probes.Permission {
	return []probes.Permission{
		{Context: s.Context, Resource: "pods", Namespace: s.Namespace, Verbs: []string{"create", "get", "watch", "delete"}},
		{Context: s.Context, Resource: "pods/log", Namespace: s.Namespace, Verbs: []string{"get"}},
	}
}

// Build implements Spec.
func (s *CheckPodSpec) Build(env Env) (Action, error) {
	c, ns, err := kubeOf(env, s.Context, s.Namespace)
	if err != nil {
		return nil, err
	}
	spec := *s
	spec.Command = slices.Clone(s.Command)
	spec.Labels = maps.Clone(s.Labels)
	return &checkPodAction{spec: spec, typed: c.Typed(), ns: ns, timeout: s.Timeout.Or(DefaultCheckPodTimeout), window: s.window(), now: env.Clock()}, nil
}

type checkPodAction struct {
	spec    CheckPodSpec
	typed   kubernetes.Interface
	ns      string
	timeout time.Duration
	window  time.Duration
	now     func() time.Time
}

var _ Action = (*checkPodAction)(nil)

// pod is the check pod to create.
func (a *checkPodAction) pod() *corev1.Pod {
	prefix := a.spec.Name
	if prefix == "" {
		prefix = DefaultCheckPodName
	}
	labels := map[string]string{"app.kubernetes.io/managed-by": "cockpit"}
	maps.Copy(labels, a.spec.Labels)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-", Namespace: a.ns, Labels: labels},
		Spec: corev1.PodSpec{
			// Never Ready: labelled like the workload so that its
			// NetworkPolicies select it, the pod must not become an
			// endpoint of the workload's Services and take its traffic.
			ReadinessGates:               []corev1.PodReadinessGate{{ConditionType: checkPodNeverReady}},
			RestartPolicy:                corev1.RestartPolicyNever,
			ServiceAccountName:           a.spec.ServiceAccount,
			AutomountServiceAccountToken: ptr.To(a.spec.ServiceAccount != ""),
			// The kubelet ends it even if cockpit cannot delete it.
			ActiveDeadlineSeconds:         ptr.To(int64(a.timeout/time.Second) + 60),
			TerminationGracePeriodSeconds: ptr.To(int64(5)),
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To(int64(checkPodUser)),
				RunAsGroup:     ptr.To(int64(checkPodUser)),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:    checkPodContainer,
				Image:   a.spec.Image,
				Command: a.command(),
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
				},
				SecurityContext: &corev1.SecurityContext{
					Privileged:               ptr.To(false),
					AllowPrivilegeEscalation: ptr.To(false),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
			}},
		},
	}
}

// podSummary describes the check pod in one line: image, command, labels,
// service account.
func (a *checkPodAction) podSummary() string {
	keys := slices.Sorted(maps.Keys(a.spec.Labels))
	labels := make([]string, len(keys))
	for i, k := range keys {
		labels[i] = k + "=" + a.spec.Labels[k]
	}
	s := fmt.Sprintf("image %s, command %s", a.spec.Image, shellJoin(a.spec.Command))
	if len(labels) > 0 {
		s += ", labels " + strings.Join(labels, ",")
	}
	if a.spec.ServiceAccount != "" {
		s += ", service account " + a.spec.ServiceAccount
	} else {
		s += ", no service account token"
	}
	s += fmt.Sprintf(", expect exit code %d, timeout %s", a.spec.ExpectExitCode, a.timeout)
	if a.window == 0 {
		return s + ", run once"
	}
	return s + fmt.Sprintf(", repeated for %s until it settles", ShortDuration(a.window))
}

// createErr maps the error of creating the pod name ("" for a generated
// name): an RBAC denial is forbidden, naming the permission; an admission
// plugin's refusal (no ServiceAccount, Pod Security, a quota, a policy, a
// webhook) keeps the API server's message, which says why.
func (a *checkPodAction) createErr(err error, name string) error {
	return kube.Err(err, kube.Call{Verb: "create", Resource: "pods", Namespace: a.ns, Name: name})
}

// Plan implements Action: a server-side dry run of the pod's creation
// (admission included: Pod Security, quotas, the service account).
func (a *checkPodAction) Plan(ctx context.Context) Result {
	start := a.now()
	res := Result{Changes: 1}
	created, err := a.typed.CoreV1().Pods(a.ns).Create(ctx, a.pod(), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		err = a.createErr(err, "")
		res.Status, res.Summary, res.Message, res.Changes = kubeErrStatus(err), "cannot create the check pod", err.Error(), 0
		res.Objects = []Object{{Ref: "Pod/" + a.ns + "/" + a.pod().GenerateName, Op: OpFailed, Error: err.Error()}}
		return stampResult(res, start, a.now)
	}
	res.Status = probes.StatusPass
	res.Summary = fmt.Sprintf("would run %s in pod %s… (deleted afterwards)", shellJoin(a.spec.Command), a.pod().GenerateName)
	res.Message = a.podSummary()
	res.Objects = []Object{{Ref: "Pod/" + a.ns + "/" + created.Name, Op: OpCreated}}
	return stampResult(res, start, a.now)
}

// Execute implements Action: create the pod, wait for it to end (or the
// timeout), read its logs, delete it. The pod is deleted on every path
// that created it — on a context of its own, even when ctx was cancelled.
//
// Logs need a kubelet: where the API server cannot reach the pod's
// (envtest, which has none; a node gone) or the pod never reached a node,
// the result's message says the logs were unavailable and why, and the
// verdict still comes from the pod's status.
func (a *checkPodAction) Execute(ctx context.Context, progress func(Result)) (res Result) {
	start := a.now()
	pods := a.typed.CoreV1().Pods(a.ns)
	// The name is chosen here, not by the server, so that a pod created
	// by a request whose answer was lost (cancelled, timed out) can still
	// be deleted.
	pod := a.pod()
	pod.Name, pod.GenerateName = pod.GenerateName+utilrand.String(5), ""
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		cerr := a.createErr(err, pod.Name)
		res := Result{Result: probes.Result{Status: kubeErrStatus(cerr), Summary: "cannot create the check pod", Message: cerr.Error()}}
		if !apierrors.IsAlreadyExists(err) && !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
			if o := a.deletePod(ctx, pod.Name, "Pod/"+a.ns+"/"+pod.Name); o.Op == OpFailed {
				res.Message = joinNotes(res.Message, "it may have been created and could not be deleted: "+o.Error)
			}
		}
		return stampResult(res, start, a.now)
	}
	name, ref := created.Name, "Pod/"+a.ns+"/"+created.Name
	defer func() {
		res.Objects = []Object{a.deletePod(ctx, name, ref)}
		if o := res.Objects[0]; o.Op == OpFailed {
			res.Message = joinNotes(res.Message, "the check pod was left behind: "+o.Error)
		}
		res = stampResult(res, start, a.now)
	}()
	if progress != nil {
		progress(stampResult(Result{Result: probes.Result{Status: probes.StatusPending, Summary: "pod " + name + " created",
			Items: podItems(created, nil, a.spec.ExpectExitCode)}, Objects: []Object{{Ref: ref, Op: OpCreated}}}, start, a.now))
	}

	wctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	last, err := a.waitPod(wctx, created, func(p *corev1.Pod) {
		if progress != nil {
			progress(stampResult(Result{Result: probes.Result{Status: probes.StatusPending, Summary: "pod " + name + " " + string(p.Status.Phase),
				Items: podItems(p, nil, a.spec.ExpectExitCode)}, Objects: []Object{{Ref: ref, Op: OpCreated}}}, start, a.now))
		}
	})
	res = a.verdict(ctx, last, err)
	if last.Spec.NodeName == "" {
		// The API server answers an empty log for a pod on no node.
		res.Message = joinNotes(res.Message, "logs unavailable: the pod was never scheduled to a node")
		return res
	}
	out, logErr := a.logs(ctx, name)
	res.Output = out
	if logErr != nil {
		res.Message = joinNotes(res.Message, "logs unavailable: "+logErr.Error())
	}
	return res
}

// waitPod watches the pod until it has ended (Succeeded or Failed) or ctx
// ends, and returns its last version seen.
func (a *checkPodAction) waitPod(ctx context.Context, created *corev1.Pod, seen func(*corev1.Pod)) (*corev1.Pod, error) {
	pods := a.typed.CoreV1().Pods(a.ns)
	last := created
	var deleted bool
	var retryErr error
	err := followObject(ctx, created.Name,
		func(ctx context.Context) (runtime.Object, error) {
			p, err := pods.Get(ctx, created.Name, metav1.GetOptions{})
			if err != nil {
				return nil, kube.Err(err, kube.Call{Verb: "get", Resource: "pods", Namespace: a.ns, Name: created.Name})
			}
			return p, nil
		},
		func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			w, err := pods.Watch(ctx, opts)
			if err != nil {
				return nil, kube.Err(err, kube.Call{Verb: "watch", Resource: "pods", Namespace: a.ns, Name: created.Name})
			}
			return w, nil
		},
		func(obj runtime.Object, del bool) bool {
			p, ok := obj.(*corev1.Pod)
			if !ok {
				return false
			}
			if del {
				deleted = true
				return true
			}
			if p.Status.Phase != last.Status.Phase || !slices.EqualFunc(p.Status.ContainerStatuses, last.Status.ContainerStatuses,
				func(x, y corev1.ContainerStatus) bool { return x.State == y.State }) {
				seen(p)
			}
			last = p
			return podEnded(p)
		},
		func(err error) { retryErr = err })
	switch {
	case err == nil && deleted:
		err = errPodDeleted
	case err != nil && retryErr != nil:
		err = fmt.Errorf("%w (after retrying: %v)", err, retryErr)
	}
	return last, err
}

// errPodDeleted: someone deleted the check pod before it ended.
var errPodDeleted = errors.New("the pod was deleted before it ended")

func podEnded(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// checkTerminated is the check container's terminated state, if it ended.
func checkTerminated(p *corev1.Pod) *corev1.ContainerStateTerminated {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == checkPodContainer && cs.State.Terminated != nil {
			return cs.State.Terminated
		}
	}
	return nil
}

// podItems are the check's items: the pod's phase and the command's exit
// code.
func podItems(p *corev1.Pod, phaseStatus *probes.Status, want int) []probes.Item {
	phase := probes.Item{Name: "phase", Status: probes.StatusPending, Summary: string(p.Status.Phase), Reason: p.Status.Reason, Message: p.Status.Message}
	if phase.Summary == "" {
		phase.Summary = "Pending"
	}
	if phaseStatus != nil {
		phase.Status = *phaseStatus
	}
	exit := probes.Item{Name: "exit code", Status: probes.StatusPending, Summary: fmt.Sprintf("not ended (want %d)", want)}
	if t := checkTerminated(p); t != nil {
		exit.Summary, exit.Reason, exit.Message = fmt.Sprintf("%d (want %d)", t.ExitCode, want), t.Reason, t.Message
		if runs, ok := parseAttempts(t.Message); ok {
			exit.Message = describeRuns(runs)
		}
		exit.Status = probes.StatusPass
		if int(t.ExitCode) != want {
			exit.Status = probes.StatusFail
		}
	}
	return []probes.Item{phase, exit}
}

// verdict judges the pod's last state: pass iff it ended and the command's
// exit code is the expected one.
func (a *checkPodAction) verdict(ctx context.Context, p *corev1.Pod, waitErr error) Result {
	var res Result
	name := p.Name
	t := checkTerminated(p)
	switch {
	case waitErr == nil && t != nil && a.window > 0:
		res = a.windowVerdict(p, t)
	case waitErr == nil && t != nil:
		res.Values = map[string]float64{"exit_code": float64(t.ExitCode)}
		if int(t.ExitCode) == a.spec.ExpectExitCode {
			res.Status = probes.StatusPass
			res.Summary = fmt.Sprintf("%s exited %d (%s)", shellJoin(a.spec.Command), t.ExitCode, p.Status.Phase)
		} else {
			res.Status = probes.StatusFail
			res.Summary = fmt.Sprintf("%s exited %d, want %d", shellJoin(a.spec.Command), t.ExitCode, a.spec.ExpectExitCode)
			res.Message = fmt.Sprintf("pod %s: exit code %d, want %d", name, t.ExitCode, a.spec.ExpectExitCode)
			if why := strings.Trim(t.Reason+": "+t.Message, ": "); why != "" {
				res.Message += " (" + why + ")"
			}
		}
		res.Message = joinNotes(res.Message, "run once, at the pod's start (window 0): a NetworkPolicy engine may not have programmed the pod's rules yet")
	case waitErr == nil:
		// Ended without the command's exit: evicted, past its active
		// deadline, never started.
		res.Status = probes.StatusFail
		res.Summary = fmt.Sprintf("pod %s %s without an exit code", name, p.Status.Phase)
		res.Message = fmt.Sprintf("pod %s %s: %s", name, p.Status.Phase, podWaitReason(p))
	case errors.Is(waitErr, errPodDeleted):
		res.Status = probes.StatusFail
		res.Summary = "check pod deleted"
		res.Message = fmt.Sprintf("pod %s: %v (phase %s)", name, waitErr, p.Status.Phase)
	case ctx.Err() != nil:
		res.Status = probes.StatusError
		res.Summary = "interrupted"
		res.Message = fmt.Sprintf("interrupted (%v) waiting for pod %s (phase %s: %s)", context.Cause(ctx), name, p.Status.Phase, podWaitReason(p))
	case errors.Is(waitErr, context.DeadlineExceeded):
		res.Status = probes.StatusFail
		res.Summary = fmt.Sprintf("timed out after %s", a.timeout)
		res.Message = fmt.Sprintf("timed out after %s waiting for pod %s (phase %s: %s)", a.timeout, name, p.Status.Phase, podWaitReason(p))
		if waitErr != context.DeadlineExceeded {
			res.Message += "; " + waitErr.Error()
		}
	default:
		res.Status = kubeErrStatus(waitErr)
		res.Summary = "cannot follow the check pod"
		res.Message = fmt.Sprintf("pod %s: %v", name, waitErr)
	}
	// The phase item: an ended pod passes it, unless it ended without
	// running the command; a pod that did not end fails it, unless the
	// step was interrupted.
	phase := probes.StatusPass
	switch {
	case res.Status == probes.StatusError:
		phase = probes.StatusPending
	case waitErr != nil || t == nil:
		phase = probes.StatusFail
	}
	res.Items = podItems(p, &phase, a.spec.ExpectExitCode)
	return res
}

// podWaitReason says why a pod is where it is: its containers' waiting or
// terminated reasons, else a false condition's (Unschedulable…), else
// its own reason.
func podWaitReason(p *corev1.Pod) string {
	var why []string
	for _, cs := range p.Status.ContainerStatuses {
		switch s := cs.State; {
		case s.Waiting != nil:
			why = append(why, strings.TrimSuffix("container "+cs.Name+" waiting: "+s.Waiting.Reason+": "+s.Waiting.Message, ": "))
		case s.Terminated != nil:
			why = append(why, fmt.Sprintf("container %s terminated: %s (exit code %d)", cs.Name, s.Terminated.Reason, s.Terminated.ExitCode))
		}
	}
	if len(why) > 0 {
		return strings.Join(why, "; ")
	}
	for _, c := range p.Status.Conditions {
		if c.Status == corev1.ConditionFalse && (c.Reason != "" || c.Message != "") {
			return strings.TrimSuffix(string(c.Type)+"="+string(c.Status)+" "+c.Reason+": "+c.Message, ": ")
		}
	}
	switch {
	case p.Status.Reason != "":
		return strings.TrimSuffix(p.Status.Reason+": "+p.Status.Message, ": ")
	case p.Spec.NodeName == "":
		return "not scheduled to a node yet"
	}
	return "no container status yet"
}

// logs reads the check container's logs, keeping the last OutputLimit
// bytes, on a context of its own (ctx may be over).
func (a *checkPodAction) logs(ctx context.Context, name string) (string, error) {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkPodCleanupTimeout)
	defer cancel()
	rc, err := a.typed.CoreV1().Pods(a.ns).GetLogs(name, &corev1.PodLogOptions{Container: checkPodContainer}).Stream(lctx)
	if err != nil {
		return "", kube.Err(err, kube.Call{Verb: "get", Resource: "pods/log", Namespace: a.ns, Name: name})
	}
	defer func() { _ = rc.Close() }()
	out, err := tailOutputOf(rc)
	if err != nil {
		return out, fmt.Errorf("read pods/log %s: %w", name, err)
	}
	return out, nil
}

// deletePod deletes the check pod on a context of its own: it runs after
// ctx may have been cancelled.
func (a *checkPodAction) deletePod(ctx context.Context, name, ref string) Object {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkPodCleanupTimeout)
	defer cancel()
	err := a.typed.CoreV1().Pods(a.ns).Delete(dctx, name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
	if err != nil && !apierrors.IsNotFound(err) {
		return Object{Ref: ref, Op: OpFailed, Error: kube.Err(err, kube.Call{Verb: "delete", Resource: "pods", Namespace: a.ns, Name: name}).Error()}
	}
	return Object{Ref: ref, Op: OpDeleted}
}

// tailOutputOf reads r to its end keeping only the last OutputLimit
// bytes, and returns them as TailOutput would have the whole: marked with
// how much was cut. On a read error it returns what it read, and the
// error.
func tailOutputOf(r io.Reader) (string, error) {
	// buf holds at most 2×OutputLimit bytes; when full, the older half goes.
	buf := make([]byte, 0, 2*OutputLimit)
	var cut int64
	chunk := make([]byte, 32<<10)
	for {
		n, err := r.Read(chunk)
		data := chunk[:n]
		for len(data) > 0 {
			if len(buf) == cap(buf) {
				drop := len(buf) - OutputLimit
				cut += int64(drop)
				buf = append(buf[:0], buf[drop:]...)
			}
			m := min(len(data), cap(buf)-len(buf))
			buf = append(buf, data[:m]...)
			data = data[m:]
		}
		if err == io.EOF {
			return tailWithCut(buf, cut), nil
		}
		if err != nil {
			return tailWithCut(buf, cut), err
		}
	}
}

// tailWithCut is TailOutput of a stream whose first cut bytes are gone and
// whose rest is buf.
func tailWithCut(buf []byte, cut int64) string {
	if len(buf) > OutputLimit {
		cut += int64(len(buf) - OutputLimit)
		buf = buf[len(buf)-OutputLimit:]
	}
	if cut == 0 {
		return string(buf)
	}
	return "[… " + strconv.FormatInt(cut, 10) + " bytes cut …]\n" + string(buf)
}

// shellJoin writes an argv as a shell would read it back.
func shellJoin(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
