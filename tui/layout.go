package tui

// Rect is a pane's place on the screen, in cells. A zero Rect is a pane
// that is not shown at this size.
type Rect struct {
	X, Y, W, H int
}

// Empty reports whether the rect has no cells.
func (r Rect) Empty() bool { return r.W <= 0 || r.H <= 0 }

// Layout places every pane for one terminal size.
type Layout struct {
	Width, Height int
	// TooSmall is set below MinWidth×MinHeight: only a notice is drawn.
	TooSmall bool
	// Wide is set when the load pane has a band of its own; otherwise a
	// load step's numbers take the detail pane.
	Wide bool

	Header, Rail, Steps, Detail, Load, Journal, Help Rect
}

// Minimum and comfortable sizes.
const (
	MinWidth  = 60
	MinHeight = 16
	// wideWidth and wideHeight give the load pane a band of its own.
	wideWidth  = 120
	wideHeight = 36
)

// layout splits a width×height terminal into panes. It is pure: the same
// size always gives the same rects, the rects never overlap, and together
// they cover the screen exactly (a table test checks both).
//
//	header  (1 row)
//	rail    (1 row)
//	steps | detail
//	load            (wide screens only)
//	journal
//	help    (1 row)
func layout(width, height int) Layout {
	l := Layout{Width: width, Height: height}
	if width < MinWidth || height < MinHeight {
		l.TooSmall = true
		return l
	}
	l.Header = Rect{X: 0, Y: 0, W: width, H: 1}
	l.Rail = Rect{X: 0, Y: 1, W: width, H: 1}
	l.Help = Rect{X: 0, Y: height - 1, W: width, H: 1}
	body := height - 3 // rows between the rail and the help bar
	y := 2

	l.Wide = width >= wideWidth && height >= wideHeight
	journalH := 5 // a bordered pane with three lines
	if body >= 30 {
		journalH = 7
	}
	loadH := 0
	if l.Wide {
		// Header line, counts, five sparklines, badges, and a chart when
		// there is room; inside a border.
		loadH = clamp(body/3, 12, 18)
	}
	mainH := body - journalH - loadH

	stepsW := clamp(width/2, 38, 60)
	l.Steps = Rect{X: 0, Y: y, W: stepsW, H: mainH}
	l.Detail = Rect{X: stepsW, Y: y, W: width - stepsW, H: mainH}
	y += mainH
	if loadH > 0 {
		l.Load = Rect{X: 0, Y: y, W: width, H: loadH}
		y += loadH
	}
	l.Journal = Rect{X: 0, Y: y, W: width, H: journalH}
	return l
}

func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}
