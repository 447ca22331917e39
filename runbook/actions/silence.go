package actions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cockpit-dev/cockpit/probes"
)

// Silence defaults.
const (
	// DefaultSilenceAuthor is a silence's createdBy when the runbook names
	// no author.
	DefaultSilenceAuthor = "cockpit"
	// DefaultSilenceRequestTimeout bounds each request to Alertmanager.
	DefaultSilenceRequestTimeout = 10 * time.Second
)

// silenceMaxAlertItems bounds the alerts a silence's plan lists.
const silenceMaxAlertItems = 30

// SilenceSpec configures a "silence" action: an Alertmanager silence over
// the go-live window, as `amtool silence add` makes one.
//
//	action: {kind: silence, url: "${alertmanagerURL}", duration: 2h, until: monitor,
//	         matchers: ['alertname=~"Gravl.*"', 'namespace="gravl-prod"'],
//	         comment: "gravl go-live: rollout noise", author: "${operator}"}
//
// Its dry run lists the alerts it would silence now. Executed, it creates
// the silence, starting now and ending after Duration; the run expires it
// earlier, when the phase named by Until ends (or the run ends, or is
// aborted). If cockpit dies meanwhile, Duration still bounds it.
//
// Credentials (bearerToken, basicAuth, headers) are written as ${env:…}
// in the runbook; they are sent to the Alertmanager only and never
// appear in results or messages.
type SilenceSpec struct {
	// URL is the Alertmanager's base URL, with any path prefix;
	// /api/v2/... is appended.
	URL string `json:"url" yaml:"url"`
	// Matchers select the alerts silenced, in Alertmanager's (and
	// PromQL's) syntax: `name="v"`, `name!="v"`, `name=~"re"`,
	// `name!~"re"` (regular expressions anchored). All must match; at
	// least one must not match the empty string (Alertmanager's rule: a
	// silence of everything is refused).
	Matchers []string `json:"matchers" yaml:"matchers"`
	// Duration is how long the silence lasts at most (required): its
	// endsAt is its start plus Duration.
	Duration probes.Duration `json:"duration" yaml:"duration"`
	// Author is the silence's createdBy (default "cockpit"); write the
	// operator's name, e.g. from a var.
	Author string `json:"author,omitempty" yaml:"author,omitempty"`
	// Comment says why (required, as amtool requires it). An execution
	// appends a marker of its own, " [cockpit <random id>]", by which it
	// finds its silence when the answer to its creation is lost.
	Comment string `json:"comment" yaml:"comment"`
	// UntilPhase is the id of the phase after which the silence is
	// expired; "" is the end of the run.
	UntilPhase string `json:"until,omitempty" yaml:"until,omitempty"`

	// BearerToken and BasicAuth authenticate (write them as ${env:…});
	// they exclude each other.
	BearerToken string            `json:"bearerToken,omitempty" yaml:"bearerToken,omitempty"`
	BasicAuth   *probes.BasicAuth `json:"basicAuth,omitempty" yaml:"basicAuth,omitempty"`
	// Headers are sent with every request (an authenticating proxy's).
	Headers map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"`
	// Timeout bounds each request (default 10s).
	Timeout probes.Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	// Insecure skips the verification of the server's certificate.
	Insecure bool `json:"insecure,omitempty" yaml:"insecure,omitempty"`
	// CACert is a PEM file of extra root certificates (relative to the
	// runbook's directory), as the alertmanager probe takes it.
	CACert string `json:"caCert,omitempty" yaml:"caCert,omitempty"`
	// ServerName overrides the name the certificate is verified for.
	ServerName string `json:"serverName,omitempty" yaml:"serverName,omitempty"`
}

var _ Spec = (*SilenceSpec)(nil)

// Until returns the id of the phase whose end expires the silence; "" is
// the end of the run.
func (s *SilenceSpec) Until() string { return s.UntilPhase }

