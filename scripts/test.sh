#!/usr/bin/env bash
# The project's test command: formatting, lints, docs and every test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== one version in every manifest"
bash scripts/version.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

echo "== cargo test"
cargo test --workspace

echo "== the official Python SDK against our server"
cargo build --quiet -p porter-sandbox-cli
bash tests/compat/run_official_sdk.sh "${CARGO_TARGET_DIR:-target}/debug/porter-sandbox"

echo "== schemathesis fuzzes our server from spec/openapi.json"
bash tests/fuzz/run_schemathesis.sh "${CARGO_TARGET_DIR:-target}/debug/porter-sandbox"

echo "== the kubernetes runtime against a real API server (etcd, kube-apiserver, scheduler, kwok)"
# The binaries are built from tools/ on a cache miss (several minutes on a fresh machine).
PORTER_REQUIRE_K8S=1 bash scripts/k8s/with-cluster.sh bash -c 'set -e
    bash scripts/k8s/check-manifests.sh "$PORTER_K8S_CLUSTER_DIR"
    cargo test -p porter-sandbox-cli --test kubernetes -- --test-threads 2'

echo "== types build without the HTTP client"
cargo check -p porter-sandbox --no-default-features

# --- Python package: pip install ./python, pytest, stubtest, mypy --strict ----------
echo "== the Python package"
bash scripts/python.sh

# --- Node package: npm ci, napi build, tsc --strict on the examples, node --test ------
echo "== the Node package"
bash scripts/node.sh

# --- Kotlin package: uniffi library, mvn install with the JUnit tests, the quickstart ----
echo "== the Kotlin package"
bash scripts/kotlin.sh

# --- The conformance matrix: the same scenarios in every language (reuses the builds above) ----
echo "== the cross-language conformance suite (tests/conformance)"
bash tests/conformance/run.sh

# --- The same scenarios against `serve --runtime kubernetes` on a real node, and that node's tests ---
echo "== the kubernetes runtime on a real node (kubelet, containerd, runc): its tests and the conformance scenarios"
# The kubelet and controllers are built from tools/ on a cache miss (minutes on a fresh machine).
PORTER_REQUIRE_K8S_NODE=1 bash scripts/k8s/with-cluster.sh --real-node bash -c 'set -e
    cargo test -p porter-sandbox-cli --test kubernetes_node
    bash tests/conformance/run.sh --runtime kubernetes'

# --- Release artifacts: dist/ (after the packages above, so it reuses their release builds), ----
# --- then installing them without cargo/rustc/maturin on PATH ---------------------------------
echo "== the release artifacts (scripts/dist.sh)"
bash scripts/dist.sh
echo "== install tests (scripts/install_test.sh)"
bash scripts/install_test.sh
echo "== benchmark smoke run (bench/run.sh --smoke: tiny counts on dist.sh's release build)"
bash bench/run.sh --smoke --prebuilt --json "${CARGO_TARGET_DIR:-target}/bench-smoke.json"

echo "all tests passed"
