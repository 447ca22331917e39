package tui

import (
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
)

// KeyMap is every key the cockpit answers, with its help text.
type KeyMap struct {
	Up, Down, PrevPhase, NextPhase key.Binding

	Run, RunPhase, Confirm, Skip, Override, OverrideGate, Advance, Abort key.Binding

	// Diff opens the selected action's dry-run diff (enter on an action
	// step does too); Undo asks to undo a failed rollout.
	Diff, Undo key.Binding

	LoadPause, RateUp, RateDown, VUsUp, VUsDown, LoadStop key.Binding

	FaultLatency, FaultErrors, FaultStall, FaultRelease, FaultReset key.Binding

	Help, Quit key.Binding

	// Dialog keys. DialogDiff opens the dry-run diff from an action's
	// confirmation dialog, whose note field takes the printable keys.
	Submit, Cancel, DialogDiff key.Binding

	// Diff viewer keys: scrolling (Scroll drives the viewport), the top
	// and bottom, confirming from inside the viewer, closing it.
	Scroll                              viewport.KeyMap
	Top, Bottom, ViewConfirm, ViewClose key.Binding
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
		Confirm:      key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "confirm")),
		Skip:         key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "skip optional step")),
		Override:     key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "override failed step")),
		OverrideGate: key.NewBinding(key.WithKeys("O"), key.WithHelp("O", "override red gate")),
		Advance:      key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "advance phase")),
		Abort:        key.NewBinding(key.WithKeys("ctrl+x"), key.WithHelp("ctrl+x", "abort run")),
		Diff:         key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "dry-run diff")),
		Undo:         key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "undo failed rollout")),

		LoadPause: key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause/resume load")),
		RateUp:    key.NewBinding(key.WithKeys("+", "="), key.WithHelp("+/-", "load rate ±25%")),
		RateDown:  key.NewBinding(key.WithKeys("-"), key.WithHelp("-", "load rate -25%")),
		VUsUp:     key.NewBinding(key.WithKeys(">"), key.WithHelp(">/<", "load VUs ±25%")),
		VUsDown:   key.NewBinding(key.WithKeys("<"), key.WithHelp("<", "load VUs -25%")),
		LoadStop:  key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "stop load")),

		FaultLatency: key.NewBinding(key.WithKeys("1"), key.WithHelp("1", "sandbox: toggle latency")),
		FaultErrors:  key.NewBinding(key.WithKeys("2"), key.WithHelp("2", "sandbox: toggle 5xx")),
		FaultStall:   key.NewBinding(key.WithKeys("3"), key.WithHelp("3", "sandbox: toggle stall")),
		FaultRelease: key.NewBinding(key.WithKeys("4"), key.WithHelp("4", "sandbox: new version crashes")),
		FaultReset:   key.NewBinding(key.WithKeys("0"), key.WithHelp("0", "sandbox: heal")),

		Help: key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit: key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit (the journal keeps the run)")),

		Submit: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "submit")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		// The note field takes "d"; ctrl+d is not printable.
		DialogDiff: key.NewBinding(key.WithKeys("ctrl+d"), key.WithHelp("ctrl+d", "diff")),

		Scroll: viewport.KeyMap{
			Up:           key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "scroll")),
			Down:         key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
			PageUp:       key.NewBinding(key.WithKeys("pgup", "b"), key.WithHelp("pgup/pgdn", "page")),
			PageDown:     key.NewBinding(key.WithKeys("pgdown", "space", "f"), key.WithHelp("pgdn", "page down")),
			HalfPageUp:   key.NewBinding(key.WithKeys("ctrl+u"), key.WithHelp("ctrl+u", "½ page up")),
			HalfPageDown: key.NewBinding(key.WithKeys("ctrl+d"), key.WithHelp("ctrl+d", "½ page down")),
			// Long lines wrap: no horizontal scrolling.
			Left:  key.NewBinding(key.WithDisabled()),
			Right: key.NewBinding(key.WithDisabled()),
		},
		Top:         key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("home/end", "top/bottom")),
		Bottom:      key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("end", "bottom")),
		ViewConfirm: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "confirm")),
		ViewClose:   key.NewBinding(key.WithKeys("esc", "q", "d", "ctrl+c"), key.WithHelp("esc", "close")),
	}
}

// ShortHelp is the help bar (help.KeyMap).
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Up, k.Run, k.Confirm, k.Diff, k.Override, k.Advance, k.Help, k.Quit}
}

// FullHelp is the `?` screen (help.KeyMap).
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PrevPhase, k.NextPhase, k.Help, k.Quit},
		{k.Run, k.RunPhase, k.Confirm, k.Diff, k.Undo, k.Skip, k.Override, k.OverrideGate, k.Advance, k.Abort},
		{k.LoadPause, k.RateUp, k.VUsUp, k.LoadStop},
		{k.FaultLatency, k.FaultErrors, k.FaultStall, k.FaultRelease, k.FaultReset},
	}
}

// dialogKeys is the help bar while a dialog is open.
type dialogKeys struct{ k KeyMap }

func (d dialogKeys) ShortHelp() []key.Binding  { return []key.Binding{d.k.Submit, d.k.Cancel} }
func (d dialogKeys) FullHelp() [][]key.Binding { return [][]key.Binding{d.ShortHelp()} }

// actionDialogKeys is the help bar while an action's confirmation is open.
type actionDialogKeys struct{ k KeyMap }

func (d actionDialogKeys) ShortHelp() []key.Binding {
	return []key.Binding{d.k.Submit, d.k.DialogDiff, d.k.Cancel}
}
func (d actionDialogKeys) FullHelp() [][]key.Binding { return [][]key.Binding{d.ShortHelp()} }

// diffKeys is the help bar while the diff viewer is open; c is offered
// only when the run may execute actions.
type diffKeys struct {
	k       KeyMap
	actions bool
}

func (d diffKeys) ShortHelp() []key.Binding {
	if !d.actions {
		return []key.Binding{d.k.Scroll.Up, d.k.Scroll.PageUp, d.k.Top, d.k.ViewClose}
	}
	return []key.Binding{d.k.Scroll.Up, d.k.Scroll.PageUp, d.k.Top, d.k.ViewConfirm, d.k.ViewClose}
}
func (d diffKeys) FullHelp() [][]key.Binding { return [][]key.Binding{d.ShortHelp()} }
