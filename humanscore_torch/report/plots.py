"""Report plots (matplotlib, Agg backend, PNG): tier radar, per-metric bars, violation timelines.

Each function takes the rows or traces it draws and a PNG path, writes the figure and returns
the path. Scores are 0-100 (higher is better); a metric not computed for any group is left out
and named in the figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..evaluation import OVERALL_KEY  # noqa: E402
from ..registry import DISPLAY_NAMES, METRIC_KEYS, SPECS, TIERS  # noqa: E402
from .traces import CONSTRAINTS, ClipTrace  # noqa: E402

TIER_COLOURS = dict(zip(TIERS, ("#e8f0fb", "#eaf6ea", "#fbefe6")))


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _computed_metrics(rows: Sequence[Dict[str, Any]]) -> List[str]:
    return [k for k in METRIC_KEYS if any(r.get(k) is not None for r in rows)]


def tier_radar(rows: Sequence[Dict[str, Any]], path: Path, title: str = "Scores per group") -> Path:
    """Radar of the metric scores of each group (one polygon per group), axes grouped by tier.

    Args:
        rows: one dict per group with ``group`` and score columns (metric, tier and overall
            keys, 0-100 or None), e.g. from :func:`~humanscore_torch.report.leaderboard.leaderboard_rows`.
        path: PNG to write.
    """
    metrics = _computed_metrics(rows)
    missing = [DISPLAY_NAMES[k] for k in METRIC_KEYS if k not in metrics]
    angles = np.linspace(0.0, 2 * np.pi, len(metrics), endpoint=False)
    fig = plt.figure(figsize=(6.4, 5.6))
    ax = fig.add_subplot(111, projection="polar")
    ax.set_theta_offset(np.pi / 2)
    ax.set_theta_direction(-1)
    # Tier sectors behind the axes, so a reader sees which two metrics make a tier.
    step = 2 * np.pi / max(len(metrics), 1)
    for tier, keys in TIERS.items():
        idx = [metrics.index(k) for k in keys if k in metrics]
        if idx:
            ax.bar(np.mean(angles[idx]), 100, width=step * len(idx), color=TIER_COLOURS[tier], alpha=1.0, zorder=0)
    colours = plt.cm.tab10(np.arange(len(rows)) % 10)
    for colour, row in zip(colours, rows):
        values = np.array([np.nan if row.get(k) is None else row[k] for k in metrics])
        closed = np.append(values, values[:1])
        theta = np.append(angles, angles[:1])
        tiers = ", ".join(f"{t} {row[t]:.0f}" for t in TIERS if row.get(t) is not None)
        overall = row.get(OVERALL_KEY)
        label = f"{row['group']}: {'n/c' if overall is None else f'{overall:.1f}'} ({tiers})"
        ax.plot(theta, closed, color=colour, linewidth=2, label=label, zorder=3)
        ax.fill(theta, closed, color=colour, alpha=0.12, zorder=2)
    ax.set_xticks(angles)
    ax.set_xticklabels([f"{DISPLAY_NAMES[k]}\n({next(t for t, ks in TIERS.items() if k in ks)})" for k in metrics],
                       fontsize=8)
    ax.tick_params(axis="x", pad=14)
    ax.set_ylim(0, 100)
    ax.set_rlabel_position(180 / max(len(metrics), 1))
    ax.set_yticks([25, 50, 75, 100])
    ax.set_yticklabels(["25", "50", "75", "100"], fontsize=7, color="grey")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), fontsize=8, frameon=False,
              title="group: HumanScore (tier scores)", title_fontsize=8)
    note = f" (not computed: {', '.join(missing)})" if missing else ""
    ax.set_title(title + note, fontsize=10, pad=18)
    fig.tight_layout()
    return _save(fig, path)


def metric_bars(rows: Sequence[Dict[str, Any]], path: Path, title: str = "Mean score per metric") -> Path:
    """Grouped bars: the overall, tier and metric scores (0-100) of each group side by side."""
    metrics = _computed_metrics(rows)
    columns = [OVERALL_KEY, *TIERS, *metrics]
    x = np.arange(len(columns))
    width = 0.8 / max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(max(7.0, 0.9 * len(columns) + 1.5), 4.2))
    colours = plt.cm.tab10(np.arange(len(rows)) % 10)
    for k, (colour, row) in enumerate(zip(colours, rows)):
        values = [np.nan if row.get(c) is None else row[c] for c in columns]
        bars = ax.bar(x + (k - (len(rows) - 1) / 2) * width, values, width, color=colour, label=row["group"])
        for bar, value in zip(bars, values):
            if np.isfinite(value):
                ax.text(bar.get_x() + bar.get_width() / 2, value + 1, f"{value:.0f}", ha="center", fontsize=6)
    ax.axvline(0.5, color="grey", linewidth=0.8)
    ax.axvline(0.5 + len(TIERS), color="grey", linewidth=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels([DISPLAY_NAMES[c] for c in columns], rotation=25, ha="right", fontsize=8)
    ax.set_ylim(0, 108)
    ax.set_ylabel("score (0-100, higher is better)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def violation_timelines(trace: ClipTrace, path: Path, levels: Optional[Dict[str, float]] = None) -> Path:
    """Per-frame timelines of each violation of one clip, one panel per computed metric.

    Frames that count as violating are shaded; dashed lines mark the per-frame thresholds in
    ``levels`` (metric key -> value, see :func:`~humanscore_torch.report.traces.thresholds`).
    The Newtonian panel shows which constraint each frame violates.
    """
    levels = levels or {}
    keys = [k for k in METRIC_KEYS if k in trace.series]
    fig, axes = plt.subplots(len(keys), 1, figsize=(8.0, 1.35 * len(keys) + 0.9), sharex=True, squeeze=False)
    for ax, key in zip(axes[:, 0], keys):
        values = trace.series[key].astype(np.float64)
        time = np.arange(len(values)) / trace.fps
        if key == "newtonian_plausibility" and trace.newtonian_constraints is not None:
            hits = trace.newtonian_constraints
            for c, name in enumerate(CONSTRAINTS):
                frames = np.nonzero(hits[:, c])[0]
                ax.scatter(frames / trace.fps, np.full(len(frames), c), s=6, marker="s", color="firebrick")
            ax.set_yticks(range(len(CONSTRAINTS)))
            ax.set_yticklabels([n.replace("_", " ") for n in CONSTRAINTS], fontsize=6)
            ax.set_ylim(-0.7, len(CONSTRAINTS) - 0.3)
            ax.set_ylabel("violated\nconstraint", fontsize=7)
            bad = hits.any(1)
        elif key in ("artifact_rate",):
            ax.step(time, values, where="mid", color="firebrick")
            ax.set_ylabel("detected", fontsize=7)
            bad = values > 0
        else:
            ax.plot(time, values, color="navy", linewidth=1)
            ax.set_ylabel(SPECS[key].series[1].replace(" (", "\n("), fontsize=7)
            level = levels.get(key)
            if level is not None:
                ax.axhline(level, color="firebrick", linestyle="--", linewidth=0.8)
                bad = values > level
            else:
                bad = np.zeros(len(values), dtype=bool)
        if bad.any():
            ax.fill_between(time, 0, 1, where=bad, transform=ax.get_xaxis_transform(), color="firebrick",
                            alpha=0.12, step="mid", linewidth=0)
        ax.set_title(f"{DISPLAY_NAMES[key]}: {int(bad.sum())} of {len(values)} frames flagged", fontsize=8, loc="left")
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("time (s)")
    overall = "n/c" if trace.overall is None else f"{trace.overall:.1f}"
    fig.suptitle(f"Per-frame violations: {Path(trace.path).name} [{trace.group}], HumanScore {overall}", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)
