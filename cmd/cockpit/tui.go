package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cockpit-dev/cockpit/loader"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/actions"
	"github.com/cockpit-dev/cockpit/tui"
)

// session is one run of a runbook with the cockpit open on it.
type session struct {
	rb       *runbook.Runbook
	env      probes.Env
	journal  string // path of the journal: created, or resumed when it exists
	fresh    bool   // start a new journal even when one exists (keeping it)
	actions  bool   // --allow-actions: confirmed actions change the cluster
	cluster  string // what the header calls the Kubernetes target
	operator string
	faults   tui.Faults
}

// liveRun is a session's runner and model, wired together by start.
type liveRun struct {
	model   *tui.Model
	runner  *runbook.Runner
	journal *runbook.Journal
	state   runbook.State
	pending []runbook.Effect // a resume's steps to run again
	ops     chan runbook.Event
	runDone chan struct{}

	cancel context.CancelFunc
	feed   *tui.Feed
	wg     sync.WaitGroup
	mu     sync.Mutex
	final  runbook.State
	err    error
	report string // the sign-off written when the run finished
}

// prepare opens the journal (new, or resumed from the existing one) and
// builds the runner and the model.
func (ss session) prepare() (*liveRun, error) {
	sess, err := openJournal(ss.rb, ss.journal, ss.fresh, ss.operator, ss.actions)
	if err != nil {
		return nil, err
	}
	j := sess.Journal
	lr := &liveRun{
		journal: j,
		state:   sess.State,
		pending: sess.Pending,
		ops:     make(chan runbook.Event),
		runDone: make(chan struct{}),
	}
	lr.runner = &runbook.Runner{Journal: j, Env: ss.env, Operator: ss.operator, AllowActions: ss.actions, WorkerImage: defaultWorkerImage()}
	lr.model = tui.New(tui.Options{
		Ops:      lr.ops,
		RunDone:  lr.runDone,
		Operator: ss.operator,
		Cluster:  ss.cluster,
		Journal:  ss.journal,
		Faults:   ss.faults,
		LoadControl: func(step string) tui.LoadController {
			if !lr.runner.LoadRunning(step) {
				return nil // no load test runs for it, here or across workers
			}
			return journaledLoad{step: step, operator: ss.operator, ops: lr.ops, done: lr.runDone}
		},
	})
	lr.runner.OnLoad = func(step string, snap loader.Snapshot) {
		if lr.feed != nil {
			lr.feed.Load(step, snap)
		}
	}
	lr.runner.OnProgress = func(step string, res actions.Result) {
		if lr.feed != nil {
			lr.feed.Progress(step, res)
		}
	}
	lr.runner.Observe = func(s runbook.State, at runbook.At, effects []runbook.Effect) {
		if lr.feed != nil {
			lr.feed.Observe(s, at, effects)
		}
	}
	return lr, nil
}

// journaledLoad turns the load keys into engine events: each change is
// checked against the executor, journaled, and then applied by the runner.
// A refused one comes back as the engine's refusal, which the cockpit
// shows.
type journaledLoad struct {
	step, operator string
	ops            chan<- runbook.Event
	done           <-chan struct{}
}

func (j journaledLoad) send(op string, value float64) error {
	select {
	case j.ops <- runbook.LoadControl{Step: j.step, Op: op, Value: value, Operator: j.operator}:
		return nil
	case <-j.done:
		return errors.New("the run has stopped")
	}
}

func (j journaledLoad) Pause() error                    { return j.send(runbook.LoadPause, 0) }
func (j journaledLoad) Resume() error                   { return j.send(runbook.LoadResume, 0) }
func (j journaledLoad) SetRate(perSecond float64) error { return j.send(runbook.LoadRate, perSecond) }
func (j journaledLoad) SetVUs(n int) error              { return j.send(runbook.LoadVUs, float64(n)) }
func (j journaledLoad) Stop()                           { _ = j.send(runbook.LoadStop, 0) }

// start runs the runner, delivering its observations with send (the
// program's Send).
func (lr *liveRun) start(ctx context.Context, send func(tea.Msg)) {
	ctx, lr.cancel = context.WithCancel(ctx)
	lr.feed = tui.NewFeed(send)
	lr.wg.Add(1)
	go func() {
		defer lr.wg.Done()
		final, err := lr.runner.Run(ctx, lr.state, lr.pending, lr.ops)
		close(lr.runDone)
		lr.mu.Lock()
		lr.final, lr.err = final, err
		lr.mu.Unlock()
		report := lr.journal.Path()
		if err != nil {
			err = fmt.Errorf("journal %s: %w", lr.journal.Path(), err)
		} else if final.Finished() {
			// The run is over: its sign-off, from the journal alone.
			if path, rerr := writeSignoff(lr.journal.Path()); rerr != nil {
				err = rerr
			} else {
				report = path
				lr.mu.Lock()
				lr.report = path
				lr.mu.Unlock()
			}
		}
		lr.feed.Send(tui.RunDoneMsg{Err: err, Report: report})
	}()
}

