package runbook

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/probes"
)

// journalRun plays a short run, journaling every event, and returns the
// journal path, the live state and the events.
func journalRun(t *testing.T, secrets []string) (string, *sim, []At) {
	t.Helper()
	m := newSim(t, engineRunbook)
	path := filepath.Join(t.TempDir(), "run.journal.jsonl")
	j, err := CreateJournal(path, Header{Runbook: "engine-test", File: "engine.yaml", Digest: m.s.Runbook.Digest}, m.now, secrets)
	if err != nil {
		t.Fatal(err)
	}
	var events []At
	record := func(ev Event) {
		at := At{Time: m.now, Event: ev}
		if err := j.Append(at, "lead", m.s.Phases[m.s.Current].ID); err != nil {
			t.Fatal(err)
		}
		events = append(events, at)
		m.s, m.effects = Apply(m.s, at)
		for _, eff := range m.effects {
			if sp, ok := eff.(StartProbe); ok {
				m.runs[sp.Step] = sp.RunID
			}
		}
		m.now = m.now.Add(time.Second)
	}
	record(Started{Operator: "lead"})
	record(ProbeResult{Step: "issuers", RunID: m.runs["issuers"], Result: probes.Result{Status: probes.StatusFail, Summary: "3/4 Ready",
		Items: []probes.Item{{Name: "internal-ca-issuer", Status: probes.StatusFail, Reason: "ErrGetKeyPair"}}}})
	record(ProbeResult{Step: "issuers", RunID: m.runs["issuers"], Result: probes.Result{Status: probes.StatusFail, Summary: "3/4 Ready",
		Message: `token hunter2-secret rejected; headers {"Authorization":"Bearer abc.def"}`}})
	record(Overridden{Step: "issuers", Operator: "lead", Reason: "internal CA unused until phase 11"})
	record(Confirmed{Step: "notify", Operator: "lead", Note: "posted in #go-live"})
	// api is now in flight; the "crash" happens here.
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return path, m, events
}

func TestJournalRoundTripAndResume(t *testing.T) {
	path, live, events := journalRun(t, nil)
	rr, err := ReadJournal(path)
	if err != nil {
		t.Fatalf("ReadJournal: %v", err)
	}
	if rr.Torn || len(rr.Records) != len(events)+1 || rr.Header.Runbook != "engine-test" || rr.Header.Version != JournalVersion {
		t.Fatalf("read %d records (torn %v), header %+v", len(rr.Records), rr.Torn, rr.Header)
	}
	if err := rr.CheckRunbook(live.s.Runbook); err != nil {
		t.Fatal(err)
	}
	got, err := rr.Events()
	if err != nil {
		t.Fatal(err)
	}
	for i := range events {
		if i == 2 { // carries a credential: it comes back redacted
			if msg := got[i].Event.(ProbeResult).Result.Message; !strings.Contains(msg, `"Authorization":"[REDACTED]"`) {
				t.Errorf("event 2 message = %q, want the credential redacted", msg)
			}
			continue
		}
		if !reflect.DeepEqual(got[i].Event, events[i].Event) || !got[i].Time.Equal(events[i].Time) {
			t.Errorf("event %d: got %+v, want %+v", i, got[i], events[i])
		}
	}

	s, effects, resumed := Replay(live.s.Runbook, got, live.now, "lead", false)
	if resumed.Event.(Resumed).Events != len(events) {
		t.Errorf("resumed = %+v", resumed)
	}
	pi, si, _ := s.Find("issuers")
	if st := s.Phases[pi].Steps[si]; st.Status != StepOverridden || st.Override.Text != "internal CA unused until phase 11" {
		t.Errorf("override did not stand: %+v", st)
	}
	if _, si, _ := s.Find("notify"); s.Phases[0].Steps[si].Confirm == nil {
		t.Error("confirmation did not stand")
	}
	// api and extra were in flight: they run again.
	if got := started(effects); !reflect.DeepEqual(got, []string{"api#1", "extra#1"}) {
		t.Errorf("resume started %v, want the in-flight steps", got)
	}
}

func TestJournalRefusesToOverwrite(t *testing.T) {
	path, _, _ := journalRun(t, nil)
	_, err := CreateJournal(path, Header{}, time.Now(), nil)
	if !errors.Is(err, ErrJournalExists) {
		t.Errorf("CreateJournal over an existing one: %v", err)
	}
}

