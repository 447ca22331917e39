package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/threshold"
)

// SchemaVersion is the version of the JSON document. It changes only when a
// field is removed or changes meaning; new fields may appear without it.
const SchemaVersion = 1

// Document is the JSON form of a finished (or interrupted) run.
type Document struct {
	Schema     int               `json:"schema"`
	Executor   string            `json:"executor"`
	Reason     string            `json:"reason"`
	Passed     bool              `json:"passed"`
	DurationS  float64           `json:"duration_s"`
	VUsMax     int               `json:"vus_max"`
	VUsPeak    int               `json:"vus_peak"`
	Requests   int64             `json:"requests"`
	RatePerSec float64           `json:"rate_per_s"`
	Dropped    int64             `json:"dropped_iterations"`
	Interrupt  int64             `json:"interrupted"`
	Failed     Ratio             `json:"http_req_failed"`
	Errored    Ratio             `json:"errors"`
	Checks     Ratio             `json:"checks"`
	BytesIn    int64             `json:"data_received_bytes"`
	BytesOut   int64             `json:"data_sent_bytes"`
	Status     map[string]int64  `json:"status"`
	Errors     map[string]int64  `json:"error_classes"`
	Latency    Trend             `json:"http_req_duration"`
	Raw        *Trend            `json:"http_req_duration_raw,omitempty"`
	Lag        *Trend            `json:"generator_lag,omitempty"`
	Delivery   *Delivery         `json:"delivery,omitempty"`
	Phases     map[string]Trend  `json:"phases"`
	Thresholds []ThresholdResult `json:"thresholds"`
	Events     []Event           `json:"events"`
}

