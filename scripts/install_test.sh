#!/usr/bin/env bash
# Installs the artifacts of scripts/dist.sh as a user would, on a PATH without cargo, rustc or
# maturin, and runs each language's quickstart against a local server started from the release
# binary of the tarball:
#   - the binary: its checksum, `serve`, and the CLI flow (create --wait, exec, terminate);
#   - Python: a fresh virtualenv installs the wheel (no index, nothing to compile);
#   - Node: a fresh npm project installs the two tarballs (offline), runs the quickstart as ESM and
#     as CommonJS, and without the platform package fails with an error naming the platform;
#   - Kotlin: a fresh Maven project (empty local repository) resolves run.porter:porter-sandbox from
#     dist/maven and runs kotlin/examples/quickstart.
# Each step prints what it installed and how long that took. Run scripts/dist.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
dist="$root/dist"
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
version="$(bash scripts/version.sh)"
triple="x86_64-unknown-linux-gnu"
started=$SECONDS

if [ ! -d "$dist" ]; then
    echo "error: no dist/: run \`bash scripts/dist.sh\` first" >&2
    exit 1
fi

ms() { date +%s%3N; }
took() { local ms=$(($(ms) - $1)); printf '%d.%03d s' $((ms / 1000)) $((ms % 1000)); }

# The tools a user has, resolved before PATH loses anything: the real interpreter behind a shim.
python="$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)')"
m2_home="${HOME}/.m2/repository"

# PATH without any directory that holds cargo, rustc or maturin.
clean_path=""
IFS=: read -ra dirs <<<"$PATH"
for dir in "${dirs[@]}"; do
    [ -n "$dir" ] || continue
    if [ -e "$dir/cargo" ] || [ -e "$dir/rustc" ] || [ -e "$dir/maturin" ]; then
        continue
    fi
    clean_path="${clean_path:+$clean_path:}$dir"
done
export PATH="$clean_path"
unset CARGO_TARGET_DIR CARGO_HOME RUSTUP_HOME RUSTUP_TOOLCHAIN
for tool in cargo rustc maturin; do
    if command -v "$tool" >/dev/null; then
        echo "error: $tool is still on PATH ($(command -v "$tool"))" >&2
        exit 1
    fi
done
echo "PATH has no cargo, rustc or maturin: $PATH"

work="$target/install-test"
rm -rf "$work"
mkdir -p "$work"
source "$root/scripts/lib/local-server.sh"
cleanup() {
    stop_local_server
    rm -rf "$work"
}
trap cleanup EXIT

# --- The release binary: checksum, serve, CLI flow ---------------------------------------------
echo "== the release binary"
t=$(ms)
name="porter-sandbox-$version-$triple"
(cd "$dist" && sha256sum --quiet -c "$name.tar.gz.sha256")
tar -C "$work" -xzf "$dist/$name.tar.gz"
bin="$work/$name/porter-sandbox"
"$bin" --version
echo "installed $name.tar.gz ($(du -h --apparent-size "$bin" | cut -f1) binary) in $(took "$t")"
start_local_server "$bin" --offline-images host
trap cleanup EXIT # start_local_server sets its own trap: keep ours, which calls it
export PORTER_SANDBOX_BASE_URL="$server_url" PORTER_SANDBOX_API_KEY="$server_key"
echo "serve: $server_url (pid $server_pid)"

t=$(ms)
id="$("$bin" create host --name install-test --wait -- sleep 300)"
out="$("$bin" exec install-test -- python3 -c 'print(6 * 7)')"
[ "$out" = 42 ] || { echo "error: exec printed '$out', not 42" >&2; exit 1; }
status=0
"$bin" exec install-test -- sh -c 'exit 3' || status=$?
[ "$status" -eq 3 ] || { echo "error: exec exited $status, not the command's 3" >&2; exit 1; }
"$bin" terminate install-test
phase="$("$bin" get "$id" --json | "$python" -c 'import json, sys; print(json.load(sys.stdin)["phase"])')"
[ "$phase" = terminated ] || { echo "error: $id is $phase after terminate" >&2; exit 1; }
echo "cli: create --wait ($id), exec (42, exit 3), terminate ($phase) in $(took "$t")"

# --- Python: the wheel into a fresh virtualenv -------------------------------------------------
echo "== python: pip install the wheel into a fresh virtualenv"
wheel="$(ls "$dist"/porter_sandbox-"$version"-*.whl)"
"$python" -m venv "$work/venv"
t=$(ms)
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index "$wheel"
echo "installed $(basename "$wheel") ($(du -h --apparent-size "$wheel" | cut -f1)) in $(took "$t")"
"$work/venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null | grep -i porter
t=$(ms)
# From a directory without the sources: the installed package runs, not python/.
(cd "$work" && "$work/venv/bin/python" "$root/python/examples/quickstart.py")
echo "python quickstart ran in $(took "$t")"

