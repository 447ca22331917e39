// Package layering holds the test that keeps the engine packages (runbook,
// probes, loader) free of the terminal UI: neither tui nor any Charm module
// may appear among their transitive dependencies. It has no code of its own.
package layering