// Validate implements Spec.
func (s *SilenceSpec) Validate() error {
	var errs []error
	errs = append(errs, silenceURLErrs(s.URL)...)
	if len(s.Matchers) == 0 {
		errs = append(errs, specFieldErr("matchers", `required: the alerts to silence, like ['alertname=~"Gravl.*"', 'namespace="gravl-prod"']`))
	}
	var parsed []probes.LabelMatcher
	for i, src := range s.Matchers {
		m, err := probes.ParseMatcher(src)
		if err != nil {
			errs = append(errs, silenceMatcherErr(i, err))
			continue
		}
		parsed = append(parsed, m)
	}
	if len(parsed) == len(s.Matchers) && len(parsed) > 0 && !slices.ContainsFunc(parsed, func(m probes.LabelMatcher) bool { return !m.Matches("") }) {
		errs = append(errs, specFieldErr("matchers", "every matcher matches the empty string, so the silence would cover every alert; Alertmanager refuses it: add one that does not, like alertname=~\"Gravl.+\""))
	}
	switch {
	case s.Duration == 0:
		errs = append(errs, specFieldErr("duration", "required: how long the silence lasts at most, like 2h"))
	case s.Duration < 0:
		errs = append(errs, specFieldErr("duration", "must be positive, got %s", time.Duration(s.Duration)))
	}
	if strings.TrimSpace(s.Comment) == "" {
		errs = append(errs, specFieldErr("comment", "required: why the alerts are silenced (the silence shows it to whoever is on call)"))
	}
	if s.BearerToken != "" && s.BasicAuth != nil {
		errs = append(errs, specFieldErr("bearerToken", "bearerToken and basicAuth exclude each other"))
	}
	if s.BasicAuth != nil && s.BasicAuth.Username == "" {
		errs = append(errs, specFieldErr("basicAuth.username", "required"))
	}
	for _, k := range slices.Sorted(maps.Keys(s.Headers)) {
		if !validHeaderName(k) {
			errs = append(errs, specFieldErr("headers", "%q is not a valid header name", k))
		}
	}
	if s.Timeout < 0 {
		errs = append(errs, specFieldErr("timeout", "must not be negative, got %s", time.Duration(s.Timeout)))
	}
	if s.Insecure && s.CACert != "" {
		errs = append(errs, specFieldErr("insecure", "insecure and caCert exclude each other"))
	}
	return errors.Join(errs...)
}

// silenceMatcherErr is the field error of matchers[i], with the column of
// the problem inside the matcher.
func silenceMatcherErr(i int, err error) error {
	field := fmt.Sprintf("matchers[%d]", i)
	if ee := (*probes.ExprError)(nil); errors.As(err, &ee) {
		return &probes.FieldError{Field: field, Col: ee.Col, Msg: ee.Msg}
	}
	return specFieldErr(field, "%v", err)
}

// silenceURLErrs checks an Alertmanager base URL.
func silenceURLErrs(raw string) []error {
	if raw == "" {
		return []error{specFieldErr("url", "required: the Alertmanager's base URL, like https://alertmanager.example.com")}
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return []error{specFieldErr("url", "cannot parse %q", probes.RedactURL(raw))}
	case u.Scheme != "http" && u.Scheme != "https":
		return []error{specFieldErr("url", "scheme must be http or https, got %q", u.Scheme)}
	case u.Host == "":
		return []error{specFieldErr("url", "no host in %q", probes.RedactURL(raw))}
	}
	return nil
}

// validHeaderName reports whether k is an HTTP header field name (a
// token).
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

// Mutating implements Spec.
func (s *SilenceSpec) Mutating() bool { return true }

// Describe implements Spec.
func (s *SilenceSpec) Describe() string {
	until := "the run ends"
	if s.UntilPhase != "" {
		until = "phase " + s.UntilPhase + " ends"
	}
	return fmt.Sprintf("silence {%s} for %s at %s (expired when %s)", strings.Join(s.Matchers, ", "), ShortDuration(time.Duration(s.Duration)), probes.RedactURL(s.URL), until)
}

// Permissions implements Spec: a silence touches no cluster.
func (s *SilenceSpec) Permissions() []probes.Permission { return nil }

// Build implements Spec.
func (s *SilenceSpec) Build(env Env) (Action, error) {
	ms := make([]probes.LabelMatcher, 0, len(s.Matchers))
	for i, src := range s.Matchers {
		m, err := probes.ParseMatcher(src)
		if err != nil {
			return nil, silenceMatcherErr(i, err)
		}
		ms = append(ms, m)
	}
	caFile := s.CACert
	if caFile != "" && !filepath.IsAbs(caFile) {
		caFile = filepath.Join(env.Dir, caFile)
	}
	api, err := probes.NewAlertmanagerClient(probes.APIClientOptions{URL: s.URL, BearerToken: s.BearerToken, BasicAuth: s.BasicAuth, Headers: s.Headers,
		Timeout: s.Timeout.Or(DefaultSilenceRequestTimeout), Insecure: s.Insecure, CACert: caFile, ServerName: s.ServerName})
	if err != nil {
		return nil, err
	}
	author := strings.TrimSpace(s.Author)
	if author == "" {
		author = DefaultSilenceAuthor
	}
	return &silenceAction{api: api, matchers: ms, duration: time.Duration(s.Duration), author: author, comment: s.Comment, now: env.Clock()}, nil
}

