package tui

import "charm.land/bubbles/v2/key"

// KeyMap is every key the cockpit answers, with its help text.
type KeyMap struct {
	Up, Down, PrevPhase, NextPhase key.Binding

	Run, RunPhase, Confirm, Skip, Override, OverrideGate, Advance, Abort key.Binding

	LoadPause, RateUp, RateDown, VUsUp, VUsDown, LoadStop key.Binding

	FaultLatency, FaultErrors, FaultStall, FaultReset key.Binding

	Help, Quit key.Binding

	// Dialog keys.
	Submit, Cancel key.Binding
}

// DefaultKeyMap returns the cockpit's keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:           key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "previous step")),
		Down:         key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "next step")),
		PrevPhase:    key.NewBinding(key.WithKeys("left", "h"), key.WithHelp("←/h", "previous phase")),
		NextPhase:    key.NewBinding(key.WithKeys("right", "l"), key.WithHelp("→/l", "next phase")),
		Run:          key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "run step")),
		RunPhase:     key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "run phase")),
		Confirm:      key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "confirm manual step")),
		Skip:         key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "skip optional step")),
		Override:     key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "override failed step")),
		OverrideGate: key.NewBinding(key.WithKeys("O"), key.WithHelp("O", "override red gate")),
		Advance:      key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "advance phase")),
		Abort:        key.NewBinding(key.WithKeys("ctrl+x"), key.WithHelp("ctrl+x", "abort run")),

		LoadPause: key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause/resume load")),
		RateUp:    key.NewBinding(key.WithKeys("+", "="), key.WithHelp("+/-", "load rate ±25%")),
		RateDown:  key.NewBinding(key.WithKeys("-"), key.WithHelp("-", "load rate -25%")),
		VUsUp:     key.NewBinding(key.WithKeys(">"), key.WithHelp(">/<", "load VUs ±25%")),
		VUsDown:   key.NewBinding(key.WithKeys("<"), key.WithHelp("<", "load VUs -25%")),
		LoadStop:  key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "stop load")),

		FaultLatency: key.NewBinding(key.WithKeys("1"), key.WithHelp("1", "sandbox: toggle latency")),
		FaultErrors:  key.NewBinding(key.WithKeys("2"), key.WithHelp("2", "sandbox: toggle 5xx")),
		FaultStall:   key.NewBinding(key.WithKeys("3"), key.WithHelp("3", "sandbox: toggle stall")),
		FaultReset:   key.NewBinding(key.WithKeys("0"), key.WithHelp("0", "sandbox: heal")),

		Help: key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit: key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit (the journal keeps the run)")),

		Submit: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "submit")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}
}

// ShortHelp is the help bar (help.KeyMap).
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Up, k.Run, k.Confirm, k.Override, k.Advance, k.Help, k.Quit}
}

// FullHelp is the `?` screen (help.KeyMap).
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PrevPhase, k.NextPhase, k.Help, k.Quit},
		{k.Run, k.RunPhase, k.Confirm, k.Skip, k.Override, k.OverrideGate, k.Advance, k.Abort},
		{k.LoadPause, k.RateUp, k.VUsUp, k.LoadStop},
		{k.FaultLatency, k.FaultErrors, k.FaultStall, k.FaultReset},
	}
}

// dialogKeys is the help bar while a dialog is open.
type dialogKeys struct{ k KeyMap }

func (d dialogKeys) ShortHelp() []key.Binding  { return []key.Binding{d.k.Submit, d.k.Cancel} }
func (d dialogKeys) FullHelp() [][]key.Binding { return [][]key.Binding{d.ShortHelp()} }
