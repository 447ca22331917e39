package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cockpit-dev/cockpit/probes"
	"github.com/cockpit-dev/cockpit/runbook"
)

// varFlags collects repeated --var name=value flags.
type varFlags map[string]string

func (v varFlags) String() string { return "" }
func (v varFlags) Type() string   { return "name=value" }
func (v varFlags) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	v[name] = value
	return nil
}

func newCheckCmd(s streams, _ *globalOptions) *cobra.Command {
	vars := varFlags{}
	var output string
	cmd := &cobra.Command{
		Use:   "check RUNBOOK",
		Short: "Validate a runbook and summarise what it will do",
		Long: `Parse and validate a runbook without touching anything. Every problem is
printed at once as file:line:col: path: message (exit 2); a valid runbook is
summarised phase by phase (exit 0).`,
		Example: `  cockpit check gravl.yaml
  cockpit check gravl.yaml --var apiURL=https://staging.gravl.app -o json`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return flagError(cmd, fmt.Errorf("--output: want text or json, got %q", output))
			}
			rb, err := parseRunbook(args[0], vars)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(summarise(rb))
			}
			return writeSummary(s.out, summarise(rb))
		},
	}
	cmd.Flags().Var(vars, "var", "override a runbook variable (repeatable)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// parseRunbook reads a runbook; its problems are invalid input (exit 2).
func parseRunbook(path string, vars map[string]string) (*runbook.Runbook, error) {
	rb, err := runbook.ParseFile(path, runbook.Options{Vars: vars, LookupEnv: os.LookupEnv})
	if err != nil {
		var list runbook.ErrorList
		if errors.As(err, &list) {
			return nil, invalidInput(fmt.Errorf("%d problem(s) in %s:\n%w", len(list), path, err))
		}
		return nil, invalidInput(err)
	}
	return rb, nil
}

// exactArgs is cobra.ExactArgs with exit code 2 and usage.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return flagError(cmd, fmt.Errorf("%q takes %d argument(s), got %d", cmd.CommandPath(), n, len(args)))
		}
		return nil
	}
}

// runbookSummary is what `cockpit check` prints; its JSON is stable.
type runbookSummary struct {
	Name        string         `json:"name"`
	Description string         `json:"description,omitempty"`
	Digest      string         `json:"digest"`
	Phases      []phaseSummary `json:"phases"`
}

type phaseSummary struct {
	ID       string        `json:"id"`
	Duration string        `json:"duration,omitempty"`
	Gate     string        `json:"gate"`
	Steps    []stepSummary `json:"steps"`
}

type stepSummary struct {
	ID   string `json:"id"`
	Kind string `json:"kind"` // probe or action kind, "load" or "manual"
	What string `json:"what"`
	// Action is "mutating" (dry run, then executed on confirmation with
	// --allow-actions) or "observing" for action steps.
	Action   string   `json:"action,omitempty"`
	Every    string   `json:"every,omitempty"`
	Optional bool     `json:"optional,omitempty"`
	Needs    []string `json:"needs,omitempty"`
}

func summarise(rb *runbook.Runbook) runbookSummary {
	out := runbookSummary{Name: rb.Metadata.Name, Description: rb.Metadata.Description, Digest: rb.Digest}
	for _, ph := range rb.Phases {
		ps := phaseSummary{ID: ph.ID, Gate: "every required step passes"}
		if ph.Duration > 0 {
			ps.Duration = time.Duration(ph.Duration).String()
		}
		if ph.Gate != nil {
			ps.Gate = fmt.Sprintf("%d outcome rule(s)", len(ph.Gate.Outcomes))
		}
		for _, st := range ph.Steps {
			ss := stepSummary{ID: st.ID, Optional: st.Optional, Needs: st.Needs}
			if st.Every > 0 {
				ss.Every = time.Duration(st.Every).String()
			}
			switch {
			case st.Probe != nil:
				ss.Kind = st.Probe.Kind
				if d, ok := st.Probe.Spec.(probes.Describer); ok {
					ss.What = d.Describe()
				}
			case st.Action != nil:
				ss.Kind, ss.What, ss.Action = st.Action.Kind, st.Action.Spec.Describe(), "observing"
				if st.Mutating() {
					ss.Action = "mutating"
				}
			case st.Manual != nil:
				ss.Kind = "manual"
				ss.What = st.Manual.Prompt
			case st.Load != nil:
				ss.Kind = "load"
				ss.What = st.Load.Describe()
				if st.Mutating() {
					ss.Action = "mutating" // it creates its workers' Job
				}
			}
			ps.Steps = append(ps.Steps, ss)
		}
		out.Phases = append(out.Phases, ps)
	}
	return out
}

func writeSummary(w io.Writer, sum runbookSummary) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Runbook %s: valid", sum.Name)
	if sum.Description != "" {
		fmt.Fprintf(&b, " — %s", sum.Description)
	}
	b.WriteString("\n")
	// Columns as wide as the widest id and kind, as kubectl's tables.
	idW, kindW := 0, 0
	for _, ph := range sum.Phases {
		for _, st := range ph.Steps {
			idW, kindW = max(idW, len(st.ID)), max(kindW, len(st.Kind))
		}
	}
	for i, ph := range sum.Phases {
		fmt.Fprintf(&b, "\n%d. %s", i+1, ph.ID)
		if ph.Duration != "" {
			fmt.Fprintf(&b, " (for %s)", ph.Duration)
		}
		fmt.Fprintf(&b, " — gate: %s\n", ph.Gate)
		for _, st := range ph.Steps {
			what := st.What
			if st.Action == "mutating" {
				what += " [changes things: dry run, then --allow-actions + confirmation]"
			}
			b.WriteString(strings.TrimRight(fmt.Sprintf("   %-*s %-*s %s", idW, st.ID, kindW, st.Kind, what), " "))
			var notes []string
			if st.Every != "" {
				notes = append(notes, "every "+st.Every)
			}
			if st.Optional {
				notes = append(notes, "optional")
			}
			if len(st.Needs) > 0 {
				notes = append(notes, "needs "+strings.Join(st.Needs, ", "))
			}
			if len(notes) > 0 {
				fmt.Fprintf(&b, "  [%s]", strings.Join(notes, "; "))
			}
			b.WriteString("\n")
		}
	}
	fmt.Fprintf(&b, "\ndigest %s\n", sum.Digest)
	_, err := io.WriteString(w, b.String())
	return err
}
