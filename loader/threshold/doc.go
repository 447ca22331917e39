// Package threshold parses and evaluates load-test thresholds in k6's
// grammar ("p(95)<200", "rate<0.01", "avg<=150", "count>1000"), extended with
// an optional sliding window ("p(95)<200 over 30s").
//
// It is a leaf package: it knows the metric names the loader records and
// which aggregations apply to each, but nothing of HTTP or histograms, so the
// runbook package can validate thresholds without starting a load test.
//
// Values compare in the metric's unit: milliseconds for durations, a fraction
// in [0, 1] for rates, a plain number for counts, and per second for a
// counter's rate.
//
// It imports only the standard library; never tui or Charm.
package threshold
