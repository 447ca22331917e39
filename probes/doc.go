// Package probes observes live systems: Kubernetes objects through client-go
// watches, HTTP, DNS, TLS, TCP, Prometheus exposition endpoints, Prometheus
// queries and Alertmanager alerts. A probe observes; the outcome rules in its
// spec judge. Probe failures are results, not errors.
//
// It may import client-go, the standard library and small libraries. It must
// never import runbook, tui or any Charm module.
package probes
