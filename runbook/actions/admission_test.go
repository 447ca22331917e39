package actions

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
	"github.com/cockpit-dev/cockpit/probes"
)

// admCheckPodLabels are the labels cockpit puts on its check pods, which
// the test's policy refuses.
var admCheckPodLabels = map[string]string{"app.kubernetes.io/managed-by": "cockpit"}

// admCheckPod is a check pod as the seed runs it.
func admCheckPod() *CheckPodSpec {
	return &CheckPodSpec{Image: "busybox:1.37", Command: []string{"nslookup", "kubernetes.default"}}
}

// admEnv is an Env acting as the admin of cp in ns.
func admEnv(t *testing.T, cp *controlplane.ControlPlane, ns string) Env {
	t.Helper()
	c, err := probes.NewClusterForConfig("envtest", cp.Config, ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return Env{Dir: t.TempDir(), Kube: func(string) (*probes.Cluster, error) { return c, nil }}
}

// Every source of a 403 on a check pod's creation, against a real API
// server: only RBAC's denial is forbidden, naming the permission; an
// admission plugin's refusal is an error carrying the API server's own
// message, from the dry run and from the execution alike, and nothing is
// left behind.
func TestCheckPodAdmissionDenials(t *testing.T) {
	tests := []struct {
		name string
		// setup prepares a namespace and returns it with the Env the
		// action runs in.
		setup      func(t *testing.T) (cs kubernetes.Interface, ns string, env Env)
		wantStatus probes.Status
		// fix, when set, removes the cause: the dry run then passes.
		fix func(t *testing.T, cs kubernetes.Interface, ns string)
		// want returns the message wanted, for the pod name the server
		// quotes (see admPodName).
		want func(ns, pod string) string
	}{
		{
			name: "no default ServiceAccount",
			setup: func(t *testing.T) (kubernetes.Interface, string, Env) {
				// The ServiceAccount admission plugin on, and no
				// controller-manager: no namespace has its "default".
				cp := controlplane.StartServiceAccountAdmission(t)
				ns := cp.Namespace(t)
				return cp.Typed, ns, admEnv(t, cp, ns)
			},
			wantStatus: probes.StatusError,
			want: func(ns, pod string) string {
				return `pods "` + pod + `" is forbidden: error looking up service account ` + ns + `/default: serviceaccount "default" not found`
			},
			fix: func(t *testing.T, cs kubernetes.Interface, ns string) {
				sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
				if _, err := cs.CoreV1().ServiceAccounts(ns).Create(context.Background(), sa, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "ResourceQuota exceeded",
			setup: func(t *testing.T) (kubernetes.Interface, string, Env) {
				cp, ns, env := testEnv(t, t.TempDir())
				cp.QuotaNoPods(t, ns, "no-pods")
				cp.UntilPodsDenied(t, ns, admCheckPodLabels)
				return cp.Typed, ns, env
			},
			wantStatus: probes.StatusError,
			want: func(_, pod string) string {
				return `pods "` + pod + `" is forbidden: exceeded quota: no-pods, requested: pods=1, used: pods=0, limited: pods=0`
			},
		},
		{
			name: "ValidatingAdmissionPolicy denies",
			setup: func(t *testing.T) (kubernetes.Interface, string, Env) {
				cp, ns, env := testEnv(t, t.TempDir())
				cp.DenyLabelledPods(t, ns, "app.kubernetes.io/managed-by", "cockpit", "no check pods in this namespace during the freeze")
				cp.UntilPodsDenied(t, ns, admCheckPodLabels)
				return cp.Typed, ns, env
			},
			wantStatus: probes.StatusError,
			want: func(ns, pod string) string {
				return `pods "` + pod + `" is forbidden: ValidatingAdmissionPolicy '` + ns + `-deny-pods' with binding '` + ns +
					`-deny-pods' denied request: no check pods in this namespace during the freeze`
			},
		},
		{
			name: "RBAC, for contrast",
			setup: func(t *testing.T) (kubernetes.Interface, string, Env) {
				cp, ns, _ := testEnv(t, t.TempDir())
				env := apNarrowEnv(t, cp, ns, "", "adm-pod-reader", []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}}})
				return cp.Typed, ns, env
			},
			wantStatus: probes.StatusForbidden,
			want:       func(ns, _ string) string { return "forbidden: create pods in namespace " + ns },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, ns, env := tt.setup(t)
			spec := admCheckPod()
			spec.Namespace = ns
			act := roBuild(t, env, spec)
			ctx := context.Background()

			plan := act.Plan(ctx)
			if want := tt.want(ns, admPodName(plan.Message)); plan.Status != tt.wantStatus || plan.Summary != "cannot create the check pod" || plan.Message != want {
				t.Errorf("plan = %s %q %q\n want %s %q", plan.Status, plan.Summary, plan.Message, tt.wantStatus, want)
			}
			if len(plan.Objects) != 1 || plan.Objects[0].Op != OpFailed || plan.Objects[0].Error != plan.Message {
				t.Errorf("plan objects = %+v", plan.Objects)
			}

			res := act.Execute(ctx, nil)
			if want := tt.want(ns, admPodName(res.Message)); res.Status != tt.wantStatus || res.Summary != "cannot create the check pod" || res.Message != want {
				t.Errorf("execute = %s %q %q\n want %s %q", res.Status, res.Summary, res.Message, tt.wantStatus, want)
			}
			if len(res.Objects) != 0 {
				t.Errorf("execute objects = %+v", res.Objects)
			}
			for _, msg := range []string{plan.Message, res.Message} {
				if tt.wantStatus != probes.StatusForbidden && strings.Contains(msg, "forbidden: create pods") {
					t.Errorf("an admission refusal reads as an RBAC denial: %q", msg)
				}
			}
			pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(pods.Items) != 0 {
				t.Errorf("%d pods left in %s", len(pods.Items), ns)
			}
			if tt.fix != nil {
				tt.fix(t, cs, ns)
				if plan := act.Plan(ctx); plan.Status != probes.StatusPass {
					t.Errorf("plan after the fix = %s %q %q", plan.Status, plan.Summary, plan.Message)
				}
			}
		})
	}
}

