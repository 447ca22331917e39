#!/usr/bin/env bash
# bench/load.sh — `cockpit load` next to wrk, vegeta and hey, in one run.
#
# Every tool drives the same minimal loopback server (bench/target) with the
# same connections and duration. The server is pinned to one core and the
# load generator to the other (taskset), and each generator's CPU time comes
# from /usr/bin/time -v. Requests per loader CPU-second is the figure that
# stays stable on a shared machine; requests/s and percentiles are printed
# too. Loopback only.
#
#   bench/load.sh                 # 50 connections, 10 s each
#   CONNS=100 DURATION=20 bench/load.sh
#   ROUNDS=3 KEEP=1 bench/load.sh    # every tool 3 times, interleaved; keep raw outputs
#
# Needs: Go, taskset and /usr/bin/time (util-linux, time), python3 for the
# table, wrk (apt-get install wrk). vegeta and hey are installed into the
# cache with `go install` when missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CONNS=${CONNS:-50}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-1}
ADDR=${ADDR:-127.0.0.1:18080}
URL="http://$ADDR/"
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/cockpit/bench
mkdir -p "$CACHE/bin"
work=$(mktemp -d)
# KEEP=1 keeps the tools' raw outputs (the path is printed at the end).
trap 'kill "${target_pid:-}" 2>/dev/null || true; if [ -n "${KEEP:-}" ]; then echo "bench: outputs in $work" >&2; else rm -rf "$work"; fi' EXIT

. bench/pinned-target.sh
need taskset "apt-get install util-linux"
need /usr/bin/time "apt-get install time"
need python3 "apt-get install python3"
need wrk "apt-get install wrk"
[ -x "$CACHE/bin/vegeta" ] || GOBIN="$CACHE/bin" go install github.com/tsenart/vegeta/v12@v12.13.0
[ -x "$CACHE/bin/hey" ] || GOBIN="$CACHE/bin" go install github.com/rakyll/hey@v0.1.4

start_target "$work" "$ADDR"

run() { # name, command…
	local name=$1; shift
	echo "bench: round $round: $name…" >&2
	/usr/bin/time -v -o "$dir/$name.time" taskset -c 0 "$@" >"$dir/$name.out" 2>"$dir/$name.err"
}
echo "GET $URL" >"$work/targets"
# ROUNDS>1 runs every tool again, in turn, so a burst of load from
# elsewhere on the machine hits one round rather than one tool; the tables
# show each round and the median.
for round in $(seq "$ROUNDS"); do
	dir="$work/$round"
	mkdir -p "$dir"
	echo "$(cut -d' ' -f1-3 /proc/loadavg)" >"$dir/load.before"
	run cockpit "$work/cockpit" load --vus "$CONNS" --duration "${DURATION}s" --output json "$URL"
	run wrk wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$URL"
	run vegeta "$CACHE/bin/vegeta" attack -targets "$work/targets" -rate 0 -workers "$CONNS" -max-workers "$CONNS" \
		-duration "${DURATION}s" -output "$dir/vegeta.bin"
	"$CACHE/bin/vegeta" report -type json "$dir/vegeta.bin" >"$dir/vegeta.out"
	rm -f "$dir/vegeta.bin"
	run hey "$CACHE/bin/hey" -c "$CONNS" -z "${DURATION}s" "$URL"
	echo "$(cut -d' ' -f1-3 /proc/loadavg)" >"$dir/load.after"
done

python3 - "$work" "$CONNS" "$DURATION" "$ROUNDS" <<'PY'
import json, re, statistics, sys
work, conns, dur, rounds = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])

def unit(v, u):  # to milliseconds
    return float(v) * {"us": 1e-3, "µs": 1e-3, "ms": 1, "s": 1e3}[u]

def measure(d):
    def cpu_rss(name):
        t = open(f"{d}/{name}.time").read()
        f = lambda k: float(re.search(k + r": ([0-9.]+)", t).group(1))
        return (f("User time \\(seconds\\)") + f("System time \\(seconds\\)"),
                f("Maximum resident set size \\(kbytes\\)") / 1024, f("Percent of CPU this job got"))
    rows = {}
    c = json.load(open(f"{d}/cockpit.out"))
    rows["cockpit load"] = (c["requests"], c["duration_s"], c["http_req_duration"]["med_ms"], c["http_req_duration"]["p99_ms"], "cockpit")
    w = open(f"{d}/wrk.out").read()
    m = re.search(r"(\d+) requests in ([0-9.]+)(ms|s|m)\b", w)
    wsecs = float(m.group(2)) * {"ms": 1e-3, "s": 1, "m": 60}[m.group(3)]  # wrk's own clock: it waits out timeouts
    lat = {m2.group(1): unit(m2.group(2), m2.group(3)) for m2 in re.finditer(r"^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$", w, re.M)}
    rows["wrk"] = (int(m.group(1)), wsecs, lat["50"], lat["99"], "wrk")
    v = json.load(open(f"{d}/vegeta.out"))
    rows["vegeta"] = (v["requests"], v["duration"] / 1e9, v["latencies"]["50th"] / 1e6, v["latencies"]["99th"] / 1e6, "vegeta")
    h = open(f"{d}/hey.out").read()
    n = sum(int(x) for x in re.findall(r"\[\d+\]\s+(\d+) responses", h))
    hl = {m2.group(1): float(m2.group(2)) * 1e3 for m2 in re.finditer(r"(50|99)% in ([0-9.]+) secs", h)}
    hsecs = float(re.search(r"Total:\s+([0-9.]+) secs", h).group(1))
    rows["hey"] = (n, hsecs, hl["50"], hl["99"], "hey")
    out = {}
    for tool, (n, secs, p50, p99, f) in rows.items():
        cpu, rss, pct = cpu_rss(f)
        out[tool] = dict(rps=n / secs, per_cpu=n / cpu, p50=p50, p99=p99, rss=rss, n=n, pct=pct)
    return out

def table(title, out):
    c = out["cockpit load"]
    print(title + "\n")
    print("| tool | requests | req/s | req per loader CPU-s | loader CPU % | p50 ms | p99 ms | peak RSS MB | cockpit req/s ÷ | cockpit req/CPU-s ÷ |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for tool, r in out.items():
        ratio = "" if tool == "cockpit load" else f"{c['rps']/r['rps']:.2f}×"
        ratio2 = "" if tool == "cockpit load" else f"{c['per_cpu']/r['per_cpu']:.2f}×"
        print(f"| {tool} | {r['n']:.0f} | {r['rps']:,.0f} | {r['per_cpu']:,.0f} | {r['pct']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['rss']:.0f} | {ratio} | {ratio2} |")
    print()

runs = []
for r in range(1, rounds + 1):
    d = f"{work}/{r}"
    out = measure(d)
    runs.append(out)
    la = open(f"{d}/load.before").read().strip(), open(f"{d}/load.after").read().strip()
    table(f"Round {r}: {conns} connections, {dur:.0f} s, server and loader pinned to separate cores; load average {la[0]} → {la[1]}", out)
if rounds > 1:
    med = {tool: {k: statistics.median(run[tool][k] for run in runs) for k in runs[0][tool]} for tool in runs[0]}
    table(f"Median of {rounds} rounds (each figure its own median)", med)
PY
