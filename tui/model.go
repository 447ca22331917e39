package tui

import (
	"errors"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/cockpit-dev/cockpit/runbook"
)

// errRunStopped is reported when a key's event cannot reach the runner.
var errRunStopped = errors.New("the run has stopped: the event was not sent")

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

// Model is the cockpit's root model. It keeps the engine's latest state
// and what the panes draw from (runView), routes messages and keys to the
// panes, lays them out and draws the frame around them: the header, the
// phase rail, the help bar and its notice. The panes — steps, detail,
// load, journal, dialog, diff viewer — each draw and update themselves
// (see pane).
type Model struct {
	opts Options
	env  *env
	help help.Model

	width, height int
	lay           Layout

	run runView
	seq uint64

	notice    string
	noticeBad bool

	done    bool
	doneErr error

	steps   *stepsPane
	detail  *detailPane
	load    *loadPane
	journal *journalPane
	dialog  *dialogPane
	diff    *diffPane
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
	for _, b := range []*key.Binding{&keys.FaultLatency, &keys.FaultErrors, &keys.FaultStall, &keys.FaultRelease, &keys.FaultReset} {
		b.SetEnabled(opts.Faults != nil)
	}
	m := &Model{opts: opts, help: help.New(), run: newRunView()}
	m.env = &env{styles: DefaultStyles(), keys: keys, operator: opts.Operator, now: m.now, send: m.send}
	m.steps = newStepsPane(m.env)
	m.detail = newDetailPane(m.env)
	m.load = newLoadPane(m.env, opts.LoadControl)
	m.journal = newJournalPane(m.env, opts.Journal)
	m.dialog = newDialogPane(m.env)
	m.diff = newDiffPane(m.env)
	return m
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

// Notice is the line over the help bar — the outcome of the operator's
// last key, or the engine's last refusal — and whether it is bad news.
func (m *Model) Notice() (text string, bad bool) { return m.notice, m.noticeBad }

// Update applies one message, then what the panes posted while handling
// it, in order. It never blocks: events go out in commands.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmds := []tea.Cmd{m.update(msg)}
	for len(m.env.posted) > 0 {
		next := m.env.posted[0]
		m.env.posted = m.env.posted[1:]
		cmds = append(cmds, m.update(next))
	}
	return m, tea.Batch(cmds...)
}

// update routes one message.
func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
	case StateMsg:
		m.applyState(msg)
	case LoadMsg:
		if m.run.addLoad(msg, m.opts.LoadHistory) {
			m.sync()
		}
	case ProgressMsg:
		m.run.addProgress(msg)
	case RunDoneMsg:
		m.done, m.doneErr = true, msg.Err
		m.journal.Update(msg)
		if msg.Err != nil {
			m.setNotice("the run stopped: "+msg.Err.Error(), true)
		}
	case tickMsg:
		return m.tick()
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
	case noticeSet:
		m.setNotice(msg.text, msg.bad)
	case openDiffMsg, closeDiffMsg:
		return m.diff.Update(msg)
	case viewConfirmMsg:
		return m.dialog.Update(msg)
	case tea.PasteMsg:
		if !m.diff.isOpen() {
			return m.dialog.Update(msg)
		}
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	return nil
}

// resize lays the panes out for a new terminal size.
func (m *Model) resize(w, h int) {
	m.width, m.height = w, h
	m.lay = layout(w, h)
	m.help.SetWidth(w)
	l := m.lay
	m.steps.SetSize(l.Steps.W, l.Steps.H)
	m.detail.SetSize(l.Detail.W, l.Detail.H)
	m.dialog.SetSize(l.Detail.W, l.Detail.H)
	m.load.SetSize(l.Load.W, l.Load.H)
	m.journal.SetSize(l.Journal.W, l.Journal.H)
	if l.TooSmall {
		m.diff.SetSize(0, 0)
	} else {
		r := l.diffRect()
		m.diff.SetSize(r.W, r.H)
	}
	m.sync()
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
	m.run.state, m.run.hasState = msg.State, true
	m.run.addWorkers(msg.At)
	m.env.red.use(msg.State.Runbook)
	m.journal.Update(msg)
	m.run.pruneProgress()
	m.sync()
	// Posted after what the panes posted in sync (a dialog that closed):
	// the engine's word is the last.
	for _, eff := range msg.Effects {
		switch eff := eff.(type) {
		case runbook.Refused:
			m.env.notify("refused ("+eff.Event+"): "+eff.Reason, true)
		case runbook.Finished:
			m.env.notify("run finished: "+eff.Outcome.String(), eff.Outcome == runbook.OutcomeFailed)
		}
	}
}

// sync hands the panes the run as it now is: the steps pane first, whose
// selection the others follow.
func (m *Model) sync() {
	m.run.actions = m.actionsAllowed()
	m.run.loadBand = !m.lay.Load.Empty()
	m.steps.Update(runViewMsg{m.run})
	m.run.phase, m.run.sel = m.steps.Selection()
	for _, p := range []pane{m.detail, m.load, m.dialog, m.diff} {
		p.Update(runViewMsg{m.run})
	}
}

// actionsAllowed reports the run's mode: the engine's State once the run
// has started, the command line's flag before.
func (m *Model) actionsAllowed() bool {
	if m.run.hasState && m.run.state.Started {
		return m.run.state.AllowActions
	}
	return m.opts.AllowActions
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

// key routes a key: to the diff viewer or a dialog while one is open
// (they take every key), else by what it does.
func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	if m.diff.isOpen() {
		return m.diff.Update(msg)
	}
	if m.dialog.isOpen() {
		return m.dialog.Update(msg)
	}
	k := m.env.keys
	if key.Matches(msg, k.Quit) {
		return tea.Quit
	}
	m.notice = ""
	switch {
	case key.Matches(msg, k.Help):
		m.help.ShowAll = !m.help.ShowAll
		return nil
	case key.Matches(msg, k.LoadPause, k.RateUp, k.RateDown, k.VUsUp, k.VUsDown, k.LoadStop):
		return m.load.Update(msg)
	case key.Matches(msg, k.FaultLatency, k.FaultErrors, k.FaultStall, k.FaultRelease, k.FaultReset):
		return m.faultKey(msg)
	}
	if !m.run.hasState {
		return nil
	}
	switch {
	case key.Matches(msg, k.Up, k.Down, k.PrevPhase, k.NextPhase):
		m.steps.Update(msg)
		m.sync()
	case key.Matches(msg, k.RunPhase):
		return m.send(runbook.RunPhase{})
	case key.Matches(msg, k.Run):
		if st, _, ok := m.run.selected(); ok {
			return m.send(runbook.RunStep{Step: st.ID})
		}
	case key.Matches(msg, k.Diff, k.Submit):
		return m.diff.Update(msg)
	case key.Matches(msg, k.Confirm, k.Undo, k.Skip, k.Override, k.OverrideGate, k.Advance, k.Abort):
		return m.dialog.Update(msg)
	}
	return nil
}
