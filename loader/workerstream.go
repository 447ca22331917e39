package loader

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// A distributed run's workers report to the coordinator on their standard
// output, which the coordinator follows through the pods' logs. Each
// report is one line: WorkerMarker, then a JSON object (WorkerLine). The
// marker lets the coordinator pass over anything else a worker logs; a
// line that starts with it must decode, or the stream is corrupt.
//
//	cockpit-worker/1 {"worker":3,"workers":8,"interval":{"index":41,…,"latency":"HISTFAAA…","raw":"HISTFAAA…",…}}
//	cockpit-worker/1 {"worker":3,"workers":8,"final":{"intervals":60,"total":{"index":0,…,"latency":"HISTFAAA…",…}}}
//
// An interval line carries the very Interval record the journal's
// load.interval events carry — histograms in HdrHistogram's V2 compressed
// base64 encoding, counts by status and error class, bytes, VUs — with
// Index counted from the run's shared start, so the coordinator merges
// every worker's interval k into the run's interval k. The final line
// comes last, once the worker's run is over: how many intervals it wrote
// and its whole-run record, whose histograms are the worker's own totals,
// against which the merged intervals can be checked. The "/1" is the
// format's version.

// WorkerMarker begins every line of a worker's stream.
const WorkerMarker = "cockpit-worker/1 "

// WorkerLine is one line of a worker's stream: exactly one of Interval
// and Final is set.
type WorkerLine struct {
	// Worker is the worker's index, from 0; Workers how many the run has.
	Worker  int `json:"worker"`
	Workers int `json:"workers"`
	// Interval is one interval of the worker's load.
	Interval *Interval `json:"interval,omitempty"`
	// Final closes the stream.
	Final *WorkerFinal `json:"final,omitempty"`
}

// WorkerFinal is a worker's last line.
type WorkerFinal struct {
	// Intervals is how many interval lines the worker wrote: indexes
	// Intervals−1 and below are its, none above.
	Intervals int `json:"intervals"`
	// Total is the worker's whole run as one record: Start 0, End its
	// end, Index 0, histograms and counts over everything it recorded.
	Total Interval `json:"total"`
}

// WriteWorkerLine writes l to w as one line, in a single Write so that
// lines written from several goroutines never interleave.
func WriteWorkerLine(w io.Writer, l WorkerLine) error {
	if err := l.check(); err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString(WorkerMarker)
	if err := json.NewEncoder(&b).Encode(l); err != nil { // Encode ends the line
		return fmt.Errorf("worker line: %w", err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("worker line: %w", err)
	}
	return nil
}

// ErrWorkerLine is a line that starts with WorkerMarker but is not a valid
// worker line.
var ErrWorkerLine = errors.New("malformed worker line")

// DecodeWorkerLine parses one line of a worker's log, with or without its
// line ending. A line that does not start with WorkerMarker is none of
// the stream's: ok is false and err nil. A line that does and is not a
// valid worker line is an error wrapping ErrWorkerLine that names what is
// wrong: the JSON, or the field ("interval.latency", "worker", …). The
// histograms are decoded and checked here: they must have the loader's
// geometry, or they would not merge exactly.
func DecodeWorkerLine(line []byte) (l WorkerLine, ok bool, err error) {
	l, ok, err = parseWorkerLine(line)
	if !ok || err != nil {
		return l, ok, err
	}
	var d countsDecoder
	if _, _, err := d.decodeLine(l, nil, nil); err != nil {
		return WorkerLine{}, true, err
	}
	return l, true, nil
}

// parseWorkerLine is DecodeWorkerLine but for the histograms' encoding.
func parseWorkerLine(line []byte) (l WorkerLine, ok bool, err error) {
	rest, ok := bytes.CutPrefix(line, []byte(WorkerMarker))
	if !ok {
		return WorkerLine{}, false, nil
	}
	dec := json.NewDecoder(bytes.NewReader(rest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return WorkerLine{}, true, fmt.Errorf("%w: %w", ErrWorkerLine, err)
	}
	if len(bytes.TrimSpace(rest[dec.InputOffset():])) > 0 {
		return WorkerLine{}, true, fmt.Errorf("%w: text after the JSON object", ErrWorkerLine)
	}
	if err := l.check(); err != nil {
		return WorkerLine{}, true, err
	}
	return l, true, nil
}

// record is the line's record: its interval, or its final whole-run one,
// and the path of that in the line.
func (l WorkerLine) record() (*Interval, string) {
	if l.Final != nil {
		return &l.Final.Total, "final.total"
	}
	return l.Interval, "interval"
}

// decodeLine appends the populated buckets of the line's corrected and
// raw histograms to cor and raw; a closed model's raw are its corrected.
func (d *countsDecoder) decodeLine(l WorkerLine, cor, raw []bucketCount) ([]bucketCount, []bucketCount, error) {
	iv, path := l.record()
	cor, err := d.decode(cor[:0], iv.Latency)
	if err != nil {
		return cor, raw, fmt.Errorf("%w: %s.latency: %w", ErrWorkerLine, path, err)
	}
	if iv.Raw == "" {
		return cor, append(raw[:0], cor...), nil
	}
	raw, err = d.decode(raw[:0], iv.Raw)
	if err != nil {
		return cor, raw, fmt.Errorf("%w: %s.raw: %w", ErrWorkerLine, path, err)
	}
	return cor, raw, nil
}

// check validates everything but the histograms' encoding.
func (l WorkerLine) check() error {
	bad := func(path, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrWorkerLine, path, fmt.Sprintf(format, args...))
	}
	switch {
	case l.Workers < 1:
		return bad("workers", "must be at least 1, got %d", l.Workers)
	case l.Worker < 0 || l.Worker >= l.Workers:
		return bad("worker", "must be from 0 to %d, got %d", l.Workers-1, l.Worker)
	case (l.Interval == nil) == (l.Final == nil):
		return bad("interval", "exactly one of interval and final must be set")
	}
	if l.Final != nil && l.Final.Intervals < 0 {
		return bad("final.intervals", "must be >= 0, got %d", l.Final.Intervals)
	}
	iv, path := l.record()
	switch {
	case iv.Index < 0:
		return bad(path+".index", "must be >= 0, got %d", iv.Index)
	case iv.Start < 0 || iv.End < iv.Start:
		return bad(path+".endNs", "the interval runs from %d to %d ns", iv.Start, iv.End)
	case iv.Latency == "":
		return bad(path+".latency", "is required")
	case iv.Requests < 0 || iv.Failed < 0 || iv.Errored < 0 || iv.Interrupted < 0 || iv.Dropped < 0 ||
		iv.ChecksPassed < 0 || iv.ChecksFailed < 0 || iv.BytesIn < 0 || iv.BytesOut < 0 || iv.VUs < 0 || iv.MaxVUs < 0 ||
		iv.Due < 0 || iv.Sent < 0:
		return bad(path, "a count is negative")
	}
	return nil
}
