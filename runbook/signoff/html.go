package signoff

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/cockpit-dev/cockpit/loader/report"
	"github.com/cockpit-dev/cockpit/loader/threshold"
	"github.com/cockpit-dev/cockpit/runbook"
)

// WriteHTML renders the report as one self-contained HTML page: the
// verdict banner, a timeline of the run, every load test over time from
// its journaled intervals, and the Markdown report's tables. Nothing is
// fetched — no script, font or style from elsewhere; the charts are
// inline SVG — so the file opens from a mail attachment or a ticket and
// prints to PDF. Every text goes through html/template's escaping and the
// redactor.
func WriteHTML(w io.Writer, r *Report) error {
	v, err := newPage(r)
	if err != nil {
		return err
	}
	if err := pageTemplate.Execute(w, v); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	return nil
}

// red is the one redactor, with the patterns it knows (the journal was
// redacted of the runbook's secret values when it was written).
func red(s string) string { return (*runbook.Redactor)(nil).String(s) }

// page is what the template renders: every string redacted.
type page struct {
	Title, Runbook, Description string
	Verdict, VerdictClass       string
	Reason                      string
	Operators                   string
	Window                      string
	File, Digest                string
	Journal                     string
	Events                      int
	Torn                        bool
	Recorded                    string
	Mode                        string
	Timeline                    *chart
	Phases                      []phaseView
	Loads                       []loadView
	Changes                     []Change
	Overrides                   []decisionView
	Confirmations               []decisionView
	Skips                       []decisionView
	Entries                     []entryView
	Roles                       []string
	Generated                   string
}

type phaseView struct {
	ID, Title, Status, Gate, Class string
	Entered, Left                  string
	Steps                          []stepView
}

type stepView struct {
	ID, Title, Kind, Target, Achieved, Status, Class string
	Evidence                                         string
	Fold                                             string // evidence's first words when it is folded
	At                                               string
	Record                                           uint64
	Optional                                         bool
}

type decisionView struct {
	What, Was, Operator, Text, At string
}

type entryView struct {
	At, Phase, Step, What string
}

type loadView struct {
	ID, Step, Phase, Target string
	Summary                 string
	Delivery, Shortfall     string
	Latency, Rate, Errors   *chart
	Percentiles             []latencyRow
	Thresholds              []thresholdRow
	Intervals               string
	OtherRuns               []string
	// Workers is a distributed load's workers line; WorkersWarn is set
	// when some worker's data is missing.
	Workers     string
	WorkersWarn bool
}

type latencyRow struct {
	Name                               string
	P50, P90, P95, P99, P999, Max, Avg string
}

type thresholdRow struct {
	Threshold, Observed, Result, Class string
}

// breach is a threshold turning red during a load test.
type breach struct {
	At              time.Time
	Step, Threshold string
}

// foldAt is the evidence length above which it is folded.
const foldAt = 140

