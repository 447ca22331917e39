package sandbox

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cockpit-dev/cockpit/internal/kube"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// AnnotationFailRollout on a Deployment's pod template makes the simulated
// rollout of that template fail: its new pods never become ready, and after
// progressDeadlineSeconds the Deployment reports ProgressDeadlineExceeded.
const AnnotationFailRollout = "sandbox.cockpit.dev/fail-rollout"

// DefaultRolloutStep is the simulated controllers' tick: each tick moves
// every rollout in progress by one step (create a pod, make one ready, or
// retire an old one).
const DefaultRolloutStep = time.Second

// Names and reasons the real deployment controller uses.
const (
	annotationRevision     = "deployment.kubernetes.io/revision"
	annotationDesired      = "deployment.kubernetes.io/desired-replicas"
	annotationMaxReplicas  = "deployment.kubernetes.io/max-replicas"
	managerController      = "kube-controller-manager"
	labelPodTemplateHash   = appsv1.DefaultDeploymentUniqueLabelKey
	reasonNewRSCreated     = "NewReplicaSetCreated"
	reasonRSUpdated        = "ReplicaSetUpdated"
	reasonNewRSAvailable   = "NewReplicaSetAvailable"
	reasonTimedOut         = "ProgressDeadlineExceeded"
	reasonMinAvailable     = "MinimumReplicasAvailable"
	reasonMinUnavailable   = "MinimumReplicasUnavailable"
	defaultProgressSeconds = 600
)

// progress is the state the Progressing condition reports.
type progress int

const (
	progressUpdating progress = iota // ReplicaSetUpdated
	progressCreated                  // NewReplicaSetCreated
	progressComplete                 // NewReplicaSetAvailable
	progressTimedOut                 // ProgressDeadlineExceeded
)

// rolloutCounts are the pod counts a Deployment's status is computed from.
type rolloutCounts struct {
	old          int32 // ready pods of previous templates
	updated      int32 // pods of the current template
	updatedReady int32 // ready pods of the current template
}

// podTemplateHash mirrors the pod-template-hash label: an FNV-32a hash of the
// template, encoded with the API server's safe alphabet.
func podTemplateHash(t *corev1.PodTemplateSpec) string {
	h := fnv.New32a()
	b, err := json.Marshal(t)
	if err != nil {
		b = []byte(t.String())
	}
	_, _ = h.Write(b)
	return utilrand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

func replicaSetName(d *appsv1.Deployment, hash string) string {
	return d.Name + "-" + hash
}

// fenceposts resolves maxSurge and maxUnavailable for desired replicas the
// way the deployment controller does (both zero means one unavailable).
func fenceposts(d *appsv1.Deployment, desired int32) (surge, unavailable int32) {
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return 0, desired
	}
	maxSurge, maxUnavailable := intstr.FromString("25%"), intstr.FromString("25%")
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		maxSurge = ptr.Deref(ru.MaxSurge, maxSurge)
		maxUnavailable = ptr.Deref(ru.MaxUnavailable, maxUnavailable)
	}
	s, errS := intstr.GetScaledValueFromIntOrPercent(&maxSurge, int(desired), true)
	u, errU := intstr.GetScaledValueFromIntOrPercent(&maxUnavailable, int(desired), false)
	if errS != nil || errU != nil {
		s, u = 1, 0
	}
	s, u = max(s, 0), max(u, 0)
	if s == 0 && u == 0 {
		u = 1
	}
	return int32(min(s, int(desired)+1)), int32(min(u, int(desired)))
}

