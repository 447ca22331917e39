package probes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/internal/promtest"
)

// amPost posts a JSON body to Alertmanager's API and decodes the answer
// into out (when not nil).
func amPost(t *testing.T, am *promtest.Alertmanager, path string, body, out any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(am.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var msg bytes.Buffer
		_, _ = msg.ReadFrom(resp.Body)
		t.Fatalf("POST %s: %s: %s", path, resp.Status, msg.String())
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
	}
}

// amProbe builds an alertmanager probe for spec against am.
func amProbe(t *testing.T, am *promtest.Alertmanager, spec AlertmanagerSpec) (Probe, Outcomes) {
	t.Helper()
	spec.URL = am.URL
	if err := spec.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	p, rules, err := spec.Build(Env{})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return p, rules
}

// awaitStatus polls the probe until it reaches want.
func awaitStatus(t *testing.T, p Probe, rules Outcomes, want Status, what string) {
	t.Helper()
	promtest.Eventually(t, 30*time.Second, what, func() (bool, string) {
		res := Run(t.Context(), p, rules, time.Now)
		return res.Status == want, res.Status.String() + ": " + res.Summary + " — " + res.Message
	})
}

type amCase struct {
	name        string
	spec        AlertmanagerSpec
	wantStatus  Status
	wantSummary string
	wantItem    string // substring of an item's name, summary or message
	wantValues  map[string]float64
}

func runAMCases(t *testing.T, am *promtest.Alertmanager, cases []amCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			p, rules := amProbe(t, am, tt.spec)
			res := Run(context.Background(), p, rules, time.Now)
			if res.Status != tt.wantStatus {
				t.Errorf("status = %s (%s), want %s; summary %q", res.Status, res.Message, tt.wantStatus, res.Summary)
			}
			if !strings.Contains(res.Summary, tt.wantSummary) {
				t.Errorf("summary = %q, want %q", res.Summary, tt.wantSummary)
			}
			if tt.wantItem != "" && !hasItemText(res.Items, tt.wantItem) {
				t.Errorf("no item with %q in %+v", tt.wantItem, res.Items)
			}
			for k, v := range tt.wantValues {
				if res.Values[k] != v {
					t.Errorf("value %s = %v, want %v (all: %v)", k, res.Values[k], v, res.Values)
				}
			}
		})
	}
}

