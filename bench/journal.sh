#!/usr/bin/env bash
# bench/journal.sh — how fast does a load test grow the journal? `cockpit run`
# runs a one-step runbook, a constant-arrival-rate load against the
# reference-style target (bench/jitter: 5 ms, every 20th request 50 ms, every
# 100th 500 ms) at 100 and 10,000 req/s, and the journal's load.interval
# lines are counted: events, bytes per event, bytes per minute of load. Then
# what one event costs the runner: BenchmarkJournalInterval (encode, redact,
# chain, write, fsync). The target is pinned to core 1. Loopback only.
#
#   bench/journal.sh                  # 30 s per rate
#   DURATION=60 RATES="100 1000 10000" bench/journal.sh
#
# Needs: Go, taskset (util-linux), python3.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${DURATION:-30}
RATES=${RATES:-"100 10000"}
JADDR=${JADDR:-127.0.0.1:18081}
work=$(mktemp -d)
trap 'kill "${jitter_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

. bench/pinned-target.sh
need taskset "apt-get install util-linux"
need python3 "apt-get install python3"

go build -o "$work/cockpit" ./cmd/cockpit
start_jitter "$work" "$JADDR"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
printf '%-10s %-10s %-8s %-8s %-12s %-14s\n' rate delivered events interval bytes/event "bytes/min load"
for rate in $RATES; do
	rb="$work/growth-$rate.yaml"
	cat >"$rb" <<YAML
apiVersion: cockpit/v1
kind: Runbook
metadata: {name: growth-$rate}
phases:
- id: validate
  steps:
  - id: load
    load:
      executor: constant-arrival-rate
      rate: $rate
      duration: ${DURATION}s
      baseURL: http://$JADDR
      requests: [{url: /jitter}]
      thresholds: {http_req_duration: ["p(99)<5000"]}
YAML
	j="$work/growth-$rate.jsonl"
	taskset -c 0 "$work/cockpit" run "$rb" --journal "$j" >/dev/null 2>&1 || true
	python3 - "$j" "$rate" <<'PY'
import json, sys
path, rate = sys.argv[1], sys.argv[2]
events = size = reqs = 0
span = 0.0
for line in open(path, "rb"):
    rec = json.loads(line)
    if rec["type"] != "load.interval":
        continue
    iv = rec["payload"]["interval"]
    events += 1
    size += len(line)
    reqs += iv["requests"]
    span += (iv["endNs"] - iv["startNs"]) / 1e9
per_min = size / span * 60 if span else 0
print(f"{rate:<10} {reqs/span if span else 0:<10.0f} {events:<8} {span/events if events else 0:<8.1f} {size/events if events else 0:<12.0f} {per_min:<14.0f}")
PY
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
go test ./runbook -run '^$' -bench "BenchmarkJournalInterval|BenchmarkIntervalEncode" -benchtime 300x | grep Benchmark