// deploymentStatus computes the status the deployment controller would write
// for d given the pod counts, keeping condition timestamps from prev where
// the condition did not change.
func deploymentStatus(d *appsv1.Deployment, c rolloutCounts, p progress, hash string, prev []appsv1.DeploymentCondition, now time.Time) appsv1.DeploymentStatus {
	desired := ptr.Deref(d.Spec.Replicas, 1)
	_, maxUnavailable := fenceposts(d, desired)
	available := c.old + c.updatedReady
	st := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            c.old + c.updated,
		UpdatedReplicas:     c.updated,
		ReadyReplicas:       available,
		AvailableReplicas:   available,
		UnavailableReplicas: max(0, desired-available),
		Conditions:          slices.Clone(prev),
	}
	rs := replicaSetName(d, hash)
	avail := appsv1.DeploymentCondition{
		Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue,
		Reason: reasonMinAvailable, Message: "Deployment has minimum availability.",
	}
	if available < desired-maxUnavailable {
		avail.Status, avail.Reason, avail.Message = corev1.ConditionFalse, reasonMinUnavailable, "Deployment does not have minimum availability."
	}
	prog := appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue}
	switch p {
	case progressCreated:
		prog.Reason, prog.Message = reasonNewRSCreated, fmt.Sprintf("Created new replica set %q", rs)
	case progressComplete:
		prog.Reason, prog.Message = reasonNewRSAvailable, fmt.Sprintf("ReplicaSet %q has successfully progressed.", rs)
	case progressTimedOut:
		prog.Status, prog.Reason, prog.Message = corev1.ConditionFalse, reasonTimedOut, fmt.Sprintf("ReplicaSet %q has timed out progressing.", rs)
	default:
		prog.Reason, prog.Message = reasonRSUpdated, fmt.Sprintf("ReplicaSet %q is progressing.", rs)
	}
	st.Conditions = setCondition(st.Conditions, avail, now, false)
	st.Conditions = setCondition(st.Conditions, prog, now, p != progressTimedOut)
	return st
}

// setCondition replaces the condition of c's type. An unchanged condition
// keeps its timestamps unless touch is set (the Progressing condition's
// lastUpdateTime moves with every step of progress); a condition whose
// status is unchanged keeps its lastTransitionTime.
func setCondition(conds []appsv1.DeploymentCondition, c appsv1.DeploymentCondition, now time.Time, touch bool) []appsv1.DeploymentCondition {
	c.LastUpdateTime, c.LastTransitionTime = metav1.NewTime(now), metav1.NewTime(now)
	for i, old := range conds {
		if old.Type != c.Type {
			continue
		}
		if old.Status == c.Status {
			if old.Reason == c.Reason && old.Message == c.Message && !touch {
				return conds
			}
			c.LastTransitionTime = old.LastTransitionTime
		}
		conds[i] = c
		return conds
	}
	// Available first, then Progressing, as the controller writes them.
	conds = append(conds, c)
	slices.SortStableFunc(conds, func(a, b appsv1.DeploymentCondition) int { return cmp.Compare(a.Type, b.Type) })
	return conds
}

// newReplicaSet returns the ReplicaSet the deployment controller creates
// for d's template with hash at revision: the template and selector with
// the pod-template-hash label, the revision annotations, d as its
// controller, no replicas yet.
func newReplicaSet(d *appsv1.Deployment, hash string, revision int64, now time.Time) *appsv1.ReplicaSet {
	tpl := d.Spec.Template.DeepCopy()
	if tpl.Labels == nil {
		tpl.Labels = map[string]string{}
	}
	tpl.Labels[labelPodTemplateHash] = hash
	sel := &metav1.LabelSelector{}
	if d.Spec.Selector != nil {
		sel = d.Spec.Selector.DeepCopy()
	}
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels[labelPodTemplateHash] = hash
	desired := ptr.Deref(d.Spec.Replicas, 1)
	surge, _ := fenceposts(d, desired)
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: d.Namespace,
			Name:      replicaSetName(d, hash),
			Labels:    maps.Clone(tpl.Labels),
			Annotations: map[string]string{
				annotationRevision:    strconv.FormatInt(revision, 10),
				annotationDesired:     strconv.FormatInt(int64(desired), 10),
				annotationMaxReplicas: strconv.FormatInt(int64(desired+surge), 10),
			},
			OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))},
			CreationTimestamp: metav1.NewTime(now),
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](0), Selector: sel, Template: *tpl},
	}
}

