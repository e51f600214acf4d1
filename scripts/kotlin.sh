#!/usr/bin/env bash
# The Kotlin/JVM package (kotlin/): build the native library (release cdylib) and uniffi-bindgen,
# then `mvn install` — which generates the Kotlin sources from the library, compiles them, runs
# the JUnit tests against a local `porter-sandbox serve` and packages the jar with the library
# inside — and finally build and run kotlin/examples/quickstart, a separate Maven project that
# depends on that jar, against a local server.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac

for tool in java mvn; do
    if ! command -v "$tool" >/dev/null; then
        echo "$tool is required for the Kotlin package (a JDK 17+ and Maven 3.8+)" >&2
        exit 1
    fi
done

echo "== cargo build: the test server and uniffi-bindgen (debug), the native library (release)"
# --workspace keeps the features of the setup build, so in CI this reuses what setup.sh built.
cargo build --quiet --workspace --bins
cargo build --quiet --release -p porter-sandbox-uniffi

# Maven, quiet; Maven 3.8 prints stray colour resets under -q even in batch mode: drop them.
mvn_quiet() {
    mvn -B -q -Dstyle.color=never "-Dporter.cargo.target=$target" "$@" 2>&1 | sed -u 's/\x1b\[[0-9;]*m//g'
}

echo "== mvn clean install (uniffi-bindgen, kotlinc, JUnit tests against porter-sandbox serve, jar)"
reports="kotlin/target/surefire-reports"
status=0
mvn_quiet -f kotlin/pom.xml -Dporter.skipDocs=true clean install || status=$?
# Surefire is quiet under -q: sum its reports into one closing line.
python3 - "$reports" <<'EOF'
import glob, sys, xml.etree.ElementTree as ET
totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
for path in glob.glob(f"{sys.argv[1]}/TEST-*.xml"):
    suite = ET.parse(path).getroot()
    for key in totals:
        totals[key] += int(suite.get(key, 0))
failed = totals["failures"] + totals["errors"]
passed = totals["tests"] - failed - totals["skipped"]
print(f"kotlin: {passed} passed, {failed} failed, {totals['skipped']} skipped")
EOF
[ "$status" -eq 0 ] || exit "$status"
echo "jar: $(ls kotlin/target/porter-sandbox-*.jar)"

echo "== README.md's Kotlin example is the one the quickstart project compiles"
python3 - <<'PY'
import re, sys
readme = open("README.md").read()
block = re.search(r"```kotlin\n.*?runBlocking \{\n(.*?)```", readme, re.S).group(1)
tour = open("kotlin/examples/quickstart/src/main/kotlin/run/porter/examples/quickstart/ReadmeTour.kt").read()
if block not in tour:
    sys.exit("README.md's Kotlin example differs from kotlin/examples/quickstart/src/.../ReadmeTour.kt: update both")
PY

echo "== the quickstart: a separate Maven project on the installed jar, against a local server"
source "$root/scripts/lib/local-server.sh"
start_local_server "$target/debug/porter-sandbox" --offline-images host
url="$server_url"
cd kotlin/examples/quickstart
mvn_quiet clean package dependency:build-classpath -Dmdep.outputFile=target/classpath.txt
PORTER_SANDBOX_BASE_URL="$url" PORTER_SANDBOX_API_KEY="$server_key" java -cp "target/classes:$(cat target/classpath.txt)" \
    run.porter.examples.quickstart.MainKt
