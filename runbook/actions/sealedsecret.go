package actions

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/cockpit-dev/cockpit/internal/kube"
	"github.com/cockpit-dev/cockpit/probes"
)

// Sealed secret defaults: kubeseal's controller name and namespace.
const (
	DefaultSealedSecretsController = "sealed-secrets-controller"
	DefaultSealedSecretsNamespace  = "kube-system"
	// DefaultSealedSecretTimeout bounds the wait for the SealedSecrets to
	// be Synced.
	DefaultSealedSecretTimeout = 2 * time.Minute
)

// sealedCertPath is where the controller serves its public certificate
// (kubeseal --fetch-cert reads it through the API server's service proxy).
const sealedCertPath = "/v1/cert.pem"

// sealedCertTimeout bounds the certificate's fetch: a controller that does
// not answer is not waited for.
const sealedCertTimeout = 15 * time.Second

// sealedSecretsGVR is the SealedSecret resource.
var sealedSecretsGVR = schema.GroupVersionResource{Group: "bitnami.com", Version: "v1alpha1", Resource: "sealedsecrets"}

// SealedSecretController names the sealed-secrets controller's Service.
type SealedSecretController struct {
	// Name is the Service's name (default sealed-secrets-controller, as
	// kubeseal --controller-name).
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// Namespace is its namespace (default kube-system, as kubeseal
	// --controller-namespace).
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
}

