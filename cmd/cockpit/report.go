package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cockpit-dev/cockpit/runbook"
	"github.com/cockpit-dev/cockpit/runbook/signoff"
)

func newReportCmd(s streams, _ *globalOptions) *cobra.Command {
	var output, file string
	cmd := &cobra.Command{
		Use:   "report JOURNAL",
		Short: "Write the sign-off report of a run from its journal",
		Long: `Build the go-live sign-off report from a journal and nothing else: the
journal keeps the runbook it was written for, and every probe result, load
test, confirmation and override. The journal's hash chain is verified first;
a tampered journal is refused.

The verdict is computed: GO when every gate passed, GO WITH OVERRIDES when a
red item was accepted with a recorded reason, NO-GO when a gate failed or the
run was aborted, NO-GO (INCOMPLETE) when the run has not reached its end. The
exit code follows it (0, 4, 3), so CI can gate on the report too.`,
		Example: `  cockpit report gravl-go-live.journal.jsonl > signoff.md
  cockpit report gravl-go-live.journal.jsonl -o json --out signoff.json
  cockpit report gravl-go-live.journal.jsonl --format html --out signoff.html`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "markdown" && output != "md" && output != "json" && output != "html" {
				return flagError(cmd, fmt.Errorf("--output: want markdown, json or html, got %q", output))
			}
			r, err := signoff.FromJournal(args[0])
			if err != nil {
				if errors.Is(err, runbook.ErrJournalCorrupt) || errors.Is(err, os.ErrNotExist) {
					return invalidInput(err)
				}
				return err
			}
			w := s.out
			if file != "" {
				f, err := os.Create(file)
				if err != nil {
					return fmt.Errorf("--out: %w", err)
				}
				defer f.Close()
				w = f
			}
			if err := writeReport(w, r, output); err != nil {
				return err
			}
			if file != "" {
				fmt.Fprintf(s.err, "%s: %s\n", file, r.Verdict)
			}
			switch r.Verdict {
			case signoff.VerdictGo:
				return nil
			case signoff.VerdictGoOverrides, signoff.VerdictGoWarnings:
				return verdict{code: exitWarned}
			}
			return verdict{code: exitFailed}
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "markdown", "format: markdown, json or html (one self-contained page)")
	cmd.Flags().StringVar(&output, "format", "markdown", "the same as --output")
	cmd.Flags().StringVar(&file, "out", "", "write to FILE instead of stdout")
	return cmd
}

func writeReport(w io.Writer, r *signoff.Report, output string) error {
	switch output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "html":
		return signoff.WriteHTML(w, r)
	}
	return signoff.WriteMarkdown(w, r)
}

// writeSignoff writes the sign-off of the journal next to it —
// NAME.signoff.md and NAME.signoff.html for NAME.journal.jsonl — and
// returns the Markdown's path.
func writeSignoff(journal string) (string, error) {
	r, err := signoff.FromJournal(journal)
	if err != nil {
		return "", fmt.Errorf("sign-off report: %w", err)
	}
	base := strings.TrimSuffix(journal, ".jsonl")
	base = strings.TrimSuffix(base, ".journal") + ".signoff"
	for _, out := range []struct {
		ext   string
		write func(io.Writer, *signoff.Report) error
	}{{".md", signoff.WriteMarkdown}, {".html", signoff.WriteHTML}} {
		f, err := os.Create(base + out.ext)
		if err != nil {
			return "", fmt.Errorf("sign-off report: %w", err)
		}
		if err := out.write(f, r); err != nil {
			f.Close()
			return "", fmt.Errorf("sign-off report: %w", err)
		}
		if err := f.Close(); err != nil {
			return "", fmt.Errorf("sign-off report: %w", err)
		}
	}
	return base + ".md", nil
}
