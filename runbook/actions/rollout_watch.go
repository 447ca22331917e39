package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/cockpit-dev/cockpit/internal/kube"
	"github.com/cockpit-dev/cockpit/probes"
)

// pausedErr refuses to restart or undo a paused Deployment, as kubectl
// does: nothing would roll out until it is resumed.
func pausedErr(ref kube.WorkloadRef, u *unstructured.Unstructured) error {
	if ref.Kind != kube.Deployment {
		return nil
	}
	if paused, _, _ := unstructured.NestedBool(u.Object, "spec", "paused"); paused {
		return fmt.Errorf("%s is paused: resume it first (kubectl rollout resume %s)", ref, ref)
	}
	return nil
}

// restartPatch is kubectl rollout restart's patch.
func restartPatch(at string) []byte {
	b, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{restartedAtAnnotation: at}}}}})
	return b
}

// planRestart dry-runs the restart patch of every workload.
func (a *rolloutAction) planRestart(ctx context.Context) Result {
	at := a.now().UTC().Format(time.RFC3339)
	var res Result
	var statuses []probes.Status
	for _, ref := range a.refs {
		item := probes.Item{Name: ref.String(), Status: probes.StatusPass}
		obj := Object{Ref: objectRef(ref, a.wl.ns), Op: OpConfigured}
		changes, err := a.dryRunRestart(ctx, ref, at)
		if err != nil {
			item.Status, item.Summary, item.Message = kubeErrStatus(err), "cannot restart", err.Error()
			if errors.Is(err, errPaused) {
				item.Status = probes.StatusFail
			}
			obj.Op, obj.Error = OpFailed, err.Error()
			res.Message = joinNotes(res.Message, err.Error())
		} else {
			res.Changes++
			item.Summary = "restartedAt → " + at
			item.Message = strings.Join(changes, "; ")
			res.Message = joinNotes(res.Message, ref.String()+": "+strings.Join(changes, "; "))
		}
		statuses = append(statuses, item.Status)
		res.Items = append(res.Items, item)
		res.Objects = append(res.Objects, obj)
	}
	res.Status = probes.Worst(statuses...)
	res.Summary = fmt.Sprintf("would restart %d of %d %s and watch them roll out (deadline %s)", res.Changes, len(a.refs),
		nounFor(len(a.refs), "workload", "workloads"), a.deadline)
	return res
}

// errPaused marks a refusal to restart or undo a paused Deployment.
var errPaused = errors.New("paused")

// dryRunRestart checks one restart and says what it changes.
func (a *rolloutAction) dryRunRestart(ctx context.Context, ref kube.WorkloadRef, at string) ([]string, error) {
	live, err := a.wl.get(ctx, ref)
	if err != nil {
		return nil, err
	}
	if err := pausedErr(ref, live); err != nil {
		return nil, fmt.Errorf("%w: %w", errPaused, err)
	}
	dry, err := a.wl.patch(ctx, ref, types.StrategicMergePatchType, restartPatch(at), true)
	if err != nil {
		return nil, err
	}
	changes := templateChanges(live, dry)
	if strategy, _, _ := unstructured.NestedString(live.Object, "spec", "updateStrategy", "type"); strategy == "OnDelete" {
		changes = append(changes, "note: the OnDelete update strategy restarts pods only as they are deleted")
	}
	return changes, nil
}

// doRestart patches every workload's template; on the first failure it
// stops, and the result says what was restarted, what failed and what was
// not tried.
func (a *rolloutAction) doRestart(ctx context.Context) ([]Object, Result, bool) {
	at := a.now().UTC().Format(time.RFC3339)
	var objects []Object
	for i, ref := range a.refs {
		u, err := a.wl.get(ctx, ref)
		if err == nil {
			if err = pausedErr(ref, u); err != nil {
				err = fmt.Errorf("%w: %w", errPaused, err)
			}
		}
		if err == nil {
			u, err = a.wl.patch(ctx, ref, types.StrategicMergePatchType, restartPatch(at), false)
		}
		if err != nil {
			objects = append(objects, Object{Ref: objectRef(ref, a.wl.ns), Op: OpFailed, Error: err.Error()})
			for _, rest := range a.refs[i+1:] {
				objects = append(objects, Object{Ref: objectRef(rest, a.wl.ns), Op: OpSkipped})
			}
			st := kubeErrStatus(err)
			if errors.Is(err, errPaused) {
				st = probes.StatusFail
			}
			return objects, Result{Result: probes.Result{Status: st,
				Summary: fmt.Sprintf("restart failed at %s (%d of %d restarted)", ref, i, len(a.refs)),
				Message: "restart " + ref.String() + ": " + err.Error()}, Objects: objects}, false
		}
		objects = append(objects, Object{Ref: objectRef(ref, a.wl.ns), Op: OpConfigured,
			ResourceVersion: u.GetResourceVersion(), Generation: u.GetGeneration()})
	}
	return objects, Result{}, true
}

