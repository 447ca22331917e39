package tui

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/cockpit-dev/cockpit/internal/goldenfile"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
)

func tea_WindowSize(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }

// screen is the model's view with colour stripped, as a golden file holds it.
func screen(m *Model) string {
	return ansi.Strip(m.View().Content)
}

// golden checks got against testdata/NAME.golden.
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name+".golden"), got)
}

// checkSize asserts the screen is exactly w×h cells.
func checkSize(t *testing.T, got string, w, h int) {
	t.Helper()
	lines := strings.Split(got, "\n")
	if len(lines) != h {
		t.Errorf("%d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n != w {
			t.Errorf("line %d is %d cells wide, want %d: %q", i, n, w, l)
		}
	}
}

func TestGoldenViews(t *testing.T) {
	sizes := [][2]int{{80, 24}, {120, 40}, {160, 48}, {200, 60}}
	for _, sz := range sizes {
		w, h := sz[0], sz[1]
		t.Run(fmt.Sprintf("preflight-%dx%d", w, h), func(t *testing.T) {
			m := newTestModel(preflightFailing(t), w, h, Options{})
			got := screen(m)
			checkSize(t, got, w, h)
			golden(t, fmt.Sprintf("preflight-%dx%d", w, h), got)
			if strings.Contains(got, testSecret) {
				t.Error("the secret token is on screen")
			}
		})
	}
}

func TestGoldenDialogAndLoad(t *testing.T) {
	m := newTestModel(preflightFailing(t), 80, 24, Options{})
	press(m, "o", "CA restored after the window")
	got := screen(m)
	checkSize(t, got, 80, 24)
	golden(t, "override-dialog-80x24", got)

	m = newTestModel(preflightFailing(t), 160, 48, Options{LoadControl: func(string) LoadController { return &fakeLoad{} }})
	press(m, "j")
	for i := 1; i <= 30; i++ {
		p95 := time.Duration(50+i%7*20) * time.Millisecond
		m.Update(LoadMsg{Step: "health", Snapshot: loadSnap(i, time.Duration(i)*time.Second, p95, int64(i%3))})
	}
	got = screen(m)
	checkSize(t, got, 160, 48)
	golden(t, "load-160x48", got)

	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	got = screen(m)
	checkSize(t, got, 80, 24)
	golden(t, "load-80x24", got)
}

// A secret in a result's message never reaches the screen, also where
// wrapping the detail pane would cut it in two (every offset tried).
func TestSecretNeverDrawnWhenWrapped(t *testing.T) {
	for pad := 0; pad < 120; pad++ {
		e := newEngine(t)
		e.apply(runbook.Started{Operator: "lead"})
		e.result("cluster-issuers", probes.Result{Status: probes.StatusFail, Summary: "0/2 Ready",
			Message: strings.Repeat("x", pad) + " token " + testSecret + " rejected"})
		m := newTestModel(e, 120, 40, Options{})
		got := strings.ReplaceAll(screen(m), "\n", "")
		for _, part := range []string{testSecret[:8], testSecret[len(testSecret)-8:]} {
			if strings.Contains(got, part) {
				t.Fatalf("pad %d: %q of the secret is on screen:\n%s", pad, part, screen(m))
			}
		}
	}
}
