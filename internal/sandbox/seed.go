package sandbox

import (
	"cmp"
	"fmt"
	"maps"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Ages of the seeded objects, as the seed document reports them.
const (
	clusterAge        = 30 * 24 * time.Hour
	certManagerAge    = 33 * time.Hour // "cert-manager deployment: 1/1 Ready (33h uptime)"
	stagingAge        = 51 * time.Hour // "Staging Services Running 2d3h"
	networkPolicyAge  = 5 * time.Minute
	sealingKeyLife    = 10 * 365 * 24 * time.Hour
	sandboxNodeName   = "sandbox-control-plane"
	sealingKeyPrefix  = "sealed-secrets-key"
	internalCAMessage = `Error getting keypair for CA issuer: secret "internal-ca" not found`
	// stagingProgressDeadline is the gravl staging Deployments'
	// progressDeadlineSeconds: short, so that a failed release shows
	// ProgressDeadlineExceeded within the demo.
	stagingProgressDeadline = 10
	// releaseFieldManager is the field manager the last gravl release
	// was applied with: cockpit's (runbook/actions.FieldManager).
	releaseFieldManager = "cockpit"
)

// Labels the sealed-secrets controller puts on its active sealing key, and
// the one the seed document's backup command selects on.
const (
	LabelSealingKey       = "sealedsecrets.bitnami.com/sealed-secrets-key"
	LabelSealingKeyStatus = "sealedsecrets.bitnami.com/status"
)

// app describes one seeded workload: a Deployment, its ready pods and,
// when Service is set, a Service with Endpoints and an EndpointSlice.
type app struct {
	Namespace string
	Name      string
	Labels    map[string]string // pod labels, also the selector
	Image     string
	Replicas  int32
	Ports     []corev1.ContainerPort
	Readiness *corev1.Probe
	Service   bool
	Age       time.Duration
	// Released marks gravl's own workloads: the last release applied them
	// server-side with cockpit's field manager (see releaseConfig), so
	// the next release's apply owns the same fields and conflicts with
	// nobody.
	Released bool
	// ProgressDeadline is progressDeadlineSeconds; 0 is the default, 600.
	ProgressDeadline int32
}

// seedApps are the workloads of the seed document: cert-manager's three
// deployments, the sealed-secrets controller, CoreDNS, and gravl staging.
func seedApps() []app {
	return []app{
		{
			Namespace: "cert-manager", Name: "cert-manager", Age: certManagerAge, Replicas: 1, Service: true,
			Labels: certManagerLabels("cert-manager", "controller"),
			Image:  "quay.io/jetstack/cert-manager-controller:v1.17.2",
			Ports:  []corev1.ContainerPort{tcpPort("http-metrics", 9402)},
		},
		{
			Namespace: "cert-manager", Name: "cert-manager-cainjector", Age: certManagerAge, Replicas: 1,
			Labels: certManagerLabels("cainjector", "cainjector"),
			Image:  "quay.io/jetstack/cert-manager-cainjector:v1.17.2",
		},
		{
			Namespace: "cert-manager", Name: "cert-manager-webhook", Age: certManagerAge, Replicas: 1, Service: true,
			Labels:    certManagerLabels("webhook", "webhook"),
			Image:     "quay.io/jetstack/cert-manager-webhook:v1.17.2",
			Ports:     []corev1.ContainerPort{tcpPort("https", 10250), tcpPort("healthcheck", 6080)},
			Readiness: httpProbe("/readyz", 6080),
		},
		{
			Namespace: "kube-system", Name: "sealed-secrets-controller", Age: certManagerAge, Replicas: 1, Service: true,
			Labels:    map[string]string{"name": "sealed-secrets-controller"},
			Image:     "docker.io/bitnami/sealed-secrets-controller:0.30.0",
			Ports:     []corev1.ContainerPort{tcpPort("http", 8080)},
			Readiness: httpProbe("/healthz", 8080),
		},
		{
			Namespace: "kube-system", Name: "coredns", Age: clusterAge, Replicas: 2, Service: true,
			Labels: map[string]string{"k8s-app": "kube-dns"},
			Image:  "registry.k8s.io/coredns/coredns:v1.12.1",
			Ports: []corev1.ContainerPort{
				{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
				tcpPort("dns-tcp", 53),
				tcpPort("metrics", 9153),
			},
			Readiness: httpProbe("/ready", 8181),
		},
		{
			Namespace: "gravl-staging", Name: "backend", Age: stagingAge, Replicas: 2, Service: true,
			Released: true, ProgressDeadline: stagingProgressDeadline,
			Labels:    map[string]string{"app": "backend", "app.kubernetes.io/part-of": "gravl"},
			Image:     "ghcr.io/gravl-app/backend:1.8.2",
			Ports:     []corev1.ContainerPort{tcpPort("http", 3000), tcpPort("metrics", 3001)},
			Readiness: httpProbe("/health", 3000),
		},
		{
			Namespace: "gravl-staging", Name: "frontend", Age: stagingAge, Replicas: 2, Service: true,
			Released: true, ProgressDeadline: stagingProgressDeadline,
			Labels:    map[string]string{"app": "frontend", "app.kubernetes.io/part-of": "gravl"},
			Image:     "ghcr.io/gravl-app/frontend:1.8.2",
			Ports:     []corev1.ContainerPort{tcpPort("http", 80), tcpPort("https", 443)},
			Readiness: httpProbe("/", 80),
		},
		{
			Namespace: "gravl-staging", Name: "postgres", Age: stagingAge, Replicas: 1, Service: true,
			Labels: map[string]string{"app": "postgres", "app.kubernetes.io/part-of": "gravl"},
			Image:  "docker.io/library/postgres:16.4-alpine",
			Ports:  []corev1.ContainerPort{tcpPort("postgres", 5432)},
		},
	}
}

func certManagerLabels(name, component string) map[string]string {
	return map[string]string{
		"app":                         name,
		"app.kubernetes.io/name":      name,
		"app.kubernetes.io/instance":  "cert-manager",
		"app.kubernetes.io/component": component,
	}
}

func tcpPort(name string, port int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP}
}

func httpProbe(path string, port int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(port)}},
		PeriodSeconds: 10,
	}
}

