package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// Faults is the demo sandbox's fault switchboard as the cockpit uses it.
// Each method applies a change and describes the faults now in force.
type Faults interface {
	ToggleLatency() (string, error)
	ToggleErrors() (string, error)
	ToggleStall() (string, error)
	// ToggleBadRelease makes a new version crash (its rollout fails).
	ToggleBadRelease() (string, error)
	Reset() (string, error)
}

// faultKey turns a sandbox key into the command that applies it.
func (m *Model) faultKey(msg tea.KeyPressMsg) tea.Cmd {
	f := m.opts.Faults
	if f == nil {
		return nil
	}
	k := m.env.keys
	var do func() (string, error)
	switch {
	case key.Matches(msg, k.FaultLatency):
		do = f.ToggleLatency
	case key.Matches(msg, k.FaultErrors):
		do = f.ToggleErrors
	case key.Matches(msg, k.FaultStall):
		do = f.ToggleStall
	case key.Matches(msg, k.FaultRelease):
		do = f.ToggleBadRelease
	default:
		do = f.Reset
	}
	return func() tea.Msg {
		text, err := do()
		if err != nil {
			return noticeMsg{err: fmt.Errorf("sandbox: %w", err)}
		}
		return noticeMsg{text: "sandbox: " + text}
	}
}
