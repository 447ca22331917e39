package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/internal/promtest"
	"github.com/cockpit-dev/cockpit/probes"
)

// silenceSpec is a valid spec for the Alertmanager at url.
func silenceSpec(url string) *SilenceSpec {
	return &SilenceSpec{
		URL:        url,
		Matchers:   []string{`alertname=~"Gravl.*"`, `namespace="gravl-prod"`},
		Duration:   probes.Duration(2 * time.Hour),
		Comment:    "gravl go-live: rollout noise",
		Author:     "lead",
		UntilPhase: "monitor",
	}
}

// silenceBuild validates spec and builds it with the clock now.
func silenceBuild(t *testing.T, spec *SilenceSpec, now func() time.Time) *silenceAction {
	t.Helper()
	if err := spec.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	a, err := spec.Build(Env{Now: now, Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return a.(*silenceAction)
}

// amRequest sends a JSON request to the test Alertmanager and decodes its
// answer into out (when not nil).
func amRequest(t *testing.T, method, url string, in, out any) {
	t.Helper()
	var body bytes.Buffer
	if in != nil {
		if err := json.NewEncoder(&body).Encode(in); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(method, url, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var msg bytes.Buffer
		_, _ = msg.ReadFrom(resp.Body)
		t.Fatalf("%s %s: %s: %s", method, url, resp.Status, msg.String())
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
}

// amFire posts alerts (label sets) as firing now, and waits until
// Alertmanager lists them all as active.
func amFire(t *testing.T, am *promtest.Alertmanager, alerts ...map[string]string) {
	t.Helper()
	var body []map[string]any
	for _, labels := range alerts {
		body = append(body, map[string]any{"labels": labels, "annotations": map[string]string{"summary": labels["alertname"] + " is firing"},
			"startsAt": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)})
	}
	amRequest(t, http.MethodPost, am.URL+"/api/v2/alerts", body, nil)
	promtest.Eventually(t, 30*time.Second, "alerts active", func() (bool, string) {
		var got []amGettableAlert
		amRequest(t, http.MethodGet, am.URL+"/api/v2/alerts", nil, &got)
		active := 0
		for _, a := range got {
			if a.Status.State == "active" {
				active++
			}
		}
		return active == len(alerts), strings.Repeat("*", active)
	})
}

func TestSilenceSpecValidate(t *testing.T) {
	ok := silenceSpec("http://127.0.0.1:9093")
	for _, tt := range []struct {
		name   string
		change func(*SilenceSpec)
		want   []string // fields with errors
		col    int      // the first error's column, when set
	}{
		{"ok", func(*SilenceSpec) {}, nil, 0},
		{"all operators", func(s *SilenceSpec) {
			s.Matchers = []string{`alertname="A"`, `severity!="info"`, `job=~"api|web"`, `instance!~"canary-.*"`}
		}, nil, 0},
		{"bad matcher named by index", func(s *SilenceSpec) { s.Matchers = []string{`alertname=~"Gravl.*"`, `namespace=gravl-prod`} }, []string{"matchers[1]"}, 11},
		{"bad operator", func(s *SilenceSpec) { s.Matchers = []string{`alertname=="x"`} }, []string{"matchers[0]"}, 0},
		{"bad regexp", func(s *SilenceSpec) { s.Matchers = []string{`alertname=~"Gravl("`} }, []string{"matchers[0]"}, 0},
		{"no matchers", func(s *SilenceSpec) { s.Matchers = nil }, []string{"matchers"}, 0},
		{"matches everything", func(s *SilenceSpec) { s.Matchers = []string{`env=~".*"`, `team!="x"`} }, []string{"matchers"}, 0},
		{"no url", func(s *SilenceSpec) { s.URL = "" }, []string{"url"}, 0},
		{"bad scheme", func(s *SilenceSpec) { s.URL = "ftp://am" }, []string{"url"}, 0},
		{"no duration", func(s *SilenceSpec) { s.Duration = 0 }, []string{"duration"}, 0},
		{"negative duration", func(s *SilenceSpec) { s.Duration = -1 }, []string{"duration"}, 0},
		{"no comment", func(s *SilenceSpec) { s.Comment = "  " }, []string{"comment"}, 0},
		{"token and basic auth", func(s *SilenceSpec) { s.BearerToken, s.BasicAuth = "t", &probes.BasicAuth{Username: "u"} }, []string{"bearerToken"}, 0},
		{"basic auth without user", func(s *SilenceSpec) { s.BasicAuth = &probes.BasicAuth{Password: "p"} }, []string{"basicAuth.username"}, 0},
		{"bad header", func(s *SilenceSpec) { s.Headers = map[string]string{"X Bad": "v"} }, []string{"headers"}, 0},
		{"insecure and caCert", func(s *SilenceSpec) { s.Insecure, s.CACert = true, "ca.pem" }, []string{"insecure"}, 0},
		{"negative timeout", func(s *SilenceSpec) { s.Timeout = -1 }, []string{"timeout"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := *ok
			tt.change(&s)
			err := s.Validate()
			if got := specErrFields(t, err); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("fields = %v, want %v (%v)", got, tt.want, err)
			}
			if tt.col > 0 {
				var fe *probes.FieldError
				if !errors.As(err, &fe) || fe.Col != tt.col {
					t.Errorf("column = %+v, want %d", fe, tt.col)
				}
			}
		})
	}
}

func TestSilenceSpecDescribe(t *testing.T) {
	d, err := Lookup("silence")
	if err != nil {
		t.Fatal(err)
	}
	s := d.NewSpec().(*SilenceSpec)
	*s = *silenceSpec("https://user:pw@am.example.com/prefix?token=x")
	if got, want := s.Describe(), `silence {alertname=~"Gravl.*", namespace="gravl-prod"} for 2h at https://am.example.com/prefix?… (expired when phase monitor ends)`; got != want {
		t.Errorf("Describe = %q\nwant       %q", got, want)
	}
	if s.Until() != "monitor" || !s.Mutating() || s.Permissions() != nil {
		t.Errorf("until %q, mutating %v, permissions %v", s.Until(), s.Mutating(), s.Permissions())
	}
	s.UntilPhase = ""
	if !strings.HasSuffix(s.Describe(), "(expired when the run ends)") {
		t.Errorf("Describe = %q", s.Describe())
	}
}

// Against a real Alertmanager: the plan lists the matching alerts firing;
// the execution creates the silence as planned (matchers, window from the
// injected clock, author, comment) and it silences them; the cleanup
// expires it, and expiring it again passes.
func TestSilenceLifecycle(t *testing.T) {
	am := promtest.StartAlertmanager(t)
	amFire(t, am,
		map[string]string{"alertname": "GravlAPIDown", "namespace": "gravl-prod", "severity": "critical"},
		map[string]string{"alertname": "GravlDBSlow", "namespace": "gravl-prod"},
		map[string]string{"alertname": "GravlAPIDown", "namespace": "gravl-staging"},
		map[string]string{"alertname": "NodeDown", "namespace": "gravl-prod"},
	)
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { return now }
	a := silenceBuild(t, silenceSpec(am.URL), clock)
	ctx := context.Background()

	plan := a.Plan(ctx)
	wantSummary := `would silence {alertname=~"Gravl.*", namespace="gravl-prod"} for 2h: 2 alerts firing now (GravlAPIDown, GravlDBSlow)`
	if plan.Status != probes.StatusPass || plan.Changes != 1 || plan.Summary != wantSummary {
		t.Errorf("plan = %s %q (changes %d)\nwant summary %q", plan.Status, plan.Summary, plan.Changes, wantSummary)
	}
	end := now.Add(2 * time.Hour)
	wantMsg := `silence {alertname=~"Gravl.*", namespace="gravl-prod"} from ` + now.Format(time.RFC3339) + " to " + end.Format(time.RFC3339) + " (2h), by lead: gravl go-live: rollout noise"
	if plan.Message != wantMsg {
		t.Errorf("plan message = %q\nwant %q", plan.Message, wantMsg)
	}
	var names []string
	for _, it := range plan.Items {
		names = append(names, it.Name+" "+it.Reason)
	}
	if !slices.Equal(names, []string{"GravlAPIDown active", "GravlDBSlow active"}) || !strings.Contains(plan.Items[0].Message, `severity="critical"`) {
		t.Errorf("plan items = %v %+v", names, plan.Items)
	}
	if plan.Values["firing"] != 2 || plan.Values["alerts"] != 2 {
		t.Errorf("plan values = %v", plan.Values)
	}

	res := a.Execute(ctx, nil)
	if res.Status != probes.StatusPass || res.Cleanup == "" || len(res.Objects) != 1 || res.Objects[0] != (Object{Ref: "Silence/" + res.Cleanup, Op: OpCreated}) {
		t.Fatalf("execute = %s %q %q, cleanup %q, objects %+v", res.Status, res.Summary, res.Message, res.Cleanup, res.Objects)
	}
	id := res.Cleanup
	if res.Summary != "silence "+id+" created until "+end.Format(time.RFC3339) {
		t.Errorf("summary = %q", res.Summary)
	}
	var sil amGettableSilence
	amRequest(t, http.MethodGet, am.URL+"/api/v2/silence/"+id, nil, &sil)
	var ms []string
	for _, m := range sil.Matchers {
		ms = append(ms, m.String())
	}
	slices.Sort(ms)
	if !slices.Equal(ms, []string{`alertname=~"Gravl.*"`, `namespace="gravl-prod"`}) || !sil.EndsAt.Equal(end) ||
		sil.Comment != "gravl go-live: rollout noise" || sil.CreatedBy != "lead" || sil.Status.State != "active" {
		t.Errorf("silence = %+v (matchers %v), want ending %s", sil, ms, end)
	}
	promtest.Eventually(t, 30*time.Second, "alerts silenced", func() (bool, string) {
		var got []amGettableAlert
		amRequest(t, http.MethodGet, am.URL+"/api/v2/alerts?silenced=true&active=false", nil, &got)
		n := 0
		for _, al := range got {
			if slices.Contains(al.Status.SilencedBy, id) {
				n++
			}
		}
		return n == 2, strings.Repeat("*", n)
	})

	// Planned again, it notes the duplicate and the alerts already silenced.
	again := a.Plan(ctx)
	if again.Status != probes.StatusPass || !strings.Contains(again.Message, "silence "+id+" (active) has the same matchers") ||
		!strings.Contains(again.Summary, "2 matching alerts, none firing unsuppressed") {
		t.Errorf("plan again = %s %q %q", again.Status, again.Summary, again.Message)
	}

	cl := a.Cleanup(ctx, id)
	if cl.Status != probes.StatusPass || cl.Summary != "silence "+id+" expired" || cl.Objects[0] != (Object{Ref: "Silence/" + id, Op: OpDeleted}) {
		t.Errorf("cleanup = %s %q %+v", cl.Status, cl.Summary, cl.Objects)
	}
	amRequest(t, http.MethodGet, am.URL+"/api/v2/silence/"+id, nil, &sil)
	if sil.Status.State != "expired" {
		t.Errorf("after cleanup the silence is %s", sil.Status.State)
	}
	if cl := a.Cleanup(ctx, id); cl.Status != probes.StatusPass || cl.Summary != "silence "+id+" already expired" {
		t.Errorf("second cleanup = %s %q %q", cl.Status, cl.Summary, cl.Message)
	}
	if cl := a.Cleanup(ctx, "0b0e3f5c-95a6-4d5e-9e1e-3c1a4b6d7e8f"); cl.Status != probes.StatusPass || !strings.Contains(cl.Summary, "not found") {
		t.Errorf("cleanup of an unknown silence = %s %q %q", cl.Status, cl.Summary, cl.Message)
	}
}

// A silence Alertmanager refuses (here one whose matchers all match the
// empty string: Validate would stop it, so the spec is built unvalidated)
// fails with the server's message.
func TestSilenceRefusedByServer(t *testing.T) {
	am := promtest.StartAlertmanager(t)
	spec := silenceSpec(am.URL)
	spec.Matchers = []string{`env=~".*"`}
	built, err := spec.Build(Env{})
	if err != nil {
		t.Fatal(err)
	}
	res := built.Execute(context.Background(), nil)
	if res.Status != probes.StatusError || res.Summary != "cannot create the silence" ||
		!strings.Contains(res.Message, "POST "+am.URL+"/api/v2/silences: 400 Bad Request: ") || !strings.Contains(res.Message, "empty string") || res.Cleanup != "" {
		t.Errorf("execute = %s %q %q", res.Status, res.Summary, res.Message)
	}
}

// An Alertmanager that is down: the plan, the execution and the cleanup
// say so clearly.
func TestSilenceAlertmanagerDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	a := silenceBuild(t, silenceSpec(url), nil)
	ctx := context.Background()
	for what, res := range map[string]Result{"plan": a.Plan(ctx), "execute": a.Execute(ctx, nil), "cleanup": a.Cleanup(ctx, "abc")} {
		if res.Status != probes.StatusError || !strings.Contains(res.Message, "connection refused (is the Alertmanager running at that address?)") ||
			!strings.Contains(res.Message, url+"/api/v2/") || res.Changes != 0 || res.Cleanup != "" {
			t.Errorf("%s = %s %q %q", what, res.Status, res.Summary, res.Message)
		}
	}
	if cl := a.Cleanup(ctx, "abc"); len(cl.Objects) != 1 || cl.Objects[0].Op != OpFailed {
		t.Errorf("cleanup objects = %+v", cl.Objects)
	}
}

// Credentials reach the server and nothing else: a refusal is forbidden,
// and neither the token nor a header's value appears in any result.
func TestSilenceCredentialsNeverShown(t *testing.T) {
	const token, header = "tok-s3cr3t", "hdr-s3cr3t"
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")+" "+r.Header.Get("X-Scope-OrgID"))
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("denied for tenant\n"))
	}))
	defer srv.Close()
	spec := silenceSpec(srv.URL)
	spec.BearerToken, spec.Headers = token, map[string]string{"X-Scope-OrgID": header}
	a := silenceBuild(t, spec, nil)
	ctx := context.Background()
	for what, res := range map[string]Result{"plan": a.Plan(ctx), "execute": a.Execute(ctx, nil), "cleanup": a.Cleanup(ctx, "abc")} {
		js, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != probes.StatusForbidden || !strings.Contains(res.Message, "403 Forbidden: denied for tenant") {
			t.Errorf("%s = %s %q %q", what, res.Status, res.Summary, res.Message)
		}
		if strings.Contains(string(js), "s3cr3t") {
			t.Errorf("%s shows a credential: %s", what, js)
		}
	}
	want := "Bearer " + token + " " + header
	for _, g := range got {
		if !strings.HasSuffix(g, want) {
			t.Errorf("request %q lacks the credentials", g)
		}
	}
	// plan: GET alerts; execute: POST; cleanup: GET the silence, DELETE it.
	if len(got) != 4 || !strings.HasPrefix(got[0], "GET /api/v2/alerts") || !strings.HasPrefix(got[1], "POST /api/v2/silences") ||
		!strings.HasPrefix(got[2], "GET /api/v2/silence/abc") || !strings.HasPrefix(got[3], "DELETE /api/v2/silence/abc") {
		t.Errorf("requests = %q", got)
	}
}
