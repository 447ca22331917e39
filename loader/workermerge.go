package loader

import (
	"fmt"
	"maps"
	"strings"
	"time"
)

// WorkerMerger is the coordinator's side of a distributed run: it takes
// the lines of every worker's stream (WorkerLine), in any order and with
// repeats — a log followed again after the API server restarted repeats
// what it had already sent — and merges them by interval index into the
// run's intervals, exactly: each interval's histograms are the merge of
// the workers' (HdrHistogram's merge adds bucket counts, so any percentile
// of the result is the one a single histogram fed every worker's samples
// would give), its counts their sums. Each (worker, interval) counts once.
//
// Intervals are emitted in index order, each once. Interval k is emitted
// when every worker that owes it has reported it: every worker but the
// lost ones (Lose) and those whose final line says they wrote fewer.
// Without waiting for a worker:
//
//   - that is silent: it has sent nothing for SilentAfter;
//   - that skipped k: it has sent a later interval, and k has waited for
//     it for SilentAfter since k's first line (a line lost between two
//     follows of its log);
//   - when a line comes maxPending intervals ahead of k (a worker far
//     behind everyone else), which bounds the memory held.
//
// Such an interval lists the workers missing from it: it is never passed
// off as complete. A line that arrives for an interval already emitted
// without it is late: it is counted, not merged, since what was emitted
// was emitted (the worker's final line still has it).
//
// Create the merger at the run's shared start: a worker is silent when it
// has sent nothing for SilentAfter since then. Time is read from the Clock
// only, and silence decided when Add, Lose or Check is called. A
// WorkerMerger is not safe for concurrent use: one goroutine feeds it
// every worker's lines.
type WorkerMerger struct {
	n           int
	clock       Clock
	silentAfter time.Duration
	next        int                // the next interval to emit
	pend        []*pendingInterval // pend[k] is interval next+k, nil when nothing came for it
	free        []*pendingInterval
	lastEnd     time.Duration // End of the last interval emitted
	workers     []workerState
	final       *pendingInterval // the workers' final records, merged
	dec         countsDecoder
	cor, raw    []bucketCount // the line being added's
}

// DefaultSilentAfter is how long a worker may send nothing before it is
// flagged silent and the intervals it holds back are emitted without it.
// Workers write a line a second, and a followed log delivers it within a
// second or so: five seconds is several lines missed, not one late.
const DefaultSilentAfter = 5 * time.Second

// maxPending bounds the intervals held back waiting for a worker: each
// holds two histograms (~140 KB each). A line this far ahead of the
// oldest interval not yet emitted emits the oldest one, without the
// workers that have not reported it.
const maxPending = 120

// maxAhead bounds how far ahead of the oldest interval not yet emitted a
// line may be: twenty minutes of one-second intervals. A line further
// ahead is no worker's — a corrupt index — and is refused rather than
// emit every interval before it.
const maxAhead = 1200

// MergerOptions configure a WorkerMerger.
type MergerOptions struct {
	// Clock is the time source (default: the real clock).
	Clock Clock
	// SilentAfter is how long a worker may send nothing before it is
	// silent (default DefaultSilentAfter).
	SilentAfter time.Duration
}

// workerState is what the merger knows of one worker.
type workerState struct {
	last     time.Time // the last line, or when the merger started
	seen     bool      // any line yet
	top      int       // highest interval index received, -1 before any
	done     bool      // the final line came
	owed     int       // from the final line: intervals below owed are its
	lost     bool
	lostAt   time.Time
	lostFrom int // the first interval emitted without it because it is lost
	reason   string
	missed   []span // intervals emitted without it, in order
	late     int64
	dups     int64
}

// span is the intervals [from, to).
type span struct{ from, to int }

// pendingInterval is an interval being merged.
type pendingInterval struct {
	rec      Interval  // counts summed; histograms in cor and raw
	cor, raw []int64   // counts arrays of the loader's geometry
	open     bool      // some worker sent a raw histogram
	first    time.Time // when its first line came
	has      []bool
	count    int
}

