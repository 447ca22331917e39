package loader

import (
	"time"

	"github.com/cockpit-dev/cockpit/loader/threshold"
)

// Snapshot is the state of a run at one moment. Run publishes at most ten a
// second; a slow reader gets the latest, never a backlog. A snapshot shares
// nothing with the run: it is safe to keep and read from any goroutine.
type Snapshot struct {
	// Seq counts snapshots from 1.
	Seq int
	// Time is when the snapshot was taken, by the run's clock.
	Time time.Time
	// Elapsed is the time since the run started.
	Elapsed time.Duration
	// Done is set on the last snapshot, taken when every VU has stopped.
	Done bool
	// Reason says why the run stopped or is stopping ("" while it runs).
	Reason StopReason
	// Executor is the executor kind.
	Executor ExecutorKind
	// Paused is set while Control.Pause holds the run.
	Paused bool
	// VUs is the number of VUs started and not stopped.
	VUs int
	// PeakVUs is the most VUs alive at once so far: how far an open
	// model's pool grew.
	PeakVUs int
	// InFlight is the number of requests being sent right now.
	InFlight int
	// TargetVUs is what a closed model aims for now.
	TargetVUs int
	// MaxVUs caps an open model's VUs.
	MaxVUs int
	// Starved is set while an open model's pacer holds a due iteration
	// because all MaxVUs VUs are busy: the target rate is not being met.
	Starved bool
	// TargetRate is an open model's current target, in iterations per second.
	TargetRate float64
	// Delivery is what an open model sent against what its schedule made
	// due so far (zero in closed models); Shortfall explains a shortfall.
	Delivery Delivery
	// Planned is how long the executor was to run (its duration, or the
	// sum of its stages); Iterations its iteration limit (0: none).
	Planned    time.Duration
	Iterations int64
	// WindowSize is the span Window aims to cover (Config.Window).
	WindowSize time.Duration
	// Window covers the last WindowSize of the run.
	Window Stats
	// Total covers the whole run.
	Total Stats
	// Thresholds are evaluated on this snapshot, in configuration order.
	Thresholds []ThresholdState
	// Events lists every control change, stage and stop, oldest first.
	Events []Event
	// Intervals are the Interval records closed since the last snapshot
	// the reader took (Config.Intervals; nil without it), oldest first:
	// a snapshot replaced before it was read hands its own on, so a reader
	// that reads every snapshot sees every interval once.
	Intervals []Interval
}

// Passed reports whether every threshold passes.
func (s Snapshot) Passed() bool {
	for _, t := range s.Thresholds {
		if !t.Pass {
			return false
		}
	}
	return true
}

// StopReason says why a run stopped.
type StopReason string

// Stop reasons.
const (
	ReasonDuration   StopReason = "duration"   // the executor's duration elapsed
	ReasonIterations StopReason = "iterations" // the iteration limit was reached
	ReasonStopped    StopReason = "stopped"    // Control.Stop
	ReasonThreshold  StopReason = "threshold"  // an abortOnFail threshold failed
	ReasonCancelled  StopReason = "cancelled"  // the context was cancelled: a hard stop
)

// Stats are the counters and latency distributions over a span of the run.
type Stats struct {
	// Span is the time covered.
	Span time.Duration
	// Requests completed, failed ones included (one per iteration).
	Requests int64
	// Dropped iterations: an open model could not start them within MaxLag.
	Dropped int64
	// Interrupted requests were cut by the end of the grace period or the
	// context; they count nowhere else.
	Interrupted int64
	// Failed requests had a transport error or a status >= 400
	// (http_req_failed).
	Failed int64
	// Errored requests had any error class, failed checks included (errors).
	Errored int64
	// ChecksPassed and ChecksFailed count check outcomes (checks).
	ChecksPassed, ChecksFailed int64
	// BytesIn and BytesOut count bytes on the wire.
	BytesIn, BytesOut int64
	// Errors counts requests by error class.
	Errors ErrorCounts
	// Status counts responses by status code.
	Status map[int]int64
	// Rate is completed requests per second over Span.
	Rate float64
	// Latency is http_req_duration: from the intended start in open models
	// (corrected for coordinated omission), from the send in closed ones.
	Latency Latency
	// Raw is latency from the actual send; the same as Latency in closed
	// models.
	Raw Latency
	// Lag is the generator's own lateness in open models: from when the
	// schedule wanted a request sent to when its VU sent it (pacer wake-up,
	// hand-off, waiting for a free VU). Latency = Raw + Lag, request by
	// request: what Lag does not explain is the server's queueing. Zero in
	// closed models, which have no schedule.
	Lag Latency
	// Phases break requests down; connection phases only count requests
	// that opened a connection.
	DNS, Connect, TLS, Sending, Waiting, Receiving Latency
}

