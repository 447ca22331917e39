package signoff

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/internal/goldenfile"
	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/report"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
)

const htmlRunbook = `apiVersion: cockpit/v1
kind: Runbook
metadata: {name: gravl-go-live, description: Production go-live (phase 10-09)}
vars: {api: "http://127.0.0.1:8080"}
phases:
- id: preflight
  title: Critical blockers
  steps:
  - id: issuers
    title: ClusterIssuers Ready
    probe: {kind: http, url: "${api}/issuers", headers: {Authorization: "Bearer ${env:GRAVL_TOKEN}"}}
  - id: notify
    manual: {prompt: "Stakeholders notified?"}
- id: validate
  steps:
  - id: baseline
    load:
      executor: constant-arrival-rate
      rate: 100
      duration: 10s
      baseURL: ${api}
      requests: [{url: /health}]
      thresholds: {http_req_duration: ["p(95)<200", "p(99)<5000"], http_req_failed: ["rate<0.1"]}
`

// The planted secrets: the runbook's ${env:GRAVL_TOKEN} value, and
// credentials a probe or an operator might quote.
const (
	envSecret    = "s3cret-t0ken-4242"
	bearerSecret = "eyJhbGciOiJIUzI1NiJ9.planted"
	basicSecret  = "dXNlcjpwbGFudGVkcGFzcw=="
	cookieSecret = "sessionid=planted-cookie-77"
	pemSecret    = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQplanted"
	rawSecret    = "rawplanted-bearer-9911"
)

// syntheticIntervals are ten one-second intervals of an open model at
// 100 req/s whose p95 rises over 200 ms from the sixth on.
func syntheticIntervals(t *testing.T, t0 time.Time) []loader.Interval {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	var out []loader.Interval
	pass := true
	for i := range 10 {
		cor, raw := loader.NewHistogram(), loader.NewHistogram()
		slow := i >= 5
		for k := range 100 {
			us := int64(20_000 + rng.IntN(30_000))
			if slow && k%10 == 0 {
				us = 400_000 + int64(rng.IntN(50_000))
			}
			_ = raw.RecordValue(us)
			_ = cor.RecordValue(us + int64(rng.IntN(300)))
		}
		lat, err := loader.EncodeHistogram(cor)
		if err != nil {
			t.Fatal(err)
		}
		rw, err := loader.EncodeHistogram(raw)
		if err != nil {
			t.Fatal(err)
		}
		iv := loader.Interval{Index: i, Start: time.Duration(i) * time.Second, End: time.Duration(i+1) * time.Second,
			Time: t0.Add(time.Duration(i+1) * time.Second), Latency: lat, Raw: rw, Requests: 100, Failed: int64(i % 3),
			Errored: int64(i % 3), Status: map[int]int64{200: int64(100 - i%3), 503: int64(i % 3)}, VUs: 12,
			TargetRate: 100, Due: 100, Sent: 100 - int64(i%2)}
		if i == 0 || slow == pass {
			pass = !slow
			iv.Thresholds = []loader.IntervalThreshold{
				{Threshold: "http_req_duration: p(95)<200", Metric: "http_req_duration", Expr: "p(95)<200", Value: 45, HasSamples: true, Pass: pass},
				{Threshold: "http_req_duration: p(99)<5000", Metric: "http_req_duration", Expr: "p(99)<5000", Value: 50, HasSamples: true, Pass: true},
				{Threshold: "http_req_failed: rate<0.1", Metric: "http_req_failed", Expr: "rate<0.1", Value: 0.01, HasSamples: true, Pass: true},
			}
		}
		out = append(out, iv)
	}
	return out
}

func trendPtr(l loader.Latency) *report.Trend { tr := trendOf(l); return &tr }

