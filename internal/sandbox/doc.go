// Package sandbox is the demo room `cockpit demo` runs against: a stand-in
// for the "gravl" go-live of the seed document, started in-process and bound
// to loopback only (127.0.0.1, free ports), so a demo, test or benchmark never
// touches a real network or cluster.
//
// Start brings up:
//
//   - the gravl API backend over HTTP and HTTPS (/health, /api/exercises,
//     /metrics in Prometheus text format), with faults injectable at run time
//     (latency distribution, error rate, stall) through Faults;
//   - a generated ECDSA CA and a leaf certificate for gravl.app,
//     staging.gravl.app, api.gravl.app, localhost and 127.0.0.1, whose CA is
//     exposed so clients verify properly (the sandbox never skips
//     verification; private keys stay inside its tls.Config);
//   - an authoritative DNS server for gravl.app. over UDP and TCP whose
//     records (Zone) can be changed while it serves;
//   - a SimulatedCluster: client-go's fake typed and dynamic clients seeded
//     with the seed document's cluster state (cert-manager and its four
//     ClusterIssuers, one of them not Ready; sealed-secrets; CoreDNS; the
//     gravl-staging workloads and NetworkPolicies), with small simulated
//     controllers that roll Deployments out over a few ticks.
//
// Everything here is a demo fake. Tests that claim Kubernetes behaviour use
// the envtest control plane, never the SimulatedCluster. The package never
// imports the tui package or any Charm package.
package sandbox
