#!/usr/bin/env bash
# bench/tui.sh — what the cockpit's TUI costs while a load test runs.
#
# `cockpit load --rate 1000` against the minimal loopback server
# (bench/target), once with the live load view open in a real terminal
# (a detached tmux session, 200x60) and once with --no-tui, alternating,
# ROUNDS times. The server is pinned to core 1 and cockpit to core 0; the
# CPU time (user+sys) of each cockpit run comes from /usr/bin/time -v. The
# TUI's share is each round's difference over the run's duration, as a
# percentage of one core, and their median. Loopback only.
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
for round in $(seq "$ROUNDS"); do
	echo "bench: round $round: with the TUI…" >&2
	# The TUI needs a terminal: tmux gives it one. The command writes its
	# time file and then a marker; the script waits on the marker, bounded.
	tmux new-session -d -s "$session" -x 200 -y 60 \
		"/usr/bin/time -v -o $work/tui.$round.time taskset -c 0 ${load[*]} 2>$work/tui.$round.err; touch $work/tui.$round.done"
	# The view stays open on the final summary until q: once the run's
	# time is up, the screen is kept (to check the view was drawn) and q
	# sent, again each second until the process has ended (bounded).
	sleep "$DURATION"
	for _ in $(seq 60); do
		[ -e "$work/tui.$round.done" ] && break
		tmux capture-pane -p -t "$session" >"$work/tui.$round.screen" 2>/dev/null || true
		tmux send-keys -t "$session" q 2>/dev/null || true
		sleep 1
	done
	[ -e "$work/tui.$round.done" ] || { echo "bench: the TUI run did not finish" >&2; exit 1; }
	grep -q "p95" "$work/tui.$round.screen" || { echo "bench: the load view was not on screen:" >&2; cat "$work/tui.$round.screen" >&2; exit 1; }
	tmux kill-session -t "$session" 2>/dev/null || true
	echo "bench: round $round: --no-tui…" >&2
	/usr/bin/time -v -o "$work/headless.$round.time" taskset -c 0 "${load[@]}" --no-tui >/dev/null 2>"$work/headless.$round.err"
done

python3 - "$work" "$ROUNDS" "$DURATION" <<'EOF'
import re, statistics, sys
work, rounds, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
def cpu(path):
    text = open(path).read()
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", text).group(1))
    sys_ = float(re.search(r"System time \(seconds\): ([\d.]+)", text).group(1))
    return user + sys_
tui = [cpu(f"{work}/tui.{r}.time") for r in range(1, rounds + 1)]
head = [cpu(f"{work}/headless.{r}.time") for r in range(1, rounds + 1)]
print(f"| mode | CPU-seconds per {duration:.0f} s run (each round) | median |")
print("|---|---|---:|")
print(f"| load view open (tmux 200x60) | {', '.join(f'{x:.2f}' for x in tui)} | {statistics.median(tui):.2f} |")
print(f"| --no-tui | {', '.join(f'{x:.2f}' for x in head)} | {statistics.median(head):.2f} |")
# Rounds alternate, so each round's pair shares the machine's load of the
# moment: the median of the per-round differences is the estimate.
diffs = [(t - h) / duration * 100 for t, h in zip(tui, head)]
print(f"| the TUI's share of one core | {', '.join(f'{d:.1f} %' for d in diffs)} | {statistics.median(diffs):.1f} % |")
EOF
