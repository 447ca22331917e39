package probes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AlertmanagerClient speaks Alertmanager's v2 API: the alerts and silences
// the alertmanager probe reads, the silences the silence action creates
// and expires. A failed request is, whichever asks:
//
//   - 401 or 403: a *ForbiddenError naming the method, the URL and the
//     status, and for a 403 the server's reason (the credentials
//     authenticated, and were refused: "403 Forbidden: denied for tenant");
//     a 401's body only repeats that credentials are missing or wrong;
//   - another non-2xx answer: an *AlertmanagerError with the server's
//     message;
//   - no answer: "METHOD URL: cause", with a hint when the connection is
//     refused;
//   - a 2xx answer that is not Alertmanager's JSON: [ErrBadResponse].
type AlertmanagerClient struct {
	api *APIClient
}

// NewAlertmanagerClient returns a client of the Alertmanager at
// opts.URL (with any path prefix: /api/v2/… is appended).
func NewAlertmanagerClient(opts APIClientOptions) (*AlertmanagerClient, error) {
	api, err := NewAPIClient(opts)
	if err != nil {
		return nil, err
	}
	return &AlertmanagerClient{api: api}, nil
}

// Timeout is the bound of each request.
func (c *AlertmanagerClient) Timeout() time.Duration { return c.api.Timeout() }

// Endpoint is the redacted URL of path, for messages.
func (c *AlertmanagerClient) Endpoint(path string) string { return c.api.Endpoint(path) }

// Alerts are the alerts Alertmanager holds (GET /api/v2/alerts), only
// those matching every filter matcher (`name="v"`…) when there are any.
func (c *AlertmanagerClient) Alerts(ctx context.Context, filter []string) ([]AlertmanagerAlert, error) {
	var q url.Values
	for _, f := range filter {
		if q == nil {
			q = url.Values{}
		}
		q.Add("filter", f)
	}
	var alerts []AlertmanagerAlert
	err := c.do(ctx, http.MethodGet, "/api/v2/alerts", q, nil, &alerts)
	return alerts, err
}

// Silences are the silences Alertmanager holds, expired ones included
// (GET /api/v2/silences).
func (c *AlertmanagerClient) Silences(ctx context.Context) ([]AlertmanagerSilence, error) {
	var silences []AlertmanagerSilence
	err := c.do(ctx, http.MethodGet, "/api/v2/silences", nil, nil, &silences)
	return silences, err
}

// Silence is the silence id (GET /api/v2/silence/{id}).
func (c *AlertmanagerClient) Silence(ctx context.Context, id string) (AlertmanagerSilence, error) {
	var s AlertmanagerSilence
	err := c.do(ctx, http.MethodGet, silencePath(id), nil, nil, &s)
	return s, err
}

// CreateSilence creates s (POST /api/v2/silences) and returns its id; an
// answer without one is [ErrNoSilenceID].
func (c *AlertmanagerClient) CreateSilence(ctx context.Context, s PostableSilence) (string, error) {
	var created struct {
		SilenceID string `json:"silenceID"`
	}
	const path = "/api/v2/silences"
	if err := c.do(ctx, http.MethodPost, path, nil, s, &created); err != nil {
		return "", err
	}
	if created.SilenceID == "" {
		return "", fmt.Errorf("POST %s: %w", c.Endpoint(path), ErrNoSilenceID)
	}
	return created.SilenceID, nil
}

// ExpireSilence expires the silence id (DELETE /api/v2/silence/{id}).
func (c *AlertmanagerClient) ExpireSilence(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, silencePath(id), nil, nil, nil)
}

func silencePath(id string) string { return "/api/v2/silence/" + url.PathEscape(id) }

// ErrNoSilenceID marks an Alertmanager that accepted a silence without
// saying its id.
var ErrNoSilenceID = errors.New("the answer has no silenceID")

// AlertmanagerError is a non-2xx answer other than 401 and 403, with the
// server's message.
type AlertmanagerError struct {
	Method, URL string // URL redacted
	Code        int
	Status      string
	Msg         string
}

