// Package report renders a finished load test: the k6-style end-of-test
// summary for people and a stable JSON document for programs. It reads
// loader snapshots and draws nothing live; it never imports the tui package
// or any Charm module.
package report
