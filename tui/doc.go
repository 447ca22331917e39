// Package tui is the cockpit's terminal interface, built on Bubble Tea,
// Lip Gloss and Bubbles (charm.land/.../v2): one model per pane, a thin root
// model that routes messages and lays panes out, a key map and semantic
// styles. It renders the runbook engine's state and turns keys into engine
// events; it owns no go-live logic.
//
// It may import runbook (runbook/actions for action results), probes and
// loader. Nothing but cmd/cockpit imports it.
package tui
