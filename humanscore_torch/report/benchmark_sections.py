"""The report's benchmark sections: a leaderboard with bootstrap intervals and rank stability
(and an optional real-video reference row), scores by prompt intensity (the "intensity
penalty") and by prompt variant (plain vs detailed), the spread within each group, and per
clip the raw values with their units, the frame rate with its source and the conversions the
loader applied.

Groups are the clips sharing ``metadata[key]`` (``(none)`` when absent; one group ``all``
without a key), as in :func:`~humanscore_torch.report.results.group_summary`. The prompt
factors are the metadata keys ``intensity`` and ``variant`` that a manifest's suite
``prompt_id`` gives (:mod:`humanscore_torch.benchmark.manifest`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..benchmark.group_keys import NO_GROUP
from ..evaluation import OVERALL_KEY
from ..registry import DISPLAY_NAMES, METRIC_KEYS, TIERS
from .benchmark_plots import intensity_curve, leaderboard_intervals, level_order
from .group_statistics import (CONFIDENCE, RESAMPLES, SEED, bootstrap_means, leaderboard_statistics,
                               percentile_interval, score_matrix)
from .leaderboard import leaderboard_rows
from .results import clip_labels

Record = Dict[str, Any]
Block = Tuple[str, Any]
SUMMARY_COLUMNS = (*TIERS, OVERALL_KEY)
PROMPT_FACTORS = {"intensity": "Score by prompt intensity (intensity penalty)",
                  "variant": "Plain vs detailed prompts"}


def group_name(record: Record, key: Optional[str]) -> str:
    """The group of a record: ``str(metadata[key])``, ``(none)`` without it, ``all`` without a key."""
    return "all" if key is None else str(record.get("metadata", {}).get(key, NO_GROUP))


def records_by_group(records: Sequence[Record], key: Optional[str]) -> Dict[str, List[Record]]:
    """Records by :func:`group_name`, groups sorted by name."""
    groups: Dict[str, List[Record]] = {}
    for r in records:
        groups.setdefault(group_name(r, key), []).append(r)
    return dict(sorted(groups.items()))


def rank_rows(rows: Sequence[Dict[str, Any]], reference: Optional[str]) -> List[Dict[str, Any]]:
    """Leaderboard rows (best first) ranked 1, 2, ... without the ``reference`` group, whose
    row follows them with rank None."""
    ranked = [{**r, "rank": rank} for rank, r in enumerate((r for r in rows if r["group"] != reference), 1)]
    return ranked + [{**r, "rank": None} for r in rows if r["group"] == reference]


def ranked_leaderboard(records: Sequence[Record], key: Optional[str], reference: Optional[str] = None,
                       resamples: int = RESAMPLES, seed: int = SEED) -> List[Dict[str, Any]]:
    """The leaderboard rows with statistics: the groups but ``reference`` ranked by mean
    overall score (best first), then the reference group's row, unranked.

    Returns:
        rows of :func:`~humanscore_torch.report.leaderboard.leaderboard_rows` (means per score
        column) with ``rank`` (None for the reference), ``interval`` (the overall's bootstrap
        95 % interval or None), ``intervals`` (per column of :data:`SUMMARY_COLUMNS`),
        ``rank_stability`` (fraction of resamples keeping the rank; None for the reference)
        and ``spread`` (per column: std, median, q1, q3, iqr).
    """
    out = rank_rows(leaderboard_rows(records, key), reference)
    groups = {g: score_matrix(members, SUMMARY_COLUMNS) for g, members in records_by_group(records, key).items()}
    ranked = [r["group"] for r in out if r["rank"] is not None and r[OVERALL_KEY] is not None]
    stats = leaderboard_statistics(groups, ranked, SUMMARY_COLUMNS, resamples, seed)
    for row in out:
        s = stats[row["group"]]
        row.update(intervals=s["interval"], interval=s["interval"][OVERALL_KEY], rank_stability=s["rank_stability"],
                   spread=s["spread"])
    return out


def _with_interval(value: Optional[float], interval: Optional[Tuple[float, float]]) -> str:
    if value is None:
        return "n/c"
    return f"{value:.1f}" if interval is None else f"{value:.1f} [{interval[0]:.1f}, {interval[1]:.1f}]"


def _label(column: str) -> str:
    return DISPLAY_NAMES.get(column, column)


def leaderboard_interval_table(rows: Sequence[Dict[str, Any]], key: Optional[str]) -> List[List[str]]:
    """Rank, group, scored clips, each tier and the overall as ``mean [low, high]`` (bootstrap
    95 % interval), and the rank stability; the reference row's rank reads ``ref``."""
    table = [["rank", key or "group", "scored", *[f"{_label(c)} [95 % CI]" for c in SUMMARY_COLUMNS],
              "rank kept"]]
    for row in rows:
        stability = row["rank_stability"]
        table.append(["ref" if row["rank"] is None else str(row["rank"]),
                      row["group"] + (" (reference)" if row["rank"] is None else ""),
                      f"{row['clips'] - row['failed']}/{row['clips']}",
                      *[_with_interval(row[c], row["intervals"][c]) for c in SUMMARY_COLUMNS],
                      "-" if stability is None else f"{100 * stability:.0f} %"])
    return table


