// Package runbook holds the go-live runbook: its model, strict YAML parsing
// and validation with file:line:col positions, the engine (a pure state
// machine over events), phase gates and overrides, the append-only journal
// and the sign-off report.
//
// It may import probes and loader (for their types) and the standard
// library. It must never import tui or any Charm module: the headless mode
// (cockpit run) and other programs use it without a terminal.
package runbook