// TestAlertmanagerProbe runs against a real Alertmanager fed by a real
// Prometheus (an alerting rule vector(1), for: 0s) and by alerts posted to
// its API, then silences the rule's alert.
func TestAlertmanagerProbe(t *testing.T) {
	am := promtest.StartAlertmanager(t)
	promtest.StartPrometheus(t, promtest.PrometheusOptions{
		Interval:      200 * time.Millisecond,
		Alertmanagers: []string{am.Addr},
		Rules: `groups:
- name: gravl
  rules:
  - alert: GravlAPIDown
    expr: vector(1)
    for: 0s
    labels: {severity: critical, namespace: gravl-prod}
    annotations: {summary: "gravl API is down"}
`,
	})
	now := time.Now().UTC()
	amPost(t, am, "/api/v2/alerts", []map[string]any{
		{"labels": map[string]string{"alertname": "GravlDiskFilling", "severity": "warning", "namespace": "gravl-prod"}, "startsAt": now.Add(-10 * time.Minute)},
		{"labels": map[string]string{"alertname": "PaymentsDown", "severity": "critical", "namespace": "payments"}, "startsAt": now},
	}, nil)
	all, rules := amProbe(t, am, AlertmanagerSpec{})
	promtest.Eventually(t, 30*time.Second, "three alerts in Alertmanager", func() (bool, string) {
		res := Run(t.Context(), all, rules, time.Now)
		return res.Values["alerts"] == 3, res.Summary + " " + res.Message
	})

	critical := []string{`severity="critical"`, `namespace=~"gravl-.*"`}
	runAMCases(t, am, []amCase{
		{name: "every alert", wantStatus: StatusFail,
			wantSummary: "3 firing: GravlAPIDown, GravlDiskFilling, PaymentsDown",
			wantValues:  map[string]float64{"firing": 3, "alerts": 3, "silenced": 0, "silences": 0}},
		{name: "critical in gravl namespaces", spec: AlertmanagerSpec{Matchers: critical}, wantStatus: StatusFail,
			wantSummary: "1 firing: GravlAPIDown", wantItem: `namespace="gravl-prod"`,
			wantValues: map[string]float64{"firing": 1, "alerts": 1}},
		{name: "annotation summary shown", spec: AlertmanagerSpec{Matchers: critical}, wantStatus: StatusFail, wantItem: "gravl API is down"},
		{name: "firing: warn", spec: AlertmanagerSpec{Matchers: critical, Firing: "warn"}, wantStatus: StatusWarn},
		{name: "negative matchers", spec: AlertmanagerSpec{Matchers: []string{`namespace!="payments"`, `severity!~"crit.*"`}}, wantStatus: StatusFail,
			wantSummary: "1 firing: GravlDiskFilling"},
		{name: "nothing matches", spec: AlertmanagerSpec{Matchers: []string{`alertname="GravlNope"`}}, wantStatus: StatusPass,
			wantSummary: "no matching alerts", wantValues: map[string]float64{"alerts": 0, "firing": 0}},
		{name: "custom outcomes", spec: AlertmanagerSpec{Outcomes: []OutcomeSpec{
			{Fail: &RuleSpec{When: "firing > 5"}}, {Warn: &RuleSpec{When: "firing > 0", Message: "{{firing}} alerts"}}, {Pass: &RuleSpec{}}}},
			wantStatus: StatusWarn},
	})

	var created struct {
		SilenceID string `json:"silenceID"`
	}
	amPost(t, am, "/api/v2/silences", map[string]any{
		"matchers": []map[string]any{
			{"name": "alertname", "value": "GravlAPIDown", "isRegex": false, "isEqual": true},
			{"name": "namespace", "value": "gravl-prod", "isRegex": false, "isEqual": true},
		},
		"startsAt":  now.Add(-time.Minute),
		"endsAt":    now.Add(2 * time.Hour),
		"createdBy": "cockpit-test",
		"comment":   "go-live window",
	}, &created)
	if created.SilenceID == "" {
		t.Fatal("no silence ID")
	}
	p, rules := amProbe(t, am, AlertmanagerSpec{Matchers: critical})
	awaitStatus(t, p, rules, StatusPass, "the silenced alert no longer fails the probe")

	runAMCases(t, am, []amCase{
		{name: "silenced alerts are ignored", spec: AlertmanagerSpec{Matchers: critical}, wantStatus: StatusPass,
			wantSummary: "none firing (1 silenced, 1 active silence(s))",
			wantItem:    "by cockpit-test: go-live window",
			wantValues:  map[string]float64{"firing": 0, "alerts": 1, "silenced": 1, "silences": 1}},
		{name: "the silenced alert is listed", spec: AlertmanagerSpec{Matchers: critical}, wantStatus: StatusPass,
			wantItem: "silenced by " + shortID(created.SilenceID)},
		{name: "silenced: true counts them", spec: AlertmanagerSpec{Matchers: critical, Silenced: true}, wantStatus: StatusFail,
			wantSummary: "1 firing: GravlAPIDown"},
		{name: "a silence pinned to another namespace is not listed", spec: AlertmanagerSpec{Matchers: []string{`namespace="payments"`}}, wantStatus: StatusFail,
			wantSummary: "1 firing: PaymentsDown", wantValues: map[string]float64{"silences": 0}},
		{name: "every alert, one silenced", wantStatus: StatusFail,
			wantSummary: "2 firing: GravlDiskFilling, PaymentsDown (1 silenced, 1 active silence(s))"},
	})
}

// Credentials and TLS go the shared way (see TestPrometheusProbeAccess).
func TestAlertmanagerProbeAccess(t *testing.T) {
	am := promtest.StartAlertmanager(t)
	plain := authProxy(t, am.URL, false, allowTestCredentials)
	secure := authProxy(t, am.URL, true, allowTestCredentials)
	tests := []struct {
		name       string
		spec       AlertmanagerSpec
		wantStatus Status
		wantMsg    string
	}{
		{name: "bearer token", spec: AlertmanagerSpec{URL: plain.URL, BearerToken: testToken}, wantStatus: StatusPass, wantMsg: "no matching alert firing"},
		{name: "basic auth", spec: AlertmanagerSpec{URL: plain.URL, BasicAuth: &BasicAuth{Username: "cockpit", Password: testPassword}}, wantStatus: StatusPass},
		{name: "no credentials", spec: AlertmanagerSpec{URL: plain.URL}, wantStatus: StatusForbidden, wantMsg: "forbidden: get " + plain.URL + "/api/v2/alerts (401 Unauthorized)"},
		{name: "wrong token", spec: AlertmanagerSpec{URL: plain.URL, BearerToken: "nope"}, wantStatus: StatusForbidden, wantMsg: "403"},
		{name: "TLS verified by default", spec: AlertmanagerSpec{URL: secure.URL, BearerToken: testToken}, wantStatus: StatusError, wantMsg: "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, rules, err := tt.spec.Build(Env{})
			if err != nil {
				t.Fatal(err)
			}
			res := Run(context.Background(), p, rules, time.Now)
			if res.Status != tt.wantStatus || !strings.Contains(res.Message, tt.wantMsg) {
				t.Errorf("= %s %q, want %s %q", res.Status, res.Message, tt.wantStatus, tt.wantMsg)
			}
			out, _ := json.Marshal(res)
			if strings.Contains(string(out), testToken) || strings.Contains(string(out), testPassword) {
				t.Errorf("result leaks a credential: %s", out)
			}
		})
	}
}

