package probes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// AlertmanagerSpec configures an "alertmanager" probe: the alerts an
// Alertmanager holds (/api/v2/alerts), filtered by label matchers. By
// default any matching alert that fires — neither silenced nor inhibited —
// fails the probe; silenced and inhibited ones are listed but ignored
// unless silenced or inhibited is set. Active silences that cover the
// filter (/api/v2/silences) are listed too: a silence set for the go-live
// window is part of the picture.
//
//	probe: {kind: alertmanager, url: "https://alertmanager.gravl.app",
//	        matchers: ['severity="critical"', 'namespace=~"gravl-.*"']}
type AlertmanagerSpec struct {
	// URL is the server's base URL, with any path prefix; /api/v2/... is
	// appended.
	URL string `json:"url" yaml:"url"`
	// Matchers select alerts by label, in PromQL's syntax: `name="v"`,
	// `name!="v"`, `name=~"re"`, `name!~"re"` (regular expressions
	// anchored). All must match. None: every alert.
	Matchers []string `json:"matchers,omitempty" yaml:"matchers,omitempty"`
	// Silenced and Inhibited count silenced or inhibited alerts as firing.
	Silenced  bool `json:"silenced,omitempty" yaml:"silenced,omitempty"`
	Inhibited bool `json:"inhibited,omitempty" yaml:"inhibited,omitempty"`
	// Firing is the status of firing alerts: fail (default) or warn. It
	// and outcomes exclude each other.
	Firing      string            `json:"firing,omitempty" yaml:"firing,omitempty"`
	BearerToken string            `json:"bearerToken,omitempty" yaml:"bearerToken,omitempty"`
	BasicAuth   *BasicAuth        `json:"basicAuth,omitempty" yaml:"basicAuth,omitempty"`
	Headers     map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"`
	Timeout     Duration          `json:"timeout,omitempty" yaml:"timeout,omitempty"` // default 10s
	Insecure    bool              `json:"insecure,omitempty" yaml:"insecure,omitempty"`
	CACert      string            `json:"caCert,omitempty" yaml:"caCert,omitempty"`
	ServerName  string            `json:"serverName,omitempty" yaml:"serverName,omitempty"`
	Outcomes    []OutcomeSpec     `json:"outcomes,omitempty" yaml:"outcomes,omitempty"`
}

var _ Spec = (*AlertmanagerSpec)(nil)

// alertmanagerValues are what an alertmanager probe observes: firing
// counts the matching alerts that count (see Silenced, Inhibited); alerts
// all matching alerts; silenced, inhibited and muted the suppressed ones by
// cause; silences the active silences covering the filter.
var alertmanagerValues = []string{"firing", "alerts", "silenced", "inhibited", "muted", "silences"}

// maxAlertItems bounds the alert and silence items shown.
const maxAlertItems = 30

// Values implements Spec.
func (s *AlertmanagerSpec) Values() []string { return alertmanagerValues }