// newPod returns a pod of d's template with hash, scheduled and starting.
func newPod(d *appsv1.Deployment, hash string, names *nameSource, now time.Time) *corev1.Pod {
	podLabels := maps.Clone(d.Spec.Template.Labels)
	if podLabels == nil {
		podLabels = map[string]string{}
	}
	podLabels[labelPodTemplateHash] = hash
	spec := *d.Spec.Template.Spec.DeepCopy()
	spec.NodeName = sandboxNodeName
	waiting := &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
	if d.Spec.Template.Annotations[AnnotationFailRollout] == "true" {
		waiting = &corev1.ContainerStateWaiting{
			Reason:  "ImagePullBackOff",
			Message: "Back-off pulling image (simulated failure)",
		}
	}
	var statuses []corev1.ContainerStatus
	for _, c := range spec.Containers {
		statuses = append(statuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, State: corev1.ContainerState{Waiting: waiting},
		})
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:         d.Namespace,
			Name:              replicaSetName(d, hash) + "-" + names.suffix(),
			Labels:            podLabels,
			Annotations:       maps.Clone(d.Spec.Template.Annotations),
			UID:               names.uid(),
			CreationTimestamp: metav1.NewTime(now),
		},
		Spec: spec,
		Status: corev1.PodStatus{
			Phase:             corev1.PodPending,
			HostIP:            "172.18.0.2",
			PodIP:             names.podIP(),
			StartTime:         ptr.To(metav1.NewTime(now)),
			ContainerStatuses: statuses,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now)},
				{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: metav1.NewTime(now)},
			},
		},
	}
}

// markPodStarted turns p into a running pod whose containers are not
// ready yet: what a kubelet reports between the container's start and its
// readiness probe's first success.
func markPodStarted(p *corev1.Pod, now time.Time) {
	p.Status.Phase = corev1.PodRunning
	p.Status.PodIPs = []corev1.PodIP{{IP: p.Status.PodIP}}
	var names []string
	for i := range p.Status.ContainerStatuses {
		cs := &p.Status.ContainerStatuses[i]
		cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(now)}}
		cs.Ready, cs.Started = false, ptr.To(true)
		names = append(names, cs.Name)
	}
	notReady := "containers with unready status: [" + strings.Join(names, " ") + "]"
	p.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: p.CreationTimestamp},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: p.CreationTimestamp},
		{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", Message: notReady, LastTransitionTime: metav1.NewTime(now)},
		{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", Message: notReady, LastTransitionTime: metav1.NewTime(now)},
	}
}

// markPodReady turns p into a running, ready pod.
func markPodReady(p *corev1.Pod, now time.Time) {
	p.Status.Phase = corev1.PodRunning
	p.Status.PodIPs = []corev1.PodIP{{IP: p.Status.PodIP}}
	for i := range p.Status.ContainerStatuses {
		cs := &p.Status.ContainerStatuses[i]
		cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(now)}}
		cs.Ready, cs.Started = true, ptr.To(true)
	}
	p.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: p.CreationTimestamp},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: p.CreationTimestamp},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now)},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now)},
	}
}

// simPod is a pod the controller manages.
type simPod struct {
	name    string
	hash    string // its template's pod-template-hash
	started bool   // its containers run; its readiness probe has yet to pass
	ready   bool
}

// rsState is the controller's memory of one ReplicaSet of a Deployment.
type rsState struct {
	name     string
	uid      types.UID
	replicas int32 // last written spec.replicas
	ready    int32 // last written status.readyReplicas
	written  bool
}