// seedNamespace is one seeded namespace and its extra labels.
type seedNamespace struct {
	Name   string
	Age    time.Duration
	Labels map[string]string
}

func seedNamespaces() []seedNamespace {
	return []seedNamespace{
		{Name: "default", Age: clusterAge},
		// The seed's allow-dns-egress selects kube-system by a "name" label,
		// which clusters do not set by default; the sandbox has it so the
		// policy matches as its author expected.
		{Name: "kube-system", Age: clusterAge, Labels: map[string]string{"name": "kube-system"}},
		{Name: "kube-public", Age: clusterAge},
		{Name: "kube-node-lease", Age: clusterAge},
		{Name: "cert-manager", Age: certManagerAge},
		{Name: "gravl-staging", Age: stagingAge},
		{Name: "gravl-prod", Age: stagingAge},
	}
}

// seeder builds the seed objects relative to one instant.
type seeder struct {
	now   time.Time
	names *nameSource
}

func (s seeder) meta(namespace, name string, age time.Duration, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Namespace:         namespace,
		Name:              name,
		Labels:            labels,
		UID:               s.names.uid(),
		Generation:        1,
		CreationTimestamp: metav1.NewTime(s.now.Add(-age)),
	}
}

func (s seeder) namespace(n seedNamespace) *corev1.Namespace {
	labels := map[string]string{corev1.LabelMetadataName: n.Name}
	maps.Copy(labels, n.Labels)
	ns := &corev1.Namespace{
		ObjectMeta: s.meta("", n.Name, n.Age, labels),
		Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
	}
	ns.Generation = 0
	return ns
}

func (s seeder) node() *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: s.meta("", sandboxNodeName, clusterAge, map[string]string{
			corev1.LabelHostname:                    sandboxNodeName,
			corev1.LabelOSStable:                    "linux",
			"node-role.kubernetes.io/control-plane": "",
		}),
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				Message:            "kubelet is posting ready status",
				LastHeartbeatTime:  metav1.NewTime(s.now),
				LastTransitionTime: metav1.NewTime(s.now.Add(-clusterAge)),
			}},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.18.0.2"}},
			NodeInfo:  corev1.NodeSystemInfo{KubeletVersion: "v1.37.2", OperatingSystem: "linux", Architecture: "amd64"},
		},
	}
	n.Generation = 0
	return n
}

