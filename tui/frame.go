package tui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// fit truncates or pads a styled line to exactly w cells.
func fit(line string, w int) string {
	if w <= 0 {
		return ""
	}
	line = strings.ReplaceAll(line, "\t", " ")
	if n := ansi.StringWidth(line); n > w {
		return ansi.Truncate(line, w, "…")
	} else if n < w {
		return line + strings.Repeat(" ", w-n)
	}
	return line
}

// fitLines makes exactly h lines of exactly w cells.
func fitLines(lines []string, w, h int) []string {
	out := make([]string, 0, h)
	for _, l := range lines {
		if len(out) == h {
			break
		}
		out = append(out, fit(l, w))
	}
	for len(out) < h {
		out = append(out, strings.Repeat(" ", max(w, 0)))
	}
	return out
}

// frameSize is what a box's border takes: one cell each side.
const frameSize = 2

// boxed draws lines inside a rounded border of r's size with a title in
// the top edge, with styles st (the cockpit's and the load view's). The
// content area is (W-frameSize)×(H-frameSize).
func boxed(st Styles, r Rect, title string, focused bool, lines []string) string {
	if r.Empty() {
		return ""
	}
	if r.W < frameSize+1 || r.H < frameSize+1 {
		return strings.Join(fitLines(lines, r.W, r.H), "\n")
	}
	bs := st.Border
	if focused {
		bs = st.Focus
	}
	innerW, innerH := r.W-frameSize, r.H-frameSize
	t := ""
	if title != "" {
		t = ansi.Truncate(" "+title+" ", innerW-1, "…")
	}
	top := bs.Render("╭─") + st.Title.Render(t) + bs.Render(strings.Repeat("─", max(innerW-1-ansi.StringWidth(t), 0))+"╮")
	var b strings.Builder
	b.WriteString(top)
	side := bs.Render("│")
	for _, l := range fitLines(lines, innerW, innerH) {
		b.WriteString("\n" + side + l + side)
	}
	b.WriteString("\n" + bs.Render("╰"+strings.Repeat("─", innerW)+"╯"))
	return b.String()
}
