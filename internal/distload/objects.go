package distload

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Labels every object of a run carries.
const (
	// LabelRun names the run: every object it creates, and its pods.
	LabelRun = "cockpit.dev/load-run"
	// LabelManagedBy is app.kubernetes.io/managed-by, "cockpit".
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// IndexAnnotation is the Job controller's annotation of a pod's index.
	IndexAnnotation = "batch.kubernetes.io/job-completion-index"
)

// Spec is a distributed run, as the objects it creates say it.
type Spec struct {
	// Name is the run's name: every object's (NewName makes one).
	Name string
	// Namespace is where the objects go.
	Namespace string
	// Image is the workers' image: the cockpit's own, with the
	// load-worker subcommand. PullPolicy is its imagePullPolicy (default
	// IfNotPresent).
	Image      string
	PullPolicy corev1.PullPolicy
	// Workers is how many pods run the test.
	Workers int
	// Args is the test, as `cockpit load` arguments (KeyArgs).
	Args []string
	// Planned is how long the test runs (its duration or stages);
	// StartTimeout how long the pods may take to be Running; Grace the
	// graceful stop. With a margin they make the Job's
	// activeDeadlineSeconds: nothing runs on if the coordinator dies.
	Planned, StartTimeout, Grace time.Duration
	// CPU and Memory are each worker's resource requests ("" none);
	// Memory is its limit too.
	CPU, Memory string
}

// TTLAfterFinished is the Job's ttlSecondsAfterFinished: a backstop that
// removes a finished Job and its pods when the coordinator could not.
const TTLAfterFinished = 10 * time.Minute

// deadlineMargin is added to the Job's activeDeadlineSeconds beyond the
// start timeout, the test and its graceful stop.
const deadlineMargin = time.Minute

// NewName returns a new run name: cockpit-load- and six hex digits.
func NewName() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail
	return "cockpit-load-" + hex.EncodeToString(b)
}

// Objects are the objects of one run.
type Objects struct {
	ConfigMap      *corev1.ConfigMap
	ServiceAccount *corev1.ServiceAccount
	Role           *rbacv1.Role
	RoleBinding    *rbacv1.RoleBinding
	Job            *batchv1.Job
}

// Build returns the run's objects. The ServiceAccount, Role, RoleBinding
// and Job are not owned yet: Own sets their owner once the ConfigMap
// exists. Errors name the field.
func Build(s Spec) (Objects, error) {
	switch {
	case s.Name == "":
		return Objects{}, fmt.Errorf("name: is required")
	case s.Namespace == "":
		return Objects{}, fmt.Errorf("namespace: is required")
	case s.Image == "":
		return Objects{}, fmt.Errorf("image: is required")
	case s.Workers < 1:
		return Objects{}, fmt.Errorf("workers: must be at least 1, got %d", s.Workers)
	case s.Planned <= 0:
		return Objects{}, fmt.Errorf("planned: the test needs a duration or stages, got %s", s.Planned)
	}
	args, err := json.Marshal(s.Args)
	if err != nil {
		return Objects{}, fmt.Errorf("args: %w", err)
	}
	labels := map[string]string{LabelRun: s.Name, LabelManagedBy: "cockpit"}
	meta := metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, Labels: labels}
	res := corev1.ResourceRequirements{}
	if s.CPU != "" {
		q, err := resource.ParseQuantity(s.CPU)
		if err != nil {
			return Objects{}, fmt.Errorf("cpu: %w", err)
		}
		res.Requests = corev1.ResourceList{corev1.ResourceCPU: q}
	}
	if s.Memory != "" {
		q, err := resource.ParseQuantity(s.Memory)
		if err != nil {
			return Objects{}, fmt.Errorf("memory: %w", err)
		}
		if res.Requests == nil {
			res.Requests = corev1.ResourceList{}
		}
		res.Requests[corev1.ResourceMemory] = q
		res.Limits = corev1.ResourceList{corev1.ResourceMemory: q}
	}
	pull := s.PullPolicy
	if pull == "" {
		pull = corev1.PullIfNotPresent
	}
	n := int32(s.Workers)
	deadline := s.StartTimeout + s.Planned + s.Grace + deadlineMargin
	o := Objects{
		ConfigMap: &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{
			KeyArgs: string(args), KeyWorkers: strconv.Itoa(s.Workers)}},
		ServiceAccount: &corev1.ServiceAccount{ObjectMeta: meta},
		Role: &rbacv1.Role{ObjectMeta: meta, Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"configmaps"},
			ResourceNames: []string{s.Name}, Verbs: []string{"get", "list", "watch"}}}},
		RoleBinding: &rbacv1.RoleBinding{ObjectMeta: meta,
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: s.Name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: s.Name, Namespace: s.Namespace}}},
		Job: &batchv1.Job{ObjectMeta: meta, Spec: batchv1.JobSpec{
			CompletionMode: ptr.To(batchv1.IndexedCompletion),
			Completions:    &n,
			Parallelism:    &n,
			// Not backoffLimit 0: one lost worker would fail the whole
			// Job and its controller would kill the others. Per index, a
			// failed worker is not retried (a retry would start late,
			// out of step) and the others run on.
			BackoffLimitPerIndex:    ptr.To(int32(0)),
			MaxFailedIndexes:        ptr.To(n),
			ActiveDeadlineSeconds:   ptr.To(int64(deadline.Seconds()) + 1),
			TTLSecondsAfterFinished: ptr.To(int32(TTLAfterFinished.Seconds())),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy:                 corev1.RestartPolicyNever,
					ServiceAccountName:            s.Name,
					TerminationGracePeriodSeconds: ptr.To(int64(5)),
					EnableServiceLinks:            ptr.To(false),
					Containers: []corev1.Container{{
						Name:            "worker",
						Image:           s.Image,
						ImagePullPolicy: pull,
						Args:            []string{"load-worker", "--run", s.Name},
						Env: []corev1.EnvVar{{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{
							FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}},
						Resources: res,
						SecurityContext: &corev1.SecurityContext{
							RunAsNonRoot:             ptr.To(true),
							RunAsUser:                ptr.To(int64(65534)),
							AllowPrivilegeEscalation: ptr.To(false),
							ReadOnlyRootFilesystem:   ptr.To(true),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
					}},
				},
			},
		}},
	}
	return o, nil
}

// Own makes the ConfigMap cm the owner of every other object, so that
// deleting it deletes them (the garbage collector, in the background).
func (o Objects) Own(cm *corev1.ConfigMap) {
	ref := []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: cm.Name, UID: cm.UID}}
	for _, m := range []*metav1.ObjectMeta{&o.ServiceAccount.ObjectMeta, &o.Role.ObjectMeta,
		&o.RoleBinding.ObjectMeta, &o.Job.ObjectMeta} {
		m.OwnerReferences = ref
	}
}
