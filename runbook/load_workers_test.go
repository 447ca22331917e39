package runbook

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// workersRunbook is a runbook with clusters and one load step whose body
// (below load:, six spaces in) is load; step adds lines to the step.
func workersRunbook(load, step string) string {
	return `apiVersion: cockpit/v1
kind: Runbook
metadata: {name: load-test}
clusters:
  prod: {context: gravl-prod, namespace: gravl-prod}
  lt: {context: loadtest-ctx}
phases:
- id: validate
  steps:
  - id: load
` + step + `    load:
` + load
}

const workersBase = `      executor: constant-arrival-rate
      rate: 300
      duration: 10s
      baseURL: http://backend.gravl-prod.svc:3000
      requests: [{url: /health}]
      thresholds: {http_req_failed: ["rate<0.01"]}
`

func TestParseLoadWorkers(t *testing.T) {
	rb := mustParse(t, workersRunbook(workersBase+`      workers:
        count: 8
        cluster: prod
        namespace: gravl-loadtest
        image: ghcr.io/cockpit-dev/cockpit:1.2.3
        imagePullPolicy: Never
        resources: {cpu: 500m, memory: 256Mi}
        nodeSelector: {pool: load}
        tolerations: [{key: dedicated, operator: Equal, value: load, effect: NoSchedule}]
        minWorkers: 6
        startTimeout: 90s
`, ""))
	st := &rb.Phases[0].Steps[0]
	w := st.Load.Workers
	if !st.Load.Distributed() || !st.Mutating() {
		t.Fatalf("distributed %v, mutating %v: want both", st.Load.Distributed(), st.Mutating())
	}
	if w.Count != 8 || w.MinWorkers != 6 || w.Resources.CPU != "500m" || w.NodeSelector["pool"] != "load" ||
		len(w.Tolerations) != 1 || w.Tolerations[0].Effect != "NoSchedule" || w.StartTimeout.String() != "1m30s" {
		t.Errorf("workers = %+v", w)
	}
	if ctx, ns := rb.WorkersTarget(st); ctx != "gravl-prod" || ns != "gravl-loadtest" {
		t.Errorf("target = %s/%s, want gravl-prod/gravl-loadtest", ctx, ns)
	}
	if d := st.Load.Describe(); !strings.HasSuffix(d, " · on 8 worker(s) in gravl-loadtest (cluster prod), at least 6") {
		t.Errorf("Describe = %q", d)
	}
}

// The workers default to the step's cluster and its namespace.
func TestLoadWorkersTargetDefaults(t *testing.T) {
	rb := mustParse(t, workersRunbook(workersBase+"      workers: {count: 2}\n", "    cluster: prod\n"))
	if ctx, ns := rb.WorkersTarget(&rb.Phases[0].Steps[0]); ctx != "gravl-prod" || ns != "gravl-prod" {
		t.Errorf("target = %s/%s, want the step's cluster gravl-prod/gravl-prod", ctx, ns)
	}
	rb = mustParse(t, workersRunbook(workersBase+"      workers: {count: 2, cluster: lt}\n", "    cluster: prod\n"))
	if ctx, ns := rb.WorkersTarget(&rb.Phases[0].Steps[0]); ctx != "loadtest-ctx" || ns != "" {
		t.Errorf("target = %s/%q, want the workers' cluster loadtest-ctx and the context's namespace", ctx, ns)
	}
}