type silenceAction struct {
	api      *probes.AlertmanagerClient
	matchers []probes.LabelMatcher
	duration time.Duration
	author   string
	comment  string
	now      func() time.Time
}

var (
	_ Action  = (*silenceAction)(nil)
	_ Cleaner = (*silenceAction)(nil)
)

// postable is the silence to create at now.
func (a *silenceAction) postable(now time.Time) probes.PostableSilence {
	ms := make([]probes.AlertmanagerMatcher, len(a.matchers))
	for i, m := range a.matchers {
		eq := m.Op == "=" || m.Op == "=~"
		ms[i] = probes.AlertmanagerMatcher{Name: m.Name, Value: m.Value, IsRegex: m.Op == "=~" || m.Op == "!~", IsEqual: &eq}
	}
	now = now.UTC()
	return probes.PostableSilence{Matchers: ms, StartsAt: now, EndsAt: now.Add(a.duration), CreatedBy: a.author, Comment: a.comment}
}

// filter is the matchers as written, {a="b", c=~"d"}.
func (a *silenceAction) filter() string {
	parts := make([]string, len(a.matchers))
	for i, m := range a.matchers {
		parts[i] = m.String()
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// describe is a silence in one line: matchers, window, author, comment.
func (a *silenceAction) describe(sil probes.PostableSilence) string {
	return fmt.Sprintf("%s from %s to %s (%s), by %s: %s", a.filter(), sil.StartsAt.Format(time.RFC3339), sil.EndsAt.Format(time.RFC3339),
		ShortDuration(a.duration), sil.CreatedBy, probes.FirstLine(sil.Comment))
}

// Plan implements Action: the silence it would create and the matching
// alerts Alertmanager holds now, firing first; an active silence with the
// same matchers is noted (a second one would be a duplicate).
func (a *silenceAction) Plan(ctx context.Context) Result {
	start := a.now()
	sil := a.postable(start)
	filter := make([]string, len(a.matchers))
	for i, m := range a.matchers {
		filter[i] = m.String()
	}
	alerts, err := a.api.Alerts(ctx, filter)
	if err != nil {
		return stampResult(a.errResult("cannot read the alerts the silence would cover", err), start, a.now)
	}
	silences, err := a.api.Silences(ctx)
	if err != nil {
		return stampResult(a.errResult("cannot read the existing silences", err), start, a.now)
	}

	var firing, quiet []probes.Item
	for _, al := range alerts {
		it := silenceAlertItem(al, start)
		if al.Status.State == "active" {
			firing = append(firing, it)
		} else {
			quiet = append(quiet, it)
		}
	}
	slices.SortFunc(firing, silenceCmpItems)
	slices.SortFunc(quiet, silenceCmpItems)
	items := probes.CapItems(slices.Concat(firing, quiet), silenceMaxAlertItems)
	var notes []string
	for _, s := range silences {
		if s.Status.State == "expired" || !a.sameMatchers(s.Matchers) {
			continue
		}
		items = append(items, probes.Item{Name: "silence " + s.ID, Status: probes.StatusPass, Reason: s.Status.State,
			Summary: fmt.Sprintf("%s silence with the same matchers until %s by %s", s.Status.State, s.EndsAt.UTC().Format(time.RFC3339), s.CreatedBy),
			Message: probes.FirstLine(s.Comment), Since: s.StartsAt})
		notes = append(notes, fmt.Sprintf("silence %s (%s) has the same matchers, until %s: this one would duplicate it", s.ID, s.Status.State, s.EndsAt.UTC().Format(time.RFC3339)))
	}

	res := Result{Changes: 1}
	res.Status = probes.StatusPass
	res.Values = map[string]float64{"alerts": float64(len(alerts)), "firing": float64(len(firing))}
	switch {
	case len(firing) > 0:
		res.Summary = fmt.Sprintf("would silence %s for %s: %d %s firing now (%s)", a.filter(), ShortDuration(a.duration), len(firing),
			nounFor(len(firing), "alert", "alerts"), silenceAlertNames(firing))
	case len(alerts) > 0:
		res.Summary = fmt.Sprintf("would silence %s for %s: %d matching %s, none firing unsuppressed", a.filter(), ShortDuration(a.duration), len(alerts), nounFor(len(alerts), "alert", "alerts"))
	default:
		res.Summary = fmt.Sprintf("would silence %s for %s: no matching alert now", a.filter(), ShortDuration(a.duration))
	}
	res.Message = joinNotes("silence "+a.describe(sil), strings.Join(notes, "; "))
	res.Items = items
	return stampResult(res, start, a.now)
}

// sameMatchers reports whether a silence's matchers are the action's, in
// any order.
func (a *silenceAction) sameMatchers(ms []probes.AlertmanagerMatcher) bool {
	if len(ms) != len(a.matchers) {
		return false
	}
	mine := a.postable(time.Time{}).Matchers
	key := func(m probes.AlertmanagerMatcher) string { return m.String() }
	have := make([]string, len(ms))
	want := make([]string, len(mine))
	for i := range ms {
		have[i], want[i] = key(ms[i]), key(mine[i])
	}
	slices.Sort(have)
	slices.Sort(want)
	return slices.Equal(have, want)
}

// silenceAlertItem describes one matching alert.
func silenceAlertItem(al probes.AlertmanagerAlert, now time.Time) probes.Item {
	it := al.Item()
	it.Status = probes.StatusPass
	since := al.Since(now)
	switch {
	case al.Status.State == "active":
		it.Summary = "firing" + since + ": would be silenced"
		if s := al.Annotations["summary"]; s != "" {
			it.Summary += " — " + probes.FirstLine(s)
		}
	default:
		var why []string
		if len(al.Status.SilencedBy) > 0 {
			why = append(why, "already silenced by "+strings.Join(al.Status.SilencedBy, ", "))
		}
		if len(al.Status.InhibitedBy) > 0 {
			why = append(why, "inhibited")
		}
		if len(al.Status.MutedBy) > 0 {
			why = append(why, "muted by "+strings.Join(al.Status.MutedBy, ", "))
		}
		if len(why) == 0 {
			why = append(why, al.Status.State)
		}
		it.Summary = strings.Join(why, ", ") + since
	}
	return it
}

// silenceAlertNames lists the items' alert names, once each.
func silenceAlertNames(items []probes.Item) string {
	names := make([]string, len(items))
	for i, it := range items {
		names[i] = it.Name
	}
	slices.Sort(names)
	return strings.Join(slices.Compact(names), ", ")
}

func silenceCmpItems(a, b probes.Item) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return strings.Compare(a.Message, b.Message)
}

// Execute implements Action: create the silence. Its id is the result's
// Cleanup: the run expires it when its window ends.
//
// The POST is not idempotent, and its answer may be lost after
// Alertmanager stored the silence (a timeout, a dropped connection, a
// proxy's 5xx): the silence's comment carries a marker unique to this
// execution (" [cockpit <random id>]"), and when the POST fails without a
// usable answer the active silence carrying it is looked up and taken as
// the one created, so that the cleanup still expires it.
func (a *silenceAction) Execute(ctx context.Context, _ func(Result)) Result {
	start := a.now()
	sil := a.postable(start)
	marker, err := silenceMarker()
	if err != nil {
		return stampResult(a.errResult("cannot create the silence", err), start, a.now)
	}
	sil.Comment += marker
	id, err := a.api.CreateSilence(ctx, sil)
	found := ""
	if err != nil {
		if !silenceAnswerLost(err) {
			return stampResult(a.errResult("cannot create the silence", err), start, a.now)
		}
		var ferr error
		id, ferr = a.findMarked(ctx, marker)
		if id == "" {
			res := a.errResult("cannot create the silence", err)
			if ferr != nil {
				res.Message = joinNotes(res.Message, fmt.Sprintf("whether Alertmanager stored it anyway could not be checked (%v): look for a silence whose comment ends with%s", ferr, marker))
			} else {
				res.Message = joinNotes(res.Message, "no silence with the marker"+marker+" found after the error: it was not stored")
			}
			return stampResult(res, start, a.now)
		}
		found = fmt.Sprintf("the POST's answer was lost (%v); the silence was found after the error by its comment's marker%s", err, marker)
	}
	res := Result{Cleanup: id, Objects: []Object{{Ref: "Silence/" + id, Op: OpCreated}}}
	res.Status = probes.StatusPass
	res.Summary = fmt.Sprintf("silence %s created until %s", id, sil.EndsAt.Format(time.RFC3339))
	if found != "" {
		res.Summary += " (found after its POST's answer was lost)"
	}
	res.Message = joinNotes("silence "+a.describe(sil), found)
	res.Items = []probes.Item{{Name: "silence " + id, Status: probes.StatusPass, Summary: "active until " + sil.EndsAt.Format(time.RFC3339),
		Message: a.filter(), Since: sil.StartsAt}}
	return stampResult(res, start, a.now)
}

// silenceMarker is the tag an execution puts at the end of its silence's
// comment: " [cockpit <random id>]".
func silenceMarker() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("silence marker: %w", err)
	}
	return " [cockpit " + hex.EncodeToString(b[:]) + "]", nil
}