func newPage(r *Report) (*page, error) {
	v := &page{Title: red("Go-live sign-off: " + r.Runbook), Runbook: red(r.Runbook), Description: red(r.Description),
		Verdict: r.Verdict, VerdictClass: verdictClass(r.Verdict), Reason: red(r.Reason),
		Operators: red(strings.Join(r.Operators, ", ")), File: red(r.File), Digest: r.Digest, Journal: red(r.Journal),
		Events: r.Events, Torn: r.Torn, Mode: red(r.Mode),
		Window: fmt.Sprintf("%s → %s (%s)", stamp(r.Started), stamp(r.Ended), r.Ended.Sub(r.Started).Round(time.Second)),
		Roles:  []string{"Go-live lead", "Service owner", "SRE on call"}}
	if r.Cockpit != "" || r.Hostname != "" {
		v.Recorded = red("cockpit " + r.Cockpit + " on " + r.Hostname)
	}
	for _, p := range r.Phases {
		pv := phaseView{ID: red(p.ID), Title: red(p.Title), Status: p.Status, Class: statusClass(p.Status),
			Entered: stamp(p.Entered), Left: stamp(p.Left)}
		pv.Gate = p.Gate
		if p.GateMessage != "" {
			pv.Gate += ": " + p.GateMessage
		}
		if p.Override != nil {
			pv.Gate += " — overridden by " + p.Override.Operator + ": " + p.Override.Text
		}
		pv.Gate = red(pv.Gate)
		for _, s := range p.Steps {
			sv := stepView{ID: red(s.ID), Title: red(s.Title), Kind: red(s.Kind), Target: red(s.Target),
				Achieved: red(s.Achieved), Status: s.Status, Class: statusClass(s.Status), Evidence: red(s.Evidence),
				At: stamp(s.At), Record: s.Record, Optional: s.Optional}
			if len([]rune(sv.Evidence)) > foldAt {
				sv.Fold = string([]rune(sv.Evidence)[:foldAt/2]) + "…"
			}
			pv.Steps = append(pv.Steps, sv)
		}
		v.Phases = append(v.Phases, pv)
	}
	var breaches []breach
	for i, l := range r.Loads {
		lv, b, err := newLoadView(i, l)
		if err != nil {
			return nil, err
		}
		v.Loads = append(v.Loads, lv)
		breaches = append(breaches, b...)
	}
	v.Timeline = timelineChart(r, breaches)
	redactChart(v.Timeline)
	for _, c := range r.Changes {
		c.Target, c.Summary, c.Message, c.Operator = red(c.Target), red(c.Summary), red(c.Message), red(c.Operator)
		objs := make([]string, 0, len(c.Objects))
		for _, o := range c.Objects {
			s := o.Ref + " " + o.Op
			if o.ResourceVersion != "" {
				s += " @" + o.ResourceVersion
			}
			if o.Error != "" {
				s += ": " + o.Error
			}
			objs = append(objs, red(s))
		}
		c.Objects = nil
		c.Message = strings.TrimPrefix(strings.Join(append([]string{c.Message}, objs...), "; "), "; ")
		v.Changes = append(v.Changes, c)
	}
	for _, d := range r.Overrides {
		what := "gate of " + d.Phase
		if d.Step != "" {
			what = d.Step + " (" + d.Phase + ")"
		}
		v.Overrides = append(v.Overrides, decisionView{What: red(what), Was: red(d.Overrode), Operator: red(d.Operator), Text: red(d.Text), At: stamp(d.At)})
	}
	for _, d := range r.Confirmations {
		v.Confirmations = append(v.Confirmations, decisionView{What: red(d.Step + " (" + d.Phase + ")"), Operator: red(d.Operator), Text: red(d.Text), At: stamp(d.At)})
	}
	for _, d := range r.Skips {
		v.Skips = append(v.Skips, decisionView{What: red(d.Step + " (" + d.Phase + ")"), Operator: red(d.Operator), Text: red(d.Text), At: stamp(d.At)})
	}
	for _, e := range r.Timeline {
		v.Entries = append(v.Entries, entryView{At: stamp(e.At), Phase: red(e.Phase), Step: red(e.Step), What: red(e.What)})
	}
	return v, nil
}

// redactChart passes a chart's texts through the redactor.
func redactChart(c *chart) {
	c.Title, c.Label, c.Desc = red(c.Title), red(c.Label), red(c.Desc)
	for i := range c.Bars {
		c.Bars[i].Title, c.Bars[i].Label = red(c.Bars[i].Title), red(c.Bars[i].Label)
	}
	for i := range c.Marks {
		c.Marks[i].Title = red(c.Marks[i].Title)
	}
	for i := range c.Lanes {
		c.Lanes[i].Label = red(c.Lanes[i].Label)
	}
	for i := range c.Lines {
		c.Lines[i].Label = red(c.Lines[i].Label)
	}
	for i := range c.Notes {
		c.Notes[i] = red(c.Notes[i])
	}
}

