// Package signoff builds the go-live sign-off report from a journal, and
// from nothing else: the runbook is rebuilt from the source the journal
// keeps, the run from its events. The verdict is computed, never typed —
// a red item that was not overridden with a reason cannot read GO.
//
// It imports runbook, probes and loader types; never tui or Charm.
package signoff