// rollout is the controller's memory of one Deployment.
type rollout struct {
	deploy     *appsv1.Deployment // last observed object (spec and metadata)
	generation int64
	hash       string
	revision   int64
	desired    int32
	failing    bool
	old        []simPod            // ready pods of previous templates, oldest first
	updated    []simPod            // pods of the current template
	sets       map[string]*rsState // ReplicaSets by pod-template-hash
	good       map[string]bool     // templates that have completed a rollout
	progress   progress
	conditions []appsv1.DeploymentCondition
	lastStep   time.Time // last progress, for the progress deadline
	settled    bool      // complete or timed out: ticks skip it
}

func (r *rollout) counts() rolloutCounts {
	c := rolloutCounts{old: int32(len(r.old)), updated: int32(len(r.updated))}
	for _, p := range r.updated {
		if p.ready {
			c.updatedReady++
		}
	}
	return c
}

func (r *rollout) complete() bool {
	c := r.counts()
	return c.old == 0 && c.updated == r.desired && c.updatedReady == r.desired
}

// rolloutController simulates the deployment controller, the ReplicaSet
// controller and the kubelet for Deployments in a fake clientset: it
// observes Deployments through a watch and, one step per tick of its
// clock, creates pods of the new template, makes them ready, retires old
// ones and writes the status kubectl rollout status reads. It runs in one
// goroutine; all its state is owned by it.
type rolloutController struct {
	client kubernetes.Interface
	// badRelease reports whether a new version crashes: while it is true,
	// pods of a template that has never completed a rollout crash-loop
	// instead of becoming ready.
	badRelease func() bool
	clock      clock.WithTicker
	step       time.Duration
	names      *nameSource
	states     map[types.NamespacedName]*rollout
	onError    func(error)
}

// start opens the watch and the ticker before returning, so the caller may
// step a fake clock at once, and runs the controller until ctx ends or the
// watch closes. The returned channel is closed when it has stopped.
func (c *rolloutController) start(ctx context.Context) (<-chan struct{}, error) {
	w, err := c.client.AppsV1().Deployments(metav1.NamespaceAll).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("simulated deployment controller: watch deployments: %w", err)
	}
	ticker := c.clock.NewTicker(c.step)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer ticker.Stop()
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					return
				}
				c.report(c.handle(ctx, ev))
			case <-ticker.C():
				c.report(c.tick(ctx))
			}
		}
	}()
	return done, nil
}

func (c *rolloutController) report(err error) {
	if err != nil && c.onError != nil {
		c.onError(err)
	}
}

func (c *rolloutController) handle(ctx context.Context, ev watch.Event) error {
	d, ok := ev.Object.(*appsv1.Deployment)
	if !ok {
		return nil
	}
	key := types.NamespacedName{Namespace: d.Namespace, Name: d.Name}
	switch ev.Type {
	case watch.Deleted:
		r := c.states[key]
		delete(c.states, key)
		if r == nil {
			return nil
		}
		var errs []error
		for _, name := range r.podNames() {
			errs = append(errs, c.deletePod(ctx, d.Namespace, name))
		}
		return joinErrors(fmt.Sprintf("deployment %s: delete pods", key), errs)
	case watch.Added, watch.Modified:
		if err := c.observe(ctx, key, d); err != nil {
			return fmt.Errorf("deployment %s: %w", key, err)
		}
	}
	return nil
}

func (r *rollout) podNames() []string {
	var names []string
	for _, p := range slices.Concat(r.old, r.updated) {
		names = append(names, p.name)
	}
	return names
}

// crashes reports whether the pods of r's current template crash: its
// template asks for it, or a bad release is on and the template has never
// completed a rollout (a rollback to a revision that did runs fine).
func (c *rolloutController) crashes(r *rollout) bool {
	return r.failing || (c.badRelease != nil && c.badRelease() && !r.good[r.hash])
}

