package runbook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/threshold"
	"github.com/cockpit-dev/cockpit/probes"
)

func loadRunbook(load string) string {
	return `apiVersion: cockpit/v1
kind: Runbook
metadata: {name: load-test}
phases:
- id: validate
  steps:
  - id: load
    load:
` + load
}

func TestParseLoadStep(t *testing.T) {
	rb := mustParse(t, loadRunbook(`      executor: constant-arrival-rate
      rate: 50
      duration: 2s
      preAllocatedVUs: 4
      baseURL: http://127.0.0.1:1
      requests:
      - {url: /health}
      - {url: /api/exercises, weight: 3, headers: {Accept: application/json}, checks: {status: [200], json: {ok: true}}}
      thresholds:
        http_req_duration: ["p(95)<200", {threshold: "p(99)<500", abortOnFail: true, delayAbortEval: 1s}]
        http_req_failed: ["rate<0.01"]
`))
	st := rb.Phases[0].Steps[0]
	if st.StepKind() != "load" {
		t.Fatalf("kind = %q", st.StepKind())
	}
	cfg, err := st.Load.Config("")
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Executor
	if e.Kind != loader.ConstantArrivalRate || e.Rate != 50 || e.Duration != 2*time.Second || e.PreAllocatedVUs != 4 {
		t.Errorf("executor = %+v", e)
	}
	if len(cfg.Requests) != 2 || cfg.Requests[1].Weight != 3 || cfg.Requests[1].Header.Get("Accept") != "application/json" ||
		len(cfg.Requests[1].Checks.JSON) != 1 || cfg.Requests[1].Checks.JSON[0].Path != "ok" {
		t.Errorf("requests = %+v", cfg.Requests)
	}
	var got []string
	for _, th := range cfg.Thresholds {
		got = append(got, th.String())
	}
	want := []string{"http_req_duration: p(95)<200", "http_req_duration: p(99)<500, abortOnFail, delayAbortEval=1s", "http_req_failed: rate<0.01"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("thresholds = %q, want %q", got, want)
	}
}

