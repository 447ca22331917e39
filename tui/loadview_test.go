package tui

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/loader/threshold"
)

func viewScreen(v *LoadView) string { return ansi.Strip(v.View().Content) }

// viewSnaps feeds n seconds of fixed snapshots with a few events.
func viewSnaps(v *LoadView, n int) loader.Snapshot {
	var last loader.Snapshot
	events := []loader.Event{{Kind: loader.EventStart, Message: string(loader.ConstantArrivalRate)}}
	for i := 1; i <= n; i++ {
		switch i {
		case 5:
			events = append(events, loader.Event{Elapsed: 5 * time.Second, Kind: loader.EventPaused})
		case 7:
			events = append(events, loader.Event{Elapsed: 7 * time.Second, Kind: loader.EventResumed})
		case 12:
			events = append(events, loader.Event{Elapsed: 12 * time.Second, Kind: loader.EventRate, Value: 125, Message: "rate set to 125/s"})
		case 20:
			events = append(events, loader.Event{Elapsed: 20 * time.Second, Kind: loader.EventVUs, Value: 62, Message: "VUs set to 62"})
		}
		p95 := time.Duration(50+i%7*20) * time.Millisecond
		s := loadSnap(i, time.Duration(i)*time.Second, p95, int64(i%3))
		s.Events = append([]loader.Event(nil), events...)
		v.Update(LoadMsg{Snapshot: s})
		last = s
	}
	return last
}

func newTestView(w, h int, ctl LoadController) *LoadView {
	v := NewLoadView(LoadViewOptions{Targets: []string{"http://127.0.0.1:8080/health"}, Planned: time.Minute, Control: ctl})
	v.Update(tea.WindowSizeMsg{Width: w, Height: h})
	return v
}

func TestGoldenLoadView(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		w, h := sz[0], sz[1]
		t.Run(fmt.Sprintf("%dx%d", w, h), func(t *testing.T) {
			v := newTestView(w, h, &fakeLoad{})
			viewSnaps(v, 30)
			got := viewScreen(v)
			checkSize(t, got, w, h)
			golden(t, fmt.Sprintf("loadview-%dx%d", w, h), got)
		})
	}
	t.Run("done-80x24", func(t *testing.T) {
		v := newTestView(80, 24, &fakeLoad{})
		last := viewSnaps(v, 30)
		last.Seq++
		last.Done, last.Reason = true, loader.ReasonThreshold
		last.Events = append(last.Events,
			loader.Event{Elapsed: 30 * time.Second, Kind: loader.EventAbort, Message: "http_req_duration: p(95)<200"},
			loader.Event{Elapsed: 30 * time.Second, Kind: loader.EventStopping, Message: "threshold"})
		last.Thresholds[0].Pass, last.Thresholds[0].Aborted = false, true
		v.Update(LoadMsg{Snapshot: last})
		got := viewScreen(v)
		checkSize(t, got, 80, 24)
		golden(t, "loadview-done-80x24", got)
		for _, want := range []string{"done (threshold)", "✗ thresholds failed", "threshold-abort", "press any key"} {
			if !strings.Contains(got, want) {
				t.Errorf("the done view lacks %q", want)
			}
		}
	})
}

// run executes a command and its results the way the program would, one
// level deep, feeding notices back; it reports whether the view quit.
func runCmd(v *LoadView, cmd tea.Cmd) (quit bool) {
	if cmd == nil {
		return false
	}
	switch msg := cmd().(type) {
	case tea.QuitMsg:
		return true
	case noticeMsg:
		v.Update(msg)
	}
	return false
}