func TestJournalTornLastLine(t *testing.T) {
	path, live, events := journalRun(t, nil)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":7,"time":"2026-03-09T08:00:09Z","type":"step.confirm`) // the crash cut it here
	f.Close()

	rr, err := ReadJournal(path)
	if err != nil {
		t.Fatalf("a torn last line must be tolerated: %v", err)
	}
	if !rr.Torn || len(rr.Records) != len(events)+1 {
		t.Fatalf("torn %v, %d records", rr.Torn, len(rr.Records))
	}
	j, err := AppendJournal(path, rr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(At{Time: live.now, Event: Advance{Operator: "lead"}}, "lead", "preflight"); err != nil {
		t.Fatal(err)
	}
	j.Close()
	rr2, err := ReadJournal(path)
	if err != nil {
		t.Fatalf("after appending past the torn line: %v", err)
	}
	if rr2.Torn || len(rr2.Records) != len(events)+2 || rr2.Records[len(rr2.Records)-1].Type != "phase.advance" {
		t.Errorf("torn %v, %d records, last %q", rr2.Torn, len(rr2.Records), rr2.Records[len(rr2.Records)-1].Type)
	}
}

func TestJournalTamperingDetected(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(lines [][]byte) [][]byte
		want   string
	}{
		{name: "edited line", tamper: func(l [][]byte) [][]byte {
			l[4] = bytes.Replace(l[4], []byte("internal CA unused"), []byte("internal CA is fine"), 1)
			return l
		}, want: ":6: journal is corrupt: hash chain broken"},
		{name: "removed line", tamper: func(l [][]byte) [][]byte { return append(l[:2], l[3:]...) }, want: ":3: journal is corrupt: hash chain broken"},
		{name: "garbage in the middle", tamper: func(l [][]byte) [][]byte { l[2] = []byte("{not json"); return l }, want: ":3: journal is corrupt: unreadable line"},
		{name: "not a journal", tamper: func(l [][]byte) [][]byte { return l[1:] }, want: ":1: journal is corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _, _ := journalRun(t, nil)
			data, _ := os.ReadFile(path)
			lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
			lines = tt.tamper(lines)
			os.WriteFile(path, append(bytes.Join(lines, []byte("\n")), '\n'), 0o600)
			_, err := ReadJournal(path)
			if !errors.Is(err, ErrJournalCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrJournalCorrupt with %q", err, tt.want)
			}
		})
	}
}

func TestJournalFromAnotherRunbook(t *testing.T) {
	path, _, _ := journalRun(t, nil)
	rr, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	other := mustParse(t, strings.Replace(engineRunbook, "retries: 1", "retries: 2", 1))
	if err := rr.CheckRunbook(other); !errors.Is(err, ErrJournalMismatch) || !strings.Contains(err.Error(), "--fresh") {
		t.Errorf("CheckRunbook(changed runbook) = %v", err)
	}
}

func TestJournalRedactsSecrets(t *testing.T) {
	path, _, _ := journalRun(t, []string{"hunter2-secret"})
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter2-secret", "Bearer abc.def"} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("journal contains %q", secret)
		}
	}
	if !bytes.Contains(data, []byte("[REDACTED]")) {
		t.Error("no redaction marker in the journal")
	}
	if _, err := ReadJournal(path); err != nil {
		t.Errorf("a redacted journal must still verify: %v", err)
	}
}

func TestParseCollectsSecrets(t *testing.T) {
	rb, err := ParseFile("testdata/valid.yaml", Options{LookupEnv: env(map[string]string{"GRAVL_TOKEN": "tok-123456"})})
	if err != nil {
		t.Fatal(err)
	}
	if got := rb.Secrets(); !reflect.DeepEqual(got, []string{"tok-123456"}) {
		t.Errorf("Secrets() = %v", got)
	}
}

// Every event about a step names it on its journal line, actions' too.
func TestJournalLinesNameTheirStep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "steps.jsonl")
	now := time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)
	j, err := CreateJournal(path, Header{Runbook: "steps"}, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	events := []Event{ProbeResult{Step: "a"}, ActionPlanned{Step: "b"}, ActionDone{Step: "c"}, UndoRequested{Step: "d"},
		ActionUndone{Step: "e"}, ActionCleaned{Step: "f"}, Confirmed{Step: "g"}, Tick{}}
	for _, ev := range events {
		if err := j.Append(At{Time: now, Event: ev}, "lead", "deploy"); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	rr, err := ReadJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rec := range rr.Records[1:] {
		got = append(got, rec.Step)
	}
	if want := []string{"a", "b", "c", "d", "e", "f", "g", ""}; !slices.Equal(got, want) {
		t.Errorf("steps on the journal's lines %q, want %q", got, want)
	}
}
