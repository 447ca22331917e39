package tui

import (
	"charm.land/lipgloss/v2"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
)

// Styles are the cockpit's semantic styles, defined once and held by the
// model. Colour only ever repeats what a glyph already says, so a
// monochrome terminal or NO_COLOR (Bubble Tea then drops the colours)
// reads the same.
type Styles struct {
	Pass, Warn, Fail, Running, Pending lipgloss.Style
	Muted, Bold, Title, Key            lipgloss.Style
	Border, Focus                      lipgloss.Style
	Selected                           lipgloss.Style
	BadgePass, BadgeFail               lipgloss.Style
	Dialog                             lipgloss.Style
	// Diff lines: added (+), removed (-), hunk headers (@@) and file
	// headers (--- / +++). Each line keeps its glyph, so a diff reads the
	// same without colour.
	DiffAdd, DiffDel, DiffHunk, DiffFile lipgloss.Style
	// The run's mode in the header: read-only, or mutating actions
	// enabled.
	ModeReadOnly, ModeActions lipgloss.Style
}

// DefaultStyles returns the cockpit's styles for a dark or light terminal.
func DefaultStyles() Styles {
	green, yellow, red, blue, grey := lipgloss.Color("2"), lipgloss.Color("3"), lipgloss.Color("1"), lipgloss.Color("4"), lipgloss.Color("8")
	cyan := lipgloss.Color("6")
	s := Styles{
		Pass:      lipgloss.NewStyle().Foreground(green),
		Warn:      lipgloss.NewStyle().Foreground(yellow),
		Fail:      lipgloss.NewStyle().Foreground(red).Bold(true),
		Running:   lipgloss.NewStyle().Foreground(blue),
		Pending:   lipgloss.NewStyle().Foreground(grey),
		Muted:     lipgloss.NewStyle().Faint(true),
		Bold:      lipgloss.NewStyle().Bold(true),
		Title:     lipgloss.NewStyle().Bold(true),
		Key:       lipgloss.NewStyle().Bold(true),
		Border:    lipgloss.NewStyle().Foreground(grey),
		Focus:     lipgloss.NewStyle().Foreground(blue),
		Selected:  lipgloss.NewStyle().Reverse(true),
		BadgePass: lipgloss.NewStyle().Foreground(green),
		BadgeFail: lipgloss.NewStyle().Foreground(red).Bold(true).Reverse(true),
		Dialog:    lipgloss.NewStyle().Foreground(yellow),

		DiffAdd:  lipgloss.NewStyle().Foreground(green),
		DiffDel:  lipgloss.NewStyle().Foreground(red),
		DiffHunk: lipgloss.NewStyle().Foreground(cyan),
		DiffFile: lipgloss.NewStyle().Bold(true),

		ModeReadOnly: lipgloss.NewStyle().Foreground(green).Bold(true),
		ModeActions:  lipgloss.NewStyle().Foreground(yellow).Bold(true).Reverse(true),
	}
	return s
}

// status returns the style of a probe status.
func (s Styles) status(st probes.Status) lipgloss.Style {
	switch st {
	case probes.StatusPass:
		return s.Pass
	case probes.StatusWarn:
		return s.Warn
	case probes.StatusFail, probes.StatusError, probes.StatusForbidden:
		return s.Fail
	}
	return s.Pending
}

// step returns the style of a step status.
func (s Styles) step(st runbook.StepStatus) lipgloss.Style {
	switch st {
	case runbook.StepPassed:
		return s.Pass
	case runbook.StepWarned, runbook.StepOverridden, runbook.StepSkipped:
		return s.Warn
	case runbook.StepFailed:
		return s.Fail
	case runbook.StepRunning:
		return s.Running
	}
	return s.Pending
}

// phase returns the style of a phase status.
func (s Styles) phase(st runbook.PhaseStatus) lipgloss.Style {
	switch st {
	case runbook.PhasePassed:
		return s.Pass
	case runbook.PhaseWarned, runbook.PhaseOverridden:
		return s.Warn
	case runbook.PhaseAborted:
		return s.Fail
	case runbook.PhaseActive:
		return s.Running
	}
	return s.Pending
}

// Glyphs: each status has its own, so the screen reads without colour.
func statusGlyph(st probes.Status) string {
	switch st {
	case probes.StatusPass:
		return "✓"
	case probes.StatusWarn:
		return "!"
	case probes.StatusFail:
		return "✗"
	case probes.StatusError:
		return "?"
	case probes.StatusForbidden:
		return "⊘"
	}
	return "·"
}

func stepGlyph(st runbook.StepStatus) string {
	switch st {
	case runbook.StepRunning:
		return "↻"
	case runbook.StepPassed:
		return "✓"
	case runbook.StepWarned:
		return "!"
	case runbook.StepFailed:
		return "✗"
	case runbook.StepSkipped:
		return "–"
	case runbook.StepOverridden:
		return "⚑"
	}
	return "·"
}

func phaseGlyph(st runbook.PhaseStatus) string {
	switch st {
	case runbook.PhaseActive:
		return "●"
	case runbook.PhasePassed:
		return "✓"
	case runbook.PhaseWarned:
		return "!"
	case runbook.PhaseOverridden:
		return "⚑"
	case runbook.PhaseAborted:
		return "✗"
	}
	return "○"
}
