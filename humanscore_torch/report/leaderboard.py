"""The leaderboard: one row per model (group), tier columns and the overall HumanScore, ranked.

Laid out like the paper's results table: per tier its two metrics and the tier score, then the
overall score; groups sorted by overall score, best first (groups without one last).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from ..evaluation import OVERALL_KEY
from ..registry import COLUMN_NAMES, TIERS
from .results import group_summary


def leaderboard_rows(records: Sequence[Dict[str, Any]], key: Optional[str]) -> List[Dict[str, Any]]:
    """Groups of clips by ``metadata[key]`` (all clips as group ``"all"`` when ``key`` is None),
    ranked by mean overall score.

    Returns:
        rows of :func:`~humanscore_torch.report.results.group_summary` (``group``, ``clips``,
        ``failed``, mean of each score column or None) with ``rank`` (1 = best) added.
    """
    if key is None:
        rows = group_summary([{**r, "metadata": {"_": "all"}} for r in records], "_")
    else:
        rows = group_summary(records, key)
    rows.sort(key=lambda r: (r[OVERALL_KEY] is None, -(r[OVERALL_KEY] or 0.0), r["group"]))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def _cell(value: Optional[float]) -> str:
    return "n/c" if value is None else f"{value:.1f}"


def _rank(row: Dict[str, Any]) -> str:
    """A row's rank; ``ref`` for an unranked reference row (rank None, see
    :func:`~humanscore_torch.report.benchmark_sections.ranked_leaderboard`)."""
    return "ref" if row["rank"] is None else str(row["rank"])


def leaderboard_table(rows: Sequence[Dict[str, Any]], key: Optional[str]) -> List[List[str]]:
    """The full table as strings, header first: rank, group, scored/clips, then per tier its
    metrics and the tier score, then the overall HumanScore."""
    columns = [c for tier, keys in TIERS.items() for c in (*keys, tier)] + [OVERALL_KEY]
    table = [["rank", key or "group", "scored", *[COLUMN_NAMES[c] for c in columns]]]
    for row in rows:
        table.append([_rank(row), row["group"], f"{row['clips'] - row['failed']}/{row['clips']}",
                      *[_cell(row[c]) for c in columns]])
    return table


def leaderboard_text(rows: Sequence[Dict[str, Any]], key: Optional[str]) -> str:
    """The leaderboard as fixed-width text for the console: rank, group, scored clips, tier
    scores and the overall HumanScore."""
    columns = [*TIERS, OVERALL_KEY]
    name = key or "group"
    width = max([len(name)] + [len(r["group"]) for r in rows])
    lines = [f"{'rank':>4}  {name:<{width}}  {'scored':>7}  " + "  ".join(f"{c:>10}" for c in columns)]
    for row in rows:
        scored = f"{row['clips'] - row['failed']}/{row['clips']}"
        lines.append(f"{_rank(row):>4}  {row['group']:<{width}}  {scored:>7}  "
                     + "  ".join(f"{_cell(row[c]):>10}" for c in columns))
    return "\n".join(lines)
