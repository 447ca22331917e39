package tui

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
)

// View draws the cockpit.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "cockpit"
	if m.hasState {
		v.WindowTitle = "cockpit · " + m.state.Runbook.Metadata.Name
	}
	return v
}

// render draws the screen as a string: what View shows and golden tests
// compare.
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
	if m.diff != nil {
		rows = append(rows, m.diffView(l.diffRect()))
		showLoad = false // the viewer takes the load band too
	} else if m.help.ShowAll {
		h := l.Steps.H
		rows = append(rows, m.box(Rect{W: l.Width, H: h}, "keys", true, strings.Split(m.help.FullHelpView(m.keys.FullHelp()), "\n")))
	} else {
		left := m.box(l.Steps, m.stepsTitle(), m.dlg == nil, m.stepLines(l.Steps.W-frameSize, l.Steps.H-frameSize))
		var right string
		if m.dlg != nil {
			right = m.box(l.Detail, m.dlg.title, true, m.dialogLines(l.Detail.W-frameSize, l.Detail.H-frameSize))
		} else {
			title, lines := m.detail(l.Detail.W-frameSize, l.Detail.H-frameSize)
			right = m.box(l.Detail, title, false, lines)
		}
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, left, right))
	}
	if showLoad {
		title, lines := m.loadPane(l.Load.W-frameSize, l.Load.H-frameSize)
		rows = append(rows, m.box(l.Load, title, false, lines))
	}
	rows = append(rows, m.box(l.Journal, m.journalTitle(), false, m.journalLines(l.Journal.H-frameSize)))
	rows = append(rows, fit(m.helpBar(), l.Help.W))
	return m.redact(strings.Join(rows, "\n"))
}

// redact removes the runbook's secrets (and credentials, private keys)
// from anything drawn.
func (m *Model) redact(s string) string {
	if !m.hasState {
		return s
	}
	if m.redactFor != m.state.Runbook || m.redactor == nil {
		m.redactFor, m.redactor = m.state.Runbook, runbook.NewRedactor(m.state.Runbook.Secrets())
	}
	return m.redactor.String(s)
}

func (m *Model) header() string {
	s := m.styles
	var parts []string
	if m.width >= 100 || !m.hasState {
		parts = append(parts, s.Bold.Render("◆ cockpit"))
	}
	if !m.hasState {
		parts = append(parts, "waiting for the runbook engine…")
		return strings.Join(parts, "  ")
	}
	rb := m.state.Runbook
	parts = append(parts, s.Bold.Render(rb.Metadata.Name), m.modeBadge())
	if m.state.Finished() {
		st := s.Pass
		switch m.state.Outcome {
		case runbook.OutcomeWarned:
			st = s.Warn
		case runbook.OutcomeFailed:
			st = s.Fail
		}
		parts = append(parts, st.Render("run "+m.state.Outcome.String()))
	}
	cluster := -1
	if m.opts.Cluster != "" {
		cluster = len(parts)
		parts = append(parts, "⎈ "+m.opts.Cluster)
	}
	parts = append(parts, "⏱ "+clockDuration(m.elapsed()))
	journal := fmt.Sprintf("journal ✓ %d", m.events)
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
		return m.styles.ModeActions.Render("! ACTIONS ENABLED")
	}
	return m.styles.ModeReadOnly.Render("READ-ONLY")
}

// elapsed is the window's time so far: from entering the first phase to
// now, or to the end of the run.
func (m *Model) elapsed() time.Duration {
	if !m.hasState || !m.state.Started || len(m.state.Phases) == 0 {
		return 0
	}
	start := m.state.Phases[0].EnteredAt
	end := m.now()
	if m.state.Finished() {
		end = m.state.Now
	}
	if start.IsZero() || end.Before(start) {
		return 0
	}
	return end.Sub(start)
}

func (m *Model) rail() string {
	if !m.hasState {
		return ""
	}
	s := m.styles
	var parts []string
	for i, ps := range m.state.Phases {
		label := phaseGlyph(ps.Status) + " " + ps.ID
		if i == m.state.Current && !m.state.Finished() {
			v := m.state.Gate(i)
			label += " " + s.status(v.Status).Render("[gate "+statusGlyph(v.Status)+" "+v.Status.String()+"]")
			if ps.Override != nil {
				label += " " + s.Warn.Render("⚑ gate overridden")
			}
		}
		st := s.phase(ps.Status)
		if i == m.phase {
			label = "▸" + label
			st = st.Underline(true)
		}
		parts = append(parts, st.Render(label))
	}
	return strings.Join(parts, s.Muted.Render(" → "))
}

