package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/internal/promtest"
	"github.com/cockpit-dev/cockpit/probes"
)

// silenceMarkerRE is the comment of silenceSpec's silence as an execution
// creates it: the runbook's, then the execution's marker.
var silenceMarkerRE = regexp.MustCompile(`^gravl go-live: rollout noise \[cockpit [0-9a-f]{16}\]$`)

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
		var got []probes.AlertmanagerAlert
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
	var sil probes.AlertmanagerSilence
	amRequest(t, http.MethodGet, am.URL+"/api/v2/silence/"+id, nil, &sil)
	var ms []string
	for _, m := range sil.Matchers {
		ms = append(ms, m.String())
	}
	slices.Sort(ms)
	if !slices.Equal(ms, []string{`alertname=~"Gravl.*"`, `namespace="gravl-prod"`}) || !sil.EndsAt.Equal(end) ||
		!silenceMarkerRE.MatchString(sil.Comment) || sil.CreatedBy != "lead" || sil.Status.State != "active" {
		t.Errorf("silence = %+v (matchers %v), want ending %s", sil, ms, end)
	}
	promtest.Eventually(t, 30*time.Second, "alerts silenced", func() (bool, string) {
		var got []probes.AlertmanagerAlert
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

	// Each execution marks its silence's comment with an id of its own.
	if !strings.Contains(res.Message, sil.Comment) {
		t.Errorf("message %q does not show the comment %q", res.Message, sil.Comment)
	}
	other := a.Execute(ctx, nil)
	var sil2 probes.AlertmanagerSilence
	amRequest(t, http.MethodGet, am.URL+"/api/v2/silence/"+other.Cleanup, nil, &sil2)
	if other.Status != probes.StatusPass || other.Cleanup == id || !silenceMarkerRE.MatchString(sil2.Comment) || sil2.Comment == sil.Comment {
		t.Errorf("second execution = %s %q, comment %q (first %q)", other.Status, other.Summary, sil2.Comment, sil.Comment)
	}
	if cl := a.Cleanup(ctx, other.Cleanup); cl.Status != probes.StatusPass {
		t.Errorf("cleanup of the second = %s %q", cl.Status, cl.Message)
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

// silenceLossyProxy is a proxy to the Alertmanager at target that
// forwards every request, but answers the POST creating a silence with
// answer, once Alertmanager has answered it (dropping that answer). posts
// counts the POSTs forwarded; forward false drops them unsent.
func silenceLossyProxy(t *testing.T, target *url.URL, forward bool, answer func(http.ResponseWriter, *http.Request)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	posts := &atomic.Int32{}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v2/silences" {
			rp.ServeHTTP(w, r)
			return
		}
		if forward {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			resp, err := http.Post(target.JoinPath(r.URL.Path).String(), "application/json", bytes.NewReader(body))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				posts.Add(1)
			}
		}
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, posts
}

// A POST whose answer is lost after Alertmanager stored the silence — the
// connection dropped, a 5xx from a proxy, the client's timeout — still
// yields the silence: found by its comment's marker, it is the result's
// Cleanup, which expires it. A POST that never reached Alertmanager finds
// nothing (not another execution's silence with the same matchers) and
// fails.
func TestSilenceAnswerLost(t *testing.T) {
	am := promtest.StartAlertmanager(t)
	target, err := url.Parse(am.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ids []string
	for _, tt := range []struct {
		name    string
		timeout time.Duration
		answer  func(w http.ResponseWriter, r *http.Request)
		want    string
	}{
		{"connection dropped", 0, func(w http.ResponseWriter, _ *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				panic(err)
			}
			_ = conn.Close()
		}, "EOF"},
		{"502 from a proxy", 0, func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "upstream reset", http.StatusBadGateway)
		}, "502 Bad Gateway: upstream reset"},
		{"client timeout", 500 * time.Millisecond, func(_ http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // the client gives up
		}, "timeout"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, posts := silenceLossyProxy(t, target, true, tt.answer)
			spec := silenceSpec(srv.URL)
			spec.Timeout = probes.Duration(tt.timeout)
			a := silenceBuild(t, spec, nil)
			res := a.Execute(ctx, nil)
			if res.Status != probes.StatusPass || res.Cleanup == "" || len(res.Objects) != 1 || res.Objects[0] != (Object{Ref: "Silence/" + res.Cleanup, Op: OpCreated}) {
				t.Fatalf("execute = %s %q %q, cleanup %q, objects %+v", res.Status, res.Summary, res.Message, res.Cleanup, res.Objects)
			}
			if !strings.HasSuffix(res.Summary, " (found after its POST's answer was lost)") || !strings.Contains(res.Message, "the POST's answer was lost (") || !strings.Contains(res.Message, tt.want) ||
				!strings.Contains(res.Message, "found after the error by its comment's marker [cockpit ") {
				t.Errorf("message = %q", res.Message)
			}
			if n := posts.Load(); n != 1 {
				t.Errorf("%d POSTs reached Alertmanager", n)
			}
			var sil probes.AlertmanagerSilence
			amRequest(t, http.MethodGet, am.URL+"/api/v2/silence/"+res.Cleanup, nil, &sil)
			if sil.Status.State != "active" || !silenceMarkerRE.MatchString(sil.Comment) || !strings.Contains(res.Message, sil.Comment[strings.LastIndex(sil.Comment, " ["):]) {
				t.Errorf("silence %s = %+v", res.Cleanup, sil)
			}
			ids = append(ids, res.Cleanup)
		})
	}
	if len(ids) != 3 || ids[0] == ids[1] || ids[1] == ids[2] {
		t.Fatalf("silences %v", ids)
	}

	// Not stored at all: the silences above (same matchers, same comment
	// but for the marker) are not taken for this one.
	srv, posts := silenceLossyProxy(t, target, false, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no upstream", http.StatusServiceUnavailable)
	})
	a := silenceBuild(t, silenceSpec(srv.URL), nil)
	res := a.Execute(ctx, nil)
	if res.Status != probes.StatusError || res.Cleanup != "" || len(res.Objects) != 0 ||
		!strings.Contains(res.Message, "503 Service Unavailable: no upstream") || !strings.Contains(res.Message, "found after the error: it was not stored") {
		t.Errorf("not stored = %s %q %q, cleanup %q", res.Status, res.Summary, res.Message, res.Cleanup)
	}
	if n := posts.Load(); n != 0 {
		t.Errorf("%d POSTs reached Alertmanager", n)
	}

	// The cleanups the results named expire what was created.
	for _, id := range ids {
		if cl := a.Cleanup(ctx, id); cl.Status != probes.StatusPass || cl.Summary != "silence "+id+" expired" {
			t.Errorf("cleanup %s = %s %q %q", id, cl.Status, cl.Summary, cl.Message)
		}
	}
	var all []probes.AlertmanagerSilence
	amRequest(t, http.MethodGet, am.URL+"/api/v2/silences", nil, &all)
	for _, s := range all {
		if s.Status.State != "expired" {
			t.Errorf("silence %s left %s", s.ID, s.Status.State)
		}
	}
}