// Validate implements Spec.
func (s *AlertmanagerSpec) Validate() error {
	var errs []error
	errs = append(errs, validateHTTPURL("url", s.URL)...)
	for i, m := range s.Matchers {
		if _, err := ParseMatcher(m); err != nil {
			errs = append(errs, selectorFieldErr(fmt.Sprintf("matchers[%d]", i), err))
		}
	}
	switch s.Firing {
	case "", "fail", "warn":
	default:
		errs = append(errs, fieldErr("firing", "want fail or warn, got %q", s.Firing))
	}
	if s.Firing != "" && len(s.Outcomes) > 0 {
		errs = append(errs, fieldErr("firing", "firing and outcomes exclude each other"))
	}
	errs = append(errs, validateAPIAccess(s.BearerToken, s.BasicAuth, s.Timeout, s.Insecure, s.CACert)...)
	if _, err := CompileOutcomes(s.Outcomes, alertmanagerValues); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Build implements Spec.
func (s *AlertmanagerSpec) Build(env Env) (Probe, Outcomes, error) {
	ms := make([]LabelMatcher, 0, len(s.Matchers))
	for i, src := range s.Matchers {
		m, err := ParseMatcher(src)
		if err != nil {
			return nil, nil, selectorFieldErr(fmt.Sprintf("matchers[%d]", i), err)
		}
		ms = append(ms, m)
	}
	specs := s.Outcomes
	if len(specs) == 0 {
		st, err := parseStatusChoice("firing", s.Firing)
		if err != nil {
			return nil, nil, err
		}
		specs = []OutcomeSpec{
			statusRule(st, "firing > 0", "{{firing}} matching alert(s) firing"),
			{Pass: &RuleSpec{Message: "no matching alert firing"}},
		}
	}
	rules, err := CompileOutcomes(specs, alertmanagerValues)
	if err != nil {
		return nil, nil, err
	}
	api, err := NewAlertmanagerClient(APIClientOptions{URL: s.URL, BearerToken: s.BearerToken, BasicAuth: s.BasicAuth, Headers: s.Headers,
		Timeout: time.Duration(s.Timeout), Insecure: s.Insecure, CACert: s.CACert, ServerName: s.ServerName})
	if err != nil {
		return nil, nil, err
	}
	return &alertmanagerProbe{api: api, matchers: ms, silenced: s.Silenced, inhibited: s.Inhibited, env: env}, rules, nil
}

// Describe implements Describer.
func (s *AlertmanagerSpec) Describe() string {
	filter := "all alerts"
	if len(s.Matchers) > 0 {
		filter = "alerts {" + strings.Join(s.Matchers, ", ") + "}"
	}
	return filter + " at " + RedactURL(s.URL)
}

type alertmanagerProbe struct {
	api       *AlertmanagerClient
	matchers  []LabelMatcher
	silenced  bool
	inhibited bool
	env       Env
}

var _ Probe = (*alertmanagerProbe)(nil)

func (p *alertmanagerProbe) Observe(ctx context.Context) Observation {
	alerts, err := p.api.Alerts(ctx, nil)
	if err != nil {
		return Observation{Err: fmt.Errorf("alerts: %w", err)}
	}
	silences, err := p.api.Silences(ctx)
	if err != nil {
		return Observation{Err: fmt.Errorf("silences: %w", err)}
	}
	return p.judgeAlerts(alerts, silences, p.env.now())
}

// judgeAlerts filters and classifies alerts and silences. Items: firing
// alerts first (fail), then suppressed ones and the covering silences
// (pass, for the record).
func (p *alertmanagerProbe) judgeAlerts(alerts []AlertmanagerAlert, silences []AlertmanagerSilence, now time.Time) Observation {
	values := map[string]float64{}
	var firing, quiet []Item
	var firingNames []string
	for _, a := range alerts {
		if !p.matches(a.Labels) {
			continue
		}
		values["alerts"]++
		silenced, inhibited, muted := len(a.Status.SilencedBy) > 0, len(a.Status.InhibitedBy) > 0, len(a.Status.MutedBy) > 0
		var why []string
		if silenced {
			values["silenced"]++
			why = append(why, "silenced by "+shortIDs(a.Status.SilencedBy))
		}
		if inhibited {
			values["inhibited"]++
			why = append(why, "inhibited")
		}
		if muted {
			values["muted"]++
			why = append(why, "muted by "+strings.Join(a.Status.MutedBy, ", "))
		}
		counts := !muted && (!silenced || p.silenced) && (!inhibited || p.inhibited)
		it := a.Item()
		name, since := it.Name, a.Since(now)
		if counts {
			values["firing"]++
			firingNames = append(firingNames, name)
			it.Status = StatusFail
			it.Summary = "firing" + since
			if s := a.Annotations["summary"]; s != "" {
				it.Summary += ": " + FirstLine(s)
			}
			if len(why) > 0 {
				it.Summary += " (" + strings.Join(why, ", ") + ", counted)"
			}
			firing = append(firing, it)
			continue
		}
		it.Status = StatusPass
		it.Summary = strings.Join(why, ", ") + since
		quiet = append(quiet, it)
	}
	var covering []Item
	for _, s := range silences {
		if s.Status.State != "active" || !p.covers(s) {
			continue
		}
		values["silences"]++
		ms := make([]string, len(s.Matchers))
		for i, m := range s.Matchers {
			ms[i] = m.String()
		}
		sum := "until " + s.EndsAt.UTC().Format(time.RFC3339)
		if s.CreatedBy != "" {
			sum += " by " + s.CreatedBy
		}
		if s.Comment != "" {
			sum += ": " + FirstLine(s.Comment)
		}
		covering = append(covering, Item{
			Name:    "silence " + shortID(s.ID),
			Status:  StatusPass,
			Summary: sum,
			Reason:  "active",
			Message: "{" + strings.Join(ms, ", ") + "}",
			Since:   s.StartsAt,
		})
	}
	for _, k := range alertmanagerValues {
		values[k] += 0 // every value present, zero included
	}
	slices.SortFunc(firing, cmpItems)
	slices.SortFunc(quiet, cmpItems)
	slices.SortFunc(covering, cmpItems)
	items := CapItems(slices.Concat(firing, quiet, covering), maxAlertItems)

	slices.Sort(firingNames)
	firingNames = slices.Compact(firingNames)
	var summary string
	switch {
	case values["firing"] > 0:
		summary = fmt.Sprintf("%d firing: %s", int(values["firing"]), strings.Join(firingNames, ", "))
	case values["alerts"] > 0:
		summary = "none firing"
	default:
		summary = "no matching alerts"
	}
	var extra []string
	for _, k := range []string{"silenced", "inhibited", "muted"} {
		if n := values[k]; n > 0 {
			extra = append(extra, fmt.Sprintf("%d %s", int(n), k))
		}
	}
	if n := values["silences"]; n > 0 {
		extra = append(extra, fmt.Sprintf("%d active silence(s)", int(n)))
	}
	if len(extra) > 0 {
		summary += " (" + strings.Join(extra, ", ") + ")"
	}
	return Observation{Summary: summary, Items: items, Values: values}
}

// matches reports whether labels satisfy every matcher.
func (p *alertmanagerProbe) matches(labels map[string]string) bool {
	for _, m := range p.matchers {
		if !m.Matches(labels[m.Name]) {
			return false
		}
	}
	return true
}

// covers reports whether a silence may silence alerts the filter selects:
// for each filter matcher on a label the silence pins with a plain
// equality, the pinned value must satisfy it. Labels the silence leaves
// open (or matches by regular expression or inequality) are taken as
// overlapping.
func (p *alertmanagerProbe) covers(s AlertmanagerSilence) bool {
	for _, fm := range p.matchers {
		for _, sm := range s.Matchers {
			if sm.Name != fm.Name || sm.IsRegex || (sm.IsEqual != nil && !*sm.IsEqual) {
				continue
			}
			if !fm.Matches(sm.Value) {
				return false
			}
		}
	}
	return true
}

// cmpItems orders items by name, then summary.
func cmpItems(a, b Item) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return strings.Compare(a.Summary, b.Summary)
}

// CapItems keeps the first n items and says how many more there were.
func CapItems(items []Item, n int) []Item {
	if len(items) <= n {
		return items
	}
	return append(items[:n:n], Item{Name: "…", Status: StatusPass, Summary: fmt.Sprintf("%d more", len(items)-n)})
}

// shortID shortens a silence UUID to its first block, as amtool does in
// narrow tables.
func shortID(id string) string {
	if i := strings.IndexByte(id, '-'); i > 0 {
		return id[:i]
	}
	return id
}

func shortIDs(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = shortID(id)
	}
	return strings.Join(out, ", ")
}
