package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/cockpit-dev/cockpit/probes"
)

// specNamespaceErr checks an optional namespace field.
func specNamespaceErr(ns string) error {
	if ns == "" {
		return nil
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return specFieldErr("namespace", "%q: %s", ns, strings.Join(errs, "; "))
	}
	return nil
}

// kubeOf resolves a spec's kubeconfig context through env, and the
// namespace the action works in (the spec's, else the context's).
func kubeOf(env Env, contextName, namespace string) (*probes.Cluster, string, error) {
	if env.Kube == nil {
		return nil, "", errors.New("no Kubernetes access configured (kubeconfig)")
	}
	c, err := env.Kube(contextName)
	if err != nil {
		return nil, "", err // it names the context it looked for
	}
	if namespace == "" {
		namespace = c.Namespace()
	}
	return c, namespace, nil
}

// inNamespace is " in NS", or nothing when the spec leaves the namespace to
// the context.
func inNamespace(ns string) string {
	if ns == "" {
		return ""
	}
	return " in " + ns
}

// kubeErrStatus is the status a result shows for err: forbidden for an
// authorization denial (kube.Err made it a *probes.ForbiddenError), else
// error — an admission plugin's 403 included.
func kubeErrStatus(err error) probes.Status {
	if fe := (*probes.ForbiddenError)(nil); errors.As(err, &fe) {
		return probes.StatusForbidden
	}
	return probes.StatusError
}

// kubeErrFinal reports whether retrying err cannot help: RBAC, a missing
// object, a request the server rejects (admission included: a quota
// exceeded stays so for the run).
func kubeErrFinal(err error) bool {
	if fe := (*probes.ForbiddenError)(nil); errors.As(err, &fe) {
		return true
	}
	return apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || apierrors.IsNotFound(err) ||
		apierrors.IsBadRequest(err) || apierrors.IsInvalid(err) || apierrors.IsMethodNotSupported(err)
}

// followObject reads one object and then watches it from the version
// read, calling visit with each version (deleted: it went away, the last
// call) until visit returns true or ctx ends. A watch that ends is resumed
// from the last version seen; one whose version expired (410 Gone) starts
// over with a fresh read. Other failures are retried with capped backoff
// and reported to retrying — but for those retrying cannot help
// (kubeErrFinal: forbidden, not found…), which it returns. get and watchFn
// return errors mapped by kube.Err.
//
// Why not client-go's watch tools: UntilWithSync retries a forbidden list
// or watch forever without a word, where the operator must read
// "forbidden: watch deployments.apps in …" at once; RetryWatcher stops on
// a forbidden watch only when it sees the raw API error (kube.Err wraps
// it), retries other failures silently (the TUI's "retrying: …" note would
// be lost to klog) and ends on 410 Gone, so a re-reading wrapper would
// still be needed.
func followObject(ctx context.Context, name string,
	get func(context.Context) (runtime.Object, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error),
	visit func(obj runtime.Object, deleted bool) bool,
	retrying func(error),
) error {
	backoff := followBackoff()
	pause := func(err error) error {
		retrying(err)
		t := time.NewTimer(backoff.Step())
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		}
	}
	// failed ends the follow on ctx's end or a final error, and else
	// pauses before the next try.
	failed := func(err error) error {
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case kubeErrFinal(err):
			return err
		}
		return pause(err)
	}
	rv := ""
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if rv == "" {
			obj, err := get(ctx)
			if err != nil || ctx.Err() != nil {
				if err := failed(err); err != nil {
					return err
				}
				continue
			}
			if visit(obj, false) {
				return nil
			}
			rv = resourceVersionOf(obj)
		}
		w, err := watchFn(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(),
			ResourceVersion: rv, AllowWatchBookmarks: true})
		if err != nil && ctx.Err() == nil && (apierrors.IsGone(err) || apierrors.IsResourceExpired(err)) {
			rv = ""
			continue
		}
		if err != nil || ctx.Err() != nil {
			if err := failed(err); err != nil {
				return err
			}
			continue
		}
		done, sawEvent, err := drainWatch(ctx, w, &rv, visit)
		w.Stop()
		switch {
		case done:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && kubeErrFinal(err):
			return err
		case err != nil || !sawEvent:
			// A watch that failed, or ended having shown nothing: wait a
			// little before the next, so a server closing every watch at
			// once is not hammered.
			if err == nil {
				err = errors.New("watch closed")
			}
			if err := pause(err); err != nil {
				return err
			}
		default:
			backoff = followBackoff()
		}
	}
}

// drainWatch consumes w until visit is done, the watch ends or ctx does.
// It keeps *rv at the last version seen ("" after a 410 Gone: read
// afresh).
func drainWatch(ctx context.Context, w watch.Interface, rv *string, visit func(runtime.Object, bool) bool) (done, sawEvent bool, err error) {
	for {
		select {
		case <-ctx.Done():
			return false, sawEvent, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return false, sawEvent, nil
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				sawEvent = true
				*rv = resourceVersionOf(ev.Object)
				if visit(ev.Object, false) {
					return true, true, nil
				}
			case watch.Deleted:
				visit(ev.Object, true)
				return true, true, nil
			case watch.Bookmark:
				*rv = resourceVersionOf(ev.Object)
			case watch.Error:
				err := apierrors.FromObject(ev.Object)
				if apierrors.IsGone(err) || apierrors.IsResourceExpired(err) {
					*rv = ""
					return false, true, nil
				}
				return false, sawEvent, fmt.Errorf("watch: %w", err)
			}
		}
	}
}

func followBackoff() wait.Backoff {
	return wait.Backoff{Duration: 250 * time.Millisecond, Factor: 2, Jitter: 0.2, Steps: 1 << 30, Cap: 5 * time.Second}
}

func resourceVersionOf(obj runtime.Object) string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetResourceVersion()
}
