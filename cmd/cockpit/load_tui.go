package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/tui"
)

// loadTerminal reports whether `cockpit load` may open its load view on w
// (a terminal). Tests replace it to run the view on a pipe.
var loadTerminal = isTerminal

// loadProgramOptions are added to the load view's program (tests give it a
// window size, which a pipe cannot report).
var loadProgramOptions []tea.ProgramOption

// runLoadView shows a running load test in the full-screen load view until
// the run is over and a key is pressed, or the operator quits (q/ctrl+c
// stop the run gracefully). It returns the run's last snapshot once the
// run has ended: the summary follows on stdout, after the view is gone.
// Snapshots reach the view through the program's Send; the loader keeps
// only the latest unread one (≤10 Hz), so a busy terminal gets the newest,
// never a backlog.
func runLoadView(ctx context.Context, s streams, cfg loader.Config, snaps <-chan loader.Snapshot, ctl *loader.Control) (loader.Snapshot, error) {
	view := tui.NewLoadView(tui.LoadViewOptions{
		Targets: loadTargets(cfg),
		Planned: plannedDuration(cfg.Executor),
		Control: ctl,
	})
	popts := append([]tea.ProgramOption{tea.WithContext(ctx), tea.WithInput(s.in), tea.WithOutput(s.out)}, loadProgramOptions...)
	p := tea.NewProgram(view, popts...)
	lastc := make(chan loader.Snapshot, 1)
	go func() {
		var last loader.Snapshot
		for snap := range snaps {
			last = snap
			p.Send(tui.LoadMsg{Snapshot: snap}) // returns at once when the program has ended
		}
		lastc <- last
	}()
	_, perr := p.Run()
	select {
	case <-ctl.Done():
	default:
		// The view ended first: q (which already asked for the stop), an
		// interrupt, or a terminal failure. End the run gracefully.
		ctl.Stop()
		fmt.Fprintln(s.err, "cockpit: stopping the load test: in-flight requests get the grace period (--graceful-stop)")
	}
	last := <-lastc
	if perr != nil && !errors.Is(perr, tea.ErrProgramKilled) && !errors.Is(perr, tea.ErrInterrupted) && !errors.Is(perr, context.Canceled) {
		return last, fmt.Errorf("terminal UI: %w", perr)
	}
	return last, nil
}

// loadTargets are the URLs under load, for the view's header: absolute,
// de-duplicated, credentials redacted.
func loadTargets(cfg loader.Config) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range cfg.Requests {
		u := r.URL
		if strings.HasPrefix(u, "/") && cfg.BaseURL != "" {
			u = strings.TrimSuffix(cfg.BaseURL, "/") + u
		}
		if pu, err := url.Parse(u); err == nil {
			u = pu.Redacted()
		}
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

// plannedDuration is how long an executor plans to run: its duration, or
// the sum of its stages.
func plannedDuration(e loader.Executor) time.Duration {
	total := e.Duration
	for _, st := range e.Stages {
		total += st.Duration
	}
	return total
}