// admPodName is the check pod's name as the server's message quotes it:
// the generated one, or the prefix "cockpit-check-" when the admission
// plugin refused the dry run before the name was generated (the
// ServiceAccount plugin mutates, and runs first). A message quoting no
// check pod gives the prefix, which the wanted message then lacks.
func admPodName(msg string) string {
	const quote = `pods "` + DefaultCheckPodName + "-"
	i := strings.Index(msg, quote)
	if i < 0 {
		return DefaultCheckPodName + "-"
	}
	name := msg[i+len(`pods "`):]
	if j := strings.IndexByte(name, '"'); j >= 0 && (j == len(DefaultCheckPodName)+1 || j == len(DefaultCheckPodName)+6) {
		return name[:j]
	}
	return DefaultCheckPodName + "-"
}

// admRootPod is a Pod the restricted Pod Security Standard refuses: it
// runs as root, may escalate, keeps its capabilities and names no seccomp
// profile.
const admRootPod = `apiVersion: v1
kind: Pod
metadata: {name: root-shell}
spec:
  containers:
  - name: shell
    image: busybox:1.37
    command: [sleep, "3600"]
    securityContext: {runAsUser: 0}
`

// An apply of a Pod that violates the namespace's enforced Pod Security
// Standard shows the API server's reason on the object, not a missing
// permission; the check pod itself passes restricted in the same
// namespace.
func TestApplyPodSecurityDenial(t *testing.T) {
	dir := t.TempDir()
	cp := controlplane.Start(t)
	ns := cp.Namespace(t, map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	env := admEnv(t, cp, ns)
	env.Dir = dir
	apWrite(t, dir, map[string]string{"root.yaml": admRootPod})
	act := apBuild(t, env, &ApplySpec{Namespace: ns, Files: []string{"root.yaml"}})
	ctx := context.Background()
	ref := "Pod/" + ns + "/root-shell"
	const (
		source  = "root.yaml: document 1: "
		prefix  = `pods "root-shell" is forbidden: violates PodSecurity "restricted:latest": `
		reasons = `allowPrivilegeEscalation != false (container "shell" must set securityContext.allowPrivilegeEscalation=false), ` +
			`unrestricted capabilities (container "shell" must set securityContext.capabilities.drop=["ALL"]), ` +
			`runAsNonRoot != true (pod or container "shell" must set securityContext.runAsNonRoot=true), ` +
			`runAsUser=0 (container "shell" must not set runAsUser=0), ` +
			`seccompProfile (pod or container "shell" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`
	)
	for _, step := range []struct {
		name string
		run  func() Result
	}{
		{"plan", func() Result { return act.Plan(ctx) }},
		{"execute", func() Result { return act.Execute(ctx, nil) }},
	} {
		res := step.run()
		// Apply judges an object the API server refused as failed (as it
		// does an invalid one), with the server's message and the API's
		// reason: never forbidden.
		if res.Status != probes.StatusFail {
			t.Errorf("%s: status %s, want fail (not forbidden)", step.name, res.Status)
		}
		if len(res.Objects) != 1 || res.Objects[0].Ref != ref || res.Objects[0].Op != OpFailed ||
			res.Objects[0].Error != source+prefix+reasons {
			t.Errorf("%s: objects %+v\n want %s failed with %q", step.name, res.Objects, ref, source+prefix+reasons)
		}
		if len(res.Items) != 1 || res.Items[0].Status != probes.StatusFail || res.Items[0].Reason != string(metav1.StatusReasonForbidden) ||
			res.Items[0].Message != source+prefix+reasons {
			t.Errorf("%s: items %+v", step.name, res.Items)
		}
		if !strings.Contains(res.Message, prefix) || strings.Contains(res.Message, "forbidden: create") || strings.Contains(res.Message, "forbidden: patch") {
			t.Errorf("%s: message %q, want the server's reason", step.name, res.Message)
		}
	}
	if pod := apGet(t, cp, corev1.SchemeGroupVersion.WithResource("pods"), ns, "root-shell"); pod != nil {
		t.Errorf("the refused pod exists")
	}
	spec := admCheckPod()
	spec.Namespace = ns
	if plan := roBuild(t, env, spec).Plan(ctx); plan.Status != probes.StatusPass {
		t.Errorf("the check pod in a restricted namespace: %s %q %q", plan.Status, plan.Summary, plan.Message)
	}
}
