#!/usr/bin/env bash
# Builds every release artifact into dist/, from a checkout, on Linux x86-64 (glibc):
#
#   dist/porter_sandbox-V-cp310-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl  (pip, Python 3.10+)
#   dist/porter_sandbox-V.tar.gz                      the Python sdist (builds the Rust core from source)
#   dist/porter-sandbox-V.tgz                         npm: the main package
#   dist/porter-sandbox-linux-x64-gnu-V.tgz           npm: its platform package (the .node)
#   dist/maven/run/porter/porter-sandbox/V/           a Maven repository: jar (native library inside),
#                                                     -sources.jar, -javadoc.jar, POM
#   dist/porter-sandbox-V.crate                       the Rust crate, as `cargo publish` would upload it
#   dist/porter-sandbox-V-x86_64-unknown-linux-gnu.tar.gz (+ .sha256)  the CLI/server binary
#   dist/SHA256SUMS                                   every file above
#
# Needs cargo, python3, node/npm, a JDK 17+ and Maven; the Python build tools (maturin, ziglang,
# auditwheel) go into a virtualenv under the target directory. Release builds share
# $CARGO_TARGET_DIR with scripts/node.sh and scripts/kotlin.sh, so after those it rebuilds little.
# macOS, Windows and aarch64 are not built here (no toolchains for them on these machines).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
export CARGO_TARGET_DIR="$target"
dist="$root/dist"
triple="x86_64-unknown-linux-gnu"
started=$SECONDS

step() { echo "== $* ($((SECONDS - started)) s)"; }

step "the version, written once in Cargo.toml"
version="$(bash scripts/version.sh)"
echo "version $version"

rm -rf "$dist"
mkdir -p "$dist"

