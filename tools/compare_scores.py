"""Every score and figure of two runs, compared: ``humanscore demo`` results.json files and/or
``humanscore validate --json`` files.

    python tools/compare_scores.py BEFORE/results.json AFTER/results.json
    python tools/compare_scores.py BEFORE/validate.json AFTER/validate.json

Prints how many values were compared and each one that differs (exact comparison).
"""

from __future__ import annotations

import json
import sys
from typing import Any, Dict


def _flatten(prefix: str, value: Any, out: Dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}/{key}", item, out)
    else:
        out[prefix] = value


def values(path: str) -> Dict[str, Any]:
    """Path-keyed values: per clip its scores, raw values, frames and error (results.json), or
    per figure its value (validate JSON)."""
    data = json.load(open(path))
    out: Dict[str, Any] = {}
    if isinstance(data, dict) and "figures" in data:
        for figure in data["figures"]:
            out[f"{figure['group']} | {figure['name']}"] = figure["value"]
        return out
    for record in data:
        _flatten(record["path"], {k: record[k] for k in ("scores", "raw", "num_frames", "error")}, out)
    return out


def main(before: str, after: str) -> int:
    """Print the comparison; 0 when every value is identical, else 1."""
    a, b = values(before), values(after)
    differ = [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    print(f"{len(set(a) | set(b))} values compared, {len(differ)} differ")
    for key, old, new in differ:
        print(f"  {key}: {old} -> {new}")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
