package probes

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cockpit-dev/cockpit/internal/kube"
	corev1 "k8s.io/api/core/v1"
)

// PodState is one pod's health: a pure function of the object.
type PodState struct {
	Ready      bool
	Completed  bool   // Succeeded: a finished job pod, neither ready nor failing
	Restarts   int32  // over all containers, init containers included
	Waiting    string // the first waiting reason: CrashLoopBackOff, ImagePullBackOff…
	LastExit   string // the last termination reason of a restarted container: OOMKilled, Error
	Containers string // "1/2": ready containers of all
	// NotReady is the pod's Ready condition when it is not True: its
	// reason and message, as the kubelet or the node controller set them
	// (ContainersNotReady; a pod whose node stopped reporting).
	NotReady, NotReadyMessage string
}

// crashLooping reasons make a pod fail at once, not just "not ready".
var crashLooping = map[string]bool{
	"CrashLoopBackOff": true, "ImagePullBackOff": true, "ErrImagePull": true,
	"CreateContainerConfigError": true, "InvalidImageName": true, "RunContainerError": true,
}

// PodHealth reads a pod's readiness, restarts and waiting reasons.
func PodHealth(p *corev1.Pod) PodState {
	s := PodState{Ready: kube.PodReady(p), Completed: p.Status.Phase == corev1.PodSucceeded}
	ready := 0
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, c := range list {
			s.Restarts += c.RestartCount
			if c.State.Waiting != nil && s.Waiting == "" && c.State.Waiting.Reason != "" && c.State.Waiting.Reason != "PodInitializing" && c.State.Waiting.Reason != "ContainerCreating" {
				s.Waiting = c.State.Waiting.Reason
			}
			if c.LastTerminationState.Terminated != nil && s.LastExit == "" {
				s.LastExit = c.LastTerminationState.Terminated.Reason
			}
		}
	}
	for _, c := range p.Status.ContainerStatuses {
		if c.Ready {
			ready++
		}
	}
	s.Containers = fmt.Sprintf("%d/%d", ready, len(p.Spec.Containers))
	if !s.Ready && !s.Completed {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue {
				s.NotReady, s.NotReadyMessage = c.Reason, c.Message
			}
		}
	}
	return s
}

// PodsSpec configures a "k8s.pods" probe: the health of the pods a selector
// picks — not-ready counts, restarts, CrashLoopBackOff.
//
//	probe: {kind: k8s.pods, namespace: gravl-prod, selector: app=backend}
type PodsSpec struct {
	Context   string `json:"context,omitempty" yaml:"context,omitempty"`
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"`
	// Selector picks the pods; empty means every pod of the namespace.
	Selector string        `json:"selector,omitempty" yaml:"selector,omitempty"`
	Outcomes []OutcomeSpec `json:"outcomes,omitempty" yaml:"outcomes,omitempty"`
}

var (
	_ Spec            = (*PodsSpec)(nil)
	_ PermissionsSpec = (*PodsSpec)(nil)
)

// podsValues are what a k8s.pods probe observes (completed pods are
// counted in pods only; terminating pods — being deleted, as a rollout
// retires them — in terminating only).
var podsValues = []string{"pods", "ready", "not_ready", "crashloop", "restarts", "max_restarts", "terminating"}

var defaultPodsOutcomes = []OutcomeSpec{
	{Fail: &RuleSpec{When: "pods == 0", Message: "no pod matched"}},
	{Fail: &RuleSpec{When: "crashloop > 0", Message: "{{crashloop}} pod(s) crash-looping or failing to start"}},
	{Fail: &RuleSpec{When: "not_ready > 0", Message: "{{not_ready}} pod(s) not ready"}},
	{Warn: &RuleSpec{When: "restarts > 0", Message: "{{restarts}} restart(s), at most {{max_restarts}} in one pod"}},
	{Pass: &RuleSpec{Message: "{{ready}}/{{pods}} ready, no restarts"}},
}

// Values implements Spec.
func (s *PodsSpec) Values() []string { return podsValues }

// Permissions implements PermissionsSpec: list and watch of pods in the
// namespace.
func (s *PodsSpec) Permissions() []Permission {
	return []Permission{reads(s.Context, resPods, s.Namespace)}
}

