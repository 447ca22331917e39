package tui

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// mustContain fails for each want the screen lacks.
func mustContain(t *testing.T, scr string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(scr, w) {
			t.Errorf("screen lacks %q:\n%s", w, scr)
		}
	}
}

// selectStep moves the selection to a step of the shown phase, with the
// operator's keys.
func selectStep(t *testing.T, m *Model, id string) {
	t.Helper()
	steps := m.run.state.Runbook.Phases[m.run.phase].Steps
	for range steps {
		press(m, "k")
	}
	for i := range steps {
		if steps[i].ID == id {
			if _, sel := m.steps.Selection(); sel != i {
				t.Fatalf("selected %d, want %d (%s)", sel, i, id)
			}
			return
		}
		press(m, "j")
	}
	t.Fatalf("no step %q in the shown phase", id)
}

func TestActionGoldens(t *testing.T) {
	for _, tc := range []struct {
		name  string
		e     func(testing.TB) *engine
		w, h  int
		allow bool
		step  string
		keys  []string
	}{
		{"actions-readonly-80x24", func(t testing.TB) *engine { return actionsPlanned(t, false) }, 80, 24, false, "apply-manifests", nil},
		{"actions-readonly-120x40", func(t testing.TB) *engine { return actionsPlanned(t, false) }, 120, 40, false, "apply-manifests", nil},
		{"actions-enabled-80x24", func(t testing.TB) *engine { return actionsPlanned(t, true) }, 80, 24, true, "apply-manifests", nil},
		{"actions-enabled-160x48", func(t testing.TB) *engine { return actionsPlanned(t, true) }, 160, 48, true, "apply-manifests", nil},
		{"diff-80x24", func(t testing.TB) *engine { return actionsPlanned(t, true) }, 80, 24, true, "apply-manifests", []string{"d"}},
		{"diff-readonly-200x60", func(t testing.TB) *engine { return actionsPlanned(t, false) }, 200, 60, false, "apply-manifests", []string{"enter"}},
		{"confirm-action-80x24", func(t testing.TB) *engine { return actionsPlanned(t, true) }, 80, 24, true, "apply-manifests", []string{"c", "CHG-1234"}},
		{"rollout-failed-80x24", rolloutFailed, 80, 24, true, "restart-api", nil},
		{"rollout-failed-160x48", rolloutFailed, 160, 48, true, "restart-api", nil},
		{"undo-dialog-80x24", rolloutFailed, 80, 24, true, "restart-api", []string{"u"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestModel(tc.e(t), tc.w, tc.h, Options{})
			selectStep(t, m, tc.step)
			press(m, tc.keys...)
			got := screen(m)
			checkSize(t, got, tc.w, tc.h)
			golden(t, tc.name, got)
			if strings.Contains(got, "\x1b") || strings.Contains(got, "\x07") {
				t.Error("an escape or control character from the cluster reached the screen")
			}
		})
	}
}

// summary is the step list's line for a step at a width.
func summary(m *Model, id string, w int) string {
	pi, si, _ := m.run.state.Find(id)
	return m.steps.stepSummary(&m.run.state.Runbook.Phases[pi].Steps[si], &m.run.state.Phases[pi].Steps[si], w)
}