// silenceAnswerLost reports whether a failed POST may have created the
// silence all the same: no usable answer came (a transport error once the
// request may have been sent, a timeout, a 5xx, a 2xx that cannot be
// read). A refusal (4xx, 401, 403) created nothing, nor did a connection
// that was never made.
func silenceAnswerLost(err error) bool {
	if fe := (*probes.ForbiddenError)(nil); errors.As(err, &fe) {
		return false
	}
	if he := (*probes.AlertmanagerError)(nil); errors.As(err, &he) {
		return he.Code >= 500
	}
	if oe := (*net.OpError)(nil); errors.As(err, &oe) && oe.Op == "dial" {
		return false
	}
	return true
}

// findMarked looks for the active (or pending) silence whose comment
// carries marker, and returns its id ("" if none). The step's context
// may be over (that may be why the POST failed): the lookup has one of its
// own, bounded by the request timeout.
func (a *silenceAction) findMarked(ctx context.Context, marker string) (string, error) {
	timeout := a.api.Timeout()
	if timeout <= 0 {
		timeout = DefaultSilenceRequestTimeout
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	silences, err := a.api.Silences(lctx)
	if err != nil {
		return "", err
	}
	for _, s := range silences {
		if s.Status.State != "expired" && strings.HasSuffix(s.Comment, marker) && s.ID != "" {
			return s.ID, nil
		}
	}
	return "", nil
}

// Cleanup implements Cleaner: expire the silence id (DELETE
// /api/v2/silence/{id}). A silence already expired, or gone, passes.
func (a *silenceAction) Cleanup(ctx context.Context, id string) Result {
	start := a.now()
	res := Result{Objects: []Object{{Ref: "Silence/" + id, Op: OpDeleted}}}
	res.Status = probes.StatusPass
	// Its state first: expiring an expired silence is a no-op to recent
	// Alertmanagers and an error (500) to older ones.
	var he *probes.AlertmanagerError
	switch sil, err := a.api.Silence(ctx, id); {
	case err == nil && sil.Status.State == "expired":
		res.Summary = "silence " + id + " already expired"
		res.Message = "it ended " + sil.EndsAt.UTC().Format(time.RFC3339)
		return stampResult(res, start, a.now)
	case errors.As(err, &he) && he.Code == http.StatusNotFound:
		res.Summary = "silence " + id + " not found: nothing to expire"
		res.Message = "Alertmanager no longer holds it (expired and garbage-collected, or its state was lost)"
		return stampResult(res, start, a.now)
	}
	// Whatever the read said (it may be refused where the delete is not),
	// the delete decides.
	err := a.api.ExpireSilence(ctx, id)
	switch {
	case err == nil:
		res.Summary = "silence " + id + " expired"
		return stampResult(res, start, a.now)
	case errors.As(err, &he) && he.Code == http.StatusNotFound:
		res.Summary = "silence " + id + " not found: nothing to expire"
		return stampResult(res, start, a.now)
	case errors.As(err, &he) && strings.Contains(he.Msg, "already expired"):
		res.Summary = "silence " + id + " already expired"
		return stampResult(res, start, a.now)
	}
	res = a.errResult("cannot expire silence "+id, err)
	res.Objects = []Object{{Ref: "Silence/" + id, Op: OpFailed, Error: err.Error()}}
	return stampResult(res, start, a.now)
}

// errResult is the result of a failed request: forbidden for 401 and 403,
// else error.
func (a *silenceAction) errResult(summary string, err error) Result {
	st := probes.StatusError
	if fe := (*probes.ForbiddenError)(nil); errors.As(err, &fe) {
		st = probes.StatusForbidden
	}
	return Result{Result: probes.Result{Status: st, Summary: summary, Message: err.Error()}}
}
