package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// streams are the command's standard streams; tests pass buffers.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// globalOptions are the flags every command shares.
type globalOptions struct {
	kube kubeFlags
}

func newRootCmd(s streams) *cobra.Command {
	opts := &globalOptions{}
	ro := &rootOptions{vars: varFlags{}}
	root := &cobra.Command{
		Use:   "cockpit [RUNBOOK]",
		Short: "A terminal go-live cockpit",
		Long: `Cockpit walks a go-live runbook — preflight → deploy → validate → monitor — with
live probes, an embedded load generator, gates that a red check cannot slip
through without a recorded override, an append-only journal and a sign-off
report generated from measured facts.

'cockpit RUNBOOK' opens the cockpit on a runbook against the cluster of the
kubeconfig flags, journaling next to the runbook and resuming that journal
when it exists. Start with 'cockpit demo', which runs it against a local
sandbox.`,
		Example: `  cockpit demo
  cockpit gravl-go-live.yaml --context gravl-prod --var apiURL=https://gravl.app
  cockpit run gravl-go-live.yaml --auto-confirm-manual   # headless, for CI`,
		Args: rootArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return openCockpit(cmd, args[0], s, opts, ro)
		},
		SilenceErrors: true,
		SilenceUsage:  true,
		// cobra applies its default distance only on its own path.
		SuggestionsMinimumDistance: 2,
	}
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.SetFlagErrorFunc(flagError)
	opts.kube.addFlags(root.PersistentFlags())
	root.Flags().Var(ro.vars, "var", "override a runbook variable (repeatable)")
	root.Flags().StringVar(&ro.journal, "journal", "", "journal path (default: next to the runbook, NAME.journal.jsonl); resumed when it exists")
	root.Flags().BoolVar(&ro.fresh, "fresh", false, "start a new journal; the existing one is kept, renamed")
	root.Flags().StringVar(&ro.operator, "operator", "", "who decides, recorded with every event (default: $USER)")
	root.Flags().BoolVar(&ro.actions, "allow-actions", false, "let confirmed action steps change the cluster (default: read-only, dry runs only)")

	root.AddCommand(
		newDemoCmd(s, opts),
		newCheckCmd(s, opts),
		newRunCmd(s, opts),
		newReportCmd(s, opts),
		newRBACCmd(s, opts),
		newLoadCmd(s, opts),
		newLoadWorkerCmd(s),
		newVersionCmd(s, opts),
	)
	for _, c := range append(root.Commands(), root) {
		c.SetUsageTemplate(c.UsageTemplate() + "\n" + exitCodesHelp + "\n")
	}
	return root
}

// flagError reports a bad flag with the command's usage and exit code 2.
func flagError(cmd *cobra.Command, err error) error {
	fmt.Fprintf(cmd.ErrOrStderr(), "%s\n", cmd.UsageString())
	return invalidInput(err)
}

// rootArgs takes one runbook file; an argument that is no file and looks
// like a misspelt subcommand gets noArgs' suggestion instead.
func rootArgs(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return nil
	case len(args) > 1:
		return flagError(cmd, fmt.Errorf("want one runbook file, got %q", args))
	}
	if _, err := os.Stat(args[0]); err == nil || strings.HasSuffix(args[0], ".yaml") || strings.HasSuffix(args[0], ".yml") {
		return nil // a runbook (a missing one is reported when it is read)
	}
	return noArgs(cmd, args)
}

// noArgs rejects positional arguments with exit code 2, suggesting a
// subcommand when the argument looks like a misspelt one.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasAvailableSubCommands() {
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
		}
		return flagError(cmd, fmt.Errorf("%s", msg))
	}
	return flagError(cmd, fmt.Errorf("%q takes no arguments, got %q", cmd.CommandPath(), args))
}
