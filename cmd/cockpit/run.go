package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/actions"
	"github.com/cockpit-dev/cockpit/runbook/signoff"
)

// runOptions are the flags of `cockpit run`.
type runOptions struct {
	vars        varFlags
	journal     string
	fresh       bool
	operator    string
	confirm     []string
	autoConfirm bool
	// allowActions lets mutating actions execute (read-only without it);
	// autoActions confirms every action whose dry run passed; undo asks
	// for the undo a failed rollout offers.
	allowActions bool
	autoActions  bool
	undo         bool
	override     []string
	skip         []string
	phase        string
}

func newRunCmd(s streams, g *globalOptions) *cobra.Command {
	opts := &runOptions{vars: varFlags{}}
	cmd := &cobra.Command{
		Use:   "run RUNBOOK",
		Short: "Run a runbook headless (CI): one log line per event, a verdict, an exit code",
		Long: `Run a runbook without the TUI: the same engine, gates and journal. Each event is
logged on stderr as it happens; the final summary goes to stdout.

Nothing red slips through: a phase whose gate is red ends the run (exit 3)
unless --override names the failing step (or phase:ID) with a reason, which is
journaled and makes the verdict "GO WITH OVERRIDES" (exit 4). Manual steps need
--confirm ID=NOTE or --auto-confirm-manual (journaled as such); otherwise the
run stops waiting for them.

Runs are read-only by default: action steps (apply, rollout, patch, silence,
check-pod, exec…) are dry-run and their diff logged, never executed. With
--allow-actions, an action executes once it is confirmed: by --confirm ID or,
for every action whose dry run passed, --auto-confirm-actions. A mutating
action is never repeated unasked — not by retries, not on resume.
--undo-on-failure undoes a rollout that failed (to the revision it offers).

The journal (default: next to the runbook, NAME.journal.jsonl) is appended to
and fsynced per event. Running the same command again resumes from it: what
completed stays completed, steps in flight are run again. --fresh starts a new
journal and keeps the old one. 'cockpit report JOURNAL' writes the sign-off.`,
		Example: `  cockpit run gravl-go-live.yaml --var apiURL=https://staging.gravl.app \
      --confirm notify="mail sent 08:55" --phase preflight
  cockpit run gravl-go-live.yaml --auto-confirm-manual \
      --override internal-ca-issuer="internal CA not used by gravl; ticket OPS-112"
  cockpit run gravl-go-live.yaml --allow-actions --confirm apply-network-policies="change OPS-118" \
      --undo-on-failure`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHeadless(cmd.Context(), s, g, opts, args[0])
		},
	}
	f := cmd.Flags()
	f.Var(opts.vars, "var", "override a runbook variable (repeatable)")
	f.StringVar(&opts.journal, "journal", "", "journal path (default: next to the runbook, NAME.journal.jsonl)")
	f.BoolVar(&opts.fresh, "fresh", false, "start a new journal; the existing one is kept, renamed")
	f.StringVar(&opts.operator, "operator", "", "who runs it, recorded with every decision (default: $USER)")
	f.StringArrayVar(&opts.confirm, "confirm", nil, "confirm manual or action steps: ID=NOTE, or ID[,ID…] (repeatable)")
	f.BoolVar(&opts.autoConfirm, "auto-confirm-manual", false, "confirm every manual step, journaled as auto-confirmed")
	f.BoolVar(&opts.allowActions, "allow-actions", false, "let action steps change things (default: read-only, dry runs only)")
	f.BoolVar(&opts.autoActions, "auto-confirm-actions", false, "with --allow-actions: execute every action whose dry run passed")
	f.BoolVar(&opts.undo, "undo-on-failure", false, "with --allow-actions: undo a failed rollout to the revision it offers")
	f.StringArrayVar(&opts.override, "override", nil, "accept a red step (ID=REASON) or phase gate (phase:ID=REASON) (repeatable)")
	f.StringSliceVar(&opts.skip, "skip", nil, "optional steps not to run (comma-separated)")
	f.StringVar(&opts.phase, "phase", "", "stop after this phase's gate (run the phases up to it)")
	return cmd
}