// judgeAlerts over states a test server does not produce easily:
// inhibited, muted by a time interval, unprocessed.
func TestAlertmanagerJudge(t *testing.T) {
	now := time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC)
	alert := func(name, state string, silenced, inhibited, muted []string) AlertmanagerAlert {
		return AlertmanagerAlert{
			Labels:   map[string]string{"alertname": name, "severity": "critical"},
			StartsAt: now.Add(-90 * time.Second),
			Status:   AlertmanagerAlertStatus{State: state, SilencedBy: silenced, InhibitedBy: inhibited, MutedBy: muted},
		}
	}
	alerts := []AlertmanagerAlert{
		alert("Firing", "active", nil, nil, nil),
		alert("New", "unprocessed", nil, nil, nil),
		alert("Inhibited", "suppressed", nil, []string{"fp1"}, nil),
		alert("Muted", "suppressed", nil, nil, []string{"weekends"}),
		{Labels: map[string]string{"alertname": "Other", "severity": "info"}},
	}
	yes, no := true, false
	silences := []AlertmanagerSilence{
		{ID: "0b6e-1", Status: AlertmanagerSilenceStatus{State: "active"}, Matchers: []AlertmanagerMatcher{{Name: "severity", Value: "critical", IsEqual: &yes}}},
		{ID: "0b6e-2", Status: AlertmanagerSilenceStatus{State: "expired"}},
		{ID: "0b6e-3", Status: AlertmanagerSilenceStatus{State: "active"}, Matchers: []AlertmanagerMatcher{{Name: "severity", Value: "info", IsEqual: &yes}}},
		{ID: "0b6e-4", Status: AlertmanagerSilenceStatus{State: "active"}, Matchers: []AlertmanagerMatcher{{Name: "severity", Value: "critical", IsEqual: &no}}},
	}
	tests := []struct {
		name        string
		p           alertmanagerProbe
		wantValues  map[string]float64
		wantSummary string
		wantItem    string
	}{
		{name: "defaults", p: alertmanagerProbe{matchers: mustMatchers(t, `severity="critical"`)},
			wantValues:  map[string]float64{"firing": 2, "alerts": 4, "inhibited": 1, "muted": 1, "silenced": 0, "silences": 2},
			wantSummary: "2 firing: Firing, New (1 inhibited, 1 muted, 2 active silence(s))",
			wantItem:    "firing since 2026-03-08T05:58:30Z (1m30s)"},
		{name: "inhibited counted", p: alertmanagerProbe{matchers: mustMatchers(t, `severity="critical"`), inhibited: true},
			wantValues: map[string]float64{"firing": 3}, wantItem: "inhibited, counted"},
		{name: "muted never counts", p: alertmanagerProbe{silenced: true, inhibited: true},
			wantValues: map[string]float64{"firing": 4, "alerts": 5, "silences": 3}, wantItem: "muted by weekends"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := tt.p.judgeAlerts(alerts, silences, now)
			for k, v := range tt.wantValues {
				if obs.Values[k] != v {
					t.Errorf("value %s = %v, want %v (all %v)", k, obs.Values[k], v, obs.Values)
				}
			}
			for _, k := range alertmanagerValues {
				if _, ok := obs.Values[k]; !ok {
					t.Errorf("value %s missing: rules on it would error", k)
				}
			}
			if !strings.Contains(obs.Summary, tt.wantSummary) {
				t.Errorf("summary = %q, want %q", obs.Summary, tt.wantSummary)
			}
			if tt.wantItem != "" && !hasItemText(obs.Items, tt.wantItem) {
				t.Errorf("no item with %q in %+v", tt.wantItem, obs.Items)
			}
			if len(obs.Items) > 0 && obs.Items[0].Status != StatusFail && obs.Values["firing"] > 0 {
				t.Errorf("firing alerts are not listed first: %+v", obs.Items)
			}
		})
	}
}