func TestActionStepList(t *testing.T) {
	// Read-only: the dry run is all there is, and the header says so.
	m := newTestModel(actionsPlanned(t, false), 160, 48, Options{})
	scr := screen(m)
	mustContain(t, scr, "READ-ONLY", "Δ apply-manifests", "◇ rollout-status", "dry run only · 3 objects",
		"needs apply-manifests", "1/1 rolled out",
		"apply 3 manifests to namespace gravl", "read-only: dry run only (--allow-actions executes)",
		"+ Service/gravl/api created", "~ Deployment/gravl/api configured",
		"✗ patch deployments.apps in gravl — missing: patch", "d shows the diff (46 lines)")
	if strings.Contains(scr, "ACTIONS ENABLED") || strings.Contains(scr, "c to") {
		t.Errorf("a read-only run offers to execute:\n%s", scr)
	}
	if got, want := summary(m, "apply-manifests", 100), "read-only: dry run only · 3 objects: 1 created, 1 configured, 1 unchanged"; got != want {
		t.Errorf("wide summary %q, want %q", got, want)
	}

	// Actions enabled: the plan waits for c; a narrow list keeps the key.
	e := actionsPlanned(t, true)
	m = newTestModel(e, 160, 48, Options{})
	mustContain(t, screen(m), "! ACTIONS ENABLED", "c to confirm · dry run:")
	if got, want := summary(m, "apply-manifests", 100), "dry run: 3 objects: 1 created, 1 configured, 1 unchanged — c to review & confirm"; got != want {
		t.Errorf("wide summary %q, want %q", got, want)
	}

	// Confirmed: executing, with the runner's progress; then the result
	// with the objects' versions; the next action's dry run goes out.
	m.Update(e.apply(runbook.Confirmed{Step: "apply-manifests", Operator: "lead"}))
	mustContain(t, screen(m), "executing…")
	m.Update(ProgressMsg{Step: "apply-manifests", Result: actions.Result{Result: probes.Result{Status: probes.StatusPending, Summary: "2 of 3 applied"}}})
	mustContain(t, screen(m), "executing… 2 of 3 applied", "progress · pending 2 of 3 applied")
	m.Update(e.done("apply-manifests", applyDone))
	scr = screen(m)
	mustContain(t, scr, "applied 3 objects", "~ Deployment/gravl/api configured · rv 81725 · gen 7", "planning…")
	if len(m.run.progress) != 0 {
		t.Errorf("progress kept after the result: %v", m.run.progress)
	}
	// A late progress report is dropped.
	m.Update(ProgressMsg{Step: "apply-manifests", Result: actions.Result{Result: probes.Result{Summary: "a late report"}}})
	if len(m.run.progress) != 0 || strings.Contains(screen(m), "a late report") {
		t.Error("a progress report after the result is kept")
	}

	// A failed rollout offers its undo in the step list and the detail,
	// with the tail of its output.
	m = newTestModel(rolloutFailed(t), 200, 80, Options{})
	selectStep(t, m, "restart-api")
	scr = screen(m)
	mustContain(t, scr, "u undo rev 4 · 0/1 rolled out", "u undoes the rollout to revision 4", "output (last 12 of 31 lines)",
		"│ api-7c9f: panic: migration 0042 missing", "ProgressDeadlineExceeded", "dry run ✓ would restart 1 of 1 workload")
	if got, want := summary(m, "restart-api", 100), "0/1 rolled out; not: Deployment/gravl/api — u undo to rev 4"; got != want {
		t.Errorf("wide summary %q, want %q", got, want)
	}
}

