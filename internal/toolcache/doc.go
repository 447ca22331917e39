// Package toolcache locates the test servers the hack/*/build.sh scripts
// build into versioned cache directories (the test control plane, the
// Prometheus/Alertmanager pair), and says whether a test run requires them.
//
// It imports only the standard library; internal/controlplane and
// internal/promtest use it.
package toolcache
