package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	tea "charm.land/bubbletea/v2"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/signoff"
	"github.com/cockpit-dev/cockpit/tui"
)

// admRunbook is a runbook of one check pod in ns.
func admRunbook(t *testing.T, ns string) string {
	t.Helper()
	src := fmt.Sprintf(`apiVersion: cockpit/v1
kind: Runbook
metadata: {name: check-pod-admission, description: one check pod}
phases:
- id: preflight
  steps:
  - id: dns-from-a-pod
    title: DNS from a pod
    action: {kind: check-pod, namespace: %s, image: "busybox:1.37", command: [nslookup, kubernetes.default]}
`, ns)
	path := filepath.Join(t.TempDir(), "check-pod.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// admScreen replays a journal's events through the engine into the
// cockpit, as the live run fed it, and returns the screen (w×h, no
// colour).
func admScreen(t *testing.T, journal string, w, h int) string {
	t.Helper()
	rr, err := runbook.ReadJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := runbook.Parse(rr.Header.File, []byte(rr.Header.Source), runbook.Options{Vars: rr.Header.Vars})
	if err != nil {
		t.Fatal(err)
	}
	events, err := rr.Events()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	m := tui.New(tui.Options{Operator: "ci", Cluster: "envtest", Journal: journal, AllowActions: true, Tick: -1,
		Now: func() time.Time { return now }})
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	s := runbook.NewState(rb)
	for _, at := range events {
		var effects []runbook.Effect
		s, effects = runbook.Apply(s, at)
		m.Update(tui.StateMsg{State: s, At: at, Effects: effects})
	}
	return ansi.Strip(m.View().Content)
}

// A check pod the API server refuses, run headless with actions allowed:
// what the operator reads — the headless log, the journal, the sign-off
// and the cockpit's screen — carries the API server's reason for an
// admission refusal, and "forbidden: create pods in namespace …" only for
// an RBAC denial. (The refusal comes from the dry run, which admission
// runs on too: the journal's action.planned event carries it, and no
// action.done follows — what cannot be dry-run is not executed.)
func TestCheckPodRefusalOperatorView(t *testing.T) {
	// The ServiceAccount admission plugin on, as in a cluster; with no
	// controller-manager, no namespace has its "default" ServiceAccount.
	cp := controlplane.StartServiceAccountAdmission(t)
	t.Setenv("HOME", t.TempDir())
	tests := []struct {
		name       string
		kubeconfig func(t *testing.T, ns string) string
		status     probes.Status
		// want is the message, a regular expression: the dry run's pod
		// has a generated name, which the ServiceAccount plugin sees as
		// its prefix and the others whole. Every surface must then show
		// the message the journal holds.
		want func(ns string) string
	}{
		{
			name:       "no default ServiceAccount",
			kubeconfig: func(t *testing.T, _ string) string { return cp.Kubeconfig(t, "envtest") },
			status:     probes.StatusError,
			want: func(ns string) string {
				return regexp.QuoteMeta(`pods "cockpit-check-" is forbidden: error looking up service account ` + ns + `/default: serviceaccount "default" not found`)
			},
		},
		{
			name: "ResourceQuota exceeded",
			kubeconfig: func(t *testing.T, ns string) string {
				cp.CreateYAML(t, "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: default, namespace: "+ns+"}\n")
				cp.QuotaNoPods(t, ns, "no-pods")
				cp.UntilPodsDenied(t, ns, map[string]string{"app.kubernetes.io/managed-by": "cockpit"})
				return cp.Kubeconfig(t, "envtest")
			},
			status: probes.StatusError,
			want: func(string) string {
				return `pods "cockpit-check-[a-z0-9]+" is forbidden: exceeded quota: no-pods, requested: pods=1, used: pods=0, limited: pods=0`
			},
		},
		{
			name: "ValidatingAdmissionPolicy denies",
			kubeconfig: func(t *testing.T, ns string) string {
				cp.CreateYAML(t, "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: default, namespace: "+ns+"}\n")
				cp.DenyLabelledPods(t, ns, "app.kubernetes.io/managed-by", "cockpit", "no check pods during the freeze")
				cp.UntilPodsDenied(t, ns, map[string]string{"app.kubernetes.io/managed-by": "cockpit"})
				return cp.Kubeconfig(t, "envtest")
			},
			status: probes.StatusError,
			want: func(ns string) string {
				return `pods "cockpit-check-[a-z0-9]+" is forbidden: ValidatingAdmissionPolicy '` + regexp.QuoteMeta(ns) + `-deny-pods' with binding '` +
					regexp.QuoteMeta(ns) + `-deny-pods' denied request: no check pods during the freeze`
			},
		},
		{
			name: "RBAC, for contrast",
			kubeconfig: func(t *testing.T, ns string) string {
				// May read pods, not create them; and a default
				// ServiceAccount, so that RBAC is the only refusal.
				ctx := context.Background()
				cp.CreateYAML(t, "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: default, namespace: "+ns+"}\n")
				if _, err := cp.Typed.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
					Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}}}}, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
				if _, err := cp.Typed.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
					RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"},
					Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "admission-lead"}}}, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
				return userKubeconfig(t, cp, "admission-lead", "narrow")
			},
			status: probes.StatusForbidden,
			want:   func(ns string) string { return regexp.QuoteMeta("forbidden: create pods in namespace " + ns) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := cp.Namespace(t)
			journal := filepath.Join(t.TempDir(), "journal.jsonl")
			code, stdout, stderr := cockpit(t, "run", admRunbook(t, ns), "--kubeconfig", tt.kubeconfig(t, ns), "--journal", journal,
				"--fresh", "--allow-actions", "--auto-confirm-actions", "--operator", "ci")
			if code != exitFailed {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitFailed, stdout, stderr)
			}

			// The journal: the dry run's result, as the server said it.
			rr, err := runbook.ReadJournal(journal)
			if err != nil {
				t.Fatal(err)
			}
			events, err := rr.Events()
			if err != nil {
				t.Fatal(err)
			}
			var planned []runbook.ActionPlanned
			for _, at := range events {
				switch ev := at.Event.(type) {
				case runbook.ActionPlanned:
					planned = append(planned, ev)
				case runbook.ActionDone:
					t.Errorf("the refused check pod was executed: %+v", ev.Result)
				}
			}
			if len(planned) != 1 {
				t.Fatalf("%d action.planned events, want 1", len(planned))
			}
			p := planned[0].Result
			want := p.Message
			if !regexp.MustCompile(`^` + tt.want(ns) + `$`).MatchString(want) {
				t.Fatalf("journal: the dry run's message %q is not the server's %q", want, tt.want(ns))
			}
			if p.Status != tt.status || p.Summary != "cannot create the check pod" || len(p.Objects) != 1 || p.Objects[0].Error != want {
				t.Errorf("journal: action.planned %s %q %q %+v\n want %s", p.Status, p.Summary, p.Message, p.Objects, tt.status)
			}

			// Headless: the dry run's line and the step's, and the summary.
			for _, line := range []string{
				"dns-from-a-pod           dry run    cannot create the check pod — " + want,
				"dns-from-a-pod           failed     cannot create the check pod — " + want,
				"Pod/" + ns + "/cockpit-check- failed: " + want,
			} {
				if !strings.Contains(stderr, line) {
					t.Errorf("the headless log lacks %q:\n%s", line, stderr)
				}
			}
			if !strings.Contains(stdout, "dns-from-a-pod  failed              cannot create the check pod — "+want) {
				t.Errorf("the summary lacks the reason:\n%s", stdout)
			}
			if tt.status != probes.StatusForbidden && strings.Contains(stdout+stderr, "forbidden: create pods") {
				t.Errorf("an admission refusal reads as an RBAC denial:\n%s%s", stdout, stderr)
			}

			// The sign-off, in its data and its Markdown.
			md, r := admReport(t, journal)
			if len(r.Phases) != 1 || len(r.Phases[0].Steps) != 1 {
				t.Fatalf("sign-off phases: %+v", r.Phases)
			}
			if st := r.Phases[0].Steps[0]; st.Status != "failed" || st.Achieved != "cannot create the check pod" || st.Evidence != want {
				t.Errorf("sign-off step %+v\n want evidence %q", st, want)
			}
			if !strings.Contains(md, "| cannot create the check pod | ❌ failed | "+want+" |") {
				t.Errorf("the sign-off's Markdown lacks the reason:\n%s", md)
			}

			// The cockpit: the step's pane shows the dry run's verdict and
			// the server's message (wrapped to the pane).
			scr := admScreen(t, journal, 160, 40)
			if !strings.Contains(scr, "dns-from-a-pod dry run failed: cannot create th") {
				t.Errorf("the step list lacks the step's line:\n%s", scr)
			}
			pane := admPane(scr)
			verdict := tt.status.String() + " cannot create the check pod"
			if !strings.Contains(pane, admSqueeze(verdict)) || !strings.Contains(pane, admSqueeze(want)) {
				t.Errorf("the step's pane lacks %q and %q:\n%s", verdict, want, scr)
			}
			if tt.status != probes.StatusForbidden && strings.Contains(pane, "forbidden:create") {
				t.Errorf("the cockpit shows an admission refusal as an RBAC denial:\n%s", scr)
			}
		})
	}
}

