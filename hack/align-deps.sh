#!/usr/bin/env bash
# Aligns the test rigs' Go modules on one version of the Kubernetes client
# closure: k8s.io/client-go, api, apimachinery and every module they import.
#
# The cockpit (the repository root), envtest, promtest and the real-cluster
# rig build their binaries from nine
# modules (hack/envtest, hack/promtest, hack/realcluster and its containerd,
# coredns, kube-router, sealed-secrets and cert-manager). Each pinned its
# own client-go, and the Go build cache keys a package by its module version
# and its imports' builds: a version apart, the same ~2,500 files of
# client-go, api and apimachinery were compiled once per module — five
# times in a cold `make test`. This raises every module's copy of each
# module of that closure to the highest version any of them selects (it
# never lowers one), so the build cache compiles it once.
#
#   hack/align-deps.sh         align, then `go mod tidy` each module
#   hack/align-deps.sh -check  list what is not aligned; exit 1 if anything
#
# A module may be left out (ALIGN_SKIP="realcluster/kube-router"): its
# closure is then compiled apart, and -check says so.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mods=(.. envtest promtest realcluster realcluster/containerd realcluster/coredns realcluster/kube-router
  realcluster/sealed-secrets realcluster/cert-manager)
# kube-router v2.1.0 is left out: built on the client-go of its release
# (v0.29), it enforces the rig's NetworkPolicies as tested; aligned on
# v0.37 it compiled, but a cold `make test` saw the gravl backend's
# allow-from-ingress policy not in force when the validate phase began
# (502s through the ingress stand-in), and that was not investigated.
skip=" ${ALIGN_SKIP-realcluster/kube-router} "
check=0
[ "${1:-}" = -check ] && check=1

# The closure: the modules the client packages import, as the real-cluster
# module (Kubernetes' own pins) resolves them, and the server libraries a
# controller may build (cert-manager): they must be at apimachinery's
# version, or they do not compile together.
closure=$(cd "$here/realcluster" && {
  CGO_ENABLED=0 go list -e -deps -f '{{with .Module}}{{.Path}}{{end}}' \
    k8s.io/client-go/kubernetes k8s.io/client-go/tools/cache k8s.io/client-go/tools/clientcmd \
    k8s.io/client-go/dynamic k8s.io/client-go/tools/leaderelection k8s.io/client-go/tools/record
  printf '%s\n' k8s.io/apiserver k8s.io/component-base k8s.io/apiextensions-apiserver k8s.io/kms
} | sort -u)

# selected: "module version dir", each closure module each module builds with.
selected=$(for m in "${mods[@]}"; do
  [[ $skip == *" $m "* ]] && continue
  # The version built: a replaced module's replacement (the Kubernetes
  # staging modules are required as v0.0.0 and replaced).
  (cd "$here/$m" && CGO_ENABLED=0 go list -e -deps \
    -f '{{with .Module}}{{.Path}} {{with .Replace}}{{.Version}}{{else}}{{.Version}}{{end}}{{end}}' all) |
    sort -u | awk -v d="$m" '{print $1, $2, d}'
done | awk 'NR==FNR {c[$1]=1; next} c[$1]' <(echo "$closure") -)

# The highest of each: sort -V with "-" as "~" orders a pre-release or a
# pseudo-version before its release, as semver (and MVS) do.
want=$(echo "$selected" | awk '{v=$2; gsub(/-/, "~", v); print $1, v}' | sort -u |
  sort -k1,1 -k2,2V | awk '{v=$2; gsub(/~/, "-", v); last[$1]=v} END {for (p in last) print p, last[p]}' | sort)

bad=0
for m in "${mods[@]}"; do
  if [[ $skip == *" $m "* ]]; then
    echo "align-deps: $m left out (its client closure is compiled apart)" >&2
    continue
  fi
  ups=$(awk -v d="$m" 'NR==FNR {w[$1]=$2; next} $3==d && w[$1]!=$2 {print $1 "@" w[$1]}' <(echo "$want") <(echo "$selected"))
  [ -z "$ups" ] && continue
  if [ "$check" = 1 ]; then
    echo "align-deps: $m is not aligned: wants $(echo $ups)" >&2
    bad=1
    continue
  fi
  echo "align-deps: $m: go get $(echo $ups)" >&2
  # shellcheck disable=SC2086
  (cd "$here/$m" && go get $ups && go mod tidy)
done
exit $bad
