"""Benchmark plots (matplotlib, Agg, PNG): the intensity penalty curve and the leaderboard's
overall scores with their bootstrap 95 % intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..registry import DISPLAY_NAMES  # noqa: E402
from .plots import _save  # noqa: E402  (one way to write a report figure)

Interval = Optional[Tuple[float, float]]


def intensity_curve(curves: Mapping[str, Sequence[Tuple[Any, float, Interval, int]]], path: Path,
                    column: str, factor: str = "intensity") -> Path:
    """Mean score of each group per intensity level, with bootstrap 95 % intervals.

    Args:
        curves: group -> points ``(level, mean, (low, high) or None, clips)`` in level order.
        path: PNG to write. column: the score column drawn (e.g. the overall key).
        factor: the metadata key of the levels (axis label).
    """
    levels = sorted({p[0] for points in curves.values() for p in points}, key=level_order)
    x_of = {level: k for k, level in enumerate(levels)}
    fig, ax = plt.subplots(figsize=(6.4, 4.0 + 0.2 * ((len(curves) + 1) // 2)))
    colours = plt.cm.tab10(np.arange(len(curves)) % 10)
    spread = 0.06 * (len(curves) - 1)
    for k, (colour, (group, points)) in enumerate(zip(colours, curves.items())):
        offset = (k / max(len(curves) - 1, 1) - 0.5) * spread  # intervals side by side, not on top
        x = np.array([x_of[p[0]] for p in points], dtype=float) + offset
        y = np.array([p[1] for p in points])
        low = np.array([p[1] - p[2][0] if p[2] else 0.0 for p in points])
        high = np.array([p[2][1] - p[1] if p[2] else 0.0 for p in points])
        drop = y[-1] - y[0] if len(y) > 1 else 0.0
        ax.errorbar(x, y, yerr=[low, high], color=colour, marker="o", capsize=3, linewidth=1.8,
                    label=f"{group} ({drop:+.1f} from level {points[0][0]} to {points[-1][0]})")
    ax.set_xticks(range(len(levels)))
    ax.set_xticklabels([str(level) for level in levels])
    ax.set_xlabel(f"{factor} (prompt suite: 1 gentle, 2 moderate, 3 vigorous)" if factor == "intensity" else factor)
    ax.set_ylabel(f"mean {DISPLAY_NAMES.get(column, column)} (0-100)")
    ax.grid(axis="y", color="#ddd", linewidth=0.6)
    # Below the axes: a legend inside would hide the low scores it is about.
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    ax.set_title(f"Intensity penalty: {DISPLAY_NAMES.get(column, column)} by {factor} (bars: bootstrap 95 % interval)",
                 fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def leaderboard_intervals(rows: Sequence[Dict[str, Any]], path: Path, column: str) -> Path:
    """Each group's mean score with its bootstrap 95 % interval, best at the top, annotated with
    the rank stability (the fraction of resamples in which the group keeps its rank).

    Args:
        rows: ranked rows, best first, each with ``group``, ``rank`` (None: a reference row,
            drawn grey below a dashed line), ``column``, ``interval`` ((low, high) or None) and
            ``rank_stability`` (fraction or None).
    """
    fig, ax = plt.subplots(figsize=(6.4, 0.55 * len(rows) + 1.4))
    y = np.arange(len(rows))[::-1]
    for yk, row in zip(y, rows):
        value, interval, stability = row[column], row["interval"], row["rank_stability"]
        if value is None:
            continue
        reference = row["rank"] is None
        colour = "grey" if reference else "navy"
        if interval is not None:
            ax.plot(interval, [yk, yk], color=colour, linewidth=2.2)
        ax.plot([value], [yk], "o", color=colour)
        note = "reference" if reference else f"rank {row['rank']}" + (
            "" if stability is None else f" kept in {100 * stability:.0f} %")
        ax.annotate(f"{value:.1f}  ({note})", (value, yk), textcoords="offset points", xytext=(0, 7),
                    ha="center", fontsize=7)
    ranked = sum(row["rank"] is not None for row in rows)
    if 0 < ranked < len(rows):  # the reference rows below a dashed line
        ax.axhline(len(rows) - ranked - 0.5, color="grey", linestyle="--", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([row["group"] for row in rows], fontsize=8)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(f"mean {DISPLAY_NAMES.get(column, column)} (0-100), bootstrap 95 % interval over clips")
    ax.grid(axis="x", color="#ddd", linewidth=0.6)
    ax.set_title("Leaderboard with intervals and rank stability", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def level_order(level: Any):
    """Levels sort numerically when they are numbers (``2`` before ``10``), else as text."""
    try:
        return (0, float(level), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(level))


__all__ = ["intensity_curve", "leaderboard_intervals", "level_order"]
