package tui

import (
	"errors"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/threshold"
	"github.com/cockpit-dev/cockpit/runbook"
)

// press sends keys to the model; printable text is typed rune by rune.
func press(m *Model, keys ...string) []tea.Cmd {
	var cmds []tea.Cmd
	for _, k := range keys {
		var msg tea.KeyPressMsg
		switch k {
		case "enter":
			msg = tea.KeyPressMsg{Code: tea.KeyEnter}
		case "esc":
			msg = tea.KeyPressMsg{Code: tea.KeyEscape}
		case "backspace":
			msg = tea.KeyPressMsg{Code: tea.KeyBackspace}
		case "down":
			msg = tea.KeyPressMsg{Code: tea.KeyDown}
		case "ctrl+x":
			msg = tea.KeyPressMsg{Code: 'x', Mod: tea.ModCtrl}
		default:
			for _, r := range k {
				_, cmd := m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
				cmds = append(cmds, cmd)
			}
			continue
		}
		_, cmd := m.Update(msg)
		cmds = append(cmds, cmd)
	}
	return cmds
}

// notice is the line over the help bar.
func notice(m *Model) string { text, _ := m.Notice(); return text }

// noticeBad reports whether the notice is bad news.
func noticeBad(m *Model) bool { _, bad := m.Notice(); return bad }

// sent runs the commands and returns the events they put on ops.
func sent(t *testing.T, ops chan runbook.Event, cmds []tea.Cmd) []runbook.Event {
	t.Helper()
	var evs []runbook.Event
	for _, c := range cmds {
		if c == nil {
			continue
		}
		msg := c()
		if sm, ok := msg.(sentMsg); ok && sm.err != nil {
			t.Fatalf("send %s: %v", sm.event, sm.err)
		}
		select {
		case ev := <-ops:
			evs = append(evs, ev)
		default:
		}
	}
	return evs
}

func TestOverrideStepWithReason(t *testing.T) {
	e := preflightFailing(t)
	ops := make(chan runbook.Event, 8)
	m := newTestModel(e, 80, 24, Options{Ops: ops})
	// The failed step is selected first; o opens the dialog showing what
	// is overridden.
	if evs := sent(t, ops, press(m, "o")); len(evs) != 0 {
		t.Fatalf("o sent %v before a reason", evs)
	}
	scr := screen(m)
	for _, want := range []string{"Override cluster-issuers", "internal-ca-issuer", "Reason:"} {
		if !strings.Contains(scr, want) {
			t.Errorf("override dialog lacks %q:\n%s", want, scr)
		}
	}
	// No reason: refused in the dialog, nothing sent.
	if evs := sent(t, ops, press(m, "enter")); len(evs) != 0 || m.dialog.current() == nil {
		t.Fatalf("an empty reason sent %v (dialog open: %v)", evs, m.dialog.current() != nil)
	}
	if !strings.Contains(screen(m), "a reason is required") {
		t.Errorf("no 'reason is required':\n%s", screen(m))
	}
	evs := sent(t, ops, press(m, "CA secret restored, INC-42x", "backspace", "enter"))
	want := runbook.Overridden{Step: "cluster-issuers", Operator: "lead", Reason: "CA secret restored, INC-42"}
	if len(evs) != 1 || evs[0] != want {
		t.Fatalf("sent %#v, want %#v", evs, want)
	}
	if m.dialog.current() != nil {
		t.Error("the dialog stays open after submit")
	}
	// The engine's answer shows the step overridden.
	m.Update(e.apply(evs[0]))
	if !strings.Contains(screen(m), "⚑ cluster-issuers") {
		t.Errorf("overridden step not shown:\n%s", screen(m))
	}
}

func TestAdvanceRefusedWhileGateRed(t *testing.T) {
	e := preflightFailing(t)
	ops := make(chan runbook.Event, 8)
	m := newTestModel(e, 80, 24, Options{Ops: ops})
	evs := sent(t, ops, press(m, "a"))
	if m.dialog.current() != nil {
		t.Fatal("advance opened a dialog with a red gate")
	}
	if !strings.Contains(notice(m), `advance refused: gate of phase "preflight" is fail`) || !noticeBad(m) {
		t.Errorf("notice %q", notice(m))
	}
	// The attempt still goes to the engine (and so the journal), which
	// refuses it; its reason replaces the cockpit's.
	if len(evs) != 1 {
		t.Fatalf("sent %v, want one Advance", evs)
	}
	msg := e.apply(evs[0])
	m.Update(msg)
	if m.run.state.Current != 0 {
		t.Fatal("the engine advanced past a red gate")
	}
	if !strings.Contains(notice(m), "refused (phase.advance): gate of phase") {
		t.Errorf("notice %q lacks the engine's refusal", notice(m))
	}
	if !strings.Contains(screen(m), "refused") {
		t.Errorf("screen lacks the refusal:\n%s", screen(m))
	}
}