func (m *Model) stepsTitle() string {
	if !m.hasState {
		return "steps"
	}
	ph := m.state.Runbook.Phases[m.phase]
	t := ph.ID
	if ph.Title != "" {
		t += " · " + ph.Title
	}
	return fmt.Sprintf("%s (%d/%d)", t, m.phase+1, len(m.state.Phases))
}

// stepLines draws the shown phase's steps: glyph, title, live summary and
// the age of the last observation; the gate's verdict first.
func (m *Model) stepLines(w, h int) []string {
	if !m.hasState {
		return []string{"waiting for the runbook engine…"}
	}
	s := m.styles
	ph, ps := &m.state.Runbook.Phases[m.phase], &m.state.Phases[m.phase]
	var gate string
	switch {
	case m.phase == m.state.Current && !m.state.Finished():
		v := m.state.Gate(m.phase)
		gate = s.status(v.Status).Render("gate "+statusGlyph(v.Status)+" "+v.Status.String()) + " " + v.Message
	case ps.Status == runbook.PhaseWaiting:
		gate = s.Pending.Render("not reached yet")
	default:
		gate = s.phase(ps.Status).Render(phaseGlyph(ps.Status)+" "+ps.Status.String()) + " " + ps.Verdict.Message
	}
	lines := m.wrap(gate, w)
	if len(lines) > 2 {
		lines = lines[:2]
	}
	nameW, kinds := 0, false
	for i := range ph.Steps {
		nameW = max(nameW, ansi.StringWidth(stepTitle(&ph.Steps[i])))
		kinds = kinds || ph.Steps[i].Action != nil
	}
	if kinds {
		nameW += 2 // a kind glyph before the names of actions
	}
	nameW = min(nameW, max(w/2-3, 8))
	const ageW = 4
	rows := h - len(lines)
	first := 0
	if m.sel >= rows && rows > 0 {
		first = m.sel - rows + 1
	}
	for i := first; i < len(ph.Steps) && i-first < rows; i++ {
		st, ss := &ph.Steps[i], &ps.Steps[i]
		marker := " "
		if i == m.sel {
			marker = "▸"
		}
		title := stepTitle(st)
		if kinds {
			title = fit(kindGlyph(st), 1) + " " + title
		}
		name := fit(title, nameW)
		age := m.age(ss)
		sumW := max(w-3-nameW-1-ageW-1, 0)
		sum := m.stepSummary(st, ss, sumW)
		line := marker + s.step(ss.Status).Render(stepGlyph(ss.Status)) + " " + name + " " +
			fit(sum, sumW) + " " + s.Muted.Render(fmt.Sprintf("%*s", ageW, age))
		if i == m.sel {
			line = marker + s.step(ss.Status).Render(stepGlyph(ss.Status)) + " " + s.Bold.Render(name) + " " +
				fit(sum, sumW) + " " + s.Muted.Render(fmt.Sprintf("%*s", ageW, age))
		}
		lines = append(lines, line)
	}
	return lines
}

// stepSummary is a step's one live line, for w cells.
func (m *Model) stepSummary(st *runbook.Step, ss *runbook.StepState, w int) string {
	if st.Action != nil {
		long, short := m.actionSummary(st, ss)
		if short != "" && ansi.StringWidth(long) > w {
			return short
		}
		return long
	}
	switch {
	case ss.Override != nil:
		return "overridden: " + ss.Override.Text
	case ss.Skip != nil:
		return "skipped" + prefixed(": ", ss.Skip.Text)
	case ss.Confirm != nil:
		return "confirmed by " + ss.Confirm.Operator + prefixed(": ", ss.Confirm.Text)
	case ss.HasResult || ss.Why != "":
		return ss.Says()
	case st.Manual != nil:
		if unmet := m.state.UnmetNeeds(st.ID); unmet != "" {
			return "needs " + unmet
		}
		return "confirm: " + st.Manual.Prompt
	case m.loads[st.ID] != nil && ss.Status == runbook.StepRunning:
		return m.loads[st.ID].summary()
	case ss.Status == runbook.StepRunning:
		return "running…"
	}
	if unmet := m.state.UnmetNeeds(st.ID); unmet != "" {
		return "needs " + unmet
	}
	return ss.Status.String()
}

// age is how long ago the step was last observed or decided.
func (m *Model) age(ss *runbook.StepState) string {
	t := ss.UpdatedAt
	if ss.HasResult {
		t = ss.Last.ObservedAt
	}
	if t.IsZero() {
		return ""
	}
	return shortDuration(m.now().Sub(t))
}

