package distload

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// The ConfigMap's keys: the test, and the run's controls. The coordinator
// writes them; the workers watch them.
const (
	// KeyArgs is the `cockpit load` arguments of the test, a JSON array
	// of strings (flags and URLs), thresholds left out: the coordinator
	// evaluates them on the merged data.
	KeyArgs = "args"
	// KeyWorkers is how many workers the run has.
	KeyWorkers = "workers"
	// KeyStart is the shared start instant, RFC 3339 with nanoseconds;
	// absent until every worker's pod is Running.
	KeyStart = "start"
	// KeyPaused is "true" while the run is paused.
	KeyPaused = "paused"
	// KeyRate is the whole run's rate (iterations per second, open
	// models) set during the run; each worker takes its part.
	KeyRate = "rate"
	// KeyVUs is the whole run's VUs (closed models) or VU cap (open)
	// set during the run; each worker takes its part.
	KeyVUs = "vus"
	// KeyStop is "true" to stop gracefully: in-flight requests get the
	// graceful stop, then every worker writes its final line.
	KeyStop = "stop"
	// KeyAbort is "true" to stop at once: the workers cancel their run.
	KeyAbort = "abort"
)

// Control is the run's state as the ConfigMap holds it.
type Control struct {
	// Args is the test (KeyArgs); Workers how many workers run it.
	Args    []string
	Workers int
	// Start is the shared start (zero: not set yet).
	Start time.Time
	// Paused, Stop and Abort are the run's switches.
	Paused, Stop, Abort bool
	// Rate and VUs are the whole run's, set during the run (0: unset).
	Rate float64
	VUs  int
}

// ParseControl reads a run's ConfigMap data. Errors name the key.
func ParseControl(data map[string]string) (Control, error) {
	var c Control
	if err := json.Unmarshal([]byte(data[KeyArgs]), &c.Args); err != nil {
		return c, fmt.Errorf("configmap key %s: %w", KeyArgs, err)
	}
	n, err := strconv.Atoi(data[KeyWorkers])
	if err != nil || n < 1 {
		return c, fmt.Errorf("configmap key %s: want a whole number >= 1, got %q", KeyWorkers, data[KeyWorkers])
	}
	c.Workers = n
	if s := data[KeyStart]; s != "" {
		if c.Start, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return c, fmt.Errorf("configmap key %s: %w", KeyStart, err)
		}
	}
	for key, p := range map[string]*bool{KeyPaused: &c.Paused, KeyStop: &c.Stop, KeyAbort: &c.Abort} {
		if s := data[key]; s != "" {
			if *p, err = strconv.ParseBool(s); err != nil {
				return c, fmt.Errorf("configmap key %s: %w", key, err)
			}
		}
	}
	if s := data[KeyRate]; s != "" {
		if c.Rate, err = strconv.ParseFloat(s, 64); err != nil || c.Rate <= 0 {
			return c, fmt.Errorf("configmap key %s: want a rate > 0, got %q", KeyRate, s)
		}
	}
	if s := data[KeyVUs]; s != "" {
		if c.VUs, err = strconv.Atoi(s); err != nil || c.VUs < 1 {
			return c, fmt.Errorf("configmap key %s: want a whole number >= 1, got %q", KeyVUs, s)
		}
	}
	return c, nil
}

// FormatStart writes a start instant as KeyStart holds it.
func FormatStart(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
