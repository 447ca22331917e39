package runbook

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/probes"
)

// LoadWorkers says where a load step runs when it is split across the pods
// of an Indexed Job in a cluster (internal/distload) instead of running in
// the cockpit's own process:
//
//	load:
//	  executor: constant-arrival-rate
//	  rate: 20000
//	  duration: 5m
//	  baseURL: http://backend.gravl-prod.svc:3000
//	  workers: {count: 8, cluster: prod, namespace: gravl-loadtest}
//
// Creating the Job is a change to the cluster: the step is planned (a
// server-side dry run of its objects) and runs only in a run started with
// --allow-actions, once confirmed, as a mutating action does.
type LoadWorkers struct {
	// Count is how many pods run the test.
	Count int `yaml:"count"`
	// Cluster names an entry of the runbook's clusters: (default: the
	// step's cluster:, else the command line's kubeconfig context).
	Cluster string `yaml:"cluster"`
	// Namespace is where the objects are created (default: the cluster's
	// namespace).
	Namespace string `yaml:"namespace"`
	// Image is the workers' image (default: the cockpit's own of this
	// version); ImagePullPolicy its imagePullPolicy (Always, IfNotPresent,
	// Never; default IfNotPresent).
	Image           string `yaml:"image"`
	ImagePullPolicy string `yaml:"imagePullPolicy"`
	// Resources are each worker's requests (memory: its limit too).
	Resources LoadWorkerResources `yaml:"resources"`
	// NodeSelector and Tolerations place the workers' pods.
	NodeSelector map[string]string `yaml:"nodeSelector"`
	Tolerations  []LoadToleration  `yaml:"tolerations"`
	// MinWorkers fails the step when fewer workers are left (lost); 0
	// goes on with any, and says so.
	MinWorkers int `yaml:"minWorkers"`
	// StartTimeout is how long the pods may take to be Running (default
	// DefaultWorkerStartTimeout).
	StartTimeout Duration `yaml:"startTimeout"`
}

// DefaultWorkerStartTimeout is how long a distributed load step's pods may
// take to be Running when its workers: block sets no startTimeout.
const DefaultWorkerStartTimeout = 2 * time.Minute

// LoadWorkerResources are a worker's resource requests, as Kubernetes
// quantities ("500m", "256Mi").
type LoadWorkerResources struct {
	CPU    string `yaml:"cpu"`
	Memory string `yaml:"memory"`
}

// LoadToleration is a Kubernetes toleration of the workers' pods.
type LoadToleration struct {
	Key               string `yaml:"key"`
	Operator          string `yaml:"operator"`
	Value             string `yaml:"value"`
	Effect            string `yaml:"effect"`
	TolerationSeconds *int64 `yaml:"tolerationSeconds"`
}

// Distributed reports whether the step's load test runs on workers in a
// cluster.
func (l *LoadStep) Distributed() bool { return l != nil && l.Workers != nil }

// mergedMetrics are the threshold metrics the workers' merged intervals
// carry (distload.Aggregate): a threshold on another metric would have no
// samples.
var mergedMetrics = []string{"checks", "data_received", "data_sent", "dropped_iterations", "errors",
	"http_req_duration", "http_req_failed", "http_reqs", "iterations"}

// maxWeightedURLs bounds the URLs a weighted request list becomes for the
// workers (each request's URL repeated weight times).
const maxWeightedURLs = 100

