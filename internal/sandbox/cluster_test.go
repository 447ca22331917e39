package sandbox

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"slices"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/internal/kube"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// newCluster builds a seeded simulated cluster closed at cleanup.
func newCluster(t *testing.T, opts ClusterOptions) *SimulatedCluster {
	t.Helper()
	c, err := NewSimulatedCluster(opts)
	if err != nil {
		t.Fatalf("NewSimulatedCluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

type conditionView struct {
	status, reason, message string
}

// readyCondition returns the Ready condition of an unstructured object.
func readyCondition(t *testing.T, u *unstructured.Unstructured) conditionView {
	t.Helper()
	conds, _, err := unstructured.NestedSlice(u.Object, "status", "conditions")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == "Ready" {
			s, _ := m["status"].(string)
			r, _ := m["reason"].(string)
			msg, _ := m["message"].(string)
			return conditionView{status: s, reason: r, message: msg}
		}
	}
	return conditionView{}
}

func TestSeededClusterIssuers(t *testing.T) {
	c := newCluster(t, ClusterOptions{})
	list, err := c.Dynamic.Resource(ClusterIssuersGVR()).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]conditionView{}
	for i := range list.Items {
		got[list.Items[i].GetName()] = readyCondition(t, &list.Items[i])
	}
	want := map[string]conditionView{
		"letsencrypt-prod":    {status: "True", reason: "ACMEAccountRegistered", message: "The ACME account was registered with the ACME server"},
		"letsencrypt-staging": {status: "True", reason: "ACMEAccountRegistered", message: "The ACME account was registered with the ACME server"},
		"selfsigned-issuer":   {status: "True", reason: "IsReady"},
		"internal-ca-issuer":  {status: "False", reason: "ErrGetKeyPair", message: `Error getting keypair for CA issuer: secret "internal-ca" not found`},
	}
	if len(got) != len(want) {
		t.Fatalf("issuers %v, want %v", got, want)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s Ready = %+v, want %+v", name, got[name], w)
		}
	}

	prod, err := c.Dynamic.Resource(ClusterIssuersGVR()).Get(t.Context(), "letsencrypt-prod", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	server, _, _ := unstructured.NestedString(prod.Object, "spec", "acme", "server")
	email, _, _ := unstructured.NestedString(prod.Object, "spec", "acme", "email")
	solvers, _, _ := unstructured.NestedSlice(prod.Object, "spec", "acme", "solvers")
	if server != "https://acme-v02.api.letsencrypt.org/directory" || email != "ops@gravl.app" || len(solvers) != 2 {
		t.Errorf("letsencrypt-prod spec: server %q email %q %d solvers", server, email, len(solvers))
	}
	if prod.GetKind() != "ClusterIssuer" || prod.GetAPIVersion() != "cert-manager.io/v1" {
		t.Errorf("kind %q apiVersion %q", prod.GetKind(), prod.GetAPIVersion())
	}

	for _, gvr := range []schema.GroupVersionResource{CertificatesGVR(), SealedSecretsGVR(), IssuersGVR(), CertificateRequestsGVR()} {
		l, err := c.Dynamic.Resource(gvr).Namespace("gravl-prod").List(t.Context(), metav1.ListOptions{})
		if err != nil || len(l.Items) != 0 {
			t.Errorf("%s: %d items, err %v; want an empty list", gvr.Resource, len(l.Items), err)
		}
	}
}

func TestSeededDeploymentsAreRolledOut(t *testing.T) {
	c := newCluster(t, ClusterOptions{})
	tests := []struct {
		namespace string
		names     []string
		replicas  int32
	}{
		{namespace: "cert-manager", names: []string{"cert-manager", "cert-manager-cainjector", "cert-manager-webhook"}, replicas: 1},
		{namespace: "kube-system", names: []string{"sealed-secrets-controller"}, replicas: 1},
		{namespace: "kube-system", names: []string{"coredns"}, replicas: 2},
		{namespace: "gravl-staging", names: []string{"backend", "frontend"}, replicas: 2},
		{namespace: "gravl-staging", names: []string{"postgres"}, replicas: 1},
	}
	for _, tt := range tests {
		for _, name := range tt.names {
			t.Run(tt.namespace+"/"+name, func(t *testing.T) {
				d, err := c.Typed.AppsV1().Deployments(tt.namespace).Get(t.Context(), name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				st := d.Status
				if d.Generation != 1 || st.ObservedGeneration != 1 {
					t.Errorf("generation %d observed %d", d.Generation, st.ObservedGeneration)
				}
				if *d.Spec.Replicas != tt.replicas || st.Replicas != tt.replicas || st.UpdatedReplicas != tt.replicas ||
					st.ReadyReplicas != tt.replicas || st.AvailableReplicas != tt.replicas || st.UnavailableReplicas != 0 {
					t.Errorf("status %+v, want %d/%d everywhere", st, tt.replicas, tt.replicas)
				}
				msg, done, err := rolloutStatus(d)
				if err != nil || !done {
					t.Errorf("rollout status %q done=%v err=%v", msg, done, err)
				}
				wantConds := map[appsv1.DeploymentConditionType]string{
					appsv1.DeploymentAvailable:   reasonMinAvailable,
					appsv1.DeploymentProgressing: reasonNewRSAvailable,
				}
				for _, cond := range st.Conditions {
					if wantConds[cond.Type] != cond.Reason || cond.Status != corev1.ConditionTrue {
						t.Errorf("condition %s = %s/%s", cond.Type, cond.Status, cond.Reason)
					}
					delete(wantConds, cond.Type)
				}
				if len(wantConds) != 0 {
					t.Errorf("missing conditions %v", wantConds)
				}

				sel := metav1.FormatLabelSelector(d.Spec.Selector)
				pods, err := c.Typed.CoreV1().Pods(tt.namespace).List(t.Context(), metav1.ListOptions{LabelSelector: sel})
				if err != nil {
					t.Fatal(err)
				}
				if int32(len(pods.Items)) != tt.replicas {
					t.Fatalf("%d pods for %s, want %d", len(pods.Items), sel, tt.replicas)
				}
				for _, p := range pods.Items {
					if p.Status.Phase != corev1.PodRunning || !kube.PodReady(&p) {
						t.Errorf("pod %s: phase %s ready %v", p.Name, p.Status.Phase, kube.PodReady(&p))
					}
				}
			})
		}
	}
}

func TestSeededKubeSystem(t *testing.T) {
	c := newCluster(t, ClusterOptions{})
	ctx := t.Context()

	ns, err := c.Typed.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns.Labels[corev1.LabelMetadataName] != "kube-system" || ns.Labels["name"] != "kube-system" {
		t.Errorf("kube-system labels %v", ns.Labels)
	}
	for _, name := range []string{"cert-manager", "gravl-staging", "gravl-prod", "default"} {
		if _, err := c.Typed.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("namespace %s: %v", name, err)
		}
	}

	dnsPods, err := c.Typed.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=kube-dns"})
	if err != nil {
		t.Fatal(err)
	}
	if len(dnsPods.Items) != 2 {
		t.Errorf("%d CoreDNS pods, want 2", len(dnsPods.Items))
	}

	svc, err := c.Typed.CoreV1().Services("kube-system").Get(ctx, "sealed-secrets-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Selector["name"] != "sealed-secrets-controller" || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 8080 {
		t.Errorf("sealed-secrets service spec %+v", svc.Spec)
	}
	slices, err := c.Typed.DiscoveryV1().EndpointSlices("kube-system").List(ctx, metav1.ListOptions{
		LabelSelector: discoveryv1.LabelServiceName + "=sealed-secrets-controller",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(slices.Items) != 1 || len(slices.Items[0].Endpoints) != 1 || !ptr.Deref(slices.Items[0].Endpoints[0].Conditions.Ready, false) {
		t.Errorf("sealed-secrets endpoint slices %+v", slices.Items)
	}

	// The seed document's backup command selects the active key this way.
	keys, err := c.Typed.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{
		LabelSelector: LabelSealingKeyStatus + "=active",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys.Items) != 1 {
		t.Fatalf("%d active sealing keys, want 1", len(keys.Items))
	}
	key := keys.Items[0]
	if key.Type != corev1.SecretTypeTLS || key.Labels[LabelSealingKey] != "active" {
		t.Errorf("sealing key type %q labels %v", key.Type, key.Labels)
	}
	block, _ := pem.Decode(key.Data[corev1.TLSCertKey])
	if block == nil {
		t.Fatal("tls.crt is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.NotAfter.Before(time.Now().Add(365 * 24 * time.Hour)) {
		t.Errorf("sealing certificate expires %v", cert.NotAfter)
	}
	// Only the presence of the key is checked; its bytes are never printed.
	if keyBlock, _ := pem.Decode(key.Data[corev1.TLSPrivateKeyKey]); keyBlock == nil || keyBlock.Type != "PRIVATE KEY" {
		t.Error("tls.key is missing or not a PEM private key")
	}
}

func TestSeededNetworkPolicies(t *testing.T) {
	c := newCluster(t, ClusterOptions{})
	list, err := c.Typed.NetworkingV1().NetworkPolicies("gravl-staging").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]networkingv1.NetworkPolicy{}
	for _, p := range list.Items {
		got[p.Name] = p
	}
	tests := []struct {
		name     string
		selector string
		types    []networkingv1.PolicyType
	}{
		{name: "gravl-default-deny", selector: "", types: []networkingv1.PolicyType{"Ingress", "Egress"}},
		{name: "allow-from-ingress-to-backend", selector: "app=backend", types: []networkingv1.PolicyType{"Ingress"}},
		{name: "allow-ingress-to-frontend", selector: "app=frontend", types: []networkingv1.PolicyType{"Ingress"}},
		{name: "allow-backend-to-db", selector: "app=postgres", types: []networkingv1.PolicyType{"Ingress"}},
		{name: "allow-monitoring-scrape", selector: "", types: []networkingv1.PolicyType{"Ingress"}},
		{name: "allow-dns-egress", selector: "", types: []networkingv1.PolicyType{"Egress"}},
		{name: "allow-backend-db-egress", selector: "app=backend", types: []networkingv1.PolicyType{"Egress"}},
		{name: "allow-backend-external-apis", selector: "app=backend", types: []networkingv1.PolicyType{"Egress"}},
		{name: "allow-frontend-cdn-egress", selector: "app=frontend", types: []networkingv1.PolicyType{"Egress"}},
	}
	if len(got) != len(tests) {
		t.Errorf("%d policies, want %d", len(got), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := got[tt.name]
			if !ok {
				t.Fatal("missing")
			}
			sel := metav1.FormatLabelSelector(&p.Spec.PodSelector)
			if sel == "<none>" {
				sel = ""
			}
			if sel != tt.selector || !slices.Equal(p.Spec.PolicyTypes, tt.types) {
				t.Errorf("selector %q types %v, want %q %v", sel, p.Spec.PolicyTypes, tt.selector, tt.types)
			}
		})
	}

	// allow-dns-egress exactly as the seed's YAML.
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	dnsPort := intstr.FromInt32(53)
	want := networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		Egress: []networkingv1.NetworkPolicyEgressRule{{
			To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"name": "kube-system"},
			}}},
			Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &dnsPort}, {Protocol: &tcp, Port: &dnsPort}},
		}},
	}
	if got := got["allow-dns-egress"].Spec; !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("allow-dns-egress spec\n got %+v\nwant %+v", got, want)
	}
}