func TestDiffRows(t *testing.T) {
	rows := diffRows(DefaultStyles(), applyDiff, 40)
	plain := make([]string, len(rows))
	for i, r := range rows {
		plain[i] = ansi.Strip(r)
		if n := ansi.StringWidth(r); n > 40 {
			t.Errorf("row %d is %d cells wide: %q", i, n, plain[i])
		}
	}
	all := strings.Join(plain, "\n")
	for _, want := range []string{
		"+        - {name: FEATURE_FLAGS, value: \n↪\"search,feed,leaderboards,weekly-digest\n↪,exercise-video-previews\"}",
		"+        - {name: NOTE, value: \"tab    h\n↪ere red\"}",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("rows lack %q:\n%s", want, all)
		}
	}
	if strings.ContainsAny(all, "\x1b\x07\t") {
		t.Error("a control character survived")
	}
	// Each kind has its style; the glyph stays the first cell.
	s := DefaultStyles()
	for _, tc := range []struct{ line, want string }{
		{"+added", s.DiffAdd.Render("+added")},
		{"-removed", s.DiffDel.Render("-removed")},
		{"@@ -1 +1 @@", s.DiffHunk.Render("@@ -1 +1 @@")},
		{" context", " context"},
	} {
		if got := diffRows(s, tc.line, 40); len(got) != 1 || got[0] != tc.want {
			t.Errorf("diffRows(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
	// File headers only as a ---/+++ pair: a removed "--" line is a removal.
	got := diffRows(s, "--- a\n+++ b\n@@ -1 +1 @@\n---\n+x", 40)
	want := []string{s.DiffFile.Render("--- a"), s.DiffFile.Render("+++ b"), s.DiffHunk.Render("@@ -1 +1 @@"), s.DiffDel.Render("---"), s.DiffAdd.Render("+x")}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("diffRows = %q, want %q", got, want)
	}
}

func TestOutputTail(t *testing.T) {
	m := New(Options{})
	res := &actions.Result{Output: "one\ntwo\n"}
	if lines, total := m.detail.outputTail(res); strings.Join(lines, "|") != "one|two" || total != 2 {
		t.Errorf("tail %q of %d", lines, total)
	}
	res = &restartFailed
	lines, total := m.detail.outputTail(res)
	if len(lines) != outputTailLines || total != 31 || lines[len(lines)-1] != "api-7c9f: panic: migration 0042 missing" {
		t.Errorf("tail %q of %d", lines, total)
	}
	if again, _ := m.detail.outputTail(res); &again[0] != &lines[0] {
		t.Error("the tail is split again for the same result")
	}
	if lines, total := m.detail.outputTail(&actions.Result{Output: "\n\n"}); lines != nil || total != 0 {
		t.Errorf("blank output: %q of %d", lines, total)
	}
}

func TestDiffViewer(t *testing.T) {
	e := actionsPlanned(t, true)
	ops := make(chan runbook.Event, 8)
	m := newTestModel(e, 80, 24, Options{Ops: ops})
	// d on a step that is no action says so.
	selectStep(t, m, "announce")
	press(m, "d")
	if m.diff.isOpen() || !strings.Contains(notice(m), "only actions have a dry-run diff") {
		t.Fatalf("d on a manual step: viewer %v, notice %q", m.diff.isOpen(), notice(m))
	}
	selectStep(t, m, "apply-manifests")
	press(m, "d")
	if !m.diff.isOpen() {
		t.Fatal("d did not open the viewer")
	}
	scr := screen(m)
	mustContain(t, scr, "dry run · apply-manifests · lines 1–10 of 47", "--- Deployment/gravl/api (live)",
		"-      - image: registry.example.com/gravl/api:1.41.2", "+      - image: registry.example.com/gravl/api:1.42.0",
		"@@ -12,9 +12,9 @@")
	// Every key goes to the viewer: scrolling moves it, nothing is sent,
	// the selection stays.
	top := m.diff.viewport().YOffset()
	press(m, "down", "j")
	if m.diff.viewport().YOffset() != top+2 {
		t.Errorf("two lines down: offset %d, want %d", m.diff.viewport().YOffset(), top+2)
	}
	for _, k := range []tea.KeyPressMsg{{Code: tea.KeyPgDown}, {Code: tea.KeyEnd}} {
		m.Update(k)
	}
	if !m.diff.viewport().AtBottom() {
		t.Error("end did not reach the bottom")
	}
	mustContain(t, screen(m), "+metadata: {name: api, namespace: gravl}", "lines 38–47 of 47 (100%)")
	m.Update(tea.KeyPressMsg{Code: tea.KeyPgUp})
	m.Update(tea.KeyPressMsg{Code: tea.KeyHome})
	if !m.diff.viewport().AtTop() {
		t.Error("home did not reach the top")
	}
	press(m, "rRaO")
	if len(ops) != 0 || m.dialog.current() != nil || !m.diff.isOpen() {
		t.Fatalf("keys leaked out of the viewer: ops %d, dialog %v", len(ops), m.dialog.current() != nil)
	}
	press(m, "esc")
	if m.diff.isOpen() || m.run.sel != 0 {
		t.Fatalf("esc: viewer open %v, sel %d", m.diff.isOpen(), m.run.sel)
	}
	// enter opens it too; a resize rebuilds it for the new width.
	press(m, "enter")
	if !m.diff.isOpen() {
		t.Fatal("enter on an action did not open the viewer")
	}
	for _, sz := range [][2]int{{200, 60}, {61, 17}, {40, 10}, {120, 40}} {
		m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		got := screen(m)
		if sz[0] < MinWidth {
			continue
		}
		checkSize(t, got, sz[0], sz[1])
		mustContain(t, got, "dry run · apply-manifests")
	}
	// A fresh dry run while the viewer is open replaces what it shows.
	m.Update(e.apply(runbook.RunStep{Step: "apply-manifests"}))
	mustContain(t, screen(m), "dry run in progress")
	replan := applyPlan
	replan.Diff = "--- ConfigMap/gravl/x (live)\n+++ ConfigMap/gravl/x (dry run)\n@@ -1 +1 @@\n-a: 1\n+a: 2\n"
	m.Update(e.planned("apply-manifests", replan))
	mustContain(t, screen(m), "+a: 2")
}

func TestConfirmActionSendsConfirmed(t *testing.T) {
	e := actionsPlanned(t, true)
	ops := make(chan runbook.Event, 8)
	m := newTestModel(e, 160, 48, Options{Ops: ops})
	selectStep(t, m, "apply-manifests")
	if evs := sent(t, ops, press(m, "c")); len(evs) != 0 {
		t.Fatalf("c sent %v before the dialog was submitted", evs)
	}
	if m.dialog.current() == nil || m.dialog.current().kind != dlgConfirmAction {
		t.Fatalf("c opened %+v, notice %q", m.dialog.current(), notice(m))
	}
	mustContain(t, screen(m), "Confirm action apply-manifests", "Execute: apply 3 manifests to namespace gravl?",
		"would apply 3 objects to gravl", "2 changes", "ctrl+d shows the diff", "Note (optional):")
	// ctrl+d shows the diff over the dialog; c comes back to it.
	press(m, "deploy ")
	m.Update(tea.KeyPressMsg{Code: 'd', Mod: tea.ModCtrl})
	if !m.diff.isOpen() || m.dialog.current() == nil {
		t.Fatalf("ctrl+d in the dialog: viewer %v, dialog %v", m.diff.isOpen(), m.dialog.current() != nil)
	}
	press(m, "c")
	if m.diff.isOpen() || m.dialog.current() == nil || m.dialog.current().input != "deploy " {
		t.Fatalf("c in the viewer over the dialog: viewer %v, dialog %+v", m.diff.isOpen(), m.dialog.current())
	}
	evs := sent(t, ops, press(m, "CHG-1234", "enter"))
	want := runbook.Confirmed{Step: "apply-manifests", Operator: "lead", Note: "deploy CHG-1234"}
	if len(evs) != 1 || evs[0] != want {
		t.Fatalf("sent %#v, want %#v", evs, want)
	}
	// The engine executes it.
	m.Update(e.apply(evs[0]))
	mustContain(t, screen(m), "executing…")

	// From the viewer: d, then c opens the confirmation.
	e = actionsPlanned(t, true)
	m = newTestModel(e, 80, 24, Options{Ops: ops})
	press(m, "d", "c")
	if m.diff.isOpen() || m.dialog.current() == nil || m.dialog.current().kind != dlgConfirmAction {
		t.Fatalf("c in the viewer: viewer %v, dialog %+v", m.diff.isOpen(), m.dialog.current())
	}
	evs = sent(t, ops, press(m, "enter"))
	if len(evs) != 1 || evs[0] != (runbook.Confirmed{Step: "apply-manifests", Operator: "lead"}) {
		t.Fatalf("sent %#v", evs)
	}
}

func TestConfirmActionReadOnly(t *testing.T) {
	e := actionsPlanned(t, false)
	ops := make(chan runbook.Event, 8)
	m := newTestModel(e, 80, 24, Options{Ops: ops})
	selectStep(t, m, "apply-manifests")
	evs := sent(t, ops, press(m, "c"))
	if len(evs) != 0 || m.dialog.current() != nil {
		t.Fatalf("read-only: c sent %v, dialog %v", evs, m.dialog.current() != nil)
	}
	if want := `read-only run: "apply-manifests" would change the cluster; start the run with --allow-actions to execute it (its dry run shows what it would do)`; notice(m) != want || !noticeBad(m) {
		t.Errorf("notice %q, want %q", notice(m), want)
	}
	mustContain(t, screen(m), `✗ read-only run: "apply-manifests" would change the cluster`)
	// Nor from the viewer: the notice, the viewer stays.
	evs = sent(t, ops, press(m, "d", "c"))
	if len(evs) != 0 || m.dialog.current() != nil || !m.diff.isOpen() || !strings.Contains(notice(m), "read-only run") {
		t.Fatalf("read-only viewer c: sent %v, dialog %v, viewer %v, notice %q", evs, m.dialog.current() != nil, m.diff.isOpen(), notice(m))
	}
	mustContain(t, screen(m), "READ-ONLY run: dry run only")
	press(m, "esc")
	// The engine refuses too, and the cockpit shows its reason.
	m.Update(e.apply(runbook.Confirmed{Step: "apply-manifests", Operator: "lead"}))
	if !strings.Contains(notice(m), "refused (step.confirmed): read-only run") {
		t.Errorf("notice %q lacks the engine's refusal", notice(m))
	}
}

func TestConfirmActionNotReady(t *testing.T) {
	e := actionsPlanned(t, true)
	ops := make(chan runbook.Event, 8)
	m := newTestModel(e, 80, 24, Options{Ops: ops})
	for _, tc := range []struct {
		step, notice string
	}{
		{"restart-api", `"restart-api" needs apply-manifests to pass first`},
		{"rollout-status", `action "rollout-status" changes nothing and runs by itself`},
	} {
		selectStep(t, m, tc.step)
		if evs := sent(t, ops, press(m, "c")); len(evs) != 0 || m.dialog.current() != nil || !strings.Contains(notice(m), tc.notice) {
			t.Errorf("c on %s: sent %v, dialog %v, notice %q", tc.step, evs, m.dialog.current() != nil, notice(m))
		}
	}
	// While its dry run is out.
	m.Update(e.apply(runbook.RunStep{Step: "apply-manifests"}))
	selectStep(t, m, "apply-manifests")
	mustContain(t, screen(m), "planning…")
	press(m, "c")
	if m.dialog.current() != nil || !strings.Contains(notice(m), "its dry run is still out") {
		t.Errorf("c while planning: dialog %v, notice %q", m.dialog.current() != nil, notice(m))
	}
	// A failed dry run is not offered.
	failed := actions.Result{Result: probes.Result{Status: probes.StatusForbidden, Summary: "forbidden: patch deployments.apps in gravl"}}
	m.Update(e.planned("apply-manifests", failed))
	if got := summary(m, "apply-manifests", 100); got != "dry run failed: forbidden: patch deployments.apps in gravl" {
		t.Errorf("summary %q", got)
	}
	press(m, "c")
	if m.dialog.current() != nil || !strings.Contains(notice(m), "its dry run failed (forbidden: patch deployments.apps in gravl)") {
		t.Errorf("c on a failed dry run: dialog %v, notice %q", m.dialog.current() != nil, notice(m))
	}
	if len(ops) != 0 {
		t.Errorf("sent %d events", len(ops))
	}
}

// A dialog that showed a dry run closes when another replaces it: the
// operator never confirms what they did not see.
func TestConfirmDialogClosesOnNewPlan(t *testing.T) {
	e := actionsPlanned(t, true)
	ops := make(chan runbook.Event, 8)
	m := newTestModel(e, 80, 24, Options{Ops: ops})
	press(m, "c", "looks good")
	if m.dialog.current() == nil {
		t.Fatal("no dialog")
	}
	m.Update(e.apply(runbook.Tick{})) // nothing changes for the step
	if m.dialog.current() == nil {
		t.Fatal("an unrelated state closed the dialog")
	}
	m.Update(e.apply(runbook.RunStep{Step: "apply-manifests"}))
	if m.dialog.current() != nil || !strings.Contains(notice(m), "its dry run changed") {
		t.Fatalf("dialog %v, notice %q", m.dialog.current() != nil, notice(m))
	}
	if len(ops) != 0 {
		t.Error("sent an event")
	}
}

func TestUndoDialog(t *testing.T) {
	e := rolloutFailed(t)
	ops := make(chan runbook.Event, 8)
	m := newTestModel(e, 160, 48, Options{Ops: ops})
	// u on a step that offers no undo.
	selectStep(t, m, "apply-manifests")
	press(m, "u")
	if m.dialog.current() != nil || !strings.Contains(notice(m), "offers no undo") {
		t.Fatalf("u on apply-manifests: dialog %v, notice %q", m.dialog.current() != nil, notice(m))
	}
	selectStep(t, m, "restart-api")
	press(m, "u")
	if m.dialog.current() == nil || m.dialog.current().kind != dlgUndo {
		t.Fatalf("u opened %+v, notice %q", m.dialog.current(), notice(m))
	}
	mustContain(t, screen(m), "Undo rollout of restart-api to revision 4?", "Reason:")
	if evs := sent(t, ops, press(m, "enter")); len(evs) != 0 || m.dialog.current() == nil {
		t.Fatalf("an empty reason sent %v", evs)
	}
	mustContain(t, screen(m), "a reason is required")
	evs := sent(t, ops, press(m, "readiness fails: migration missing", "enter"))
	want := runbook.UndoRequested{Step: "restart-api", Revision: 4, Operator: "lead", Reason: "readiness fails: migration missing"}
	if len(evs) != 1 || evs[0] != want {
		t.Fatalf("sent %#v, want %#v", evs, want)
	}
	m.Update(e.apply(evs[0]))
	mustContain(t, screen(m), "undoing… to rev 4")
	m.Update(e.undone("restart-api", actions.Result{Result: probes.Result{Status: probes.StatusPass,
		Summary: "Deployment/gravl/api rolled back from revision 5 to revision 4"},
		Objects: []actions.Object{{Ref: "Deployment/gravl/api", Op: actions.OpConfigured, ResourceVersion: "81900", Generation: 9}}}))
	if got := summary(m, "restart-api", 200); !strings.Contains(got, "· undo ✓ Deployment/gravl/api rolled back") {
		t.Errorf("summary %q", got)
	}
	mustContain(t, screen(m), "undo ✓ pass Deployment/gravl/api rolled back from revision 5 to revision 4")
}

func TestUndoReadOnly(t *testing.T) {
	// A run resumed read-only after a failed rollout: the undo is offered
	// by the result but not by the cockpit.
	e := rolloutFailed(t)
	e.apply(runbook.Resumed{Operator: "lead", Events: 12})
	ops := make(chan runbook.Event, 8)
	m := newTestModel(e, 160, 48, Options{Ops: ops})
	selectStep(t, m, "restart-api")
	press(m, "u")
	if m.dialog.current() != nil || !strings.Contains(notice(m), "read-only run: an undo changes the cluster") {
		t.Fatalf("read-only u: dialog %v, notice %q", m.dialog.current() != nil, notice(m))
	}
	mustContain(t, screen(m), "READ-ONLY", "an undo to revision 4 is offered; a read-only run cannot do it")
	if got := summary(m, "restart-api", 200); !strings.HasSuffix(got, "— undo to rev 4 needs --allow-actions") {
		t.Errorf("summary %q", got)
	}
	if len(ops) != 0 {
		t.Error("sent an event")
	}
}

// sgr matches an SGR sequence and its parameters.
var sgr = regexp.MustCompile(`\x1b\[([0-9;:]*)m`)

// hasColour reports whether s sets a foreground or background colour.
func hasColour(s string) bool {
	for _, m := range sgr.FindAllStringSubmatch(s, -1) {
		for _, p := range strings.Split(m[1], ";") {
			p, _, _ = strings.Cut(p, ":")
			var n int
			if _, err := fmt.Sscan(p, &n); err != nil {
				continue
			}
			switch {
			case n >= 30 && n <= 38, n >= 40 && n <= 48, n >= 90 && n <= 97, n >= 100 && n <= 107:
				return true
			}
		}
	}
	return false
}

// Under NO_COLOR the diff reads by its glyphs alone.
func TestNoColorDiffGolden(t *testing.T) {
	m := newTestModel(actionsPlanned(t, false), 120, 40, Options{})
	press(m, "d")
	var buf bytes.Buffer
	w := &colorprofile.Writer{Forward: &buf, Profile: colorprofile.Env([]string{"TERM=xterm-256color", "NO_COLOR=1"})}
	if _, err := w.WriteString(m.View().Content); err != nil {
		t.Fatal(err)
	}
	if !hasColour(m.View().Content) {
		t.Fatal("the viewer draws no colour at all: nothing to check")
	}
	if hasColour(buf.String()) {
		t.Fatalf("colour left under NO_COLOR: %q", buf.String())
	}
	got := ansi.Strip(buf.String())
	checkSize(t, got, 120, 40)
	golden(t, "diff-nocolor-120x40", got)
	mustContain(t, got, "READ-ONLY", "│+      - image:", "│-      - image:", "│@@ -12,9 +12,9 @@", "│--- Deployment/gravl/api (live)")
}

func TestFeedProgressKeepsLatest(t *testing.T) {
	got := make(chan tea.Msg, 16)
	block := make(chan struct{})
	first := true
	f := NewFeed(func(msg tea.Msg) {
		if first {
			first = false
			<-block // hold the loop so later reports queue
		}
		got <- msg
	})
	defer f.Close()
	f.Send(tickMsg{})
	for i := range 5 {
		f.Progress("restart-api", actions.Result{Result: probes.Result{Summary: fmt.Sprint(i)}})
	}
	f.Send(noticeMsg{text: "end"})
	close(block)
	var delivered []string
	for msg := range got {
		if n, ok := msg.(noticeMsg); ok && n.text == "end" {
			break
		}
		if pm, ok := msg.(ProgressMsg); ok {
			delivered = append(delivered, pm.Result.Summary)
		}
	}
	if strings.Join(delivered, ",") != "4" {
		t.Errorf("delivered %v, want only the latest report", delivered)
	}
}

// A teatest flow in actions mode through the real program loop: open the
// dry run, confirm from the viewer with a note, see it execute.
func TestFlowActionConfirm(t *testing.T) {
	e := actionsPlanned(t, true)
	ops := make(chan runbook.Event)
	seen := make(chan runbook.Event, 8)
	now := e.now
	m := New(Options{Ops: ops, Operator: "lead", Cluster: "kind-gravl", Journal: "j.jsonl",
		Now: func() time.Time { return now }, Tick: -1})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 40))
	feed := NewFeed(tm.Send)
	defer feed.Close()
	for _, msg := range e.msgs {
		feed.Observe(msg.State, msg.At, msg.Effects)
	}
	engineLoop(t, e, ops, feed, seen)
	teatest.WaitFor(t, tm.Output(), contains("c to confirm"), teatest.WithDuration(10*time.Second))
	tm.Send(tea.KeyPressMsg{Code: 'd', Text: "d"})
	teatest.WaitFor(t, tm.Output(), contains("registry.example.com/gravl/api:1.42.0"), teatest.WithDuration(10*time.Second))
	tm.Send(tea.KeyPressMsg{Code: 'c', Text: "c"})
	teatest.WaitFor(t, tm.Output(), contains("Note (optional):"), teatest.WithDuration(10*time.Second))
	tm.Type("CHG-1234")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	if ev := <-seen; ev != (runbook.Confirmed{Step: "apply-manifests", Operator: "lead", Note: "CHG-1234"}) {
		t.Fatalf("sent %#v", ev)
	}
	teatest.WaitFor(t, tm.Output(), contains("executing…"), teatest.WithDuration(10*time.Second))
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
	if pi, si, _ := fm.run.state.Find("apply-manifests"); fm.run.state.Phases[pi].Steps[si].Status != runbook.StepRunning {
		t.Errorf("apply-manifests is %s", fm.run.state.Phases[pi].Steps[si].Status)
	}
}

