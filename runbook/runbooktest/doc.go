// Package runbooktest helps tests of the engine and of what is built on it
// (the sign-off, the TUI): random runs for property tests.
package runbooktest
