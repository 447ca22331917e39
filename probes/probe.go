package probes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cockpit-dev/cockpit/internal/kube"
)

// Probe observes one thing live. Observe never returns an error: a probe
// that cannot look says so in the observation (Err), and the judgement turns
// that into StatusError or StatusForbidden. Observe must honour ctx.
type Probe interface {
	Observe(ctx context.Context) Observation
}

// Observation is what a probe saw, before any judgement of the whole.
type Observation struct {
	// Summary is one line for the step list: "3/4 Ready", "200 in 12ms".
	Summary string
	// Items are per-object details, each judged on its own where the kind
	// has a natural per-item verdict (a condition, a replica count).
	Items []Item
	// Values are the observed facts outcome rules and gates read, by name:
	// "failing", "ready", "status_code", "latency_ms", "days_left".
	Values map[string]float64
	// Err is set when the probe could not observe. A *ForbiddenError means
	// the credentials may not look; an error wrapping ErrPending means
	// there is nothing to judge yet.
	Err error
}

// Item is one observed object or record.
type Item struct {
	Name    string    `json:"name"`
	Status  Status    `json:"status"`
	Summary string    `json:"summary"`
	Reason  string    `json:"reason,omitempty"`
	Message string    `json:"message,omitempty"`
	Since   time.Time `json:"since,omitzero"` // creation or last transition, for ages
}

// Result is an observation judged by outcome rules: what the runbook
// engine, the journal and the TUI consume.
type Result struct {
	Status     Status             `json:"status"`
	Summary    string             `json:"summary"`
	Message    string             `json:"message,omitempty"` // the outcome rule's message, or the error
	Items      []Item             `json:"items,omitempty"`
	Values     map[string]float64 `json:"values,omitempty"`
	ObservedAt time.Time          `json:"observedAt"`
	Duration   time.Duration      `json:"duration"`
}

// ForbiddenError is returned (inside an Observation) when the credentials
// lack a permission. It names the missing verb and resource the way RBAC
// does. Only an authorization denial is one: an admission plugin's 403
// keeps the API server's message (see the kube package's Err).
type ForbiddenError = kube.ForbiddenError

// ErrPending marks an observation that cannot be judged yet — a rate with
// one scrape so far, a watch cache not yet synced. Judge turns an Err that
// wraps it into StatusPending, with the error's text as the message.
var ErrPending = errors.New("pending")

// Run observes with p and judges the observation with rules. now is the
// clock (injected; time.Now in production).
func Run(ctx context.Context, p Probe, rules Outcomes, now func() time.Time) Result {
	start := now()
	obs := p.Observe(ctx)
	res := Judge(obs, rules)
	res.ObservedAt = start
	res.Duration = now().Sub(start)
	return res
}

// Judge turns an observation into a result. An observation error is
// StatusError (or StatusForbidden); otherwise the first matching outcome rule
// decides, and no matching rule fails — a check never passes by default.
func Judge(obs Observation, rules Outcomes) Result {
	res := Result{Summary: obs.Summary, Items: obs.Items, Values: obs.Values}
	if obs.Err != nil {
		res.Status = StatusError
		var fe *ForbiddenError
		switch {
		case errors.As(obs.Err, &fe):
			res.Status = StatusForbidden
		case errors.Is(obs.Err, ErrPending):
			res.Status = StatusPending
		}
		res.Message = obs.Err.Error()
		if res.Summary == "" {
			res.Summary = res.Message
		}
		return res
	}
	for _, r := range rules {
		ok, err := r.When.Eval(obs.Values)
		if err != nil {
			res.Status = StatusError
			res.Message = fmt.Sprintf("outcome %s: %v", r.Status, err)
			return res
		}
		if ok {
			res.Status = r.Status
			res.Message = expand(r.Message, obs.Values)
			return res
		}
	}
	res.Status = StatusFail
	res.Message = "no outcome rule matched the observed values"
	return res
}

// expand replaces {{name}} in msg by the named value.
func expand(msg string, values map[string]float64) string {
	if !strings.Contains(msg, "{{") {
		return msg
	}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	slices.Sort(names)
	pairs := make([]string, 0, 2*len(names))
	for _, k := range names {
		pairs = append(pairs, "{{"+k+"}}", formatValue(values[k]))
	}
	return strings.NewReplacer(pairs...).Replace(msg)
}

// formatValue prints integers without decimals and others with up to 3.
func formatValue(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}

// CountItems returns how many items have each status, and the worst one.
func CountItems(items []Item) (counts map[Status]int, worst Status) {
	counts = map[Status]int{}
	statuses := make([]Status, 0, len(items))
	for _, it := range items {
		counts[it.Status]++
		statuses = append(statuses, it.Status)
	}
	return counts, Worst(statuses...)
}
