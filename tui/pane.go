package tui

import (
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/cockpit-dev/cockpit/runbook"
)

// pane is one region of the cockpit's screen: the step list, the detail,
// the load band, the journal tail, a dialog, the diff viewer. The root
// model routes messages to it, gives it its size and draws it where the
// layout puts it; a pane draws only itself and reads no other pane.
//
// What a pane draws from comes in messages: the run as it now is
// (runViewMsg, after every change), the operator's keys the root routes to
// it, and requests posted by other panes (openDiffMsg, viewConfirmMsg …).
// What it asks of the rest of the cockpit — a notice, another pane to open
// or close — it posts through its env, and the root delivers it before the
// message that caused it is done (see Model.Update); events for the engine
// go out in commands.
type pane interface {
	// Update takes one message; it never blocks.
	Update(msg tea.Msg) tea.Cmd
	// View draws the pane, its border included, SetSize's size exactly.
	View() string
	// SetSize gives the pane its size on screen in cells, border included.
	SetSize(w, h int)
	// ShortHelp is the pane's keys, for the help bar (help.KeyMap).
	ShortHelp() []key.Binding
}

// env is what the panes share, fixed when the cockpit is made: styles,
// keys, the operator, the clock, the redactor of the runbook's secrets,
// the way events reach the engine, and the queue of what panes post for
// the root.
type env struct {
	styles   Styles
	keys     KeyMap
	operator string
	now      func() time.Time
	send     func(runbook.Event) tea.Cmd
	red      redactor
	posted   []tea.Msg
}

// post queues msg for the root, which delivers it before the message being
// handled is done.
func (e *env) post(msg tea.Msg) { e.posted = append(e.posted, msg) }

// notify sets the line over the help bar (bad: in red, with ✗).
func (e *env) notify(text string, bad bool) { e.post(noticeSet{text: text, bad: bad}) }

// box draws lines in a bordered w×h box titled title.
func (e *env) box(w, h int, title string, focused bool, lines []string) string {
	return boxed(e.styles, Rect{W: w, H: h}, title, focused, lines)
}

// wrap wraps s to w columns after taking the secrets out: a secret cut in
// two by the wrap would slip past the frame's redaction.
func (e *env) wrap(s string, w int) []string { return wrap(e.red.String(s), w) }

// redactor takes the runbook's secrets (and credentials, private keys)
// out of what is drawn; it follows the runbook of the latest state.
type redactor struct {
	rb *runbook.Runbook
	r  *runbook.Redactor
}

// use makes rb's secrets the ones taken out.
func (r *redactor) use(rb *runbook.Runbook) {
	if rb != r.rb || r.r == nil {
		r.rb, r.r = rb, runbook.NewRedactor(rb.Secrets())
	}
}

// String returns s without the secrets; s itself before any runbook.
func (r *redactor) String(s string) string {
	if r.r == nil {
		return s
	}
	return r.r.String(s)
}
