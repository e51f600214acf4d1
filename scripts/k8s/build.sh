#!/usr/bin/env bash
# Builds the binaries of the Kubernetes test tier — etcd, kube-apiserver, kube-scheduler, kwok —
# and kwok's stage definitions, from the pinned wrapper modules under tools/, into a cache outside
# the repository (with --with-node also kube-controller-manager and kubelet, for a real node):
#
#   ${PORTER_K8S_CACHE:-$HOME/.cache/porter-sandbox/k8s}/<key>/bin/
#
# <key> is a hash of the wrapper modules (go.mod, go.sum, tools.go) and of this script's build
# format, so a version bump builds afresh and an unchanged checkout reuses the cache. The last line
# on stdout is the bin directory; progress goes to stderr. A cold build takes several minutes on
# two cores (Go's module and build caches help the next key); a warm one returns at once.
#
# Safe to run concurrently: a lock serialises builds of one key, and each build writes a private
# directory that is renamed into place only when complete.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
tools="$root/tools"
cache="${PORTER_K8S_CACHE:-$HOME/.cache/porter-sandbox/k8s}"

# Bump when the set of binaries or the way they are built changes (the key must change then too).
build_format=1
k8s_commands=(kube-apiserver kube-scheduler)
case "${1:-}" in
"") ;;
# The real-node tier also needs a kubelet and the controllers (its own cache key).
--with-node) k8s_commands+=(kube-controller-manager kubelet) ;;
*) echo "usage: $0 [--with-node]" >&2; exit 2 ;;
esac

log() { echo "build.sh: $*" >&2; }

if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
    PATH="$PATH:/usr/local/go/bin"
fi
if ! command -v go >/dev/null; then
    log "error: Go (1.26 or newer) is needed to build the Kubernetes test binaries; install it from https://go.dev/dl/"
    exit 1
fi

key=$(
    {
        echo "format $build_format: ${k8s_commands[*]} etcd kwok"
        for module in k8s etcd kwok; do
            cat "$tools/$module/go.mod" "$tools/$module/go.sum" "$tools/$module/tools.go"
        done
    } | sha256sum | cut -c1-16
)
mkdir -p "$cache"
cache=$(cd "$cache" && pwd) # the printed bin directory must not depend on the caller's directory
dest="$cache/$key"

if [ -d "$dest/bin" ]; then
    echo "$dest/bin"
    exit 0
fi

# One build per key at a time: a second run waits here and then finds the finished directory.
exec 9>"$cache/.lock-$key"
flock 9
if [ -d "$dest/bin" ]; then
    echo "$dest/bin"
    exit 0
fi

work=$(mktemp -d "$cache/.build-$key.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
chmod 755 "$work"

started=$SECONDS
go_build() { # module-dir output package...
    local dir=$1 out=$2
    shift 2
    (cd "$dir" && nice -n 10 go build -mod=readonly -trimpath -ldflags="-s -w ${ldflags:-}" -o "$out" "$@")
}

log "etcd (cache miss for key $key)"
go_build "$tools/etcd" "$work/bin/etcd" go.etcd.io/etcd/server/v3

log "kwok"
go_build "$tools/kwok" "$work/bin/kwok" sigs.k8s.io/kwok/cmd/kwok
# kwok simulates nodes and pods by the stages it is given: nodes become Ready and renew their
# lease, pods on them become Running and Ready at once and go away when deleted.
kwok_dir=$(cd "$tools/kwok" && go list -mod=readonly -m -f '{{.Dir}}' sigs.k8s.io/kwok)
for stage in node/fast node/heartbeat-with-lease pod/fast; do
    for file in "$kwok_dir/kustomize/stage/$stage"/*.yaml; do
        [ "$(basename "$file")" = kustomization.yaml ] && continue
        echo "---"
        cat "$file"
    done
done >"$work/kwok-stages.yaml"

log "${k8s_commands[*]} (the longest part)"
k8s_version=$(cd "$tools/k8s" && go list -mod=readonly -m -f '{{.Version}}' k8s.io/kubernetes)
k8s_minor=${k8s_version#v1.}
k8s_minor=${k8s_minor%%.*}
# Without these the servers report v0.0.0-master, which clients that check versions misread.
ldflags="-X k8s.io/component-base/version.gitVersion=$k8s_version"
ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$k8s_minor"
packages=()
for command in "${k8s_commands[@]}"; do packages+=("k8s.io/kubernetes/cmd/$command"); done
go_build "$tools/k8s" "$work/bin/" "${packages[@]}"
unset ldflags

if ! mv -T "$work" "$dest" 2>/dev/null; then
    # Another build (without the lock, e.g. on a shared network cache) finished first: keep its.
    [ -d "$dest/bin" ] || { log "error: cannot move the build into $dest"; exit 1; }
fi
trap - EXIT
log "built in $((SECONDS - started)) s"
echo "$dest/bin"