// Validate implements Spec.
func (s *PodsSpec) Validate() error {
	errs := validateSelect(nil, s.Selector)
	if _, err := CompileOutcomes(s.Outcomes, podsValues); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Build implements Spec.
func (s *PodsSpec) Build(env Env) (Probe, Outcomes, error) {
	rules, err := buildOutcomes(s.Outcomes, defaultPodsOutcomes, podsValues)
	if err != nil {
		return nil, nil, err
	}
	c, err := kubeCluster(env, s.Context)
	if err != nil {
		return nil, nil, err
	}
	p := &podsProbe{kubeReader: newKubeReader(c), spec: *s}
	if p.spec.Namespace == "" {
		p.spec.Namespace = c.Namespace()
	}
	return p, rules, nil
}

type podsProbe struct {
	kubeReader
	spec PodsSpec
}

var (
	_ Probe   = (*podsProbe)(nil)
	_ Changer = (*podsProbe)(nil)
)

func (p *podsProbe) Observe(ctx context.Context) Observation {
	sel := kubeSelect{namespace: p.spec.Namespace, selector: parseSelector(p.spec.Selector)}
	objs, err := p.read(ctx, resPods, p.spec.Namespace, sel.match)
	if err != nil {
		return Observation{Err: err}
	}
	var items []Item
	var ready, notReady, crash, restarts, maxRestarts, terminating int
	reasons := map[string]int{}
	for _, u := range objs {
		pod, err := fromUnstructured[corev1.Pod](u)
		if err != nil {
			return Observation{Err: err}
		}
		h := PodHealth(pod)
		it := Item{Name: pod.Name, Since: pod.CreationTimestamp.Time, Reason: h.Waiting}
		parts := []string{string(pod.Status.Phase), h.Containers + " ready", fmt.Sprintf("%d %s", h.Restarts, plural(int(h.Restarts), "restart", "restarts"))}
		if pod.DeletionTimestamp != nil {
			// Being deleted (a retired ReplicaSet's pod, an eviction): going
			// away, neither serving nor failing. Listed, not judged; one
			// stuck there keeps its step unsettled through its item.
			terminating++
			it.Status, it.Reason = StatusPending, "Terminating"
			it.Summary = "Terminating since " + pod.DeletionTimestamp.UTC().Format(time.TimeOnly) + ", " + strings.Join(parts, ", ")
			it.Message = pod.Status.Message
			items = append(items, it)
			continue
		}
		switch {
		case h.Completed:
			it.Status = StatusPass
		case crashLooping[h.Waiting]:
			it.Status = StatusFail
			crash++
			notReady++
			reasons[h.Waiting]++
		case h.Ready:
			it.Status = StatusPass
			ready++
		case pod.Status.Phase == corev1.PodPending:
			it.Status = StatusPending
			notReady++
		default:
			it.Status = StatusFail
			notReady++
		}
		if h.Waiting != "" {
			parts = append(parts, h.Waiting)
		}
		if h.LastExit != "" {
			parts = append(parts, "last exit "+h.LastExit)
		}
		if !h.Ready && !h.Completed {
			// The pod's own condition: with its reason when one was given
			// (the node controller sets none when the node stops reporting,
			// though the containers last said ready).
			if h.NotReady != "" {
				parts = append(parts, "Ready=False: "+h.NotReady)
			} else {
				parts = append(parts, "Ready=False")
			}
			if it.Reason == "" {
				it.Reason = h.NotReady
			}
		}
		if h.Restarts > 0 && it.Status == StatusPass {
			it.Status = StatusWarn
		}
		restarts += int(h.Restarts)
		maxRestarts = max(maxRestarts, int(h.Restarts))
		it.Summary = strings.Join(parts, ", ")
		it.Message = pod.Status.Message
		if it.Message == "" && !h.Ready {
			it.Message = h.NotReadyMessage
		}
		items = append(items, it)
	}
	summary := fmt.Sprintf("%d/%d ready, %d %s", ready, len(objs)-terminating, restarts, plural(restarts, "restart", "restarts"))
	for _, r := range slices.Sorted(maps.Keys(reasons)) {
		summary += fmt.Sprintf(", %d %s", reasons[r], r)
	}
	if terminating > 0 {
		summary += fmt.Sprintf(", %d terminating", terminating)
	}
	return Observation{
		Summary: summary,
		Items:   items,
		Values: map[string]float64{
			"pods":         float64(len(objs) - terminating),
			"terminating":  float64(terminating),
			"ready":        float64(ready),
			"not_ready":    float64(notReady),
			"crashloop":    float64(crash),
			"restarts":     float64(restarts),
			"max_restarts": float64(maxRestarts),
		},
	}
}
