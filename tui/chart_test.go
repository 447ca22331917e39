package tui

import (
	"strings"
	"testing"
	"time"
)

func TestBrailleBit(t *testing.T) {
	// The eight dots of a braille cell, column by column, top to bottom.
	want := []rune{0x01, 0x02, 0x04, 0x40, 0x08, 0x10, 0x20, 0x80}
	i := 0
	for x := range 2 {
		for y := range 4 {
			if got := brailleBit(x, y); got != want[i] {
				t.Errorf("brailleBit(%d, %d) = %#x, want %#x", x, y, got, want[i])
			}
			i++
		}
	}
}

func TestChart(t *testing.T) {
	st := DefaultStyles()
	l := newLoadState("load", 120)
	if got := l.chart(st, 80, 8); got != nil {
		t.Errorf("a chart with no samples: %q", got)
	}
	for i := 1; i <= 40; i++ {
		l.add(loadSnap(i, time.Duration(i)*time.Second, time.Duration(10*i)*time.Millisecond, 0))
	}
	if got := l.chart(st, 80, chartMinRows-1); got != nil {
		t.Errorf("a chart without room: %q", got)
	}
	got := l.chart(st, 60, 6)
	if len(got) != 6 {
		t.Fatalf("%d rows, want 6:\n%s", len(got), strings.Join(got, "\n"))
	}
	if !strings.Contains(got[0], "ms") || !strings.Contains(got[len(got)-1], "p99") {
		t.Errorf("no axis label or legend:\n%s", strings.Join(got, "\n"))
	}
	// A rising p95 ends at the top right, the first seconds low on the left.
	top, bottom := []rune(got[0]), []rune(got[len(got)-2])
	if top[len(top)-1] == ' ' {
		t.Errorf("the latest (highest) second is not at the top right:\n%s", strings.Join(got, "\n"))
	}
	if !strings.ContainsFunc(string(bottom), func(r rune) bool { return r >= 0x2801 && r <= 0x28ff }) {
		t.Errorf("the first seconds are not drawn at the bottom:\n%s", strings.Join(got, "\n"))
	}
}