// observe reacts to a Deployment as the API server stored it.
func (c *rolloutController) observe(ctx context.Context, key types.NamespacedName, d *appsv1.Deployment) error {
	hash := podTemplateHash(&d.Spec.Template)
	desired := ptr.Deref(d.Spec.Replicas, 1)
	failing := d.Spec.Template.Annotations[AnnotationFailRollout] == "true"
	r, known := c.states[key]
	if !known {
		var err error
		if r, err = c.adopt(ctx, d, hash); err != nil {
			return err
		}
		c.states[key] = r
		if d.Generation > 0 && d.Status.ObservedGeneration >= d.Generation {
			// Already reconciled (seeded): carry on from the stored status.
			r.deploy, r.generation, r.desired, r.failing = d, d.Generation, desired, failing
			r.progress = progressUpdating
			r.settled = r.complete()
			if r.settled {
				r.good[hash] = true
			}
			return nil
		}
	}
	r.deploy = d
	if d.Generation == r.generation && hash == r.hash && desired == r.desired && failing == r.failing {
		return nil // our own status write, or a change that needs no rollout
	}
	now := c.clock.Now()
	if hash != r.hash {
		// A new template: ready pods of the old one keep serving until
		// replaced; pods that never became ready go at once.
		for _, p := range r.updated {
			if p.ready {
				r.old = append(r.old, p)
				continue
			}
			if err := c.deletePod(ctx, d.Namespace, p.name); err != nil {
				return err
			}
		}
		// A template an older ReplicaSet holds (a rollback): its pods
		// that still serve are the new template's pods again.
		r.updated = nil
		r.old = slices.DeleteFunc(r.old, func(p simPod) bool {
			if p.hash == hash {
				r.updated = append(r.updated, p)
				return true
			}
			return false
		})
		r.hash = hash
		r.revision++
		r.progress = progressCreated
		if err := c.ensureReplicaSet(ctx, d, r); err != nil {
			return err
		}
		if err := c.patchRevision(ctx, d, r.revision); err != nil {
			return err
		}
	} else if r.revision == 0 {
		r.revision = 1
		r.progress = progressCreated
		if err := c.ensureReplicaSet(ctx, d, r); err != nil {
			return err
		}
		if err := c.patchRevision(ctx, d, r.revision); err != nil {
			return err
		}
	}
	r.generation, r.desired, r.failing = d.Generation, desired, failing
	r.lastStep, r.settled = now, false
	return c.writeStatus(ctx, r, now)
}

// adopt builds the controller's memory of d from the pods that match its
// selector: those of the current template are its new pods, the rest old.
func (c *rolloutController) adopt(ctx context.Context, d *appsv1.Deployment, hash string) (*rollout, error) {
	r := &rollout{deploy: d, hash: hash, conditions: d.Status.Conditions,
		sets: map[string]*rsState{}, good: map[string]bool{}}
	if rev, err := strconv.ParseInt(d.Annotations[annotationRevision], 10, 64); err == nil {
		r.revision = rev
	}
	if d.Spec.Selector == nil {
		return r, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("selector: %w", err)
	}
	sets, err := c.client.AppsV1().ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("list replicasets: %w", err)
	}
	for i := range sets.Items {
		rs := &sets.Items[i]
		if !metav1.IsControlledBy(rs, d) {
			continue
		}
		h := rs.Labels[labelPodTemplateHash]
		r.sets[h] = &rsState{name: rs.Name, uid: rs.UID, replicas: ptr.Deref(rs.Spec.Replicas, 0), ready: rs.Status.ReadyReplicas, written: true}
		if h != hash {
			// An older ReplicaSet's template has rolled out before.
			r.good[h] = true
		}
	}
	pods, err := c.client.CoreV1().Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	items := pods.Items
	slices.SortFunc(items, func(a, b corev1.Pod) int {
		return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), cmp.Compare(a.Name, b.Name))
	})
	for i := range items {
		p := &items[i]
		if !sel.Matches(labels.Set(p.Labels)) || p.DeletionTimestamp != nil {
			continue
		}
		sp := simPod{name: p.Name, hash: p.Labels[labelPodTemplateHash], ready: kube.PodReady(p)}
		if sp.hash == hash {
			r.updated = append(r.updated, sp)
		} else {
			r.old = append(r.old, sp)
		}
	}
	return r, nil
}