// deployment returns a's Deployment, fully rolled out as the deployment
// controller would have left it.
func (s seeder) deployment(a app) *appsv1.Deployment {
	d := &appsv1.Deployment{
		ObjectMeta: s.meta(a.Namespace, a.Name, a.Age, maps.Clone(a.Labels)),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(a.Replicas),
			Selector: &metav1.LabelSelector{MatchLabels: maps.Clone(a.Labels)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: maps.Clone(a.Labels)},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name:           a.Name,
						Image:          a.Image,
						Ports:          a.Ports,
						ReadinessProbe: a.Readiness,
					}},
				},
			},
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: ptr.To(intstr.FromString("25%")),
					MaxSurge:       ptr.To(intstr.FromString("25%")),
				},
			},
			RevisionHistoryLimit:    ptr.To[int32](10),
			ProgressDeadlineSeconds: ptr.To(cmp.Or(a.ProgressDeadline, 600)),
		},
	}
	defaultObject(d)
	d.Annotations = map[string]string{annotationRevision: "1"}
	created := d.CreationTimestamp.Time
	d.Status = deploymentStatus(d, rolloutCounts{updated: a.Replicas, updatedReady: a.Replicas},
		progressComplete, podTemplateHash(&d.Spec.Template), nil, created.Add(30*time.Second))
	return d
}

// releaseConfig is the apply configuration the last release of a
// Released app applied: what its manifest says, the API server's defaults
// left out — the shape of examples/demo/gravl-release.yaml.
func releaseConfig(a app) *unstructured.Unstructured {
	labels := map[string]any{}
	for k, v := range a.Labels {
		labels[k] = v
	}
	var ports []any
	for _, p := range a.Ports {
		ports = append(ports, map[string]any{"name": p.Name, "containerPort": int64(p.ContainerPort)})
	}
	container := map[string]any{"name": a.Name, "image": a.Image, "ports": ports}
	if r := a.Readiness; r != nil && r.HTTPGet != nil {
		container["readinessProbe"] = map[string]any{
			"httpGet":       map[string]any{"path": r.HTTPGet.Path, "port": int64(r.HTTPGet.Port.IntValue())},
			"periodSeconds": int64(r.PeriodSeconds),
		}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": a.Name, "namespace": a.Namespace, "labels": labels},
		"spec": map[string]any{
			"replicas":                int64(a.Replicas),
			"progressDeadlineSeconds": int64(cmp.Or(a.ProgressDeadline, 600)),
			"selector":                map[string]any{"matchLabels": runtime.DeepCopyJSONValue(labels)},
			"template": map[string]any{
				"metadata": map[string]any{"labels": runtime.DeepCopyJSONValue(labels)},
				"spec":     map[string]any{"containers": []any{container}},
			},
		},
	}}
}

// replicaSet returns the ReplicaSet of d's current template (revision 1),
// owning pods, as the deployment controller would have left it.
func (s seeder) replicaSet(d *appsv1.Deployment, pods []*corev1.Pod) *appsv1.ReplicaSet {
	rs := newReplicaSet(d, podTemplateHash(&d.Spec.Template), 1, d.CreationTimestamp.Time)
	n := int32(len(pods))
	rs.Spec.Replicas = ptr.To(n)
	rs.Status = appsv1.ReplicaSetStatus{Replicas: n, FullyLabeledReplicas: n, ReadyReplicas: n, AvailableReplicas: n, ObservedGeneration: 1}
	for _, p := range pods {
		p.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))}
	}
	return rs
}

// pods returns d's ready pods, as the adopting controller expects them.
func (s seeder) pods(d *appsv1.Deployment) []*corev1.Pod {
	hash := podTemplateHash(&d.Spec.Template)
	created := d.CreationTimestamp.Time.Add(5 * time.Second)
	var out []*corev1.Pod
	for range ptr.Deref(d.Spec.Replicas, 1) {
		p := newPod(d, hash, s.names, created)
		markPodReady(p, created.Add(20*time.Second))
		p.UID = s.names.uid()
		out = append(out, p)
	}
	return out
}