// workerErrors checks the workers: block and what the workers can run of
// the step, given its loader configuration cfg (validated when ok). Paths
// are below load:.
func (l *LoadStep) workerErrors(cfg loader.Config, ok bool) []pathError {
	w := l.Workers
	var errs []pathError
	add := func(path, hint, format string, args ...any) {
		errs = append(errs, pathError{path, hint, fmt.Sprintf(format, args...)})
	}
	if w.Count < 1 {
		add("workers.count", "e.g. workers: {count: 4, namespace: loadtest}", "must be at least 1, got %d", w.Count)
	}
	switch {
	case w.MinWorkers < 0:
		add("workers.minWorkers", "", "must not be negative, got %d", w.MinWorkers)
	case w.Count >= 1 && w.MinWorkers > w.Count:
		add("workers.minWorkers", "", "%d is more than count %d", w.MinWorkers, w.Count)
	}
	switch w.ImagePullPolicy {
	case "", "Always", "IfNotPresent", "Never":
	default:
		add("workers.imagePullPolicy", "Always, IfNotPresent or Never", "unknown pull policy %q", w.ImagePullPolicy)
	}
	if w.Image != "" && strings.ContainsAny(w.Image, " \t\n") {
		add("workers.image", "", "an image reference has no spaces, got %q", w.Image)
	}
	for _, q := range []struct{ field, v string }{{"cpu", w.Resources.CPU}, {"memory", w.Resources.Memory}} {
		if q.v == "" {
			continue
		}
		if _, err := resource.ParseQuantity(q.v); err != nil {
			add("workers.resources."+q.field, "a Kubernetes quantity, e.g. 500m or 256Mi", "%q: %v", q.v, err)
		}
	}
	for i, t := range w.Tolerations {
		p := fmt.Sprintf("workers.tolerations[%d]", i)
		switch t.Operator {
		case "", "Equal":
			if t.Key == "" {
				add(p+".key", "", "an Equal toleration needs a key (operator: Exists tolerates every taint)")
			}
		case "Exists":
			if t.Value != "" {
				add(p+".value", "", "an Exists toleration takes no value")
			}
		default:
			add(p+".operator", "Equal or Exists", "unknown operator %q", t.Operator)
		}
		switch t.Effect {
		case "", "NoSchedule", "PreferNoSchedule", "NoExecute":
		default:
			add(p+".effect", "NoSchedule, PreferNoSchedule or NoExecute", "unknown effect %q", t.Effect)
		}
		if t.TolerationSeconds != nil && t.Effect != "NoExecute" {
			add(p+".tolerationSeconds", "", "applies to effect NoExecute only")
		}
	}
	// What the workers cannot be given: they read the test from a
	// ConfigMap as `cockpit load` arguments.
	if l.CACert != "" {
		add("cacert", "", "cannot be used with workers: yet: the workers have no copy of the file")
	}
	for _, m := range slices.Sorted(maps.Keys(l.Thresholds)) {
		if !slices.Contains(mergedMetrics, m) {
			add("thresholds."+m, "with workers: "+strings.Join(mergedMetrics, ", "),
				"the workers' merged intervals do not carry %s: the threshold would have no samples", m)
		}
	}
	if loader.ExecutorKind(l.Executor) == loader.RampingArrivalRate && l.Rate == 0 && l.MaxVUs == 0 {
		add("rate", "", "a ramping-arrival-rate split across workers needs its start rate (rate:) or maxVUs:")
	}
	for i, r := range l.Requests {
		p := fmt.Sprintf("requests[%d]", i)
		if len(r.Checks.Status) > 0 || r.Checks.BodyContains != "" || len(r.Checks.JSON) > 0 {
			add(p+".checks", "", "checks cannot be split across workers yet (the workers take URLs, one method, headers and a body)")
		}
		if i == 0 {
			continue
		}
		f := l.Requests[0]
		if !strings.EqualFold(cmpOr(r.Method, "GET"), cmpOr(f.Method, "GET")) || r.Body != f.Body || !maps.Equal(r.Headers, f.Headers) {
			add(p, "", "with workers: every request has the first's method, headers and body (the workers take one of each)")
		}
	}
	total := 0
	for _, r := range l.Requests {
		total += max(r.Weight, 1)
	}
	if total > maxWeightedURLs {
		add("requests", "", "with workers: the weights add up to %d; at most %d (each URL is repeated weight times)", total, maxWeightedURLs)
	}
	if len(errs) == 0 && ok {
		errs = l.splitErrors(cfg)
	}
	return errs
}

