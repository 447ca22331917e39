// Package loader is the cockpit's embedded load generator: executors (closed
// and open models), pacing, an HTTP client, HdrHistogram recording, live
// snapshots and k6-style thresholds.
//
// The room holds everything that generates load and measures it, and nothing
// that shows it: it never imports the tui package or any Charm module (a test
// enforces it), so the headless mode, the runbook engine and other programs
// can use it. Its only imports are the standard library,
// github.com/HdrHistogram/hdrhistogram-go and its own sub-packages
// (loader/threshold, loader/report).
//
// The shape follows vegeta, with a context:
//
//	snaps, ctl, err := loader.Run(ctx, cfg) // validation errors come back here
//	for s := range snaps {                  // ≤ 10 snapshots a second, the last has Done set
//		…
//	}
//
// Run owns and closes the snapshot channel. One pacing goroutine feeds the
// workers in the open models, where a rate always means total requests per
// second. Cancelling ctx is the only hard stop; Control.Stop, the end of the
// duration, the iteration limit and an abortOnFail threshold stop gracefully,
// giving in-flight requests Executor.GracefulStop to finish.
//
// Latency is recorded in microseconds, clamped to [1µs, 60s], at three
// significant digits. One goroutine owns every histogram: workers append
// results to their own small batch, which the owner swaps out on each tick,
// so nothing touches a histogram concurrently. The owner keeps cumulative
// histograms and a ring of one-second intervals (each interval histogram's
// populated buckets, compactly encoded), from which any window ("last 10 s")
// is merged on demand, exactly. The ring's storage is allocated whole when
// the first second closes, with room for a full ring of such seconds and
// half as much again, instead of growing as the seconds fill, so under a
// steady load memory reaches its level in the first second and stays flat
// whatever the duration. Open models record latency both from the intended
// send time (corrected for coordinated omission) and from the actual send
// (raw).
//
// A distributed run splits one test across workers and merges what they
// measure, with nothing here that talks to a cluster: Segment gives each
// worker its exact part of the test; a worker writes its intervals to
// stdout (WriteWorkerLine: the same Interval records the journal keeps);
// the coordinator decodes its workers' log lines and a WorkerMerger merges
// them by interval index, exactly, saying which workers are missing.
package loader