// tick advances every unsettled rollout by one step.
func (c *rolloutController) tick(ctx context.Context) error {
	now := c.clock.Now()
	keys := slices.SortedFunc(maps.Keys(c.states), func(a, b types.NamespacedName) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	var errs []error
	for _, key := range keys {
		r := c.states[key]
		if r.settled {
			continue
		}
		if err := c.crashPods(ctx, r, now); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deployment %s: %w", key, err))
		}
		stepped, err := c.advance(ctx, r, now)
		if err != nil {
			if apierrors.IsNotFound(err) {
				continue // deleted under us; the watch will tell
			}
			errs = append(errs, fmt.Errorf("deployment %s: %w", key, err))
			continue
		}
		deadline := time.Duration(ptr.Deref(r.deploy.Spec.ProgressDeadlineSeconds, defaultProgressSeconds)) * time.Second
		switch {
		case stepped:
			r.lastStep = now
			r.progress = progressUpdating
			if r.complete() {
				r.progress, r.settled = progressComplete, true
				r.good[r.hash] = true
			}
		case r.complete():
			r.progress, r.settled = progressComplete, true
			r.good[r.hash] = true
		case now.Sub(r.lastStep) > deadline:
			r.progress, r.settled = progressTimedOut, true
		default:
			continue
		}
		if err := c.writeStatus(ctx, r, now); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deployment %s: %w", key, err))
		}
	}
	return joinErrors("simulated deployment controller tick", errs)
}

// advance takes one rollout step, reporting whether anything changed.
func (c *rolloutController) advance(ctx context.Context, r *rollout, now time.Time) (bool, error) {
	d := r.deploy
	surge, maxUnavailable := fenceposts(d, r.desired)
	cnt := r.counts()
	old, updated, ready := cnt.old, cnt.updated, cnt.updatedReady
	switch {
	case !c.crashes(r) && ready < updated:
		// A starting pod's containers start (Running, not yet Ready, as a
		// kubelet reports them until the readiness probe passes), then, a
		// tick later, it passes its readiness probe.
		i := slices.IndexFunc(r.updated, func(p simPod) bool { return !p.ready })
		if !r.updated[i].started {
			if err := c.setPodStatus(ctx, d.Namespace, r.updated[i].name, now, markPodStarted); err != nil {
				return false, err
			}
			r.updated[i].started = true
			break
		}
		if err := c.setPodStatus(ctx, d.Namespace, r.updated[i].name, now, markPodReady); err != nil {
			return false, err
		}
		r.updated[i].ready = true
	case old > 0 && old+ready > r.desired:
		// Enough new pods serve: retire an old one.
		if err := c.deletePod(ctx, d.Namespace, r.old[0].name); err != nil {
			return false, err
		}
		r.old = r.old[1:]
	case updated < r.desired && old+updated < r.desired+surge:
		// Room to surge: start a pod of the new template.
		p := newPod(d, r.hash, c.names, now)
		if rs := r.sets[r.hash]; rs != nil {
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.name, UID: rs.uid,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
		}
		if _, err := c.client.CoreV1().Pods(d.Namespace).Create(ctx, p, metav1.CreateOptions{FieldManager: managerController}); err != nil {
			return false, fmt.Errorf("create pod %s: %w", p.Name, err)
		}
		r.updated = append(r.updated, simPod{name: p.Name, hash: r.hash})
	case old > 0 && old+ready-1 >= r.desired-maxUnavailable:
		// No room to surge: spend the unavailability budget on an old pod.
		if err := c.deletePod(ctx, d.Namespace, r.old[0].name); err != nil {
			return false, err
		}
		r.old = r.old[1:]
	case updated > r.desired:
		// Scaled down: the newest pod goes first.
		last := r.updated[len(r.updated)-1]
		if err := c.deletePod(ctx, d.Namespace, last.name); err != nil {
			return false, err
		}
		r.updated = r.updated[:len(r.updated)-1]
	default:
		return false, nil
	}
	return true, nil
}

