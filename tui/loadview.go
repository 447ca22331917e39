package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/cockpit-dev/cockpit/loader"
)

// LoadViewOptions configure the standalone load view of `cockpit load`.
type LoadViewOptions struct {
	// Targets are the URLs under load, for the header.
	Targets []string
	// Planned is how long the run is planned to last (duration, or the sum
	// of the stages); zero when only an iteration limit bounds it.
	Planned time.Duration
	// Control changes the run; nil disables the load keys.
	Control LoadController
	// History is how many seconds the sparklines cover (default 60).
	History int
}

// LoadView is `cockpit load` on a terminal: the cockpit's load pane
// filling the screen under a header, with the run's events and a help
// bar. It takes the run's snapshots as LoadMsg (Step ignored), changes the
// run through its LoadController, and, once the last snapshot (Done) has
// arrived, shows the final state until a key is pressed. Times come from
// the snapshots (the run's clock), so a view of fixed snapshots renders
// deterministically.
type LoadView struct {
	opts   LoadViewOptions
	styles Styles
	keys   KeyMap
	help   help.Model

	width, height int

	load    *loadState
	hasSnap bool

	notice    string
	noticeBad bool

	quitting bool
}

// NewLoadView returns the load view.
func NewLoadView(opts LoadViewOptions) *LoadView {
	if opts.History <= 0 {
		opts.History = 60
	}
	keys := DefaultKeyMap()
	keys.Quit.SetHelp("q", "stop & quit")
	keys.LoadStop.SetHelp("x", "stop")
	keys.LoadPause.SetHelp("p", "pause")
	keys.RateUp.SetHelp("+/-", "rate")
	keys.VUsUp.SetHelp(">/<", "VUs")
	for _, b := range []*key.Binding{&keys.LoadPause, &keys.RateUp, &keys.RateDown, &keys.VUsUp, &keys.VUsDown, &keys.LoadStop} {
		b.SetEnabled(opts.Control != nil)
	}
	return &LoadView{
		opts:   opts,
		styles: DefaultStyles(),
		keys:   keys,
		help:   help.New(),
		load:   newLoadState("", opts.History),
	}
}

// Init starts nothing: the view redraws on snapshots and keys.
func (v *LoadView) Init() tea.Cmd { return nil }

// Snapshot returns the latest snapshot shown.
func (v *LoadView) Snapshot() loader.Snapshot { return v.load.snap }

// Done reports whether the run's last snapshot has arrived.
func (v *LoadView) Done() bool { return v.hasSnap && v.load.snap.Done }

// Update applies one message. It never blocks: controls run in commands.
func (v *LoadView) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		v.width, v.height = msg.Width, msg.Height
		v.help.SetWidth(msg.Width)
	case LoadMsg:
		s := msg.Snapshot
		if v.hasSnap && s.Seq <= v.load.snap.Seq {
			return v, nil // stale
		}
		v.load.add(s)
		v.hasSnap = true
	case noticeMsg:
		if msg.err != nil {
			v.notice, v.noticeBad = msg.err.Error(), true
		} else {
			v.notice, v.noticeBad = msg.text, false
		}
	case tea.KeyPressMsg:
		return v, v.key(msg)
	}
	return v, nil
}

func (v *LoadView) key(msg tea.KeyPressMsg) tea.Cmd {
	if v.Done() {
		return tea.Quit // the final state was shown: any key ends the view
	}
	k := v.keys
	if key.Matches(msg, k.Quit) {
		v.quitting = true
		ctl := v.opts.Control
		if ctl == nil {
			return tea.Quit
		}
		return func() tea.Msg { ctl.Stop(); return tea.QuitMsg{} }
	}
	if v.opts.Control == nil || !v.hasSnap {
		return nil
	}
	cmd, refused := loadCommand(k, msg, v.load.snap, v.opts.Control, "load test")
	if refused != "" {
		v.notice, v.noticeBad = refused, true
	}
	return cmd
}

// View draws the load view.
func (v *LoadView) View() tea.View {
	view := tea.NewView(v.render())
	view.AltScreen = true
	view.WindowTitle = "cockpit load"
	return view
}

// loadViewMinHeight is the fewest rows the view draws in: header, the
// load box's frame with the state line, status and help.
const loadViewMinHeight = 6

