package signoff

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cockpit-dev/cockpit/loader/report"
)

// WriteMarkdown renders the report as a Markdown sign-off document.
func WriteMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Go-live sign-off: %s\n\n", r.Runbook)
	if r.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", r.Description)
	}
	fmt.Fprintf(&b, "## Verdict: **%s**\n\n", r.Verdict)
	if r.Reason != "" {
		fmt.Fprintf(&b, "%s.\n\n", strings.TrimSuffix(r.Reason, "."))
	}
	b.WriteString("Computed by cockpit from the journal below; no line of it was typed by hand. " +
		"Every passed, warned, overridden or skipped step names the journal record that justifies it (#seq).\n\n")
	b.WriteString("| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| Runbook | `%s` (%s) |\n", cell(r.File), short(r.Digest))
	fmt.Fprintf(&b, "| Journal | `%s`: %d events, hash chain verified%s |\n", cell(r.Journal), r.Events, tornNote(r.Torn))
	fmt.Fprintf(&b, "| Window | %s → %s (%s) |\n", stamp(r.Started), stamp(r.Ended), r.Ended.Sub(r.Started).Round(time.Second))
	fmt.Fprintf(&b, "| Operators | %s |\n", cell(strings.Join(r.Operators, ", ")))
	if r.Cockpit != "" || r.Hostname != "" {
		fmt.Fprintf(&b, "| Recorded by | cockpit %s on %s |\n", cell(r.Cockpit), cell(r.Hostname))
	}

	b.WriteString("\n## Phases\n\n| Phase | Status | Gate | Entered | Left |\n|---|---|---|---|---|\n")
	for _, p := range r.Phases {
		gate := p.Gate
		if p.GateMessage != "" {
			gate += ": " + p.GateMessage
		}
		if p.Override != nil {
			gate += fmt.Sprintf(" — **overridden** by %s: %s", p.Override.Operator, p.Override.Text)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", p.ID, glyph(p.Status)+" "+p.Status, cell(gate), stamp(p.Entered), stamp(p.Left))
	}
	for _, p := range r.Phases {
		title := p.ID
		if p.Title != "" {
			title += " — " + p.Title
		}
		fmt.Fprintf(&b, "\n### %s\n\n| Item | Target | Achieved | Status | Evidence | Time |\n|---|---|---|---|---|---|\n", cell(title))
		for _, s := range p.Steps {
			item := "`" + s.ID + "`"
			if s.Title != "" {
				item += " " + s.Title
			}
			if s.Optional {
				item += " (optional)"
			}
			at := stamp(s.At)
			if s.Record != 0 {
				at += fmt.Sprintf(" · #%d", s.Record)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", cell(item), cell(s.Kind+": "+s.Target), cell(s.Achieved),
				glyph(s.Status)+" "+s.Status, cell(s.Evidence), at)
		}
	}

	if len(r.Loads) > 0 {
		b.WriteString("\n## Load tests\n")
		for _, l := range r.Loads {
			writeLoad(&b, l)
		}
	}

	writeChanges(&b, r)

	b.WriteString("\n## Overrides\n\n")
	if len(r.Overrides) == 0 {
		b.WriteString("None: nothing red was accepted.\n")
	} else {
		b.WriteString("| What | Was | Operator | Reason | Time |\n|---|---|---|---|---|\n")
		for _, d := range r.Overrides {
			what := "gate of " + d.Phase
			if d.Step != "" {
				what = "`" + d.Step + "` (" + d.Phase + ")"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", cell(what), cell(d.Overrode), cell(d.Operator), cell(d.Text), stamp(d.At))
		}
	}
	b.WriteString("\n## Manual confirmations\n\n")
	if len(r.Confirmations) == 0 {
		b.WriteString("None.\n")
	} else {
		b.WriteString("| Step | Operator | Note | Time |\n|---|---|---|---|\n")
		for _, d := range r.Confirmations {
			fmt.Fprintf(&b, "| `%s` (%s) | %s | %s | %s |\n", d.Step, d.Phase, cell(d.Operator), cell(d.Text), stamp(d.At))
		}
	}
	if len(r.Skips) > 0 {
		b.WriteString("\n## Skipped optional steps\n\n| Step | Operator | Reason | Time |\n|---|---|---|---|\n")
		for _, d := range r.Skips {
			fmt.Fprintf(&b, "| `%s` (%s) | %s | %s | %s |\n", d.Step, d.Phase, cell(d.Operator), cell(d.Text), stamp(d.At))
		}
	}

	b.WriteString("\n## Timeline\n\n| Time | Phase | Step | What |\n|---|---|---|---|\n")
	for _, e := range r.Timeline {
		step := ""
		if e.Step != "" {
			step = "`" + e.Step + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", stamp(e.At), e.Phase, step, cell(e.What))
	}

	fmt.Fprintf(&b, "\n## Sign-off\n\nThe computed verdict is **%s**. Signing records a decision on it, not a different verdict.\n\n", r.Verdict)
	b.WriteString("| Role | Name | Decision | Signature | Date |\n|---|---|---|---|---|\n")
	for _, role := range []string{"Go-live lead", "Service owner", "SRE on call"} {
		fmt.Fprintf(&b, "| %s | | | | |\n", role)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeLoad(b *strings.Builder, l Load) {
	d := l.Summary
	fmt.Fprintf(b, "\n### `%s` (%s)\n\n%s\n\n", l.Step, l.Phase, cell(l.Target))
	if w := l.WorkersLine(); w != "" {
		if !l.Workers.Complete() {
			w = "⚠️ " + w
		}
		fmt.Fprintf(b, "%s\n\n", cell(w))
	}
	fmt.Fprintf(b, "%d requests in %s: **%.1f req/s**, %s failed, %d dropped iterations, stopped by %s.\n\n",
		d.Requests, report.Duration(time.Duration(d.DurationS*float64(time.Second))), d.RatePerSec,
		pct(d.Failed.Rate), d.Dropped, d.Reason)
	if dv := d.Delivery; dv != nil {
		fmt.Fprintf(b, "Delivered %.1f of %g req/s (%d of %d iterations due were sent).\n\n", dv.Rate, dv.TargetRate, dv.Sent, dv.Due)
		if dv.Shortfall {
			fmt.Fprintf(b, "⚠️ %s\n\n", cell(dv.Message))
		}
	}
	b.WriteString("| Latency (ms) | p50 | p90 | p95 | p99 | p99.9 | max |\n|---|---|---|---|---|---|---|\n")
	row := func(name string, t report.Trend) {
		fmt.Fprintf(b, "| %s | %g | %g | %g | %g | %g | %g |\n", name, t.Med, t.P90, t.P95, t.P99, t.P999, t.Max)
	}
	row("http_req_duration", d.Latency)
	if d.Raw != nil {
		row("raw (from the actual send)", *d.Raw)
	}
	if d.Lag != nil {
		row("generator lag (actual − intended send)", *d.Lag)
	}
	b.WriteString("\n| Threshold | Observed | Result |\n|---|---|---|\n")
	for _, t := range d.Thresholds {
		obs := fmt.Sprintf("%g", t.Value)
		if !t.HasSamples {
			obs = "no samples"
		}
		res := "✅ pass"
		if !t.Pass {
			res = "❌ fail"
		}
		if t.Aborted {
			res += " (aborted the run)"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s |\n", cell(t.Threshold), obs, res)
	}
}

func pct(f float64) string { return fmt.Sprintf("%.2f%%", f*100) }

// glyph marks a status so the document reads without colour.
func glyph(status string) string {
	switch status {
	case "passed", "pass":
		return "✅"
	case "warned", "warn":
		return "⚠️"
	case "overridden":
		return "🟧"
	case "skipped":
		return "⏭️"
	case "failed", "fail", "aborted", "error", "forbidden":
		return "❌"
	}
	return "⏳"
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19] + "…"
	}
	return d
}

func tornNote(torn bool) string {
	if torn {
		return " (a torn last line from a crash was left out)"
	}
	return ""
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}

// writeChanges lists what the run's actions did, object by object.
func writeChanges(b *strings.Builder, r *Report) {
	fmt.Fprintf(b, "\n## Changes made\n\nMode: %s.\n\n", r.Mode)
	if len(r.Changes) == 0 {
		b.WriteString("None: no action changed anything.\n")
		return
	}
	b.WriteString("| Step | Action | Result | Objects | Confirmed by | Time |\n|---|---|---|---|---|---|\n")
	for _, c := range r.Changes {
		var objs []string
		for _, o := range c.Objects {
			s := o.Ref + " " + o.Op
			if o.ResourceVersion != "" {
				s += " @" + o.ResourceVersion
			}
			if o.Error != "" {
				s += ": " + o.Error
			}
			objs = append(objs, s)
		}
		result := glyph(c.Status) + " " + c.Summary
		if c.Message != "" && c.Message != c.Summary {
			result += " — " + c.Message
		}
		fmt.Fprintf(b, "| `%s` (%s) | %s %s: %s | %s | %s | %s | %s |\n", c.Step, c.Phase, c.Kind, c.What, cell(c.Target),
			cell(result), cell(strings.Join(objs, "; ")), cell(c.Operator), stamp(c.At))
	}
}
