package kube

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// status is the error a client returns for a Status the API server sent.
func status(code int32, reason metav1.StatusReason, msg string, details *metav1.StatusDetails) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: reason, Message: msg, Details: details}}
}

// podDetails are the details the API server sends about pod name.
func podDetails(name string) *metav1.StatusDetails {
	return &metav1.StatusDetails{Kind: "pods", Name: name}
}

var pods = schema.GroupResource{Resource: "pods"}

// Every source of a 403 as the API server words it, and the other codes a
// call meets: only the authorizer's denial becomes "forbidden: <verb>
// <resource>"; everything else reads as the server said it.
func TestErr(t *testing.T) {
	create := Call{Verb: "create", Resource: "pods", Namespace: "nosa"}
	refused := &url.Error{Op: "Post", URL: "https://10.0.0.1:6443/api/v1/namespaces/nosa/pods?token=s3cr3t", Err: syscall.ECONNREFUSED}
	vap := status(http.StatusForbidden, metav1.StatusReasonForbidden,
		`pods "check-x" is forbidden: ValidatingAdmissionPolicy 'no-check-pods' with binding 'no-check-pods' denied request: check pods are not allowed here`,
		&metav1.StatusDetails{Kind: "pods", Name: "check-x", Causes: []metav1.StatusCause{{Message: "ValidatingAdmissionPolicy 'no-check-pods' with binding 'no-check-pods' denied request: check pods are not allowed here"}}})
	tests := []struct {
		name        string
		err         error
		call        Call
		want        string
		forbidden   bool // a *ForbiddenError
		unreachable bool
		reason      metav1.StatusReason
	}{
		{name: "RBAC, namespaced", call: create, forbidden: true, reason: metav1.StatusReasonForbidden,
			err:  apierrors.NewForbidden(pods, "check-x", errors.New(`User "lead" cannot create resource "pods" in API group "" in the namespace "nosa"`)),
			want: "forbidden: create pods in namespace nosa"},
		{name: "RBAC, with the authorizer's reason", call: create, forbidden: true, reason: metav1.StatusReasonForbidden,
			err:  apierrors.NewForbidden(pods, "", errors.New(`User "system:serviceaccount:ci:deployer" cannot create resource "pods" in API group "" in the namespace "nosa": RBAC: role.rbac.authorization.k8s.io "gone" not found`)),
			want: "forbidden: create pods in namespace nosa"},
		{name: "RBAC names the verb it checked", forbidden: true, reason: metav1.StatusReasonForbidden,
			call: Call{Verb: "patch", Resource: "deployments.apps", Namespace: "gravl", Name: "api"},
			err:  apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "api", errors.New(`User "lead" cannot create resource "deployments" in API group "apps" in the namespace "gravl"`)),
			want: "forbidden: create deployments.apps in namespace gravl"},
		{name: "RBAC, a streaming list is a list", forbidden: true, reason: metav1.StatusReasonForbidden,
			call: Call{Verb: "list", Resource: "deployments.apps", Namespace: "gravl"},
			err:  apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "", errors.New(`User "lead" cannot watch resource "deployments" in API group "apps" in the namespace "gravl"`)),
			want: "forbidden: list deployments.apps in namespace gravl"},
		{name: "RBAC, cluster scope", forbidden: true, reason: metav1.StatusReasonForbidden,
			call: Call{Verb: "list", Resource: "clusterissuers.cert-manager.io"},
			err:  apierrors.NewForbidden(schema.GroupResource{Group: "cert-manager.io", Resource: "clusterissuers"}, "", errors.New(`User "lead" cannot list resource "clusterissuers" in API group "cert-manager.io" at the cluster scope`)),
			want: "forbidden: list clusterissuers.cert-manager.io"},
		{name: "RBAC, a user name with quotes", call: create, forbidden: true, reason: metav1.StatusReasonForbidden,
			err:  apierrors.NewForbidden(pods, "", errors.New(`User "a \"b\" c" cannot create resource "pods" in API group "" in the namespace "nosa"`)),
			want: "forbidden: create pods in namespace nosa"},
		{name: "RBAC, a path", call: Call{Verb: "get", Resource: "/metrics"}, forbidden: true, reason: metav1.StatusReasonForbidden,
			err:  apierrors.NewForbidden(schema.GroupResource{}, "", errors.New(`User "lead" cannot get path "/metrics"`)),
			want: "forbidden: get /metrics"},
		{name: "missing ServiceAccount", call: create, reason: metav1.StatusReasonForbidden,
			err:  apierrors.NewForbidden(pods, "check-x", errors.New(`error looking up service account nosa/default: serviceaccount "default" not found`)),
			want: `pods "check-x" is forbidden: error looking up service account nosa/default: serviceaccount "default" not found`},
		{name: "PodSecurity", call: create, reason: metav1.StatusReasonForbidden,
			err:  apierrors.NewForbidden(pods, "root", errors.New(`violates PodSecurity "restricted:latest": runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true)`)),
			want: `pods "root" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true)`},
		{name: "ResourceQuota", call: create, reason: metav1.StatusReasonForbidden,
			err:  apierrors.NewForbidden(pods, "check-x", errors.New(`exceeded quota: no-pods, requested: pods=1, used: pods=0, limited: pods=0`)),
			want: `pods "check-x" is forbidden: exceeded quota: no-pods, requested: pods=1, used: pods=0, limited: pods=0`},
		{name: "ValidatingAdmissionPolicy", call: create, reason: metav1.StatusReasonForbidden, err: vap,
			want: `pods "check-x" is forbidden: ValidatingAdmissionPolicy 'no-check-pods' with binding 'no-check-pods' denied request: check pods are not allowed here`},
		{name: "a webhook", call: create, reason: metav1.StatusReasonForbidden,
			err:  status(http.StatusForbidden, metav1.StatusReasonForbidden, `admission webhook "validate.kyverno.svc-fail" denied the request: resource Pod/nosa/check-x was blocked: require-labels`, nil),
			want: `create pods in namespace nosa: admission webhook "validate.kyverno.svc-fail" denied the request: resource Pod/nosa/check-x was blocked: require-labels`},
		{name: "a webhook quoting a user", call: create, reason: metav1.StatusReasonForbidden,
			err:  status(http.StatusForbidden, metav1.StatusReasonForbidden, `admission webhook "g.sh" denied the request: User "lead" cannot create resource "pods" here after 18:00`, nil),
			want: `create pods in namespace nosa: admission webhook "g.sh" denied the request: User "lead" cannot create resource "pods" here after 18:00`},
		{name: "a 403 of no message", call: create, reason: metav1.StatusReasonForbidden,
			err:  status(http.StatusForbidden, metav1.StatusReasonForbidden, "", nil),
			want: "create pods in namespace nosa: Forbidden (403 Forbidden)"},
		{name: "422", reason: metav1.StatusReasonInvalid, call: Call{Verb: "patch", Resource: "deployments.apps", Namespace: "gravl", Name: "broken"},
			err:  apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, "broken", nil),
			want: `Deployment.apps "broken" is invalid`},
		{name: "409", reason: metav1.StatusReasonConflict, call: Call{Verb: "patch", Resource: "configmaps", Namespace: "gravl", Name: "cfg"},
			err:  apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, "cfg", errors.New("the object has been modified")),
			want: `Operation cannot be fulfilled on configmaps "cfg": the object has been modified`},
		{name: "404", reason: metav1.StatusReasonNotFound, call: Call{Verb: "get", Resource: "deployments.apps", Namespace: "gravl", Name: "ghost"},
			err:  apierrors.NewNotFound(schema.GroupResource{Group: "apps", Resource: "deployments"}, "ghost"),
			want: `deployments.apps "ghost" not found`},
		{name: "500 of no details", reason: metav1.StatusReasonInternalError, call: Call{Verb: "get", Resource: "pods/log", Namespace: "ns", Name: "check-x"},
			err:  status(http.StatusInternalServerError, metav1.StatusReasonInternalError, `Get "https://node-1:10250/containerLogs/ns/check-x/check": dial tcp: lookup node-1: no such host`, nil),
			want: `get pods/log check-x in namespace ns: Get "https://node-1:10250/containerLogs/ns/check-x/check": dial tcp: lookup node-1: no such host`},
		{name: "a message about another object", reason: metav1.StatusReasonNotFound, call: Call{Verb: "get", Resource: "pods/log", Namespace: "ns", Name: "check-x"},
			err:  apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "node-1"),
			want: `get pods/log check-x in namespace ns: pods "node-1" not found`},
		{name: "503 is unreachable", reason: metav1.StatusReasonServiceUnavailable, unreachable: true,
			call: Call{Verb: "list", Resource: "deployments.apps", Namespace: "gravl"},
			err:  apierrors.NewServiceUnavailable("etcd is restarting"),
			want: "unreachable: list deployments.apps in namespace gravl: etcd is restarting"},
		{name: "504 is unreachable", reason: metav1.StatusReasonTimeout, unreachable: true,
			call: Call{Verb: "get", Resource: "pods", Namespace: "ns", Name: "x"},
			err:  status(http.StatusGatewayTimeout, metav1.StatusReasonTimeout, "the request timed out", nil),
			want: "unreachable: get pods x in namespace ns: the request timed out"},
		{name: "a transport error drops the URL", call: create, unreachable: true, err: refused,
			want: "unreachable: create pods in namespace nosa: connection refused"},
		{name: "the context's end is no unreachable server", call: create,
			err:  &url.Error{Op: "Post", URL: "https://10.0.0.1:6443/api", Err: context.Canceled},
			want: "create pods in namespace nosa: context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Err(tt.err, tt.call)
			if got.Error() != tt.want {
				t.Errorf("Err() = %q\n want %q", got, tt.want)
			}
			var fe *ForbiddenError
			if errors.As(got, &fe) != tt.forbidden {
				t.Errorf("a *ForbiddenError: %v, want %v", !tt.forbidden, tt.forbidden)
			}
			if errors.Is(got, ErrUnreachable) != tt.unreachable {
				t.Errorf("unreachable: %v, want %v", !tt.unreachable, tt.unreachable)
			}
			if tt.forbidden {
				return
			}
			// The client's error stays in the chain: its reason, and the
			// transport error, are still found.
			if r := apierrors.ReasonForError(got); r != tt.reason {
				t.Errorf("reason %q, want %q", r, tt.reason)
			}
			var ke *Error
			if !errors.As(got, &ke) || ke.Call != tt.call {
				t.Errorf("not an *Error of call %+v: %#v", tt.call, got)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("the client's error is not in the chain")
			}
		})
	}
}

