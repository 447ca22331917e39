package runbook

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/cockpit-dev/cockpit/probes"
)

// GateValues are the values a phase gate's outcome rules may read: counts
// of the phase's steps by state.
var GateValues = []string{"steps", "required", "passed", "warned", "failed", "pending", "skipped", "overridden", "required_not_passed"}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// validate checks what decoding cannot: identity, references, cycles.
func (d *decoder) validate(rb *Runbook) {
	if rb.APIVersion != APIVersion {
		d.errorAtPath("apiVersion", "", "want apiVersion %q, got %q", APIVersion, rb.APIVersion)
	}
	if rb.Kind != Kind {
		d.errorAtPath("kind", "", "want kind %q, got %q", Kind, rb.Kind)
	}
	if rb.Metadata.Name == "" {
		d.errorAtPath("metadata.name", "", "a runbook needs a name")
	}
	for name, c := range rb.Clusters {
		if c.Context == "" {
			d.errorAtPath("clusters."+name, "", "cluster %q names no kubeconfig context", name)
		}
		if c.Kubeconfig != "" {
			d.errorAtPath("clusters."+name+".kubeconfig", "pass --kubeconfig (or KUBECONFIG, which may list several files) and name the context",
				"a kubeconfig per cluster is not supported yet")
		}
	}
	if len(rb.Phases) == 0 {
		d.errorAtPath("phases", "the phases are usually preflight, deploy, validate, monitor", "a runbook needs at least one phase")
	}

	phaseIDs := map[string]string{} // id → path
	stepPhase := map[string]int{}   // step id → phase index
	stepPath := map[string]string{} // step id → path
	for pi, ph := range rb.Phases {
		pp := fmt.Sprintf("phases[%d]", pi)
		d.checkID(pp+".id", ph.ID, "phase", phaseIDs)
		if len(ph.Steps) == 0 {
			d.errorAtPath(pp+".steps", "", "phase %q has no steps", ph.ID)
		}
		if ph.Gate != nil {
			if _, err := probes.CompileOutcomes(ph.Gate.Outcomes, GateValues); err != nil {
				d.specErrors(pp+".gate", err)
			}
		}
		for si := range ph.Steps {
			st := &ph.Steps[si]
			sp := fmt.Sprintf("%s.steps[%d]", pp, si)
			if d.checkID(sp+".id", st.ID, "step", stepPath) {
				stepPhase[st.ID] = pi
			}
			d.validateStep(rb, ph, st, sp)
		}
	}

	// needs: existing steps, not later phases, no cycles.
	for pi, ph := range rb.Phases {
		for si, st := range ph.Steps {
			for ni, need := range st.Needs {
				np := fmt.Sprintf("phases[%d].steps[%d].needs[%d]", pi, si, ni)
				switch npi, ok := stepPhase[need]; {
				case !ok:
					hint := ""
					if c := closest(need, slices.Sorted(mapsKeysInt(stepPhase))); c != "" {
						hint = fmt.Sprintf("did you mean %q?", c)
					}
					d.errorAtPath(np, hint, "step %q needs %q, which is not a step of this runbook", st.ID, need)
				case npi > pi:
					d.errorAtPath(np, "", "step %q needs %q from the later phase %q", st.ID, need, rb.Phases[npi].ID)
				case need == st.ID:
					d.errorAtPath(np, "", "step %q needs itself", st.ID)
				}
			}
		}
	}
	for _, cycle := range needCycles(rb) {
		d.errorAtPath(stepPath[cycle[0]]+"", "", "steps need each other in a cycle: %s", strings.Join(append(cycle, cycle[0]), " → "))
	}
}

