package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/cockpit-dev/cockpit/internal/promtest"
	"github.com/cockpit-dev/cockpit/internal/realcluster"
	"github.com/cockpit-dev/cockpit/internal/sandbox"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/actions"
	"github.com/cockpit-dev/cockpit/runbook/signoff"
)

// TestGravlGoLiveOnRealCluster runs examples/gravl-go-live.yaml's deploy
// and validate phases, --allow-actions, on the real node — nothing plays a
// controller:
//   - the nine NetworkPolicies are applied and kube-router enforces them
//     (a pod outside ingress-nginx cannot reach the backend; the ingress
//     can);
//   - the SealedSecrets are sealed with the certificate the real
//     sealed-secrets controller serves (kubeseal --fetch-cert; cockpit
//     fetches it through the API server's service proxy and shows the same
//     fingerprint), and the controller unseals them;
//   - the deployment controller rolls backend and frontend out, the kubelet
//     makes them Ready (their containers read the unsealed Secrets);
//   - the check pod resolves cluster DNS through the policies;
//   - health, TLS and load probes reach the backend through an ingress
//     controller's stand-in (the gravl image as a TLS-terminating proxy in
//     namespace ingress-nginx, the one namespace the policies admit).
//
// Only what the rig does not have is overridden, each with its reason:
// cert-manager (its controller is not built here), the staging namespace,
// a Prometheus scraping gravl-prod.
func TestGravlGoLiveOnRealCluster(t *testing.T) {
	c := realcluster.Start(t)
	t.Setenv("HOME", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	// The production cluster as the go-live finds it: gravl-prod exists,
	// the sealed-secrets controller runs in kube-system, an ingress
	// controller in ingress-nginx.
	for _, ns := range []string{"gravl-prod", "ingress-nginx"} {
		if _, err := c.Typed.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Typed.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	}
	c.StartSealedSecrets(t, "kube-system")
	tlsCA := startIngressStandIn(t, c)

	// The runbook and its manifests, as examples/ has them — but for the
	// SealedSecrets, sealed here for this controller's key.
	dir := t.TempDir()
	copyTree(t, "../../examples/gravl", filepath.Join(dir, "gravl"))
	copyTree(t, "../../examples/gravl-go-live.yaml", filepath.Join(dir, "gravl-go-live.yaml"))
	certPEM := kubeseal(t, c, nil, "--fetch-cert")
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatalf("kubeseal --fetch-cert printed no PEM:\n%s", certPEM)
	}
	wantFingerprint := opensslFingerprint(block.Bytes)
	certFile := filepath.Join(t.TempDir(), "sealing.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	plain := map[string]map[string]string{
		"gravl-db-secret":   {"DATABASE_URL": "postgres://gravl@db.gravl-prod.svc:5432/gravl", "POSTGRES_PASSWORD": "rig-db-s3cr3t"},
		"gravl-api-secrets": {"JWT_SECRET": "rig-jwt-s3cr3t"},
	}
	var sealed []string
	for _, name := range []string{"gravl-db-secret", "gravl-api-secrets"} {
		s := &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "gravl-prod"}, StringData: plain[name]}
		raw, err := jsonOf(s)
		if err != nil {
			t.Fatal(err)
		}
		out := kubeseal(t, c, raw, "--cert", certFile, "--format", "yaml")
		for _, v := range plain[name] {
			if strings.Contains(string(out), v) {
				t.Fatalf("kubeseal's output holds a plain value")
			}
		}
		sealed = append(sealed, string(out))
	}
	if err := os.WriteFile(filepath.Join(dir, "gravl", "sealed-secrets.yaml"), []byte(strings.Join(sealed, "---\n")), 0o600); err != nil {
		t.Fatal(err)
	}

	am := promtest.StartAlertmanager(t)
	sb, err := sandbox.Start(context.Background(), sandbox.Options{Host: "127.0.0.1", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	ingress, err := c.Typed.CoreV1().Services("ingress-nginx").Get(ctx, "ingress-nginx-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(t.TempDir(), "gravl.journal.jsonl")
	// cockpit runs as a ServiceAccount holding exactly what `cockpit rbac`
	// prints for the runbook: nothing more (no Secret's get, for one).
	kubeconfig := kubeconfigAsRBAC(t, c, filepath.Join(dir, "gravl-go-live.yaml"))
	args := []string{"run", filepath.Join(dir, "gravl-go-live.yaml"), "--kubeconfig", kubeconfig,
		"--journal", journal, "--phase", "validate", "--operator", "ci",
		"--allow-actions", "--auto-confirm-actions", "--auto-confirm-manual",
		"--var", "alertmanagerURL=" + am.URL,
		"--var", "apiURL=http://" + ingress.Spec.ClusterIP,
		"--var", "tlsHost=" + ingress.Spec.ClusterIP, "--var", "tlsCA=" + tlsCA,
		"--var", "loadDuration=10s",
		// The staging side (the preflight's baseline and DNS record) is the
		// sandbox on loopback, as in TestGravlDeployPhase.
		"--var", "stagingURL=" + sb.HTTPURL, "--var", "baselineDuration=2s", "--var", "dnsResolver=" + sb.DNSAddr,
		"--override", "cert-manager=no cert-manager on the rig: its controller's module is not served (envtest has its written status)",
		"--override", "cluster-issuers=no cert-manager on the rig",
		"--override", "staging-network-policies=no gravl-staging on the rig",
		"--override", "staging-dns-egress=no gravl-staging on the rig",
		"--override", "load-baseline=staging throughput measured elsewhere (test)",
		"--override", "certificates=no cert-manager on the rig: the ingress's certificate is the test's",
		"--override", "metrics=no Prometheus scrapes the rig",
	}
	code, stdout, stderr := cockpit(t, args...)
	out := stdout + stderr
	t.Logf("cockpit run: exit %d\n%s", code, out)
	r, err := signoff.FromJournal(journal)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	steps := map[string]signoff.Step{}
	for _, ph := range r.Phases {
		for _, st := range ph.Steps {
			steps[st.ID] = st
		}
	}
	for _, id := range []string{
		"silence-rollout-noise", "apply-network-policies", "dns-from-a-pod", "create-sealed-secrets", "apply-app",
		"prod-dns-egress", "rollout", "ingress-tls", // deploy
		"health", "exercises", "tls", "pods", "load-production", "logging", "failover", // validate
	} {
		if st := steps[id]; st.Status != "passed" {
			t.Errorf("%s = %s: %s — %s", id, st.Status, st.Achieved, st.Evidence)
		}
	}
	if code != exitWarned {
		t.Errorf("exit %d, want %d (GO WITH OVERRIDES: what the rig lacks)", code, exitWarned)
	}

	// cockpit's view of the sealing certificate is kubeseal's.
	rr, err := runbook.ReadJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	events, err := rr.Events()
	if err != nil {
		t.Fatal(err)
	}
	var sealedResult *actions.Result
	for _, at := range events {
		if ev, ok := at.Event.(runbook.ActionDone); ok && ev.Step == "create-sealed-secrets" {
			sealedResult = &ev.Result
		}
	}
	if sealedResult == nil {
		t.Fatal("the journal has no execution of create-sealed-secrets")
	}
	if !strings.Contains(fmt.Sprint(sealedResult.Items), "SHA256 Fingerprint="+wantFingerprint) {
		t.Errorf("create-sealed-secrets shows %+v, want the fingerprint kubeseal --fetch-cert gives: %s", sealedResult.Items, wantFingerprint)
	}
	// The identity cockpit ran as could not have read them.
	restCfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	asCockpit, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := asCockpit.CoreV1().Secrets("gravl-prod").Get(ctx, "gravl-db-secret", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("as cockpit's ServiceAccount, get secret gravl-db-secret: %v, want forbidden", err)
	}
	// The controller unsealed them (read here as admin).
	for name, data := range plain {
		s, err := c.Typed.CoreV1().Secrets("gravl-prod").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("secret %s: %v", name, err)
		}
		for k, v := range data {
			if string(s.Data[k]) != v {
				t.Errorf("secret %s: %s unsealed wrong", name, k)
			}
		}
	}
	if journalBytes, err := os.ReadFile(journal); err != nil {
		t.Fatal(err)
	} else {
		for _, data := range plain {
			for _, v := range data {
				if strings.Contains(string(journalBytes), v) || strings.Contains(out, v) {
					t.Errorf("a secret's value appears in the journal or the log")
				}
			}
		}
	}
	// The deployment controller rolled both out; every pod Ready.
	for name, want := range map[string]int32{"backend": 3, "frontend": 2} {
		d, err := c.Typed.AppsV1().Deployments("gravl-prod").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status.ReadyReplicas != want || d.Status.UpdatedReplicas != want {
			t.Errorf("deployment %s: %d ready, %d updated, want %d", name, d.Status.ReadyReplicas, d.Status.UpdatedReplicas, want)
		}
	}
	// kube-router enforces the policies: the backend admits the ingress
	// controller's namespace only. A new pod's first moments can come
	// before kube-router has programmed its rules (the race the check pod's
	// window is for), so each pod tries 8 times, 0.5 s apart, and what
	// counts is where it settles: its last 4 attempts.
	backend, err := c.Typed.CoreV1().Services("gravl-prod").Get(ctx, "backend", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	backendAddr := backend.Spec.ClusterIP + ":3000"
	other := c.Namespace(t)
	settled := func(attempts []string, want string) bool {
		if len(attempts) < 8 {
			return false
		}
		for _, a := range attempts[len(attempts)-4:] {
			if a != want {
				return false
			}
		}
		return true
	}
	if got := fetchFromPod(t, c, other, backendAddr, "/health"); !settled(got, "blocked") {
		t.Errorf("from namespace %s, the backend answered (attempts: %s): the default deny is not enforced", other, strings.Join(got, ", "))
		if log, err := os.ReadFile(filepath.Join(realcluster.StateDir(), "logs", "kube-router.log")); err == nil {
			lines := strings.Split(strings.TrimSpace(string(log)), "\n")
			t.Logf("the end of kube-router's log:\n%s", strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
		t.Logf("components exited: %q", c.Exited())
		// Pods elsewhere whose status still holds a backend pod's IP.
		if all, err := c.Typed.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); err == nil {
			ips := map[string][]string{}
			for _, p := range all.Items {
				if p.Status.PodIP != "" {
					ips[p.Status.PodIP] = append(ips[p.Status.PodIP], fmt.Sprintf("%s/%s (%s)", p.Namespace, p.Name, p.Status.Phase))
				}
			}
			for ip, pods := range ips {
				if len(pods) > 1 {
					t.Logf("pod IP %s is in the status of %d pods: %s", ip, len(pods), strings.Join(pods, ", "))
				}
			}
		}
	} else {
		t.Logf("from namespace %s: %s", other, strings.Join(got, ", "))
	}
	if got := fetchFromPod(t, c, "ingress-nginx", backendAddr, "/health"); !settled(got, "ok") {
		t.Errorf("from ingress-nginx, the backend: %s, want ok (allow-from-ingress-to-backend)", strings.Join(got, ", "))
	}
}

// kubeconfigAsRBAC creates ServiceAccount gravl-prod/cockpit, applies what
// `cockpit rbac RUNBOOK --subject serviceaccount:gravl-prod/cockpit`
// prints (creating the namespaces its Roles name that the rig lacks), and
// returns a kubeconfig whose context gravl-prod (the one the gravl runbook
// names) authenticates with that ServiceAccount's token.
func kubeconfigAsRBAC(t *testing.T, c *realcluster.Cluster, runbookPath string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const ns, sa = "gravl-prod", "cockpit"
	if _, err := c.Typed.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := cockpit(t, "rbac", runbookPath, "--subject", "serviceaccount:"+ns+"/"+sa)
	if code != exitOK {
		t.Fatalf("cockpit rbac: exit %d\n%s", code, stderr)
	}
	for _, doc := range strings.Split(stdout, "\n---") {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		obj, _, err := clientgoscheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("cockpit rbac's output: %v\n%s", err, doc)
		}
		var err2 error
		switch o := obj.(type) {
		case *rbacv1.ClusterRole:
			_, err2 = c.Typed.RbacV1().ClusterRoles().Create(ctx, o, metav1.CreateOptions{})
			t.Cleanup(func() {
				_ = c.Typed.RbacV1().ClusterRoles().Delete(context.Background(), o.Name, metav1.DeleteOptions{})
			})
		case *rbacv1.ClusterRoleBinding:
			_, err2 = c.Typed.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
			t.Cleanup(func() {
				_ = c.Typed.RbacV1().ClusterRoleBindings().Delete(context.Background(), o.Name, metav1.DeleteOptions{})
			})
		case *rbacv1.Role:
			ensureNamespace(t, c, o.Namespace)
			_, err2 = c.Typed.RbacV1().Roles(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			ensureNamespace(t, c, o.Namespace)
			_, err2 = c.Typed.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		default:
			t.Fatalf("cockpit rbac printed a %T", obj)
		}
		if err2 != nil {
			t.Fatalf("apply cockpit rbac's output: %v", err2)
		}
	}
	tok, err := c.Typed.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	cluster := admin.Contexts[admin.CurrentContext].Cluster
	cfg.Clusters[cluster] = admin.Clusters[cluster]
	cfg.AuthInfos[sa] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	cfg.Contexts["gravl-prod"] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: sa, Namespace: ns}
	cfg.CurrentContext = "gravl-prod"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// ensureNamespace creates namespace ns unless it exists (deleted when the
// test ends).
func ensureNamespace(t *testing.T, c *realcluster.Cluster, ns string) {
	t.Helper()
	_, err := c.Typed.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
	case err != nil:
		t.Fatal(err)
	default:
		t.Cleanup(func() { _ = c.Typed.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	}
}

// stripComments drops a YAML document's comment lines.
func stripComments(doc string) string {
	var keep []string
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// kubeseal runs the rig's kubeseal against the node's controller
// (kube-system/sealed-secrets-controller, its defaults) and returns stdout.
func kubeseal(t *testing.T, c *realcluster.Cluster, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(filepath.Join(c.BinDir, "kubeseal"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = strings.NewReader(string(stdin))
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubeseal %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// opensslFingerprint is the SHA-256 of a certificate's DER as
// `openssl x509 -fingerprint -sha256` prints it.
func opensslFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	hexes := make([]string, len(sum))
	for i, b := range sum {
		hexes[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(hexes, ":")
}

// startIngressStandIn runs the rig's stand-in for ingress-nginx in
// namespace ingress-nginx: the gravl image as a reverse proxy to gravl's
// backend Service, over HTTP on 80 and TLS on 443 with a certificate for
// gravl.app and api.gravl.app (what cert-manager would issue into the
// Ingress's gravl-tls). It returns the CA file that verifies it.
func startIngressStandIn(t *testing.T, c *realcluster.Cluster) (caFile string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	certPEM, keyPEM, _, err := selfSigned([]string{"gravl.app", "api.gravl.app"})
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "gravl-ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	const ns, name = "ingress-nginx", "ingress-nginx-controller"
	if _, err := c.Typed.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "gravl-tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app.kubernetes.io/name": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To(int64(1)),
					Containers: []corev1.Container{{
						Name: "proxy", Image: realcluster.GravlImage, ImagePullPolicy: corev1.PullNever,
						Args: []string{"-proxy", "http://backend.gravl-prod.svc.cluster.local:3000", "-addr", ":80",
							"-tls-addr", ":443", "-tls-cert", "/tls/tls.crt", "-tls-key", "/tls/tls.key"},
						Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 80}, {Name: "https", ContainerPort: 443}},
						VolumeMounts:   []corev1.VolumeMount{{Name: "tls", MountPath: "/tls", ReadOnly: true}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("https")}}, PeriodSeconds: 1},
					}},
					Volumes: []corev1.Volume{{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "gravl-tls"}}}},
				},
			},
		},
	}
	if _, err := c.Typed.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromString("http")},
			{Name: "https", Port: 443, TargetPort: intstr.FromString("https")}}},
	}
	if _, err := c.Typed.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := realcluster.WaitDeploymentAvailable(ctx, c.Typed, ns, name); err != nil {
		t.Fatal(fmt.Errorf("the ingress stand-in: %w", err))
	}
	return caFile
}

