package signoff

// pageHTML is the report's one page: styles inline, no script but the
// one that unfolds the folded evidence for printing, charts inline SVG.
const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="cockpit">
<title>{{.Title}}</title>
<style>
:root{--fg:#1d2330;--muted:#5b6475;--line:#d5d9e0;--bg:#fff;--pass:#1f8a4c;--warn:#b7791f;--fail:#c53030;--over:#dd6b20;--other:#8a94a6;--blue:#2b6cb0;--purple:#6b46c1}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1100px;padding:24px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.banner{border-radius:8px;padding:16px 20px;color:#fff;margin:12px 0}
.banner .verdict{font-size:28px;font-weight:700;letter-spacing:.5px}
.banner .reason{font-size:15px;margin-top:2px}
.v-go{background:var(--pass)}.v-warn{background:var(--over)}.v-nogo{background:var(--fail)}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin-top:10px;font-size:13px}
.facts dt{opacity:.85}.facts dd{margin:0;word-break:break-all}
.chain{font-weight:600}
table{border-collapse:collapse;width:100%;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f5f8}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.s-pass{color:var(--pass);font-weight:600}.s-warn{color:var(--warn);font-weight:600}.s-fail{color:var(--fail);font-weight:600}.s-overridden{color:var(--over);font-weight:600}.s-other{color:var(--muted)}
.g-pass{fill:var(--pass)}.g-warn{fill:var(--warn)}.g-fail{fill:var(--fail)}.g-overridden{fill:var(--over)}.g-other{fill:var(--other)}
details summary{cursor:pointer;color:var(--muted)}
figure{margin:8px 0 16px;break-inside:avoid;page-break-inside:avoid}
figcaption{font-size:12px;color:var(--muted)}
svg.chart{width:100%;height:auto;display:block;font-family:inherit}
svg .axis{stroke:var(--fg);stroke-width:1}
svg .grid{stroke:var(--line);stroke-width:1}
svg text{fill:var(--fg);font-size:11px}
svg .lbl{font-size:12px;fill:var(--muted)}
svg .bar-label{fill:#fff;font-size:11px;font-weight:600}
svg path.s{fill:none;stroke-width:1.8}
svg path.dash{stroke-dasharray:5 4}
.c-p50{stroke:var(--blue)}.c-p95{stroke:var(--purple)}.c-p99{stroke:var(--fail)}.c-target{stroke:var(--muted)}.c-delivered{stroke:var(--pass)}.c-errors{stroke:var(--fail)}
svg .t-line{stroke:var(--over);stroke-width:1.2;stroke-dasharray:2 3}
svg .t-text{fill:var(--over)}
.m-override{fill:var(--over)}.m-confirm{fill:var(--blue)}.m-action{fill:var(--purple)}.m-breach{stroke:var(--fail);stroke-width:2.5;fill:none}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;color:var(--muted);margin:2px 0}
.legend svg{vertical-align:middle}
.note{color:var(--muted);font-size:12.5px}
.warn{color:var(--warn)}
.sign td{height:34px}
@media print{
 body{padding:0;max-width:none;font-size:11.5px}
 .banner{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 svg,.g-pass,.g-warn,.g-fail{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 h2{break-after:avoid}
 tr,figure{break-inside:avoid}
 details::details-content{content-visibility:visible;display:block}
 details summary{display:none}
}
</style>
</head>
<body>
<header>
<h1>{{.Title}}</h1>
{{with .Description}}<p class="note">{{.}}</p>{{end}}
<section class="banner {{.VerdictClass}}" id="verdict" aria-label="Verdict">
<div class="verdict">{{.Verdict}}</div>
{{with .Reason}}<div class="reason">{{.}}</div>{{end}}
<dl class="facts">
<dt>Run by</dt><dd>{{.Operators}}</dd>
<dt>Window</dt><dd>{{.Window}}</dd>
<dt>Runbook</dt><dd><code>{{.File}}</code> · digest <code>{{.Digest}}</code></dd>
<dt>Journal</dt><dd><code>{{.Journal}}</code>: {{.Events}} events, <span class="chain">hash chain verified</span>{{if .Torn}} (a torn last line from a crash was left out){{end}}</dd>
<dt>Mode</dt><dd>{{.Mode}}</dd>
{{with .Recorded}}<dt>Recorded by</dt><dd>{{.}}</dd>{{end}}
</dl>
</section>
<p class="note">Computed by cockpit from the journal alone; no line of it was typed by hand. Every passed, warned, overridden or skipped step names the journal record that justifies it (#seq).</p>
</header>

<section id="timeline" aria-label="Timeline">
<h2>Timeline</h2>
{{template "chart" .Timeline}}
<div class="legend">
<span><svg width="14" height="14" viewBox="-7 -7 14 14" aria-hidden="true"><path class="m-override" d="M0,-7L7,0L0,7L-7,0Z"/></svg> override</span>
<span><svg width="14" height="14" viewBox="-7 -7 14 14" aria-hidden="true"><path class="m-confirm" d="M-5,0a5,5 0 1,0 10,0a5,5 0 1,0 -10,0Z"/></svg> confirmation</span>
<span><svg width="14" height="14" viewBox="-7 -7 14 14" aria-hidden="true"><path class="m-action" d="M0,-7L6,5L-6,5Z"/></svg> action (▼ undo)</span>
<span><svg width="14" height="14" viewBox="-7 -7 14 14" aria-hidden="true"><path class="m-breach" d="M-6,-6L6,6M6,-6L-6,6"/></svg> threshold breached</span>
<span>bars: phase gate —
<b class="s-pass">passed</b> · <b class="s-warn">warned</b> · <b class="s-fail">failed</b> · <b class="s-overridden">overridden</b> · <b class="s-other">other</b></span>
</div>
</section>

<section id="phases" aria-label="Phases">
<h2>Phases</h2>
<table>
<thead><tr><th>Phase</th><th>Status</th><th>Gate</th><th>Entered</th><th>Left</th></tr></thead>
<tbody>{{range .Phases}}<tr><td>{{.ID}}</td><td class="{{.Class}}">{{.Status}}</td><td>{{.Gate}}</td><td class="mono">{{.Entered}}</td><td class="mono">{{.Left}}</td></tr>
{{end}}</tbody>
</table>
{{range .Phases}}
<h3>{{.ID}}{{with .Title}} — {{.}}{{end}}</h3>
<table>
<thead><tr><th>Item</th><th>Target</th><th>Achieved</th><th>Status</th><th>Evidence</th><th>Time</th></tr></thead>
<tbody>{{range .Steps}}<tr>
<td><code>{{.ID}}</code>{{with .Title}} {{.}}{{end}}{{if .Optional}} (optional){{end}}</td>
<td>{{.Kind}}: {{.Target}}</td>
<td>{{.Achieved}}</td>
<td class="{{.Class}}">{{.Status}}</td>
<td>{{if .Fold}}<details><summary>{{.Fold}}</summary>{{.Evidence}}</details>{{else}}{{.Evidence}}{{end}}</td>
<td class="mono">{{.At}}{{if .Record}} · #{{.Record}}{{end}}</td>
</tr>
{{end}}</tbody>
</table>
{{end}}
</section>

{{if .Loads}}<section id="loads" aria-label="Load tests">
<h2>Load tests</h2>
{{range .Loads}}<article id="{{.ID}}">
<h3><code>{{.Step}}</code> ({{.Phase}})</h3>
<p>{{.Target}}</p>
<p>{{.Summary}}{{with .Delivery}} {{.}}{{end}}</p>
{{if .Workers}}<p class="{{if .WorkersWarn}}warn{{else}}note{{end}}">{{if .WorkersWarn}}⚠ {{end}}{{.Workers}}</p>{{end}}
{{with .Shortfall}}<p class="warn">⚠ {{.}}</p>{{end}}
<p class="note">Charts drawn from {{.Intervals}}.</p>
{{range .OtherRuns}}<p class="note">{{.}}</p>{{end}}
{{with .Latency}}{{template "chart" .}}{{end}}
{{with .Rate}}{{template "chart" .}}{{end}}
{{with .Errors}}{{template "chart" .}}{{end}}
<table>
<thead><tr><th>Latency (ms)</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>p99.9</th><th>max</th><th>avg</th></tr></thead>
<tbody>{{range .Percentiles}}<tr><td>{{.Name}}</td><td class="num">{{.P50}}</td><td class="num">{{.P90}}</td><td class="num">{{.P95}}</td><td class="num">{{.P99}}</td><td class="num">{{.P999}}</td><td class="num">{{.Max}}</td><td class="num">{{.Avg}}</td></tr>
{{end}}</tbody>
</table>
<table>
<thead><tr><th>Threshold</th><th>Observed</th><th>Result</th></tr></thead>
<tbody>{{range .Thresholds}}<tr><td><code>{{.Threshold}}</code></td><td class="num">{{.Observed}}</td><td class="{{.Class}}">{{.Result}}</td></tr>
{{end}}</tbody>
</table>
</article>
{{end}}</section>{{end}}

<section id="changes" aria-label="Changes made">
<h2>Changes made</h2>
<p>Mode: {{.Mode}}.</p>
{{if .Changes}}<table>
<thead><tr><th>Step</th><th>Action</th><th>Result</th><th>Objects</th><th>Confirmed by</th><th>Time</th></tr></thead>
<tbody>{{range .Changes}}<tr><td><code>{{.Step}}</code> ({{.Phase}})</td><td>{{.Kind}} {{.What}}: {{.Target}}</td><td>{{.Status}}: {{.Summary}}</td><td>{{.Message}}</td><td>{{.Operator}}</td><td class="mono">{{stamp .At}}</td></tr>
{{end}}</tbody>
</table>{{else}}<p>None: no action changed anything.</p>{{end}}
</section>

<section id="overrides" aria-label="Overrides">
<h2>Overrides</h2>
{{if .Overrides}}<table>
<thead><tr><th>What</th><th>Was</th><th>Operator</th><th>Reason</th><th>Time</th></tr></thead>
<tbody>{{range .Overrides}}<tr><td>{{.What}}</td><td>{{.Was}}</td><td>{{.Operator}}</td><td>{{.Text}}</td><td class="mono">{{.At}}</td></tr>
{{end}}</tbody>
</table>{{else}}<p>None: nothing red was accepted.</p>{{end}}
</section>

<section id="confirmations" aria-label="Manual confirmations">
<h2>Manual confirmations</h2>
{{if .Confirmations}}<table>
<thead><tr><th>Step</th><th>Operator</th><th>Note</th><th>Time</th></tr></thead>
<tbody>{{range .Confirmations}}<tr><td>{{.What}}</td><td>{{.Operator}}</td><td>{{.Text}}</td><td class="mono">{{.At}}</td></tr>
{{end}}</tbody>
</table>{{else}}<p>None.</p>{{end}}
{{if .Skips}}<h3>Skipped optional steps</h3>
<table>
<thead><tr><th>Step</th><th>Operator</th><th>Reason</th><th>Time</th></tr></thead>
<tbody>{{range .Skips}}<tr><td>{{.What}}</td><td>{{.Operator}}</td><td>{{.Text}}</td><td class="mono">{{.At}}</td></tr>
{{end}}</tbody>
</table>{{end}}
</section>

<section id="events" aria-label="Timeline of events">
<h2>Events</h2>
<details><summary>{{len .Entries}} timeline entries</summary>
<table>
<thead><tr><th>Time</th><th>Phase</th><th>Step</th><th>What</th></tr></thead>
<tbody>{{range .Entries}}<tr><td class="mono">{{.At}}</td><td>{{.Phase}}</td><td>{{with .Step}}<code>{{.}}</code>{{end}}</td><td>{{.What}}</td></tr>
{{end}}</tbody>
</table>
</details>
</section>

<section id="signoff" aria-label="Sign-off">
<h2>Sign-off</h2>
<p>The computed verdict is <b>{{.Verdict}}</b>. Signing records a decision on it, not a different verdict.</p>
<table class="sign">
<thead><tr><th>Role</th><th>Name</th><th>Decision</th><th>Signature</th><th>Date</th></tr></thead>
<tbody>{{range .Roles}}<tr><td>{{.}}</td><td></td><td></td><td></td><td></td></tr>
{{end}}</tbody>
</table>
</section>
<script>window.addEventListener("beforeprint",function(){document.querySelectorAll("details").forEach(function(d){d.open=true})})</script>
</body>
</html>
{{define "chart"}}<figure id="{{.ID}}">
<svg class="chart" role="img" aria-label="{{.Label}}" aria-labelledby="{{.ID}}-title {{.ID}}-desc" viewBox="0 0 {{.W}} {{.H}}" xmlns="http://www.w3.org/2000/svg">
<title id="{{.ID}}-title">{{.Title}}</title>
<desc id="{{.ID}}-desc">{{.Desc}}</desc>
{{range .YTicks}}<line class="grid" x1="{{$.X0}}" x2="{{$.X1}}" y1="{{.Pos}}" y2="{{.Pos}}"/><text x="{{$.X0}}" dx="-6" y="{{.Pos}}" dy="4" text-anchor="end">{{.Label}}</text>
{{end}}{{range .XTicks}}<line class="grid" x1="{{.Pos}}" x2="{{.Pos}}" y1="{{$.Y0}}" y2="{{$.Y1}}"/><text x="{{.Pos}}" y="{{$.Y1}}" dy="16" text-anchor="middle">{{.Label}}</text>
{{end}}{{range .Lanes}}<text x="{{$.X0}}" dx="-8" y="{{.Y}}" dy="4" text-anchor="end" class="lbl">{{.Label}}</text>
{{end}}{{range .Bars}}<g><title>{{.Title}}</title><rect class="{{.Class}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" rx="3"/><text class="bar-label" x="{{.X}}" dx="6" y="{{.Y}}" dy="13">{{.Label}}</text></g>
{{end}}{{range .Lines}}<line class="{{.Class}}" x1="{{$.X0}}" x2="{{$.X1}}" y1="{{.Y}}" y2="{{.Y}}"/><text class="t-text" x="{{$.X1}}" dx="-4" y="{{.Y}}" dy="-4" text-anchor="end">{{.Label}}</text>
{{end}}{{range .Series}}<path class="s {{.Class}}{{if .Dashed}} dash{{end}}" d="{{.Path}}"><title>{{.Name}}</title></path>
{{end}}{{range .Marks}}<g transform="translate({{.X}},{{.Y}})"><title>{{.Title}}</title><path class="{{.Class}}" d="{{.Shape}}"/></g>
{{end}}<line class="axis" x1="{{.X0}}" x2="{{.X1}}" y1="{{.Y1}}" y2="{{.Y1}}"/>{{if .YLabel}}<line class="axis" x1="{{.X0}}" x2="{{.X0}}" y1="{{.Y0}}" y2="{{.Y1}}"/>
<text class="lbl" transform="translate(14,{{.Y0}}) rotate(-90)" text-anchor="end">{{.YLabel}}</text>{{end}}
<text class="lbl" x="{{.X1}}" y="{{.H}}" dy="-6" text-anchor="end">{{.XLabel}}</text>
</svg>
{{if .Series}}<figcaption><span class="legend">{{range .Series}}<span><svg width="22" height="8" aria-hidden="true"><path class="s {{.Class}}{{if .Dashed}} dash{{end}}" d="M1,4L21,4"/></svg> {{.Name}}</span>{{end}}{{range .Lines}}<span><svg width="22" height="8" aria-hidden="true"><path class="t-line" d="M1,4L21,4"/></svg> {{.Label}}</span>{{end}}</span>{{range .Notes}}<br>{{.}}{{end}}</figcaption>{{end}}
</figure>{{end}}`
