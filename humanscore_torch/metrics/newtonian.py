"""torchmetrics class for Newtonian plausibility (spec 4.5); the maths is in
:mod:`humanscore_torch.functional.newtonian`."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import torch

from ..config import load_config
from ..functional.newtonian import CONSTRAINTS, _newtonian_compute, _newtonian_update
from ..functional.scoring import score_from_config
from .base import HumanScoreMetric, upcast


class NewtonianPlausibility(HumanScoreMetric):
    """Fraction of assessable frames (all sequences) that violate a Newtonian constraint.

    ``update(joints, fps, mask=None, ground=None)``: joints (B, T, 24, 3) metres (y up), fps
    (B,) Hz, mask (B, T) bool, ground (B,) known ground height in metres or None.
    ``compute()`` returns 0-dim ``raw`` and ``score`` and ``by_constraint`` (7,) the fraction
    of frames violating each constraint (order ``functional.newtonian.CONSTRAINTS``).

    Args:
        config: the ``newtonian`` config; the shipped one when None.
    """

    def __init__(self, config: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = load_config("newtonian") if config is None else config
        self.add_state("num_violating", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("num_assessable", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("num_violating_by_constraint", torch.zeros(len(CONSTRAINTS), dtype=torch.long),
                       dist_reduce_fx="sum")

    def update(self, joints: torch.Tensor, fps: torch.Tensor, mask: Optional[torch.Tensor] = None,
               ground: Optional[torch.Tensor] = None) -> None:
        """Add a batch (validated before any state changes)."""
        joints, fps, ground = upcast(joints, fps, ground)
        out = _newtonian_update(joints, fps, mask, ground, self.config)
        self.num_violating += out["num_violating"].sum()
        self.num_assessable += out["num_assessable"].sum()
        self.num_violating_by_constraint += out["num_violating_by_constraint"].sum(0)

    def compute(self) -> Dict[str, torch.Tensor]:
        """The accumulated values over all assessable frames seen (summed over processes).

        Returns:
            dict: ``raw`` () fraction of assessable frames violating any constraint,
            ``score`` () 0-100, and ``by_constraint`` (7,) fraction of assessable frames
            violating each constraint, in ``functional.newtonian.CONSTRAINTS`` order, and
            ``computed`` () bool; the values are NaN when no frame was assessable.
        """
        raw = _newtonian_compute(self.num_violating, self.num_assessable)
        return self._mark_computed({"raw": raw, "score": score_from_config(raw, self.config["score"]),
                                    "by_constraint": _newtonian_compute(self.num_violating_by_constraint,
                                                                        self.num_assessable)})