// splitErrors checks that the valid test cfg can be split across the
// workers (loader.Segment).
func (l *LoadStep) splitErrors(cfg loader.Config) []pathError {
	n := l.Workers.Count
	for i := 0; i < n; i++ {
		if _, err := loader.Segment(cfg, i, n); err != nil {
			pe := loaderFieldError(err)
			return []pathError{{"workers.count", "", fmt.Sprintf("the test cannot be split %d ways: %s: %s", n, pe.path, pe.msg)}}
		}
	}
	return nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// WorkerArgs is the step's test as `cockpit load` arguments — what each
// worker reads from its run's ConfigMap and splits (loader.Segment) —
// thresholds left out: the coordinator evaluates them on the merged data.
// The step has been validated with its workers: block.
func (l *LoadStep) WorkerArgs() ([]string, error) {
	kind := loader.ExecutorKind(cmpOr(l.Executor, string(loader.ConstantVUs)))
	var a []string
	flag := func(name, v string) { a = append(a, "--"+name+"="+v) }
	dur := func(name string, d Duration) {
		if d > 0 {
			flag(name, time.Duration(d).String())
		}
	}
	flag("duration", time.Duration(l.Duration).String())
	if len(l.Stages) > 0 {
		var st []string
		for _, s := range l.Stages {
			st = append(st, time.Duration(s.Duration).String()+":"+strconv.FormatFloat(s.Target, 'g', -1, 64))
		}
		flag("stages", strings.Join(st, ","))
	}
	switch kind {
	case loader.ConstantVUs:
		flag("vus", strconv.Itoa(max(l.VUs, 1)))
	case loader.RampingVUs:
		if l.VUs > 0 {
			flag("vus", strconv.Itoa(l.VUs))
		}
	case loader.ConstantArrivalRate, loader.RampingArrivalRate:
		if l.Rate > 0 {
			flag("rate", strconv.FormatFloat(l.Rate, 'g', -1, 64))
		}
		if l.PreAllocatedVUs > 0 {
			flag("vus", strconv.Itoa(l.PreAllocatedVUs))
		}
		if l.MaxVUs > 0 {
			flag("max-vus", strconv.Itoa(l.MaxVUs))
		}
	default:
		return nil, fmt.Errorf("executor: %q cannot be split across workers", kind)
	}
	if l.Iterations > 0 {
		flag("iterations", strconv.FormatInt(l.Iterations, 10))
	}
	dur("think-time", l.ThinkTime)
	dur("max-lag", l.MaxLag)
	dur("graceful-stop", l.GracefulStop)
	dur("timeout", l.Timeout)
	if l.HTTP2 {
		flag("http2", "true")
	}
	if l.Insecure {
		flag("insecure", "true")
	}
	var urls []string
	if len(l.Requests) > 0 {
		f := l.Requests[0]
		flag("method", strings.ToUpper(cmpOr(f.Method, "GET")))
		for _, k := range slices.Sorted(maps.Keys(f.Headers)) {
			flag("header", k+": "+f.Headers[k])
		}
		if f.Body != "" {
			flag("body", f.Body)
		}
		for i, r := range l.Requests {
			u, err := resolveRequestURL(r.URL, l.BaseURL)
			if err != nil {
				return nil, fmt.Errorf("requests[%d].url: %w", i, err)
			}
			for range max(r.Weight, 1) {
				urls = append(urls, u)
			}
		}
	} else if l.BaseURL != "" {
		urls = append(urls, l.BaseURL)
	}
	return append(append(a, "--"), urls...), nil
}

// resolveRequestURL resolves a request's URL against the step's baseURL
// as the loader does: an absolute URL stays; a path is appended to the
// base's path.
func resolveRequestURL(raw, base string) (string, error) {
	if base == "" || strings.Contains(raw, "://") {
		return raw, nil
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("baseURL: %w", err)
	}
	ref, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("malformed path: %w", err)
	}
	if ref.Scheme != "" || ref.Host != "" {
		return raw, nil
	}
	if strings.HasPrefix(ref.Path, "/") && b.Path != "" && b.Path != "/" {
		ref.Path = strings.TrimSuffix(b.Path, "/") + ref.Path
	}
	return b.ResolveReference(ref).String(), nil
}

// WorkersCluster is the runbook cluster the step's workers run in: the
// workers: block's cluster, else the step's.
func (st *Step) WorkersCluster() string {
	if st.Load == nil || st.Load.Workers == nil {
		return ""
	}
	return cmpOr(st.Load.Workers.Cluster, st.Cluster)
}

// WorkersTarget is the kubeconfig context and namespace the step's workers
// run in ("" context: the command line's; "" namespace: the context's
// default).
func (rb *Runbook) WorkersTarget(st *Step) (context, namespace string) {
	c := rb.Clusters[st.WorkersCluster()]
	return c.Context, cmpOr(st.Load.Workers.Namespace, c.Namespace)
}

// workerPermissions are what the coordinator of a distributed load step
// needs in its namespace: create and delete the run's ConfigMap,
// ServiceAccount, Role, RoleBinding and Job and list them (the check that
// nothing is left); patch, get and watch the ConfigMap (the run's
// controls; the Role it grants holds get/list/watch on configmaps, which
// RBAC's escalation check requires the creator to hold); get, list and
// watch pods (start, loss); get pods/log (the workers' reports).
func workerPermissions(ctx, ns string) []probes.Permission {
	p := func(group, res string, verbs ...string) probes.Permission {
		return probes.Permission{Context: ctx, Group: group, Resource: res, Namespace: ns, Verbs: verbs}
	}
	return []probes.Permission{
		p("", "configmaps", "create", "delete", "patch", "get", "list", "watch"),
		p("", "serviceaccounts", "create", "delete", "list"),
		p("rbac.authorization.k8s.io", "roles", "create", "delete", "list"),
		p("rbac.authorization.k8s.io", "rolebindings", "create", "delete", "list"),
		p("batch", "jobs", "create", "delete", "list"),
		p("", "pods", "get", "list", "watch"),
		p("", "pods/log", "get"),
	}
}

// describeWorkers is the workers: block in a few words, for Describe:
// "on 8 workers in gravl-loadtest (cluster prod)".
func (l *LoadStep) describeWorkers(cluster string) string {
	w := l.Workers
	s := fmt.Sprintf("on %d worker(s)", w.Count)
	if w.Namespace != "" {
		s += " in " + w.Namespace
	}
	if cluster != "" {
		s += " (cluster " + cluster + ")"
	}
	if w.MinWorkers > 0 {
		s += fmt.Sprintf(", at least %d", w.MinWorkers)
	}
	return s
}
