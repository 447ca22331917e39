package tui

import (
	"fmt"
	"strings"
)

// chartMinRows is the height a latency chart needs to be worth drawing.
const chartMinRows = 5

// chart draws the window percentiles p50, p95 and p99 of the last seconds
// as a braille line chart w cells wide and h rows high: each cell holds 2×4
// dots, so every second is one dot column. The y axis starts at zero and
// is labelled with the top value; p99 is drawn over p95 over p50, each in
// its own style, and the legend names them so a monochrome terminal reads
// it by shape and legend alone.
func (l *loadState) chart(st Styles, w, h int) []string {
	const axisW = 9 // "1234.5ms "
	cols := w - axisW
	if h < chartMinRows || cols < 10 {
		return nil
	}
	rows := h - 1 // the legend
	dotsX, dotsY := cols*2, rows*4
	series := []struct {
		vals  []float64
		style func(...string) string
	}{
		{l.series[seriesP50], st.Muted.Render},
		{l.series[seriesP95], st.Running.Render},
		{l.series[seriesP99], st.Warn.Render},
	}
	hi := 0.0
	for _, s := range series {
		for _, v := range tail(s.vals, dotsX) {
			hi = max(hi, v)
		}
	}
	if hi <= 0 {
		return nil
	}
	// Per cell: its braille bits and which series drew in it last (the
	// higher percentile wins the colour).
	bits := make([][]rune, rows)
	owner := make([][]int, rows)
	for r := range bits {
		bits[r] = make([]rune, cols)
		owner[r] = make([]int, cols)
		for c := range owner[r] {
			owner[r][c] = -1
		}
	}
	set := func(x, y, who int) {
		if x < 0 || x >= dotsX || y < 0 || y >= dotsY {
			return
		}
		r, c := (dotsY-1-y)/4, x/2
		dy := 3 - (dotsY-1-y)%4 // 0 at the bottom of the cell
		bits[r][c] |= brailleBit(x%2, 3-dy)
		owner[r][c] = max(owner[r][c], who)
	}
	for who, s := range series {
		vals := tail(s.vals, dotsX)
		off := dotsX - len(vals) // the latest second at the right edge
		prev := -1
		for i, v := range vals {
			y := int(v / hi * float64(dotsY-1))
			if prev >= 0 { // join to the previous point with a vertical run
				for yy := min(prev, y); yy <= max(prev, y); yy++ {
					set(off+i, yy, who)
				}
			}
			set(off+i, y, who)
			prev = y
		}
	}
	out := make([]string, 0, h)
	for r := range rows {
		label := ""
		switch r {
		case 0:
			label = fmtMS(hi)
		case rows - 1:
			label = "0"
		case rows / 2:
			label = fmtMS(hi / 2)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%*s ", axisW-1, label)
		for c := range cols {
			if bits[r][c] == 0 {
				b.WriteByte(' ')
				continue
			}
			cell := string(rune(0x2800) + bits[r][c])
			b.WriteString(series[owner[r][c]].style(cell))
		}
		out = append(out, b.String())
	}
	legend := fmt.Sprintf("%*s %s  %s  %s  (last %ds, corrected)", axisW-1, "", st.Muted.Render("⣀ p50"),
		st.Running.Render("⣀ p95"), st.Warn.Render("⣀ p99"), min(len(l.series[seriesP50]), dotsX))
	return append(out, legend)
}

// brailleBit is the bit of the dot at column x (0 or 1) and row y (0 at
// the top, 3 at the bottom) of a braille cell.
func brailleBit(x, y int) rune {
	if y == 3 {
		return rune(0x40 << x)
	}
	return rune(1 << (y + 3*x))
}

// tail is the last n values.
func tail(vals []float64, n int) []float64 {
	if len(vals) > n {
		return vals[len(vals)-n:]
	}
	return vals
}