def spread_table(rows: Sequence[Dict[str, Any]], key: Optional[str]) -> List[List[str]]:
    """Per group and per tier and overall: standard deviation and interquartile range over clips."""
    table = [[key or "group", "clips", *[f"{_label(c)} {s}" for c in SUMMARY_COLUMNS for s in ("sd", "IQR")]]]
    for row in rows:
        cells = []
        for c in SUMMARY_COLUMNS:
            s = row["spread"][c]
            cells += ["-" if np.isnan(s["std"]) else f"{s['std']:.2f}", "-" if np.isnan(s["iqr"]) else f"{s['iqr']:.2f}"]
        table.append([row["group"], str(row["clips"] - row["failed"]), *cells])
    return table


def factor_curves(records: Sequence[Record], key: Optional[str], factor: str, column: str = OVERALL_KEY,
                  resamples: int = RESAMPLES, seed: int = SEED) -> Dict[str, List[Tuple[Any, float, Any, int]]]:
    """Per group, the mean ``column`` score of its clips at each level of ``metadata[factor]``.

    Returns:
        group -> ``(level, mean, (low, high) bootstrap 95 % interval or None, clips)`` in level
        order (numeric when the levels are numbers); groups with no clip carrying ``factor``
        are left out.
    """
    rng = np.random.default_rng(seed)
    curves: Dict[str, List[Tuple[Any, float, Any, int]]] = {}
    for group, members in records_by_group(records, key).items():
        levels: Dict[Any, List[Record]] = {}
        for r in members:
            level = r.get("metadata", {}).get(factor)
            if level is not None and r.get("error") is None and r["scores"].get(column) is not None:
                levels.setdefault(level, []).append(r)
        points = []
        for level in sorted(levels, key=level_order):
            scores = score_matrix(levels[level], [column])
            low, high = percentile_interval(bootstrap_means(scores, resamples, rng), CONFIDENCE)[0]
            interval = (float(low), float(high)) if np.isfinite([low, high]).all() else None
            points.append((level, float(scores[:, 0].mean()), interval, len(scores)))
        if points:
            curves[group] = points
    return curves


def factor_table(curves: Dict[str, List[Tuple[Any, float, Any, int]]], key: Optional[str],
                 factor: str) -> List[List[str]]:
    """One row per group, one column per level (``mean [low, high] (n)``), and the change from
    the first level to the last."""
    levels = sorted({p[0] for points in curves.values() for p in points}, key=level_order)
    table = [[key or "group", *[f"{factor} {level}" for level in levels], "last - first"]]
    for group, points in curves.items():
        at = {p[0]: p for p in points}
        cells = [f"{_with_interval(at[lv][1], at[lv][2])} ({at[lv][3]})" if lv in at else "-" for lv in levels]
        change = f"{points[-1][1] - points[0][1]:+.1f}" if len(points) > 1 else "-"
        table.append([group, *cells, change])
    return table


def _units(records: Sequence[Record]) -> Dict[str, Optional[str]]:
    """metric key -> the unit its raw values share (None when the clips disagree or none has one)."""
    units: Dict[str, set] = {k: set() for k in METRIC_KEYS}
    for r in records:
        for k in METRIC_KEYS:
            if (r.get("raw") or {}).get(k):
                units[k].add(r["raw"][k]["unit"])
    return {k: next(iter(u)) if len(u) == 1 else None for k, u in units.items()}


