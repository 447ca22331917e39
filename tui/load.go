package tui

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/cockpit-dev/cockpit/loader"
)

// LoadController changes a running load test. *loader.Control satisfies it.
type LoadController interface {
	Pause() error
	Resume() error
	SetRate(perSecond float64) error
	SetVUs(n int) error
	Stop()
}

var _ LoadController = (*loader.Control)(nil)

// errNoLoad is reported by the load keys when no load test runs.
var errNoLoad = errors.New("no load test is running")

// series names, in drawing order.
const (
	seriesP50 = iota
	seriesP95
	seriesP99
	seriesRPS
	seriesErr
	seriesCount
)

// loadState is what the cockpit keeps of one load step: its latest
// snapshot and one sample a second of each sparkline series.
type loadState struct {
	step    string
	snap    loader.Snapshot
	keep    int
	lastSec int64
	series  [seriesCount][]float64
	// workers is a distributed load step's workers (nil for a local one).
	workers *workersState
}

func newLoadState(step string, keep int) *loadState {
	return &loadState{step: step, keep: keep, lastSec: -1}
}

// add takes a snapshot: the latest value of each second is kept, the
// oldest seconds fall off.
func (l *loadState) add(s loader.Snapshot) {
	l.snap = s
	sec := int64(s.Elapsed / time.Second)
	w := s.Window
	vals := [seriesCount]float64{
		ms(w.Latency.P50), ms(w.Latency.P95), ms(w.Latency.P99),
		w.Rate, errorRate(w) * 100,
	}
	for i := range l.series {
		if sec == l.lastSec && len(l.series[i]) > 0 {
			l.series[i][len(l.series[i])-1] = vals[i]
			continue
		}
		l.series[i] = append(l.series[i], vals[i])
		if len(l.series[i]) > l.keep {
			l.series[i] = l.series[i][len(l.series[i])-l.keep:]
		}
	}
	l.lastSec = sec
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func errorRate(s loader.Stats) float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.Failed) / float64(s.Requests)
}

// summary is the step list's one line for a load step.
func (l *loadState) summary() string {
	s := l.snap
	state := "running"
	switch {
	case s.Done:
		state = "done (" + string(s.Reason) + ")"
	case s.Paused:
		state = "paused"
	}
	return fmt.Sprintf("%s · %.0f/s · p95 %s · %d/%d thresholds", state, s.Window.Rate,
		fmtMS(ms(s.Window.Latency.P95)), passedThresholds(s), len(s.Thresholds))
}

func passedThresholds(s loader.Snapshot) int {
	n := 0
	for _, t := range s.Thresholds {
		if t.Pass {
			n++
		}
	}
	return n
}

// loadCommand turns a load key into the command that applies it to ctl,
// given the run's latest snapshot; the command reports a noticeMsg whose
// errors are wrapped with place. A key the executor cannot take returns
// why instead. Both the cockpit's load pane and the load view use it.
func loadCommand(k KeyMap, msg tea.KeyPressMsg, s loader.Snapshot, ctl LoadController, place string) (tea.Cmd, string) {
	var do func() (string, error)
	switch {
	case key.Matches(msg, k.LoadPause):
		if s.Paused {
			do = func() (string, error) { return "load resumed", ctl.Resume() }
		} else {
			do = func() (string, error) { return "load paused", ctl.Pause() }
		}
	case key.Matches(msg, k.RateUp, k.RateDown):
		if !s.Executor.Open() {
			return nil, fmt.Sprintf("%s is a closed model: change its VUs with > and <", s.Executor)
		}
		rate := scale(s.TargetRate, key.Matches(msg, k.RateUp))
		do = func() (string, error) { return fmt.Sprintf("load rate → %g/s", rate), ctl.SetRate(rate) }
	case key.Matches(msg, k.VUsUp, k.VUsDown):
		cur := s.TargetVUs
		if s.Executor.Open() {
			cur = s.MaxVUs
		}
		n := max(int(scale(float64(max(cur, 1)), key.Matches(msg, k.VUsUp))), 1)
		do = func() (string, error) { return fmt.Sprintf("load VUs → %d", n), ctl.SetVUs(n) }
	case key.Matches(msg, k.LoadStop):
		do = func() (string, error) { ctl.Stop(); return "load stopping", nil }
	default:
		return nil, ""
	}
	return func() tea.Msg {
		text, err := do()
		if err != nil {
			return noticeMsg{err: fmt.Errorf("%s: %w", place, err)}
		}
		return noticeMsg{text: text}
	}, ""
}