// service returns a's ClusterIP Service and the EndpointSlice listing its
// pods. (No v1 Endpoints: that API is deprecated since v1.33.)
func (s seeder) service(a app, pods []*corev1.Pod) []runtime.Object {
	var svcPorts []corev1.ServicePort
	var slicePorts []discoveryv1.EndpointPort
	for _, p := range a.Ports {
		port := p.ContainerPort
		if a.Name == "cert-manager-webhook" && p.Name == "https" {
			port = 443
		}
		svcPorts = append(svcPorts, corev1.ServicePort{
			Name: p.Name, Protocol: p.Protocol, Port: port, TargetPort: intstr.FromString(p.Name),
		})
		slicePorts = append(slicePorts, discoveryv1.EndpointPort{
			Name: ptr.To(p.Name), Port: ptr.To(p.ContainerPort), Protocol: ptr.To(p.Protocol),
		})
	}
	name := a.Name
	if a.Labels["k8s-app"] == "kube-dns" {
		name = "kube-dns"
	}
	ip := s.names.serviceIP(name)
	svc := &corev1.Service{
		ObjectMeta: s.meta(a.Namespace, name, a.Age, maps.Clone(a.Labels)),
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeClusterIP,
			Selector:   maps.Clone(a.Labels),
			Ports:      svcPorts,
			ClusterIP:  ip,
			ClusterIPs: []string{ip},
		},
	}
	svc.Generation = 0

	var endpoints []discoveryv1.Endpoint
	for _, p := range pods {
		ref := &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID}
		endpoints = append(endpoints, discoveryv1.Endpoint{
			Addresses:  []string{p.Status.PodIP},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)},
			NodeName:   ptr.To(p.Spec.NodeName),
			TargetRef:  ref,
		})
	}
	sliceLabels := map[string]string{
		discoveryv1.LabelServiceName: name,
		discoveryv1.LabelManagedBy:   "endpointslice-controller.k8s.io",
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  s.meta(a.Namespace, name+"-"+s.names.suffix(), a.Age, sliceLabels),
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   endpoints,
		Ports:       slicePorts,
	}
	slice.Generation = 0
	return []runtime.Object{svc, slice}
}

// sealingKey returns the sealed-secrets controller's active sealing key: a
// kubernetes.io/tls Secret holding a freshly generated self-signed
// certificate and its key. The key bytes live only in this simulated Secret.
func (s seeder) sealingKey() (*corev1.Secret, error) {
	created := s.now.Add(-certManagerAge)
	certPEM, keyPEM, err := selfSignedPEM("sealed-secret", created, sealingKeyLife)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	sec := &corev1.Secret{
		ObjectMeta: s.meta("kube-system", sealingKeyPrefix+s.names.suffix(), certManagerAge, map[string]string{
			LabelSealingKey:       "active",
			LabelSealingKeyStatus: "active",
		}),
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
	}
	sec.Generation = 0
	return sec, nil
}

// policy is one seeded NetworkPolicy in compact form.
type policy struct {
	Name    string
	Pods    map[string]string // podSelector.matchLabels; nil selects all pods
	Types   []networkingv1.PolicyType
	Ingress []networkingv1.NetworkPolicyIngressRule
	Egress  []networkingv1.NetworkPolicyEgressRule
}

// seedPolicies are the nine gravl-staging NetworkPolicies the seed document
// lists; allow-dns-egress is exactly the seed's YAML.
func seedPolicies() []policy {
	ingress := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	egress := []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
	internet := networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{
		CIDR:   "0.0.0.0/0",
		Except: []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"},
	}}
	return []policy{
		{
			Name:  "gravl-default-deny",
			Types: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
		},
		{
			Name: "allow-from-ingress-to-backend", Pods: map[string]string{"app": "backend"}, Types: ingress,
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{namespacePeer("ingress-nginx")},
				Ports: policyPorts(corev1.ProtocolTCP, 3000),
			}},
		},
		{
			Name: "allow-ingress-to-frontend", Pods: map[string]string{"app": "frontend"}, Types: ingress,
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{namespacePeer("ingress-nginx")},
				Ports: policyPorts(corev1.ProtocolTCP, 80, 443),
			}},
		},
		{
			Name: "allow-backend-to-db", Pods: map[string]string{"app": "postgres"}, Types: ingress,
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{podPeer("backend")},
				Ports: policyPorts(corev1.ProtocolTCP, 5432),
			}},
		},
		{
			Name: "allow-monitoring-scrape", Types: ingress,
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{namespacePeer("gravl-monitoring")},
				Ports: policyPorts(corev1.ProtocolTCP, 3001),
			}},
		},
		{
			Name: "allow-dns-egress", Types: egress,
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{
					MatchLabels: map[string]string{"name": "kube-system"},
				}}},
				Ports: append(policyPorts(corev1.ProtocolUDP, 53), policyPorts(corev1.ProtocolTCP, 53)...),
			}},
		},
		{
			Name: "allow-backend-db-egress", Pods: map[string]string{"app": "backend"}, Types: egress,
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To:    []networkingv1.NetworkPolicyPeer{podPeer("postgres")},
				Ports: policyPorts(corev1.ProtocolTCP, 5432),
			}},
		},
		{
			Name: "allow-backend-external-apis", Pods: map[string]string{"app": "backend"}, Types: egress,
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To:    []networkingv1.NetworkPolicyPeer{internet},
				Ports: policyPorts(corev1.ProtocolTCP, 443, 80),
			}},
		},
		{
			Name: "allow-frontend-cdn-egress", Pods: map[string]string{"app": "frontend"}, Types: egress,
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To:    []networkingv1.NetworkPolicyPeer{internet},
				Ports: policyPorts(corev1.ProtocolTCP, 443, 80),
			}},
		},
	}
}