// fetchFromPod sends GET path to addr (IP:port) with busybox nc from a pod
// of namespace ns, 8 times 0.5 s apart, and returns each attempt's
// outcome: "ok" (the body), or "blocked" when no answer came within 2 s
// (kube-router rejects what the policies do not admit). (Debian's static
// busybox has no working wget, nor a resolver outside nslookup.)
func fetchFromPod(t *testing.T, c *realcluster.Cluster, ns, addr, path string) []string {
	t.Helper()
	name := fmt.Sprintf("fetch-%d", time.Now().UnixNano())
	script := fmt.Sprintf(`i=0; while [ $i -lt 8 ]; do
  if out=$(printf 'GET %s HTTP/1.0\r\n\r\n' | nc -w 2 %s 2>/dev/null) && [ -n "$out" ]; then echo "attempt: $(echo "$out" | tail -n 1)"; else echo "attempt: blocked"; fi
  i=$((i+1)); sleep 0.5
done`, path, strings.Replace(addr, ":", " ", 1))
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: ptr.To(int64(1)),
			Containers: []corev1.Container{{Name: "c", Image: realcluster.BusyboxImage, ImagePullPolicy: corev1.PullNever,
				Command: []string{"sh", "-c", script}}},
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := c.Typed.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Typed.CoreV1().Pods(ns).Delete(context.Background(), name, metav1.DeleteOptions{}) }()
	if err := realcluster.WaitPodDone(ctx, c.Typed, ns, name); err != nil {
		t.Fatal(err)
	}
	logs, err := c.Typed.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var attempts []string
	for _, l := range strings.Split(string(logs), "\n") {
		if a, ok := strings.CutPrefix(l, "attempt: "); ok {
			attempts = append(attempts, a)
		}
	}
	return attempts
}

// copyTree copies a file, or a directory's files (one level), to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			copyTree(t, filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()))
		}
	}
}

// jsonOf is v as JSON.
func jsonOf(v any) ([]byte, error) { return json.Marshal(v) }