// Delivery is an open model's target against what it delivered
// (loader.Delivery): the rates over the time the schedule ran, the
// iterations due, sent and dropped, whether that is a shortfall, and the
// evidence the loader measured of its cause.
type Delivery struct {
	TargetRate   float64  `json:"target_rate_per_s"`
	Rate         float64  `json:"delivered_rate_per_s"`
	Ratio        float64  `json:"delivered_ratio"`
	Due          int64    `json:"due"`
	Sent         int64    `json:"sent"`
	Dropped      int64    `json:"dropped"`
	ActiveS      float64  `json:"active_s"`
	Shortfall    bool     `json:"shortfall"`
	Message      string   `json:"message,omitempty"`
	Causes       []string `json:"causes,omitempty"`
	MaxVUs       int      `json:"max_vus"`
	VUCapReached bool     `json:"vu_cap_reached"`
	CPUS         float64  `json:"cpu_s"`
	Cores        int      `json:"cores"`
	DropSeconds  int      `json:"drop_seconds"`
	SatSeconds   int      `json:"cpu_saturated_seconds"`
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

func delivery(s loader.Snapshot) *Delivery {
	d := s.Delivery
	out := &Delivery{
		TargetRate: round3(d.TargetRate()), Rate: round3(d.Rate()), Ratio: round3(d.Ratio()),
		Due: d.Due, Sent: d.Sent, Dropped: d.Dropped, ActiveS: round3(d.Active.Seconds()),
		Shortfall: d.Short(), Message: s.Shortfall(),
		MaxVUs: d.MaxVUs, VUCapReached: d.VUCapReached, CPUS: round3(d.CPU.Seconds()), Cores: d.Cores,
		DropSeconds: d.DropSeconds, SatSeconds: d.SaturatedSeconds,
	}
	if out.Shortfall {
		out.Causes = s.ShortfallCauses()
	}
	return out
}

// Ratio is a rate metric: passes out of total.
type Ratio struct {
	Rate  float64 `json:"rate"`
	Count int64   `json:"count"`
	Total int64   `json:"total"`
}

// Trend is a latency distribution in milliseconds.
type Trend struct {
	Count int64   `json:"count"`
	Avg   float64 `json:"avg_ms"`
	Min   float64 `json:"min_ms"`
	Med   float64 `json:"med_ms"`
	P90   float64 `json:"p90_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
}

// ThresholdResult is a threshold's final verdict.
type ThresholdResult struct {
	Threshold  string  `json:"threshold"`
	Metric     string  `json:"metric"`
	Expr       string  `json:"expr"`
	Value      float64 `json:"value"`
	HasSamples bool    `json:"has_samples"`
	Pass       bool    `json:"pass"`
	Aborted    bool    `json:"aborted,omitempty"`
}

// Event is something that changed during the run.
type Event struct {
	AtS     float64 `json:"at_s"`
	Kind    string  `json:"kind"`
	Value   float64 `json:"value,omitempty"`
	Message string  `json:"message,omitempty"`
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

func trend(l loader.Latency) Trend {
	return Trend{Count: l.Count, Avg: ms(l.Mean), Min: ms(l.Min), Med: ms(l.P50), P90: ms(l.P90),
		P95: ms(l.P95), P99: ms(l.P99), P999: ms(l.P999), Max: ms(l.Max)}
}

func ratio(n, total int64) Ratio {
	r := Ratio{Count: n, Total: total}
	if total > 0 {
		r.Rate = float64(n) / float64(total)
	}
	return r
}

// errorClasses returns the non-zero error counts by class name.
func errorClasses(e loader.ErrorCounts) map[string]int64 {
	out := make(map[string]int64)
	for _, c := range loader.ErrorClasses() {
		if n := e.ByClass(c); n > 0 {
			out[c.String()] = n
		}
	}
	return out
}

// NewDocument builds the JSON document of a final snapshot.
func NewDocument(s loader.Snapshot) Document {
	t := s.Total
	d := Document{
		Schema: SchemaVersion, Executor: string(s.Executor), Reason: string(s.Reason), Passed: s.Passed(),
		DurationS: s.Elapsed.Seconds(), VUsMax: s.MaxVUs, VUsPeak: s.PeakVUs, Requests: t.Requests, RatePerSec: t.Rate,
		Dropped: t.Dropped, Interrupt: t.Interrupted,
		Failed: ratio(t.Failed, t.Requests), Errored: ratio(t.Errored, t.Requests),
		Checks:  ratio(t.ChecksPassed, t.ChecksPassed+t.ChecksFailed),
		BytesIn: t.BytesIn, BytesOut: t.BytesOut,
		Status:  make(map[string]int64, len(t.Status)),
		Errors:  errorClasses(t.Errors),
		Latency: trend(t.Latency),
		Phases: map[string]Trend{
			"http_req_dns": trend(t.DNS), "http_req_connecting": trend(t.Connect),
			"http_req_tls_handshaking": trend(t.TLS), "http_req_sending": trend(t.Sending),
			"http_req_waiting": trend(t.Waiting), "http_req_receiving": trend(t.Receiving),
		},
		Thresholds: []ThresholdResult{},
		Events:     []Event{},
	}
	if s.Executor.Open() {
		raw, lag := trend(t.Raw), trend(t.Lag)
		d.Raw, d.Lag = &raw, &lag
		d.Delivery = delivery(s)
	} else {
		d.VUsMax = max(s.VUs, s.TargetVUs)
	}
	for code, n := range t.Status {
		d.Status[fmt.Sprint(code)] = n
	}
	for _, th := range s.Thresholds {
		d.Thresholds = append(d.Thresholds, ThresholdResult{Threshold: th.Threshold.String(), Metric: th.Metric,
			Expr: th.Expr(), Value: th.Value, HasSamples: th.HasSamples, Pass: th.Pass, Aborted: th.Aborted})
	}
	for _, e := range s.Events {
		d.Events = append(d.Events, Event{AtS: e.Elapsed.Seconds(), Kind: string(e.Kind), Value: e.Value, Message: e.Message})
	}
	return d
}

// WriteJSON writes the document of a final snapshot, indented, with a
// trailing newline.
func WriteJSON(w io.Writer, s loader.Snapshot) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(NewDocument(s)); err != nil {
		return fmt.Errorf("write the JSON summary: %w", err)
	}
	return nil
}

// Duration formats a duration the way k6's summary does: µs below 1ms, ms
// with two decimals below 1s, then seconds.
func Duration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

// Bytes formats a byte count in SI units, as k6 does.
func Bytes(n float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for n >= 1000 && i < len(units)-1 {
		n /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f %s", n, units[i])
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}

// rate formats a rate without needless decimals: 200, 12.5.
func rate(r float64) string {
	if r >= 100 || r == math.Trunc(r) {
		return fmt.Sprintf("%.0f", r)
	}
	return fmt.Sprintf("%.1f", r)
}

// percent formats a ratio as a percentage: whole from 10 %, else one decimal.
func percent(f float64) string {
	if f*100 < 10 {
		return fmt.Sprintf("%.1f %%", f*100)
	}
	return fmt.Sprintf("%.0f %%", f*100)
}

func trendLine(l loader.Latency) string {
	return fmt.Sprintf("avg=%s min=%s med=%s max=%s p(90)=%s p(95)=%s p(99)=%s p(99.9)=%s",
		Duration(l.Mean), Duration(l.Min), Duration(l.P50), Duration(l.Max),
		Duration(l.P90), Duration(l.P95), Duration(l.P99), Duration(l.P999))
}

// thresholdValue formats a threshold's aggregated value in its unit.
func thresholdValue(th loader.ThresholdState) string {
	if !th.HasSamples {
		return "no samples"
	}
	agg := th.Agg.String()
	switch th.Kind() {
	case threshold.Trend:
		if th.Agg.Func == threshold.Count {
			return fmt.Sprintf("%s=%g", agg, th.Value)
		}
		return agg + "=" + Duration(time.Duration(th.Value*float64(time.Millisecond)))
	case threshold.Rate:
		return fmt.Sprintf("%s=%.2f%%", agg, th.Value*100)
	}
	return fmt.Sprintf("%s=%g", agg, th.Value)
}

// Summary writes the k6-style end-of-test summary of a final snapshot:
// thresholds first (✓/✗), then every metric. Open models show the latency
// from the intended start (corrected) and from the actual send (raw) side by
// side, since they differ exactly when the target fell behind.
func Summary(w io.Writer, s loader.Snapshot) error {
	var b strings.Builder
	t := s.Total
	if len(s.Thresholds) > 0 {
		b.WriteString("  THRESHOLDS\n\n")
		metric := ""
		for _, th := range s.Thresholds {
			if th.Metric != metric {
				metric = th.Metric
				fmt.Fprintf(&b, "    %s\n", metric)
			}
			mark := "✓"
			if !th.Pass {
				mark = "✗"
			}
			extra := ""
			if th.Aborted {
				extra = " (aborted the run)"
			}
			fmt.Fprintf(&b, "    %s '%s' %s%s\n", mark, th.Expr(), thresholdValue(th), extra)
		}
		b.WriteString("\n")
	}
	b.WriteString("  TOTAL RESULTS\n\n")
	line := func(name, format string, args ...any) {
		dots := max(2, 34-utf8.RuneCountInString(name))
		fmt.Fprintf(&b, "    %s%s: %s\n", name, strings.Repeat(".", dots), fmt.Sprintf(format, args...))
	}
	secs := s.Elapsed.Seconds()
	perSec := func(n float64) float64 {
		if secs <= 0 {
			return 0
		}
		return n / secs
	}
	if s.Executor.Open() {
		d := s.Delivery
		line("delivered_rate", "%.1f of %s req/s (%s) · %d of %d due iterations dropped (%s)",
			d.Rate(), rate(d.TargetRate()), percent(d.Ratio()), d.Dropped, d.Due, percent(d.DroppedRatio()))
		if d.Short() {
			msg := s.Shortfall()
			if _, causes, ok := strings.Cut(msg, "): "); ok {
				msg = causes // the figures are on the line above
			}
			fmt.Fprintf(&b, "    ✗ SHORTFALL: %s\n", msg)
		}
	}
	if n := t.ChecksPassed + t.ChecksFailed; n > 0 {
		line("checks", "%.2f%% %d out of %d", 100*float64(t.ChecksPassed)/float64(n), t.ChecksPassed, n)
	}
	line("data_received", "%s %s/s", Bytes(float64(t.BytesIn)), Bytes(perSec(float64(t.BytesIn))))
	line("data_sent", "%s %s/s", Bytes(float64(t.BytesOut)), Bytes(perSec(float64(t.BytesOut))))
	if s.Executor.Open() {
		line("dropped_iterations", "%d %.2f/s", t.Dropped, perSec(float64(t.Dropped)))
	}
	if t.Requests > 0 {
		line("errors", "%.2f%% %d out of %d", 100*float64(t.Errored)/float64(t.Requests), t.Errored, t.Requests)
	}
	if t.Latency.Count > 0 {
		label := "http_req_duration"
		if s.Executor.Open() {
			label += " (corrected)"
		}
		line(label, "%s", trendLine(t.Latency))
		if s.Executor.Open() {
			line("  raw (from the actual send)", "%s", trendLine(t.Raw))
			line("generator_lag (send − intended)", "%s", trendLine(t.Lag))
		}
	}
	if t.Requests > 0 {
		line("http_req_failed", "%.2f%% %d out of %d", 100*float64(t.Failed)/float64(t.Requests), t.Failed, t.Requests)
	}
	for _, p := range []struct {
		name string
		l    loader.Latency
	}{{"http_req_dns", t.DNS}, {"http_req_connecting", t.Connect}, {"http_req_tls_handshaking", t.TLS},
		{"http_req_sending", t.Sending}, {"http_req_waiting", t.Waiting}, {"http_req_receiving", t.Receiving}} {
		if p.l.Count > 0 {
			line(p.name, "%s", trendLine(p.l))
		}
	}
	line("http_reqs", "%d %.2f/s", t.Requests, perSec(float64(t.Requests)))
	if t.Interrupted > 0 {
		line("interrupted", "%d (cut by the end of the grace period)", t.Interrupted)
	}
	if s.Executor.Open() {
		line("vus_max", "%d", s.MaxVUs)
	} else {
		line("vus_max", "%d", max(s.VUs, s.TargetVUs))
	}
	if errs := errorClasses(t.Errors); len(errs) > 0 {
		b.WriteString("\n  ERRORS\n\n")
		for _, c := range loader.ErrorClasses() {
			if n := errs[c.String()]; n > 0 {
				line(c.String(), "%d", n)
			}
		}
	}
	for _, e := range s.Events {
		if e.Kind == loader.EventInsufficientVUs || e.Kind == loader.EventGraceExpired || e.Kind == loader.EventError || e.Kind == loader.EventAbort {
			fmt.Fprintf(&b, "\n  WARN at %s: %s", e.Elapsed.Round(time.Millisecond), e.Message)
		}
	}
	fmt.Fprintf(&b, "\n\n  %s run %s, stopped: %s\n", s.Executor, s.Elapsed.Round(time.Millisecond), s.Reason)
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write the summary: %w", err)
	}
	return nil
}