// recordHTMLRun writes a deterministic journal through the engine: a red
// probe overridden, a confirmation, a load test with its intervals, and
// the operator's texts carrying the planted secrets and markup.
func recordHTMLRun(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	rb, err := runbook.Parse("gravl-go-live.yaml", []byte(htmlRunbook), runbook.Options{LookupEnv: func(string) (string, bool) { return envSecret, true }})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)
	now := t0
	path := filepath.Join(dir, "gravl.journal.jsonl")
	sess, err := runbook.Open(rb, runbook.OpenOptions{Journal: path, Now: func() time.Time { return now }, Cockpit: "v0.1.0", Hostname: "ops-1"})
	if err != nil {
		t.Fatal(err)
	}
	s := sess.State
	apply := func(step time.Duration, ev runbook.Event) []runbook.Effect {
		now = now.Add(step)
		at := runbook.At{Time: now, Event: ev}
		var effs []runbook.Effect
		s, effs = runbook.Apply(s, at)
		if err := sess.Journal.Append(at, "lead", s.Phases[s.Current].ID); err != nil {
			t.Fatal(err)
		}
		return effs
	}
	var answer func([]runbook.Effect)
	answer = func(effs []runbook.Effect) {
		for _, e := range effs {
			switch e := e.(type) {
			case runbook.StartProbe:
				answer(apply(30*time.Second, runbook.ProbeResult{Step: e.Step, RunID: e.RunID, Result: probes.Result{
					Status: probes.StatusFail, Summary: "3/4 Ready",
					Message: "1 of 4 not Ready; the probe sent Authorization: Bearer " + bearerSecret + " and the token " + envSecret +
						"; Cookie: " + cookieSecret + "; -----BEGIN PRIVATE KEY-----\n" + pemSecret + "\n-----END PRIVATE KEY-----; " +
						strings.Repeat("a long explanation of what the issuer said, ", 4),
					Items:      []probes.Item{{Name: "internal-ca-issuer", Status: probes.StatusFail, Reason: "ErrGetKeyPair", Message: `secret "internal-ca" not found <script>alert(1)</script>`}},
					ObservedAt: now}}))
			case runbook.StartLoad:
				start := now
				ivs := syntheticIntervals(t, start)
				for _, iv := range ivs {
					answer(apply(time.Second, runbook.LoadInterval{Step: e.Step, RunID: e.RunID, Interval: iv}))
				}
				st, err := loader.MergeIntervals(ivs)
				if err != nil {
					t.Fatal(err)
				}
				doc := report.Document{Schema: 1, Executor: "constant-arrival-rate", Reason: "duration", DurationS: 10, Requests: st.Requests,
					RatePerSec: st.Rate, Failed: report.Ratio{Rate: float64(st.Failed) / float64(st.Requests), Count: st.Failed, Total: st.Requests},
					Latency: trendOf(st.Latency), Raw: trendPtr(st.Raw), Delivery: &report.Delivery{TargetRate: 100, Rate: 99.5, Due: 1000, Sent: 995},
					Thresholds: []report.ThresholdResult{
						{Threshold: "http_req_duration: p(95)<200", Metric: "http_req_duration", Expr: "p(95)<200", Value: float64(st.Latency.P95.Microseconds()) / 1000, HasSamples: true},
						{Threshold: "http_req_duration: p(99)<5000", Metric: "http_req_duration", Expr: "p(99)<5000", Value: float64(st.Latency.P99.Microseconds()) / 1000, HasSamples: true, Pass: true},
						{Threshold: "http_req_failed: rate<0.1", Metric: "http_req_failed", Expr: "rate<0.1", Value: 0.01, HasSamples: true, Pass: true}}}
				answer(apply(time.Second, runbook.LoadResult{Step: e.Step, RunID: e.RunID, Report: &doc, Result: probes.Result{
					Status: probes.StatusFail, Summary: "1000 reqs · 100/s", Message: "1 of 3 threshold(s) failed", ObservedAt: now}}))
			}
		}
	}
	answer(apply(0, runbook.Started{Operator: "lead"}))
	for _, ev := range []runbook.Event{
		runbook.Confirmed{Step: "notify", Operator: "lead", Note: "mail sent <b>08:55</b>, token " + envSecret},
		runbook.Overridden{Step: "issuers", Operator: "lead", Reason: "internal CA unused by gravl; OPS-112; Basic " + basicSecret},
		runbook.Advance{Operator: "lead"},
		runbook.Overridden{Phase: "validate", Operator: "cto", Reason: "p95 accepted for launch week; OPS-113"},
		runbook.Advance{Operator: "lead"},
	} {
		answer(apply(20*time.Second, ev))
	}
	sess.Journal.Close()
	// A line written around the journal's own redactor (an older cockpit,
	// a bug): the report must not trust the journal to be clean.
	appendRaw(t, path, now.Add(time.Minute), "run.aborted", runbook.Aborted{Operator: "lead", Reason: "late note: Authorization: Bearer " + rawSecret})
	return path
}

