#!/usr/bin/env bash
# Installs what a fresh machine lacks (it already has the Rust, Python, Node and Java toolchains).
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v rustup >/dev/null; then
    rustup component add rustfmt clippy >/dev/null
fi
cargo fetch --locked
