#!/usr/bin/env bash
# The Python package: build and install it into a virtualenv (`pip install ./python`, maturin is
# fetched from PyPI as the build backend), then run pytest against a local server, stubtest on
# the typed surface, and `mypy --strict` on the examples.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
mkdir -p "$target"
venv="${PYTHON_VENV:-$target/python-venv}"

if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "pytest>=7" "mypy>=1.10"

echo "== pip install ./python"
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps ./python

echo "== the server the tests start"
cargo build --quiet -p porter-sandbox-cli
export PORTER_SANDBOX_BIN="$target/debug/porter-sandbox"

echo "== pytest"
# Run from python/ with the venv's pytest: the installed package is tested, not the sources.
(cd python && "$venv/bin/pytest" -q -p no:cacheprovider)

echo "== stubtest"
(cd "$target" && "$venv/bin/python" -m mypy.stubtest porter_sandbox)

echo "== mypy --strict on the examples"
"$venv/bin/python" -m mypy --strict --no-incremental python/examples/quickstart.py

echo "python package: all checks passed"
