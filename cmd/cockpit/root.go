package main

import (
	"fmt"
	"io"
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
	root := &cobra.Command{
		Use:   "cockpit",
		Short: "A terminal go-live cockpit",
		Long: `Cockpit walks a go-live runbook — preflight → deploy → validate → monitor — with
live probes, an embedded load generator, gates that a red check cannot slip
through without a recorded override, an append-only journal and a sign-off
report generated from measured facts.

Start with 'cockpit demo', which runs the cockpit against a local sandbox.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
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

	root.AddCommand(
		newDemoCmd(s, opts),
		newCheckCmd(s, opts),
		newRunCmd(s, opts),
		newReportCmd(s, opts),
		newLoadCmd(s, opts),
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
