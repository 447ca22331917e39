package tui

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/cockpit-dev/cockpit/runbook"
)

// View draws the cockpit.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "cockpit"
	if m.run.hasState {
		v.WindowTitle = "cockpit · " + m.run.state.Runbook.Metadata.Name
	}
	return v
}

// render draws the screen as a string: what View shows and golden tests
// compare. The root draws the frame — header, phase rail, help bar — and
// each pane where the layout puts it.
func (m *Model) render() string {
	if m.width == 0 || m.height == 0 {
		return "cockpit: starting…"
	}
	l := m.lay
	if l.TooSmall {
		return fit(fmt.Sprintf("cockpit needs %d×%d; the terminal is %d×%d", MinWidth, MinHeight, m.width, m.height), m.width)
	}
	rows := []string{
		fit(m.header(), l.Header.W),
		fit(m.rail(), l.Rail.W),
	}
	showLoad := !l.Load.Empty()
	if m.diff.isOpen() {
		rows = append(rows, m.diff.View())
		showLoad = false // the viewer takes the load band too
	} else if m.help.ShowAll {
		rows = append(rows, boxed(m.env.styles, Rect{W: l.Width, H: l.Steps.H}, "keys", true, strings.Split(m.help.FullHelpView(m.env.keys.FullHelp()), "\n")))
	} else {
		m.steps.Focus(!m.dialog.isOpen())
		right := m.detail.View()
		if m.dialog.isOpen() {
			right = m.dialog.View()
		}
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, m.steps.View(), right))
	}
	if showLoad {
		rows = append(rows, m.load.View())
	}
	rows = append(rows, m.journal.View())
	rows = append(rows, fit(m.helpBar(), l.Help.W))
	return m.env.red.String(strings.Join(rows, "\n"))
}

// helpBar is the notice, when there is one, else the keys of what has
// them: the diff viewer, a dialog, or the cockpit.
func (m *Model) helpBar() string {
	if m.notice != "" {
		st := m.env.styles.Pass
		g := "✓ "
		if m.noticeBad {
			st, g = m.env.styles.Fail, "✗ "
		}
		return st.Render(g + m.notice)
	}
	switch {
	case m.diff.isOpen():
		return m.help.ShortHelpView(m.diff.ShortHelp())
	case m.dialog.isOpen():
		return m.help.ShortHelpView(m.dialog.ShortHelp())
	}
	return m.help.ShortHelpView(m.env.keys.ShortHelp())
}

func (m *Model) header() string {
	s := m.env.styles
	var parts []string
	if m.width >= 100 || !m.run.hasState {
		parts = append(parts, s.Bold.Render("◆ cockpit"))
	}
	if !m.run.hasState {
		parts = append(parts, "waiting for the runbook engine…")
		return strings.Join(parts, "  ")
	}
	rb := m.run.state.Runbook
	parts = append(parts, s.Bold.Render(rb.Metadata.Name), m.modeBadge())
	if m.run.state.Finished() {
		st := s.Pass
		switch m.run.state.Outcome {
		case runbook.OutcomeWarned:
			st = s.Warn
		case runbook.OutcomeFailed:
			st = s.Fail
		}
		parts = append(parts, st.Render("run "+m.run.state.Outcome.String()))
	}
	cluster := -1
	if m.opts.Cluster != "" {
		cluster = len(parts)
		parts = append(parts, "⎈ "+m.opts.Cluster)
	}
	parts = append(parts, "⏱ "+clockDuration(m.elapsed()))
	journal := fmt.Sprintf("journal ✓ %d", m.journal.Events())
	switch {
	case m.done && m.doneErr != nil:
		journal = s.Fail.Render("journal ✗ stopped")
	case m.opts.Journal == "":
		journal = s.Warn.Render("journal ! none")
	}
	parts = append(parts, journal)
	sep := s.Muted.Render(" │ ")
	if over := ansi.StringWidth(strings.Join(parts, sep)) - m.width; over > 0 && cluster >= 0 {
		// The cluster's name gives way first: the mode and the journal
		// must stay on screen.
		parts[cluster] = ansi.Truncate(parts[cluster], max(ansi.StringWidth(parts[cluster])-over, 3), "…")
	}
	return strings.Join(parts, sep)
}

// modeBadge says the run's mode: READ-ONLY (mutating actions are only
// dry-run) or ACTIONS ENABLED. The words carry it; colour repeats it.
func (m *Model) modeBadge() string {
	if m.actionsAllowed() {
		return m.env.styles.ModeActions.Render("! ACTIONS ENABLED")
	}
	return m.env.styles.ModeReadOnly.Render("READ-ONLY")
}

// elapsed is the window's time so far: from entering the first phase to
// now, or to the end of the run.
func (m *Model) elapsed() time.Duration {
	if !m.run.hasState || !m.run.state.Started || len(m.run.state.Phases) == 0 {
		return 0
	}
	start := m.run.state.Phases[0].EnteredAt
	end := m.now()
	if m.run.state.Finished() {
		end = m.run.state.Now
	}
	if start.IsZero() || end.Before(start) {
		return 0
	}
	return end.Sub(start)
}

func (m *Model) rail() string {
	if !m.run.hasState {
		return ""
	}
	s := m.env.styles
	var parts []string
	for i, ps := range m.run.state.Phases {
		label := phaseGlyph(ps.Status) + " " + ps.ID
		if i == m.run.state.Current && !m.run.state.Finished() {
			v := m.run.state.Gate(i)
			label += " " + s.status(v.Status).Render("[gate "+statusGlyph(v.Status)+" "+v.Status.String()+"]")
			if ps.Override != nil {
				label += " " + s.Warn.Render("⚑ gate overridden")
			}
		}
		st := s.phase(ps.Status)
		if i == m.run.phase {
			label = "▸" + label
			st = st.Underline(true)
		}
		parts = append(parts, st.Render(label))
	}
	return strings.Join(parts, s.Muted.Render(" → "))
}

func stepTitle(st *runbook.Step) string { return st.ID }

func prefixed(sep, s string) string {
	if s == "" {
		return ""
	}
	return sep + s
}

// wrap breaks text into lines of at most w cells.
func wrap(s string, w int) []string {
	if w <= 0 {
		return nil
	}
	return strings.Split(ansi.Wrap(s, w, " "), "\n")
}

// shortDuration prints an age: 5s, 3m, 2h, 4d.
func shortDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// clockDuration prints the elapsed window as hh:mm:ss.
func clockDuration(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60)
}