// rolloutUpdate is a watcher's news of workload i.
type rolloutUpdate struct {
	i  int
	st rolloutState
}

// watch follows every workload until all have rolled out, one fails, or
// the deadline passes. A failure ends the watch at once (as kubectl
// rollout status does): the others go on rolling out in the cluster, their
// last state is in the result.
func (a *rolloutAction) watch(ctx context.Context, progress func(Result), start time.Time, objects []Object) Result {
	wctx, cancel := context.WithTimeout(ctx, a.deadline)
	defer cancel()
	states := make([]rolloutState, len(a.refs))
	for i, ref := range a.refs {
		states[i] = rolloutState{item: probes.Item{Name: ref.String(), Status: probes.StatusPending, Summary: "not read yet"}}
	}
	updates := make(chan rolloutUpdate)
	var wg sync.WaitGroup
	for i, ref := range a.refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.follow(wctx, ref, func(st rolloutState) bool {
				select {
				case updates <- rolloutUpdate{i: i, st: st}:
					return true
				case <-wctx.Done():
					return false
				}
			})
		}()
	}
	stoppedBy := ""
loop:
	for {
		select {
		case u := <-updates:
			if states[u.i].item == u.st.item && states[u.i].final == u.st.final {
				continue
			}
			states[u.i] = u.st
			if failed := firstFailed(states); failed != "" {
				stoppedBy = failed
				break loop
			}
			if allComplete(states) {
				break loop
			}
			if progress != nil {
				progress(stampResult(a.snapshot(states, objects), start, a.now))
			}
		case <-wctx.Done():
			break loop
		}
	}
	cancel()
	wg.Wait()
	return a.final(ctx, states, objects, stoppedBy)
}

// follow watches one workload, sending each state that differs, until it
// is final or ctx ends.
func (a *rolloutAction) follow(ctx context.Context, ref kube.WorkloadRef, send func(rolloutState) bool) {
	cl := a.wl.client(ref.Kind)
	var last rolloutState
	err := followObject(ctx, ref.Name,
		func(ctx context.Context) (runtime.Object, error) { return a.wl.get(ctx, ref) },
		func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			w, err := cl.Watch(ctx, opts)
			if err != nil {
				return nil, kube.Err(err, kube.Call{Verb: "watch", Resource: ref.Kind.Resource(), Namespace: a.wl.ns, Name: ref.Name})
			}
			return w, nil
		},
		func(obj runtime.Object, deleted bool) bool {
			u, ok := obj.(*unstructured.Unstructured)
			var st rolloutState
			switch {
			case deleted:
				st = rolloutState{phase: kube.RolloutFailed, final: true, item: probes.Item{Name: ref.String(), Status: probes.StatusFail,
					Summary: "deleted", Reason: "Deleted", Message: "deleted while it rolled out"}}
			case !ok:
				st = errState(ref, fmt.Errorf("watch %s: unexpected object %T", ref, obj))
			default:
				st = stateOf(ref, u)
			}
			last = st
			return !send(st) || st.final
		},
		func(err error) {
			// A passing failure: keep the last state, say why it is stale.
			st := last
			if st.item.Name == "" {
				st.item = probes.Item{Name: ref.String(), Status: probes.StatusPending, Summary: "not read yet"}
			}
			st.item.Message = joinNotes(st.item.Message, "retrying: "+err.Error())
			send(st)
		})
	if err != nil && ctx.Err() == nil {
		send(errState(ref, err))
	}
}

