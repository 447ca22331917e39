package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// loadPane is the wide screens' load band: the selected load step's run,
// or the latest one seen (runView.loadTarget), drawn by loadState (the
// standalone LoadView draws with it too), and the load keys that change
// that run through its LoadController.
type loadPane struct {
	env  *env
	run  runView
	w, h int
	// control returns the controller of a running load step (nil when
	// none); nil disables the load keys.
	control func(step string) LoadController
}

func newLoadPane(e *env, control func(step string) LoadController) *loadPane {
	return &loadPane{env: e, control: control}
}

// SetSize gives the pane its size.
func (p *loadPane) SetSize(w, h int) { p.w, p.h = w, h }

// ShortHelp is the load keys (disabled without a LoadController).
func (p *loadPane) ShortHelp() []key.Binding {
	k := p.env.keys
	return []key.Binding{k.LoadPause, k.RateUp, k.VUsUp, k.LoadStop}
}

// Update takes the run as it now is and the load keys.
func (p *loadPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case runViewMsg:
		p.run = msg.run
	case tea.KeyPressMsg:
		return p.key(msg)
	}
	return nil
}

// key turns a load key into the command that applies it to the shown run.
func (p *loadPane) key(msg tea.KeyPressMsg) tea.Cmd {
	ls := p.run.loadTarget()
	if ls == nil || ls.snap.Done || p.control == nil {
		p.env.notify(errNoLoad.Error(), true)
		return nil
	}
	ctl := p.control(ls.step)
	if ctl == nil {
		p.env.notify(errNoLoad.Error(), true)
		return nil
	}
	cmd, refused := loadCommand(p.env.keys, msg, ls.snap, ctl, fmt.Sprintf("load step %q", ls.step))
	if refused != "" {
		p.env.notify(refused, true)
	}
	return cmd
}

// View draws the band: the run's numbers and, with room to spare, a chart
// of the percentiles over the last seconds.
func (p *loadPane) View() string {
	st := p.env.styles
	w, h := p.w-frameSize, p.h-frameSize
	ls := p.run.loadTarget()
	if ls == nil {
		return p.env.box(p.w, p.h, "load", false, []string{st.Muted.Render("no load test has run yet")})
	}
	lines := ls.lines(st, w)
	return p.env.box(p.w, p.h, "load · "+ls.step, false, append(lines, ls.chart(st, w, h-len(lines))...))
}