func namespacePeer(name string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{
		MatchLabels: map[string]string{corev1.LabelMetadataName: name},
	}}
}

func podPeer(app string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{
		MatchLabels: map[string]string{"app": app},
	}}
}

func policyPorts(proto corev1.Protocol, ports ...int32) []networkingv1.NetworkPolicyPort {
	out := make([]networkingv1.NetworkPolicyPort, 0, len(ports))
	for _, p := range ports {
		out = append(out, networkingv1.NetworkPolicyPort{Protocol: ptr.To(proto), Port: ptr.To(intstr.FromInt32(p))})
	}
	return out
}

func (s seeder) networkPolicy(p policy) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{
		ObjectMeta: s.meta("gravl-staging", p.Name, networkPolicyAge, nil),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: p.Pods},
			PolicyTypes: p.Types,
			Ingress:     p.Ingress,
			Egress:      p.Egress,
		},
	}
	return np
}

// issuer is one seeded cert-manager ClusterIssuer.
type issuer struct {
	Name    string
	Spec    map[string]any
	Ready   bool
	Reason  string
	Message string
	ACMEURI string // status.acme.uri for registered ACME accounts
}

func acmeSpec(server string, solvers ...any) map[string]any {
	return map[string]any{"acme": map[string]any{
		"server":              server,
		"email":               "ops@gravl.app",
		"privateKeySecretRef": map[string]any{"name": "letsencrypt-account-key"},
		"solvers":             solvers,
	}}
}

func http01Solver() map[string]any {
	return map[string]any{"http01": map[string]any{"ingress": map[string]any{"ingressClassName": "nginx"}}}
}

// seedIssuers are the seed document's four ClusterIssuers; internal-ca-issuer
// is not Ready because its CA secret does not exist.
func seedIssuers() []issuer {
	return []issuer{
		{
			Name: "internal-ca-issuer", Spec: map[string]any{"ca": map[string]any{"secretName": "internal-ca"}},
			Reason: "ErrGetKeyPair", Message: internalCAMessage,
		},
		{
			Name: "letsencrypt-prod",
			Spec: acmeSpec("https://acme-v02.api.letsencrypt.org/directory", http01Solver(), map[string]any{
				"dns01": map[string]any{"cloudflare": map[string]any{
					"apiTokenSecretRef": map[string]any{"name": "cloudflare-api-token", "key": "api-token"},
				}},
			}),
			Ready: true, Reason: "ACMEAccountRegistered", Message: "The ACME account was registered with the ACME server",
			ACMEURI: "https://acme-v02.api.letsencrypt.org/acme/acct/1942518736",
		},
		{
			Name:  "letsencrypt-staging",
			Spec:  acmeSpec("https://acme-staging-v02.api.letsencrypt.org/directory", http01Solver()),
			Ready: true, Reason: "ACMEAccountRegistered", Message: "The ACME account was registered with the ACME server",
			ACMEURI: "https://acme-staging-v02.api.letsencrypt.org/acme/acct/168329204",
		},
		{
			Name: "selfsigned-issuer", Spec: map[string]any{"selfSigned": map[string]any{}},
			Ready: true, Reason: "IsReady",
		},
	}
}

