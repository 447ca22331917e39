package runbook

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultJournalPath is where the journal of the runbook at file lives
// unless --journal says otherwise: next to it, "<name>.journal.jsonl".
func DefaultJournalPath(file string) string {
	ext := filepath.Ext(file)
	if ext == ".yaml" || ext == ".yml" {
		file = strings.TrimSuffix(file, ext)
	}
	return file + ".journal.jsonl"
}

// OpenOptions say how to open the run of a runbook.
type OpenOptions struct {
	// Journal is the journal's path (DefaultJournalPath when empty).
	Journal string
	// Fresh starts a new journal even when one exists; the old one is kept,
	// renamed with its modification time.
	Fresh bool
	// Operator is who resumes (recorded in the Resumed event).
	Operator string
	// AllowActions is the mode of a resumed run (recorded in the Resumed
	// event); a new run records it in its Started event (Runner).
	AllowActions bool
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Cockpit and Hostname are recorded in a new journal's header.
	Cockpit, Hostname string
}

// Session is an opened run: its journal, the state to continue from and
// the effects a resume left pending (steps to run again).
type Session struct {
	Journal *Journal
	State   State
	Pending []Effect
	// Resumed is set when an existing journal was replayed; Replayed counts
	// its events and Torn says whether a torn last line was cut off.
	Resumed  bool
	Replayed int
	Torn     bool
	// Kept is where --fresh moved the previous journal ("" when none).
	Kept string
}

// Open starts the run of rb on a new journal, or resumes it from the
// existing one: the journal is verified (hash chain, sequence), must have
// been written for this runbook and these variables (digest), and is
// replayed; the Resumed event is journaled before Open returns. A journal
// that fails verification is refused, never merged.
func Open(rb *Runbook, opts OpenOptions) (*Session, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	path := opts.Journal
	if path == "" {
		path = DefaultJournalPath(rb.File)
	}
	s := &Session{}
	fi, err := os.Stat(path)
	switch {
	case err == nil && opts.Fresh:
		kept := path + "." + fi.ModTime().UTC().Format("20060102T150405Z")
		if _, err := os.Stat(kept); err == nil {
			return nil, fmt.Errorf("--fresh: %s exists already; move it away first", kept)
		}
		if err := os.Rename(path, kept); err != nil {
			return nil, fmt.Errorf("--fresh: keep the old journal: %w", err)
		}
		s.Kept = kept
	case err == nil:
		return s, s.resume(rb, path, opts, now())
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("journal: %w", err)
	}
	src, vars := rb.Source()
	j, err := CreateJournal(path, Header{Runbook: rb.Metadata.Name, File: rb.File, Digest: rb.Digest,
		Cockpit: opts.Cockpit, Hostname: opts.Hostname, Source: string(src), Vars: vars}, now(), rb.Secrets())
	if err != nil {
		return nil, err
	}
	s.Journal, s.State = j, NewState(rb)
	return s, nil
}

func (s *Session) resume(rb *Runbook, path string, opts OpenOptions, now time.Time) error {
	operator := opts.Operator
	rr, err := ReadJournal(path)
	if err != nil {
		return err
	}
	if err := rr.CheckRunbook(rb); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	events, err := rr.Events()
	if err != nil {
		return fmt.Errorf("%s: %w: %v", path, ErrJournalCorrupt, err)
	}
	j, err := AppendJournal(path, rr, rb.Secrets())
	if err != nil {
		return err
	}
	st, pending, resumed := Replay(rb, events, now, operator, opts.AllowActions)
	if !st.Started {
		// Nothing but the header was written: start as if new.
		s.Journal, s.State, s.Torn = j, NewState(rb), rr.Torn
		return nil
	}
	phase := st.Phases[st.Current].ID
	if err := j.Append(resumed, operator, phase); err != nil {
		j.Close()
		return err
	}
	s.Journal, s.State, s.Pending = j, st, pending
	s.Resumed, s.Replayed, s.Torn = true, len(events), rr.Torn
	return nil
}