// operatorFlag is --operator, else $USER, else the OS user.
func operatorFlag(flag string) string {
	if flag != "" {
		return flag
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// autopilot turns the run flags into the headless operator; the runbook
// checks them (a decision it cannot take is invalid input, exit 2).
func (o *runOptions) autopilot(rb *runbook.Runbook, operator string) (*runbook.Autopilot, error) {
	a, err := runbook.NewAutopilot(rb, runbook.AutopilotOptions{Operator: operator, Confirm: o.confirm, Override: o.override,
		Skip: o.skip, StopAfter: o.phase, ConfirmAll: o.autoConfirm, ConfirmActions: o.autoActions, UndoOnFailure: o.undo,
		AllowActions: o.allowActions})
	if err != nil {
		return nil, invalidInput(err)
	}
	return a, nil
}

func runHeadless(ctx context.Context, s streams, g *globalOptions, opts *runOptions, path string) error {
	rb, err := parseRunbook(path, opts.vars)
	if err != nil {
		return err
	}
	operator := operatorFlag(opts.operator)
	pilot, err := opts.autopilot(rb, operator)
	if err != nil {
		return err
	}
	sess, err := openJournal(rb, opts.journal, opts.fresh, operator, opts.allowActions)
	if err != nil {
		return err
	}
	defer sess.Journal.Close()
	log := &eventLog{w: s.err, prev: sess.State, redact: runbook.NewRedactor(sess.State.Runbook.Secrets())}
	switch {
	case sess.Kept != "":
		log.printf("journal %s (new; the previous one kept as %s)", sess.Journal.Path(), sess.Kept)
	case sess.Resumed:
		torn := ""
		if sess.Torn {
			torn = "; a torn last line from a crash was cut off"
		}
		log.printf("journal %s: resumed after %d event(s)%s", sess.Journal.Path(), sess.Replayed, torn)
	default:
		log.printf("journal %s (new)", sess.Journal.Path())
	}
	kube := probes.NewKubeClusters(probes.KubeconfigOptions{Path: g.kube.kubeconfig, Context: g.kube.context, Namespace: g.kube.namespace})
	defer kube.Close()
	if sess.State.Finished() {
		log.printf("the run finished already: %s; 'cockpit report %s' writes its sign-off, --fresh starts anew", sess.State.Outcome, sess.Journal.Path())
		if len(sess.Pending) > 0 {
			// It died after its end, while taking back what it left (a
			// silence): that is done now.
			log.printf("taking back what the run left: %d cleanup(s)", len(sess.Pending))
			r := &runbook.Runner{Journal: sess.Journal, Env: probes.Env{Kube: kube.Cluster}, Operator: operator, Observe: log.observe, WorkerImage: defaultWorkerImage()}
			final, err := r.Run(ctx, sess.State, sess.Pending, nil)
			if err != nil {
				return fmt.Errorf("run %s: %w", path, err)
			}
			sess.State = final
		}
		writeRunSummary(s.out, sess.State, sess.Journal.Path(), pilot)
		return runVerdict(sess.State, pilot)
	}

	if opts.allowActions {
		log.printf("actions enabled (--allow-actions): confirmed actions change the cluster")
	} else if hasActions(rb) {
		log.printf("read-only run: action steps are dry-run only (--allow-actions executes them)")
	}
	r := &runbook.Runner{Journal: sess.Journal, Env: probes.Env{Kube: kube.Cluster}, Operator: operator, WorkerImage: defaultWorkerImage(),
		Autopilot: pilot, Observe: log.observe, AllowActions: opts.allowActions}
	final, err := r.Run(ctx, sess.State, sess.Pending, nil)
	if err != nil {
		return fmt.Errorf("run %s: %w", path, err)
	}
	if ctx.Err() != nil && !pilot.Done(final) {
		log.printf("interrupted; the journal is intact — run the same command to resume")
		writeRunSummary(s.out, final, sess.Journal.Path(), pilot)
		return fmt.Errorf("interrupted in phase %q", final.Phases[final.Current].ID)
	}
	writeRunSummary(s.out, final, sess.Journal.Path(), pilot)
	if path, err := writeSignoff(sess.Journal.Path()); err != nil {
		log.printf("%v", err)
	} else {
		log.printf("sign-off: %s, %s", path, strings.TrimSuffix(path, ".md")+".html")
	}
	return runVerdict(final, pilot)
}

// openJournal opens the run of rb on its journal (new, or resumed). A
// journal of another runbook or a broken one is invalid input (exit 2).
func openJournal(rb *runbook.Runbook, path string, fresh bool, operator string, allowActions bool) (*runbook.Session, error) {
	host, _ := os.Hostname()
	sess, err := runbook.Open(rb, runbook.OpenOptions{Journal: path, Fresh: fresh, Operator: operator, AllowActions: allowActions,
		Cockpit: currentClientVersion().Version, Hostname: host})
	if errors.Is(err, runbook.ErrJournalMismatch) || errors.Is(err, runbook.ErrJournalCorrupt) {
		return nil, invalidInput(err)
	}
	if err != nil {
		return nil, err // already says journal, --fresh or the path
	}
	return sess, nil
}

// hasActions reports whether a runbook has any mutating action step.
func hasActions(rb *runbook.Runbook) bool {
	for _, ph := range rb.Phases {
		for i := range ph.Steps {
			if ph.Steps[i].Mutating() {
				return true
			}
		}
	}
	return false
}

// runVerdict maps a finished (or stopped-after-phase) run to its exit code.
func runVerdict(s runbook.State, pilot *runbook.Autopilot) error {
	switch pilot.Outcome(s) {
	case runbook.OutcomePassed:
		return nil
	case runbook.OutcomeWarned:
		return verdict{code: exitWarned}
	}
	return verdict{code: exitFailed}
}

// eventLog writes one line per change on stderr: phases entered and left,
// step verdicts, decisions, refusals.
type eventLog struct {
	mu   sync.Mutex
	w    io.Writer
	prev runbook.State
	// redact takes the runbook's secrets (and credentials, private keys)
	// out of every line: CI logs are read by many.
	redact *runbook.Redactor
}

func (l *eventLog) printf(format string, args ...any) {
	fmt.Fprintf(l.w, "%s  %s\n", time.Now().Format("15:04:05"), l.redact.String(fmt.Sprintf(format, args...)))
}

func (l *eventLog) observe(s runbook.State, at runbook.At, effects []runbook.Effect) {
	l.mu.Lock()
	defer l.mu.Unlock()
	stamp := at.Time.Format("15:04:05")
	line := func(format string, args ...any) {
		fmt.Fprintf(l.w, "%s  %s\n", stamp, l.redact.String(fmt.Sprintf(format, args...)))
	}
	for _, ln := range runbook.Narrate(l.prev, s, at, effects) {
		if ln.Kind == runbook.LineResult {
			continue // a step's result shows as its status when that changes
		}
		switch {
		case ln.Word != "":
			line("%-10s %-24s %-10s %s", ln.Phase, ln.Step, ln.Word, withMessage(ln.What, ln.Detail, runbook.StepPending))
		case ln.Step != "":
			line("%-10s %-24s %s", ln.Phase, ln.Step, ln.What)
		case ln.Phase != "":
			line("%-10s %s", ln.Phase, ln.What)
		default:
			line("%s", ln.What)
		}
	}
	// What a line does not hold: the objects an action or a distributed
	// load run touched, a dry run's diff, the permissions an access
	// review found missing.
	switch ev := at.Event.(type) {
	case runbook.ActionPlanned:
		l.objects(line, ev.Result)
		if ev.Result.Diff != "" {
			l.diff(ev.Result.Diff)
		}
	case runbook.ActionDone:
		l.objects(line, ev.Result)
	case runbook.ActionUndone:
		l.objects(line, ev.Result)
	case runbook.ActionCleaned:
		l.objects(line, ev.Result)
	case runbook.LoadWorkersChanged:
		l.objects(line, ev.Result)
	case runbook.AccessReviewed:
		for _, it := range ev.Result.Items {
			if it.Status != probes.StatusPass {
				line("  missing  %s (%s)", it.Name, it.Summary)
			}
		}
	}
	l.prev = s
}

// maxDiffLines bounds the diff lines a dry run logs (the journal keeps all).
const maxDiffLines = 200

// objects logs the objects an action's result touched.
func (l *eventLog) objects(line func(string, ...any), res actions.Result) {
	for _, o := range res.Objects {
		detail := o.Op
		if o.ResourceVersion != "" {
			detail += " (resourceVersion " + o.ResourceVersion + ")"
		}
		if o.Error != "" {
			detail += ": " + o.Error
		}
		line("  %-40s %s", o.Ref, detail)
	}
}

// diff logs a dry run's diff, indented and bounded.
func (l *eventLog) diff(d string) {
	lines := strings.Split(strings.TrimRight(d, "\n"), "\n")
	for i, ln := range lines {
		if i == maxDiffLines {
			fmt.Fprintf(l.w, "          … %d more diff lines in the journal\n", len(lines)-i)
			break
		}
		fmt.Fprintf(l.w, "          %s\n", l.redact.String(ln))
	}
}

// withMessage appends a result's message to its summary unless the step
// passed or the message says the same.
func withMessage(summary, message string, st runbook.StepStatus) string {
	if message == "" || message == summary || st == runbook.StepPassed {
		return summary
	}
	return summary + " — " + message
}

// writeRunSummary prints each phase's gate and steps, and the verdict.
// pilot, when it stopped the run after its --phase, changes the verdict
// line to that phase's gate.
func writeRunSummary(w io.Writer, s runbook.State, journal string, pilot *runbook.Autopilot) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\n\n", s.Runbook.Metadata.Name)
	for i, ps := range s.Phases {
		gate := ps.Status.String()
		if ps.Status == runbook.PhaseActive || ps.Status == runbook.PhaseAborted {
			v := s.Gate(i)
			gate += ", gate " + v.Status.String()
		}
		fmt.Fprintf(tw, "PHASE %s\t%s\t\n", ps.ID, gate)
		for _, ss := range ps.Steps {
			detail := ss.Last.Summary
			switch {
			case ss.Override != nil:
				detail += " — overridden by " + ss.Override.Operator + ": " + ss.Override.Text
			case ss.Confirm != nil:
				detail = "confirmed by " + ss.Confirm.Operator
				if ss.Confirm.Text != "" {
					detail += ": " + ss.Confirm.Text
				}
			default:
				detail = withMessage(ss.Says(), ss.Last.Message, ss.Status)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", ss.ID, ss.Status, detail)
		}
	}
	tw.Flush()
	if !s.Finished() && pilot != nil && pilot.Done(s) {
		g := s.Gate(s.Current)
		fmt.Fprintf(w, "\nphase %s: gate %s — %s (stopped after it: --phase; run again without --phase to continue)", s.Phases[s.Current].ID, g.Status, g.Message)
	} else {
		v, reason := signoff.Verdict(s)
		fmt.Fprintf(w, "\nverdict: %s — %s", v, reason)
	}
	fmt.Fprintf(w, "\njournal: %s\nsign-off: cockpit report %s\n", journal, journal)
}
