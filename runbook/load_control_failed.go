package runbook

// LoadControlFailed is an operator's load control (LoadControl) that did
// not reach the load test: the local loader refused it, or — for a
// distributed step — the run's ConfigMap could not be patched (the API
// server's own message kept). The journal then holds both the decision and
// that it was not carried out, so neither the cockpit nor the sign-off
// reads a pause or a rate that never happened. It changes no state.
type LoadControlFailed struct {
	Step  string  `json:"step"`
	Op    string  `json:"op"`
	Value float64 `json:"value,omitempty"`
	Error string  `json:"error"`
}

// EventType implements Event.
func (LoadControlFailed) EventType() string { return "load.control.failed" }

func (e LoadControlFailed) stepOf() string { return e.Step }

// what names the control as the narration does: "load rate 90".
func (e LoadControlFailed) what() string { return loadControlWhat(e.Op, e.Value) }
