// Package promtest starts real Prometheus and Alertmanager servers for tests,
// on loopback, from the binaries hack/promtest/build.sh builds from the Go
// module proxy.
//
// The binaries' directory is $COCKPIT_PROMTEST_BIN, else build.sh's cache
// directory. Without binaries a test skips with the command that builds
// them — or fails, when [Required] (CI, `make test`).
//
// It is test plumbing: only tests import it, and it never imports tui or Charm.
package promtest