def raw_value_table(records: Sequence[Record]) -> List[List[str]]:
    """Per scored clip: frames, fps and each metric's raw value (4 significant digits), the
    unit in the header (in each cell when the clips' units differ)."""
    units = _units(records)
    labels = clip_labels([r["path"] for r in records])
    table = [["clip", "frames", "fps", *[_label(k) + (f" ({units[k]})" if units[k] else "") for k in METRIC_KEYS]]]
    for r, label in zip(records, labels):
        if r.get("error") is not None:
            continue
        cells = []
        for k in METRIC_KEYS:
            raw = (r.get("raw") or {}).get(k)
            cells.append("n/c" if raw is None else f"{raw['value']:.4g}" + ("" if units[k] else f" {raw['unit']}"))
        table.append([label, str(r["num_frames"]), f"{r['fps']:g}", *cells])
    return table


def clip_notes_table(records: Sequence[Record]) -> List[List[str]]:
    """Per clip: layout, where its frame rate came from and every conversion the loader applied
    (``metadata``: ``layout``, ``fps_source``, ``conversions``)."""
    table = [["clip", "layout", "fps", "fps source", "conversions"]]
    for r, label in zip(records, clip_labels([r["path"] for r in records])):
        meta = r.get("metadata", {})
        table.append([label, str(meta.get("layout", "-")), "-" if r.get("fps") is None else f"{r['fps']:g}",
                      str(meta.get("fps_source", "-")), str(meta.get("conversions") or "none")])
    return table


def benchmark_blocks(records: Sequence[Record], output: Path, key: Optional[str], reference: Optional[str] = None,
                     rows: Optional[List[Dict[str, Any]]] = None) -> Tuple[List[Block], Dict[str, List[Path]]]:
    """The report blocks of this module's sections and the plots they show (written into
    ``output/plots``: ``leaderboard_intervals.png``, ``intensity.png``). ``rows``: the
    :func:`ranked_leaderboard` of the records when the caller has it.

    Returns:
        (blocks, plot kind -> PNG paths); no block for a prompt factor no clip carries.
    """
    folder = Path(output) / "plots"
    rows = ranked_leaderboard(records, key, reference) if rows is None else rows
    plots: Dict[str, List[Path]] = {"leaderboard_intervals": [], "intensity": []}
    blocks: List[Block] = [
        ("h2", "Leaderboard with 95 % intervals and rank stability"),
        ("p", f"Mean score per group; in brackets the bootstrap 95 % interval of the mean ({RESAMPLES} resamples "
              f"of the clips within each group, seed {SEED}). 'rank kept': the fraction of resamples in which "
              f"the group keeps its rank." + (f" The reference row ({reference}) is not ranked." if reference else "")),
        ("table", leaderboard_interval_table(rows, key)),
    ]
    if reference is not None and not any(r["rank"] is None for r in rows):
        blocks.append(("p", f"No clip is in the reference group {reference!r} of --group-by {key}."))
    if any(r[OVERALL_KEY] is not None for r in rows):
        plots["leaderboard_intervals"].append(leaderboard_intervals(rows, folder / "leaderboard_intervals.png",
                                                                    OVERALL_KEY))
        blocks.append(("img", ("plots/leaderboard_intervals.png", "Overall score per group with its 95 % interval")))
    for factor, heading in PROMPT_FACTORS.items():
        curves = factor_curves(records, key, factor)
        if not curves:
            continue
        blocks += [("h2", heading), ("table", factor_table(curves, key, factor))]
        if factor == "intensity":
            plots["intensity"].append(intensity_curve(curves, folder / "intensity.png", OVERALL_KEY))
            blocks.append(("img", ("plots/intensity.png", "Intensity penalty: overall score by prompt intensity")))
    blocks += [
        ("h2", "Spread within each group"),
        ("p", "Standard deviation (sd) and interquartile range (IQR) of the clips' scores."),
        ("table", spread_table(rows, key)),
        ("h2", "Raw values per clip"),
        ("p", "The metric values before the 0-100 map, in their units (fraction: of valid frames)."),
        ("table", raw_value_table(records)),
        ("h2", "Frame rate and conversions per clip"),
        ("table", clip_notes_table(records)),
    ]
    return blocks, plots


__all__ = ["PROMPT_FACTORS", "SUMMARY_COLUMNS", "benchmark_blocks", "clip_notes_table", "factor_curves",
           "factor_table", "group_name", "leaderboard_interval_table", "rank_rows", "ranked_leaderboard", "raw_value_table",
           "records_by_group", "spread_table"]