func (s seeder) clusterIssuer(is issuer) *unstructured.Unstructured {
	created := s.now.Add(-certManagerAge)
	status := "False"
	if is.Ready {
		status = "True"
	}
	st := map[string]any{"conditions": []any{map[string]any{
		"type":               "Ready",
		"status":             status,
		"reason":             is.Reason,
		"message":            is.Message,
		"lastTransitionTime": created.Add(20 * time.Second).UTC().Format(time.RFC3339),
		"observedGeneration": int64(1),
	}}}
	if is.ACMEURI != "" {
		st["acme"] = map[string]any{"uri": is.ACMEURI, "lastRegisteredEmail": "ops@gravl.app"}
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": ClusterIssuersGVR().GroupVersion().String(),
		"kind":       "ClusterIssuer",
		"metadata": map[string]any{
			"name":              is.Name,
			"uid":               string(s.names.uid()),
			"generation":        int64(1),
			"creationTimestamp": created.UTC().Format(time.RFC3339),
		},
		"spec":   runtime.DeepCopyJSON(is.Spec),
		"status": st,
	}}
	return u
}

// seedObjects returns the typed and custom (unstructured) seed objects.
func seedObjects(now time.Time, names *nameSource) (typed []runtime.Object, custom []runtime.Object, err error) {
	s := seeder{now: now, names: names}
	for _, n := range seedNamespaces() {
		typed = append(typed, s.namespace(n))
	}
	typed = append(typed, s.node())
	for _, a := range seedApps() {
		d := s.deployment(a)
		pods := s.pods(d)
		typed = append(typed, d, s.replicaSet(d, pods))
		for _, p := range pods {
			typed = append(typed, p)
		}
		if a.Service {
			typed = append(typed, s.service(a, pods)...)
		}
	}
	key, err := s.sealingKey()
	if err != nil {
		return nil, nil, err
	}
	typed = append(typed, key)
	for _, p := range seedPolicies() {
		typed = append(typed, s.networkPolicy(p))
	}
	for _, is := range seedIssuers() {
		custom = append(custom, s.clusterIssuer(is))
	}
	return typed, custom, nil
}

// SeedObjects returns the seed report's cluster state — namespaces, a node,
// the deployments with their pods, services and endpoints, the active
// sealing key, the gravl-staging NetworkPolicies and the ClusterIssuers
// (internal-ca-issuer not Ready) — statuses included, as of now. Tests
// create them in a real API server to run the gravl runbook against the
// state the report showed.
func SeedObjects(now time.Time) ([]runtime.Object, error) {
	typed, custom, err := seedObjects(now, newNameSource(1))
	if err != nil {
		return nil, err
	}
	return append(typed, custom...), nil
}

// withReleaseFields gives the seeded Deployments of Released apps the
// managedFields their last release left: created by a server-side apply of
// releaseConfig with cockpit's field manager (on a scratch store), so the
// next release's apply, by the same manager, owns the same fields. (A
// Deployment created otherwise and applied to later would have its fields
// owned by "before-first-apply", and the release would conflict.)
func (c *SimulatedCluster) withReleaseFields(objs []runtime.Object) error {
	released := map[string]app{}
	for _, a := range seedApps() {
		if a.Released {
			released[a.Namespace+"/"+a.Name] = a
		}
	}
	gvr := appsv1.SchemeGroupVersion.WithResource("deployments")
	for _, obj := range objs {
		d, ok := obj.(*appsv1.Deployment)
		if !ok {
			continue
		}
		a, ok := released[d.Namespace+"/"+d.Name]
		if !ok {
			continue
		}
		scratch := c.newRegistry()
		if err := scratch.Apply(gvr, releaseConfig(a), a.Namespace, metav1.PatchOptions{FieldManager: releaseFieldManager}); err != nil {
			return fmt.Errorf("simulated cluster: seed release of %s/%s: %w", a.Namespace, a.Name, err)
		}
		got, err := scratch.Get(gvr, a.Namespace, a.Name)
		if err != nil {
			return fmt.Errorf("simulated cluster: seed release of %s/%s: %w", a.Namespace, a.Name, err)
		}
		applied := got.(*appsv1.Deployment)
		if !equality.Semantic.DeepEqual(applied.Spec, d.Spec) {
			return fmt.Errorf("simulated cluster: seed release of %s/%s: releaseConfig and the seeded spec differ", a.Namespace, a.Name)
		}
		d.ManagedFields = applied.ManagedFields
		for i := range d.ManagedFields {
			d.ManagedFields[i].Time = ptr.To(metav1.NewTime(d.CreationTimestamp.Time))
		}
	}
	return nil
}
