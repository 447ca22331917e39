package tui

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkView renders the root View with the failing preflight of the
// fixture runbook and a load test that has run for a minute (sparklines
// full), at the smallest and a wide size.
func BenchmarkView(b *testing.B) {
	for _, sz := range [][2]int{{80, 24}, {200, 60}} {
		b.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(b *testing.B) {
			m := newTestModel(preflightFailing(b), sz[0], sz[1], Options{LoadControl: func(string) LoadController { return &fakeLoad{} }})
			press(m, "j")
			for i := 1; i <= 60; i++ {
				m.Update(LoadMsg{Step: "health", Snapshot: loadSnap(i, time.Duration(i)*time.Second, time.Duration(50+i%7*20)*time.Millisecond, int64(i%3))})
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_ = m.View()
			}
		})
	}
}

// BenchmarkViewActions renders a phase of actions: the failed rollout's
// detail (result, output tail, access review) at 80x24 and 200x60, and
// the diff viewer open at 200x60.
func BenchmarkViewActions(b *testing.B) {
	for _, tc := range []struct {
		name string
		w, h int
		keys []string
	}{{"detail-80x24", 80, 24, nil}, {"detail-200x60", 200, 60, nil}, {"diff-200x60", 200, 60, []string{"k", "k", "d"}}} {
		b.Run(tc.name, func(b *testing.B) {
			m := newTestModel(rolloutFailed(b), tc.w, tc.h, Options{})
			press(m, "j")
			press(m, tc.keys...)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_ = m.View()
			}
		})
	}
}
