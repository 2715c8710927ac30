"""Statistics of a group's clips: bootstrap 95 % intervals of the mean scores, rank stability,
spread (standard deviation, interquartile range).

The bootstrap resamples clips with replacement within each group (stratified: every resample
keeps each group's clip count), independently per group, with a seeded numpy generator, so a
report is reproducible. It is vectorised: a resample is a vector of counts per clip
(multinomial), and the resampled means of every score column are one matrix product, computed
a block of resamples at a time so that memory stays bounded however many clips a group has.
A clip whose score in a column is not computed is left out of that column's mean, as in the
point estimate.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np

from ..evaluation import OVERALL_KEY

RESAMPLES = 2000
SEED = 0
CONFIDENCE = 0.95
# Entries of one block of count vectors (resamples x clips): 2^22 int64 = 32 MiB at most.
_BLOCK_ENTRIES = 1 << 22


def score_matrix(records: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> np.ndarray:
    """The scores of the scored clips as a (N, C) float64 array, NaN where not computed
    (clips with an error are left out)."""
    rows = [[np.nan if r["scores"].get(c) is None else float(r["scores"][c]) for c in columns]
            for r in records if r.get("error") is None]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(columns))


def bootstrap_means(scores: np.ndarray, resamples: int = RESAMPLES,
                    rng: Optional[np.random.Generator] = None) -> np.ndarray:
    """Means of each column over ``resamples`` bootstrap resamples of the rows (clips).

    Args:
        scores: (N, C) scores, NaN where not computed. resamples: number of resamples.
        rng: the generator (default: seeded with :data:`SEED`).

    Returns:
        (resamples, C) resampled means; NaN where a resample holds no computed value (and
        everywhere when N is 0).
    """
    rng = np.random.default_rng(SEED) if rng is None else rng
    clips, columns = scores.shape
    if clips == 0:
        return np.full((resamples, columns), np.nan)
    computed = np.isfinite(scores)
    values = np.where(computed, scores, 0.0)
    block = max(1, _BLOCK_ENTRIES // clips)
    means = np.empty((resamples, columns))
    for start in range(0, resamples, block):
        stop = min(resamples, start + block)
        counts = rng.multinomial(clips, np.full(clips, 1.0 / clips), size=stop - start).astype(np.float64)
        total, count = counts @ values, counts @ computed
        with np.errstate(invalid="ignore", divide="ignore"):
            means[start:stop] = np.where(count > 0, total / count, np.nan)
    return means


def percentile_interval(samples: np.ndarray, confidence: float = CONFIDENCE) -> np.ndarray:
    """The central ``confidence`` interval of each column of (R, C) ``samples``, ignoring
    NaN: a (C, 2) array of (low, high), NaN for a column with no finite sample."""
    tail = 100.0 * (1.0 - confidence) / 2.0
    out = np.full((samples.shape[1], 2), np.nan)
    for c in range(samples.shape[1]):
        finite = samples[:, c][np.isfinite(samples[:, c])]
        if finite.size:
            out[c] = np.percentile(finite, [tail, 100.0 - tail])
    return out


def rank_stability(overall_samples: np.ndarray, ranks: Sequence[int]) -> np.ndarray:
    """The fraction of resamples in which each group keeps its rank.

    Args:
        overall_samples: (R, G) resampled mean overall score of each group (NaN: ranked last).
        ranks: each group's rank in the point estimate (1 = best).

    Returns:
        (G,) fractions in [0, 1]. Ties in a resample rank by group order, as the point
        estimate's ranking does by name.
    """
    keyed = np.where(np.isfinite(overall_samples), -overall_samples, np.inf)
    order = np.argsort(keyed, axis=1, kind="stable")
    resampled = np.empty_like(order)
    np.put_along_axis(resampled, order, np.arange(1, order.shape[1] + 1)[None, :].repeat(len(order), 0), axis=1)
    return (resampled == np.asarray(ranks)[None, :]).mean(axis=0)


def spread(scores: np.ndarray) -> Dict[str, np.ndarray]:
    """Per column of (N, C) ``scores`` over its computed values: ``std`` (sample standard
    deviation, NaN with fewer than two), ``median``, ``q1``, ``q3`` and ``iqr`` = q3 - q1."""
    columns = scores.shape[1]
    out = {name: np.full(columns, np.nan) for name in ("std", "median", "q1", "q3", "iqr")}
    for c in range(columns):
        finite = scores[:, c][np.isfinite(scores[:, c])]
        if finite.size:
            out["q1"][c], out["median"][c], out["q3"][c] = np.percentile(finite, [25, 50, 75])
            out["iqr"][c] = out["q3"][c] - out["q1"][c]
        if finite.size > 1:
            out["std"][c] = finite.std(ddof=1)
    return out


def leaderboard_statistics(groups: Mapping[str, np.ndarray], ranked: Sequence[str], columns: Sequence[str],
                           resamples: int = RESAMPLES, seed: int = SEED) -> Dict[str, Dict[str, Any]]:
    """Intervals, rank stability and spread of each group.

    Args:
        groups: group -> (N, C) scores in ``columns`` order (see :func:`score_matrix`).
        ranked: the ranked groups, best first (their point-estimate ranks are 1, 2, ...);
            groups of ``groups`` not in it (a reference) get intervals and spread, no stability.
        columns: the score columns; must contain the overall key.
        resamples, seed: of the bootstrap (one generator, groups drawn in sorted order).

    Returns:
        group -> ``interval`` (column -> (low, high) or None), ``rank_stability`` (fraction or
        None) and ``spread`` (column -> dict of :func:`spread`'s statistics).
    """
    rng = np.random.default_rng(seed)
    overall = list(columns).index(OVERALL_KEY)
    samples = {g: bootstrap_means(groups[g], resamples, rng) for g in sorted(groups)}
    out: Dict[str, Dict[str, Any]] = {}
    for g, drawn in samples.items():
        bounds = percentile_interval(drawn)
        stats = spread(groups[g])
        out[g] = {
            "interval": {c: None if not np.isfinite(bounds[k]).all() else (float(bounds[k, 0]), float(bounds[k, 1]))
                         for k, c in enumerate(columns)},
            "rank_stability": None,
            "spread": {c: {name: float(v[k]) for name, v in stats.items()} for k, c in enumerate(columns)},
        }
    if ranked:
        stability = rank_stability(np.stack([samples[g][:, overall] for g in ranked], axis=1),
                                   list(range(1, len(ranked) + 1)))
        for g, fraction in zip(ranked, stability):
            out[g]["rank_stability"] = float(fraction)
    return out


__all__ = ["CONFIDENCE", "RESAMPLES", "SEED", "bootstrap_means", "leaderboard_statistics", "percentile_interval",
           "rank_stability", "score_matrix", "spread"]