// ErrorCounts counts requests by error class.
type ErrorCounts struct {
	Refused, Timeout, Reset, DNS, TLS, Protocol, Other int64
	HTTP4xx, HTTP5xx, CheckFailed                      int64
}

// ByClass returns the count of one class.
func (e ErrorCounts) ByClass(c ErrorClass) int64 {
	if n := e.count(c); n != nil {
		return *n
	}
	return 0
}

// count is the field that counts class c (nil for none).
func (e *ErrorCounts) count(c ErrorClass) *int64 {
	switch c {
	case ClassRefused:
		return &e.Refused
	case ClassTimeout:
		return &e.Timeout
	case ClassReset:
		return &e.Reset
	case ClassDNS:
		return &e.DNS
	case ClassTLS:
		return &e.TLS
	case ClassProtocol:
		return &e.Protocol
	case ClassOther:
		return &e.Other
	case ClassHTTP4xx:
		return &e.HTTP4xx
	case ClassHTTP5xx:
		return &e.HTTP5xx
	case ClassCheckFailed:
		return &e.CheckFailed
	}
	return nil
}

// Classes lists the error classes in report order.
func Classes() []ErrorClass {
	return []ErrorClass{ClassRefused, ClassTimeout, ClassReset, ClassDNS, ClassTLS, ClassProtocol, ClassOther,
		ClassHTTP4xx, ClassHTTP5xx, ClassCheckFailed}
}

// Latency summarises a latency distribution. Values carry HdrHistogram's
// three significant digits.
type Latency struct {
	Count                                    int64
	Min, Mean, P50, P90, P95, P99, P999, Max time.Duration
}

// ThresholdState is a threshold's verdict on a snapshot.
type ThresholdState struct {
	threshold.Threshold
	// Value is the aggregated value compared, in the metric's unit.
	Value float64
	// HasSamples is false while the metric has nothing to aggregate; such a
	// threshold is not passing, and fails at the end.
	HasSamples bool
	// Pass is the verdict.
	Pass bool
	// Aborted is set when this threshold stopped the run (abortOnFail).
	Aborted bool
}

// EventKind names an event.
type EventKind string

// Events.
const (
	EventStart        EventKind = "start"
	EventPaused       EventKind = "paused"
	EventResumed      EventKind = "resumed"
	EventRate         EventKind = "rate"  // Control.SetRate; Value is the new rate
	EventVUs          EventKind = "vus"   // Control.SetVUs; Value is the new VUs
	EventStage        EventKind = "stage" // a ramping executor entered a stage; Value is its index
	EventStopping     EventKind = "stopping"
	EventAbort        EventKind = "threshold-abort"
	EventGraceExpired EventKind = "grace-expired"
	EventError        EventKind = "error" // a non-fatal problem, e.g. the HDR log failed
	// EventInsufficientVUs: an open model reached MaxVUs with every VU busy
	// and an iteration due (recorded once per run, like k6's warning).
	EventInsufficientVUs EventKind = "insufficient-vus"
	// EventAutoVUs: an open model's VUs were sized from the rate (AutoVUs);
	// the message says how many.
	EventAutoVUs EventKind = "auto-vus"
)

// Event is something that changed during the run.
type Event struct {
	Elapsed time.Duration
	Kind    EventKind
	Value   float64
	Message string
}
