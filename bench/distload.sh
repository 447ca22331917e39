#!/usr/bin/env bash
# bench/distload.sh — `cockpit load --workers N` on the real-cluster rig:
# delivered req/s and the coordinator's CPU for N = 1, 2, 3, at a fixed
# total rate (--rate 300) and at a closed model's full speed (--vus 12),
# against the reference target in the cluster. The coordinator runs as its
# own process; its CPU is user+sys from /proc/PID/stat between the shared
# start and the summary. Prints the table README's Performance section
# holds. Needs root and the rig (hack/realcluster/build.sh builds it).
#
#   bench/distload.sh              # 15 s a run, 6 runs
#   DURATION=30 bench/distload.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=$(hack/realcluster/build.sh)
COCKPIT_REALCLUSTER_BIN=$bin COCKPIT_REQUIRE_CONTROLPLANE=1 COCKPIT_DISTLOAD_BENCH=1 DURATION=${DURATION:-15} \
  go test -p 1 -count=1 -run '^TestDistributedLoadScaling$' -v ./cmd/cockpit/ | grep -v '^\s*$'
