package actions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cockpit-dev/cockpit/probes"
)

// ErrUnknownKind is returned for an action kind the registry does not hold.
var ErrUnknownKind = errors.New("unknown action kind")

// Spec is an action's configuration as decoded from a runbook's `action:`
// mapping (strictly: the runbook decoder rejects unknown fields; the
// `kind` key is taken out before decoding). Like a probe spec it is
// validated at parse time and built when the run starts.
type Spec interface {
	// Validate checks the spec's fields. Its errors are *probes.FieldError
	// values (joined), naming fields relative to the spec.
	Validate() error
	// Mutating reports whether the action changes anything. A mutating
	// action runs only in a run started with --allow-actions, after a dry
	// run (Plan) and the operator's confirmation; one that only observes
	// (a rollout watched without restart) runs like a probe.
	Mutating() bool
	// Describe says in one line what the action does ("apply 3 files to
	// gravl-prod"), for `cockpit check`, the TUI and the report. It never
	// carries secrets.
	Describe() string
	// Permissions lists the Kubernetes permissions the action needs, its
	// writes included (verbs get, create, patch, delete…), for `cockpit
	// rbac` and the access review before a phase. Actions that touch no
	// cluster return nil.
	Permissions() []probes.Permission
	// Build makes the action. The spec has been validated.
	Build(env Env) (Action, error)
}

// Env is what actions get from the process that runs them.
type Env struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Kube returns the Kubernetes cluster of a kubeconfig context name (""
	// is the step's cluster, else the default context). Nil means no
	// Kubernetes access: Kubernetes actions then fail to build.
	Kube func(context string) (*probes.Cluster, error)
	// Dir is the runbook's directory: relative manifest paths are read
	// from it.
	Dir string
}

// Clock returns the env's clock.
func (e Env) Clock() func() time.Time {
	if e.Now == nil {
		return time.Now
	}
	return e.Now
}

// Action is a built action. Plan and Execute honour ctx (the step's
// timeout); neither returns an error: what went wrong is in the Result,
// with StatusError, StatusForbidden or StatusFail.
type Action interface {
	// Plan says what Execute would do without changing anything: a
	// server-side dry run and its diff against the live objects. An action
	// whose plan fails (an invalid manifest, a forbidden verb) is not
	// offered for confirmation.
	Plan(ctx context.Context) Result
	// Execute does it. progress, when not nil, receives interim results
	// (a rollout's per-item progress); it must not block.
	Execute(ctx context.Context, progress func(Result)) Result
}

// Undoer is implemented by actions that can be undone on request — a
// rollout, to the revision its result offered (Result.UndoRevision) or to
// one the operator names.
type Undoer interface {
	Undo(ctx context.Context, revision int64) Result
}

// Cleaner is implemented by actions that leave something to take back
// later — a silence, expired when its window ends or the run aborts.
// ref is the Result.Cleanup of the execution.
type Cleaner interface {
	Cleanup(ctx context.Context, ref string) Result
}

// Result is what a plan or an execution did: a probe-style result (status,
// one-line summary, message, per-object items, values) plus what an action
// has that a probe has not. It is journaled, so it must never carry a
// secret (Secret data, tokens, Authorization headers).
type Result struct {
	probes.Result
	// Diff is a unified diff of the objects' YAML, live against the dry
	// run (managedFields and other server noise stripped; Secret data
	// redacted). Empty when nothing would change.
	Diff string `json:"diff,omitempty"`
	// Changes counts the objects the plan would create or change (0: the
	// action would do nothing).
	Changes int `json:"changes,omitempty"`
	// Objects are the objects touched, with what happened to each and
	// their versions after it.
	Objects []Object `json:"objects,omitempty"`
	// Output is captured output — a check pod's logs, a command's stdout
	// and stderr — bounded (the last OutputLimit bytes).
	Output string `json:"output,omitempty"`
	// UndoRevision, when > 0, is the revision a failed rollout offers to
	// go back to (Undoer).
	UndoRevision int64 `json:"undoRevision,omitempty"`
	// Cleanup, when set, is what to take back later (a silence id;
	// Cleaner).
	Cleanup string `json:"cleanup,omitempty"`
}

// OutputLimit bounds Result.Output: longer output keeps its tail.
const OutputLimit = 64 << 10

// Object is one object an action touched.
type Object struct {
	// Ref is "Kind/name" or "Kind/namespace/name" — kubectl's naming.
	Ref string `json:"ref"`
	// Op is what happened or would happen: created, configured, unchanged,
	// deleted, failed, skipped (not tried after an earlier failure).
	Op string `json:"op"`
	// ResourceVersion and Generation after the action (empty for a plan or
	// a failure).
	ResourceVersion string `json:"resourceVersion,omitempty"`
	Generation      int64  `json:"generation,omitempty"`
	// Error is why it failed.
	Error string `json:"error,omitempty"`
}

// Object ops.
const (
	OpCreated    = "created"
	OpConfigured = "configured"
	OpUnchanged  = "unchanged"
	OpDeleted    = "deleted"
	OpFailed     = "failed"
	OpSkipped    = "skipped"
)

// TailOutput keeps the last OutputLimit bytes of out, marking the cut.
func TailOutput(out string) string {
	if len(out) <= OutputLimit {
		return out
	}
	return "[… " + fmt.Sprint(len(out)-OutputLimit) + " bytes cut …]\n" + out[len(out)-OutputLimit:]
}

// specFieldErr builds the *probes.FieldError a Spec's Validate returns.
func specFieldErr(field, format string, args ...any) error {
	return &probes.FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// stampResult sets a result's time and duration.
func stampResult(res Result, start time.Time, now func() time.Time) Result {
	res.ObservedAt = start
	res.Duration = now().Sub(start)
	return res
}

// joinNotes joins two message parts with "; ", either may be empty.
func joinNotes(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// nounFor picks the singular or plural form of a noun for n.
func nounFor(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
