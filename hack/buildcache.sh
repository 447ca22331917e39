# Sourced by hack/envtest/build.sh and hack/promtest/build.sh: where a
# build of test binaries is cached, and when it is there already. The
# sourcing script sets here (its directory, with the go.mod that pins what
# it builds) and runs under set -euo pipefail.

# module_version MODULE prints the version of MODULE in $here/go.mod, or
# fails naming the go.mod.
module_version() {
  local v
  v=$(cd "$here" && go list -m -f '{{.Version}}' "$1") || v=""
  if [ -z "$v" ]; then
    echo "build.sh: cannot read the $1 version from $here/go.mod" >&2
    exit 1
  fi
  echo "$v"
}

# cache_dir ROOT NAME BIN... sets dir to ROOT/NAME-GOOS-GOARCH. When every
# BIN is built there it prints dir and exits: a warm run. Otherwise it makes
# dir, and tmp, a scratch directory beside it (removed on exit) to build
# into before the binaries are moved in.
cache_dir() {
  local root=$1 name=$2 bin warm=1
  shift 2
  dir="$root/$name-$(go env GOOS)-$(go env GOARCH)"
  for bin in "$@"; do
    [ -x "$dir/$bin" ] || warm=0
  done
  if [ "$warm" = 1 ]; then
    echo "$dir"
    exit 0
  fi
  mkdir -p "$dir"
  tmp=$(mktemp -d "$dir.tmp.XXXXXX")
  # Module copies are read-only: make them writable to remove them.
  trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
}
