package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cockpit-dev/cockpit/internal/sandbox"
)

// demoOptions are the flags of `cockpit demo`.
type demoOptions struct {
	host    string
	seed    uint64
	noTUI   bool
	journal string
	// headless runs the demo runbook without the TUI, with run's flags.
	headless bool
	run      runOptions
}

func newDemoCmd(s streams, _ *globalOptions) *cobra.Command {
	opts := &demoOptions{run: runOptions{vars: varFlags{}}}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the cockpit's sandbox: the gravl go-live on loopback",
		Long: `Start the demo sandbox in-process, on loopback only: the gravl API over HTTP
and HTTPS (a CA and leaf certificate generated at start), its /metrics, an
authoritative DNS server for gravl.app, and a simulated cluster seeded with the
seed go-live report's state (cert-manager with internal-ca-issuer not Ready,
sealed-secrets, the gravl-staging NetworkPolicies).

On a terminal, the cockpit opens on the embedded demo runbook (the gravl
go-live: preflight, deploy, validate, monitor) against the sandbox, journaling
to a temporary directory (or --journal). Keys 1/2/3 inject latency, 5xx
errors and a stall into the sandbox backend; 4 makes a new version crash on
the simulated cluster; 0 heals it; ? shows every key.

The deploy phase applies gravl 1.9.0 server-side and watches the rollout it
causes. Read-only (the default) it shows the dry run and its diff (d) and
says how to enable actions; with --allow-actions the apply runs once
confirmed (c). With key 4 pressed first, the new version crash-loops, the
rollout fails at its progress deadline and an undo (u) is offered, which
rolls the simulated Deployments back.

With --headless, the demo runbook runs as 'cockpit run' would run it (event
log on stderr, summary and verdict on stdout, exit code by verdict) and the
sign-off report is written next to the journal. Without --override the
seed's failing internal-ca-issuer stops it at preflight: NO-GO; without
--allow-actions (and --auto-confirm-actions or --confirm) its deploy phase
only dry-runs the release.

With --no-tui, or when stdout is not a terminal, the sandbox serves until
interrupted (Ctrl-C) and its endpoints are printed with commands to try
against them. The simulated cluster is in-process and labelled as such,
never a real cluster.`,
		Example: `  cockpit demo
  cockpit demo --journal /tmp/gravl.journal.jsonl
  cockpit demo --no-tui --host 127.0.0.2 --seed 7
  cockpit demo --allow-actions
  cockpit demo --headless --override cluster-issuers="internal CA unused by gravl" \
      --allow-actions --auto-confirm-actions --var deployWindow=15s \
      --var loadDuration=10s --var monitorWindow=20s`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), s, opts)
		},
	}
	cmd.Flags().StringVar(&opts.host, "host", sandbox.DefaultHost, "loopback IP to listen on (127.0.0.0/8 or ::1)")
	cmd.Flags().Uint64Var(&opts.seed, "seed", 1, "seed of the sandbox's random latency, errors and names")
	cmd.Flags().BoolVar(&opts.noTUI, "no-tui", false, "only serve the sandbox and print its endpoints")
	cmd.Flags().StringVar(&opts.journal, "journal", "", "journal file for the demo run (default: in a new temporary directory)")
	f := cmd.Flags()
	f.BoolVar(&opts.headless, "headless", false, "run the demo runbook without the TUI, like 'cockpit run' (manual steps auto-confirmed)")
	f.Var(opts.run.vars, "var", "override a demo runbook variable, e.g. loadDuration=10s (repeatable)")
	f.StringArrayVar(&opts.run.override, "override", nil, "with --headless: accept a red step (ID=REASON) or gate (phase:ID=REASON)")
	f.StringVar(&opts.run.phase, "phase", "", "with --headless: stop after this phase's gate")
	f.StringVar(&opts.run.operator, "operator", "", "who decides, recorded with every event (default: $USER)")
	f.BoolVar(&opts.run.allowActions, "allow-actions", false, "let confirmed actions change the simulated cluster (default: read-only, dry runs only)")
	f.BoolVar(&opts.run.autoActions, "auto-confirm-actions", false, "with --headless --allow-actions: execute every action whose dry run passed")
	f.StringArrayVar(&opts.run.confirm, "confirm", nil, "with --headless: confirm action steps, ID=NOTE or ID[,ID…] (repeatable)")
	f.BoolVar(&opts.run.undo, "undo-on-failure", false, "with --headless --allow-actions: undo a failed rollout to the revision it offers")
	return cmd
}

