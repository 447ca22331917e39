package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/cockpit-dev/cockpit/internal/controlplane"
)

// stand-in controllers: the test control plane has an API server and etcd
// but no controller-manager, kubelet, sealed-secrets controller or
// cert-manager. These play their parts for one namespace, driven by
// watches on the real API server, writing what each would write: a
// Deployment's status once its generation changes, a check Pod's phase
// and exit code, a SealedSecret's Synced condition, the Certificate and
// TLS Secret cert-manager makes for an annotated Ingress. Nothing else.
type standIns struct {
	cp     *controlplane.ControlPlane
	ns     string
	exit   int64 // exit code the "kubelet" gives check pods
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var (
	gvrDeployments     = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	gvrPods            = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	gvrSealedSecrets   = schema.GroupVersionResource{Group: "bitnami.com", Version: "v1alpha1", Resource: "sealedsecrets"}
	gvrIngresses       = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}
	gvrCertificates    = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}
	gvrSecrets         = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	gvrNetworkPolicies = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}
)

// startStandIns runs the stand-in controllers until the test ends.
func startStandIns(t *testing.T, cp *controlplane.ControlPlane, ns string) *standIns {
	ctx, cancel := context.WithCancel(context.Background())
	s := &standIns{cp: cp, ns: ns, cancel: cancel}
	for gvr, reconcile := range map[schema.GroupVersionResource]func(context.Context, *unstructured.Unstructured) error{
		gvrDeployments:   s.deployment,
		gvrPods:          s.pod,
		gvrSealedSecrets: s.sealedSecret,
		gvrIngresses:     s.ingress,
	} {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.watch(ctx, t, gvr, reconcile)
		}()
	}
	t.Cleanup(func() { cancel(); s.wg.Wait() })
	return s
}

// watch reconciles every object of a type in the namespace as it appears
// or changes, re-watching from the last version when a watch ends.
func (s *standIns) watch(ctx context.Context, t *testing.T, gvr schema.GroupVersionResource, reconcile func(context.Context, *unstructured.Unstructured) error) {
	ri := s.cp.Dynamic.Resource(gvr).Namespace(s.ns)
	rv := ""
	for ctx.Err() == nil {
		if rv == "" {
			list, err := ri.List(ctx, metav1.ListOptions{})
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("stand-in: list %s: %v", gvr.Resource, err)
				}
				return
			}
			for i := range list.Items {
				s.reconcile(ctx, t, reconcile, &list.Items[i])
			}
			rv = list.GetResourceVersion()
		}
		w, err := ri.Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
		if err != nil {
			rv = "" // expired: list again
			continue
		}
		for ev := range w.ResultChan() {
			obj, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				rv = ""
				break
			}
			rv = obj.GetResourceVersion()
			if ev.Type == watch.Added || ev.Type == watch.Modified {
				s.reconcile(ctx, t, reconcile, obj)
			}
		}
		w.Stop()
	}
}