func newLoadView(i int, l Load) (loadView, []breach, error) {
	d := l.Summary
	lv := loadView{ID: fmt.Sprintf("load-%d", i+1), Step: red(l.Step), Phase: red(l.Phase), Target: red(l.Target),
		Summary: fmt.Sprintf("%d requests in %s: %.1f req/s, %s failed, %d dropped iterations, stopped by %s.",
			d.Requests, report.Duration(time.Duration(d.DurationS*float64(time.Second))), d.RatePerSec, pct(d.Failed.Rate), d.Dropped, d.Reason)}
	if l.Workers != nil {
		lv.Workers, lv.WorkersWarn = red(l.WorkersLine()), !l.Workers.Complete()
	}
	if dv := d.Delivery; dv != nil {
		lv.Delivery = fmt.Sprintf("Delivered %.1f of %g req/s (%d of %d iterations due were sent).", dv.Rate, dv.TargetRate, dv.Sent, dv.Due)
		if dv.Shortfall {
			lv.Shortfall = red(dv.Message)
		}
	}
	row := func(name string, t report.Trend) latencyRow {
		f := func(v float64) string { return num(v) }
		return latencyRow{Name: name, P50: f(t.Med), P90: f(t.P90), P95: f(t.P95), P99: f(t.P99), P999: f(t.P999), Max: f(t.Max), Avg: f(t.Avg)}
	}
	lv.Percentiles = append(lv.Percentiles, row("http_req_duration (corrected)", d.Latency))
	if d.Raw != nil {
		lv.Percentiles = append(lv.Percentiles, row("raw (from the actual send)", *d.Raw))
	}
	if d.Lag != nil {
		lv.Percentiles = append(lv.Percentiles, row("generator lag (actual − intended send)", *d.Lag))
	}
	var latLines, errLines []hline
	for _, t := range d.Thresholds {
		tr := thresholdRow{Threshold: red(t.Threshold), Observed: num(t.Value), Result: "pass", Class: "s-pass"}
		if !t.HasSamples {
			tr.Observed = "no samples"
		}
		if !t.Pass {
			tr.Result, tr.Class = "fail", "s-fail"
		}
		if t.Aborted {
			tr.Result += " (aborted the run)"
		}
		lv.Thresholds = append(lv.Thresholds, tr)
		th, err := threshold.Parse(t.Metric, t.Expr)
		if err != nil || th.Window > 0 {
			continue // a windowed threshold is not one line over the run
		}
		switch t.Metric {
		case "http_req_duration":
			latLines = append(latLines, hline{Y: th.Value, Label: red(t.Threshold), Class: "t-line"})
		case "http_req_failed":
			errLines = append(errLines, hline{Y: th.Value * 100, Label: red(t.Threshold), Class: "t-line"})
		}
	}
	lv.Intervals = fmt.Sprintf("%d journaled intervals (load.interval events) of run %d", len(l.Intervals), l.RunID)
	for _, o := range l.OtherRuns {
		lv.OtherRuns = append(lv.OtherRuns, fmt.Sprintf("run %d reached no verdict (a crash, a re-run or its phase left); its %d journaled intervals are not charted", o.RunID, o.Count))
	}
	if len(l.Intervals) == 0 {
		lv.Intervals = "no intervals were journaled for this load test (written by a cockpit before load.interval events): no charts"
		return lv, nil, nil
	}
	var p50, p95, p99, r50, r95, r99, target, sent, done, errs []point
	var breaches []breach
	var short []string
	last := map[string]bool{}
	open := d.Delivery != nil
	xmax := 0.0
	for _, iv := range l.Intervals {
		pc, err := iv.Percentiles()
		if err != nil {
			return lv, nil, fmt.Errorf("load %s: interval %d: %w", l.Step, iv.Index, err)
		}
		x := (iv.Start + iv.End).Seconds() / 2
		xmax = max(xmax, iv.End.Seconds())
		if iv.Requests > 0 {
			p50 = append(p50, point{x, msOf(pc.Corrected.P50)})
			p95 = append(p95, point{x, msOf(pc.Corrected.P95)})
			p99 = append(p99, point{x, msOf(pc.Corrected.P99)})
			if open {
				r50 = append(r50, point{x, msOf(pc.Raw.P50)})
				r95 = append(r95, point{x, msOf(pc.Raw.P95)})
				r99 = append(r99, point{x, msOf(pc.Raw.P99)})
			}
		}
		if iv.Span() < l.Intervals[0].Span()/2 {
			// The run's last interval can be milliseconds long: a rate
			// over it would be noise, so it is named, not drawn.
			short = append(short, fmt.Sprintf("interval %d (%s, %d requests) is too short for a rate and is not drawn", iv.Index, iv.Span().Round(time.Millisecond), iv.Requests))
		} else {
			if open {
				target = append(target, point{iv.Start.Seconds(), iv.TargetRate}, point{iv.End.Seconds(), iv.TargetRate})
				sent = append(sent, point{x, iv.DeliveredRate()})
			}
			done = append(done, point{x, iv.Rate()})
			errs = append(errs, point{x, iv.ErrorRate() * 100})
		}
		for _, t := range iv.Thresholds {
			failing := t.HasSamples && !t.Pass
			if failing && !last[t.Threshold] {
				breaches = append(breaches, breach{At: iv.Time, Step: l.Step, Threshold: t.Threshold})
			}
			last[t.Threshold] = failing
		}
	}
	xl := "time since the load test started (s)"
	lat := newXY(lv.ID+"-latency", "Latency over time: "+l.Step,
		"p50, p95 and p99 per interval in milliseconds, corrected for coordinated omission (solid)"+
			map[bool]string{true: " and raw from the actual send (dashed)", false: " (a closed model: raw is the same)"}[open]+
			", with each latency threshold as a line (a threshold judges the whole run, not one interval)", xl, "latency (ms)")
	data := []seriesData{{"p50", "c-p50", false, p50}, {"p95", "c-p95", false, p95}, {"p99", "c-p99", false, p99}}
	if open {
		data = append(data, seriesData{"p50 raw", "c-p50", true, r50}, seriesData{"p95 raw", "c-p95", true, r95}, seriesData{"p99 raw", "c-p99", true, r99})
	}
	lat.plot(xmax, data, latLines, func(v float64) string { return num(v) })
	lv.Latency = lat
	rate := newXY(lv.ID+"-rate", "Request rate: "+l.Step, "", xl, "requests per second")
	if open {
		rate.Desc = "target rate (dashed) against the rate delivered, iterations sent per second, per interval"
		rate.plot(xmax, []seriesData{{"target", "c-target", true, target}, {"delivered", "c-delivered", false, sent}}, nil, num)
	} else {
		rate.Desc = "completed requests per second per interval (a closed model has no target rate)"
		rate.plot(xmax, []seriesData{{"completed", "c-delivered", false, done}}, nil, num)
	}
	rate.Label = rate.Title + ": " + rate.Desc
	rate.Notes = append(rate.Notes, short...)
	lv.Rate = rate
	ec := newXY(lv.ID+"-errors", "Error rate: "+l.Step, "failed requests (transport errors and status ≥ 400) as a percentage of the interval's requests, with each http_req_failed threshold as a line", xl, "failed (%)")
	ec.plot(xmax, []seriesData{{"failed %", "c-errors", false, errs}}, errLines, func(v float64) string { return num(v) })
	ec.Notes = append(ec.Notes, short...)
	lv.Errors = ec
	for _, c := range []*chart{lv.Latency, lv.Rate, lv.Errors} {
		redactChart(c)
	}
	return lv, breaches, nil
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func verdictClass(v string) string {
	switch v {
	case VerdictGo:
		return "v-go"
	case VerdictGoOverrides, VerdictGoWarnings:
		return "v-warn"
	}
	return "v-nogo"
}

func statusClass(s string) string {
	switch s {
	case "passed", "pass":
		return "s-pass"
	case "warned", "warn":
		return "s-warn"
	case "overridden":
		return "s-overridden"
	case "failed", "fail", "aborted", "error", "forbidden":
		return "s-fail"
	}
	return "s-other"
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{"stamp": stamp}).Parse(pageHTML))
