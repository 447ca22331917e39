package probes

import "fmt"

// Status is the judgement of one observation: one enum, never booleans.
type Status uint8

// The statuses, from "nothing known yet" to "could not look".
const (
	StatusPending   Status = iota // not observed yet
	StatusPass                    // observed, and the outcome rules pass it
	StatusWarn                    // observed, passes, but a warn rule matched
	StatusFail                    // observed, and a fail rule matched
	StatusError                   // could not observe: network, timeout, bad response
	StatusForbidden               // the credentials may not observe (RBAC)
)

var statusNames = [...]string{
	StatusPending:   "pending",
	StatusPass:      "pass",
	StatusWarn:      "warn",
	StatusFail:      "fail",
	StatusError:     "error",
	StatusForbidden: "forbidden",
}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", s)
}

// ParseStatus is the inverse of String.
func ParseStatus(s string) (Status, error) {
	for i, name := range statusNames {
		if name == s {
			return Status(i), nil
		}
	}
	return StatusPending, fmt.Errorf("unknown status %q", s)
}

// MarshalText writes the status by name (JSON, the journal).
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a status by name.
func (s *Status) UnmarshalText(b []byte) error {
	v, err := ParseStatus(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// OK reports whether the status lets a gate pass (pass or warn).
func (s Status) OK() bool { return s == StatusPass || s == StatusWarn }

// severity orders statuses for Worst: a gate looks at the worst item.
var severity = [...]int{
	StatusPass:      0,
	StatusWarn:      1,
	StatusPending:   2,
	StatusFail:      3,
	StatusError:     4,
	StatusForbidden: 5,
}

// Worst returns the most severe of the statuses (StatusPass for none).
func Worst(statuses ...Status) Status {
	worst := StatusPass
	for _, s := range statuses {
		if int(s) < len(severity) && severity[s] > severity[worst] {
			worst = s
		}
	}
	return worst
}
