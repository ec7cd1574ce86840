"""Rewrite committed metrics.json files as strict JSON: a value that was not measured, written as a bare NaN by hvaerl
before schema 3, becomes null (what RunRecord.load reads back as NaN). Nothing else changes: same keys, same order,
same numbers, same indentation (hvaerl.sources.write_json_atomic). Idempotent.

    .venv/bin/python scripts/strict_records.py            # every results/**/metrics.json
    .venv/bin/python scripts/strict_records.py DIR ...    # the metrics.json files under DIR
"""

import json, sys
from pathlib import Path
from hvaerl.config import REPO
from hvaerl.sources import write_json_atomic

roots = [Path(a) for a in sys.argv[1:]] or [REPO / "results"]
changed = 0
for f in sorted(p for r in roots for p in r.rglob("metrics.json")):
    text = f.read_text()
    try:
        json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
        continue  # already strict
    except ValueError:
        pass
    write_json_atomic(f, json.loads(text))
    changed += 1
print(f"{changed} metrics.json rewritten as strict JSON")