func mapsKeysInt(m map[string]int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// checkID checks an id's form and uniqueness, recording it in seen.
func (d *decoder) checkID(path, id, what string, seen map[string]string) bool {
	switch {
	case id == "":
		d.errorAtPath(path, "", "every %s needs an id", what)
		return false
	case !idPattern.MatchString(id):
		d.errorAtPath(path, "lower-case letters, digits and dashes, starting with a letter", "%s id %q is not a valid id", what, id)
		return false
	case seen[id] != "":
		d.errorAtPath(path, "", "duplicate %s id %q (first at %s)", what, id, seen[id])
		return false
	}
	seen[id] = path
	return true
}

func (d *decoder) validateStep(rb *Runbook, ph Phase, st *Step, sp string) {
	var kinds []string
	if st.Probe != nil {
		kinds = append(kinds, "probe")
	}
	if st.Action != nil {
		kinds = append(kinds, "action")
	}
	if st.Manual != nil {
		kinds = append(kinds, "manual")
	}
	if st.Load != nil {
		kinds = append(kinds, "load")
	}
	switch len(kinds) {
	case 0:
		d.errorAtPath(sp, "add probe:, action:, load: or manual:", "step %q does nothing: it needs a probe, an action, a load test or a manual item", st.ID)
	case 1:
	default:
		d.errorAtPath(sp, "", "step %q is both %s; a step does one thing", st.ID, strings.Join(kinds, " and "))
	}
	if st.Manual != nil {
		if st.Manual.Prompt == "" {
			d.errorAtPath(sp+".manual.prompt", "", "a manual step needs a prompt")
		}
		if n := st.Manual.Note; n != "" && n != "required" && n != "optional" {
			d.errorAtPath(sp+".manual.note", "", "note is required or optional, got %q", n)
		}
		if st.Every > 0 {
			d.errorAtPath(sp+".every", "", "only probes repeat; a manual step is confirmed once")
		}
	}
	if st.Load != nil {
		if st.Every > 0 {
			d.errorAtPath(sp+".every", "", "a load test runs once; repeat a probe instead")
		}
		_, errs := st.Load.config(filepath.Dir(rb.File))
		for _, e := range errs {
			d.errorAtPath(joinPath(sp+".load", e.path), e.hint, "%s", e.msg)
		}
		if st.Load.Workers != nil {
			d.validateWorkers(rb, st, sp)
		}
	}
	if st.Action != nil && st.Every > 0 {
		d.errorAtPath(sp+".every", "", "an action runs once, when confirmed; repeat a probe instead")
	}
	if st.Action != nil {
		if u, ok := st.Action.Spec.(untilSpec); ok && u.Until() != "" {
			ids := make([]string, 0, len(rb.Phases))
			for _, p := range rb.Phases {
				ids = append(ids, p.ID)
			}
			if !slices.Contains(ids, u.Until()) {
				d.errorAtPath(sp+".action.until", "phases: "+strings.Join(ids, ", "), "until names phase %q, which the runbook does not have", u.Until())
			}
		}
	}
	if st.Cluster != "" {
		if _, ok := rb.Clusters[st.Cluster]; !ok {
			known := make([]string, 0, len(rb.Clusters))
			for k := range rb.Clusters {
				known = append(known, k)
			}
			slices.Sort(known)
			d.errorAtPath(sp+".cluster", "defined clusters: "+strings.Join(known, ", "), "cluster %q is not defined under clusters:", st.Cluster)
		}
	}
	if st.FailAfter < 0 {
		d.errorAtPath(sp+".failAfter", "", "failAfter must not be negative")
	} else if st.FailAfter > 0 && st.Every == 0 {
		d.errorAtPath(sp+".failAfter", "set every: as well", "failAfter counts failures of a repeating probe")
	}
	if st.Retries < 0 {
		d.errorAtPath(sp+".retries", "", "retries must not be negative")
	}
	if st.Every > 0 && st.Probe != nil && ph.Duration == 0 {
		d.errorAtPath(sp+".every", "give the phase a duration: (the monitor window)", "step %q repeats every %s, but phase %q has no duration", st.ID, st.Every.String(), ph.ID)
	}
}

// validateWorkers checks what a distributed load step's workers: block
// refers to: its cluster and namespace; and that nothing re-runs it
// unasked (creating its Job again needs a new confirmation).
func (d *decoder) validateWorkers(rb *Runbook, st *Step, sp string) {
	w := st.Load.Workers
	wp := sp + ".load.workers"
	if w.Cluster != "" {
		if _, ok := rb.Clusters[w.Cluster]; !ok {
			known := slices.Sorted(func(yield func(string) bool) {
				for k := range rb.Clusters {
					if !yield(k) {
						return
					}
				}
			})
			d.errorAtPath(wp+".cluster", "defined clusters: "+strings.Join(known, ", "), "cluster %q is not defined under clusters:", w.Cluster)
			return
		}
	}
	if st.Retries > 0 {
		d.errorAtPath(sp+".retries", "", "a load step with workers: is not retried unasked: creating its Job again needs a new confirmation (re-run the step)")
	}
}

// String prints the duration like "30s".
func (d Duration) String() string {
	b, _ := d.MarshalText()
	return string(b)
}

// needCycles returns each cycle in the needs graph once, as step ids.
func needCycles(rb *Runbook) [][]string {
	edges := map[string][]string{}
	var order []string
	for _, ph := range rb.Phases {
		for _, st := range ph.Steps {
			if _, dup := edges[st.ID]; !dup {
				order = append(order, st.ID)
			}
			edges[st.ID] = append(edges[st.ID], st.Needs...)
		}
	}
	const (
		unvisited = iota
		onStack
		done
	)
	state := map[string]int{}
	var stack []string
	var cycles [][]string
	var visit func(string)
	visit = func(id string) {
		state[id] = onStack
		stack = append(stack, id)
		for _, next := range edges[id] {
			if _, ok := edges[next]; !ok || next == id {
				continue // dangling or self: reported elsewhere
			}
			switch state[next] {
			case unvisited:
				visit(next)
			case onStack:
				i := slices.Index(stack, next)
				cycles = append(cycles, slices.Clone(stack[i:]))
			}
		}
		stack = stack[:len(stack)-1]
		state[id] = done
	}
	for _, id := range order {
		if state[id] == unvisited {
			visit(id)
		}
	}
	return cycles
}
