package runbook

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// Timeouts of action work when a step sets no timeout: a dry run is quick;
// an execution carries its own deadlines (a rollout's, a check pod's), so
// the step's bound is only a backstop; a cleanup must not hold the end of
// a run for long.
const (
	DefaultPlanTimeout    = 60 * time.Second
	DefaultActionTimeout  = 30 * time.Minute
	DefaultCleanupTimeout = 30 * time.Second
)

type actionRun struct {
	action actions.Action
	err    error
}

// buildAction makes a step's action once and keeps it.
func (r *Runner) buildAction(rb *Runbook, step *Step) actionRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.actions == nil {
		r.actions = map[string]actionRun{}
	}
	if run, ok := r.actions[step.ID]; ok {
		return run
	}
	env := stepEnv(rb, step, r.Env)
	a, err := step.Action.Spec.Build(actions.Env{Now: env.Now, Kube: env.Kube, Dir: filepath.Dir(rb.File)})
	run := actionRun{action: a, err: err}
	r.actions[step.ID] = run
	return run
}

// executeAction starts the action work an effect asks for and reports
// whether eff was one.
func (r *Runner) executeAction(ctx context.Context, wg *sync.WaitGroup, s State, eff Effect, results, awaited chan<- Event) bool {
	var (
		step    string
		timeout time.Duration
		work    func(ctx context.Context, a actionRun) Event
	)
	switch eff := eff.(type) {
	case PlanAction:
		if pi, si, _ := s.Find(eff.Step); s.Runbook.Phases[pi].Steps[si].Load.Distributed() {
			r.planLoad(ctx, wg, s, eff, results)
			return true
		}
		step, timeout = eff.Step, DefaultPlanTimeout
		work = func(ctx context.Context, a actionRun) Event {
			res := r.actionResult(ctx, a, "dry run", timeout, func(ctx context.Context) actions.Result { return a.action.Plan(ctx) })
			return ActionPlanned{Step: eff.Step, RunID: eff.RunID, Result: res}
		}
	case ExecuteAction:
		step, timeout = eff.Step, DefaultActionTimeout
		work = func(ctx context.Context, a actionRun) Event {
			progress := func(res actions.Result) {
				if r.OnProgress != nil {
					r.OnProgress(eff.Step, res)
				}
			}
			res := r.actionResult(ctx, a, "action", timeout, func(ctx context.Context) actions.Result { return a.action.Execute(ctx, progress) })
			return ActionDone{Step: eff.Step, RunID: eff.RunID, Result: res}
		}
	case UndoAction:
		step, timeout = eff.Step, DefaultActionTimeout
		work = func(ctx context.Context, a actionRun) Event {
			res := r.actionResult(ctx, a, "undo", timeout, func(ctx context.Context) actions.Result {
				u, ok := a.action.(actions.Undoer)
				if !ok {
					return errorResult(r.now(), "cannot undo", "this action kind cannot be undone")
				}
				return u.Undo(ctx, eff.Revision)
			})
			return ActionUndone{Step: eff.Step, RunID: eff.RunID, Result: res}
		}
	case CleanupAction:
		r.cleanup(ctx, s, eff, awaited)
		return true
	case ReviewAccess:
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := r.reviewAccess(ctx, s, eff.Phase)
			select {
			case results <- AccessReviewed{Phase: eff.Phase, Result: res}:
			case <-ctx.Done():
			}
		}()
		return true
	default:
		return false
	}
	pi, si, _ := s.Find(step)
	st := &s.Runbook.Phases[pi].Steps[si]
	if st.Timeout > 0 {
		timeout = time.Duration(st.Timeout)
	}
	run := r.buildAction(s.Runbook, st)
	// What an execution or an undo did is awaited even after the run
	// ends (it was aborted, or cancelled): it goes where cleanups go.
	out, done := results, ctx.Done()
	if _, plan := eff.(PlanAction); !plan {
		out, done = awaited, r.drained
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		ev := work(ctx, run)
		select {
		case out <- ev:
		case <-done:
		}
	}()
	return true
}

