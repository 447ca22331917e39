package signoff

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The charts are SVG written here rather than by a plotting library:
// gonum.org/v1/plot adds ~6.3 MB to a binary (its embedded fonts, LaTeX
// and PDF back ends), writes text in a serif font named but not embedded,
// and gives a chart no <title>, <desc> or aria-label. These are a few
// dozen lines of geometry, every label escaped by html/template, drawn in
// the page's own fonts and colours (print included).

// Chart geometry, in SVG user units.
const (
	chartW      = 880
	chartH      = 260
	chartLeft   = 64
	chartRight  = 16
	chartTop    = 14
	chartBottom = 44
)

// chart is one SVG chart, computed: every coordinate is a number the
// template writes as is; every text is escaped by it.
type chart struct {
	ID    string
	Title string
	// Label is the aria-label: the title and what the chart shows.
	Label  string
	Desc   string
	XLabel string
	YLabel string
	W, H   int
	// The plot area.
	X0, X1, Y0, Y1 float64
	XTicks, YTicks []tick
	Series         []series
	Lines          []hline
	Marks          []mark
	Bars           []bar
	Lanes          []lane
	// Notes are said under the chart (a threshold above its range).
	Notes []string
}

type tick struct {
	Pos   float64
	Label string
}

type series struct {
	Name   string
	Class  string // the colour, from the page's CSS
	Dashed bool
	Path   string
}

type hline struct {
	Y     float64
	Label string
	Class string
}

type mark struct {
	X, Y  float64
	Shape string // a path around (0,0)
	Class string
	Title string
}

type bar struct {
	X, Y, W, H float64
	Class      string
	Title      string
	Label      string
}

type lane struct {
	Y     float64
	Label string
}

// point is a data point: x in seconds, y in the chart's unit.
type point struct{ X, Y float64 }

// axis maps data to the plot area.
type axis struct {
	lo, hi   float64
	px0, px1 float64
}

func (a axis) at(v float64) float64 {
	if a.hi == a.lo {
		return a.px0
	}
	return round2(a.px0 + (v-a.lo)/(a.hi-a.lo)*(a.px1-a.px0))
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// niceStep is a 1, 2 or 5 × 10^k step giving about n ticks over span.
func niceStep(span float64, n int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// ticks returns the ticks of [lo, hi] at step, formatted by f.
func ticks(a axis, step float64, f func(float64) string) []tick {
	var out []tick
	start := math.Ceil(a.lo/step-1e-9) * step
	for v := start; v <= a.hi+step*1e-9; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0 // not -0
		}
		out = append(out, tick{Pos: a.at(v), Label: f(v)})
	}
	return out
}