// NewWorkerMerger returns a merger of n workers' streams.
func NewWorkerMerger(n int, opts MergerOptions) (*WorkerMerger, error) {
	if n < 1 {
		return nil, fieldErr("workers", "must be at least 1, got %d", n)
	}
	if opts.SilentAfter < 0 {
		return nil, fieldErr("silentAfter", "must be >= 0, got %s", opts.SilentAfter)
	}
	if opts.SilentAfter == 0 {
		opts.SilentAfter = DefaultSilentAfter
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	m := &WorkerMerger{n: n, clock: opts.Clock, silentAfter: opts.SilentAfter, workers: make([]workerState, n)}
	now := m.clock.Now()
	for i := range m.workers {
		m.workers[i] = workerState{last: now, top: -1}
	}
	return m, nil
}

// MergedInterval is one interval of the run, merged from the workers'.
type MergedInterval struct {
	// Interval is the merged record: histograms merged and encoded as the
	// journal's are, counts, bytes, VUs and rates summed, Start the
	// earliest worker's, End and Time the latest's. Thresholds are left
	// to the coordinator.
	Interval
	// Workers is how many the run has; Merged how many are in this
	// interval.
	Workers, Merged int
	// Missing are the workers that owed this interval and are not in it:
	// lost, silent, or too far behind. Workers that ended before it owe
	// nothing.
	Missing []int
}

// Complete reports whether every worker that owed the interval is in it.
func (m MergedInterval) Complete() bool { return len(m.Missing) == 0 }

// AddLine decodes one line of a worker's log and adds it (Add). A line
// that is not the stream's is passed over.
func (m *WorkerMerger) AddLine(line []byte) ([]MergedInterval, error) {
	l, ok, err := parseWorkerLine(line)
	if !ok || err != nil {
		return nil, err
	}
	return m.Add(l)
}

// Add takes one decoded line and returns the intervals it, or the time
// since the last call, lets the merger emit, oldest first. A line from a
// worker the run does not have, or one the worker's own final line says
// it never wrote, is an error and changes nothing.
func (m *WorkerMerger) Add(l WorkerLine) (_ []MergedInterval, err error) {
	if l.Workers != m.n {
		return nil, fmt.Errorf("%w: workers: the run has %d, the line says %d", ErrWorkerLine, m.n, l.Workers)
	}
	if err := l.check(); err != nil {
		return nil, err
	}
	if m.cor, m.raw, err = m.dec.decodeLine(l, m.cor, m.raw); err != nil {
		return nil, err
	}
	cor, raw := m.cor, m.raw
	w := &m.workers[l.Worker]
	now := m.clock.Now()
	if l.Final != nil {
		if !w.done {
			m.addFinal(l.Final, cor, raw)
			w.done, w.owed = true, l.Final.Intervals
		} else {
			w.dups++
		}
		w.last, w.seen = now, true
		return m.emit(now, -1)
	}
	k := l.Interval.Index
	if w.done && k >= w.owed {
		return nil, fmt.Errorf("%w: interval.index: worker %d's final line says it wrote %d intervals, got interval %d", ErrWorkerLine, l.Worker, w.owed, k)
	}
	if k >= m.next+maxAhead {
		return nil, fmt.Errorf("%w: interval.index: %d is more than %d intervals ahead of the oldest one not yet emitted (%d)", ErrWorkerLine, k, maxAhead, m.next)
	}
	var out []MergedInterval
	if k >= m.next+maxPending {
		// The oldest intervals go, so that k's fits.
		if out, err = m.emit(now, k); err != nil {
			return out, err
		}
	}
	w.last, w.seen = now, true
	w.top = max(w.top, k)
	switch {
	case k < m.next:
		if inSpans(w.missed, k) {
			w.late++ // emitted without it
		} else {
			w.dups++
		}
	case w.lost && k > w.lostFrom:
		w.late++ // it was lost before this interval
	default:
		p := m.pending(k)
		if p.has[l.Worker] {
			w.dups++
			break
		}
		if w.lost {
			w.lostFrom++ // its log had one more interval (k) before it was lost
		}
		if p.count == 0 {
			p.first = now
		}
		p.add(l.Worker, l.Interval, cor, raw)
	}
	more, err := m.emit(now, k)
	return append(out, more...), err
}

// Check emits the intervals that workers gone silent since the last call
// held back. Call it every second or so: silence is noticed only then.
func (m *WorkerMerger) Check() ([]MergedInterval, error) { return m.emit(m.clock.Now(), -1) }

// Lose declares a worker lost for good — its pod was OOMKilled, evicted,
// deleted — for reason. From the first interval it has not reported on,
// intervals are emitted without it and list it missing; the status keeps
// which interval that was. Losing a lost worker changes nothing.
func (m *WorkerMerger) Lose(worker int, reason string) ([]MergedInterval, error) {
	if worker < 0 || worker >= m.n {
		return nil, fieldErr("worker", "must be from 0 to %d, got %d", m.n-1, worker)
	}
	w := &m.workers[worker]
	now := m.clock.Now()
	if !w.lost {
		w.lost, w.lostAt, w.reason = true, now, reason
		// The first interval it is not in: past every interval emitted
		// and every one it reported without a gap.
		w.lostFrom = m.next
		for k := m.next; k < m.next+len(m.pend) && m.pend[k-m.next] != nil && m.pend[k-m.next].has[worker]; k++ {
			w.lostFrom = k + 1
		}
		if n := len(w.missed); w.lostFrom == m.next && n > 0 && w.missed[n-1].to == m.next {
			// A silence already left it out from there on.
			w.lostFrom = w.missed[n-1].from
		}
	}
	return m.emit(now, -1)
}

// pending returns interval k's pending record, k >= m.next, creating it
// (and nil ones before it) as needed.
func (m *WorkerMerger) pending(k int) *pendingInterval {
	for len(m.pend) <= k-m.next {
		m.pend = append(m.pend, nil)
	}
	p := m.pend[k-m.next]
	if p == nil {
		p = m.newPending()
		p.rec.Index = k
		m.pend[k-m.next] = p
	}
	return p
}

func (m *WorkerMerger) newPending() *pendingInterval {
	if n := len(m.free); n > 0 {
		p := m.free[n-1]
		m.free = m.free[:n-1]
		return p
	}
	return newPending(m.n)
}

func newPending(n int) *pendingInterval {
	return &pendingInterval{cor: make([]int64, loaderCounts()), raw: make([]int64, loaderCounts()), has: make([]bool, n)}
}

// release resets p and keeps it for another interval: memory stays at the
// most intervals ever pending at once.
func (m *WorkerMerger) release(p *pendingInterval) {
	clear(p.cor)
	clear(p.raw)
	clear(p.has)
	status, errs := p.rec.Status, p.rec.Errors
	clear(status)
	clear(errs)
	p.rec = Interval{Status: status, Errors: errs}
	p.open, p.count = false, 0
	m.free = append(m.free, p)
}

// add merges worker's interval into p.
func (p *pendingInterval) add(worker int, iv *Interval, cor, raw []bucketCount) {
	addBuckets(p.cor, cor)
	addBuckets(p.raw, raw)
	p.open = p.open || iv.Raw != ""
	if p.count == 0 {
		p.rec.Start, p.rec.End, p.rec.Time = iv.Start, iv.End, iv.Time
	} else {
		p.rec.Start, p.rec.End = min(p.rec.Start, iv.Start), max(p.rec.End, iv.End)
		if iv.Time.After(p.rec.Time) {
			p.rec.Time = iv.Time
		}
	}
	r := &p.rec
	r.AddCounts(*iv)
	r.VUs += iv.VUs
	r.MaxVUs += iv.MaxVUs
	r.TargetRate += iv.TargetRate
	if worker >= 0 {
		p.has[worker] = true
	}
	p.count++
}

// record returns p's merged record, histograms encoded.
func (p *pendingInterval) record() (Interval, error) {
	rec := p.rec
	rec.Status, rec.Errors = nil, nil
	if len(p.rec.Status) > 0 {
		rec.Status = maps.Clone(p.rec.Status)
	}
	if len(p.rec.Errors) > 0 {
		rec.Errors = maps.Clone(p.rec.Errors)
	}
	var err error
	if rec.Latency, err = EncodeHistogram(histogramOf(p.cor)); err != nil {
		return Interval{}, err
	}
	if p.open {
		if rec.Raw, err = EncodeHistogram(histogramOf(p.raw)); err != nil {
			return Interval{}, err
		}
	}
	return rec, nil
}

// emit emits every interval that can be, oldest first. top is the
// index of the line just added (-1: none): one maxPending ahead of the
// oldest forces it out. An interval whose histograms do not encode stays
// pending, and the error comes back with the intervals emitted before it.
func (m *WorkerMerger) emit(now time.Time, top int) ([]MergedInterval, error) {
	var out []MergedInterval
	for {
		forced := top >= m.next+maxPending
		if len(m.pend) == 0 && !forced {
			break
		}
		var p *pendingInterval
		if len(m.pend) > 0 {
			p = m.pend[0]
		}
		held := m.heldSince()
		var missing []int
		wait := false
		for i := range m.workers {
			w := &m.workers[i]
			switch {
			case p != nil && p.has[i]:
			case w.done && m.next >= w.owed:
			case w.lost, forced, now.Sub(w.last) > m.silentAfter,
				w.top > m.next && now.Sub(held) > m.silentAfter:
				missing = append(missing, i)
			default:
				wait = true
			}
			if wait {
				break
			}
		}
		if wait {
			break
		}
		if p == nil && !forced && !m.laterPending() {
			break // nothing came for it, nor after it
		}
		if p == nil {
			p = m.pending(m.next)
			p.rec.Start, p.rec.End = m.lastEnd, m.lastEnd
		}
		rec, err := p.record()
		if err != nil {
			return out, fmt.Errorf("merged interval %d: %w", m.next, err)
		}
		for _, i := range missing {
			m.workers[i].miss(m.next)
		}
		out = append(out, MergedInterval{Interval: rec, Workers: m.n, Merged: p.count, Missing: missing})
		m.lastEnd = rec.End
		m.release(p)
		if len(m.pend) > 0 {
			m.pend[0] = nil
			m.pend = m.pend[1:]
		}
		m.next++
	}
	if len(m.pend) == 0 {
		m.pend = m.pend[:0:0] // let the backing array go
	}
	return out, nil
}

// heldSince is when the first line of the oldest interval with data came.
func (m *WorkerMerger) heldSince() time.Time {
	for _, p := range m.pend {
		if p != nil && p.count > 0 {
			return p.first
		}
	}
	return m.clock.Now()
}

// laterPending reports whether an interval after the oldest has data.
func (m *WorkerMerger) laterPending() bool {
	for _, p := range m.pend[min(1, len(m.pend)):] {
		if p != nil {
			return true
		}
	}
	return false
}

// miss records that interval k was emitted without w.
func (w *workerState) miss(k int) {
	if n := len(w.missed); n > 0 && w.missed[n-1].to == k {
		w.missed[n-1].to++
		return
	}
	w.missed = append(w.missed, span{k, k + 1})
}

// inSpans reports whether k is in one of the spans.
func inSpans(spans []span, k int) bool {
	for _, s := range spans {
		if k >= s.from && k < s.to {
			return true
		}
	}
	return false
}

// addFinal merges a worker's final record.
func (m *WorkerMerger) addFinal(f *WorkerFinal, cor, raw []bucketCount) {
	if m.final == nil {
		m.final = newPending(m.n)
	}
	m.final.add(-1, &f.Total, cor, raw)
}

// Final returns the workers' final records merged: the whole run's
// histograms and counts as the workers recorded them, every sample of
// theirs included, late ones too. Missing lists the workers whose final
// line has not come (lost ones, or not finished yet): without them the
// record is not the whole run's.
func (m *WorkerMerger) Final() (MergedInterval, error) {
	out := MergedInterval{Workers: m.n}
	for i, w := range m.workers {
		if !w.done {
			out.Missing = append(out.Missing, i)
		}
	}
	if m.final == nil {
		rec, err := newPending(m.n).record()
		out.Interval = rec
		return out, err
	}
	rec, err := m.final.record()
	if err != nil {
		return MergedInterval{}, fmt.Errorf("final: %w", err)
	}
	rec.Index = 0
	out.Interval, out.Merged = rec, m.final.count
	return out, nil
}

// WorkerState is what a worker is doing, as the merger sees it.
type WorkerState string

// Worker states.
const (
	WorkerReporting WorkerState = "reporting" // its lines come
	WorkerSilent    WorkerState = "silent"    // nothing for more than SilentAfter
	WorkerLost      WorkerState = "lost"      // declared lost (Lose)
	WorkerDone      WorkerState = "done"      // its final line came
)

// WorkerStatus is one worker's state.
type WorkerStatus struct {
	Worker int
	State  WorkerState
	// Since is when the state began: a silent worker's last line (or the
	// merger's start, when it never sent one); when a worker was lost.
	Since time.Time
	// LastLine is when its last line came (zero: none yet); LastInterval
	// the highest interval index it sent (-1: none).
	LastLine     time.Time
	LastInterval int
	// LostFrom is the first interval emitted without a lost worker;
	// Reason why it was lost.
	LostFrom int
	Reason   string
	// Missed counts the intervals emitted without it; Late its lines that
	// came after their interval was emitted; Duplicates its lines that
	// repeated one already counted.
	Missed     int
	Late       int64
	Duplicates int64
}

// MergeStatus is the state of a merge: who is reporting.
type MergeStatus struct {
	// At is the clock's time of the status.
	At time.Time
	// Workers is how many the run has; Reporting how many are neither
	// silent nor lost (a worker that finished counts as reporting);
	// Silent and Lost how many are. A runbook's minWorkers compares with
	// Workers − Lost: silence may pass, a loss does not.
	Workers, Reporting, Silent, Lost int
	// Next is the next interval index to emit.
	Next int
	// Each worker's state, by index.
	Each []WorkerStatus
}

// Status returns the merge's state now.
func (m *WorkerMerger) Status() MergeStatus {
	now := m.clock.Now()
	s := MergeStatus{At: now, Workers: m.n, Next: m.next, Each: make([]WorkerStatus, m.n)}
	for i, w := range m.workers {
		ws := WorkerStatus{Worker: i, State: WorkerReporting, LastInterval: w.top, Late: w.late, Duplicates: w.dups, Since: w.last}
		if w.seen {
			ws.LastLine = w.last
		}
		for _, sp := range w.missed {
			ws.Missed += sp.to - sp.from
		}
		switch {
		case w.lost:
			ws.State, ws.Since, ws.LostFrom, ws.Reason = WorkerLost, w.lostAt, w.lostFrom, w.reason
		case w.done:
			ws.State = WorkerDone
		case now.Sub(w.last) > m.silentAfter:
			ws.State = WorkerSilent
		}
		switch ws.State {
		case WorkerReporting, WorkerDone:
			s.Reporting++
		case WorkerSilent:
			s.Silent++
		case WorkerLost:
			s.Lost++
		}
		s.Each[i] = ws
	}
	return s
}

// Complete reports whether every worker is reporting.
func (s MergeStatus) Complete() bool { return s.Reporting == s.Workers }

// String says who is reporting, as the load pane and the sign-off do:
// "8 of 8 workers reporting", or "7 of 8 workers reporting · worker 3
// lost from interval 42 (OOMKilled) · worker 5 silent for 7s".
func (s MergeStatus) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d workers reporting", s.Reporting, s.Workers)
	for _, w := range s.Each {
		switch w.State {
		case WorkerLost:
			fmt.Fprintf(&b, " · worker %d lost from interval %d", w.Worker, w.LostFrom)
			if w.Reason != "" {
				fmt.Fprintf(&b, " (%s)", w.Reason)
			}
		case WorkerSilent:
			if w.LastLine.IsZero() {
				fmt.Fprintf(&b, " · worker %d not heard from in %s", w.Worker, s.At.Sub(w.Since).Round(time.Second))
			} else {
				fmt.Fprintf(&b, " · worker %d silent for %s", w.Worker, s.At.Sub(w.Since).Round(time.Second))
			}
		}
	}
	return b.String()
}