// actionResult runs one piece of action work within timeout, turning a
// build error or an expired deadline into a clear result.
func (r *Runner) actionResult(ctx context.Context, a actionRun, what string, timeout time.Duration, do func(context.Context) actions.Result) actions.Result {
	start := r.now()
	if a.err != nil {
		return errorResult(start, "cannot build action", a.err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res := do(ctx)
	if res.ObservedAt.IsZero() {
		res.ObservedAt = start
	}
	if res.Duration == 0 {
		res.Duration = r.now().Sub(start)
	}
	if !res.Status.OK() && ctx.Err() == context.DeadlineExceeded && !strings.Contains(res.Message, "timed out") {
		res.Message = fmt.Sprintf("%s timed out after %s: %s", what, timeout, res.Message)
	}
	return res
}

// cleanup takes back what an action left, even when the run is being
// cancelled (it then still gets DefaultCleanupTimeout).
func (r *Runner) cleanup(ctx context.Context, s State, eff CleanupAction, awaited chan<- Event) {
	pi, si, _ := s.Find(eff.Step)
	run := r.buildAction(s.Runbook, &s.Runbook.Phases[pi].Steps[si])
	drained := r.drained
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultCleanupTimeout)
		defer cancel()
		res := r.actionResult(ctx, run, "cleanup", DefaultCleanupTimeout, func(ctx context.Context) actions.Result {
			c, ok := run.action.(actions.Cleaner)
			if !ok {
				return errorResult(r.now(), "cannot clean up", "this action kind leaves nothing to take back")
			}
			return c.Cleanup(ctx, eff.Ref)
		})
		select {
		case awaited <- ActionCleaned{Step: eff.Step, Result: res}:
		case <-drained:
		}
	}()
}

func errorResult(at time.Time, summary, msg string) actions.Result {
	return actions.Result{Result: probes.Result{Status: probes.StatusError, Summary: summary, Message: msg, ObservedAt: at}}
}

// reviewAccess asks the API server, with SelfSubjectAccessReviews, whether
// the credentials may do everything the phase needs, and lists what is
// missing. It changes nothing.
func (r *Runner) reviewAccess(ctx context.Context, s State, phase string) probes.Result {
	start := r.now()
	var ph *Phase
	for i := range s.Runbook.Phases {
		if s.Runbook.Phases[i].ID == phase {
			ph = &s.Runbook.Phases[i]
		}
	}
	res := probes.Result{ObservedAt: start, Values: map[string]float64{}}
	if ph == nil || r.Env.Kube == nil {
		res.Status, res.Summary = probes.StatusError, "access review: no Kubernetes access"
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultPlanTimeout)
	defer cancel()
	var checked, missing int
	var errs []string
	for _, p := range s.Runbook.PhasePermissions(ph) {
		c, err := r.Env.Kube(p.Context)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		ns := p.Namespace
		if ns == "" && !p.ClusterScoped {
			ns = p.DefaultNamespace
			if ns == "" {
				ns = c.Namespace()
			}
		}
		if p.ClusterScoped {
			ns = ""
		}
		var denied []string
		for _, verb := range p.Verbs {
			checked++
			resource, sub, _ := strings.Cut(p.Resource, "/")
			review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: p.Group, Resource: resource, Subresource: sub}}}
			got, err := c.Typed().AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s %s: %v", verb, p.GroupResource(), err))
				continue
			}
			if !got.Status.Allowed {
				denied = append(denied, verb)
			}
		}
		shown := p
		shown.Namespace = ns
		item := probes.Item{Name: shown.String(), Status: probes.StatusPass, Summary: "allowed"}
		if len(denied) > 0 {
			missing += len(denied)
			item.Status, item.Summary = probes.StatusFail, "missing: "+strings.Join(denied, ",")
		}
		res.Items = append(res.Items, item)
	}
	res.Values["checked"], res.Values["missing"] = float64(checked), float64(missing)
	res.Duration = r.now().Sub(start)
	switch {
	case len(errs) > 0:
		res.Status, res.Summary = probes.StatusError, fmt.Sprintf("access review failed: %d error(s)", len(errs))
		res.Message = strings.Join(errs, "; ")
	case missing > 0:
		res.Status = probes.StatusFail
		res.Summary = fmt.Sprintf("%d of %d permission(s) missing", missing, checked)
	default:
		res.Status, res.Summary = probes.StatusPass, fmt.Sprintf("all %d permission(s) granted", checked)
	}
	return res
}