func TestParseLoadStepErrors(t *testing.T) {
	tests := []struct {
		name, load, want string
	}{
		{"no thresholds", "      requests: [{url: http://127.0.0.1:1/}]\n",
			"phases[0].steps[0].load.thresholds: a load step needs thresholds"},
		{"bad expression", "      requests: [{url: http://127.0.0.1:1/}]\n      thresholds: {http_req_duration: [\"p(95<200\"]}\n",
			"r.yaml:10:40: phases[0].steps[0].load.thresholds.http_req_duration[0]: column 5 of the expression"},
		{"unknown metric", "      requests: [{url: http://127.0.0.1:1/}]\n      thresholds: {http_req_time: [\"p(95)<200\"]}\n",
			`load.thresholds.http_req_time: unknown metric "http_req_time"`},
		{"unknown executor", "      executor: constant-rate\n      requests: [{url: http://127.0.0.1:1/}]\n      thresholds: {http_req_failed: [\"rate<0.1\"]}\n",
			`r.yaml:9:7: phases[0].steps[0].load.executor: unknown executor "constant-rate"`},
		{"stages on constant", "      vus: 2\n      duration: 1s\n      stages: [{duration: 1s, target: 2}]\n      requests: [{url: http://127.0.0.1:1/}]\n      thresholds: {http_req_failed: [\"rate<0.1\"]}\n",
			"phases[0].steps[0].load.stages: apply to the ramping executors only"},
		{"no requests", "      duration: 1s\n      thresholds: {http_req_failed: [\"rate<0.1\"]}\n",
			"phases[0].steps[0].load.requests: at least one request is needed"},
		{"unknown field", "      vu: 3\n      duration: 1s\n      requests: [{url: http://127.0.0.1:1/}]\n      thresholds: {http_req_failed: [\"rate<0.1\"]}\n",
			`r.yaml:9:7: phases[0].steps[0].load.vu: unknown field "vu"`},
		{"load repeats", "      requests: [{url: http://127.0.0.1:1/}]\n      thresholds: {http_req_failed: [\"rate<0.1\"]}\n    every: 5s\n",
			"a load test runs once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(loadRunbook(tt.load)), Options{LookupEnv: env(nil)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestEngineLoadStep(t *testing.T) {
	rb := mustParse(t, loadRunbook(`      iterations: 5
      duration: 10s
      requests: [{url: http://127.0.0.1:1/}]
      thresholds: {http_req_failed: ["rate<0.1"]}
`))
	now := time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)
	s, effs := Apply(NewState(rb), At{Time: now, Event: Started{Operator: "lead"}})
	var start StartLoad
	for _, e := range effs {
		if sl, ok := e.(StartLoad); ok {
			start = sl
		}
		if _, ok := e.(StartProbe); ok {
			t.Errorf("a load step started a probe")
		}
	}
	if start.Step != "load" || start.RunID == 0 {
		t.Fatalf("effects = %#v, want a StartLoad", effs)
	}
	// A stale result is dropped; the current one decides.
	s, _ = Apply(s, At{Time: now, Event: LoadResult{Step: "load", RunID: start.RunID + 7, Result: probes.Result{Status: probes.StatusPass}}})
	if got := s.Phases[0].Steps[0].Status; got != StepRunning {
		t.Fatalf("after a stale result: %s, want running", got)
	}
	s, _ = Apply(s, At{Time: now, Event: LoadResult{Step: "load", RunID: start.RunID, Result: probes.Result{Status: probes.StatusFail, Message: "1 of 1 threshold(s) failed"}}})
	if got := s.Phases[0].Steps[0].Status; got != StepFailed {
		t.Fatalf("after a failing result: %s, want failed", got)
	}
	if v := s.Gate(0); v.Status != probes.StatusFail {
		t.Errorf("gate = %+v, want fail", v)
	}
}

// A load step runs the real loader against a loopback server; its verdict
// follows the thresholds, snapshots stream to OnLoad, and the journal keeps
// the summary for the report.
func TestRunnerLoadStep(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.URL.Path == "/slow" {
			time.Sleep(20 * time.Millisecond) // the latency the threshold judges, not a wait
		}
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name       string
		path, expr string
		want       StepStatus
	}{
		{"thresholds pass", "/health", "p(95)<5000", StepPassed},
		{"threshold fails", "/slow", "p(95)<1", StepFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb := mustParse(t, loadRunbook(fmt.Sprintf(`      vus: 2
      iterations: 20
      duration: 30s
      gracefulStop: 1s
      baseURL: %s
      requests: [{url: %s, checks: {status: [200]}}]
      thresholds:
        http_req_duration: [%q]
        http_req_failed: ["rate<0.1"]
`, srv.URL, tt.path, tt.expr)))
			path := filepath.Join(t.TempDir(), "j.jsonl")
			j, err := CreateJournal(path, Header{Runbook: rb.Metadata.Name, Digest: rb.Digest}, time.Now(), nil)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			snaps := 0
			r := &Runner{Journal: j, Operator: "ci", TickEvery: 10 * time.Millisecond,
				Autopilot: &Autopilot{Operator: "ci"},
				OnLoad: func(step string, s loader.Snapshot) {
					mu.Lock()
					defer mu.Unlock()
					if step == "load" {
						snaps++
					}
				}}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			final, err := r.Run(ctx, NewState(rb), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			j.Close()
			ss := final.Phases[0].Steps[0]
			if ss.Status != tt.want {
				t.Fatalf("load step %s (%s: %s), want %s", ss.Status, ss.Last.Summary, ss.Last.Message, tt.want)
			}
			if ss.Load == nil || ss.Load.Requests != 20 || ss.Last.Values["requests"] != 20 {
				t.Errorf("summary = %+v, values %v; want 20 requests", ss.Load, ss.Last.Values)
			}
			mu.Lock()
			if snaps == 0 {
				t.Error("OnLoad saw no snapshot")
			}
			mu.Unlock()
			if r.LoadControl("load") != nil {
				t.Error("a finished load test still has a control")
			}
			// The verdict and its summary survive in the journal.
			replayed := replayJournal(t, rb, path)
			rs := replayed.Phases[0].Steps[0]
			if rs.Status != tt.want || rs.Load == nil || rs.Load.Latency.P95 != ss.Load.Latency.P95 {
				t.Errorf("replayed step %s with %+v, live %s", rs.Status, rs.Load, ss.Status)
			}
		})
	}
}

