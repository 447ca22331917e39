// Package tui is the cockpit's terminal interface, built on Bubble Tea,
// Lip Gloss and Bubbles (charm.land/.../v2). It renders the runbook
// engine's state and turns keys into engine events; it owns no go-live
// logic: whether the engine would take a confirmation or an undo is the
// engine's answer (runbook.State.CanConfirm, CanUndo), shown in its words.
//
// The cockpit is a root model and one type per pane, each in its file:
//
//	model.go       Model, the root: keeps the engine's state and the run's
//	               view (runview.go), routes messages and keys to the panes,
//	               lays them out (layout.go) and draws the frame (view.go:
//	               header, phase rail, help bar and its notice)
//	steps.go       stepsPane: the step list; owns the selection
//	detail.go      detailPane: the selected step in full
//	loadpane.go    loadPane: the wide screens' load band and the load keys
//	journalpane.go journalPane: the journal's tail
//	dialog.go      dialogPane: a modal question in the detail's place
//	diffview.go    diffPane: the dry-run diff viewer over the body
//
// A pane (pane.go) has Update, View, SetSize and ShortHelp. It draws from
// the runView the root hands it after every change (runViewMsg) and reads
// no other pane; what it asks of the rest of the cockpit — a notice, the
// viewer to open or close — it posts through its env, and the root
// delivers that before the message being handled is done. Events for the
// engine go out in commands, never in Update.
//
// LoadView (loadview.go) is `cockpit load`'s standalone screen; it and
// the load pane both draw a run with loadState (load.go, chart.go). Feed
// (feed.go) carries the runner's observations into a program without
// blocking it.
//
// It may import runbook (runbook/actions for action results), probes and
// loader. Nothing but cmd/cockpit imports it.
package tui
