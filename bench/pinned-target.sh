# bench/pinned-target.sh — sourced by the bench scripts: the checks of the
# tools they need, and the loopback target server pinned to core 1.

# need TOOL HINT: fail with the hint when TOOL is missing.
need() { command -v "$1" >/dev/null || { echo "bench: $1 not found: $2" >&2; exit 1; }; }

# start_target DIR ADDR: builds cockpit and bench/target into DIR, starts
# the target on ADDR pinned to core 1 (its pid in target_pid, for the
# caller's EXIT trap) and waits until it accepts connections (a bounded
# number of tries, each a real connection).
start_target() {
	[ "$(nproc)" -ge 2 ] || { echo "bench: needs 2 cores (the server and the load each pinned to one)" >&2; exit 1; }
	go build -o "$1/cockpit" ./cmd/cockpit
	go build -o "$1/target" ./bench/target
	taskset -c 1 "$1/target" --addr "$2" & target_pid=$!
	await_listen "$2"
}

# start_jitter DIR ADDR: builds bench/jitter (the reference-style target)
# into DIR and starts it on ADDR pinned to core 1 (its pid in jitter_pid).
start_jitter() {
	go build -o "$1/jitter" ./bench/jitter
	taskset -c 1 "$1/jitter" --addr "$2" & jitter_pid=$!
	await_listen "$2"
}

# await_listen ADDR: waits until ADDR accepts connections (a bounded number
# of tries, each a real connection).
await_listen() {
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "bench: nothing listens on $1" >&2
	exit 1
}