// The operator's load controls are engine events: journaled, checked
// against the executor, and applied to the running test.
func TestRunnerLoadControl(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	t.Cleanup(srv.Close)
	rb := mustParse(t, loadRunbook(fmt.Sprintf(`      vus: 2
      duration: 60s
      thinkTime: 5ms
      gracefulStop: 1s
      baseURL: %s
      requests: [{url: /}]
      thresholds: {http_req_failed: ["rate<0.1"]}
`, srv.URL)))
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := CreateJournal(path, Header{Runbook: rb.Metadata.Name, Digest: rb.Digest}, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	firstSnap := make(chan struct{})
	var once sync.Once
	var refusals []string
	var mu sync.Mutex
	ops := make(chan Event)
	finished := make(chan struct{}) // the load step has its verdict
	var finOnce sync.Once
	r := &Runner{Journal: j, Operator: "lead", TickEvery: 10 * time.Millisecond,
		OnLoad: func(string, loader.Snapshot) { once.Do(func() { close(firstSnap) }) },
		Observe: func(s State, _ At, effs []Effect) {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range effs {
				if rf, ok := e.(Refused); ok {
					refusals = append(refusals, rf.Reason)
				}
			}
			if s.Phases[0].Steps[0].HasResult {
				finOnce.Do(func() { close(finished) })
			}
		}}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan State)
	go func() {
		final, err := r.Run(runCtx, NewState(rb), nil, ops)
		if err != nil {
			t.Error(err)
		}
		done <- final
	}()
	ops <- Started{Operator: "lead"}
	select {
	case <-firstSnap:
	case <-ctx.Done():
		t.Fatal("the load test never reported")
	}
	for _, ev := range []LoadControl{
		{Step: "load", Op: LoadRate, Value: 50, Operator: "lead"}, // refused: a closed model
		{Step: "load", Op: LoadPause, Operator: "lead"},
		{Step: "load", Op: LoadResume, Operator: "lead"},
		{Step: "load", Op: LoadVUs, Value: 3, Operator: "lead"},
		{Step: "load", Op: LoadVUs, Value: 100_001, Operator: "lead"}, // past the loader's limit: not applied
		{Step: "load", Op: LoadStop, Operator: "lead"},
	} {
		ops <- ev
	}
	// The stopped test finishes; nobody advances, so end the run there.
	select {
	case <-finished:
	case <-ctx.Done():
		t.Fatal("the stopped load test never finished")
	}
	stop()
	final := <-done
	j.Close()
	ss := final.Phases[0].Steps[0]
	if ss.Load == nil {
		t.Fatalf("no load summary: %+v", ss)
	}
	var kinds []string
	for _, e := range ss.Load.Events {
		kinds = append(kinds, e.Kind)
	}
	got := strings.Join(kinds, ",")
	for _, want := range []string{"paused", "resumed", "vus", "stopping"} {
		if !strings.Contains(got, want) {
			t.Errorf("load events %q lack %q", got, want)
		}
	}
	if !strings.Contains(ss.Last.Message, "stopped by the operator after ") ||
		!strings.Contains(ss.Last.Message, " of 1m: 1 threshold(s) passed on the part that ran; the run did not complete") ||
		ss.Last.Status != probes.StatusFail {
		t.Errorf("%v %q, want a failure saying the operator stopped it before its end", ss.Last.Status, ss.Last.Message)
	}
	mu.Lock()
	if len(refusals) != 1 || !strings.Contains(refusals[0], "change its VUs, not its rate") {
		t.Errorf("refusals = %q, want the rate change refused", refusals)
	}
	mu.Unlock()
	rr, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var failed []LoadControlFailed
	for _, rec := range rr.Records {
		switch rec.Type {
		case "load.control":
			n++
		case "load.control.failed":
			var f LoadControlFailed
			if err := json.Unmarshal(rec.Payload, &f); err != nil {
				t.Fatal(err)
			}
			failed = append(failed, f)
		}
	}
	if n != 6 {
		t.Errorf("%d load.control records journaled, want 6 (the refused one too)", n)
	}
	if len(failed) != 1 || failed[0].Op != LoadVUs || failed[0].Value != 100_001 || !strings.Contains(failed[0].Error, "VUs must be > 0 and at most 100000, got 100001") {
		t.Errorf("load.control.failed records %+v, want the loader's refusal of 100001 VUs", failed)
	}
}

