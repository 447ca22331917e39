package kube

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ErrUnreachable marks a call that could not reach the API server
// (connection refused, reset, timeout) or that the server could not serve
// through (502, 503, 504). Retrying later may succeed.
var ErrUnreachable = errors.New("unreachable")

// ForbiddenError is an authorization denial: the credentials lack a
// permission. It names the missing verb and resource the way RBAC does.
type ForbiddenError struct {
	Verb      string // list, get, watch, create
	Resource  string // clusterissuers.cert-manager.io, deployments.apps, pods
	Namespace string // empty for cluster scope
}

func (e *ForbiddenError) Error() string {
	if e.Namespace != "" {
		return fmt.Sprintf("forbidden: %s %s in namespace %s", e.Verb, e.Resource, e.Namespace)
	}
	return fmt.Sprintf("forbidden: %s %s", e.Verb, e.Resource)
}

// Call is one API request as RBAC authorizes it: what a failed call's
// message names when the server's own message does not.
type Call struct {
	Verb      string // get, list, watch, create, patch, delete
	Resource  string // as kubectl names it: pods, deployments.apps, pods/log
	Namespace string // empty for cluster scope
	Name      string // the object; empty for a collection or a generated name
}

// String is "get pods/log x in namespace ns".
func (c Call) String() string {
	s := c.Verb + " " + c.Resource
	if c.Name != "" {
		s += " " + c.Name
	}
	if c.Namespace != "" {
		s += " in namespace " + c.Namespace
	}
	return s
}

// Error is a failed API call that is not an authorization denial: the
// server refused it (admission, validation, a conflict, a missing object),
// failed (5xx), or could not be reached. Its text is the server's message
// (or the transport's cause), never a guess at a missing permission; it
// unwraps to the client's error, so apierrors.IsForbidden, IsNotFound… and
// errors.As(…, *url.Error) still answer, and to [ErrUnreachable] when the
// server could not be reached or could not serve.
type Error struct {
	// Call is what was tried.
	Call Call
	// Code is the HTTP status (0: no answer from the server).
	Code int32
	// Reason is the API's machine-readable reason (Forbidden, Invalid,
	// Conflict, NotFound…), empty without an answer.
	Reason metav1.StatusReason
	// Message is the server's message, or the transport's cause.
	Message string

	unreachable bool
	err         error
}

func (e *Error) Error() string {
	s := e.Message
	if !e.namesObject() {
		s = e.Call.String() + ": " + s
	}
	if e.unreachable {
		s = ErrUnreachable.Error() + ": " + s
	}
	return s
}

// namesObject reports whether the server's message names what it refused
// (`pods "x" is forbidden: …`, `deployments.apps "api" not found`): the
// status details then name the call's object (or, for a call of no name,
// an object), and repeating the call would say it twice. A message about
// another object (the node of a pod's logs) is prefixed with the call.
func (e *Error) namesObject() bool {
	var st apierrors.APIStatus
	if !errors.As(e.err, &st) {
		return false
	}
	d := st.Status().Details
	return d != nil && d.Name != "" && (e.Call.Name == "" || d.Name == e.Call.Name) && e.Message == st.Status().Message
}

// Unwrap returns the client's error, and ErrUnreachable when the server
// could not be reached or could not serve.
func (e *Error) Unwrap() []error {
	if e.unreachable {
		return []error{e.err, ErrUnreachable}
	}
	return []error{e.err}
}

// Err maps the error of a call to what a result shows:
//
//   - an authorization denial becomes a [*ForbiddenError] naming the verb
//     the authorizer checked (else the call's; a list whose streaming
//     watch was denied stays a list), the call's resource and namespace;
//   - any other answer of the API server (an admission plugin's 403, 404,
//     409, 422, 5xx…) becomes an [*Error] carrying the server's message;
//     502, 503 and 504 also wrap [ErrUnreachable];
//   - an error without an answer (connection refused, a TLS failure, a
//     timeout) becomes an [*Error] wrapping [ErrUnreachable] whose message
//     is the cause, without the request's method and URL (a URL may carry
//     a token); the context's end is kept as it is, not unreachable.
//
// A nil err is nil; an error Err already mapped is returned as it is.
func Err(err error, c Call) error {
	if err == nil {
		return nil
	}
	var fe *ForbiddenError
	var ke *Error
	if errors.As(err, &fe) || errors.As(err, &ke) {
		return err
	}
	if verb, ok := AuthorizationDenied(err); ok {
		// The authorizer's verb is the permission missing (a server-side
		// apply that creates is authorized as create), but a streaming
		// list — a watch that sends the initial objects — is a list.
		if verb == "" || c.Verb == "list" && verb == "watch" {
			verb = c.Verb
		}
		return &ForbiddenError{Verb: verb, Resource: c.Resource, Namespace: c.Namespace}
	}
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		s := st.Status()
		e := &Error{Call: c, Code: s.Code, Reason: s.Reason, Message: s.Message, err: err}
		if e.Message == "" {
			e.Message = statusText(s)
		}
		switch s.Code {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			e.unreachable = true
		}
		return e
	}
	e := &Error{Call: c, Message: err.Error(), err: err}
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		e.Message = ue.Err.Error() // drop the method and URL: the cause is what matters
		if ue.Timeout() && !errors.Is(err, context.DeadlineExceeded) {
			e.Message = "timeout: " + e.Message
		}
	}
	e.unreachable = !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	return e
}

// statusText describes a Status that carries no message: its reason and
// HTTP code.
func statusText(s metav1.Status) string {
	code := strconv.Itoa(int(s.Code))
	if t := http.StatusText(int(s.Code)); t != "" {
		code += " " + t
	}
	if s.Reason != "" {
		return string(s.Reason) + " (" + code + ")"
	}
	return code
}

// authzDenied matches the authorizer's refusal as the API server words it
// (`User "alice" cannot create resource "pods" in API group "" in the
// namespace "ns"`, `User "bob" cannot get path "/metrics"`), at the start
// of the Status message or after its `… is forbidden: `: the verb it
// checked is the submatch.
var authzDenied = regexp.MustCompile(`(?:^|forbidden: )User "(?:[^"\\]|\\.)*" cannot (\S+) (?:resource|path) "`)

// AuthorizationDenied reports whether err is the API server's
// authorization denial (RBAC, or another authorizer), as opposed to an
// admission plugin's or a webhook's 403, and the verb the authorizer
// checked ("" if the message does not say). Both are 403 Forbidden; only
// the authorizer's message says "User … cannot <verb> …".
func AuthorizationDenied(err error) (verb string, ok bool) {
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		return "", false
	}
	s := st.Status()
	if s.Code != http.StatusForbidden || s.Reason != metav1.StatusReasonForbidden {
		return "", false
	}
	// Admission denials add causes (a ValidatingAdmissionPolicy's message)
	// or come from a webhook; the authorizer's never has causes.
	if s.Details != nil && len(s.Details.Causes) > 0 {
		return "", false
	}
	m := authzDenied.FindStringSubmatch(s.Message)
	if m == nil {
		return "", false
	}
	return m[1], true
}
