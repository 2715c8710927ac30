"""Writing per-clip records: results.json, results.csv, a Markdown summary, a console table."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any, Dict, List, Sequence

from ..evaluation import OVERALL_KEY
from ..registry import METRIC_KEYS, TIERS

SCORE_COLUMNS = [OVERALL_KEY, *TIERS, *METRIC_KEYS]


# A spreadsheet reads a cell starting with one of these as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: Any) -> Any:
    """``value`` for a CSV cell: text that a spreadsheet would run as a formula (a file name or
    a manifest value like ``=HYPERLINK(...)``, both untrusted) gets a leading apostrophe, the
    spreadsheets' mark for literal text; numbers and other text are kept."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def _fmt(value: Any, digits: int = 1) -> str:
    return "n/c" if value is None else f"{value:.{digits}f}"


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: written to a temporary file in the same
    folder, flushed to disk, then renamed over ``path`` (``os.replace``, atomic on POSIX and
    Windows), so a run killed at any moment leaves either the old file or the new one, never
    half of one. The temporary file is removed when writing fails."""
    path = Path(path)
    # Named by process id rather than mkstemp: open() gives the usual umask permissions
    # (mkstemp's are owner-only), and no two processes share a name.
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        # BaseException: an interrupt mid-write must not leave the temporary file behind either.
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_json(records: Sequence[Dict[str, Any]], path: Path) -> None:
    """Write the records as ``results.json`` (a list, one record per clip), atomically."""
    # Serialised before anything is written: a record that is not JSON leaves the old file as it was.
    write_text_atomic(path, json.dumps(list(records), indent=1))


def write_csv(records: Sequence[Dict[str, Any]], path: Path) -> None:
    """Write one row per clip: path, frames, fps, every score, every raw value, error (atomically)."""
    header = ["path", "num_frames", "fps"] + [f"score_{k}" for k in SCORE_COLUMNS] \
        + [f"raw_{k}" for k in METRIC_KEYS] + ["error"]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    for r in records:
        raw = [None if r["raw"].get(k) is None else r["raw"][k]["value"] for k in METRIC_KEYS]
        writer.writerow([spreadsheet_text(r["path"]), r["num_frames"], r["fps"]]
                        + [r["scores"].get(k) for k in SCORE_COLUMNS] + raw + [spreadsheet_text(r["error"])])
    write_text_atomic(path, buffer.getvalue())


def common_folder(paths: Sequence[str]) -> str:
    """The deepest folder holding every path ("" when they share none, or for one path
    without a folder), what :func:`clip_labels` leaves out."""
    folders = [os.path.dirname(p) for p in paths]
    if not folders or any(not f for f in folders) or len({os.path.isabs(p) for p in paths}) > 1:
        return ""
    return os.path.commonpath(folders)


def clip_labels(paths: Sequence[str]) -> List[str]:
    """The paths without their :func:`common_folder`, so files of one name in per-model
    folders stay apart (``gvhmr/hmr4d_results.pt``, ``wham/hmr4d_results.pt``) and the rest
    is short."""
    common = common_folder(paths)
    return [os.path.relpath(p, common) if common else p for p in paths]


def console_table(records: Sequence[Dict[str, Any]]) -> str:
    """A fixed-width table of scores (0-100, ``n/c`` = not computed), one row per clip, clips
    named by :func:`clip_labels`."""
    names = clip_labels([r["path"] for r in records])
    width = max([len("clip")] + [len(n) for n in names])
    short = {OVERALL_KEY: "overall", "bone_length_consistency": "bone_len", "range_of_motion": "rom",
             "self_penetration": "penetr", "newtonian_plausibility": "newton", "artifact_rate": "artifact"}
    heads = [short.get(k, k)[:10] for k in SCORE_COLUMNS]
    lines = ["  ".join([f"{'clip':<{width}}"] + [f"{h:>10}" for h in heads])]
    for name, r in zip(names, records):
        cells = [f"{'ERROR':>10}"] if r["error"] else [f"{_fmt(r['scores'].get(k)):>10}" for k in SCORE_COLUMNS]
        lines.append("  ".join([f"{name:<{width}}"] + cells) + (f"  {r['error']}" if r["error"] else ""))
    return "\n".join(lines)


def write_markdown(records: Sequence[Dict[str, Any]], path: Path, title: str = "HumanScore report") -> None:
    """A Markdown report: the score table and the raw values with units."""
    lines: List[str] = [f"# {title}", "", "Scores are 0-100, higher is better; n/c = not computed.", ""]
    lines.append("| clip | frames | fps | " + " | ".join(SCORE_COLUMNS) + " |")
    lines.append("|" + "---|" * (3 + len(SCORE_COLUMNS)))
    for r in records:
        if r["error"]:
            lines.append(f"| {r['path']} | - | - | error: {r['error']} |")
            continue
        cells = [_fmt(r["scores"].get(k)) for k in SCORE_COLUMNS]
        lines.append(f"| {r['path']} | {r['num_frames']} | {_fmt(r['fps'], 0)} | " + " | ".join(cells) + " |")
    lines += ["", "## Raw values", "", "| clip | " + " | ".join(METRIC_KEYS) + " |", "|" + "---|" * (1 + len(METRIC_KEYS))]
    for r in records:
        if not r["error"]:
            cells = ["n/c" if r["raw"].get(k) is None else f"{r['raw'][k]['value']:.4g} {r['raw'][k]['unit']}"
                     for k in METRIC_KEYS]
            lines.append(f"| {r['path']} | " + " | ".join(cells) + " |")
    write_text_atomic(path, "\n".join(lines) + "\n")


def write_all(records: Sequence[Dict[str, Any]], output: Path, title: str = "HumanScore report") -> None:
    """results.json, results.csv and report.md in ``output`` (created if needed), each
    replaced atomically (:func:`write_text_atomic`)."""
    output.mkdir(parents=True, exist_ok=True)
    write_json(records, output / "results.json")
    write_csv(records, output / "results.csv")
    write_markdown(records, output / "report.md", title)


def group_summary(records: Sequence[Dict[str, Any]], key: str) -> List[Dict[str, Any]]:
    """Mean score per group of clips sharing ``metadata[key]`` (``"(none)"`` when absent).

    Returns one dict per group: ``group``, ``clips``, ``failed`` and the mean of each score
    column over the clips where it was computed (None where it never was).
    """
    groups: Dict[str, List[Dict[str, Any]]] = {}
    for r in records:
        groups.setdefault(str(r.get("metadata", {}).get(key, "(none)")), []).append(r)
    rows = []
    for name, members in sorted(groups.items()):
        scored = [m for m in members if m["error"] is None]
        row: Dict[str, Any] = {"group": name, "clips": len(members), "failed": len(members) - len(scored)}
        for col in SCORE_COLUMNS:
            values = [m["scores"][col] for m in scored if m["scores"].get(col) is not None]
            row[col] = sum(values) / len(values) if values else None
        rows.append(row)
    return rows


def write_groups(records: Sequence[Dict[str, Any]], key: str, output: Path) -> str:
    """Write ``groups.csv`` (one row per group) and return the groups as a console table."""
    rows = group_summary(records, key)
    with open(output / "groups.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["group", "clips", "failed", *SCORE_COLUMNS])
        writer.writeheader()
        writer.writerows({**row, "group": spreadsheet_text(row["group"])} for row in rows)
    width = max([len(key)] + [len(r["group"]) for r in rows])
    lines = [f"{key:<{width}}  {'clips':>5}  " + "  ".join(f"{c[:10]:>10}" for c in SCORE_COLUMNS)]
    for r in rows:
        lines.append(f"{r['group']:<{width}}  {r['clips']:>5}  " + "  ".join(f"{_fmt(r[c]):>10}" for c in SCORE_COLUMNS))
    return "\n".join(lines)