func TestActionKeysInHelp(t *testing.T) {
	m := newTestModel(actionsPlanned(t, true), 80, 24, Options{})
	mustContain(t, screen(m), "c confirm • d dry-run diff")
	press(m, "?")
	mustContain(t, screen(m), "d      dry-run diff", "u      undo failed rollout")
	press(m, "?", "d")
	mustContain(t, screen(m), "↑/↓ scroll • pgup/pgdn page • home/end top/bottom • c confirm • esc close")
	press(m, "esc", "c")
	mustContain(t, screen(m), "enter submit • ctrl+d diff • esc cancel")
}

// What an action leaves (a silence) is taken back when the run ends; the
// detail follows it from the promise to the result.
func TestActionCleanup(t *testing.T) {
	e := actionsPlanned(t, true)
	e.apply(runbook.Confirmed{Step: "apply-manifests", Operator: "lead"})
	res := applyDone
	res.Cleanup = "silence-42"
	e.done("apply-manifests", res)
	m := newTestModel(e, 160, 48, Options{})
	mustContain(t, screen(m), "taken back at the end of its window: silence-42")
	m.Update(e.apply(runbook.Aborted{Operator: "lead", Reason: "rollback"}))
	mustContain(t, screen(m), "↻ cleanup in progress…", "run failed")
	m.Update(e.apply(runbook.ActionCleaned{Step: "apply-manifests", Result: actions.Result{Result: probes.Result{
		Status: probes.StatusPass, Summary: "silence silence-42 expired"}}}))
	mustContain(t, screen(m), "cleanup ✓ pass silence silence-42 expired", "08:00:33 apply-manifests cleanup: silence silence-42 expired")
	if got := summary(m, "apply-manifests", 200); got != "applied 3 objects · cleaned up" {
		t.Errorf("summary %q", got)
	}
}

