#!/usr/bin/env bash
# Builds the test images of the real-node tier locally (no registry, no docker) as docker-archive
# tarballs that `ctr -n k8s.io images import` accepts:
#
#   scripts/k8s/images.sh base DIR           DIR/pause.tar  localhost/porter-k8s/pause:test
#                                            DIR/busybox.tar docker.io/library/busybox:1.36
#   scripts/k8s/images.sh agent DIR BINARY   DIR/agent.tar  docker.io/library/porter-sandbox:test
#
# pause is a static C program (gcc + glibc's libc.a) that waits for a signal; busybox comes from
# Debian's busybox-static (its version, tagged 1.36 as the tests ask for); the agent image holds
# BINARY (the `porter-sandbox` of the build under test, stripped) as /usr/local/bin/porter-sandbox
# with the shared libraries `ldd` lists, as deploy/Dockerfile's image has it on PATH. Each image
# is assembled with umoci and written with skopeo; the last stdout line is the tarball written.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

# pack REF TAR ROOTFS CONFIG-ARG... — one single-layer image of directory ROOTFS as TAR.
pack() {
    local ref=$1 tar=$2 rootfs=$3 layout
    shift 3
    layout=$(mktemp -d "${TMPDIR:-/tmp}/porter-k8s-image.XXXXXX")
    umoci init --layout "$layout/oci" >/dev/null
    umoci new --image "$layout/oci:t" >/dev/null
    umoci insert --image "$layout/oci:t" "$rootfs" / >/dev/null
    umoci config --image "$layout/oci:t" --os linux --architecture amd64 \
        --config.env PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin "$@" >/dev/null
    rm -f "$tar"
    skopeo --insecure-policy copy --quiet "oci:$layout/oci:t" "docker-archive:$tar:$ref" >/dev/null
    rm -rf "$layout"
    echo "$tar"
}

build_pause() {
    local out=$1 work
    work=$(mktemp -d "${TMPDIR:-/tmp}/porter-k8s-pause.XXXXXX")
    # The infra container of every pod: holds its namespaces until it is signalled, and reaps
    # what ends in a shared PID namespace.
    cat >"$work/pause.c" <<'EOF'
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
    signal(SIGTERM, quit);
    signal(SIGINT, quit);
    signal(SIGCHLD, reap);
    for (;;) pause();
}
EOF
    mkdir -p "$work/rootfs"
    gcc -static -O2 -s -o "$work/rootfs/pause" "$work/pause.c"
    pack localhost/porter-k8s/pause:test "$out/pause.tar" "$work/rootfs" \
        --config.entrypoint /pause --config.user 65535:65535 >/dev/null
    rm -rf "$work"
}

build_busybox() {
    local out=$1 work applet
    work=$(mktemp -d "${TMPDIR:-/tmp}/porter-k8s-busybox.XXXXXX")
    mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/root" "$work/rootfs/tmp"
    chmod 1777 "$work/rootfs/tmp"
    cp /bin/busybox "$work/rootfs/bin/busybox"
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -s busybox "$work/rootfs/bin/$applet"
    done
    echo 'root:x:0:0:root:/root:/bin/sh' >"$work/rootfs/etc/passwd"
    echo 'root:x:0:' >"$work/rootfs/etc/group"
    pack docker.io/library/busybox:1.36 "$out/busybox.tar" "$work/rootfs" \
        --config.cmd sh >/dev/null
    rm -rf "$work"
}

build_agent() {
    local out=$1 binary=$2 work lib
    work=$(mktemp -d "${TMPDIR:-/tmp}/porter-k8s-agent.XXXXXX")
    mkdir -p "$work/rootfs/usr/local/bin" "$work/rootfs/tmp"
    chmod 1777 "$work/rootfs/tmp"
    # Stripped: the debug build's symbols are most of its size and only slow the import.
    strip -o "$work/rootfs/usr/local/bin/porter-sandbox" "$binary"
    # The dynamic loader and every library, at the paths the binary was linked to find them.
    for lib in $(ldd "$binary" | grep -o '/[^ ]*'); do
        mkdir -p "$work/rootfs$(dirname "$lib")"
        cp -L "$lib" "$work/rootfs$lib"
    done
    pack docker.io/library/porter-sandbox:test "$out/agent.tar" "$work/rootfs" \
        --config.entrypoint porter-sandbox >/dev/null
    rm -rf "$work"
}

usage() {
    echo "usage: $0 base DIR | agent DIR BINARY" >&2
    exit 2
}

[ $# -ge 2 ] || usage
mkdir -p "$2"
case "$1" in
base)
    [ $# -eq 2 ] || usage
    build_pause "$2"
    build_busybox "$2"
    echo "$2/busybox.tar"
    ;;
agent)
    if [ $# -ne 3 ] || ! [ -x "$3" ]; then usage; fi
    build_agent "$2" "$3"
    echo "$2/agent.tar"
    ;;
*) usage ;;
esac