func keyMsg(k string) tea.KeyPressMsg {
	if k == "ctrl+c" {
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

func TestLoadViewKeys(t *testing.T) {
	open := loadSnap(1, time.Second, 100*time.Millisecond, 0) // constant-arrival-rate at 100/s, max 50 VUs
	closed := open
	closed.Executor, closed.TargetVUs, closed.MaxVUs, closed.TargetRate = loader.ConstantVUs, 8, 0, 0
	paused := open
	paused.Paused = true
	tests := []struct {
		name      string
		snap      loader.Snapshot
		key       string
		wantCalls string
		wantQuit  bool
		wantLine  string // on screen afterwards
	}{
		{name: "p pauses", snap: open, key: "p", wantCalls: "pause", wantLine: "✓ load paused"},
		{name: "p resumes a paused run", snap: paused, key: "p", wantCalls: "resume", wantLine: "✓ load resumed"},
		{name: "+ raises the rate", snap: open, key: "+", wantCalls: "rate 125", wantLine: "load rate → 125/s"},
		{name: "- lowers the rate", snap: open, key: "-", wantCalls: "rate 75", wantLine: "load rate → 75/s"},
		{name: "+ on a closed model is refused", snap: closed, key: "+", wantLine: "✗ constant-vus is a closed model"},
		{name: "> adds VUs", snap: closed, key: ">", wantCalls: "vus 10", wantLine: "load VUs → 10"},
		{name: "< removes VUs", snap: closed, key: "<", wantCalls: "vus 6", wantLine: "load VUs → 6"},
		{name: "> refused by the controller", snap: open, key: ">", wantLine: "✗ load test: too many"},
		{name: "x stops gracefully and stays", snap: open, key: "x", wantCalls: "stop", wantLine: "✓ load stopping"},
		{name: "q stops and quits", snap: open, key: "q", wantCalls: "stop", wantQuit: true, wantLine: "stopping: in-flight"},
		{name: "ctrl+c stops and quits", snap: open, key: "ctrl+c", wantCalls: "stop", wantQuit: true},
		{name: "unbound key does nothing", snap: open, key: "z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctl := &fakeLoad{}
			v := newTestView(80, 24, ctl)
			v.Update(LoadMsg{Snapshot: tt.snap})
			_, cmd := v.Update(keyMsg(tt.key))
			if quit := runCmd(v, cmd); quit != tt.wantQuit {
				t.Errorf("quit = %v, want %v", quit, tt.wantQuit)
			}
			if got := strings.Join(ctl.calls, ","); got != tt.wantCalls {
				t.Errorf("controller calls %q, want %q", got, tt.wantCalls)
			}
			if scr := viewScreen(v); !strings.Contains(scr, tt.wantLine) {
				t.Errorf("screen lacks %q:\n%s", tt.wantLine, scr)
			}
		})
	}

	t.Run("any key ends the done view without touching the run", func(t *testing.T) {
		ctl := &fakeLoad{}
		v := newTestView(80, 24, ctl)
		done := open
		done.Done, done.Reason = true, loader.ReasonDuration
		v.Update(LoadMsg{Snapshot: done})
		for _, k := range []string{"p", "z"} {
			_, cmd := v.Update(keyMsg(k))
			if !runCmd(v, cmd) {
				t.Errorf("%s did not quit the done view", k)
			}
		}
		if len(ctl.calls) != 0 {
			t.Errorf("controller calls %v after the run was done", ctl.calls)
		}
	})

	t.Run("stale snapshots are dropped", func(t *testing.T) {
		v := newTestView(80, 24, &fakeLoad{})
		v.Update(LoadMsg{Snapshot: loadSnap(5, 5*time.Second, 100*time.Millisecond, 0)})
		v.Update(LoadMsg{Snapshot: loadSnap(4, 4*time.Second, 300*time.Millisecond, 0)})
		if v.Snapshot().Seq != 5 {
			t.Errorf("seq %d shown, want 5", v.Snapshot().Seq)
		}
	})
}

// A teatest run of the real loader against a loopback server: snapshots
// go through the program's Send as `cockpit load` sends them, and the view
// reaches "done" and then quits on a key.
func TestLoadViewRealRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()
	th, err := threshold.Parse("http_req_failed", "rate<0.01")
	if err != nil {
		t.Fatal(err)
	}
	cfg := loader.Config{
		Executor:   loader.Executor{Kind: loader.ConstantVUs, VUs: 2, Duration: time.Minute, Iterations: 50},
		Requests:   []loader.Request{{URL: srv.URL + "/ok"}},
		Thresholds: []threshold.Threshold{th},
	}
	snaps, ctl, err := loader.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	v := NewLoadView(LoadViewOptions{Targets: []string{srv.URL + "/ok"}, Planned: time.Minute, Control: ctl})
	tm := teatest.NewTestModel(t, v, teatest.WithInitialTermSize(100, 30))
	forwarded := make(chan loader.Snapshot, 1)
	go func() {
		var last loader.Snapshot
		for s := range snaps {
			last = s
			tm.Send(LoadMsg{Snapshot: s})
		}
		forwarded <- last
	}()
	teatest.WaitFor(t, tm.Output(), contains("press any key"), teatest.WithDuration(20*time.Second))
	last := <-forwarded
	if !last.Done || last.Reason != loader.ReasonIterations || last.Total.Requests != 50 {
		t.Errorf("last snapshot: done %v reason %q requests %d", last.Done, last.Reason, last.Total.Requests)
	}
	tm.Send(tea.KeyPressMsg{Code: ' ', Text: " "})
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*LoadView)
	if !fm.Done() || fm.Snapshot().Total.Requests != 50 {
		t.Errorf("final view: done %v, %d requests", fm.Done(), fm.Snapshot().Total.Requests)
	}
	if s := viewScreen(fm); !strings.Contains(s, "done (iterations)") || !strings.Contains(s, "[✓ http_req_failed: rate<0.01 0]") {
		t.Errorf("final screen:\n%s", s)
	}
}