func num(v float64) string {
	if math.Abs(v) >= 100 || v == math.Trunc(v) {
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// newXY lays out a chart of series over x in seconds and y from 0: the
// y range covers the data and the lines that are within 4× of it (a
// line far above is named in a note instead of flattening the data).
func newXY(id, title, desc, xlabel, ylabel string) *chart {
	return &chart{ID: id, Title: title, Desc: desc, XLabel: xlabel, YLabel: ylabel, W: chartW, H: chartH,
		X0: chartLeft, X1: chartW - chartRight, Y0: chartTop, Y1: chartH - chartBottom, Label: title + ": " + desc}
}

type seriesData struct {
	name   string
	class  string
	dashed bool
	pts    []point
}

// plot computes the chart's axes, paths and lines.
func (c *chart) plot(xmax float64, data []seriesData, lines []hline, yunit func(float64) string) {
	ymax := 0.0
	for _, s := range data {
		for _, p := range s.pts {
			ymax = max(ymax, p.Y)
		}
	}
	dataMax := ymax
	for _, l := range lines {
		if dataMax == 0 || l.Y <= 4*dataMax {
			ymax = max(ymax, l.Y)
		}
	}
	if ymax == 0 {
		ymax = 1
	}
	ys := niceStep(ymax*1.05, 5)
	ymax = math.Ceil(ymax*1.05/ys) * ys
	xmax = max(xmax, 1)
	xa := axis{lo: 0, hi: xmax, px0: c.X0, px1: c.X1}
	ya := axis{lo: 0, hi: ymax, px0: c.Y1, px1: c.Y0}
	c.XTicks = ticks(xa, niceStep(xmax, 8), num)
	c.YTicks = ticks(ya, ys, yunit)
	for _, s := range data {
		var b strings.Builder
		for i, p := range s.pts {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&b, "%s%g,%g", cmd, xa.at(p.X), ya.at(p.Y))
		}
		c.Series = append(c.Series, series{Name: s.name, Class: s.class, Dashed: s.dashed, Path: b.String()})
	}
	for _, l := range lines {
		if l.Y > ymax {
			c.Notes = append(c.Notes, fmt.Sprintf("%s: above the chart (its top is %s)", l.Label, yunit(ymax)))
			continue
		}
		c.Lines = append(c.Lines, hline{Y: ya.at(l.Y), Label: l.Label, Class: l.Class})
	}
}

// timelineChart draws the run: a lane per phase, its bar from entered to
// left coloured by its gate, and a lane of marks for what happened.
func timelineChart(r *Report, breaches []breach) *chart {
	start, end := r.Started, r.Ended
	if !end.After(start) {
		end = start.Add(time.Second)
	}
	lanes := len(r.Phases) + 1
	laneH := 26.0
	c := &chart{ID: "timeline", Title: "Timeline of the run",
		Desc:   fmt.Sprintf("%d phases as bars from %s to %s UTC, coloured by their gate; overrides, confirmations, actions and threshold breaches marked at their time", len(r.Phases), start.UTC().Format("15:04:05"), end.UTC().Format("15:04:05")),
		XLabel: "time (UTC)", W: chartW, X0: 120, X1: chartW - chartRight, Y0: chartTop}
	c.Label = c.Title + ": " + c.Desc
	c.Y1 = c.Y0 + laneH*float64(lanes)
	c.H = int(c.Y1) + chartBottom
	secs := end.Sub(start).Seconds()
	xa := axis{lo: 0, hi: secs, px0: c.X0, px1: c.X1}
	at := func(t time.Time) float64 { return xa.at(min(max(t.Sub(start).Seconds(), 0), secs)) }
	step := niceStep(secs, 7)
	c.XTicks = ticks(xa, step, func(v float64) string {
		f := "15:04:05"
		if step >= 60 {
			f = "15:04"
		}
		return start.Add(time.Duration(v * float64(time.Second))).UTC().Format(f)
	})
	for i, p := range r.Phases {
		y := c.Y0 + laneH*float64(i)
		c.Lanes = append(c.Lanes, lane{Y: y + laneH/2, Label: p.ID})
		if p.Entered.IsZero() {
			continue
		}
		left := p.Left
		if left.IsZero() {
			left = end
		}
		x0, x1 := at(p.Entered), at(left)
		gate := p.Gate
		if p.GateMessage != "" {
			gate += ": " + p.GateMessage
		}
		c.Bars = append(c.Bars, bar{X: x0, Y: y + 4, W: max(x1-x0, 2), H: laneH - 8, Class: gateClass(p),
			Title: fmt.Sprintf("%s %s → %s, gate %s", p.ID, p.Entered.UTC().Format("15:04:05"), left.UTC().Format("15:04:05"), gate),
			Label: gateWord(p)})
	}
	my := c.Y0 + laneH*float64(len(r.Phases)) + laneH/2
	c.Lanes = append(c.Lanes, lane{Y: my, Label: "events"})
	add := func(t time.Time, shape, class, title string) {
		c.Marks = append(c.Marks, mark{X: at(t), Y: my, Shape: shape, Class: class, Title: t.UTC().Format("15:04:05") + " " + title})
	}
	for _, d := range r.Overrides {
		what := "gate of " + d.Phase
		if d.Step != "" {
			what = d.Step
		}
		add(d.At, shapeDiamond, "m-override", "override of "+what+" by "+d.Operator+": "+d.Text)
	}
	for _, d := range r.Confirmations {
		add(d.At, shapeCircle, "m-confirm", "confirmed "+d.Step+" by "+d.Operator)
	}
	for _, ch := range r.Changes {
		shape := shapeUp
		if ch.What == "undo" {
			shape = shapeDown
		}
		add(ch.At, shape, "m-action", ch.Kind+" "+ch.What+" "+ch.Step+": "+ch.Summary)
	}
	for _, b := range breaches {
		add(b.At, shapeCross, "m-breach", "threshold breached in "+b.Step+": "+b.Threshold)
	}
	return c
}

// Mark shapes, around (0,0).
const (
	shapeDiamond = "M0,-7L7,0L0,7L-7,0Z"
	shapeCircle  = "M-5,0a5,5 0 1,0 10,0a5,5 0 1,0 -10,0Z"
	shapeUp      = "M0,-7L6,5L-6,5Z"
	shapeDown    = "M0,7L6,-5L-6,-5Z"
	shapeCross   = "M-6,-6L6,6M6,-6L-6,6"
)

// gateClass is the colour of a phase's bar: its gate, or overridden.
func gateClass(p Phase) string {
	if p.Override != nil {
		return "g-overridden"
	}
	switch p.Gate {
	case "pass", "passed":
		return "g-pass"
	case "warn", "warned":
		return "g-warn"
	case "fail", "failed":
		return "g-fail"
	}
	return "g-other"
}

func gateWord(p Phase) string {
	if p.Override != nil {
		return "overridden"
	}
	return p.Gate
}
