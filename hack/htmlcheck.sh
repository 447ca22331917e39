#!/usr/bin/env bash
# hack/htmlcheck.sh REPORT.html OUTDIR — the HTML sign-off as a person sees it:
# Debian's headless Chromium opens the file (nothing else: the network is
# off), takes a screenshot 1280 px wide (OUTDIR/report.png), prints the page to
# PDF (OUTDIR/report.pdf), and fails when either is empty or the page logged
# anything to the console (an error, a failed fetch, a script exception).
# Run by the cmd/cockpit demo test under `make test` (the chromium target
# installs the browser).
set -euo pipefail
html=$(realpath "$1")
out=$2
mkdir -p "$out"
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "htmlcheck: chromium not found (make chromium installs it)" >&2; exit 3; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --hide-scrollbars
	--user-data-dir="$profile" --proxy-server=127.0.0.1:9 --proxy-bypass-list='<-loopback>'
	--enable-logging=stderr --v=0)
run() { timeout 120 "$browser" "${flags[@]}" "$@" "file://$html" 2>>"$out/chromium.log" >/dev/null; }
: >"$out/chromium.log"
run --window-size=1280,1800 --screenshot="$out/report.png"
run --print-to-pdf="$out/report.pdf" --no-pdf-header-footer
run --dump-dom >/dev/null
for f in report.png report.pdf; do
	[ -s "$out/$f" ] || { echo "htmlcheck: $f is empty" >&2; exit 1; }
done
if grep -E 'CONSOLE|Uncaught|Failed to load resource|net::ERR_' "$out/chromium.log" >"$out/console.log"; then
	echo "htmlcheck: the page logged to the console:" >&2
	cat "$out/console.log" >&2
	exit 1
fi
echo "htmlcheck: $out/report.png ($(stat -c %s "$out/report.png") bytes), $out/report.pdf ($(stat -c %s "$out/report.pdf") bytes), no console output"