func TestDialogTakesEveryKey(t *testing.T) {
	e := preflightFailing(t)
	ops := make(chan runbook.Event, 8)
	m := newTestModel(e, 80, 24, Options{Ops: ops})
	press(m, "o")
	cmds := press(m, "qajkcO?R", "down", "ctrl+x")
	for _, c := range cmds {
		if c != nil {
			if _, quit := c().(tea.QuitMsg); quit {
				t.Fatal("q in a dialog quit the cockpit")
			}
		}
	}
	if len(ops) != 0 || m.run.sel != 0 || m.help.ShowAll || m.dialog.current() == nil || m.dialog.current().kind != dlgOverrideStep {
		t.Fatalf("keys leaked out of the dialog: ops %d, sel %d, help %v, dialog %+v", len(ops), m.run.sel, m.help.ShowAll, m.dialog.current())
	}
	if m.dialog.current().input != "qajkcO?R" {
		t.Errorf("input %q", m.dialog.current().input)
	}
	press(m, "esc")
	if m.dialog.current() != nil || len(ops) != 0 {
		t.Fatal("esc did not cancel without sending")
	}
}

func TestConfirmManualStepNeedsNote(t *testing.T) {
	e := preflightFailing(t)
	ops := make(chan runbook.Event, 8)
	m := newTestModel(e, 80, 24, Options{Ops: ops})
	press(m, "jj") // notify
	if evs := sent(t, ops, press(m, "c", "enter")); len(evs) != 0 {
		t.Fatalf("confirmed without the required note: %v", evs)
	}
	evs := sent(t, ops, press(m, "sent to #go-live", "enter"))
	want := runbook.Confirmed{Step: "notify", Operator: "lead", Note: "sent to #go-live"}
	if len(evs) != 1 || evs[0] != want {
		t.Fatalf("sent %#v, want %#v", evs, want)
	}
	// s on a required step is refused in the cockpit; on the optional one
	// it opens the skip dialog.
	press(m, "s")
	if m.dialog.current() != nil || !strings.Contains(notice(m), "required") {
		t.Errorf("skip of a required step: dialog %v, notice %q", m.dialog.current() != nil, notice(m))
	}
	press(m, "j", "s")
	evs = sent(t, ops, press(m, "enter"))
	if len(evs) != 1 || evs[0] != (runbook.Skipped{Step: "dashboards", Operator: "lead"}) {
		t.Fatalf("skip sent %#v", evs)
	}
}

func TestOverrideGateAndAbort(t *testing.T) {
	e := preflightFailing(t)
	ops := make(chan runbook.Event, 8)
	m := newTestModel(e, 80, 24, Options{Ops: ops})
	evs := sent(t, ops, press(m, "O", "window closes at 10", "enter"))
	if len(evs) != 1 || evs[0] != (runbook.Overridden{Phase: "preflight", Operator: "lead", Reason: "window closes at 10"}) {
		t.Fatalf("gate override sent %#v", evs)
	}
	m.Update(e.apply(evs[0]))
	// With the gate overridden, a confirms and advances.
	evs = sent(t, ops, press(m, "a", "enter"))
	if len(evs) != 1 || evs[0] != (runbook.Advance{Operator: "lead"}) {
		t.Fatalf("advance sent %#v", evs)
	}
	m.Update(e.apply(evs[0]))
	if m.run.phase != 1 || !strings.Contains(screen(m), "deploy") {
		t.Fatalf("shown phase %d after advancing", m.run.phase)
	}
	evs = sent(t, ops, press(m, "ctrl+x", "enter", "rollback", "enter"))
	if len(evs) != 1 || evs[0] != (runbook.Aborted{Operator: "lead", Reason: "rollback"}) {
		t.Fatalf("abort sent %#v", evs)
	}
	m.Update(e.apply(evs[0]))
	if !strings.Contains(screen(m), "run failed") {
		t.Errorf("the header does not say the run failed:\n%s", screen(m))
	}
}

