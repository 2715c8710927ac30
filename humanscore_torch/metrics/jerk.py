"""torchmetrics class for jerk (spec 4.6); the maths is in :mod:`humanscore_torch.functional.jerk`."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import torch

from ..config import load_config
from ..functional.jerk import _jerk_compute, _jerk_update, config_reference_fps
from ..functional.scoring import score_from_config
from .base import HumanScoreMetric, upcast


class Jerk(HumanScoreMetric):
    """Mean jerk (m/s^3) over all joints and counted differences of all sequences seen.

    ``update(joints, fps, mask=None)``: joints (B, T, J, 3) metres, fps (B,) Hz, mask (B, T)
    bool. ``compute()`` returns a dict of 0-dim tensors: ``raw`` (m/s^3), ``jitter``
    (10 m/s^3), ``spike_rate`` (fraction of counted differences), ``score`` (0-100).

    Args:
        config: the ``jerk`` config; the shipped one when None.
    """

    def __init__(self, config: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = load_config("jerk") if config is None else config
        self.add_state("jerk_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        for name in ("num_terms", "num_spikes", "num_differences"):
            self.add_state(name, torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, joints: torch.Tensor, fps: torch.Tensor, mask: Optional[torch.Tensor] = None) -> None:
        """Add a batch (validated before any state changes)."""
        joints, fps = upcast(joints, fps)
        sums = _jerk_update(joints, fps, mask, self.config["spike_threshold_m_s3"], config_reference_fps(self.config))
        self.jerk_sum += sums["jerk_sum"].sum().to(torch.float64)
        self.num_terms += sums["num_terms"].sum()
        self.num_spikes += sums["num_spikes"].sum()
        self.num_differences += sums["num_differences"].sum()

    def compute(self) -> Dict[str, torch.Tensor]:
        """The accumulated values over all sequences seen (summed over processes).

        Returns:
            dict of 0-dim float64 tensors: ``raw`` mean jerk in m/s^3, ``jitter`` the same in
            units of 10 m/s^3, ``spike_rate`` fraction of counted third differences above the
            spike threshold, ``score`` (0-100), and ``computed`` (bool); the values are NaN
            when nothing was counted.
        """
        out = _jerk_compute(self.jerk_sum, self.num_terms, self.num_spikes, self.num_differences)
        out["score"] = score_from_config(out["raw"], self.config["score"])
        return self._mark_computed(out)
