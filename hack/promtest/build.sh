#!/usr/bin/env bash
# Builds the Prometheus and Alertmanager servers the probe tests run against
# into a versioned cache directory and prints that directory. Warm runs return
# at once; a cold run compiles both from the Go module proxy (see README,
# "Tests", for the measured time).
#
#   COCKPIT_PROMTEST_CACHE  cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/cockpit/promtest)
#
# Versions come from this directory's go.mod. Three deliberate deviations
# from a plain `go build` of its tools:
#
#   - Prometheus is built with the `remove_all_sd` tag (its plugins/ mechanism,
#     see plugins.yml upstream): only the file and HTTP service discoveries stay,
#     and static_configs, which is all the tests use. It drops the cloud SDKs
#     (AWS, Azure, GCE, Kubernetes, ...) and about a third of the packages.
#   - Alertmanager is built in its own module graph (its go.mod and go.sum,
#     exactly as upstream tests it), not in this module's: here Prometheus
#     lifts github.com/KimMachineGun/automemlimit to v1.0.0, whose API
#     Alertmanager v0.35.0 does not compile against (it wants v0.7.5).
#   - Alertmanager's module zip does not contain its generated web UI
#     (ui/app/dist, which ui/web.go embeds), so the module cannot be built as
#     published. The build copies the module (6.5 MB) into a scratch dir and
#     puts a placeholder page in ui/app/dist/{elm,mantine}. The API (/api/v2)
#     is untouched; only the browser UI is a placeholder.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/buildcache.sh
. "$here/../buildcache.sh"
prom=$(module_version github.com/prometheus/prometheus)
am=$(module_version github.com/prometheus/alertmanager)
# recipe: bump when the build changes without a version change (r2: the
# client closure aligned with the other rigs, hack/align-deps.sh).
recipe=2
cache_dir "${COCKPIT_PROMTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cockpit/promtest}" \
  "prometheus-$prom-alertmanager-$am-r$recipe" prometheus alertmanager
echo "build.sh: building prometheus $prom and alertmanager $am into $dir" >&2

ver=github.com/prometheus/common/version
# Prometheus' Go module v0.MMM.P is release M.MM.P (v0.316.0 is 3.16.0).
mm=${prom#v0.}; mm=${mm%%.*}
promrel="${mm:0:1}.${mm:1}.${prom##*.}"
cd "$here"
CGO_ENABLED=0 go build -trimpath -tags remove_all_sd \
  -ldflags "-s -w -X $ver.Version=$promrel -X $ver.Branch=module -X $ver.Revision=$prom" \
  -o "$tmp/prometheus" github.com/prometheus/prometheus/cmd/prometheus

# Alertmanager: a writable copy of its module with a placeholder UI, built
# as the main module.
go mod download github.com/prometheus/alertmanager
amsrc=$(go list -m -f '{{.Dir}}' github.com/prometheus/alertmanager)
cp -R "$amsrc" "$tmp/alertmanager-src"
chmod -R u+w "$tmp/alertmanager-src"
for ui in elm mantine; do
  mkdir -p "$tmp/alertmanager-src/ui/app/dist/$ui"
  printf '<!doctype html><title>Alertmanager</title><p>Web UI not built (cockpit test binary, API only).\n' \
    >"$tmp/alertmanager-src/ui/app/dist/$ui/index.html"
done
cd "$tmp/alertmanager-src"
CGO_ENABLED=0 GOWORK=off go build -trimpath \
  -ldflags "-s -w -X $ver.Version=${am#v} -X $ver.Branch=module -X $ver.Revision=$am" \
  -o "$tmp/alertmanager" ./cmd/alertmanager
mv "$tmp/prometheus" "$tmp/alertmanager" "$dir/"
echo "$dir"