// detail draws the selected step for a w×h pane: status, result, items,
// history.
func (m *Model) detail(w, h int) (string, []string) {
	st, ss, ok := m.selected()
	if !ok {
		return "detail", nil
	}
	s := m.styles
	title := "step " + st.ID
	switch {
	case st.Probe != nil:
		title += " · " + st.Probe.Kind
	case st.Action != nil:
		title += " · " + kindGlyph(st) + " action " + st.Action.Kind
		return title, m.actionDetail(st, ss, w, h)
	default:
		if kind := st.StepKind(); kind != "" {
			title += " · " + kind
		}
	}
	var out []string
	add := func(text string) { out = append(out, m.wrap(text, w)...) }
	status := s.step(ss.Status).Render(stepGlyph(ss.Status)+" "+ss.Status.String()) + stepFlags(st)
	if ss.Attempt > 1 {
		status += fmt.Sprintf(" · attempt %d of %d", ss.Attempt, st.Retries+1)
	}
	out = append(out, status)
	if st.Title != "" {
		add(st.Title)
	}
	if st.Probe != nil {
		if d, ok := st.Probe.Spec.(probes.Describer); ok {
			add(s.Muted.Render(d.Describe()))
		}
	}
	if st.Manual != nil {
		add("prompt: " + st.Manual.Prompt)
		if st.Manual.Note == "required" {
			add(s.Muted.Render("a note is required"))
		}
	}
	if unmet := m.state.UnmetNeeds(st.ID); unmet != "" && ss.Status == runbook.StepPending {
		add("needs " + unmet + " to pass first")
	}
	for _, d := range []struct {
		what string
		d    *runbook.Decision
	}{{"confirmed", ss.Confirm}, {"skipped", ss.Skip}, {"overridden", ss.Override}} {
		if d.d != nil {
			add(s.Warn.Render(fmt.Sprintf("%s by %s at %s", d.what, d.d.Operator, d.d.At.Format("15:04:05"))) + prefixed(": ", d.d.Text))
		}
	}
	if st.Every > 0 {
		line := fmt.Sprintf("every %s", time.Duration(st.Every))
		if !ss.NextDue.IsZero() && ss.Status == runbook.StepRunning {
			line += " · next in " + shortDuration(ss.NextDue.Sub(m.now()))
		}
		line += fmt.Sprintf(" · %d failed in a row (breach at %d)", ss.Consecutive, max(st.FailAfter, 1))
		if ss.Breached {
			line += " · " + s.Fail.Render("BREACHED")
		}
		add(line)
	}
	if ss.HasResult {
		r := ss.Last
		add(s.status(r.Status).Render(statusGlyph(r.Status)+" "+r.Status.String()) + " " + r.Summary)
		if r.Message != "" {
			add(r.Message)
		}
		add(s.Muted.Render(fmt.Sprintf("observed %s ago in %s", shortDuration(m.now().Sub(r.ObservedAt)), r.Duration.Round(time.Millisecond))))
	}
	if ss.Why != "" {
		add(s.step(ss.Status).Render(ss.Status.String() + ": " + ss.Why))
	}
	if len(ss.History) > 0 {
		out = append(out, "history "+m.historyStrip(ss.History))
	}
	if ls := m.loads[st.ID]; ls != nil && m.lay.Load.Empty() {
		out = append(out, "")
		out = append(out, ls.lines(m.styles, w)...)
	}
	if ss.HasResult && len(ss.Last.Items) > 0 {
		out = append(out, "")
		out = append(out, m.itemLines(ss.Last.Items, w)...)
	}
	return title, out
}

func stepFlags(st *runbook.Step) string {
	var f []string
	if st.Optional {
		f = append(f, "optional")
	}
	if len(st.Needs) > 0 {
		f = append(f, "needs "+strings.Join(st.Needs, ", "))
	}
	if len(f) == 0 {
		return ""
	}
	return " · " + strings.Join(f, " · ")
}

// historyStrip draws the last statuses oldest first, one glyph each.
func (m *Model) historyStrip(h []probes.Status) string {
	var b strings.Builder
	for _, st := range h {
		b.WriteString(m.styles.status(st).Render(statusGlyph(st)))
	}
	return b.String()
}

func (m *Model) journalTitle() string {
	t := fmt.Sprintf("journal · %d events", m.events)
	if m.opts.Journal != "" {
		t += " · " + m.opts.Journal
	}
	if m.report != "" {
		t += " · report " + m.report
	}
	return t
}

func (m *Model) journalLines(h int) []string {
	if h <= 0 {
		return nil
	}
	lines := m.journal
	if len(lines) > h {
		lines = lines[len(lines)-h:]
	}
	return lines
}