// A mapped error maps to itself, wrapped or not, and nil to nil.
func TestErrIdempotent(t *testing.T) {
	c := Call{Verb: "get", Resource: "pods", Namespace: "ns"}
	if Err(nil, c) != nil {
		t.Error("Err(nil) != nil")
	}
	denied := apierrors.NewForbidden(pods, "", errors.New(`User "u" cannot get resource "pods" in API group "" in the namespace "ns"`))
	for _, err := range []error{denied, apierrors.NewNotFound(pods, "x"), errors.New("EOF")} {
		once := Err(err, c)
		if twice := Err(once, Call{Verb: "list", Resource: "secrets"}); twice != once {
			t.Errorf("Err(Err(%v)) = %v, want %v", err, twice, once)
		}
		wrapped := fmt.Errorf("watch: %w", once)
		if got := Err(wrapped, c); got != wrapped {
			t.Errorf("Err(wrapped %v) = %v, want it unchanged", err, got)
		}
	}
}

// AuthorizationDenied tells the authorizer's refusal from the rest of the
// 403s, from the status alone.
func TestAuthorizationDenied(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantVerb string
		want     bool
	}{
		{name: "RBAC", err: status(403, metav1.StatusReasonForbidden, `pods "x" is forbidden: User "u" cannot delete resource "pods" in API group "" in the namespace "n"`, podDetails("x")),
			wantVerb: "delete", want: true},
		{name: "RBAC on a collection", err: status(403, metav1.StatusReasonForbidden, `pods is forbidden: User "u" cannot list resource "pods" in API group "" at the cluster scope`, &metav1.StatusDetails{Kind: "pods"}),
			wantVerb: "list", want: true},
		{name: "RBAC of a non-resource URL", err: status(403, metav1.StatusReasonForbidden, `forbidden: User "u" cannot get path "/logs"`, nil),
			wantVerb: "get", want: true},
		{name: "a ServiceAccount missing", err: status(403, metav1.StatusReasonForbidden, `pods "x" is forbidden: error looking up service account n/default: serviceaccount "default" not found`, podDetails("x"))},
		{name: "a policy with causes", err: status(403, metav1.StatusReasonForbidden, `pods "x" is forbidden: User "u" cannot create resource "pods" in API group "" in the namespace "n"`,
			&metav1.StatusDetails{Kind: "pods", Name: "x", Causes: []metav1.StatusCause{{Message: "policy"}}})},
		{name: "401", err: status(401, metav1.StatusReasonUnauthorized, "Unauthorized", nil)},
		{name: "403 of another reason", err: status(403, metav1.StatusReasonInvalid, `pods "x" is forbidden: User "u" cannot create resource "pods" in API group "" in the namespace "n"`, podDetails("x"))},
		{name: "no status", err: errors.New(`User "u" cannot create resource "pods"`)},
		{name: "wrapped", err: fmt.Errorf("list: %w", status(403, metav1.StatusReasonForbidden, `pods is forbidden: User "u" cannot watch resource "pods" in API group "" in the namespace "n"`, nil)),
			wantVerb: "watch", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verb, ok := AuthorizationDenied(tt.err)
			if verb != tt.wantVerb || ok != tt.want {
				t.Errorf("AuthorizationDenied() = %q, %v, want %q, %v", verb, ok, tt.wantVerb, tt.want)
			}
		})
	}
}
