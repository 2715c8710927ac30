"""Raw metric value -> 0-100 score (higher is better), shared by every metric.

``score = 100 * 2 ** (-max(raw - free, 0) / half)``: raw values up to ``free`` (the noise
floor of real motion) score 100; every further ``half`` halves the score. The map is strictly
decreasing past ``free`` and never saturates, so a bigger defect always scores lower. Both
constants live in each metric's config and are what ``humanscore calibrate`` fits.
"""

from __future__ import annotations

from typing import Mapping

import torch

from ..errors import HumanScoreError


def raw_to_score(raw: torch.Tensor, free: float, half: float) -> torch.Tensor:
    """Map raw values to scores.

    Args:
        raw: (...) raw metric values (lower is better), any unit.
        free: raw value up to which the score is 100 (same unit as ``raw``), >= 0.
        half: raw increase past ``free`` that halves the score, > 0.

    Returns:
        (...) scores in (0, 100].
    """
    if half <= 0 or free < 0:
        raise HumanScoreError(f"score map: expected free >= 0 and half > 0, got free={free}, half={half}")
    excess = (raw - free).clamp_min(0.0)
    return 100.0 * torch.exp2(-excess / half)


def score_from_config(raw: torch.Tensor, score_config: Mapping[str, float]) -> torch.Tensor:
    """``raw_to_score`` with ``free`` and ``half`` read from a metric config's ``score`` mapping."""
    try:
        return raw_to_score(raw, float(score_config["free"]), float(score_config["half"]))
    except KeyError as exc:
        raise HumanScoreError(f"score config: expected keys 'free' and 'half', got {sorted(score_config)}") from exc
