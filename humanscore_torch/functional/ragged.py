"""Index helpers for ragged (variable-length) rows, shared by the self-penetration ops."""

from __future__ import annotations

from typing import List, Tuple

import torch


def expand_counts(counts: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Row i repeated counts[i] times, and the running index 0..counts[i]-1 within each row.

    Args:
        counts: (R,) int64 non-negative.

    Returns:
        row (S,) and rank (S,) int64 with S = counts.sum().
    """
    row = torch.repeat_interleave(torch.arange(counts.numel(), device=counts.device), counts)
    return row, torch.arange(row.numel(), device=counts.device) - (counts.cumsum(0) - counts)[row]


def row_blocks(cost: torch.Tensor, limit: int) -> List[Tuple[int, int]]:
    """Consecutive (lo, hi) ranges of rows whose summed ``cost`` (R,) stays near ``limit``
    (one host synchronisation: the number of blocks is data-dependent)."""
    bounds = torch.searchsorted(cost.cumsum(0), torch.arange(
        0, int(cost.sum()) + limit, limit, device=cost.device), right=True).tolist()
    return [(lo, hi) for lo, hi in zip([0] + bounds, bounds + [cost.numel()]) if hi > lo]


def take(source: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``source[index]`` for a 1-D int64 ``index`` along the first axis, as ``index_select``
    (several times faster than advanced indexing on the CPU: whole rows are copied)."""
    return source.index_select(0, index)