// JudgeLoad: a run stopped early fails whatever its thresholds say; an open
// model's shortfall warns, and fails where a dropped_iterations threshold
// says so; threshold aborts and cancellations keep their verdicts.
func TestJudgeLoad(t *testing.T) {
	th := func(line string, pass bool) loader.ThresholdState {
		x, err := threshold.ParseLine(line)
		if err != nil {
			t.Fatal(err)
		}
		return loader.ThresholdState{Threshold: x, HasSamples: true, Pass: pass}
	}
	p95 := th("http_req_duration: p(95)<200", true)
	closed := loader.Snapshot{Executor: loader.ConstantVUs, Done: true, Reason: loader.ReasonDuration,
		Elapsed: 5 * time.Minute, Planned: 5 * time.Minute, Total: loader.Stats{Requests: 1000},
		Thresholds: []loader.ThresholdState{p95, th("http_req_failed: rate<0.01", true), th("checks: rate>0.99", true)}}
	full := loader.Delivery{Due: 2000, Sent: 2000, Active: 10 * time.Second, MaxVUs: 50}
	short := loader.Delivery{Due: 2000, Sent: 820, Dropped: 1180, Active: 10 * time.Second, MaxVUs: 1, VUCapReached: true}
	open := func(d loader.Delivery, ths ...loader.ThresholdState) loader.Snapshot {
		return loader.Snapshot{Executor: loader.ConstantArrivalRate, Done: true, Reason: loader.ReasonDuration,
			Elapsed: 10 * time.Second, Planned: 10 * time.Second, Total: loader.Stats{Requests: d.Sent, Dropped: d.Dropped},
			Delivery: d, Thresholds: ths}
	}
	stopped := closed
	stopped.Reason, stopped.Elapsed = loader.ReasonStopped, 45*time.Second
	aborted := closed
	aborted.Reason = loader.ReasonThreshold
	aborted.Thresholds = []loader.ThresholdState{p95, th("http_req_failed: rate<0.01", false)}
	cancelled := closed
	cancelled.Reason = loader.ReasonCancelled
	stoppedShort := open(short, p95)
	stoppedShort.Reason, stoppedShort.Elapsed = loader.ReasonStopped, 4*time.Second
	for _, c := range []struct {
		what   string
		s      loader.Snapshot
		status probes.Status
		msg    string
	}{
		{"complete", closed, probes.StatusPass, "all 3 threshold(s) passed"},
		{"stopped early", stopped, probes.StatusFail,
			"stopped by the operator after 45s of 5m: 3 threshold(s) passed on the part that ran; the run did not complete"},
		{"aborted by a threshold", aborted, probes.StatusFail, "1 of 2 threshold(s) failed; aborted by an abortOnFail threshold after 300.00s"},
		{"cancelled", cancelled, probes.StatusError, "cancelled after 300.00s before it finished"},
		{"open, delivered", open(full, p95), probes.StatusPass, "all 1 threshold(s) passed"},
		{"open, short", open(short, p95), probes.StatusWarn,
			"delivered 82.0 of 200 req/s (59 % dropped): the generator, not the service, was the limit: " +
				"VU cap reached (all 1 VUs busy with iterations due); all 1 threshold(s) passed"},
		{"open, short, and the runbook says drops fail", open(short, p95, th("dropped_iterations: count<10", false)), probes.StatusFail,
			"1 of 2 threshold(s) failed; delivered 82.0 of 200 req/s (59 % dropped): the generator, not the service, was the limit: " +
				"VU cap reached (all 1 VUs busy with iterations due)"},
		{"open, short, stopped", stoppedShort, probes.StatusFail,
			"stopped by the operator after 4s of 10s: 1 threshold(s) passed on the part that ran; the run did not complete; " +
				"delivered 82.0 of 200 req/s (59 % dropped): the generator, not the service, was the limit: VU cap reached (all 1 VUs busy with iterations due)"},
	} {
		res := JudgeLoad(c.s)
		if res.Status != c.status || res.Message != c.msg {
			t.Errorf("%s: %v %q\nwant %v %q", c.what, res.Status, res.Message, c.status, c.msg)
		}
	}
	lagged := open(short, p95)
	lagged.Total.Lag = loader.Latency{Count: 820, P50: 12 * time.Microsecond, P99: 80 * time.Microsecond}
	res := JudgeLoad(lagged)
	if res.Values["target_rps"] != 200 || res.Values["delivered_rps"] != 82 || res.Values["dropped_ratio"] != 0.59 ||
		res.Values["lag_p50_ms"] != 0.012 || res.Values["lag_p99_ms"] != 0.08 {
		t.Errorf("values %v", res.Values)
	}
	if it := res.Items[len(res.Items)-1]; it.Name != "delivery" || it.Status != probes.StatusWarn {
		t.Errorf("delivery item %+v", it)
	}
}
