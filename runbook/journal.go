package runbook

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"time"
)

// JournalVersion is the format of journal lines.
const JournalVersion = 1

// Journal errors callers branch on.
var (
	// ErrJournalExists: a journal is already at the path; resume it or
	// start fresh.
	ErrJournalExists = errors.New("journal exists")
	// ErrJournalMismatch: the journal belongs to another runbook (or
	// another version of it).
	ErrJournalMismatch = errors.New("journal is from a different runbook")
	// ErrJournalCorrupt: the hash chain is broken or a line is unreadable.
	ErrJournalCorrupt = errors.New("journal is corrupt")
)

// Record is one journal line.
type Record struct {
	Seq      uint64          `json:"seq"`
	Time     time.Time       `json:"time"`
	Mono     time.Duration   `json:"monoNs"` // monotonic offset since the journal was opened by this process
	Type     string          `json:"type"`
	Operator string          `json:"operator,omitempty"`
	Phase    string          `json:"phase,omitempty"`
	Step     string          `json:"step,omitempty"`
	Payload  json.RawMessage `json:"payload,omitempty"`
	// Prev is the SHA-256 of the previous line (without its newline); the
	// first line's is empty. Editing or dropping a line breaks the chain.
	Prev string `json:"prev"`
}

// Header is the payload of a journal's first line.
type Header struct {
	Version  int    `json:"version"`
	Runbook  string `json:"runbook"`
	File     string `json:"file"`
	Digest   string `json:"digest"`
	Cockpit  string `json:"cockpit,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	// Source is the runbook file as read, and Vars the overrides it was
	// parsed with: a report rebuilds the run from the journal alone.
	Source string            `json:"source,omitempty"`
	Vars   map[string]string `json:"vars,omitempty"`
}

const headerType = "journal.opened"

// Journal appends events to a file, one fsynced, hash-chained JSON line
// each. It is not safe for concurrent use: the runner owns it.
type Journal struct {
	f      *os.File
	path   string
	seq    uint64
	prev   string
	opened time.Time // monotonic reference
	redact *Redactor
}

// CreateJournal starts a new journal at path for rb. It refuses to
// overwrite an existing file (ErrJournalExists). secrets are values that
// must never be written (the runbook's ${env:…} values); they and
// Authorization/Cookie header values are replaced by [REDACTED].
func CreateJournal(path string, h Header, now time.Time, secrets []string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("%s: %w", path, ErrJournalExists)
		}
		return nil, fmt.Errorf("create journal: %w", err)
	}
	j := &Journal{f: f, path: path, opened: time.Now(), redact: NewRedactor(secrets)}
	h.Version = JournalVersion
	if err := j.write(headerType, "", "", "", h, now); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// AppendJournal reopens an existing, verified journal for appending. A torn
// last line reported by ReadJournal is cut off first.
func AppendJournal(path string, rj *ReadResult, secrets []string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	if err := f.Truncate(rj.ValidBytes); err != nil {
		f.Close()
		return nil, fmt.Errorf("cut torn line: %w", err)
	}
	if _, err := f.Seek(rj.ValidBytes, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("seek journal: %w", err)
	}
	last := rj.Records[len(rj.Records)-1]
	return &Journal{f: f, path: path, seq: last.Seq, prev: rj.lastHash, opened: time.Now(), redact: NewRedactor(secrets)}, nil
}

// Path is where the journal is written.
func (j *Journal) Path() string { return j.path }

// Append writes one event at its time.
func (j *Journal) Append(at At, operator, phase string) error {
	step := ""
	if se, ok := at.Event.(stepEvent); ok {
		step = se.stepOf()
	}
	return j.write(at.Event.EventType(), operator, phase, step, at.Event, at.Time)
}

func (j *Journal) write(typ, operator, phase, step string, payload any, now time.Time) error {
	data, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("journal %s: encode %s: %w", j.path, typ, err)
	}
	// Secrets are taken out of the payload's strings only: the envelope
	// (sequence, times, hashes) and numbers are never touched.
	if data, err = j.redact.JSON(data); err != nil {
		return fmt.Errorf("journal %s: redact %s: %w", j.path, typ, err)
	}
	rec := Record{Seq: j.seq + 1, Time: now.UTC(), Mono: time.Since(j.opened), Type: typ, Operator: operator,
		Phase: phase, Step: step, Payload: data, Prev: j.prev}
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("journal %s: encode record: %w", j.path, err)
	}
	if _, err := j.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("journal %s: write: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal %s: fsync: %w", j.path, err)
	}
	j.seq++
	j.prev = lineHash(line)
	return nil
}

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }

func lineHash(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// ReadResult is a verified journal.
type ReadResult struct {
	Header  Header
	Records []Record // the header record included, first
	// Torn is set when the last line was cut short by a crash: it is not
	// among Records and is cut off when the journal is reopened.
	Torn       bool
	ValidBytes int64
	lastHash   string
}

// ReadJournal reads and verifies a journal: every line parses, sequence
// numbers follow each other and the hash chain holds. A torn last line is
// tolerated (and reported); anything else broken is ErrJournalCorrupt with
// its line number.
func ReadJournal(path string) (*ReadResult, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	rr := &ReadResult{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	var offset int64
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		end := offset + int64(len(line)) + 1
		complete := end <= int64(len(data)) && data[end-1] == '\n'
		var rec Record
		if err := json.Unmarshal(line, &rec); err != nil || !complete {
			if !complete || isLastLine(data, end) {
				rr.Torn = true // the crash cut the last write short
				break
			}
			return nil, fmt.Errorf("%s:%d: %w: unreadable line: %v", path, n, ErrJournalCorrupt, err)
		}
		if rec.Prev != rr.lastHash {
			return nil, fmt.Errorf("%s:%d: %w: hash chain broken (a line before it was changed or removed)", path, n, ErrJournalCorrupt)
		}
		if want := uint64(n); rec.Seq != want {
			return nil, fmt.Errorf("%s:%d: %w: sequence %d, want %d", path, n, ErrJournalCorrupt, rec.Seq, want)
		}
		if n == 1 {
			if rec.Type != headerType {
				return nil, fmt.Errorf("%s:1: %w: not a cockpit journal (first record is %q)", path, ErrJournalCorrupt, rec.Type)
			}
			if err := json.Unmarshal(rec.Payload, &rr.Header); err != nil {
				return nil, fmt.Errorf("%s:1: %w: header: %v", path, ErrJournalCorrupt, err)
			}
		}
		rr.Records = append(rr.Records, rec)
		rr.lastHash = lineHash(line)
		rr.ValidBytes = end
		offset = end
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrJournalCorrupt, err)
	}
	if len(rr.Records) == 0 {
		return nil, fmt.Errorf("%s: %w: no header line", path, ErrJournalCorrupt)
	}
	return rr, nil
}

// isLastLine reports whether end is at (or past) the data's last line.
func isLastLine(data []byte, end int64) bool {
	return end >= int64(len(data)) || len(bytes.TrimSpace(data[end:])) == 0
}

// CheckRunbook refuses a journal written for another runbook or version.
func (rr *ReadResult) CheckRunbook(rb *Runbook) error {
	if rr.Header.Digest != rb.Digest {
		return fmt.Errorf("%w: it was written for %q with digest %s, the runbook now has %s (start anew with --fresh, which keeps the old journal)",
			ErrJournalMismatch, rr.Header.Runbook, short(rr.Header.Digest), short(rb.Digest))
	}
	return nil
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19] + "…"
	}
	return d
}

// Events decodes the records after the header into timed events.
func (rr *ReadResult) Events() ([]At, error) {
	out := make([]At, 0, len(rr.Records))
	for _, rec := range rr.Records[1:] {
		ev, err := decodeEvent(rec.Type, rec.Payload)
		if err != nil {
			return nil, fmt.Errorf("journal record %d: %w", rec.Seq, err)
		}
		out = append(out, At{Time: rec.Time, Event: ev})
	}
	return out, nil
}

// eventTypes are the journaled events, by type name.
var eventTypes = func() map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for _, ev := range []Event{Started{}, Tick{}, RunStep{}, RunPhase{}, ProbeResult{}, LoadResult{},
		LoadControl{}, LoadInterval{}, Confirmed{}, Skipped{}, Overridden{}, Advance{}, Aborted{}, Resumed{},
		ActionPlanned{}, ActionDone{}, UndoRequested{}, ActionUndone{}, ActionCleaned{}, AccessReviewed{}, LoadWorkersChanged{},
		LoadControlFailed{}} {
		m[ev.EventType()] = reflect.TypeOf(ev)
	}
	return m
}()

func decodeEvent(typ string, payload json.RawMessage) (Event, error) {
	t, ok := eventTypes[typ]
	if !ok {
		return nil, fmt.Errorf("unknown event type %q", typ)
	}
	ev := reflect.New(t)
	if t.NumField() > 0 {
		if err := json.Unmarshal(payload, ev.Interface()); err != nil {
			return nil, fmt.Errorf("%s: %w", typ, err)
		}
	}
	return ev.Elem().Interface().(Event), nil // events are applied by value
}

// Replay rebuilds the state from a journal's events, then applies a
// Resumed event at now: in-flight steps are run again, everything
// completed, confirmed or overridden stands. The Resumed event is returned
// for the caller to journal.
func Replay(rb *Runbook, events []At, now time.Time, operator string, allowActions bool) (State, []Effect, At) {
	s := NewState(rb)
	for _, at := range events {
		s, _ = Apply(s, at)
	}
	resumed := At{Time: now, Event: Resumed{Operator: operator, Events: len(events), AllowActions: allowActions}}
	s, effects := Apply(s, resumed)
	return s, effects, resumed
}
