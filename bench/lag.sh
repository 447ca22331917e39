#!/usr/bin/env bash
# bench/lag.sh — does the corrected latency measure the server, not the
# pacer? `cockpit load --rate R` against the reference-style target
# (bench/jitter: /jitter answers in 5 ms, every 20th request in 50 ms and
# every 100th in 500 ms, never queueing) at 200 and 2,000 req/s, with no VU
# flags: prints what was delivered, corrected p50 − raw p50 (target:
# < 0.2 ms when the server does not queue) and the generator lag's p50/p99.
# Then the pacer's CPU cost: BenchmarkPacer at 100 … 10,000 req/s against
# bench/target, with the precise wake-up and with the Go timer alone.
# The targets are pinned to core 1, the loader to core 0. Loopback only.
#
#   bench/lag.sh                    # 10 s per run, 3 rounds
#   ROUNDS=5 DURATION=20 bench/lag.sh
#   SKIP_CPU=1 bench/lag.sh         # the lag runs only
#
# Needs: Go, taskset (util-linux), python3 for the table.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
JADDR=${JADDR:-127.0.0.1:18081}
ADDR=${ADDR:-127.0.0.1:18080}
work=$(mktemp -d)
trap 'kill "${target_pid:-}" "${jitter_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

. bench/pinned-target.sh
need taskset "apt-get install util-linux"
need python3 "apt-get install python3"

start_target "$work" "$ADDR" # also builds cockpit into $work
start_jitter "$work" "$JADDR"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for round in $(seq "$ROUNDS"); do
	for rate in 200 2000; do
		echo "bench: round $round: --rate $rate…" >&2
		taskset -c 0 "$work/cockpit" load --rate "$rate" --duration "${DURATION}s" --output json \
			"http://$JADDR/jitter" >"$work/lag-$rate-$round.json" 2>"$work/lag-$rate-$round.err" || [ $? -eq 4 ]
	done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$work" "$ROUNDS" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
print("| rate | round | delivered req/s | dropped | corrected p50 ms | raw p50 ms | corrected − raw p50 ms | lag p50 ms | lag p99 ms |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for rate in (200, 2000):
    rows = []
    for r in range(1, rounds + 1):
        d = json.load(open(f"{work}/lag-{rate}-{r}.json"))
        c, w, l, dv = d["http_req_duration"], d["http_req_duration_raw"], d["generator_lag"], d["delivery"]
        row = (dv["delivered_rate_per_s"], dv["dropped"], c["med_ms"], w["med_ms"], c["med_ms"] - w["med_ms"], l["med_ms"], l["p99_ms"])
        rows.append(row)
        print(f"| {rate} | {r} | {row[0]:.1f} | {row[1]} | {row[2]:.3f} | {row[3]:.3f} | {row[4]:.3f} | {row[5]:.3f} | {row[6]:.3f} |")
    med = [statistics.median(x[i] for x in rows) for i in range(7)]
    print(f"| {rate} | median | {med[0]:.1f} | {med[1]:.0f} | {med[2]:.3f} | {med[3]:.3f} | **{med[4]:.3f}** | **{med[5]:.3f}** | **{med[6]:.3f}** |")
PY

# VU growth off the pacer's path: the same 2,000 req/s run with a pool that
# must grow from one VU (--vus 1 --max-vus 4000) and with the VUs it needs
# pre-allocated (--vus 400): if starting VUs cost the pacer its schedule,
# the grown run's lag and drops show it.
for round in $(seq "$ROUNDS"); do
	for pool in grow:1:4000 pre:400:400; do
		IFS=: read -r name vus maxvus <<<"$pool"
		echo "bench: round $round: --rate 2000 --vus $vus --max-vus $maxvus…" >&2
		taskset -c 0 "$work/cockpit" load --rate 2000 --vus "$vus" --max-vus "$maxvus" --duration "${DURATION}s" --output json \
			"http://$JADDR/jitter" >"$work/vus-$name-$round.json" 2>"$work/vus-$name-$round.err" || [ $? -eq 4 ]
	done
done
python3 - "$work" "$ROUNDS" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
print("\n| 2,000 req/s | peak VUs | delivered req/s | dropped | lag p50 ms | lag p99 ms | corrected − raw p50 ms |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name, label in (("grow", "grown from 1 VU"), ("pre", "400 pre-allocated")):
    rows = []
    for r in range(1, rounds + 1):
        d = json.load(open(f"{work}/vus-{name}-{r}.json"))
        c, w, l, dv = d["http_req_duration"], d["http_req_duration_raw"], d["generator_lag"], d["delivery"]
        rows.append((d["vus_peak"], dv["delivered_rate_per_s"], dv["dropped"], l["med_ms"], l["p99_ms"], c["med_ms"] - w["med_ms"]))
    med = [statistics.median(x[i] for x in rows) for i in range(6)]
    print(f"| {label} (median of {rounds}) | {med[0]:.0f} | {med[1]:.1f} | {med[2]:.0f} | {med[3]:.3f} | {med[4]:.3f} | {med[5]:.3f} |")
PY

[ -n "${SKIP_CPU:-}" ] && exit 0
echo "bench: the pacer's CPU (BenchmarkPacer, $ROUNDS rounds)…" >&2
go test -c -o "$work/loader.test" ./loader
for round in $(seq "$ROUNDS"); do
	LOADER_BENCH_URL="http://$ADDR/" LOADER_BENCH_SECONDS="$DURATION" taskset -c 0 "$work/loader.test" \
		-test.run '^$' -test.bench BenchmarkPacer -test.benchtime 1x >>"$work/pacer.txt"
done
python3 - "$work/pacer.txt" <<'PY'
import re, statistics, sys, collections
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r"BenchmarkPacer/rate=(\S+)/wake=(\w+)(?:-\d+)?\s+\d+\s+\d+ ns/op\s+(.*)", line)
    if not m:
        continue
    vals = dict((k, float(v)) for v, k in re.findall(r"([\d.]+) (\S+)", m.group(3)))
    runs[(float(m.group(1)), m.group(2))].append(vals)
print("\n| req/s | wake-up | CPU % of a core | lag p50 µs | lag p99 µs | corrected − raw p50 µs | delivered % |")
print("|---:|---|---:|---:|---:|---:|---:|")
for (rate, mode), vs in sorted(runs.items()):
    med = lambda k: statistics.median(v[k] for v in vs)
    print(f"| {rate:,.0f} | {mode} | {med('cpu-%-of-a-core'):.1f} | {med('lag-p50-µs'):.0f} | {med('lag-p99-µs'):.0f} | {med('corrected-minus-raw-p50-µs'):.0f} | {med('delivered-%'):.2f} |")
PY