# --- The CLI/server binary --------------------------------------------------------------------
step "cargo build --release -p porter-sandbox-cli"
cargo build --quiet --release -p porter-sandbox-cli
name="porter-sandbox-$version-$triple"
stage="$target/dist-stage/$name"
rm -rf "$stage" && mkdir -p "$stage"
cp "$target/release/porter-sandbox" README.md CHANGELOG.md LICENSE "$stage/"
# Fixed owner and file order, so the tarball depends on the files alone (and their times).
tar -C "$(dirname "$stage")" --owner=0 --group=0 --numeric-owner --sort=name -czf "$dist/$name.tar.gz" "$name"
(cd "$dist" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")

# --- Node: the napi-rs layout (main package + platform package) --------------------------------
step "node: napi build --release, npm pack (porter-sandbox, porter-sandbox-linux-x64-gnu)"
(
    cd node
    [ -d node_modules/@napi-rs/cli ] || npm ci --no-audit --no-fund --loglevel=error
    npm run --silent build >/dev/null
)
node_stage="$target/dist-stage/node"
rm -rf "$node_stage" && mkdir -p "$node_stage"
platform_pkg="$node_stage/linux-x64-gnu"
cp -r node/npm/linux-x64-gnu "$platform_pkg"
cp node/porter-sandbox.linux-x64-gnu.node "$platform_pkg/"
(cd "$platform_pkg" && npm pack --silent --pack-destination "$dist" >/dev/null)
# The main package as published: what `npm pack` of node/ holds, less the .node (the platform
# package carries it), plus the optionalDependencies that napi-rs's prepublish would add.
(cd node && npm pack --silent --pack-destination "$node_stage" >/dev/null)
tar -C "$node_stage" -xzf "$node_stage/porter-sandbox-$version.tgz"
rm -f "$node_stage"/package/*.node
node - "$node_stage/package/package.json" "$root/node/npm" <<'JS'
const fs = require('node:fs');
const path = require('node:path');
const [file, platforms] = process.argv.slice(2);
const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
pkg.files = pkg.files.filter((f) => !f.endsWith('.node'));
pkg.optionalDependencies = {};
for (const dir of fs.readdirSync(platforms).sort()) {
  const sub = JSON.parse(fs.readFileSync(path.join(platforms, dir, 'package.json'), 'utf8'));
  pkg.optionalDependencies[sub.name] = sub.version;
}
delete pkg.devDependencies;
delete pkg.overrides;
delete pkg.scripts;
fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + '\n');
JS
(cd "$node_stage/package" && npm pack --silent --pack-destination "$dist" >/dev/null)

# --- Python: an abi3 manylinux wheel and the sdist ---------------------------------------------
step "python: maturin build --release --zig (manylinux2014, abi3), maturin sdist"
venv="$target/dist-venv"
if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "maturin>=1.16,<2" "ziglang>=0.17,<0.18" "auditwheel>=6.8,<7"
# zig links against glibc 2.17's symbols, so the wheel installs on any manylinux2014 system.
# From python/, where pyproject.toml points maturin at bindings/python/Cargo.toml.
(
    cd python
    # maturin runs zig as `python3 -m ziglang`: the venv's python3, which has it.
    export PATH="$venv/bin:$PATH"
    # Its own target directory: linked by zig (other CC and linker settings), this build would
    # otherwise invalidate the napi build's crates in target/<triple>/release, and back.
    export CARGO_TARGET_DIR="$target/zig"
    "$venv/bin/maturin" build --quiet --release --zig --compatibility manylinux2014 --out "$dist"
    # Its output only on failure: it first looks for a Cargo.toml here and says it found none.
    if ! out="$("$venv/bin/maturin" sdist --out "$dist" 2>&1)"; then
        echo "$out" >&2
        exit 1
    fi
)
wheel="$(ls "$dist"/porter_sandbox-"$version"-*.whl)"
echo "-- auditwheel show $(basename "$wheel")"
"$venv/bin/auditwheel" show "$wheel" | tee "$target/dist-stage/auditwheel.txt"
# The verdict, not just the report: consistent with manylinux_2_17 (manylinux2014). auditwheel
# wraps its sentences, so read them as one line.
tr -s ' \n' ' ' <"$target/dist-stage/auditwheel.txt" |
    grep 'is consistent with the following platform tag: "manylinux_2_17_x86_64"' >/dev/null || {
    echo "error: auditwheel does not find $wheel consistent with manylinux_2_17_x86_64" >&2
    exit 1
}

# --- Kotlin/JVM: a Maven repository directory ---------------------------------------------------
step "kotlin: the release library, uniffi-bindgen, mvn deploy into dist/maven (jar, sources, javadoc, POM)"
cargo build --quiet --release -p porter-sandbox-uniffi
# uniffi-bindgen (debug) as scripts/kotlin.sh builds it: --workspace keeps the features of the
# setup build, so in CI this is already built.
cargo build --quiet --workspace --bins
# The JUnit tests run in scripts/kotlin.sh; this only packages (not even compiling them), and
# compiles in-process (a Kotlin daemon would outlive the script).
mvn -B -q -Dstyle.color=never -f kotlin/pom.xml "-Dporter.cargo.target=$target" -Dmaven.test.skip=true -Dkotlin.compiler.daemon=false \
    "-DaltDeploymentRepository=dist::file://$dist/maven" clean deploy 2>&1 | sed -u 's/\x1b\[[0-9;]*m//g'
# The deploy writes maven-metadata.xml and .md5/.sha1 files beside each file, as a remote repository has.
mvn_dir="$dist/maven/run/porter/porter-sandbox/$version"
for f in "porter-sandbox-$version.jar" "porter-sandbox-$version-sources.jar" "porter-sandbox-$version-javadoc.jar" "porter-sandbox-$version.pom"; do
    [ -s "$mvn_dir/$f" ] || { echo "error: $mvn_dir/$f is missing" >&2; exit 1; }
done
# (grep reads the whole listing: with -q it could stop early and fail the pipe.)
unzip -l "$mvn_dir/porter-sandbox-$version.jar" | grep 'linux-x86-64/libporter_sandbox_uniffi.so' >/dev/null || {
    echo "error: the jar holds no linux-x86-64/libporter_sandbox_uniffi.so" >&2
    exit 1
}

# --- Rust: the crate ----------------------------------------------------------------------------
step "rust: cargo package -p porter-sandbox (verified: it builds from the packaged sources alone)"
# --allow-dirty: dist/ is also built from work in progress; `cargo publish` checks again.
cargo package --quiet --allow-dirty -p porter-sandbox
cp "$target/package/porter-sandbox-$version.crate" "$dist/"

step "checksums"
(cd "$dist" && find . -type f ! -name SHA256SUMS ! -name '*.sha256' ! -name '*.md5' ! -name '*.sha1' \
    ! -name 'maven-metadata*' | sed 's|^\./||' | sort | xargs sha256sum >SHA256SUMS)

echo "== dist/ ($((SECONDS - started)) s)"
size() { du -h --apparent-size "$1" | cut -f1; }
echo "wheel    $(size "$wheel")  $(basename "$wheel") (module: $(unzip -l "$wheel" | awk '/_native\.abi3\.so/ {print $1}') bytes)"
echo "sdist    $(size "$dist/porter_sandbox-$version.tar.gz")  porter_sandbox-$version.tar.gz"
echo "npm      $(size "$dist/porter-sandbox-$version.tgz")  porter-sandbox-$version.tgz"
echo "npm      $(size "$dist/porter-sandbox-linux-x64-gnu-$version.tgz")  porter-sandbox-linux-x64-gnu-$version.tgz (.node: $(size node/porter-sandbox.linux-x64-gnu.node))"
echo "maven    $(size "$mvn_dir/porter-sandbox-$version.jar")  maven/run/porter/porter-sandbox/$version/porter-sandbox-$version.jar (+ -sources, -javadoc, .pom)"
echo "crate    $(size "$dist/porter-sandbox-$version.crate")  porter-sandbox-$version.crate"
echo "binary   $(size "$dist/$name.tar.gz")  $name.tar.gz (porter-sandbox: $(size "$target/release/porter-sandbox"))"
echo "dist: all artifacts built in $((SECONDS - started)) s"