# --- Node: the two tarballs into a fresh npm project -------------------------------------------
echo "== node: npm install the two tarballs into a fresh project"
project="$work/npm-project"
mkdir -p "$project"
echo '{ "name": "install-test", "version": "1.0.0", "private": true }' >"$project/package.json"
main_tgz="$dist/porter-sandbox-$version.tgz"
platform_tgz="$dist/porter-sandbox-linux-x64-gnu-$version.tgz"
t=$(ms)
# --offline: nothing may come from the registry; the platform tarball satisfies the main
# package's optional dependency.
(cd "$project" && npm install --silent --no-audit --no-fund --offline "$main_tgz" "$platform_tgz")
echo "installed $(basename "$main_tgz") ($(du -h --apparent-size "$main_tgz" | cut -f1)) and $(basename "$platform_tgz") ($(du -h --apparent-size "$platform_tgz" | cut -f1)) in $(took "$t")"
(cd "$project" && npm ls --all)
# What npm reads to pick the platform package, and the binary being where the loader looks.
node -e '
  const p = require(process.argv[1] + "/node_modules/porter-sandbox-linux-x64-gnu/package.json");
  const ok = p.os.join() === "linux" && p.cpu.join() === "x64" && p.libc.join() === "glibc";
  if (!ok) { console.error("wrong os/cpu/libc:", p.os, p.cpu, p.libc); process.exit(1); }
  const main = require(process.argv[1] + "/node_modules/porter-sandbox/package.json");
  if (main.optionalDependencies?.[p.name] !== p.version) { console.error("not wired:", main.optionalDependencies); process.exit(1); }
  console.log(`${p.name}: os ${p.os} cpu ${p.cpu} libc ${p.libc}; optionalDependencies of porter-sandbox: ${JSON.stringify(main.optionalDependencies)}`);
' "$project"
if ls "$project"/node_modules/porter-sandbox/*.node >/dev/null 2>&1; then
    echo "error: the main package carries a .node; the platform package should" >&2
    exit 1
fi
cp "$root/node/examples/quickstart.mjs" "$root/node/examples/quickstart.cjs" "$project/"
t=$(ms)
(cd "$project" && node quickstart.mjs)
echo "node quickstart (ESM) ran in $(took "$t")"
t=$(ms)
(cd "$project" && node quickstart.cjs)
echo "node quickstart (CommonJS) ran in $(took "$t")"
# A platform without a binary: the same project with the platform package gone.
rm -rf "$project/node_modules/porter-sandbox-linux-x64-gnu"
if message="$(cd "$project" && node -e "require('porter-sandbox')" 2>&1)"; then
    echo "error: porter-sandbox loaded without its platform package" >&2
    exit 1
fi
echo "$message" | grep 'no native module for this platform (linux-x64-gnu)' >/dev/null || {
    echo "error: the error without a platform package does not name the platform:" >&2
    echo "$message" >&2
    exit 1
}
echo "without the platform package: $(echo "$message" | grep -o 'porter-sandbox: no native module for this platform ([^)]*)')"

# --- Kotlin: a fresh Maven project on the dist/ repository -------------------------------------
echo "== kotlin: a fresh Maven project resolves run.porter:porter-sandbox:$version from dist/maven"
mproject="$work/maven-project"
mkdir -p "$mproject"
cp -r kotlin/examples/quickstart/pom.xml kotlin/examples/quickstart/src "$mproject/"
# An empty local repository, so the jar can only come from dist/maven (no Kotlin daemon: it would
# outlive the test, running from the removed repository). Third-party artifacts
# (Kotlin, JNA, plugins) are read from the user's repository through a view without run/porter,
# and from Maven Central for anything missing there.
view="$work/m2-view"
mkdir -p "$view"
if [ -d "$m2_home" ]; then
    for entry in "$m2_home"/*; do
        [ "$(basename "$entry")" = run ] || ln -s "$entry" "$view/"
    done
fi
cat >"$work/settings.xml" <<EOF
<settings>
  <profiles>
    <profile>
      <id>install-test</id>
      <repositories>
        <repository><id>cache</id><url>file://$view</url></repository>
      </repositories>
      <pluginRepositories>
        <pluginRepository><id>cache</id><url>file://$view</url></pluginRepository>
      </pluginRepositories>
    </profile>
  </profiles>
  <activeProfiles><activeProfile>install-test</activeProfile></activeProfiles>
</settings>
EOF
t=$(ms)
(cd "$mproject" && mvn -B -q -Dstyle.color=never -s "$work/settings.xml" "-Dmaven.repo.local=$work/m2" \
    "-Dporter.repository=file://$dist/maven" -Dkotlin.compiler.daemon=false package dependency:build-classpath \
    -Dmdep.outputFile=target/classpath.txt 2>&1 | sed -u 's/\x1b\[[0-9;]*m//g')
resolved="$work/m2/run/porter/porter-sandbox/$version/porter-sandbox-$version.jar"
cmp -s "$resolved" "$dist/maven/run/porter/porter-sandbox/$version/porter-sandbox-$version.jar" || {
    echo "error: the project did not resolve the jar of dist/maven" >&2
    exit 1
}
grep -q '>porter-dist=' "$work/m2/run/porter/porter-sandbox/$version/_remote.repositories"
echo "resolved run.porter:porter-sandbox:$version ($(du -h --apparent-size "$resolved" | cut -f1)) from dist/maven and built the quickstart in $(took "$t")"
t=$(ms)
(cd "$mproject" && java -cp "target/classes:$(cat target/classpath.txt)" run.porter.examples.quickstart.MainKt)
echo "kotlin quickstart ran in $(took "$t")"

echo "install tests: 4 passed, 0 failed ($((SECONDS - started)) s)"