// runDemo starts the sandbox, prints what it serves and blocks until ctx
// ends (SIGINT/SIGTERM), then shuts it down.
func runDemo(ctx context.Context, s streams, opts *demoOptions) error {
	if ip := net.ParseIP(opts.host); ip == nil || !ip.IsLoopback() {
		return invalidInputf("--host %q: want a loopback IP literal such as 127.0.0.1 or ::1", opts.host)
	}
	sb, err := sandbox.Start(ctx, sandbox.Options{Host: opts.host, Seed: opts.seed})
	if err != nil {
		return fmt.Errorf("start the demo sandbox: %w", err)
	}
	if opts.headless {
		err := runDemoHeadless(ctx, s, sb, opts)
		return errorsJoinClose(err, sb)
	}
	if !opts.noTUI && isTerminal(s.out) {
		err := runDemoTUI(ctx, s, sb, opts)
		return errorsJoinClose(err, sb)
	}
	if err := writeDemoBanner(s.out, sb); err != nil {
		return errorsJoinClose(err, sb)
	}
	<-ctx.Done()
	fmt.Fprintln(s.err, "cockpit demo: shutting down the sandbox")
	if err := sb.Close(); err != nil {
		return fmt.Errorf("stop the demo sandbox: %w", err)
	}
	return nil
}

// errorsJoinClose closes the sandbox after err, keeping err first.
func errorsJoinClose(err error, sb *sandbox.Sandbox) error {
	if cerr := sb.Close(); cerr != nil {
		if err == nil {
			return fmt.Errorf("stop the demo sandbox: %w", cerr)
		}
		return fmt.Errorf("%w (and closing the sandbox: %v)", err, cerr)
	}
	return err
}

// runDemoTUI opens the cockpit on the embedded demo runbook against sb.
func runDemoTUI(ctx context.Context, s streams, sb *sandbox.Sandbox, opts *demoOptions) error {
	rig, err := newDemoRig(sb, opts.journal, opts.run.vars)
	if err != nil {
		return err
	}
	defer rig.close()
	ss := rig.session()
	ss.actions = opts.run.allowActions
	if opts.run.operator != "" {
		ss.operator = opts.run.operator
	}
	final, err := ss.runTUI(ctx, s)
	if err != nil {
		return err
	}
	return outcomeErr(final)
}

// writeDemoBanner prints the sandbox's endpoints and a few commands to try.
func writeDemoBanner(w io.Writer, sb *sandbox.Sandbox) error {
	var b strings.Builder
	b.WriteString("Cockpit demo sandbox — loopback only, Ctrl-C to stop\n\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, ep := range sb.Endpoints() {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", ep.Name, ep.Address, ep.Description)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(strings.TrimPrefix(sb.HTTPSURL, "https://"))
	if err != nil {
		return fmt.Errorf("sandbox HTTPS address %q: %w", sb.HTTPSURL, err)
	}
	dnsHost, dnsPort, err := net.SplitHostPort(sb.DNSAddr)
	if err != nil {
		return fmt.Errorf("sandbox DNS address %q: %w", sb.DNSAddr, err)
	}
	fmt.Fprintf(&b, "\nTry:\n")
	fmt.Fprintf(&b, "  curl %s/health\n", sb.HTTPURL)
	fmt.Fprintf(&b, "  curl %s/api/exercises\n", sb.HTTPURL)
	fmt.Fprintf(&b, "  curl %s/metrics\n", sb.HTTPURL)
	fmt.Fprintf(&b, "  curl --insecure --resolve %s:%s:%s https://%s:%s/health   (the CA is generated per run)\n",
		sb.ServerName, port, host, sb.ServerName, port)
	fmt.Fprintf(&b, "  dig @%s -p %s %s A\n", dnsHost, dnsPort, sb.ServerName)
	fmt.Fprintf(&b, "\nThe simulated cluster (%s) is an in-process demo fake, not reachable from outside.\n", sb.Cluster.Name())
	_, err = io.WriteString(w, b.String())
	return err
}
