package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/cockpit-dev/cockpit/internal/sandbox"
	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
)

// runDemoHeadless runs the demo runbook against sb the way `cockpit run`
// runs a runbook — manual steps auto-confirmed, overrides only as given —
// then writes the sign-off report next to the journal.
func runDemoHeadless(ctx context.Context, s streams, sb *sandbox.Sandbox, opts *demoOptions) error {
	rig, err := newDemoRig(sb, opts.journal, opts.run.vars)
	if err != nil {
		return err
	}
	defer rig.close()
	operator := operatorFlag(opts.run.operator)
	opts.run.autoConfirm = true
	pilot, err := opts.run.autopilot(rig.rb, operator)
	if err != nil {
		return err
	}
	sess, err := openJournal(rig.rb, rig.journal, false, operator, opts.run.allowActions)
	if err != nil {
		return err
	}
	defer sess.Journal.Close()
	log := &eventLog{w: s.err, prev: sess.State, redact: runbook.NewRedactor(sess.State.Runbook.Secrets())}
	log.printf("demo sandbox: %s, %s, DNS %s, %s", sb.HTTPURL, sb.HTTPSURL, sb.DNSAddr, sb.Cluster.Name())
	log.printf("journal %s", sess.Journal.Path())
	if opts.run.allowActions {
		log.printf("actions enabled (--allow-actions): confirmed actions change the simulated cluster")
	} else {
		log.printf("read-only run: action steps are dry-run only (--allow-actions executes them)")
	}
	r := &runbook.Runner{Journal: sess.Journal, Operator: operator, Autopilot: pilot, AllowActions: opts.run.allowActions,
		Env:     probes.Env{Kube: func(string) (*probes.Cluster, error) { return rig.cluster, nil }},
		Observe: log.observe}
	final, err := r.Run(ctx, sess.State, sess.Pending, nil)
	if err != nil {
		return fmt.Errorf("demo run: %w", err)
	}
	writeRunSummary(s.out, final, sess.Journal.Path(), pilot)
	if ctx.Err() != nil && !pilot.Done(final) {
		return fmt.Errorf("interrupted in phase %q", final.Phases[final.Current].ID)
	}
	if err := sess.Journal.Close(); err != nil {
		return fmt.Errorf("close the journal: %w", err)
	}
	path, err := writeSignoff(sess.Journal.Path())
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "report: %s\n", path)
	fmt.Fprintf(s.out, "report: %s\n", strings.TrimSuffix(path, ".md")+".html")
	return runVerdict(final, pilot)
}
