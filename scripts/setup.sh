#!/usr/bin/env bash
# Sets up a fresh machine (which already has the Rust, Python, Node and Java toolchains):
# the system packages the local sandbox server needs, the Rust components, and the build.
# Needs root or sudo (apt-get); takes about 5-15 minutes on a fresh machine, mostly the first
# build. Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    echo "error: setup.sh installs system packages: run it as root or install sudo" >&2
    exit 1
fi
echo "== setup: system packages (root/sudo), Rust components, the build (about 5-15 minutes)"

packages=(crun tini slirp4netns iproute2 util-linux nftables docker-registry umoci skopeo busybox-static containerd runc containernetworking-plugins gcc apache2-utils wrk e2fsprogs strace curl openssl)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    echo "== installing ${missing[*]}"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if command -v rustup >/dev/null; then
    rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
echo "== building"
cargo build --workspace --locked
echo "setup done: ${CARGO_TARGET_DIR:-target}/debug/porter-sandbox is built"