// firstFailed names the first workload whose rollout failed or cannot be
// watched, if any.
func firstFailed(states []rolloutState) string {
	for _, st := range states {
		if st.final && st.phase != kube.RolloutComplete {
			return st.item.Name
		}
	}
	return ""
}

func allComplete(states []rolloutState) bool {
	for _, st := range states {
		if st.phase != kube.RolloutComplete {
			return false
		}
	}
	return true
}

// snapshot is an interim result.
func (a *rolloutAction) snapshot(states []rolloutState, objects []Object) Result {
	res := Result{Objects: objects}
	complete := 0
	for _, st := range states {
		res.Items = append(res.Items, st.item)
		if st.phase == kube.RolloutComplete {
			complete++
		}
	}
	res.Status = probes.StatusPending
	res.Summary = fmt.Sprintf("%d/%d rolled out", complete, len(states))
	res.Values = map[string]float64{"complete": float64(complete), "total": float64(len(states))}
	return res
}

// final is the result once the watch has ended: pass when every workload
// rolled out; else fail (forbidden or error when one could not be read)
// naming each that did not and why, with an undo offered for failed ones.
func (a *rolloutAction) final(ctx context.Context, states []rolloutState, objects []Object, stoppedBy string) Result {
	res := a.snapshot(states, objects)
	complete := int(res.Values["complete"])
	if complete == len(states) {
		res.Status = probes.StatusPass
		if a.restart {
			res.Summary = fmt.Sprintf("%d/%d restarted and rolled out", complete, len(states))
		}
		a.setOffered(nil, 0)
		return res
	}
	// Why the watch ended, for the workloads still rolling out.
	ended := ""
	switch {
	case stoppedBy != "":
		ended = "still rolling out (watch stopped: " + stoppedBy + " failed)"
	case ctx.Err() != nil:
		ended = fmt.Sprintf("not rolled out when the step ended (%v)", context.Cause(ctx))
	default:
		ended = fmt.Sprintf("not rolled out when the deadline (%s) passed", a.deadline)
	}
	var statuses, failedNames []string
	var failed, rolling []kube.WorkloadRef
	var stats []probes.Status
	for i := range states {
		st, ref := &states[i], a.refs[i]
		if st.phase != kube.RolloutComplete && st.err == nil && !st.noUndo {
			// Why its pods are not Ready: the controller's reason says a
			// deadline passed, the kubelet's says why.
			if why := a.wl.notReadyPods(ctx, ref); why != "" {
				st.item.Message = joinNotes(st.item.Message, why)
			}
		}
		switch {
		case st.phase == kube.RolloutComplete:
			continue
		case st.final:
			statuses = append(statuses, ref.String()+": "+st.item.Message)
			if st.err == nil && !st.noUndo {
				failed = append(failed, ref)
			}
		default:
			why := ref.String() + " " + ended
			if st.item.Message != "" {
				why += ": " + st.item.Message
			}
			statuses = append(statuses, why)
			if stoppedBy == "" {
				// The deadline (or the step's end) failed it.
				st.item.Status, st.item.Reason = probes.StatusFail, "DeadlineExceeded"
				if ctx.Err() != nil {
					st.item.Reason = "Interrupted"
				}
			}
			switch {
			case stoppedBy == "":
				failed = append(failed, ref)
			case st.err == nil && !st.noUndo:
				// Still rolling out when another's failure ended the watch:
				// the same release, not known to fail, is offered the undo
				// too, where it has a revision to go back to — a rollback of
				// the release leaves none of it half-changed (each offer is
				// named in the message).
				rolling = append(rolling, ref)
			}
		}
		failedNames = append(failedNames, ref.String())
		stats = append(stats, st.item.Status)
		res.Items[i] = st.item
	}
	res.Status = probes.Worst(append(stats, probes.StatusFail)...)
	res.Summary = fmt.Sprintf("%d/%d rolled out; not: %s", complete, len(states), strings.Join(failedNames, ", "))
	res.Message = strings.Join(statuses, "; ")
	if len(failed) > 0 {
		offer, note := a.offerUndo(ctx, failed, rolling)
		res.UndoRevision = offer
		res.Message = joinNotes(res.Message, note)
	}
	return res
}
