package tui

import (
	"errors"
	"fmt"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/actions"
)

// errRunStopped is reported when a key's event cannot reach the runner.
var errRunStopped = errors.New("the run has stopped: the event was not sent")

// journalKeep is how many journal lines the cockpit keeps for its tail.
const journalKeep = 200

// Options configure the cockpit.
type Options struct {
	// Ops receives the operator's events (the Runner's ops channel). The
	// cockpit sends in commands, never in Update.
	Ops chan<- runbook.Event
	// RunDone is closed when the runner has stopped reading Ops; a send
	// then gives up instead of blocking forever.
	RunDone <-chan struct{}
	// Operator is who decisions are recorded as.
	Operator string
	// Cluster labels the Kubernetes target: a kubeconfig context, or
	// "simulated cluster" in the demo.
	Cluster string
	// Journal is the journal's path, for the header.
	Journal string
	// AllowActions is the mode the run is started in, shown until the
	// engine's first state; from then on the header, the dialogs and the
	// step list follow State.AllowActions.
	AllowActions bool
	// Now is the clock for ages and the elapsed window time (time.Now when
	// nil). Tests inject a fixed one so views render deterministically.
	Now func() time.Time
	// Tick is how often ages refresh; zero means every second, negative
	// never (tests).
	Tick time.Duration
	// LoadControl returns the controller of a running load step (nil when
	// none); nil disables the load keys.
	LoadControl func(step string) LoadController
	// Faults, when set, enables the sandbox keys (inject latency, 5xx,
	// stall).
	Faults Faults
	// LoadHistory is how many seconds the load sparklines cover (default 60).
	LoadHistory int
}

// Faults is the demo sandbox's fault switchboard as the cockpit uses it.
// Each method applies a change and describes the faults now in force.
type Faults interface {
	ToggleLatency() (string, error)
	ToggleErrors() (string, error)
	ToggleStall() (string, error)
	Reset() (string, error)
}

// Model is the cockpit's root model: it holds the engine's latest state,
// routes keys and messages, lays the panes out and draws them.
type Model struct {
	opts   Options
	styles Styles
	keys   KeyMap
	help   help.Model

	width, height int
	lay           Layout

	state    runbook.State
	hasState bool
	seq      uint64

	phase  int  // the phase shown in the step list
	follow bool // the shown phase follows the current one
	sel    int  // selected step of the shown phase

	journal []string
	events  int

	notice    string
	noticeBad bool

	dlg  *dialog
	diff *diffViewer // the dry-run diff overlay, over the dialog if both

	// progress is the latest interim result of each executing action.
	progress map[string]*actions.Result
	outCache outputCache

	loads    map[string]*loadState
	lastLoad string

	done    bool
	doneErr error
	report  string

	redactFor *runbook.Runbook
	redactor  *runbook.Redactor
}

// New returns the cockpit's root model.
func New(opts Options) *Model {
	if opts.LoadHistory <= 0 {
		opts.LoadHistory = 60
	}
	if opts.Operator == "" {
		opts.Operator = "operator"
	}
	keys := DefaultKeyMap()
	for _, b := range []*key.Binding{&keys.LoadPause, &keys.RateUp, &keys.RateDown, &keys.VUsUp, &keys.VUsDown, &keys.LoadStop} {
		b.SetEnabled(opts.LoadControl != nil)
	}
	for _, b := range []*key.Binding{&keys.FaultLatency, &keys.FaultErrors, &keys.FaultStall, &keys.FaultReset} {
		b.SetEnabled(opts.Faults != nil)
	}
	h := help.New()
	return &Model{
		opts:     opts,
		styles:   DefaultStyles(),
		keys:     keys,
		help:     h,
		follow:   true,
		loads:    map[string]*loadState{},
		progress: map[string]*actions.Result{},
	}
}

func (m *Model) now() time.Time {
	if m.opts.Now != nil {
		return m.opts.Now()
	}
	return time.Now()
}

// Init starts the refresh tick.
func (m *Model) Init() tea.Cmd { return m.tick() }

