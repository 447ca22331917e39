#!/usr/bin/env bash
# Builds the real-cluster test rig (internal/realcluster) into a versioned
# cache directory and prints that directory: bin/ holds every binary the node
# runs, images/ the image tarballs it imports (no registry is reachable).
# Warm runs take seconds (only the cockpit image is checked against the
# checkout); the cold figures are in README.md, "The real-cluster rig".
#
#   COCKPIT_REALCLUSTER_CACHE  cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/cockpit/realcluster)
#
# What is built, each in its own module graph under this directory:
#   .               kube-controller-manager, kube-scheduler, kubelet, kube-proxy
#                   (hack/envtest's graph; kube-apiserver and etcd are copied
#                   from hack/envtest/build.sh's cache, not rebuilt)
#   containerd/     containerd, containerd-shim-runc-v2, ctr (CGO off: no btrfs)
#   coredns/        coredns
#   kube-router/    kube-router (NetworkPolicy enforcement only)
#   sealed-secrets/ the sealed-secrets controller and kubeseal
#   cert-manager/   cert-manager-controller: cert-manager's own clusterissuers
#                   controller (SelfSigned and CA issuers) from its library
#                   module, run by tests as a host process (its cmd/controller
#                   module is not served by the proxy; see its main.go)
#   images/         mkimage, pause, gravl
#   (repository)    cockpit itself, CGO off, for its image
# Images: registry.k8s.io/pause:3.10.2, cockpit.local/coredns, busybox:1.37
# (Debian's static busybox, so a check pod's nslookup really runs),
# cockpit.local/gravl, cockpit.local/cockpit:dev and the sealed-secrets
# controller's docker.io/bitnami/sealed-secrets-controller.
#
# Debian packages the node needs are installed when missing (as root or
# with sudo): runc, containernetworking-plugins, iptables, conntrack, ipset,
# busybox-static.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
log() { echo "build.sh: $*" >&2; }

