package runbook

import (
	"time"

	"github.com/cockpit-dev/cockpit/loader"
)

// intervalLength is the length of a load step's journaled intervals: the
// loader's rule (loader.IntervalLength) applied to the executor's planned
// duration — its duration, or the sum of its stages.
func intervalLength(e loader.Executor) time.Duration {
	planned := e.Duration
	if planned == 0 {
		for _, st := range e.Stages {
			planned += st.Duration
		}
	}
	return loader.IntervalLength(planned)
}
