"""The scenarios and the not-applicable table for a runtime other than the local `oci` one.

    python3 for_runtime.py CONFORMANCE_DIR OUT_DIR RUNTIME IMAGE

Writes OUT_DIR/scenarios/ (the scenarios of the local server, `"image": "host"` replaced by
IMAGE: `host` is the oci runtime's own image) and OUT_DIR/not_applicable.json (the common table
with not_applicable.RUNTIME.json's cells added; `"*"` there stands for every runner).
"""

import json
import sys
from pathlib import Path


def main() -> None:
    here, out, runtime, image = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    (out / "scenarios").mkdir(parents=True)
    kept = set()
    for path in sorted((here / "scenarios").glob("*.json")):
        text = path.read_text()
        if json.loads(text).get("server") == "local":
            text = text.replace('"image": "host"', json.dumps({"image": image})[1:-1])
            (out / "scenarios" / path.name).write_text(text)
            kept.add(path.stem)
    table = {
        name: cells
        for name, cells in json.loads((here / "not_applicable.json").read_text()).items()
        if name in kept or not (here / "scenarios" / f"{name}.json").exists()
    }
    extra = json.loads((here / f"not_applicable.{runtime}.json").read_text())
    for name, cells in extra.items():
        if name != "_comment":
            table.setdefault(name, {}).update(cells)
    (out / "not_applicable.json").write_text(json.dumps(table, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