func TestStaleAndUnknownMessagesDropped(t *testing.T) {
	e := preflightFailing(t)
	m := newTestModel(e, 80, 24, Options{})
	before := screen(m)
	old := e.msgs[1] // Seq 2, older than the last seen
	m.Update(old)
	m.Update(StateMsg{}) // no runbook: not a state
	m.Update(LoadMsg{Step: "no-such-step", Snapshot: loader.Snapshot{Seq: 1}})
	m.Update(struct{ unknown int }{})
	if got := screen(m); got != before {
		t.Errorf("a stale or unknown message changed the view:\n%s", got)
	}
}

func TestResizeAnyTime(t *testing.T) {
	e := preflightFailing(t)
	m := newTestModel(e, 80, 24, Options{})
	press(m, "o", "half a reason")
	for _, sz := range [][2]int{{40, 10}, {200, 60}, {80, 24}, {61, 17}} {
		m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		got := screen(m)
		if sz[0] < MinWidth {
			if !strings.Contains(got, "cockpit needs") {
				t.Errorf("%v: %q", sz, got)
			}
			continue
		}
		checkSize(t, got, sz[0], sz[1])
	}
	if m.dialog.current() == nil || m.dialog.current().input != "half a reason" {
		t.Error("resizing lost the open dialog")
	}
}

// fakeLoad records load control calls.
type fakeLoad struct{ calls []string }

func (f *fakeLoad) Pause() error  { f.calls = append(f.calls, "pause"); return nil }
func (f *fakeLoad) Resume() error { f.calls = append(f.calls, "resume"); return nil }
func (f *fakeLoad) SetRate(r float64) error {
	f.calls = append(f.calls, "rate "+fmtValue(r))
	return nil
}
func (f *fakeLoad) SetVUs(n int) error {
	if n > 60 {
		return errors.New("too many")
	}
	f.calls = append(f.calls, "vus "+fmtValue(float64(n)))
	return nil
}
func (f *fakeLoad) Stop() { f.calls = append(f.calls, "stop") }

func loadSnap(seq int, elapsed time.Duration, p95 time.Duration, failed int64) loader.Snapshot {
	win := loader.Stats{
		Requests: 1000, Failed: failed, Rate: 100,
		Latency: loader.Latency{P50: p95 / 3, P95: p95, P99: 2 * p95},
		Raw:     loader.Latency{P50: p95 / 3, P95: p95, P99: p95},
		Status:  map[int]int64{200: 1000 - failed, 503: failed},
	}
	th, _ := threshold.Parse("http_req_duration", "p(95)<200")
	return loader.Snapshot{
		Seq: seq, Elapsed: elapsed, Executor: loader.ConstantArrivalRate,
		VUs: 8, MaxVUs: 50, TargetRate: 100, Window: win, Total: win,
		Thresholds: []loader.ThresholdState{{Threshold: th, Value: ms(p95), HasSamples: true, Pass: p95 < 200*time.Millisecond}},
	}
}

func TestLoadPaneAndKeys(t *testing.T) {
	e := preflightFailing(t)
	ctl := &fakeLoad{}
	m := newTestModel(e, 160, 48, Options{LoadControl: func(string) LoadController { return ctl }})
	for i := 1; i <= 12; i++ {
		p95 := time.Duration(i*20) * time.Millisecond
		m.Update(LoadMsg{Step: "health", Snapshot: loadSnap(i, time.Duration(i)*time.Second, p95, int64(i))})
	}
	m.Update(LoadMsg{Step: "health", Snapshot: loadSnap(3, 3*time.Second, 0, 0)}) // stale
	scr := screen(m)
	for _, want := range []string{"load · health", "rate 100.0/s of 100/s", "p95 ", "240ms", "p99 ", "480ms (raw 240ms)", "200×988", "503×12",
		"[✗ http_req_duration: p(95)<200 240]"} {
		if !strings.Contains(scr, want) {
			t.Errorf("load pane lacks %q:\n%s", want, scr)
		}
	}
	if got := sparkline([]float64{0, 1, 2, 4}, 3); got != "▂▄█" {
		t.Errorf("sparkline = %q", got)
	}
	var notices []string
	for _, k := range []string{"p", "+", "-", ">", "x"} {
		for _, c := range press(m, k) {
			if c != nil {
				if n, ok := c().(noticeMsg); ok {
					notices = append(notices, n.text)
				}
			}
		}
	}
	want := []string{"pause", "rate 125", "rate 75", "vus 62", "stop"}
	got := ctl.calls
	if strings.Join(got, ",") != "pause,rate 125,rate 75,stop" || len(notices) != 5 {
		t.Errorf("controller calls %v (notices %q), want %v minus the refused VUs", got, notices, want)
	}
}