func TestLoadViewSizes(t *testing.T) {
	v := NewLoadView(LoadViewOptions{Targets: []string{"http://127.0.0.1:1/a", "http://127.0.0.1:1/b"}})
	if got := viewScreen(v); !strings.Contains(got, "starting") {
		t.Errorf("before a size: %q", got)
	}
	v.Update(tea.WindowSizeMsg{Width: 100, Height: 20})
	if got := viewScreen(v); !strings.Contains(got, "waiting for the first snapshot") || !strings.Contains(got, "http://127.0.0.1:1/a (+1)") {
		t.Errorf("before a snapshot:\n%s", got)
	}
	viewSnaps(v, 10)
	for _, sz := range [][2]int{{60, 6}, {60, 12}, {200, 60}} {
		v.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		checkSize(t, viewScreen(v), sz[0], sz[1])
	}
	v.Update(tea.WindowSizeMsg{Width: 40, Height: 5})
	if got := viewScreen(v); !strings.Contains(got, "cockpit load needs") {
		t.Errorf("too small: %q", got)
	}
}

// A shortfall turns the rate red: live, when the window drops more than
// 1 % of what fell due or the run so far is short, and at the end, with
// what was delivered against what was due.
func TestLoadViewShortfallIsRed(t *testing.T) {
	st := DefaultStyles()
	live := loadSnap(1, 20*time.Second, 50*time.Millisecond, 0)
	live.WindowSize = 10 * time.Second
	live.Window.Span = 10 * time.Second
	ok := live
	ok.Delivery = loader.Delivery{Due: 2000, Sent: 2000, Active: 20 * time.Second}
	lagged := ok
	lagged.Window.Lag = loader.Latency{Count: 1000, P50: 12 * time.Microsecond, P99: 80 * time.Microsecond}
	short := live
	short.TargetRate, short.Window.Rate = 200, 82
	done := short
	done.Done, done.Reason = true, loader.ReasonDuration
	done.Delivery = loader.Delivery{Due: 2000, Sent: 820, Dropped: 1180, Active: 10 * time.Second}
	for _, c := range []struct {
		what string
		s    loader.Snapshot
		want string
		red  bool
	}{
		{"on target", ok, "rate 100.0/s of 100/s", false},
		{"the generator lag is shown", lagged, "generator lag p50 12µs p99 80µs", false},
		{"the window is short", short, "rate 82.0/s of 200/s short", true},
		{"done, short", done, "delivered 82.0 of 200/s short", true},
	} {
		l := newLoadState("load", 60)
		l.add(c.s)
		got := strings.Join(l.lines(st, 200), "\n")
		if !strings.Contains(ansi.Strip(got), c.want) {
			t.Errorf("%s: lacks %q:\n%s", c.what, c.want, ansi.Strip(got))
		}
		if red := strings.Contains(got, st.Fail.Render(c.want)); red != c.red {
			t.Errorf("%s: %q red %v, want %v", c.what, c.want, red, c.red)
		}
	}
}