// scale steps a rate or VU count by 25% up or down, at least by one.
func scale(v float64, up bool) float64 {
	d := max(v/4, 1)
	if up {
		return v + d
	}
	return max(v-d, 1)
}

// lines draws a load run w cells wide: counts, rates, sparklines and
// threshold badges. The cockpit's load pane and the load view both draw
// with it.
func (l *loadState) lines(st Styles, w int) []string {
	s := l.snap
	win := s.Window
	state := st.Running.Render("↻ running")
	switch {
	case s.Done:
		state = st.Muted.Render("■ done: " + string(s.Reason))
	case s.Paused:
		state = st.Warn.Render("‖ paused")
	}
	vus := fmt.Sprintf("VUs %d", s.VUs)
	if s.Executor.Open() {
		vus += fmt.Sprintf(" (max %d)", s.MaxVUs)
	} else if s.TargetVUs > 0 {
		vus += fmt.Sprintf("/%d", s.TargetVUs)
	}
	rate := fmt.Sprintf("rate %.1f/s", win.Rate)
	switch {
	case s.Executor.Open() && s.Done && s.Delivery.Due > 0:
		// The run's own figures: what was sent against what was due.
		rate = fmt.Sprintf("delivered %.1f of %s/s", s.Delivery.Rate(), fmtValue(s.Delivery.TargetRate()))
	case s.Executor.Open() && !s.Done:
		rate += fmt.Sprintf(" of %g/s", s.TargetRate)
	}
	if shortfall(s) {
		rate = st.Fail.Render(rate + " short")
	}
	if s.Starved {
		rate += " " + st.Fail.Render("starved")
	}
	errPct := errorRate(win) * 100
	errText := fmt.Sprintf("errors %.2f%%", errPct)
	if errPct > 0 {
		errText = st.Fail.Render(errText)
	}
	out := []string{strings.Join([]string{state, string(s.Executor), clockDuration(s.Elapsed), vus, rate, errText,
		fmt.Sprintf("in flight %d", s.InFlight)}, " · ")}
	out = append(out, l.workersLines(st, w)...)

	codes := make([]int, 0, len(s.Total.Status))
	for c := range s.Total.Status {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var counts []string
	for _, c := range codes {
		counts = append(counts, fmt.Sprintf("%d×%d", c, s.Total.Status[c]))
	}
	for _, c := range loader.Classes() {
		if n := s.Total.Errors.ByClass(c); n > 0 {
			counts = append(counts, fmt.Sprintf("%s %d", c, n))
		}
	}
	if s.Total.Dropped > 0 {
		counts = append(counts, fmt.Sprintf("dropped %d", s.Total.Dropped))
	}
	if s.Executor.Open() && win.Lag.Count > 0 {
		// The generator's own lateness, apart from the server's queueing.
		counts = append(counts, fmt.Sprintf("generator lag p50 %s p99 %s", fmtLag(win.Lag.P50), fmtLag(win.Lag.P99)))
	}
	out = append(out, fmt.Sprintf("total %d requests", s.Total.Requests)+prefixed(" · ", strings.Join(counts, " · ")))

	const labelW, valueW = 4, 22
	sparkW := max(w-labelW-valueW-2, 4)
	values := [seriesCount]string{
		latencyValue(win.Latency.P50, win.Raw.P50),
		latencyValue(win.Latency.P95, win.Raw.P95),
		latencyValue(win.Latency.P99, win.Raw.P99),
		fmt.Sprintf("%.1f/s", win.Rate),
		fmt.Sprintf("%.2f%%", errPct),
	}
	names := [seriesCount]string{"p50", "p95", "p99", "rps", "err"}
	for i := range l.series {
		spark := sparkline(l.series[i], sparkW)
		if i == seriesErr && errPct > 0 {
			spark = st.Fail.Render(spark)
		}
		pad := strings.Repeat(" ", max(sparkW-ansi.StringWidth(spark), 0)) // the latest second next to its value
		out = append(out, fmt.Sprintf("%-*s %s%s %s", labelW, names[i], pad, spark, values[i]))
	}
	var badges []string
	for _, t := range s.Thresholds {
		b := fmt.Sprintf("%s %s %s", badgeGlyph(t), t.Threshold.String(), fmtValue(t.Value))
		if t.Pass {
			badges = append(badges, st.BadgePass.Render("["+b+"]"))
		} else {
			badges = append(badges, st.BadgeFail.Render("["+b+"]"))
		}
	}
	out = append(out, wrapBadges(badges, w)...)
	return out
}

// shortfall reports an open model falling short of its target: over the
// run so far (Delivery), or in the live window (more than 1 % of what fell
// due dropped, or under 95 % of the target rate once a full window has
// run).
func shortfall(s loader.Snapshot) bool {
	if !s.Executor.Open() {
		return false
	}
	if s.Delivery.Short() {
		return true
	}
	w := s.Window
	if due := w.Requests + w.Dropped; due > 0 && float64(w.Dropped) > loader.MaxDroppedRatio*float64(due) {
		return true
	}
	return !s.Done && !s.Paused && s.TargetRate > 0 && w.Span >= s.WindowSize && s.WindowSize > 0 &&
		w.Rate < loader.MinDeliveredRatio*s.TargetRate
}

func badgeGlyph(t loader.ThresholdState) string {
	switch {
	case !t.HasSamples:
		return "·"
	case t.Pass:
		return "✓"
	}
	return "✗"
}

// latencyValue shows the corrected latency, and the raw one when it
// differs by more than 5% (coordinated omission in an open model).
func latencyValue(corrected, raw time.Duration) string {
	v := fmtMS(ms(corrected))
	if raw > 0 && corrected > 0 {
		d := corrected - raw
		if d < 0 {
			d = -d
		}
		if float64(d) > 0.05*float64(corrected) {
			v += " (raw " + fmtMS(ms(raw)) + ")"
		}
	}
	return v
}

// fmtLag shows a generator lag: microseconds below a millisecond.
func fmtLag(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
	return fmtMS(ms(d))
}

func fmtMS(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.2fs", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0fms", v)
	case v >= 10:
		return fmt.Sprintf("%.1fms", v)
	}
	return fmt.Sprintf("%.2fms", v)
}

func fmtValue(v float64) string {
	switch {
	case v == float64(int64(v)):
		return fmt.Sprintf("%d", int64(v))
	case v >= 100 || v <= -100:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// wrapBadges lays badges out in lines of at most w cells.
func wrapBadges(badges []string, w int) []string {
	var out []string
	line := ""
	for _, b := range badges {
		switch {
		case line == "":
			line = b
		case ansi.StringWidth(line)+1+ansi.StringWidth(b) <= w:
			line += " " + b
		default:
			out = append(out, line)
			line = b
		}
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}

var sparkLevels = []rune("▁▂▃▄▅▆▇█")

// sparkline draws the last w values scaled from zero to their maximum.
func sparkline(vals []float64, w int) string {
	if len(vals) > w {
		vals = vals[len(vals)-w:]
	}
	hi := 0.0
	for _, v := range vals {
		hi = max(hi, v)
	}
	var b strings.Builder
	for _, v := range vals {
		i := 0
		if hi > 0 {
			i = int(v / hi * float64(len(sparkLevels)-1))
		}
		b.WriteRune(sparkLevels[clamp(i, 0, len(sparkLevels)-1)])
	}
	return b.String()
}