// A confirmation or an undo the cockpit does not offer is refused in the
// engine's own words (State.CanConfirm, CanUndo): the two cannot drift.
// Only u on a step whose result offers no undo is answered before the
// engine is asked (in the engine's words for it too).
func TestDialogRefusalsAreTheEngines(t *testing.T) {
	refused := 0
	for _, mk := range []func(testing.TB) *engine{
		func(t testing.TB) *engine { return actionsPlanned(t, false) },
		func(t testing.TB) *engine { return actionsPlanned(t, true) },
		rolloutFailed, preflightFailing,
	} {
		m := newTestModel(mk(t), 160, 48, Options{})
		for _, st := range m.run.state.Runbook.Phases[m.run.phase].Steps {
			selectStep(t, m, st.ID)
			for _, k := range []string{"c", "u"} {
				press(m, k)
				if m.dialog.current() != nil {
					press(m, "esc")
					continue
				}
				text, bad := m.Notice()
				if strings.HasSuffix(text, "offers no undo (only a failed rollout does)") {
					continue
				}
				ok, why := m.run.state.CanConfirm(st.ID)
				if k == "u" {
					ok, why = m.run.state.CanUndo(st.ID)
				}
				if ok || text != why || !bad {
					t.Errorf("%s on %s: no dialog, notice %q (bad %v); the engine: %v %q", k, st.ID, text, bad, ok, why)
				}
				refused++
			}
		}
	}
	if refused < 8 {
		t.Errorf("only %d refusals seen", refused)
	}
}