# --- Debian packages ---------------------------------------------------------
pkgs=(runc containernetworking-plugins iptables conntrack ipset busybox-static)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  log "installing Debian packages: ${missing[*]}"
  $sudo apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 ||
    { $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi

# --- versions and the cache directory ---------------------------------------
ver() { (cd "$here/$1" && go list -m -f '{{.Version}}' "$2"); }
kube=$(ver . k8s.io/kubernetes)
ctrd=$(ver containerd github.com/containerd/containerd/v2)
coredns=$(ver coredns github.com/coredns/coredns)
krouter=$(ver kube-router github.com/cloudnativelabs/kube-router/v2)
sealed=$(ver sealed-secrets github.com/bitnami/sealed-secrets)
certmgr=$(ver cert-manager github.com/cert-manager/cert-manager)
for v in "$kube" "$ctrd" "$coredns" "$krouter" "$sealed" "$certmgr"; do
  [ -n "$v" ] || { log "cannot read the component versions from $here/*/go.mod"; exit 1; }
done
# recipe: bump when the build or an image changes without a version change
# (r2: the client closure aligned with the other rigs, hack/align-deps.sh).
recipe=2
root=${COCKPIT_REALCLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cockpit/realcluster}
dir="$root/kube-$kube-containerd-$ctrd-coredns-$coredns-kube-router-$krouter-sealed-secrets-$sealed-r$recipe-$(go env GOOS)-$(go env GOARCH)"
mkdir -p "$dir/bin" "$dir/images" "$dir/tools"
# One build at a time per cache (two packages' tests, or two make runs).
exec 9>"$root/.build.lock"
flock 9

t0=$(date +%s)
tmp=$(mktemp -d "$dir/tmp.XXXXXX")
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
timing() { echo "$1 $2s" >>"$dir/build-times.txt"; log "built $1 in $2s"; }

# gobuild NAME MODULE_DIR PACKAGE TAGS LDFLAGS: go build into bin/NAME unless present.
gobuild() {
  local n=$1 mod=$2 pkg=$3 tags=$4 ld=$5 s
  [ -x "$dir/bin/$n" ] && return 0
  s=$(date +%s)
  (cd "$here/$mod" && CGO_ENABLED=0 go build -trimpath -tags "$tags" -ldflags "$ld" -o "$tmp/$n" "$pkg")
  mv "$tmp/$n" "$dir/bin/$n"
  timing "$n" $(( $(date +%s) - s ))
}

# kube-apiserver and etcd: the envtest build's, the same module graph.
if [ ! -x "$dir/bin/kube-apiserver" ] || [ ! -x "$dir/bin/etcd" ]; then
  envtest=$("$repo/hack/envtest/build.sh")
  for b in kube-apiserver etcd; do
    cp "$envtest/$b" "$tmp/$b" && mv "$tmp/$b" "$dir/bin/$b"
  done
fi

# Kubernetes: version-stamped as Kubernetes' own build does (hack/lib/version.sh).
minor=${kube#v1.}; minor=${minor%%.*}
kld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kld+=" -X $p.gitVersion=$kube -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done
for c in kube-controller-manager kube-scheduler kubelet kube-proxy; do
  gobuild "$c" . "k8s.io/kubernetes/cmd/$c" "" "$kld"
done

cld="-s -w -X github.com/containerd/containerd/v2/version.Version=$ctrd -X github.com/containerd/containerd/v2/version.Package=github.com/containerd/containerd/v2"
gobuild containerd containerd github.com/containerd/containerd/v2/cmd/containerd "urfave_cli_no_docs no_btrfs" "$cld"
gobuild ctr containerd github.com/containerd/containerd/v2/cmd/ctr "urfave_cli_no_docs no_btrfs" "$cld"
gobuild containerd-shim-runc-v2 containerd github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 "urfave_cli_no_docs no_btrfs no_grpc" "$cld"
gobuild coredns coredns github.com/coredns/coredns "" "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$coredns"
gobuild kube-router kube-router github.com/cloudnativelabs/kube-router/v2/cmd/kube-router "" \
  "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$krouter"
gobuild sealed-secrets-controller sealed-secrets github.com/bitnami/sealed-secrets/cmd/controller "" "-s -w -X main.VERSION=$sealed"
gobuild kubeseal sealed-secrets github.com/bitnami/sealed-secrets/cmd/kubeseal "" "-s -w -X main.VERSION=$sealed"
# cert-manager's version is not part of the cache key (the directory name):
# a binary built from another version (its --version) is rebuilt in place.
cm="$dir/bin/cert-manager-controller"
if [ -x "$cm" ] && [ "$("$cm" --version 2>/dev/null)" != "$certmgr" ]; then
  log "cert-manager-controller is not $certmgr: rebuilding it"
  mv "$cm" "$tmp/cert-manager-controller.old" # removed with $tmp
fi
gobuild cert-manager-controller cert-manager . "" "-s -w"
for c in mkimage pause; do
  [ -x "$dir/tools/$c" ] && continue
  s=$(date +%s)
  (cd "$here/images" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/$c" "./$c")
  mv "$tmp/$c" "$dir/tools/$c"
  timing "$c" $(( $(date +%s) - s ))
done

# --- images -----------------------------------------------------------------
# image FILE TAG ENTRYPOINT ARGS...: mkimage into images/FILE unless present;
# reimage: whether present or not. Either writes it beside and renames it
# over, so a rig starting meanwhile reads the old tarball or the new one.
image() {
  [ -s "$dir/images/$1" ] && return 0
  reimage "$@"
}
reimage() {
  local f=$1 tag=$2 ep=$3; shift 3
  "$dir/tools/mkimage" -tag "$tag" -o "$tmp/$f" -entrypoint "$ep" "$@" 2>/dev/null
  mv "$tmp/$f" "$dir/images/$f"
}
image pause.tar registry.k8s.io/pause:3.10.2 /pause /pause="$dir/tools/pause"
image coredns.tar "cockpit.local/coredns:$coredns" /coredns /coredns="$dir/bin/coredns"
# gravl is rebuilt (seconds, warm) on every run, like the cockpit binary
# below: its image is rewritten only when the binary changed.
(cd "$here/images" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/gravl" ./gravl)
if ! cmp -s "$tmp/gravl" "$dir/tools/gravl"; then
  mv "$tmp/gravl" "$dir/tools/gravl"
  reimage gravl.tar cockpit.local/gravl:v1 /gravl /gravl="$dir/tools/gravl"
fi
image gravl.tar cockpit.local/gravl:v1 /gravl /gravl="$dir/tools/gravl"
image sealed-secrets-controller.tar "docker.io/bitnami/sealed-secrets-controller:${sealed#v}" /controller \
  /controller="$dir/bin/sealed-secrets-controller"
if [ ! -s "$dir/images/busybox.tar" ]; then
  links=()
  while read -r a; do [ "$a" = busybox ] || links+=(-link "/bin/$a=busybox"); done < <(/bin/busybox --list)
  image busybox.tar docker.io/library/busybox:1.37 /bin/sh "${links[@]}" /bin/busybox=/bin/busybox
fi

# The cockpit binary of this checkout: rebuilt (seconds, warm) on every run,
# its image rewritten only when the binary changed.
s=$(date +%s)
(cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/cockpit" ./cmd/cockpit)
if ! cmp -s "$tmp/cockpit" "$dir/bin/cockpit" || [ ! -s "$dir/images/cockpit.tar" ]; then
  mv "$tmp/cockpit" "$dir/bin/cockpit"
  reimage cockpit.tar cockpit.local/cockpit:dev /cockpit /cockpit="$dir/bin/cockpit"
  timing cockpit-image $(( $(date +%s) - s ))
fi
[ $(( $(date +%s) - t0 )) -gt 30 ] && timing total $(( $(date +%s) - t0 ))
echo "$dir"
