package signoff

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/report"
	"github.com/cockpit-dev/cockpit/runbook"
)

const intervalRunbook = `apiVersion: cockpit/v1
kind: Runbook
metadata: {name: intervals}
phases:
- id: validate
  steps:
  - id: rate
    load:
      executor: constant-arrival-rate
      rate: 60
      duration: %s
      preAllocatedVUs: 4
      maxVUs: 20
      baseURL: %s
      requests: [{url: /api}]
      thresholds: {http_req_duration: ["p(95)<2000"], http_req_failed: ["rate<0.5"]}
`

// spreadServer answers with a spread of service times and some 503s.
func spreadServer(t *testing.T) *httptest.Server {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		if i%13 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		spin := time.Now().Add(time.Duration(i%5) * 200 * time.Microsecond)
		for time.Now().Before(spin) {
		}
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// runLoad runs the runbook on the session's journal until it ends or
// stop says so after an event was journaled; it closes the journal.
func runLoad(t *testing.T, rb *runbook.Runbook, path string, stop func(runbook.At) bool) {
	t.Helper()
	sess, err := runbook.Open(rb, runbook.OpenOptions{Journal: path, Operator: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	r := &runbook.Runner{Journal: sess.Journal, Operator: "ci", TickEvery: 10 * time.Millisecond,
		Autopilot: &runbook.Autopilot{Operator: "ci"},
		Observe: func(_ runbook.State, at runbook.At, _ []runbook.Effect) {
			if stop != nil && stop(at) {
				cancel() // the crash: nothing more is journaled
			}
		}}
	if _, err := r.Run(ctx, sess.State, sess.Pending, nil); err != nil {
		t.Fatal(err)
	}
	if err := sess.Journal.Close(); err != nil {
		t.Fatal(err)
	}
}

func parseIntervalRunbook(t *testing.T, dir, duration, url string) *runbook.Runbook {
	t.Helper()
	rb, err := runbook.Parse(filepath.Join(dir, "intervals.yaml"), fmt.Appendf(nil, intervalRunbook, duration, url), runbook.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rb
}

// checkExact merges every journaled interval of the load and compares
// the result with the run's final summary, to the microsecond.
func checkExact(t *testing.T, l Load) {
	t.Helper()
	if len(l.Intervals) < 2 {
		t.Fatalf("%d intervals journaled", len(l.Intervals))
	}
	got, err := l.Window(time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	doc := report.Document{Latency: trendOf(got.Latency)}
	raw := trendOf(got.Raw)
	if doc.Latency != l.Summary.Latency {
		t.Errorf("merged intervals: latency %+v\nthe run's final: %+v", doc.Latency, l.Summary.Latency)
	}
	if l.Summary.Raw == nil || raw != *l.Summary.Raw {
		t.Errorf("merged intervals: raw %+v\nthe run's final: %+v", raw, l.Summary.Raw)
	}
	if got.Requests != l.Summary.Requests || got.Failed != l.Summary.Failed.Count || got.Dropped != l.Summary.Dropped {
		t.Errorf("merged counts %d/%d/%d, the run's %d/%d/%d", got.Requests, got.Failed, got.Dropped,
			l.Summary.Requests, l.Summary.Failed.Count, l.Summary.Dropped)
	}
	if got.Errors.HTTP5xx == 0 {
		t.Error("the fixture's 503s are missing from the intervals")
	}
	// A window is a run of whole intervals: the middle ones here.
	mid := l.Intervals[1 : len(l.Intervals)-1]
	if len(mid) > 0 {
		w, err := l.Window(mid[0].Time.Add(-mid[0].Span()), mid[len(mid)-1].Time)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := loader.MergeIntervals(mid)
		if w.Latency != want.Latency || w.Requests != want.Requests {
			t.Errorf("window %+v, its intervals %+v", w.Latency, want.Latency)
		}
	}
}

// trendOf is report's rounding of a latency to milliseconds.
func trendOf(l loader.Latency) report.Trend {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return report.Trend{Count: l.Count, Avg: float64((l.Mean+500)/1000) / 1000, Min: ms(l.Min), Med: ms(l.P50),
		P90: ms(l.P90), P95: ms(l.P95), P99: ms(l.P99), P999: ms(l.P999), Max: ms(l.Max)}
}

// The journaled intervals of a load step, merged, reproduce the run's
// final percentiles exactly.
func TestJournaledIntervalsReproduceTheRun(t *testing.T) {
	srv := spreadServer(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "j.jsonl")
	runLoad(t, parseIntervalRunbook(t, dir, "3s", srv.URL), path, nil)
	rep, err := FromJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Loads) != 1 {
		t.Fatalf("loads: %+v", rep.Loads)
	}
	checkExact(t, rep.Loads[0])
	// One event a second, each HdrHistogram-encoded.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), `"type":"load.interval"`); n != len(rep.Loads[0].Intervals) || n < 3 || n > 5 {
		t.Errorf("%d load.interval events for a 3s run at 1s intervals (report has %d)", n, len(rep.Loads[0].Intervals))
	}
	if !strings.Contains(string(data), `"latency":"HISTF`) {
		t.Error("no HdrHistogram V2 compressed histogram in the journal")
	}
}

// A crash keeps the intervals written before it: the journal holds them,
// the resumed run's own are the verdict's, and the report lists the
// crashed run's as a run that reached no verdict.
func TestIntervalsSurviveACrash(t *testing.T) {
	srv := spreadServer(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "j.jsonl")
	rb := parseIntervalRunbook(t, dir, "3s", srv.URL)
	var seen int
	runLoad(t, rb, path, func(at runbook.At) bool {
		if _, ok := at.Event.(runbook.LoadInterval); ok {
			seen++
		}
		return seen == 2
	})
	rr, err := runbook.ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	before := 0
	for _, rec := range rr.Records {
		if rec.Type == "load.interval" {
			before++
		}
	}
	if before < 2 {
		t.Fatalf("%d intervals journaled before the crash", before)
	}
	runLoad(t, rb, path, nil) // resumes: the step runs again
	rep, err := FromJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	l := rep.Loads[0]
	if len(l.OtherRuns) != 1 || l.OtherRuns[0].Count < 2 || l.OtherRuns[0].RunID == l.RunID {
		t.Fatalf("runs before the crash: %+v (verdict's run %d)", l.OtherRuns, l.RunID)
	}
	if l.OtherRuns[0].Count+len(l.Intervals) < before+3 {
		t.Errorf("%d + %d intervals after the resume, %d before it", l.OtherRuns[0].Count, len(l.Intervals), before)
	}
	checkExact(t, l)
}
