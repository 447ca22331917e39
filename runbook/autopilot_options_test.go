package runbook

import (
	"errors"
	"testing"

	"github.com/cockpit-dev/cockpit/probes"
)

func TestNewAutopilotChecksDecisions(t *testing.T) {
	rb := mustParse(t, engineRunbook)
	tests := []struct {
		name string
		o    AutopilotOptions
		want string // "" accepted
	}{
		{"everything known", AutopilotOptions{Confirm: []string{"notify=mail 08:55"}, Override: []string{"issuers=unused", "phase:monitor=ok"},
			Skip: []string{"extra"}, StopAfter: "preflight"}, ""},
		{"a list of confirmations", AutopilotOptions{Confirm: []string{"notify"}}, ""},
		{"auto-confirming actions in a read-only run", AutopilotOptions{ConfirmActions: true},
			"--auto-confirm-actions and --undo-on-failure need --allow-actions (runs are read-only without it)"},
		{"confirming a probe", AutopilotOptions{Confirm: []string{"api=x"}}, `--confirm "api=x": no manual or action step "api" in engine.yaml`},
		{"an override without a reason", AutopilotOptions{Override: []string{"issuers= "}}, `--override "issuers= ": want ID=REASON; an override needs a reason`},
		{"an unknown phase", AutopilotOptions{Override: []string{"phase:deploy=x"}}, `--override "phase:deploy=x": no phase "deploy"`},
		{"an unknown step", AutopilotOptions{Override: []string{"nope=x"}}, `--override "nope=x": no step "nope"`},
		{"skipping a required step", AutopilotOptions{Skip: []string{"api"}}, `--skip "api": no optional step "api" (only optional steps can be skipped)`},
		{"stopping after no phase", AutopilotOptions{StopAfter: "deploy"}, `--phase "deploy": no such phase in engine.yaml`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := NewAutopilot(rb, tt.o)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want == "":
				if tt.o.Confirm != nil && a.Confirm["notify"] == "" {
					t.Errorf("notify's confirmation note lost: %v", a.Confirm)
				}
			case err == nil || err.Error() != tt.want:
				t.Fatalf("err = %v, want %q", err, tt.want)
			default:
				var de *DecisionError
				if !errors.As(err, &de) {
					t.Errorf("%T is not a *DecisionError", err)
				}
			}
		})
	}
}

// Stopped after its phase, a run's outcome is that phase's gate — warned
// when anything was overridden.
func TestAutopilotOutcomeAfterPhase(t *testing.T) {
	for _, tt := range []struct {
		name     string
		override bool
		want     Outcome
	}{
		{"a green gate", false, OutcomePassed},
		{"an overridden step", true, OutcomeWarned},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := NewAutopilot(mustParse(t, engineRunbook), AutopilotOptions{Operator: "ci", StopAfter: "preflight"})
			if err != nil {
				t.Fatal(err)
			}
			m := newSim(t, engineRunbook)
			m.do(Started{Operator: "ci"})
			st := probes.StatusPass
			if tt.override {
				st = probes.StatusFail
			}
			m.result("issuers", st)
			if tt.override {
				m.result("issuers", st) // its retry
				m.do(Overridden{Step: "issuers", Operator: "ci", Reason: "unused"})
			}
			m.result("api", probes.StatusPass)
			m.result("extra", probes.StatusPass)
			m.do(Confirmed{Step: "notify", Operator: "ci", Note: "sent"})
			if !a.Done(m.s) {
				t.Fatalf("not done after preflight: gate %+v", m.s.Gate(0))
			}
			if got := a.Outcome(m.s); got != tt.want {
				t.Errorf("outcome %s, want %s", got, tt.want)
			}
		})
	}
}