func TestDynamicServesBuiltinsFromTheTypedStore(t *testing.T) {
	c := newCluster(t, ClusterOptions{})
	gvr := appsv1.SchemeGroupVersion.WithResource("deployments")
	list, err := c.Dynamic.Resource(gvr).Namespace("cert-manager").List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, item := range list.Items {
		names = append(names, item.GetName())
		if item.GetKind() != "Deployment" || item.GetAPIVersion() != "apps/v1" {
			t.Errorf("%s: kind %q apiVersion %q", item.GetName(), item.GetKind(), item.GetAPIVersion())
		}
	}
	slices.Sort(names)
	if want := []string{"cert-manager", "cert-manager-cainjector", "cert-manager-webhook"}; !slices.Equal(names, want) {
		t.Errorf("deployments %v, want %v", names, want)
	}

	// A write through Dynamic is seen through Typed.
	cm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "gravl-config", "namespace": "gravl-prod"},
		"data":     map[string]any{"LOG_LEVEL": "info"},
	}}
	if _, err := c.Dynamic.Resource(corev1.SchemeGroupVersion.WithResource("configmaps")).Namespace("gravl-prod").
		Create(t.Context(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := c.Typed.CoreV1().ConfigMaps("gravl-prod").Get(t.Context(), "gravl-config", metav1.GetOptions{})
	if err != nil || got.Data["LOG_LEVEL"] != "info" {
		t.Errorf("typed view of a dynamic create: %+v, %v", got, err)
	}
}

func TestSimulatedClusterAnswersBadRequestsWithoutPanicking(t *testing.T) {
	c := newCluster(t, ClusterOptions{})
	ctx := t.Context()
	tests := []struct {
		name  string
		call  func() error
		check func(error) bool
	}{
		{
			name: "unknown resource",
			call: func() error {
				_, err := c.Dynamic.Resource(schema.GroupVersionResource{Group: "x.io", Version: "v1", Resource: "things"}).List(ctx, metav1.ListOptions{})
				return err
			},
			check: apierrors.IsNotFound,
		},
		{
			name: "invalid label selector, dynamic",
			call: func() error {
				_, err := c.Dynamic.Resource(ClusterIssuersGVR()).List(ctx, metav1.ListOptions{LabelSelector: "!!"})
				return err
			},
			check: apierrors.IsBadRequest,
		},
		{
			name: "invalid label selector, namespaced dynamic watch",
			call: func() error {
				_, err := c.Dynamic.Resource(appsv1.SchemeGroupVersion.WithResource("deployments")).Namespace("x").
					Watch(ctx, metav1.ListOptions{LabelSelector: "a in ("})
				return err
			},
			check: apierrors.IsBadRequest,
		},
		{
			name: "invalid field selector, dynamic",
			call: func() error {
				_, err := c.Dynamic.Resource(ClusterIssuersGVR()).List(ctx, metav1.ListOptions{FieldSelector: "a=b=c"})
				return err
			},
			check: apierrors.IsBadRequest,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !tt.check(err) {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	c := newCluster(t, ClusterOptions{})
	ctx := t.Context()
	deploys := c.Typed.AppsV1().Deployments("gravl-staging")
	before, err := deploys.Get(ctx, "backend", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	changed := before.DeepCopy()
	changed.Spec.Template.Spec.Containers[0].Image = "ghcr.io/gravl-app/backend:1.9.0"
	dry, err := deploys.Update(ctx, changed, metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatal(err)
	}
	if dry.Spec.Template.Spec.Containers[0].Image != "ghcr.io/gravl-app/backend:1.9.0" || dry.Generation != 2 {
		t.Errorf("dry-run result: image %q generation %d", dry.Spec.Template.Spec.Containers[0].Image, dry.Generation)
	}
	if err := deploys.Delete(ctx, "backend", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	after, err := deploys.Get(ctx, "backend", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(before, after) {
		t.Error("dry runs changed the stored deployment")
	}

	cm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "dry", "namespace": "gravl-prod"},
	}}
	if _, err := c.Dynamic.Resource(corev1.SchemeGroupVersion.WithResource("configmaps")).Namespace("gravl-prod").
		Apply(ctx, "dry", cm, metav1.ApplyOptions{FieldManager: "cockpit", DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Typed.CoreV1().ConfigMaps("gravl-prod").Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("dry-run apply created the object: %v", err)
	}
}

func TestDiscoveryKnowsTheServedResources(t *testing.T) {
	c := newCluster(t, ClusterOptions{})
	tests := []struct {
		groupVersion, resource string
	}{
		{groupVersion: "apps/v1", resource: "deployments"},
		{groupVersion: "cert-manager.io/v1", resource: "clusterissuers"},
		{groupVersion: "bitnami.com/v1alpha1", resource: "sealedsecrets"},
		{groupVersion: "networking.k8s.io/v1", resource: "networkpolicies"},
	}
	for _, tt := range tests {
		list, err := c.Typed.Discovery().ServerResourcesForGroupVersion(tt.groupVersion)
		if err != nil {
			t.Fatalf("%s: %v", tt.groupVersion, err)
		}
		if !slices.ContainsFunc(list.APIResources, func(r metav1.APIResource) bool { return r.Name == tt.resource }) {
			t.Errorf("%s has no %s", tt.groupVersion, tt.resource)
		}
	}
	if c.Name() != "simulated cluster" {
		t.Errorf("Name() = %q", c.Name())
	}
}

func TestRESTMapperFromDiscovery(t *testing.T) {
	c := newCluster(t, ClusterOptions{})
	groups, err := restmapper.GetAPIGroupResources(c.Typed.Discovery())
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewShortcutExpander(restmapper.NewDiscoveryRESTMapper(groups), c.Typed.Discovery(), nil)
	tests := []struct {
		arg        string
		want       schema.GroupVersionResource
		namespaced bool
	}{
		{arg: "deploy", want: appsv1.SchemeGroupVersion.WithResource("deployments"), namespaced: true},
		{arg: "deployment.apps", want: appsv1.SchemeGroupVersion.WithResource("deployments"), namespaced: true},
		{arg: "clusterissuers.cert-manager.io", want: ClusterIssuersGVR()},
		{arg: "certs", want: CertificatesGVR(), namespaced: true},
		{arg: "netpol", want: networkingv1.SchemeGroupVersion.WithResource("networkpolicies"), namespaced: true},
		{arg: "ns", want: corev1.SchemeGroupVersion.WithResource("namespaces")},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			_, gr := schema.ParseResourceArg(tt.arg)
			gvk, err := mapper.KindFor(gr.WithVersion(""))
			if err != nil {
				t.Fatal(err)
			}
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				t.Fatal(err)
			}
			if m.Resource != tt.want || (m.Scope.Name() == meta.RESTScopeNameNamespace) != tt.namespaced {
				t.Errorf("mapped to %v (scope %s), want %v namespaced=%v", m.Resource, m.Scope.Name(), tt.want, tt.namespaced)
			}
		})
	}
}

func TestDynamicInformerSeesTypedChanges(t *testing.T) {
	c := newCluster(t, ClusterOptions{})
	factory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(c.Dynamic, 0, "gravl-staging", nil)
	inf := factory.ForResource(appsv1.SchemeGroupVersion.WithResource("deployments")).Informer()
	updated := make(chan string, 16)
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) {
			if u, ok := obj.(*unstructured.Unstructured); ok {
				updated <- u.GetName() + " " + u.GetLabels()["release"]
			}
		},
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer func() {
		cancel()
		factory.Shutdown()
	}()
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("informer did not sync")
	}
	if n := len(inf.GetStore().List()); n != 3 {
		t.Fatalf("informer holds %d deployments, want 3", n)
	}
	c.watches.waitWatches(appsv1.SchemeGroupVersion.WithResource("deployments"), 1)
	d, err := c.Typed.AppsV1().Deployments("gravl-staging").Get(ctx, "frontend", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Labels["release"] = "1.9.0"
	if _, err := c.Typed.AppsV1().Deployments("gravl-staging").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := <-updated; got != "frontend 1.9.0" {
		t.Errorf("informer saw %q", got)
	}
}

// Without RBAC, every access review is allowed, saying why.
func TestAccessReviewsAreAllowed(t *testing.T) {
	c := newCluster(t, ClusterOptions{})
	got, err := c.Typed.AuthorizationV1().SelfSubjectAccessReviews().Create(t.Context(), &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: "gravl-staging", Verb: "patch", Group: "apps", Resource: "deployments"}},
	}, metav1.CreateOptions{})
	if err != nil || !got.Status.Allowed || got.Status.Reason == "" || got.Spec.ResourceAttributes.Verb != "patch" {
		t.Fatalf("access review: %v, %+v", err, got)
	}
}
