#!/usr/bin/env bash
# The project's test command: formatting, lints, docs and every test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

echo "== cargo test"
cargo test --workspace

echo "== types build without the HTTP client"
cargo check -p porter-sandbox --no-default-features

echo "all tests passed"