// stop ends the run (the journal keeps it for a resume) and closes the
// journal after the runner's last write.
func (lr *liveRun) stop() (runbook.State, error) {
	if lr.cancel != nil {
		lr.cancel()
	}
	lr.wg.Wait()
	if lr.feed != nil {
		lr.feed.Close()
	}
	lr.mu.Lock()
	final, err := lr.final, lr.err
	lr.mu.Unlock()
	if cerr := lr.journal.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close journal: %w", cerr)
	}
	return final, err
}

// runTUI opens the cockpit on the terminal until the operator quits or ctx
// ends (SIGINT/SIGTERM), then stops the run and closes the journal. Bubble
// Tea restores the terminal on exit and on a panic in the model.
func (ss session) runTUI(ctx context.Context, s streams) (runbook.State, error) {
	lr, err := ss.prepare()
	if err != nil {
		return runbook.State{}, err
	}
	p := tea.NewProgram(lr.model, tea.WithContext(ctx), tea.WithInput(s.in), tea.WithOutput(s.out))
	lr.start(ctx, p.Send)
	_, perr := p.Run()
	final, rerr := lr.stop()
	if perr != nil && !errors.Is(perr, tea.ErrProgramKilled) && !errors.Is(perr, context.Canceled) {
		return final, errors.Join(fmt.Errorf("terminal UI: %w", perr), rerr)
	}
	if rerr != nil {
		return final, rerr
	}
	fmt.Fprintf(s.err, "cockpit: journal %s (%s)\n", ss.journal, outcomeText(final))
	lr.mu.Lock()
	report := lr.report
	lr.mu.Unlock()
	if report != "" {
		fmt.Fprintf(s.err, "cockpit: sign-off report %s\n", report)
	}
	return final, nil
}

func outcomeText(s runbook.State) string {
	if !s.Started {
		return "not started"
	}
	if !s.Finished() {
		return "left unfinished in phase " + s.Phases[s.Current].ID + "; the journal resumes it"
	}
	return "run " + s.Outcome.String()
}

// outcomeErr maps a finished run to the exit code: 3 failed, 4 passed with
// warnings or overrides; an unfinished run exits 0 (it resumes).
func outcomeErr(s runbook.State) error {
	switch s.Outcome {
	case runbook.OutcomeFailed:
		return verdict{code: exitFailed}
	case runbook.OutcomeWarned:
		return verdict{code: exitWarned}
	}
	return nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// rootOptions are the flags of `cockpit RUNBOOK`.
type rootOptions struct {
	vars     varFlags
	journal  string
	fresh    bool
	operator string
	actions  bool
}

// openCockpit is `cockpit RUNBOOK`: the cockpit on a real cluster (the
// kubeconfig flags), journaling next to the runbook (or to --journal), and
// resuming that journal when it exists.
func openCockpit(cmd *cobra.Command, path string, s streams, opts *globalOptions, ro *rootOptions) error {
	rb, err := parseRunbook(path, ro.vars)
	if err != nil {
		return err
	}
	if !isTerminal(s.out) {
		return invalidInputf("the cockpit needs a terminal and stdout is not one; 'cockpit run %s' runs it headless", path)
	}
	journal := ro.journal
	if journal == "" {
		journal = runbook.DefaultJournalPath(rb.File)
	}
	clusters := probes.NewKubeClusters(probes.KubeconfigOptions{
		Path: opts.kube.kubeconfig, Context: opts.kube.context, Namespace: opts.kube.namespace,
	})
	defer clusters.Close()
	label := opts.kube.context
	if label == "" {
		if raw, err := opts.kube.clientConfig().RawConfig(); err == nil {
			label = raw.CurrentContext
		}
	}
	if label == "" {
		label = "no kubeconfig context"
	}
	operator := operatorFlag(ro.operator)
	ss := session{
		rb:       rb,
		env:      probes.Env{Kube: clusters.Cluster},
		journal:  journal,
		fresh:    ro.fresh,
		actions:  ro.actions,
		cluster:  label,
		operator: operator,
	}
	final, err := ss.runTUI(cmd.Context(), s)
	if err != nil {
		return err
	}
	return outcomeErr(final)
}
