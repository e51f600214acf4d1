#!/usr/bin/env bash
# The release version is written once: `[workspace.package] version` in Cargo.toml. Every other
# manifest must carry the same (the Python package reads it from Cargo through maturin).
#
#   bash scripts/version.sh              check every manifest, print the version
#   bash scripts/version.sh --set 0.3.0  write 0.3.0 into Cargo.toml and every manifest below
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - "$@" <<'PY'
import json, re, sys, tomllib
from pathlib import Path

CARGO = Path("Cargo.toml")

def workspace_version() -> str:
    return tomllib.loads(CARGO.read_text())["workspace"]["package"]["version"]

def pom_versions(path: Path) -> dict[str, str]:
    """The project's own version and that of its run.porter:porter-sandbox dependency, if any."""
    text = path.read_text()
    found = {}
    own = re.search(r"<artifactId>(porter-sandbox|quickstart)</artifactId>\s*<version>([^<]+)</version>", text)
    if own:
        found[f"{path} (project)"] = own.group(2)
    dep = re.search(r"<dependency>\s*<groupId>run\.porter</groupId>\s*<artifactId>porter-sandbox</artifactId>\s*<version>([^<]+)</version>", text)
    if dep:
        found[f"{path} (dependency run.porter:porter-sandbox)"] = dep.group(1)
    return found

def collect() -> dict[str, str]:
    """Every place outside [workspace.package] that names the release version."""
    found: dict[str, str] = {}
    cargo = tomllib.loads(CARGO.read_text())
    for name, dep in cargo["workspace"].get("dependencies", {}).items():
        if isinstance(dep, dict) and "path" in dep and "version" in dep:
            # A path dependency's version is what `cargo package` writes for the registry.
            found[f"Cargo.toml [workspace.dependencies] {name}"] = dep["version"].lstrip("=")
    for member in cargo["workspace"]["members"]:
        manifest = Path(member) / "Cargo.toml"
        package = tomllib.loads(manifest.read_text())["package"]
        version = package.get("version")
        if version != {"workspace": True}:
            found[f"{manifest} (must be version.workspace = true)"] = str(version)
    project = tomllib.loads(Path("python/pyproject.toml").read_text())["project"]
    if "version" in project or "version" not in project.get("dynamic", []):
        found["python/pyproject.toml (must be dynamic = [\"version\"])"] = str(project.get("version"))
    for path in [Path("node/package.json"), *sorted(Path("node/npm").glob("*/package.json"))]:
        package = json.loads(path.read_text())
        found[str(path)] = package["version"]
        for dep, version in package.get("optionalDependencies", {}).items():
            found[f"{path} optionalDependencies {dep}"] = version
    lock = json.loads(Path("node/package-lock.json").read_text())
    found["node/package-lock.json"] = lock["version"]
    found["node/package-lock.json (packages[''])"] = lock["packages"][""]["version"]
    for pom in (Path("kotlin/pom.xml"), Path("kotlin/examples/quickstart/pom.xml")):
        found.update(pom_versions(pom))
    return found

def set_version(new: str) -> None:
    if not re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", new):
        sys.exit(f"error: {new!r} is not a version like 1.2.3")
    old = workspace_version()
    text = CARGO.read_text()
    text = re.sub(r'(\[workspace\.package\]\s*\nversion = ")[^"]+"', rf'\g<1>{new}"', text, count=1)
    text = re.sub(r'(path = "[^"]+", version = ")=?[^"]+"', rf'\g<1>{new}"', text)
    CARGO.write_text(text)
    for path in [Path("node/package.json"), *Path("node/npm").glob("*/package.json"), Path("node/package-lock.json")]:
        data = json.loads(path.read_text())
        data["version"] = new
        if "optionalDependencies" in data:
            data["optionalDependencies"] = {k: new for k in data["optionalDependencies"]}
        if path.name == "package-lock.json":
            data["packages"][""]["version"] = new
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    for pom in (Path("kotlin/pom.xml"), Path("kotlin/examples/quickstart/pom.xml")):
        text = pom.read_text()
        text = re.sub(r"(<artifactId>(?:porter-sandbox|quickstart)</artifactId>\s*<version>)[^<]+(</version>)", rf"\g<1>{new}\g<2>", text)
        pom.write_text(text)
    print(f"version: {old} -> {new} (run `cargo update -w` for Cargo.lock)")

args = sys.argv[1:]
if args[:1] == ["--set"] and len(args) == 2:
    set_version(args[1])
elif args:
    sys.exit("usage: scripts/version.sh [--set X.Y.Z]")
version = workspace_version()
wrong = {where: v for where, v in collect().items() if v != version}
if wrong:
    print(f"error: the release version is {version} ([workspace.package] in Cargo.toml), but:", file=sys.stderr)
    for where, v in wrong.items():
        print(f"  {where}: {v}", file=sys.stderr)
    print("fix: bash scripts/version.sh --set " + version, file=sys.stderr)
    sys.exit(1)
print(version)
PY
