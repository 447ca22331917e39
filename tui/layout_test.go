package tui

import "testing"

func TestLayout(t *testing.T) {
	tests := []struct {
		w, h        int
		tooSmall    bool
		wide        bool
		stepsW      int
		journalH    int
		mainAtLeast int
		loadAtLeast int
	}{
		{w: 59, h: 24, tooSmall: true},
		{w: 80, h: 15, tooSmall: true},
		{w: 60, h: 16, stepsW: 38, journalH: 5, mainAtLeast: 8},
		{w: 80, h: 24, stepsW: 40, journalH: 5, mainAtLeast: 16},
		{w: 119, h: 50, stepsW: 59, journalH: 7, mainAtLeast: 30},
		{w: 120, h: 35, stepsW: 60, journalH: 7, mainAtLeast: 25},
		{w: 120, h: 40, wide: true, stepsW: 60, journalH: 7, mainAtLeast: 18, loadAtLeast: 12},
		{w: 160, h: 48, wide: true, stepsW: 60, journalH: 7, mainAtLeast: 22, loadAtLeast: 14},
		{w: 200, h: 60, wide: true, stepsW: 60, journalH: 7, mainAtLeast: 32, loadAtLeast: 18},
	}
	for _, tt := range tests {
		l := layout(tt.w, tt.h)
		if l.TooSmall != tt.tooSmall {
			t.Errorf("%d×%d: TooSmall %v, want %v", tt.w, tt.h, l.TooSmall, tt.tooSmall)
			continue
		}
		if l.TooSmall {
			continue
		}
		if l.Wide != tt.wide {
			t.Errorf("%d×%d: Wide %v, want %v", tt.w, tt.h, l.Wide, tt.wide)
		}
		if l.Steps.W != tt.stepsW || l.Journal.H != tt.journalH {
			t.Errorf("%d×%d: steps %d wide, journal %d high; want %d, %d", tt.w, tt.h, l.Steps.W, l.Journal.H, tt.stepsW, tt.journalH)
		}
		if l.Steps.H < tt.mainAtLeast || l.Detail.H != l.Steps.H {
			t.Errorf("%d×%d: steps %d, detail %d high; want equal and at least %d", tt.w, tt.h, l.Steps.H, l.Detail.H, tt.mainAtLeast)
		}
		if tt.wide && l.Load.H < tt.loadAtLeast || !tt.wide && !l.Load.Empty() {
			t.Errorf("%d×%d: load %+v", tt.w, tt.h, l.Load)
		}
		checkCover(t, l)
	}
}

// checkCover asserts the panes tile the screen: every cell in exactly one.
func checkCover(t *testing.T, l Layout) {
	t.Helper()
	cells := make([]int, l.Width*l.Height)
	for _, r := range []Rect{l.Header, l.Rail, l.Steps, l.Detail, l.Load, l.Journal, l.Help} {
		if r.Empty() {
			continue
		}
		if r.X < 0 || r.Y < 0 || r.X+r.W > l.Width || r.Y+r.H > l.Height {
			t.Errorf("%d×%d: %+v is off screen", l.Width, l.Height, r)
			return
		}
		for y := r.Y; y < r.Y+r.H; y++ {
			for x := r.X; x < r.X+r.W; x++ {
				cells[y*l.Width+x]++
			}
		}
	}
	for i, n := range cells {
		if n != 1 {
			t.Errorf("%d×%d: cell (%d,%d) covered %d times", l.Width, l.Height, i%l.Width, i/l.Width, n)
			return
		}
	}
}

func FuzzLayout(f *testing.F) {
	f.Add(80, 24)
	f.Add(200, 60)
	f.Fuzz(func(t *testing.T, w, h int) {
		if w < 0 || h < 0 || w > 1000 || h > 500 {
			return
		}
		l := layout(w, h)
		if !l.TooSmall {
			checkCover(t, l)
		}
	})
}