// render draws the screen as a string: what View shows and golden tests
// compare.
func (v *LoadView) render() string {
	if v.width == 0 || v.height == 0 {
		return "cockpit load: starting…"
	}
	w, h := v.width, v.height
	if w < MinWidth || h < loadViewMinHeight {
		return fit(fmt.Sprintf("cockpit load needs %d×%d; the terminal is %d×%d", MinWidth, loadViewMinHeight, w, h), w)
	}
	inner := w - frameSize
	var load []string
	if v.hasSnap {
		load = v.load.lines(v.styles, inner)
	} else {
		load = []string{v.styles.Muted.Render("waiting for the first snapshot…")}
	}
	// Rows: header, load box, events box (the rest), status, help.
	loadH := min(len(load)+frameSize, h-4)
	eventsH := h - 3 - loadH
	rows := []string{fit(v.header(), w), v.box(Rect{W: w, H: loadH}, "load", load)}
	if eventsH > 0 {
		evs := v.eventLines(eventsH - frameSize)
		rows = append(rows, v.box(Rect{W: w, H: eventsH}, fmt.Sprintf("events (%d)", len(v.load.snap.Events)), evs))
	}
	rows = append(rows, fit(v.status(), w), fit(v.help.ShortHelpView(v.shortHelp()), w))
	return strings.Join(rows, "\n")
}

func (v *LoadView) box(r Rect, title string, lines []string) string {
	if r.H < frameSize+1 {
		return strings.Join(fitLines(lines, r.W, r.H), "\n")
	}
	return boxed(v.styles, r, title, false, lines)
}

// header names the targets and executor, the elapsed vs planned time and
// the state.
func (v *LoadView) header() string {
	st := v.styles
	s := v.load.snap
	targets := strings.Join(v.opts.Targets, " ")
	if len(v.opts.Targets) > 1 {
		targets = fmt.Sprintf("%s (+%d)", v.opts.Targets[0], len(v.opts.Targets)-1)
	}
	parts := []string{st.Bold.Render("◆ cockpit load")}
	if !v.hasSnap {
		return strings.Join(append(parts, st.Muted.Render("starting…"), targets), "  ")
	}
	state := st.Running.Render("↻ running")
	switch {
	case s.Done:
		state = st.Muted.Render("■ done (" + string(s.Reason) + ")")
		if !s.Passed() {
			state += " " + st.Fail.Render("✗ thresholds failed")
		}
	case s.Reason != "":
		state = st.Warn.Render("◼ stopping (" + string(s.Reason) + ")")
	case s.Paused:
		state = st.Warn.Render("‖ paused")
	}
	elapsed := "⏱ " + clockDuration(s.Elapsed)
	if v.opts.Planned > 0 {
		elapsed += " / " + clockDuration(v.opts.Planned)
	}
	return strings.Join(append(parts, state, elapsed, string(s.Executor), targets), "  ")
}

// eventLines is the tail of the run's events that fits in h lines.
func (v *LoadView) eventLines(h int) []string {
	evs := v.load.snap.Events
	if h <= 0 {
		return nil
	}
	if len(evs) > h {
		evs = evs[len(evs)-h:]
	}
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		out = append(out, v.eventLine(e))
	}
	return out
}

func (v *LoadView) eventLine(e loader.Event) string {
	st := v.styles
	what := string(e.Kind)
	switch e.Kind {
	case loader.EventRate:
		what = fmt.Sprintf("rate → %g/s", e.Value)
	case loader.EventVUs:
		what = fmt.Sprintf("VUs → %g", e.Value)
	case loader.EventStage:
		what = fmt.Sprintf("stage %g", e.Value+1)
		if e.Message != "" {
			what = e.Message
		}
	case loader.EventStart, loader.EventPaused, loader.EventResumed:
	default:
		if e.Message != "" {
			what += ": " + e.Message
		}
	}
	if e.Kind == loader.EventStart && e.Message != "" {
		what += " " + e.Message
	}
	switch e.Kind {
	case loader.EventAbort, loader.EventError, loader.EventInsufficientVUs, loader.EventGraceExpired:
		what = st.Fail.Render(what)
	case loader.EventPaused, loader.EventStopping:
		what = st.Warn.Render(what)
	}
	return st.Muted.Render(clockDuration(e.Elapsed)) + " " + what
}

// status is the line above the help bar: the outcome of the last key, or
// what to do once the run is done.
func (v *LoadView) status() string {
	st := v.styles
	switch {
	case v.Done():
		return st.Bold.Render("the run is over: press any key for the summary")
	case v.quitting:
		return st.Warn.Render("stopping: in-flight requests get the grace period…")
	case v.notice != "" && v.noticeBad:
		return st.Fail.Render("✗ " + v.notice)
	case v.notice != "":
		return st.Pass.Render("✓ " + v.notice)
	}
	return ""
}

func (v *LoadView) shortHelp() []key.Binding {
	k := v.keys
	if v.Done() {
		return []key.Binding{key.NewBinding(key.WithKeys("any"), key.WithHelp("any key", "exit and print the summary"))}
	}
	out := []key.Binding{k.LoadPause}
	if !v.hasSnap || v.load.snap.Executor.Open() {
		out = append(out, k.RateUp)
	}
	return append(out, k.VUsUp, k.LoadStop, k.Quit)
}
