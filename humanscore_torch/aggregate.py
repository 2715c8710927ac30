"""Metric scores -> tier scores -> the overall HumanScore (spec 4), as weighted means over
what was computed; the weights live in ``configs/humanscore.yaml``."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

import torch

from .config import load_config
from .errors import HumanScoreError
from . import registry  # read at call time: the registry imports the metric classes, which use this module


def aggregate_weights(config: Optional[Mapping[str, Any]] = None) -> Tuple[Dict[str, float], Dict[str, float]]:
    """The metric and tier weights of the ``humanscore`` config, checked.

    Returns:
        (metric key -> weight, tier -> weight), every stable key present, weights >= 0.

    Raises:
        HumanScoreError: a key is missing or unknown, or a weight is negative or not a number.
    """
    config = load_config("humanscore") if config is None else config
    checked = []
    for section, keys in (("metric_weights", registry.METRIC_KEYS), ("tier_weights", tuple(registry.TIERS))):
        given = dict(config.get(section) or {})
        if set(given) != set(keys):
            raise HumanScoreError(f"humanscore config {section}: expected the keys {sorted(keys)}, got {sorted(given)}")
        weights = {}
        for key in keys:
            try:
                weights[key] = float(given[key])
            except (TypeError, ValueError) as exc:
                raise HumanScoreError(f"humanscore config {section}.{key}: expected a number, got {given[key]!r}") from exc
            if not weights[key] >= 0:
                raise HumanScoreError(f"humanscore config {section}.{key}: expected a weight >= 0, got {weights[key]}")
        checked.append(weights)
    return checked[0], checked[1]


def _weighted_mean(values: Mapping[str, torch.Tensor], computed: Mapping[str, torch.Tensor],
                   weights: Mapping[str, float]) -> Tuple[torch.Tensor, torch.Tensor]:
    # Entries not computed get weight 0 and a finite stand-in, so they never leak a NaN or a 100.
    w = torch.stack([weights[k] * computed[k].to(torch.float64) for k in values])
    v = torch.stack([torch.where(computed[k], values[k].to(torch.float64), 0.0) for k in values])
    total = w.sum(0)
    return (w * v).sum(0) / total.clamp_min(torch.finfo(torch.float64).tiny), total > 0


def aggregate_scores(
    scores: Mapping[str, torch.Tensor],
    computed: Mapping[str, torch.Tensor],
    config: Optional[Mapping[str, Any]] = None,
) -> Tuple[Dict[str, torch.Tensor], Dict[str, torch.Tensor]]:
    """Tier scores and the overall score from metric scores.

    Args:
        scores: metric key -> (...) 0-100 scores (any shape; per clip (B,) or pooled ()).
            Keys missing here count as not computed.
        computed: metric key -> (...) bool, False where the metric was not computed (its score
            is ignored there, whatever it holds).
        config: the ``humanscore`` config (weights); the shipped one when None.

    Returns:
        (scores, computed): tier keys and ``humanscore`` -> (...) float64 scores and (...) bool
        flags. A tier is computed where any of its metrics with weight > 0 is; its score is the
        weighted mean of those; the overall is the weighted mean of the computed tiers. Where
        nothing was computed the score is 0 and the flag False.
    """
    metric_weights, tier_weights = aggregate_weights(config)
    metric_keys, tiers, overall = registry.METRIC_KEYS, registry.TIERS, registry.OVERALL_KEY
    unknown = set(scores) - set(metric_keys)
    if unknown or set(computed) != set(scores):
        raise HumanScoreError(f"aggregate_scores: expected the same metric keys (of {list(metric_keys)}) in scores "
                              f"and computed, got {sorted(scores)} and {sorted(computed)}")
    if not scores:
        raise HumanScoreError("aggregate_scores: expected at least one metric score, got none")
    like = next(iter(scores.values()))
    missing = torch.zeros(like.shape, dtype=torch.bool, device=like.device)
    out_scores: Dict[str, torch.Tensor] = {}
    out_computed: Dict[str, torch.Tensor] = {}
    for tier, keys in tiers.items():
        out_scores[tier], out_computed[tier] = _weighted_mean(
            {k: scores.get(k, like) for k in keys}, {k: computed.get(k, missing) for k in keys}, metric_weights)
    out_scores[overall], out_computed[overall] = _weighted_mean(
        {t: out_scores[t] for t in tiers}, {t: out_computed[t] for t in tiers}, tier_weights)
    return out_scores, out_computed
