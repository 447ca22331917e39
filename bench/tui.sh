#!/usr/bin/env bash
# bench/tui.sh — what the cockpit's TUI costs while a load test runs.
#
# 1,000 requests/s against the minimal loopback server (bench/target), in
# two pairs, alternating, ROUNDS times: `cockpit load` with its live load
# view open in a real terminal (a detached tmux session, 200x60) and with
# --no-tui; and the cockpit itself on bench/tui-runbook.yaml (one load
# step) in that terminal and headless (`cockpit run`). The server is
# pinned to core 1 and cockpit to core 0; the CPU time (user+sys) of each
# cockpit run comes from /usr/bin/time -v. The view's share is each
# round's difference over the run's duration, as a percentage of one
# core, and their median. Loopback only.
#
#   bench/tui.sh                      # 5 rounds of 20 s each
#   ROUNDS=5 DURATION=30 bench/tui.sh
#
# Needs: Go, tmux, taskset and /usr/bin/time, python3 for the table.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RATE=${RATE:-1000}
DURATION=${DURATION:-20}
ROUNDS=${ROUNDS:-5}
ADDR=${ADDR:-127.0.0.1:18081}
URL="http://$ADDR/"
work=$(mktemp -d)
session="cockpit-bench-tui-$$"
trap 'tmux kill-session -t "$session" 2>/dev/null || true; kill "${target_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

. bench/pinned-target.sh
need tmux "apt-get install tmux"
need taskset "apt-get install util-linux"
need /usr/bin/time "apt-get install time"
need python3 "apt-get install python3"

start_target "$work" "$ADDR"

load=("$work/cockpit" load --rate "$RATE" --vus 20 --max-vus 100 --duration "${DURATION}s" "$URL")
# The cockpit itself on a runbook whose one step is the same load test.
cockpit=("$work/cockpit" bench/tui-runbook.yaml --var "target=http://$ADDR" --var "duration=${DURATION}s")
headless=("$work/cockpit" run bench/tui-runbook.yaml --var "target=http://$ADDR" --var "duration=${DURATION}s")

# in_terminal NAME WANT COMMAND…: runs the command in a detached 200x60
# tmux session under /usr/bin/time; once the load's time is up, keeps the
# screen (it must show WANT: the view was drawn) and sends q, each second
# until the process has ended (bounded).
in_terminal() {
	local name=$1 want=$2; shift 2
	tmux new-session -d -s "$session" -x 200 -y 60 \
		"/usr/bin/time -v -o $work/$name.time taskset -c 0 $* 2>$work/$name.err; touch $work/$name.done"
	sleep "$DURATION"
	for _ in $(seq 60); do
		[ -e "$work/$name.done" ] && break
		tmux capture-pane -p -t "$session" >"$work/$name.screen" 2>/dev/null || true
		tmux send-keys -t "$session" q 2>/dev/null || true
		sleep 1
	done
	tmux kill-session -t "$session" 2>/dev/null || true
	[ -e "$work/$name.done" ] || { echo "bench: $name did not finish" >&2; exit 1; }
	grep -q "$want" "$work/$name.screen" || { echo "bench: $name: the view was not on screen:" >&2; cat "$work/$name.screen" >&2; exit 1; }
}

for round in $(seq "$ROUNDS"); do
	echo "bench: round $round: cockpit load, view open…" >&2
	in_terminal "loadtui.$round" p95 "${load[@]}"
	echo "bench: round $round: cockpit load --no-tui…" >&2
	/usr/bin/time -v -o "$work/loadplain.$round.time" taskset -c 0 "${load[@]}" --no-tui >/dev/null 2>"$work/loadplain.$round.err"
	echo "bench: round $round: the cockpit on the runbook…" >&2
	rm -f "$work/journal.jsonl"
	in_terminal "cockpit.$round" p95 "${cockpit[@]}" --journal "$work/journal.jsonl"
	echo "bench: round $round: cockpit run (headless)…" >&2
	rm -f "$work/journal.jsonl"
	/usr/bin/time -v -o "$work/headless.$round.time" taskset -c 0 "${headless[@]}" --journal "$work/journal.jsonl" >/dev/null 2>"$work/headless.$round.err" || true
done

python3 - "$work" "$ROUNDS" "$DURATION" <<'EOF'
import re, statistics, sys
work, rounds, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
def cpu(name):
    text = open(f"{work}/{name}.time").read()
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", text).group(1))
    sys_ = float(re.search(r"System time \(seconds\): ([\d.]+)", text).group(1))
    return user + sys_
print(f"| run ({duration:.0f} s at 1,000 req/s, cockpit on one core) | each round | median |")
print("|---|---|---:|")
for label, a, b, plain in [("cockpit load", "loadtui", "loadplain", "--no-tui"),
                           ("the cockpit on a runbook", "cockpit", "headless", "headless (cockpit run)")]:
    with_view = [cpu(f"{a}.{r}") for r in range(1, rounds + 1)]
    without = [cpu(f"{b}.{r}") for r in range(1, rounds + 1)]
    # Rounds alternate, so each round's pair shares the machine's load of
    # the moment: the median of the per-round differences is the estimate.
    diffs = [(t - h) / duration * 100 for t, h in zip(with_view, without)]
    print(f"| {label}, view open (tmux 200x60): CPU-s | {', '.join(f'{x:.2f}' for x in with_view)} | {statistics.median(with_view):.2f} |")
    print(f"| {label}, {plain}: CPU-s | {', '.join(f'{x:.2f}' for x in without)} | {statistics.median(without):.2f} |")
    print(f"| {label}: the view's share of one core | {', '.join(f'{d:.1f} %' for d in diffs)} | {statistics.median(diffs):.1f} % |")
EOF