// setPodStatus writes the status mark gives a pod, as its kubelet would:
// markPodStarted (running, its readiness probe yet to pass), markPodReady.
func (c *rolloutController) setPodStatus(ctx context.Context, ns, name string, now time.Time, mark func(*corev1.Pod, time.Time)) error {
	pods := c.client.CoreV1().Pods(ns)
	p, err := pods.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil // deleted by someone else; it stays counted until replaced
	}
	if err != nil {
		return fmt.Errorf("get pod %s: %w", name, err)
	}
	mark(p, now)
	if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{FieldManager: "kubelet"}); err != nil {
		return fmt.Errorf("update pod %s status: %w", name, err)
	}
	return nil
}

func (c *rolloutController) deletePod(ctx context.Context, ns, name string) error {
	err := c.client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete pod %s: %w", name, err)
	}
	return nil
}

func (c *rolloutController) patchRevision(ctx context.Context, d *appsv1.Deployment, rev int64) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{annotationRevision: strconv.FormatInt(rev, 10)},
	}})
	if err != nil {
		return fmt.Errorf("encode revision patch: %w", err)
	}
	if _, err := c.client.AppsV1().Deployments(d.Namespace).Patch(ctx, d.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: managerController}); err != nil {
		return fmt.Errorf("set revision %d: %w", rev, err)
	}
	return nil
}

// writeStatus replaces the Deployment's status with one computed from r. A
// JSON patch of /status alone never overwrites a spec changed meanwhile.
func (c *rolloutController) writeStatus(ctx context.Context, r *rollout, now time.Time) error {
	d := r.deploy.DeepCopy()
	d.Generation = r.generation
	st := deploymentStatus(d, r.counts(), r.progress, r.hash, r.conditions, now)
	r.conditions = st.Conditions
	if r.progress == progressCreated {
		r.progress = progressUpdating
	}
	patch, err := json.Marshal([]map[string]any{{"op": "replace", "path": "/status", "value": st}})
	if err != nil {
		return fmt.Errorf("encode status patch: %w", err)
	}
	if _, err := c.client.AppsV1().Deployments(d.Namespace).Patch(ctx, d.Name, types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: managerController}, "status"); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	return c.syncReplicaSets(ctx, r)
}

// ensureReplicaSet gives r's current template its ReplicaSet at r's
// revision: a new one, or — a rollback — the older one holding the
// template, its revision annotation moved on, as the deployment
// controller does.
func (c *rolloutController) ensureReplicaSet(ctx context.Context, d *appsv1.Deployment, r *rollout) error {
	sets := c.client.AppsV1().ReplicaSets(d.Namespace)
	if rs, ok := r.sets[r.hash]; ok {
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
			"annotations": map[string]string{annotationRevision: strconv.FormatInt(r.revision, 10)},
		}})
		if err != nil {
			return fmt.Errorf("encode replicaset revision patch: %w", err)
		}
		if _, err := sets.Patch(ctx, rs.name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: managerController}); err != nil {
			return fmt.Errorf("set replicaset %s revision %d: %w", rs.name, r.revision, err)
		}
		return nil
	}
	created, err := sets.Create(ctx, newReplicaSet(d, r.hash, r.revision, c.clock.Now()), metav1.CreateOptions{FieldManager: managerController})
	if err != nil {
		return fmt.Errorf("create replicaset for revision %d: %w", r.revision, err)
	}
	r.sets[r.hash] = &rsState{name: created.Name, uid: created.UID}
	return nil
}

