#!/usr/bin/env bash
# bench/probes.sh — what Kubernetes probes cost the API server.
#
# 20 and then 200 Kubernetes probes over five resource types (deployments,
# pods, networkpolicies, clusterissuers, certificates) run in a Watcher
# against the real test API server (hack/envtest), every probe on a 10 s
# interval, with one Deployment status written per second. For each it
# reports, from the API server's own metrics (apiserver_request_total,
# apiserver_longrunning_requests, read with the admin credentials): open
# watches, read requests (LIST/WATCH/GET) per minute in steady state, read
# requests in all (start-up and shutdown included), results per minute and
# this process's CPU. The request figures are the same for 20 and 200
# probes: one informer per resource type, never per probe. Loopback only.
#
#   bench/probes.sh               # 60 s steady-state window per run
#   WINDOW=5m bench/probes.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
assets=$(hack/envtest/build.sh)
KUBEBUILDER_ASSETS="$assets" COCKPIT_BENCH_PROBES=1 COCKPIT_BENCH_WINDOW="${WINDOW:-60s}" \
  go test ./probes -run '^$' -bench '^BenchmarkK8sProbes$' -benchtime 1x -timeout 30m