// SealedSecretSpec configures a "sealed-secret" action: the sealed-secrets
// controller's public certificate fetched as kubeseal --fetch-cert fetches
// it (its fingerprint, subject and expiry shown), then, when files are
// given, their SealedSecrets applied (server-side, previewed by a dry run
// and its diff) and each watched until the controller has unsealed it
// (its Synced condition True).
//
//	action: {kind: sealed-secret, files: [gravl/sealed-secrets.yaml], namespace: gravl-prod}
//	action: {kind: sealed-secret, controller: {namespace: sealed-secrets, name: sealed-secrets}}
//
// Only SealedSecrets are applied: a plain Secret in its files is refused
// (that is the mistake to stop — a secret in clear in the repository). The
// action never reads Secrets: the sealing key's backup is a manual step.
type SealedSecretSpec struct {
	// Files are the SealedSecret manifests, relative to the runbook's
	// directory (files or directories, as apply reads them). None: only
	// the controller's certificate is checked.
	Files []string `json:"files,omitempty" yaml:"files,omitempty"`
	// Namespace is where SealedSecrets naming none are applied; "" is the
	// context's namespace. Objects naming another namespace are refused.
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	// Context is the kubeconfig context; "" is the step's cluster.
	Context string `json:"context,omitempty" yaml:"context,omitempty"`
	// Controller is the controller's Service.
	Controller SealedSecretController `json:"controller,omitempty" yaml:"controller,omitempty"`
	// Cert, when set, is where the certificate is read instead of through
	// the API server's service proxy, as kubeseal --cert reads it: an
	// http:// or https:// URL (the controller exposed by an Ingress, for
	// credentials without services/proxy) or a file relative to the
	// runbook (the certificate the secrets were sealed with).
	Cert string `json:"cert,omitempty" yaml:"cert,omitempty"`
	// Timeout bounds the wait for every SealedSecret to be Synced (default
	// 2m).
	Timeout probes.Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`

	// baseDir is where Permissions reads the files from (SetBaseDir); Build
	// reads them from Env.Dir.
	baseDir string
	files   *manifestCache // what Permissions read (SetBaseDir makes it)
}

var (
	_ Spec       = (*SealedSecretSpec)(nil)
	_ BaseDirSet = (*SealedSecretSpec)(nil)
)

// SetBaseDir implements BaseDirSet: Permissions reads the manifests'
// namespaces from dir when the spec names no namespace.
func (s *SealedSecretSpec) SetBaseDir(dir string) { s.baseDir, s.files = dir, &manifestCache{} }

// controller is the controller's Service with kubeseal's defaults.
func (s *SealedSecretSpec) controller() SealedSecretController {
	c := s.Controller
	if c.Name == "" {
		c.Name = DefaultSealedSecretsController
	}
	if c.Namespace == "" {
		c.Namespace = DefaultSealedSecretsNamespace
	}
	return c
}

// Validate implements Spec. The files are read by Build (parsing has no
// runbook directory).
func (s *SealedSecretSpec) Validate() error {
	var errs []error
	for i, f := range s.Files {
		if strings.TrimSpace(f) == "" {
			errs = append(errs, specFieldErr(fmt.Sprintf("files[%d]", i), "must not be empty"))
		}
	}
	if err := specNamespaceErr(s.Namespace); err != nil {
		errs = append(errs, err)
	}
	if n := s.Controller.Namespace; n != "" {
		if e := validation.IsDNS1123Label(n); len(e) > 0 {
			errs = append(errs, specFieldErr("controller.namespace", "%q: %s", n, strings.Join(e, "; ")))
		}
	}
	if n := s.Controller.Name; n != "" {
		if e := validation.IsDNS1035Label(n); len(e) > 0 {
			errs = append(errs, specFieldErr("controller.name", "%q is not a Service name: %s", n, strings.Join(e, "; ")))
		}
	}
	if s.Timeout < 0 {
		errs = append(errs, specFieldErr("timeout", "must not be negative, got %s", time.Duration(s.Timeout)))
	}
	if c := s.Cert; c != "" {
		switch u, err := url.Parse(c); {
		case strings.TrimSpace(c) != c:
			errs = append(errs, specFieldErr("cert", "%q has surrounding spaces", c))
		case isCertURL(c) && (err != nil || u.Host == ""):
			errs = append(errs, specFieldErr("cert", "%q is not a URL with a host", c))
		case isCertURL(c) && (u.User != nil || u.RawQuery != ""):
			// The URL is shown and journaled: no credentials in it.
			errs = append(errs, specFieldErr("cert", "a URL with credentials or a query would be shown and journaled: serve the certificate without them"))
		case !isCertURL(c) && strings.Contains(c, "://"):
			errs = append(errs, specFieldErr("cert", "%q: want an http:// or https:// URL or a file", c))
		}
	}
	return errors.Join(errs...)
}

// isCertURL tells a cert URL from a file name.
func isCertURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// Mutating implements Spec: only applying files changes anything; without
// them the action checks the controller like a probe.
func (s *SealedSecretSpec) Mutating() bool { return len(s.Files) > 0 }

// Describe implements Spec.
func (s *SealedSecretSpec) Describe() string {
	c := s.controller()
	if len(s.Files) == 0 {
		if s.Cert != "" {
			return "check the sealing certificate at " + s.Cert
		}
		return fmt.Sprintf("fetch the sealing certificate of %s/%s", c.Namespace, c.Name)
	}
	return fmt.Sprintf("apply SealedSecrets from %s%s and wait until %s/%s has unsealed them (timeout %s)",
		strings.Join(s.Files, ", "), inNamespace(s.Namespace), c.Namespace, c.Name, ShortDuration(s.Timeout.Or(DefaultSealedSecretTimeout)))
}

// Permissions implements Spec: get of the controller's Service and of
// services/proxy in its namespace (kubeseal --fetch-cert's; none when the
// certificate comes from Cert); with files, get, create and patch (the
// server-side apply), list and watch (the wait for Synced) of
// sealedsecrets.bitnami.com where they are applied. Never Secrets.
func (s *SealedSecretSpec) Permissions() []probes.Permission {
	c := s.controller()
	var perms []probes.Permission
	if s.Cert == "" {
		perms = []probes.Permission{
			{Context: s.Context, Resource: "services", Namespace: c.Namespace, Verbs: []string{"get"}},
			{Context: s.Context, Resource: "services/proxy", Namespace: c.Namespace, Verbs: []string{"get"}},
		}
	}
	if len(s.Files) == 0 {
		return perms
	}
	for _, ns := range s.targetNamespaces() {
		perms = append(perms, probes.Permission{Context: s.Context, Group: sealedSecretsGVR.Group, Resource: sealedSecretsGVR.Resource,
			Namespace: ns, Verbs: []string{"get", "create", "patch", "list", "watch"}})
	}
	return perms
}

// targetNamespaces are the namespaces the SealedSecrets go to: the
// spec's, or, when it names none, those the manifests name (read from the
// base directory, see SetBaseDir; the context's namespace, "", for
// objects naming none or when the files cannot be read).
func (s *SealedSecretSpec) targetNamespaces() []string {
	if s.Namespace != "" {
		return []string{s.Namespace}
	}
	dir := s.baseDir
	if dir == "" {
		dir = "."
	}
	ms, err := s.files.read(dir, s.Files)
	if err != nil {
		return []string{""}
	}
	var out []string
	for _, m := range ms {
		if ns := m.obj.GetNamespace(); !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	return out
}

// Build implements Spec: it reads the manifests (errors name the file and
// document), refusing any object that is not a SealedSecret, and resolves
// the cluster.
func (s *SealedSecretSpec) Build(env Env) (Action, error) {
	var objs []*unstructured.Unstructured
	if len(s.Files) > 0 {
		ms, err := readManifestFiles(env.Dir, s.Files)
		if err != nil {
			return nil, fmt.Errorf("read manifests: %w", err)
		}
		if len(ms) == 0 {
			return nil, fmt.Errorf("read manifests: %s hold no objects", strings.Join(s.Files, ", "))
		}
		for _, m := range ms {
			if err := checkSealedSecret(m); err != nil {
				return nil, err
			}
			objs = append(objs, m.obj)
		}
	}
	c, _, err := kubeOf(env, s.Context, s.Namespace)
	if err != nil {
		return nil, err
	}
	a := &sealedSecretAction{
		c:          c,
		typed:      c.Typed(),
		dynamic:    c.Dynamic(),
		controller: s.controller(),
		objs:       objs,
		namespace:  s.Namespace,
		timeout:    s.Timeout.Or(DefaultSealedSecretTimeout),
		now:        env.Clock(),
		certSource: s.Cert,
	}
	switch {
	case s.Cert == "":
		a.fetchCert = a.proxyCert
	case isCertURL(s.Cert):
		a.fetchCert = a.urlCert
	default:
		file := s.Cert
		if !filepath.IsAbs(file) {
			file = filepath.Join(env.Dir, file)
		}
		a.fetchCert = func(context.Context) ([]byte, error) {
			data, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("cert %s: %w", s.Cert, err)
			}
			return data, nil
		}
	}
	return a, nil
}

// urlCert fetches the certificate from the cert URL, as kubeseal --cert
// does: a GET, TLS verified against the system's roots.
func (a *sealedSecretAction) urlCert(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, sealedCertTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.certSource, nil)
	if err != nil {
		return nil, fmt.Errorf("cert %s: %w", a.certSource, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch the certificate: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read the certificate from %s: %w", a.certSource, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch the certificate from %s: HTTP %s", a.certSource, resp.Status)
	}
	return body, nil
}

// checkSealedSecret refuses an object that is not a SealedSecret.
func checkSealedSecret(m manifest) error {
	gvk := m.obj.GroupVersionKind()
	if gvk.Group == sealedSecretsGVR.Group && gvk.Kind == "SealedSecret" {
		return nil
	}
	where := m.source
	if where == "" {
		where = "manifest"
	}
	what := gvk.Kind + " " + m.obj.GetName()
	if gvk.Group == "" && gvk.Kind == "Secret" {
		return fmt.Errorf("%s: %s is a plain Secret: a sealed-secret step applies only SealedSecrets (bitnami.com/v1alpha1); seal it with kubeseal and never commit the Secret", where, what)
	}
	return fmt.Errorf("%s: %s (%s) is not a SealedSecret: a sealed-secret step applies only SealedSecrets (bitnami.com/v1alpha1); apply it with an apply step", where, what, gvk.GroupVersion())
}

type sealedSecretAction struct {
	c          *probes.Cluster
	typed      kubernetes.Interface
	dynamic    dynamic.Interface
	controller SealedSecretController
	objs       []*unstructured.Unstructured
	namespace  string // the spec's: "" lets the manifests' own namespaces stand
	timeout    time.Duration
	now        func() time.Time
	// certSource is the spec's cert: "" is the controller's service proxy.
	certSource string
	// fetchCert returns the controller's certificate PEM (proxyCert,
	// urlCert or a file; tests stand in for a controller the test API
	// server cannot proxy to).
	fetchCert func(ctx context.Context) ([]byte, error)
}

var _ Action = (*sealedSecretAction)(nil)

// svcRef is namespace/name of the controller's Service.
func (a *sealedSecretAction) svcRef() string { return a.controller.Namespace + "/" + a.controller.Name }

// certRef names where the certificate comes from.
func (a *sealedSecretAction) certRef() string {
	if a.certSource != "" {
		return a.certSource
	}
	return a.svcRef()
}

// proxyCert fetches the certificate as kubeseal does: the Service's first
// port (by name, else number), /v1/cert.pem through the API server's
// service proxy.
func (a *sealedSecretAction) proxyCert(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, sealedCertTimeout)
	defer cancel()
	ns, name := a.controller.Namespace, a.controller.Name
	svc, err := a.typed.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("service %s not found: set controller.name/controller.namespace (kubeseal --controller-name/--controller-namespace): %w", a.svcRef(), err)
	case authorizationDenied(err):
		return nil, &sealedForbiddenError{ForbiddenError: probes.ForbiddenError{Verb: "get", Resource: "services", Namespace: ns},
			msg: fmt.Sprintf("forbidden: get services in %s — the credentials need `get` on `services` (the controller's Service %s)", ns, a.svcRef())}
	case err != nil:
		return nil, fmt.Errorf("get service %s: %w", a.svcRef(), err)
	}
	if len(svc.Spec.Ports) == 0 {
		return nil, fmt.Errorf("service %s has no ports to reach the controller on", a.svcRef())
	}
	port := svc.Spec.Ports[0].Name
	if port == "" {
		port = strconv.Itoa(int(svc.Spec.Ports[0].Port))
	}
	body, err := a.typed.CoreV1().Services(ns).ProxyGet("http", name, port, sealedCertPath, nil).DoRaw(ctx)
	if err == nil {
		return body, nil
	}
	// The API server's own refusals come back as a Status the client does
	// not always decode (a proxy's answer is not the API's): read it.
	// Only the authorizer's denial is a missing permission: a 403 the
	// controller itself answered (its body, not the API's Status) is its
	// refusal, and reads as such.
	msg := err.Error()
	denied := authorizationDenied(err)
	var st metav1.Status
	if json.Unmarshal(body, &st) == nil && st.Kind == "Status" && st.Message != "" {
		msg = st.Message
		denied = denied || authorizationDenied(&apierrors.StatusError{ErrStatus: st})
	} else if s, ok := err.(apierrors.APIStatus); ok && s.Status().Message != "" {
		msg = s.Status().Message
	}
	switch {
	case denied:
		return nil, &sealedForbiddenError{ForbiddenError: probes.ForbiddenError{Verb: "get", Resource: "services/proxy", Namespace: ns},
			msg: fmt.Sprintf("forbidden: get services/proxy in %s — the credentials need `get` on `services/proxy`", ns)}
	case apierrors.IsForbidden(err):
		if answer := probes.FirstLine(string(body)); answer != "" {
			msg = answer
		}
		return nil, fmt.Errorf("the controller refused the certificate request through service %s: %s: %w", a.svcRef(), msg, err)
	case apierrors.IsServiceUnavailable(err) && strings.Contains(msg, "no endpoints available"):
		return nil, fmt.Errorf("the controller has no ready endpoints (service %s): is it running? (%s: %w)", a.svcRef(), msg, err)
	case apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err):
		return nil, fmt.Errorf("the controller did not answer through service %s: %s: %w", a.svcRef(), probes.FirstLine(msg), errSealedUnreachable)
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("the controller at service %s does not serve %s (is it the sealed-secrets controller?): %w", a.svcRef(), sealedCertPath, err)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("the controller did not answer through service %s within %s: %w", a.svcRef(), ShortDuration(sealedCertTimeout), err)
	}
	return nil, fmt.Errorf("fetch %s from service %s: %w", sealedCertPath, a.svcRef(), err)
}

// errSealedUnreachable: the API server could not reach the controller.
var errSealedUnreachable = errors.New("unreachable")

// authorizationDenied reports whether err is the API server's
// authorization denial (not an admission plugin's, nor a proxied
// backend's, 403).
func authorizationDenied(err error) bool {
	_, ok := kube.AuthorizationDenied(err)
	return ok
}

// sealedForbiddenError is an RBAC refusal with a message saying which
// permission to grant.
type sealedForbiddenError struct {
	probes.ForbiddenError
	msg string
}

func (e *sealedForbiddenError) Error() string { return e.msg }

// Unwrap makes errors.As find the *probes.ForbiddenError.
func (e *sealedForbiddenError) Unwrap() error { return &e.ForbiddenError }

// sealingCert is what is shown of the controller's certificate.
type sealingCert struct {
	fingerprint string // SHA-256 of the DER, AB:CD:… as openssl shows it
	subject     string
	notAfter    time.Time
}

// parseSealingCert reads the first certificate of a PEM bundle.
func parseSealingCert(data []byte) (sealingCert, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return sealingCert{}, fmt.Errorf("no PEM certificate in the %d bytes served at %s", len(data), sealedCertPath)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return sealingCert{}, fmt.Errorf("the certificate at %s: %w", sealedCertPath, err)
		}
		sum := sha256.Sum256(cert.Raw)
		hexes := make([]string, len(sum))
		for i, b := range sum {
			hexes[i] = fmt.Sprintf("%02X", b)
		}
		return sealingCert{fingerprint: strings.Join(hexes, ":"), subject: cert.Subject.String(), notAfter: cert.NotAfter}, nil
	}
}

// checkCert fetches and reads the certificate: its item and days left, or
// the error.
func (a *sealedSecretAction) checkCert(ctx context.Context, now time.Time) (probes.Item, float64, error) {
	it := probes.Item{Name: "certificate " + a.certRef()}
	data, err := a.fetchCert(ctx)
	if err == nil {
		var cert sealingCert
		if cert, err = parseSealingCert(data); err == nil {
			days := math.Floor(cert.notAfter.Sub(now).Hours() / 24)
			it.Status = probes.StatusPass
			it.Summary = fmt.Sprintf("SHA256 %s…, %s, expires %s (%d days)", cert.fingerprint[:23], cert.subject, cert.notAfter.UTC().Format("2006-01-02"), int(days))
			it.Message = "SHA256 Fingerprint=" + cert.fingerprint
			if days < 0 {
				it.Status, it.Reason = probes.StatusWarn, "Expired"
				it.Message += "; expired: kubeseal still seals with it, but the controller should have renewed its key"
			}
			return it, days, nil
		}
	}
	it.Status, it.Summary = kubeErrStatus(err), "unavailable"
	it.Message = err.Error()
	return it, 0, err
}

// certResult is the result of the certificate check alone.
func (a *sealedSecretAction) certResult(ctx context.Context, start time.Time) (Result, bool) {
	it, days, err := a.checkCert(ctx, start)
	res := Result{}
	res.Items = []probes.Item{it}
	if err != nil {
		res.Status = it.Status
		res.Summary = "cannot fetch the sealing certificate"
		res.Message = err.Error()
		return res, false
	}
	res.Status = it.Status
	res.Values = map[string]float64{"cert_days_left": days}
	res.Summary = "controller " + a.svcRef() + " answers: certificate " + it.Summary
	if a.certSource != "" {
		res.Summary = "certificate " + it.Summary
	}
	return res, true
}

// Plan implements Action: the controller's certificate and, with files, a
// server-side dry run of the SealedSecrets with its diff.
func (a *sealedSecretAction) Plan(ctx context.Context) Result {
	start := a.now()
	res, _ := a.certResult(ctx, start)
	if len(a.objs) == 0 {
		return stampResult(res, start, a.now)
	}
	dry := applyObjects(ctx, a.c, a.objs, a.namespace, false, true)
	return stampResult(mergeSealed(res, dry, "would apply"), start, a.now)
}

// mergeSealed adds an apply's result to the certificate's: its items,
// diff, changes and objects; the worse status; both summaries.
func mergeSealed(cert, apply Result, verb string) Result {
	out := apply
	out.Items = slices.Concat(cert.Items, apply.Items)
	out.Values = cert.Values
	out.Status = probes.Worst(cert.Status, apply.Status)
	out.Summary = joinNotes(verb+": "+apply.Summary, cert.Summary)
	if !cert.Status.OK() {
		out.Summary = joinNotes(cert.Summary, verb+": "+apply.Summary)
		out.Message = joinNotes(cert.Message, apply.Message)
	}
	return out
}

// Execute implements Action: the certificate check; then, with files, the
// apply and the wait until each SealedSecret is Synced. A controller that
// does not answer stops it before anything is applied: what it cannot
// unseal should not land.
func (a *sealedSecretAction) Execute(ctx context.Context, progress func(Result)) Result {
	start := a.now()
	cert, ok := a.certResult(ctx, start)
	if len(a.objs) == 0 || !ok {
		if !ok && len(a.objs) > 0 {
			cert.Message = joinNotes(cert.Message, "nothing applied")
		}
		return stampResult(cert, start, a.now)
	}
	// The wall clock, not the env's: the controller's condition times are
	// compared with it.
	appliedAt := time.Now()
	applied := applyObjects(ctx, a.c, a.objs, a.namespace, false, false)
	res := mergeSealed(cert, applied, "applied")
	if !applied.Status.OK() {
		return stampResult(res, start, a.now)
	}
	if progress != nil {
		p := res
		p.Status = probes.StatusPending
		p.Summary = "applied; waiting for the controller to unseal"
		progress(stampResult(p, start, a.now))
	}
	synced := a.waitSynced(ctx, progress, res, cert.Items[0], start, appliedAt)
	return stampResult(synced, start, a.now)
}

// sealedState is where one SealedSecret's unsealing stands.
type sealedState struct {
	ns, name string
	status   probes.Status // pending, pass (Synced True), fail (False), error
	reason   string
	message  string
	since    time.Time
	// notBefore, when set, is the time of the apply that changed the
	// object: without an observedGeneration, a Synced condition written
	// before it is the old version's.
	notBefore time.Time
}

func (s sealedState) ref() string { return "SealedSecret/" + s.ns + "/" + s.name }

func (s sealedState) item() probes.Item {
	it := probes.Item{Name: s.ref(), Status: s.status, Reason: s.reason, Message: s.message, Since: s.since}
	switch s.status {
	case probes.StatusPass:
		it.Summary = "Synced"
	case probes.StatusFail:
		it.Summary = "not Synced"
	case probes.StatusPending:
		it.Summary = "waiting for Synced"
	default:
		it.Summary = "cannot follow"
	}
	return it
}

// sealedSyncState reads a SealedSecret's Synced condition, ignoring one
// written for an older generation: by status.observedGeneration when the
// controller sets it; else, when notBefore is set (the object was changed
// by an apply then), by the condition's lastUpdateTime (or
// lastTransitionTime when it has none), which must be at or after
// notBefore.
func sealedSyncState(u *unstructured.Unstructured, notBefore time.Time) sealedState {
	st := sealedState{ns: u.GetNamespace(), name: u.GetName(), status: probes.StatusPending, message: "no Synced condition yet", notBefore: notBefore}
	og, observed, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	if observed && og < u.GetGeneration() {
		st.message = fmt.Sprintf("the controller has not seen generation %d yet (observed %d)", u.GetGeneration(), og)
		return st
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != "Synced" {
			continue
		}
		st.reason, _ = m["reason"].(string)
		st.message, _ = m["message"].(string)
		if t, ok := m["lastTransitionTime"].(string); ok {
			st.since, _ = time.Parse(time.RFC3339, t)
		}
		if !observed && !notBefore.IsZero() {
			written := "no time"
			at, ok := sealedConditionTime(m)
			if ok {
				written = at.UTC().Format(time.RFC3339)
			}
			// Condition times have whole seconds: one written in the
			// apply's second counts as after it.
			if !ok || at.Before(notBefore.Truncate(time.Second)) {
				st.reason = ""
				status, _ := m["status"].(string)
				st.message = fmt.Sprintf("the Synced condition (%s, written %s) predates the apply at %s and the controller writes no observedGeneration: waiting for it to be written anew",
					status, written, notBefore.UTC().Format(time.RFC3339))
				return st
			}
		}
		switch m["status"] {
		case "True":
			st.status = probes.StatusPass
		case "False":
			st.status = probes.StatusFail
		}
		return st
	}
	return st
}

// waitSynced follows every applied SealedSecret until each is Synced, one
// is not (Synced False), or the timeout passes. appliedAt is when the
// apply began: an object it configured must show a Synced condition
// written since (sealedSyncState).
func (a *sealedSecretAction) waitSynced(ctx context.Context, progress func(Result), applied Result, certItem probes.Item, start, appliedAt time.Time) Result {
	wctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	states := make([]sealedState, len(a.objs))
	for i, o := range a.objs {
		ns := o.GetNamespace()
		if ns == "" {
			ns = a.namespace
		}
		if ns == "" {
			ns = a.c.Namespace()
		}
		states[i] = sealedState{ns: ns, name: o.GetName(), status: probes.StatusPending, message: "no Synced condition yet"}
		// An object this apply changed may still show the Synced
		// condition of its previous version.
		for _, obj := range applied.Objects {
			if obj.Ref == states[i].ref() && obj.Op == OpConfigured {
				states[i].notBefore = appliedAt
			}
		}
	}
	snapshot := func() Result {
		res := applied
		items := []probes.Item{certItem}
		synced := 0
		for _, s := range states {
			items = append(items, s.item())
			if s.status == probes.StatusPass {
				synced++
			}
		}
		res.Items = items
		res.Values = map[string]float64{"synced": float64(synced), "sealedsecrets": float64(len(states))}
		if d, ok := applied.Values["cert_days_left"]; ok {
			res.Values["cert_days_left"] = d
		}
		return res
	}
	for i := range states {
		if states[i].status != probes.StatusPending {
			continue
		}
		states[i] = a.follow(wctx, states[i])
		if progress != nil && wctx.Err() == nil {
			p := snapshot()
			p.Status, p.Summary = probes.StatusPending, fmt.Sprintf("%d of %d SealedSecrets Synced", int(p.Values["synced"]), len(states))
			progress(stampResult(p, start, a.now))
		}
		if states[i].status != probes.StatusPass {
			break // the first failure decides; the rest are not waited for
		}
	}
	res := snapshot()
	synced := int(res.Values["synced"])
	for _, s := range states {
		switch s.status {
		case probes.StatusPass:
			continue
		case probes.StatusFail:
			res.Status = probes.StatusFail
			res.Summary = fmt.Sprintf("%s not Synced: %s", s.ref(), strings.TrimPrefix(s.reason+": "+s.message, ": "))
			res.Message = fmt.Sprintf("the controller could not unseal %s (Synced False, reason %s): %s", s.ref(), s.reason, s.message)
		case probes.StatusPending:
			switch {
			case ctx.Err() != nil:
				res.Status, res.Summary = probes.StatusError, "interrupted"
				res.Message = fmt.Sprintf("interrupted (%v) waiting for %s to be Synced: %s", context.Cause(ctx), s.ref(), s.message)
			default:
				res.Status = probes.StatusFail
				res.Summary = fmt.Sprintf("timed out after %s waiting for %s to be Synced", ShortDuration(a.timeout), s.ref())
				res.Message = fmt.Sprintf("timed out after %s: %d of %d SealedSecrets Synced; %s: %s", ShortDuration(a.timeout), synced, len(states), s.ref(), s.message)
			}
		default:
			res.Status, res.Summary = s.status, "cannot follow "+s.ref()
			res.Message = s.message
		}
		return res
	}
	res.Status = probes.StatusPass
	res.Summary = fmt.Sprintf("%d %s applied and Synced; %s", len(states), nounFor(len(states), "SealedSecret", "SealedSecrets"), certItem.Name+": "+certItem.Summary)
	return res
}

// sealedConditionTime is when a condition was last written: its
// lastUpdateTime, else its lastTransitionTime.
func sealedConditionTime(cond map[string]any) (time.Time, bool) {
	for _, k := range []string{"lastUpdateTime", "lastTransitionTime"} {
		if v, ok := cond[k].(string); ok && v != "" {
			t, err := time.Parse(time.RFC3339, v)
			return t, err == nil
		}
	}
	return time.Time{}, false
}

// follow watches one SealedSecret until its Synced condition is True or
// False, or ctx ends, and returns where it stands.
func (a *sealedSecretAction) follow(ctx context.Context, st sealedState) sealedState {
	ri := a.dynamic.Resource(sealedSecretsGVR).Namespace(st.ns)
	var retryErr error
	err := followObject(ctx, st.name,
		func(ctx context.Context) (runtime.Object, error) {
			u, err := ri.Get(ctx, st.name, metav1.GetOptions{})
			if err != nil {
				return nil, kube.Err(err, kube.Call{Verb: "get", Resource: sealedSecretsGVR.GroupResource().String(), Namespace: st.ns, Name: st.name})
			}
			return u, nil
		},
		func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			w, err := ri.Watch(ctx, opts)
			if err != nil {
				return nil, kube.Err(err, kube.Call{Verb: "watch", Resource: sealedSecretsGVR.GroupResource().String(), Namespace: st.ns, Name: st.name})
			}
			return w, nil
		},
		func(obj runtime.Object, deleted bool) bool {
			u, ok := obj.(*unstructured.Unstructured)
			if !ok {
				return false
			}
			if deleted {
				st.status, st.reason, st.message = probes.StatusFail, "Deleted", "deleted before it was Synced"
				return true
			}
			st = sealedSyncState(u, st.notBefore)
			return st.status != probes.StatusPending
		},
		func(err error) { retryErr = err })
	if err != nil && ctx.Err() == nil {
		st.status, st.message = kubeErrStatus(err), err.Error()
	} else if err != nil && retryErr != nil {
		st.message = joinNotes(st.message, "last error: "+retryErr.Error())
	}
	return st
}