func (m *Model) helpBar() string {
	if m.notice != "" {
		st := m.styles.Pass
		g := "✓ "
		if m.noticeBad {
			st, g = m.styles.Fail, "✗ "
		}
		return st.Render(g + m.notice)
	}
	switch {
	case m.diff != nil:
		return m.help.ShortHelpView(diffKeys{m.keys, m.actionsAllowed()}.ShortHelp())
	case m.dlg != nil && m.dlg.kind == dlgConfirmAction:
		return m.help.ShortHelpView(actionDialogKeys{m.keys}.ShortHelp())
	case m.dlg != nil:
		return m.help.ShortHelpView(dialogKeys{m.keys}.ShortHelp())
	}
	return m.help.ShortHelpView(m.keys.ShortHelp())
}

// journalLine renders one applied event for the journal tail; quiet ticks
// are not shown.
func journalLine(msg StateMsg) (string, bool) {
	var what string
	switch ev := msg.At.Event.(type) {
	case runbook.Started:
		what = "run started by " + ev.Operator + runMode(ev.AllowActions)
	case runbook.Tick:
		if len(msg.Effects) == 0 {
			return "", false
		}
		what = "tick"
	case runbook.RunStep:
		what = "run " + ev.Step
	case runbook.RunPhase:
		what = "run phase"
	case runbook.ProbeResult:
		what = fmt.Sprintf("%s %s %s: %s", ev.Step, statusGlyph(ev.Result.Status), ev.Result.Status, ev.Result.Summary)
	case runbook.LoadResult:
		what = fmt.Sprintf("%s %s load %s: %s", ev.Step, statusGlyph(ev.Result.Status), ev.Result.Status, ev.Result.Summary)
	case runbook.Confirmed:
		what = ev.Step + " confirmed by " + ev.Operator + prefixed(": ", ev.Note)
	case runbook.Skipped:
		what = ev.Step + " skipped by " + ev.Operator + prefixed(": ", ev.Reason)
	case runbook.Overridden:
		target := ev.Step
		if ev.Phase != "" {
			target = "gate " + ev.Phase
		}
		what = fmt.Sprintf("⚑ %s overridden by %s: %s", target, ev.Operator, ev.Reason)
	case runbook.Advance:
		what = "advance by " + ev.Operator
	case runbook.Aborted:
		what = "aborted by " + ev.Operator + prefixed(": ", ev.Reason)
	case runbook.Resumed:
		what = fmt.Sprintf("resumed by %s after %d journaled events", ev.Operator, ev.Events) + runMode(ev.AllowActions)
	case runbook.ActionPlanned:
		what = fmt.Sprintf("%s dry run %s %s: %s (%s)", ev.Step, statusGlyph(ev.Result.Status), ev.Result.Status, ev.Result.Summary, changes(ev.Result.Changes))
	case runbook.ActionDone:
		what = fmt.Sprintf("%s %s %s: %s", ev.Step, statusGlyph(ev.Result.Status), ev.Result.Status, ev.Result.Summary)
		if ev.Result.UndoRevision > 0 {
			what += fmt.Sprintf(" (undo to rev %d offered)", ev.Result.UndoRevision)
		}
	case runbook.UndoRequested:
		what = "↶ " + ev.Step + " undo requested by " + ev.Operator + prefixed(": ", ev.Reason)
	case runbook.ActionUndone:
		what = fmt.Sprintf("%s undo %s %s: %s", ev.Step, statusGlyph(ev.Result.Status), ev.Result.Status, ev.Result.Summary)
	case runbook.ActionCleaned:
		what = fmt.Sprintf("%s cleanup %s %s: %s", ev.Step, statusGlyph(ev.Result.Status), ev.Result.Status, ev.Result.Summary)
	case runbook.AccessReviewed:
		what = fmt.Sprintf("access review of %s %s %s: %s", ev.Phase, statusGlyph(ev.Result.Status), ev.Result.Status, ev.Result.Summary)
	case nil:
		return "", false
	default:
		what = ev.EventType()
	}
	for _, eff := range msg.Effects {
		switch eff := eff.(type) {
		case runbook.Refused:
			what += " → refused: " + eff.Reason
		case runbook.PhaseLeft:
			what += fmt.Sprintf(" → left %s (%s)", eff.Phase, eff.Verdict.Status)
		case runbook.PhaseEntered:
			what += " → entered " + eff.Phase
		case runbook.Finished:
			what += " → finished: " + eff.Outcome.String()
		}
	}
	return msg.At.Time.Format("15:04:05") + " " + what, true
}

func stepTitle(st *runbook.Step) string { return st.ID }

// runMode names a run's mode in the journal tail.
func runMode(allowActions bool) string {
	if allowActions {
		return " (actions enabled)"
	}
	return " (read-only)"
}

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

// wrap wraps s to w columns after taking the secrets out: a secret cut in
// two by the wrap would slip past the frame's redaction.
func (m *Model) wrap(s string, w int) []string { return wrap(m.redact(s), w) }
