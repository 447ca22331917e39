// Command cockpit is a terminal go-live cockpit: it walks a DevOps lead
// through a runbook (preflight → deploy → validate → monitor) with live
// probes, an embedded load generator, gates and a crash-safe journal.
//
// It may import every package of the module; nothing imports it. It is the
// only place exit codes are defined (exit.go).
package main