// admPane is the text of the cockpit's step pane (right of the step
// list), its rows joined and every space removed: a message wrapped to the
// pane's width reads as one (see admSqueeze).
func admPane(screen string) string {
	var b strings.Builder
	for line := range strings.Lines(screen) {
		if _, right, ok := strings.Cut(line, "││"); ok {
			b.WriteString(strings.TrimRight(strings.TrimSpace(right), "│"))
		}
	}
	return admSqueeze(b.String())
}

// admSqueeze removes every space from s.
func admSqueeze(s string) string {
	return strings.Join(strings.Fields(s), "")
}

// admReport is the sign-off's Markdown of a journal.
func admReport(t *testing.T, journal string) (string, *signoff.Report) {
	t.Helper()
	r, err := signoff.FromJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := signoff.WriteMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String(), r
}

// An apply of a Pod that violates the namespace's enforced Pod Security
// Standard, run headless with actions allowed: the headless log, the
// journal, the sign-off and the cockpit's screen carry the API server's
// reason on the object — never a missing permission.
func TestApplyPodSecurityOperatorView(t *testing.T) {
	cp := controlplane.Start(t)
	t.Setenv("HOME", t.TempDir())
	ns := cp.Namespace(t, map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	dir := t.TempDir()
	manifest := "apiVersion: v1\nkind: Pod\nmetadata: {name: root-shell, namespace: " + ns + "}\nspec:\n  containers:\n  - {name: shell, image: \"busybox:1.37\", command: [sleep, \"3600\"], securityContext: {runAsUser: 0}}\n"
	if err := os.WriteFile(filepath.Join(dir, "pod.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	rb := filepath.Join(dir, "apply.yaml")
	if err := os.WriteFile(rb, []byte(`apiVersion: cockpit/v1
kind: Runbook
metadata: {name: pod-security}
phases:
- id: deploy
  steps:
  - id: root-shell
    action: {kind: apply, files: [pod.yaml]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(dir, "journal.jsonl")
	code, stdout, stderr := cockpit(t, "run", rb, "--kubeconfig", cp.Kubeconfig(t, "envtest"), "--journal", journal,
		"--allow-actions", "--auto-confirm-actions", "--operator", "ci")
	if code != exitFailed {
		t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitFailed, stdout, stderr)
	}
	const reason = `pods "root-shell" is forbidden: violates PodSecurity "restricted:latest": `
	wantLine(t, "headless log", stderr, "root-shell", "dry run", reason)
	wantLine(t, "headless log", stderr, "Pod/"+ns+"/root-shell", "failed", reason)
	if strings.Contains(stdout+stderr, "forbidden: create pods") || strings.Contains(stdout+stderr, "forbidden: patch pods") {
		t.Errorf("a Pod Security refusal reads as an RBAC denial:\n%s%s", stdout, stderr)
	}
	rr, err := runbook.ReadJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	events, err := rr.Events()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, at := range events {
		if ev, ok := at.Event.(runbook.ActionPlanned); ok {
			found = true
			if ev.Result.Status == probes.StatusForbidden || len(ev.Result.Objects) != 1 || !strings.Contains(ev.Result.Objects[0].Error, reason) {
				t.Errorf("journal: action.planned %s %+v, want the server's reason on the object", ev.Result.Status, ev.Result.Objects)
			}
		}
	}
	if !found {
		t.Fatal("no action.planned in the journal")
	}
	md, r := admReport(t, journal)
	if st := r.Phases[0].Steps[0]; st.Status != "failed" || !strings.Contains(st.Evidence, reason) {
		t.Errorf("sign-off step %+v, want failed with the server's reason", st)
	}
	wantLine(t, "markdown sign-off", md, "`root-shell`", "❌ failed", reason)
	if pane := admPane(admScreen(t, journal, 160, 40)); !strings.Contains(pane, admSqueeze(reason)) {
		t.Errorf("the step's pane lacks the server's reason %q:\n%s", reason, pane)
	}
}