func TestParseLoadWorkersErrors(t *testing.T) {
	tests := []struct {
		name, load, step, want string
	}{
		{"count zero", workersBase + "      workers: {count: 0}\n", "",
			"r.yaml:18:"},
		{"count zero names the field", workersBase + "      workers: {count: 0}\n", "",
			"phases[0].steps[0].load.workers.count: must be at least 1, got 0"},
		{"unknown field", workersBase + "      workers: {count: 2, replicas: 3}\n", "",
			`r.yaml:18:27: phases[0].steps[0].load.workers.replicas: unknown field "replicas"`},
		{"minWorkers above count", workersBase + "      workers: {count: 2, minWorkers: 3}\n", "",
			"load.workers.minWorkers: 3 is more than count 2"},
		{"negative minWorkers", workersBase + "      workers: {count: 2, minWorkers: -1}\n", "",
			"load.workers.minWorkers: must not be negative"},
		{"pull policy", workersBase + "      workers: {count: 2, imagePullPolicy: Sometimes}\n", "",
			`r.yaml:18:27: phases[0].steps[0].load.workers.imagePullPolicy: unknown pull policy "Sometimes"`},
		{"cpu quantity", workersBase + "      workers: {count: 2, resources: {cpu: lots}}\n", "",
			`load.workers.resources.cpu: "lots"`},
		{"memory quantity", workersBase + "      workers: {count: 2, resources: {memory: 1 GB}}\n", "",
			`load.workers.resources.memory: "1 GB"`},
		{"toleration operator", workersBase + "      workers: {count: 2, tolerations: [{key: a, operator: Is}]}\n", "",
			`load.workers.tolerations[0].operator: unknown operator "Is"`},
		{"toleration effect", workersBase + "      workers: {count: 2, tolerations: [{key: a, effect: NoRun}]}\n", "",
			`load.workers.tolerations[0].effect: unknown effect "NoRun"`},
		{"toleration key", workersBase + "      workers: {count: 2, tolerations: [{value: a}]}\n", "",
			"load.workers.tolerations[0].key: an Equal toleration needs a key"},
		{"toleration seconds", workersBase + "      workers: {count: 2, tolerations: [{operator: Exists, tolerationSeconds: 5}]}\n", "",
			"load.workers.tolerations[0].tolerationSeconds: applies to effect NoExecute only"},
		{"start timeout", workersBase + "      workers: {count: 2, startTimeout: soon}\n", "",
			"load.workers.startTimeout: want a duration"},
		{"unknown cluster", workersBase + "      workers: {count: 2, cluster: staging}\n", "",
			`r.yaml:18:27: phases[0].steps[0].load.workers.cluster: cluster "staging" is not defined under clusters:`},
		{"retries", workersBase + "      workers: {count: 2}\n", "    retries: 2\n",
			"phases[0].steps[0].retries: a load step with workers: is not retried unasked"},
		{"checks", strings.Replace(workersBase, "[{url: /health}]", "[{url: /health, checks: {status: [200]}}]", 1) + "      workers: {count: 2}\n", "",
			"load.requests[0].checks: checks cannot be split across workers yet"},
		{"methods differ", strings.Replace(workersBase, "[{url: /health}]", "[{url: /a}, {url: /b, method: POST}]", 1) + "      workers: {count: 2}\n", "",
			"load.requests[1]: with workers: every request has the first's method, headers and body"},
		{"too many weighted", strings.Replace(workersBase, "[{url: /health}]", "[{url: /a, weight: 90}, {url: /b, weight: 20}]", 1) + "      workers: {count: 2}\n", "",
			"load.requests: with workers: the weights add up to 110; at most 100"},
		{"threshold metric not merged", strings.Replace(workersBase, `{http_req_failed: ["rate<0.01"]}`, `{http_req_connecting: ["p(95)<10"]}`, 1) + "      workers: {count: 2}\n", "",
			"load.thresholds.http_req_connecting: the workers' merged intervals do not carry http_req_connecting"},
		{"cannot split", strings.Replace(workersBase, "rate: 300", "rate: 1", 1) + "      workers: {count: 4}\n", "",
			"load.workers.count: the test cannot be split 4 ways"},
		{"ramping arrival without rate", `      executor: ramping-arrival-rate
      stages: [{duration: 5s, target: 100}]
      baseURL: http://127.0.0.1:1
      requests: [{url: /}]
      thresholds: {http_req_failed: ["rate<0.01"]}
      workers: {count: 2}
`, "", "load.rate: a ramping-arrival-rate split across workers needs its start rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(workersRunbook(tt.load, tt.step)), Options{LookupEnv: env(nil)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

// A load file carries the same workers: block as a runbook's load step
// (`cockpit load --config FILE` then runs distributed); its args are the
// step's.
func TestParseLoadFileWorkers(t *testing.T) {
	step, err := ParseLoad("l.yaml", []byte(`executor: constant-arrival-rate
rate: 40
duration: 5s
baseURL: http://gravl.ns.svc:8080
requests: [{url: /}]
workers:
  count: 2
  namespace: lt
  image: cockpit.local/cockpit:dev
  imagePullPolicy: Never
  resources: {cpu: 100m, memory: 64Mi}
  nodeSelector: {pool: load}
  tolerations: [{key: dedicated, operator: Equal, value: load, effect: NoSchedule}]
  minWorkers: 1
  startTimeout: 30s
`), Options{LookupEnv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	w := step.Workers
	if !step.Distributed() || w.Count != 2 || w.Namespace != "lt" || w.ImagePullPolicy != "Never" || w.Resources.Memory != "64Mi" ||
		w.NodeSelector["pool"] != "load" || len(w.Tolerations) != 1 || w.MinWorkers != 1 || w.StartTimeout.String() != "30s" {
		t.Errorf("workers = %+v", w)
	}
	args, err := step.WorkerArgs()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(args, " "); !strings.Contains(got, "--rate=40") || !strings.HasSuffix(got, "-- http://gravl.ns.svc:8080/") {
		t.Errorf("worker args %q", got)
	}
}

// A load file's workers: is checked as a runbook's, every problem at its
// file:line:col; cluster: is refused — a load file has no clusters:.
func TestParseLoadFileWorkersErrors(t *testing.T) {
	const test = "executor: constant-arrival-rate\nrate: 40\nduration: 5s\nrequests: [{url: \"http://127.0.0.1:1/\"}]\n"
	tests := []struct {
		name, src string
		want      []string
	}{
		{"cluster has no meaning", test + "workers: {count: 2, cluster: prod}\n",
			[]string{`l.yaml:5:21: workers.cluster: a load file has no clusters: to name (hint: --context NAME picks the kubeconfig context`}},
		{"count zero", test + "workers: {count: 0}\n", []string{`l.yaml:5:11: workers.count: must be at least 1, got 0`}},
		{"unknown field", test + "workers: {count: 2, replicas: 3}\n", []string{`l.yaml:5:21: workers.replicas: unknown field "replicas"`}},
		{"several at once", test + "workers:\n  count: 2\n  minWorkers: 3\n  imagePullPolicy: Sometimes\n  resources: {cpu: lots}\n", []string{
			`l.yaml:7:3: workers.minWorkers: 3 is more than count 2`,
			`l.yaml:8:3: workers.imagePullPolicy: unknown pull policy "Sometimes"`,
			`l.yaml:9:15: workers.resources.cpu: "lots"`,
		}},
		{"checks cannot be split", strings.Replace(test, `[{url: "http://127.0.0.1:1/"}]`, `[{url: "http://127.0.0.1:1/", checks: {status: [200]}}]`, 1) +
			"workers: {count: 2}\n", []string{`l.yaml:4:41: requests[0].checks: checks cannot be split across workers yet`}},
		{"threshold the workers do not carry", test + "thresholds: {http_req_connecting: [\"p(95)<10\"]}\nworkers: {count: 2}\n",
			[]string{`l.yaml:5:14: thresholds.http_req_connecting: the workers' merged intervals do not carry http_req_connecting`}},
		{"cannot split", strings.Replace(test, "rate: 40", "rate: 1", 1) + "workers: {count: 4}\n",
			[]string{`l.yaml:5:11: workers.count: the test cannot be split 4 ways`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLoad("l.yaml", []byte(tt.src), Options{LookupEnv: env(nil)})
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("err = %v, want an ErrorList", err)
			}
			if len(list) != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%v", len(list), len(tt.want), err)
			}
			for i, w := range tt.want {
				if i < len(list) && !strings.HasPrefix(list[i].Error(), w) {
					t.Errorf("problem %d:\n got %s\nwant %s…", i, list[i].Error(), w)
				}
			}
		})
	}
}

func TestLoadWorkerArgs(t *testing.T) {
	tests := []struct {
		name, load string
		want       []string
	}{
		{"open model, weighted, headers", `      executor: constant-arrival-rate
      rate: 300
      duration: 10s
      preAllocatedVUs: 20
      maxVUs: 50
      gracefulStop: 2s
      timeout: 3s
      baseURL: http://backend:3000/api
      requests:
      - {url: /health, method: post, headers: {Accept: json, X-A: b}, body: "{}"}
      - {url: /exercises, method: POST, weight: 2, headers: {Accept: json, X-A: b}, body: "{}"}
      - {url: "http://other:1/x", method: POST, headers: {Accept: json, X-A: b}, body: "{}"}
      thresholds: {http_req_duration: ["p(95)<200"]}
      workers: {count: 2}
`, []string{"--duration=10s", "--rate=300", "--vus=20", "--max-vus=50", "--graceful-stop=2s", "--timeout=3s",
			"--method=POST", "--header=Accept: json", "--header=X-A: b", "--body={}", "--",
			"http://backend:3000/api/health", "http://backend:3000/api/exercises", "http://backend:3000/api/exercises", "http://other:1/x"}},
		{"closed model", `      vus: 4
      duration: 5s
      thinkTime: 100ms
      iterations: 1000
      http2: true
      requests: [{url: "http://127.0.0.1:1/"}]
      thresholds: {http_req_failed: ["rate<0.01"]}
      workers: {count: 2}
`, []string{"--duration=5s", "--vus=4", "--iterations=1000", "--think-time=100ms", "--http2=true", "--method=GET", "--", "http://127.0.0.1:1/"}},
		{"ramping vus", `      executor: ramping-vus
      stages: [{duration: 5s, target: 10}, {duration: 1m, target: 10}]
      requests: [{url: "http://127.0.0.1:1/"}]
      thresholds: {http_req_failed: ["rate<0.01"]}
      workers: {count: 2}
`, []string{"--duration=0s", "--stages=5s:10,1m0s:10", "--method=GET", "--", "http://127.0.0.1:1/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb := mustParse(t, workersRunbook(tt.load, ""))
			got, err := rb.Phases[0].Steps[0].Load.WorkerArgs()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("args =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// The coordinator's verbs, in the workers' namespace of their cluster's
// context: exactly what internal/distload calls.
func TestLoadWorkersPermissions(t *testing.T) {
	rb := mustParse(t, workersRunbook(workersBase+"      workers: {count: 2, cluster: prod, namespace: loadtest}\n", ""))
	got := map[string]string{}
	for _, p := range rb.StepPermissions(&rb.Phases[0].Steps[0]) {
		if p.Context != "gravl-prod" || p.Namespace != "loadtest" || p.ClusterScoped {
			t.Errorf("%+v: want context gravl-prod, namespace loadtest", p)
		}
		got[p.GroupResource()] = strings.Join(p.Verbs, ",")
	}
	want := map[string]string{
		"configmaps":                             "create,delete,patch,get,list,watch",
		"serviceaccounts":                        "create,delete,list",
		"roles.rbac.authorization.k8s.io":        "create,delete,list",
		"rolebindings.rbac.authorization.k8s.io": "create,delete,list",
		"jobs.batch":                             "create,delete,list",
		"pods":                                   "get,list,watch",
		"pods/log":                               "get",
	}
	if len(got) != len(want) {
		t.Errorf("permissions %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: verbs %q, want %q", k, got[k], v)
		}
	}
	if !needsAccessReview(&rb.Phases[0]) {
		t.Error("a phase with a distributed load step has its access reviewed")
	}
}