func (s *standIns) reconcile(ctx context.Context, t *testing.T, reconcile func(context.Context, *unstructured.Unstructured) error, obj *unstructured.Unstructured) {
	if err := reconcile(ctx, obj); err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		t.Errorf("stand-in: %s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
}

// deployment completes a rollout the way the deployment controller reports
// one: every replica updated and available at the current generation.
func (s *standIns) deployment(ctx context.Context, d *unstructured.Unstructured) error {
	observed, _, _ := unstructured.NestedInt64(d.Object, "status", "observedGeneration")
	if observed >= d.GetGeneration() {
		return nil
	}
	replicas, found, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
	if !found {
		replicas = 1
	}
	_, err := s.cp.SetStatus(ctx, d, map[string]any{
		"observedGeneration": d.GetGeneration(), "replicas": replicas, "updatedReplicas": replicas,
		"readyReplicas": replicas, "availableReplicas": replicas,
		"conditions": []any{
			map[string]any{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
			map[string]any{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
		},
	})
	return err
}

// pod runs a check pod to completion with the stand-in's exit code.
func (s *standIns) pod(ctx context.Context, p *unstructured.Unstructured) error {
	if phase, _, _ := unstructured.NestedString(p.Object, "status", "phase"); phase == "Succeeded" || phase == "Failed" {
		return nil
	}
	containers, _, _ := unstructured.NestedSlice(p.Object, "spec", "containers")
	phase, statuses := "Succeeded", []any{}
	if s.exit != 0 {
		phase = "Failed"
	}
	for _, c := range containers {
		name, _, _ := unstructured.NestedString(c.(map[string]any), "name")
		terminated := map[string]any{"exitCode": s.exit, "reason": "Completed"}
		// A windowed check (the default) runs its command in check-pod's
		// shell loop, which leaves the record of its attempts in the
		// termination message: two attempts over 5.2 s, the same result.
		if cmd, _, _ := unstructured.NestedStringSlice(c.(map[string]any), "command"); len(cmd) > 3 && cmd[0] == "/bin/sh" && cmd[3] == "cockpit-check" {
			terminated["message"] = fmt.Sprintf("cockpit check-pod attempts v1\n%d 0 520 2\n", s.exit)
		}
		statuses = append(statuses, map[string]any{"name": name, "ready": false, "restartCount": int64(0), "image": "busybox",
			"imageID": "", "state": map[string]any{"terminated": terminated}})
	}
	_, err := s.cp.SetStatus(ctx, p, map[string]any{"phase": phase, "containerStatuses": statuses})
	return err
}

// sealedSecret is the controller unsealing it: Synced True.
func (s *standIns) sealedSecret(ctx context.Context, ss *unstructured.Unstructured) error {
	conds, _, _ := unstructured.NestedSlice(ss.Object, "status", "conditions")
	if len(conds) > 0 {
		return nil
	}
	_, err := s.cp.SetStatus(ctx, ss, map[string]any{"observedGeneration": ss.GetGeneration(), "conditions": []any{
		map[string]any{"type": "Synced", "status": "True", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)},
	}})
	return err
}

// ingress is cert-manager's ingress-shim: an Ingress annotated with a
// cluster issuer gets a Certificate per TLS secret, issued (Ready) with
// its Secret.
func (s *standIns) ingress(ctx context.Context, ing *unstructured.Unstructured) error {
	issuer := ing.GetAnnotations()["cert-manager.io/cluster-issuer"]
	if issuer == "" {
		return nil
	}
	tlsList, _, _ := unstructured.NestedSlice(ing.Object, "spec", "tls")
	for _, item := range tlsList {
		m := item.(map[string]any)
		secret, _ := m["secretName"].(string)
		var hosts []string
		for _, h := range m["hosts"].([]any) {
			hosts = append(hosts, h.(string))
		}
		if err := s.issue(ctx, secret, issuer, hosts); err != nil {
			return err
		}
	}
	return nil
}

func (s *standIns) issue(ctx context.Context, secret, issuer string, hosts []string) error {
	certs := s.cp.Dynamic.Resource(gvrCertificates).Namespace(s.ns)
	if _, err := certs.Get(ctx, secret, metav1.GetOptions{}); err == nil {
		return nil
	}
	certPEM, keyPEM, notAfter, err := selfSigned(hosts)
	if err != nil {
		return err
	}
	sec := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
		"metadata":   map[string]any{"name": secret, "namespace": s.ns},
		"stringData": map[string]any{"tls.crt": string(certPEM), "tls.key": string(keyPEM)}}}
	if _, err := s.cp.Dynamic.Resource(gvrSecrets).Namespace(s.ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	dns := make([]any, len(hosts))
	for i, h := range hosts {
		dns[i] = h
	}
	c := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
		"metadata": map[string]any{"name": secret, "namespace": s.ns},
		"spec": map[string]any{"secretName": secret, "dnsNames": dns,
			"issuerRef": map[string]any{"name": issuer, "kind": "ClusterIssuer", "group": "cert-manager.io"}}}}
	created, err := certs.Create(ctx, c, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	_, err = s.cp.SetStatus(ctx, created, map[string]any{
		"notAfter": notAfter.UTC().Format(time.RFC3339), "renewalTime": notAfter.Add(-30 * 24 * time.Hour).UTC().Format(time.RFC3339),
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Ready", "message": "Certificate is up to date and has not expired",
			"lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}},
	})
	return err
}

// selfSigned makes a 90-day certificate for hosts, like Let's Encrypt's.
func selfSigned(hosts []string) (certPEM, keyPEM []byte, notAfter time.Time, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	notAfter = time.Now().Add(90 * 24 * time.Hour)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: hosts[0]},
		DNSNames: hosts, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), notAfter, nil
}