// syncReplicaSets writes each ReplicaSet's replicas and ready replicas
// where they changed: its pods among r's.
func (c *rolloutController) syncReplicaSets(ctx context.Context, r *rollout) error {
	total, ready := map[string]int32{}, map[string]int32{}
	for _, p := range slices.Concat(r.old, r.updated) {
		total[p.hash]++
		if p.ready {
			ready[p.hash]++
		}
	}
	sets := c.client.AppsV1().ReplicaSets(r.deploy.Namespace)
	var errs []error
	for _, h := range slices.Sorted(maps.Keys(r.sets)) {
		rs := r.sets[h]
		if rs.written && rs.replicas == total[h] && rs.ready == ready[h] {
			continue
		}
		n, rd := total[h], ready[h]
		spec, err := json.Marshal(map[string]any{"spec": map[string]any{"replicas": n}})
		if err != nil {
			return err
		}
		status, err := json.Marshal([]map[string]any{{"op": "replace", "path": "/status", "value": appsv1.ReplicaSetStatus{
			Replicas: n, FullyLabeledReplicas: n, ReadyReplicas: rd, AvailableReplicas: rd, ObservedGeneration: 1,
		}}})
		if err != nil {
			return err
		}
		_, err = sets.Patch(ctx, rs.name, types.MergePatchType, spec, metav1.PatchOptions{FieldManager: managerController})
		if err == nil {
			_, err = sets.Patch(ctx, rs.name, types.JSONPatchType, status, metav1.PatchOptions{FieldManager: managerController}, "status")
		}
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("replicaset %s: %w", rs.name, err))
			continue
		}
		rs.replicas, rs.ready, rs.written = n, rd, true
	}
	return joinErrors("sync replicasets", errs)
}

// crashPods makes the starting pods of r's current template crash-loop
// when its version crashes, as a kubelet reports a container that exits
// at once: waiting in CrashLoopBackOff, its last termination an Error with
// exit code 1. It is no progress: the progress deadline runs on.
func (c *rolloutController) crashPods(ctx context.Context, r *rollout, now time.Time) error {
	if r.failing || !c.crashes(r) {
		return nil // a fail-rollout template's pods wait in ImagePullBackOff
	}
	pods := c.client.CoreV1().Pods(r.deploy.Namespace)
	for _, sp := range r.updated {
		if sp.ready {
			continue
		}
		p, err := pods.Get(ctx, sp.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("get pod %s: %w", sp.name, err)
		}
		if !markPodCrashing(p, now) {
			continue
		}
		if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{FieldManager: "kubelet"}); err != nil {
			return fmt.Errorf("update pod %s status: %w", sp.name, err)
		}
	}
	return nil
}

// crashBackOff is the kubelet's first back-offs after a container exits:
// 10 s, doubling up to 5 min.
func crashBackOff(restarts int32) time.Duration {
	d := 10 * time.Second
	for range min(restarts-1, 5) {
		d *= 2
	}
	return min(d, 5*time.Minute)
}

// markPodCrashing records one more crash of p's containers, no more often
// than the kubelet's back-off restarts them; false when it is not yet
// time.
func markPodCrashing(p *corev1.Pod, now time.Time) bool {
	changed := false
	for i := range p.Status.ContainerStatuses {
		cs := &p.Status.ContainerStatuses[i]
		if t := cs.LastTerminationState.Terminated; t != nil && now.Sub(t.FinishedAt.Time) < crashBackOff(cs.RestartCount) {
			continue
		}
		cs.RestartCount++
		cs.Ready, cs.Started = false, ptr.To(false)
		cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 1, Reason: "Error", StartedAt: metav1.NewTime(now), FinishedAt: metav1.NewTime(now),
		}}
		cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason:  "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", crashBackOff(cs.RestartCount), cs.Name, p.Name, p.Namespace, p.UID),
		}}
		changed = true
	}
	if changed {
		p.Status.Phase = corev1.PodRunning
		p.Status.PodIPs = []corev1.PodIP{{IP: p.Status.PodIP}}
		p.Status.Conditions = []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: p.CreationTimestamp},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: p.CreationTimestamp},
			{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: metav1.NewTime(now)},
			{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: metav1.NewTime(now)},
		}
	}
	return changed
}