func (e *AlertmanagerError) Error() string {
	s := fmt.Sprintf("%s %s: %s", e.Method, e.URL, e.Status)
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// do sends a request with a JSON body (when in is not nil) and decodes the
// JSON answer into out (when not nil), mapping failures as the type's
// comment says.
func (c *AlertmanagerClient) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	data, err := c.api.Do(ctx, method, path, query, in)
	var he *HTTPError
	switch {
	case errors.As(err, &he) && he.Code == http.StatusUnauthorized:
		return &ForbiddenError{Verb: strings.ToLower(method), Resource: he.URL + " (" + he.Status + ")"}
	case errors.As(err, &he) && he.Code == http.StatusForbidden:
		return &ForbiddenError{Verb: strings.ToLower(method), Resource: he.URL + " (" + he.Status + alertmanagerMessage(he.Body, ": ") + ")"}
	case he != nil:
		return &AlertmanagerError{Method: method, URL: he.URL, Code: he.Code, Status: he.Status, Msg: alertmanagerMessage(he.Body, "")}
	case err != nil && strings.Contains(err.Error(), "connection refused"):
		return fmt.Errorf("%w (is the Alertmanager running at that address?)", err)
	case err != nil:
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: not the JSON Alertmanager answers (is the URL an Alertmanager's?): %w: %w", method, c.Endpoint(path), ErrBadResponse, err)
	}
	return nil
}

// alertmanagerMessage is the server's message in an error answer:
// Alertmanager answers a JSON string ("silence invalid: …") or an object
// with a message; anything else is shown by its first line. prefix comes
// first when there is a message.
func alertmanagerMessage(body []byte, prefix string) string {
	var msg string
	var s string
	var obj struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	switch {
	case json.Unmarshal(body, &s) == nil:
		msg = s
	case json.Unmarshal(body, &obj) == nil && (obj.Message != "" || obj.Error != ""):
		msg = obj.Message
		if msg == "" {
			msg = obj.Error
		}
	default:
		msg = string(body)
	}
	msg = FirstLine(msg)
	if msg == "" {
		return ""
	}
	return prefix + msg
}

// AlertmanagerAlert is the part of Alertmanager's GettableAlert that
// Cockpit reads.
type AlertmanagerAlert struct {
	Labels      map[string]string       `json:"labels"`
	Annotations map[string]string       `json:"annotations"`
	StartsAt    time.Time               `json:"startsAt"`
	Fingerprint string                  `json:"fingerprint"`
	Status      AlertmanagerAlertStatus `json:"status"`
}

// Item is the alert as a result item: its alertname (or "(no
// alertname)"), its state as the reason, its labels ({a="b", c="d"},
// sorted) as the message, and its start. Status and summary are the
// caller's.
func (a AlertmanagerAlert) Item() Item {
	name := a.Labels["alertname"]
	if name == "" {
		name = "(no alertname)"
	}
	keys := slices.Sorted(maps.Keys(a.Labels))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(a.Labels[k])
	}
	return Item{Name: name, Reason: a.Status.State, Message: "{" + strings.Join(parts, ", ") + "}", Since: a.StartsAt}
}

// Since is " since 2026-05-04T10:00:00Z (1h2m3s)": the alert's start and
// its age at now; "" when it has no start.
func (a AlertmanagerAlert) Since(now time.Time) string {
	if a.StartsAt.IsZero() {
		return ""
	}
	since := " since " + a.StartsAt.UTC().Format(time.RFC3339)
	if now.After(a.StartsAt) {
		since += " (" + now.Sub(a.StartsAt).Round(time.Second).String() + ")"
	}
	return since
}

// AlertmanagerAlertStatus says whether and why an alert is suppressed.
type AlertmanagerAlertStatus struct {
	State       string   `json:"state"` // unprocessed, active, suppressed
	SilencedBy  []string `json:"silencedBy"`
	InhibitedBy []string `json:"inhibitedBy"`
	MutedBy     []string `json:"mutedBy"` // time intervals
}

// AlertmanagerSilence is the part of Alertmanager's GettableSilence that
// Cockpit reads.
type AlertmanagerSilence struct {
	ID       string                `json:"id"`
	Matchers []AlertmanagerMatcher `json:"matchers"`
	StartsAt time.Time             `json:"startsAt"`
	EndsAt   time.Time             `json:"endsAt"`
	// CreatedBy and Comment are shown: who silenced what, and why.
	CreatedBy string                    `json:"createdBy"`
	Comment   string                    `json:"comment"`
	Status    AlertmanagerSilenceStatus `json:"status"`
}

// AlertmanagerSilenceStatus is a silence's state: active, pending or
// expired.
type AlertmanagerSilenceStatus struct {
	State string `json:"state"`
}

// PostableSilence is what POST /api/v2/silences takes.
type PostableSilence struct {
	Matchers  []AlertmanagerMatcher `json:"matchers"`
	StartsAt  time.Time             `json:"startsAt"`
	EndsAt    time.Time             `json:"endsAt"`
	CreatedBy string                `json:"createdBy"`
	Comment   string                `json:"comment"`
}

// AlertmanagerMatcher is a silence's matcher in Alertmanager's v2 API
// (PostableSilence, GettableSilence). IsEqual is absent (true) in
// Alertmanagers before 0.22.
type AlertmanagerMatcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual *bool  `json:"isEqual,omitempty"`
}

// String is the matcher as amtool and PromQL write it: name=~"value".
func (m AlertmanagerMatcher) String() string {
	eq := m.IsEqual == nil || *m.IsEqual
	op := "="
	switch {
	case m.IsRegex && eq:
		op = "=~"
	case m.IsRegex:
		op = "!~"
	case !eq:
		op = "!="
	}
	return m.Name + op + strconv.Quote(m.Value)
}