func (m *Model) tick() tea.Cmd {
	d := m.opts.Tick
	if d < 0 {
		return nil
	}
	if d == 0 {
		d = time.Second
	}
	return tea.Tick(d, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// Update applies one message. It never blocks: events go out in commands.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
	case StateMsg:
		m.applyState(msg)
	case LoadMsg:
		m.applyLoad(msg)
	case ProgressMsg:
		m.applyProgress(msg)
	case RunDoneMsg:
		m.done, m.doneErr, m.report = true, msg.Err, msg.Report
		if msg.Err != nil {
			m.setNotice("the run stopped: "+msg.Err.Error(), true)
		}
	case tickMsg:
		return m, m.tick()
	case sentMsg:
		if msg.err != nil {
			m.setNotice(msg.event+": "+msg.err.Error(), true)
		}
	case noticeMsg:
		if msg.err != nil {
			m.setNotice(msg.err.Error(), true)
		} else {
			m.setNotice(msg.text, false)
		}
	case tea.PasteMsg:
		if m.dlg != nil && m.diff == nil {
			m.dlg.paste(msg.Content)
		}
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, nil
}

func (m *Model) resize(w, h int) {
	m.width, m.height = w, h
	m.lay = layout(w, h)
	m.help.SetWidth(w)
	if m.diff != nil {
		m.buildDiff()
	}
}

func (m *Model) setNotice(text string, bad bool) {
	m.notice, m.noticeBad = text, bad
}

// applyState takes the engine's state after one event.
func (m *Model) applyState(msg StateMsg) {
	if msg.State.Runbook == nil || len(msg.State.Phases) == 0 {
		return // not a state this cockpit can show
	}
	if msg.Seq != 0 {
		if msg.Seq <= m.seq {
			return // stale: an older observation delivered late
		}
		m.seq = msg.Seq
	}
	prevCurrent := m.state.Current
	m.state, m.hasState = msg.State, true
	if m.follow || prevCurrent != m.state.Current {
		if m.phase != m.state.Current {
			m.sel = 0
		}
		m.phase, m.follow = m.state.Current, true
	}
	m.phase = min(m.phase, len(m.state.Phases)-1)
	m.sel = clamp(m.sel, 0, max(len(m.state.Phases[m.phase].Steps)-1, 0))
	if line, ok := journalLine(msg); ok {
		m.events++
		m.journal = append(m.journal, line)
		if len(m.journal) > journalKeep {
			m.journal = m.journal[len(m.journal)-journalKeep:]
		}
	}
	m.followActions()
	for _, eff := range msg.Effects {
		switch eff := eff.(type) {
		case runbook.Refused:
			m.setNotice("refused ("+eff.Event+"): "+eff.Reason, true)
		case runbook.Finished:
			m.setNotice("run finished: "+eff.Outcome.String(), eff.Outcome == runbook.OutcomeFailed)
		}
	}
}

// followActions keeps what the cockpit shows of actions in step with a
// new state: progress of steps no longer running goes, a dialog whose
// dry run or rollout changed under it closes, the diff viewer follows.
func (m *Model) followActions() {
	for id := range m.progress {
		if pi, si, ok := m.state.Find(id); !ok || m.state.Phases[pi].Steps[si].Status != runbook.StepRunning {
			delete(m.progress, id)
		}
	}
	if m.dlg != nil && m.dlg.stale != nil {
		if why := m.dlg.stale(m.state); why != "" {
			m.setNotice(m.dlg.title+" closed: "+why, true)
			m.dlg = nil
		}
	}
	if m.diff != nil {
		m.refreshDiff()
	}
}

// applyProgress keeps an executing action's interim result.
func (m *Model) applyProgress(msg ProgressMsg) {
	if !m.hasState {
		return
	}
	pi, si, ok := m.state.Find(msg.Step)
	if !ok || m.state.Phases[pi].Steps[si].Status != runbook.StepRunning {
		return // late: its result has landed
	}
	res := msg.Result
	m.progress[msg.Step] = &res
}

// send delivers an operator event in a command.
func (m *Model) send(ev runbook.Event) tea.Cmd {
	ops, done := m.opts.Ops, m.opts.RunDone
	return func() tea.Msg {
		if ops == nil {
			return sentMsg{event: ev.EventType(), err: errRunStopped}
		}
		select {
		case ops <- ev:
			return sentMsg{event: ev.EventType()}
		case <-done:
			return sentMsg{event: ev.EventType(), err: errRunStopped}
		}
	}
}

// selected returns the selected step's runbook entry and state.
func (m *Model) selected() (*runbook.Step, *runbook.StepState, bool) {
	if !m.hasState {
		return nil, nil, false
	}
	ph := &m.state.Runbook.Phases[m.phase]
	if m.sel < 0 || m.sel >= len(ph.Steps) {
		return nil, nil, false
	}
	return &ph.Steps[m.sel], &m.state.Phases[m.phase].Steps[m.sel], true
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	if m.diff != nil {
		return m.diffKey(msg) // the diff viewer takes every key
	}
	if m.dlg != nil {
		return m.dialogKey(msg) // a dialog takes every key
	}
	k := m.keys
	if key.Matches(msg, k.Quit) {
		return tea.Quit
	}
	m.notice = ""
	switch {
	case key.Matches(msg, k.Help):
		m.help.ShowAll = !m.help.ShowAll
		return nil
	case key.Matches(msg, k.LoadPause, k.RateUp, k.RateDown, k.VUsUp, k.VUsDown, k.LoadStop):
		return m.loadKey(msg)
	case key.Matches(msg, k.FaultLatency, k.FaultErrors, k.FaultStall, k.FaultReset):
		return m.faultKey(msg)
	}
	if !m.hasState {
		return nil
	}
	switch {
	case key.Matches(msg, k.Up):
		m.sel = max(m.sel-1, 0)
	case key.Matches(msg, k.Down):
		m.sel = min(m.sel+1, max(len(m.state.Phases[m.phase].Steps)-1, 0))
	case key.Matches(msg, k.PrevPhase):
		m.showPhase(m.phase - 1)
	case key.Matches(msg, k.NextPhase):
		m.showPhase(m.phase + 1)
	case key.Matches(msg, k.RunPhase):
		return m.send(runbook.RunPhase{})
	case key.Matches(msg, k.Run):
		if st, _, ok := m.selected(); ok {
			return m.send(runbook.RunStep{Step: st.ID})
		}
	case key.Matches(msg, k.Confirm):
		m.openConfirm()
	case key.Matches(msg, k.Diff):
		if st, _, ok := m.selected(); ok {
			m.openDiff(st.ID)
		}
	case key.Matches(msg, k.Submit):
		if st, _, ok := m.selected(); ok && st.Mutating() {
			m.openDiff(st.ID) // enter on an action opens its dry run
		}
	case key.Matches(msg, k.Undo):
		m.openUndo()
	case key.Matches(msg, k.Skip):
		m.openSkip()
	case key.Matches(msg, k.Override):
		m.openOverrideStep()
	case key.Matches(msg, k.OverrideGate):
		m.openOverrideGate()
	case key.Matches(msg, k.Advance):
		return m.advance()
	case key.Matches(msg, k.Abort):
		m.openAbort()
	}
	return nil
}

func (m *Model) showPhase(i int) {
	if i < 0 || i >= len(m.state.Phases) || i == m.phase {
		return
	}
	m.phase, m.sel = i, 0
	m.follow = i == m.state.Current
}

// advance asks to leave the phase. A red gate is refused by the engine
// (and journaled as an attempt); the cockpit says why at once.
func (m *Model) advance() tea.Cmd {
	if m.state.Finished() {
		m.setNotice("the run has finished ("+m.state.Outcome.String()+")", true)
		return nil
	}
	ps := &m.state.Phases[m.state.Current]
	v := m.state.Gate(m.state.Current)
	if !v.Status.OK() && ps.Override == nil {
		m.setNotice(fmt.Sprintf("advance refused: gate of phase %q is %s: %s — O overrides it with a reason",
			ps.ID, v.Status, v.Message), true)
		return m.send(runbook.Advance{Operator: m.opts.Operator})
	}
	next := "finish the run"
	if m.state.Current+1 < len(m.state.Phases) {
		next = "enter " + m.state.Phases[m.state.Current+1].ID
	}
	lines := []string{
		fmt.Sprintf("Leave phase %s and %s?", ps.ID, next),
		"",
		fmt.Sprintf("gate %s %s: %s", statusGlyph(v.Status), v.Status, v.Message),
	}
	if ps.Override != nil {
		lines = append(lines, "gate overridden by "+ps.Override.Operator+": "+ps.Override.Text)
	}
	m.dlg = &dialog{
		kind: dlgAdvance, title: "Advance " + ps.ID, lines: lines,
		build: func(string) runbook.Event { return runbook.Advance{Operator: m.opts.Operator} },
	}
	return nil
}