func mustMatchers(t *testing.T, srcs ...string) []LabelMatcher {
	t.Helper()
	var ms []LabelMatcher
	for _, s := range srcs {
		m, err := ParseMatcher(s)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	return ms
}

func TestAMMatcherString(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		m    AlertmanagerMatcher
		want string
	}{
		{AlertmanagerMatcher{Name: "a", Value: "b"}, `a="b"`},
		{AlertmanagerMatcher{Name: "a", Value: "b", IsEqual: &yes}, `a="b"`},
		{AlertmanagerMatcher{Name: "a", Value: "b", IsEqual: &no}, `a!="b"`},
		{AlertmanagerMatcher{Name: "a", Value: "b.*", IsRegex: true}, `a=~"b.*"`},
		{AlertmanagerMatcher{Name: "a", Value: "b.*", IsRegex: true, IsEqual: &no}, `a!~"b.*"`},
	}
	for _, tt := range tests {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("String() = %s, want %s", got, tt.want)
		}
	}
}

func TestAlertmanagerSpecValidate(t *testing.T) {
	tests := []struct {
		name    string
		spec    AlertmanagerSpec
		wantErr []string
	}{
		{name: "valid", spec: AlertmanagerSpec{URL: "http://127.0.0.1:9093", Matchers: []string{`severity="critical"`, `namespace=~'gravl-.*'`}}},
		{name: "no url", spec: AlertmanagerSpec{}, wantErr: []string{"url: required"}},
		{name: "bad matcher", spec: AlertmanagerSpec{URL: "http://x", Matchers: []string{`severity="critical"`, `severity=critical`}},
			wantErr: []string{`matchers[1]: column 10: want a quoted value`}},
		{name: "bad regexp", spec: AlertmanagerSpec{URL: "http://x", Matchers: []string{`namespace=~"gravl-("`}},
			wantErr: []string{`matchers[0]: column 12: bad regular expression`}},
		{name: "bad firing", spec: AlertmanagerSpec{URL: "http://x", Firing: "pass"}, wantErr: []string{`firing: want fail or warn, got "pass"`}},
		{name: "firing and outcomes", spec: AlertmanagerSpec{URL: "http://x", Firing: "warn", Outcomes: []OutcomeSpec{{Pass: &RuleSpec{}}}},
			wantErr: []string{"firing and outcomes exclude each other"}},
		{name: "unknown value", spec: AlertmanagerSpec{URL: "http://x", Outcomes: []OutcomeSpec{{Fail: &RuleSpec{When: "critical > 0"}}}},
			wantErr: []string{`unknown value "critical"; this probe observes: firing, alerts, silenced, inhibited, muted, silences`}},
		{name: "token and basic", spec: AlertmanagerSpec{URL: "http://x", BearerToken: "t", BasicAuth: &BasicAuth{Username: "u"}},
			wantErr: []string{"bearerToken and basicAuth exclude each other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErrors(t, tt.spec.Validate(), tt.wantErr)
		})
	}
}

func TestAlertmanagerDescribe(t *testing.T) {
	s := AlertmanagerSpec{URL: "https://user:pw@am.gravl.app", Matchers: []string{`severity="critical"`}}
	if got, want := s.Describe(), `alerts {severity="critical"} at https://am.gravl.app`; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
}

// FuzzParseMatcher: the matcher parser the alertmanager probe's spec uses
// never panics, and what it accepts prints back to itself.
func FuzzParseMatcher(f *testing.F) {
	for _, s := range []string{`severity="critical"`, `namespace=~"gravl-.*"`, `a!="b"`, `a!~'x'`, "a=`raw`",
		`a="\"q\""`, `a=~"("`, `=""`, `a=`, `a="unterminated`, `a = "spaced" `, `a="\xff"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		m, err := ParseMatcher(src)
		if err != nil {
			return
		}
		back, err := ParseMatcher(m.String())
		if err != nil {
			t.Fatalf("ParseMatcher(%q) = %s, which does not parse: %v", src, m, err)
		}
		if back.Name != m.Name || back.Op != m.Op || back.Value != m.Value {
			t.Fatalf("round trip %q: %s became %s", src, m, back)
		}
		for _, v := range []string{"", m.Value, "critical", fmt.Sprint(len(src))} {
			if m.Matches(v) != back.Matches(v) {
				t.Fatalf("round trip %q: %s and %s disagree on %q", src, m, back, v)
			}
		}
	})
}