// appendRaw appends a record with a valid hash chain and no redaction.
func appendRaw(t *testing.T, path string, at time.Time, typ string, payload any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	last := lines[len(lines)-1]
	var prev runbook.Record
	if err := json.Unmarshal(last, &prev); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(last)
	p, _ := json.Marshal(payload)
	line, _ := json.Marshal(runbook.Record{Seq: prev.Seq + 1, Time: at, Type: typ, Operator: "lead", Payload: p, Prev: hex.EncodeToString(sum[:])})
	if err := os.WriteFile(path, append(append(data, line...), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
}

func renderHTML(t *testing.T, path string) string {
	t.Helper()
	r, err := FromJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	r.Journal = "gravl.journal.jsonl"
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var (
	textRe   = regexp.MustCompile(`(?s)<(h1|h2|h3|th|title)[^>]*>(.*?)</(h1|h2|h3|th|title)>`)
	idRe     = regexp.MustCompile(`<(section|figure) id="([^"]+)"`)
	svgRe    = regexp.MustCompile(`(?s)<svg class="chart"[^>]*>.*?</svg>`)
	markupRe = regexp.MustCompile(`<[^>]+>`)
)

// outline is the page's structure: sections and figures by id, headings,
// table headers and chart titles, in order.
func outline(page string) string {
	var b strings.Builder
	for _, m := range regexp.MustCompile(`(?s)<(section|figure) id="[^"]+"|<(h1|h2|h3|th|title)[^>]*>.*?</(h1|h2|h3|th|title)>`).FindAllString(page, -1) {
		if id := idRe.FindStringSubmatch(m); id != nil {
			fmt.Fprintf(&b, "%s #%s\n", id[1], id[2])
			continue
		}
		t := textRe.FindStringSubmatch(m)
		fmt.Fprintf(&b, "  %s: %s\n", t[1], strings.Join(strings.Fields(markupRe.ReplaceAllString(t[2], "")), " "))
	}
	return b.String()
}

// The page's structure: the verdict, the timeline, every phase table, the
// load charts and tables, changes, overrides, confirmations, events and
// the sign-off, with every chart titled and labelled for screen readers.
func TestHTMLStructureGolden(t *testing.T) {
	page := renderHTML(t, recordHTMLRun(t))
	goldenfile.Check(t, filepath.Join("testdata", "html-structure.golden"), outline(page))
	charts := svgRe.FindAllString(page, -1)
	if len(charts) != 4 {
		t.Fatalf("%d charts, want the timeline and three for the load test", len(charts))
	}
	for _, c := range charts {
		open := c[:strings.Index(c, ">")]
		if !regexp.MustCompile(`aria-label="[^"]{20,}"`).MatchString(open) || !strings.Contains(c, "<title id=") || !strings.Contains(c, `role="img"`) {
			t.Errorf("a chart without its aria-label, role or title: %.200s", c)
		}
	}
	for _, want := range []string{
		`class="banner v-warn"`, "hash chain verified", "sha256:", "Run by", "<details><summary>",
		`stroke-dasharray`, `class="s c-p95 dash"`, "http_req_duration: p(95)&lt;200", // a threshold line
		"threshold breached in baseline: http_req_duration: p(95)&lt;200", // the breach on the timeline
		"override of issuers by lead", "confirmed notify by lead",
		"latency (ms)", "requests per second", "failed (%)", "time since the load test started (s)", "time (UTC)",
		"&lt;script&gt;alert(1)&lt;/script&gt;", "mail sent &lt;b&gt;08:55&lt;/b&gt;",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<b>08:55") {
		t.Error("markup from the journal reached the page unescaped")
	}
	// Self-contained: nothing to fetch.
	if m := regexp.MustCompile(`(?i)<link|<img|<iframe|\bsrc=|\bhref=|url\(|@import|@font-face`).FindString(page); m != "" {
		t.Errorf("the page fetches something: %q", m)
	}
}

// Secrets planted in the journal — the runbook's ${env:} value in a probe
// message and a note, credentials in an override reason and a probe
// message, a private key, and a line written around the journal's
// redactor — never reach the page.
func TestHTMLNoSecrets(t *testing.T) {
	path := recordHTMLRun(t)
	journal, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(journal, []byte(rawSecret)) {
		t.Fatal("the raw line's secret was not planted")
	}
	page := renderHTML(t, path)
	for _, s := range []string{envSecret, bearerSecret, basicSecret, "planted-cookie-77", pemSecret, rawSecret} {
		if strings.Contains(page, s) {
			t.Errorf("secret %q is in the HTML report", s)
		}
	}
	if !strings.Contains(page, "[REDACTED]") {
		t.Error("nothing was redacted: the secrets were not planted where the page shows them")
	}
}
