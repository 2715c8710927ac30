"""``HumanScore``: every metric, the three tier scores and the overall score, accumulated over
batches with the body posed once per batch (spec 1 and 4)."""

from __future__ import annotations

import copy
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Union

import torch
from torchmetrics import MetricCollection

from ..body.model import BodyModel
from ..body.parts import part_structure
from ..config import load_config
from ..errors import HumanScoreError
from ..functional.aggregate import OVERALL_KEY, aggregate_scores, aggregate_weights
from ..functional.range_of_motion import joint_map_for_body
from ..motion import MotionBatch
from ..suite import METRIC_KEYS, TIERS
from .artifact_rate import ArtifactRate
from .bone_length import BoneLengthConsistency
from .jerk import Jerk
from .newtonian import NewtonianPlausibility
from .range_of_motion import RangeOfMotion
from .self_penetration import SelfPenetration

# Unit of each metric's raw value (the same as the functional ``*_result`` entries report).
UNITS: Dict[str, str] = {
    "artifact_rate": "fraction of frames",
    "bone_length_consistency": "%",
    "range_of_motion": "degree-seconds per second",
    "self_penetration": "fraction of frames",
    "newtonian_plausibility": "fraction of frames",
    "jerk": "m/s^3",
}

# The sum state that counts what a metric has seen: zero (over all processes) = not computed.
_COUNT_STATES: Dict[str, str] = {
    "artifact_rate": "num_frames",
    "bone_length_consistency": "num_sequences",
    "range_of_motion": "num_valid",
    "self_penetration": "num_valid",
    "newtonian_plausibility": "num_assessable",
    "jerk": "num_differences",
}

SequencesLike = Union[MotionBatch, Sequence[Dict[str, Any]]]


class HumanScore(MetricCollection):
    """The six HumanScore metrics, their tiers and the overall score, pooled over all batches.

    ``update(batch)``: a :class:`~humanscore_torch.motion.MotionBatch` or a list of sequence
    dicts (as :func:`humanscore_torch.io.read_motion_file` returns). The body is posed once
    per batch (joints, and vertices when self-penetration is on) and the shared tensors go to
    every metric's ``update``. A batch without detections does not update the artifact rate;
    one given as joints only does not update range of motion or self-penetration. A rejected
    batch (a ``HumanScoreError``) leaves every state as it was.

    ``compute()`` returns a flat dict of 0-dim float64 tensors:

    - ``humanscore``, ``anatomy``, ``kinematics``, ``kinetics`` and each metric key: the 0-100
      score (higher is better);
    - ``raw/<metric key>``: the pooled raw value, in ``UNITS[key]``;
    - ``computed/<key>`` (bool) for all ten keys.

    A metric that saw nothing it can score (the artifact rate without detections, or a metric
    left out by ``metrics``) has NaN score and raw and ``computed`` False; its tier is the
    weighted mean of the tier's computed metrics and the overall the weighted mean of the
    computed tiers (weights in ``configs/humanscore.yaml``), never a silent 100.
    :meth:`summary` gives the same as a results.json-like mapping with units.

    Pooled, not per clip: each raw value is the metric class's pooled definition over every
    frame (or difference) of every sequence seen, e.g. the range-of-motion raw is the fraction
    of all valid frames that violate, jerk the mean over all joint-differences; bone-length
    consistency is the mean of the per-sequence values. Each score is the score map of the
    pooled raw value. For a single clip this equals that clip's record from
    :func:`humanscore_torch.evaluation.score_batch`; over several clips it differs from the
    mean of per-clip scores (longer clips weigh more, and the score map is not linear).

    States are the metrics' sums (``dist_reduce_fx="sum"``), so under torch.distributed the
    result equals that of one process on all the data.

    Args:
        body: the body model that poses SMPL parameters (the embedded default when None). It
            is copied to the device of each batch, never moved.
        metrics: the metric keys to run (all six when None); the others are not computed.
        config: the ``humanscore`` config (tier and metric weights); the shipped one when None.
            Each metric reads its own config (score map, thresholds) at construction, so
            ``config_overrides`` apply when it is made inside the block.
    """

    def __init__(self, body: Optional[BodyModel] = None, metrics: Optional[Iterable[str]] = None,
                 config: Optional[Mapping[str, Any]] = None) -> None:
        keys = tuple(METRIC_KEYS) if metrics is None else tuple(metrics)
        unknown = [k for k in keys if k not in METRIC_KEYS]
        if unknown or not keys:
            raise HumanScoreError(f"metrics: expected a non-empty subset of {list(METRIC_KEYS)}, got {list(keys)}")
        body = BodyModel.default() if body is None else body
        makers = {
            "artifact_rate": lambda: ArtifactRate(),
            "bone_length_consistency": lambda: BoneLengthConsistency(),
            "range_of_motion": lambda: RangeOfMotion(joint_map=joint_map_for_body(body)),
            "self_penetration": lambda: SelfPenetration(body),
            "newtonian_plausibility": lambda: NewtonianPlausibility(),
            "jerk": lambda: Jerk(),
        }
        super().__init__({k: makers[k]() for k in METRIC_KEYS if k in keys}, compute_groups=False)
        # Kept out of the ModuleDict (whose entries must all be metrics); posing copies it per device.
        self.__dict__["body"] = body
        self.__dict__["_bodies"] = {str(body.faces.device): body}
        self.__dict__["aggregate_config"] = load_config("humanscore") if config is None else config
        aggregate_weights(self.aggregate_config)  # a bad weights config fails here, not at compute

    # ------------------------------------------------------------------ update
    def _body_on(self, device: torch.device) -> BodyModel:
        key = str(device)
        if key not in self._bodies:
            self._bodies[key] = copy.deepcopy(self.body).to(device)
        return self._bodies[key]

    def _inputs(self, batch: MotionBatch) -> Dict[str, tuple]:
        """Each metric's ``update`` arguments for ``batch``, posing the body once."""
        need_vertices = "self_penetration" in self and (batch.body_pose is not None or batch.vertices is not None)
        posed = batch.posed(self._body_on(batch.device), need_vertices=need_vertices)
        joints, mask = posed.joints, batch.mask
        fps = batch.fps.to(joints.dtype)
        inputs: Dict[str, tuple] = {
            "bone_length_consistency": (joints, mask),
            "newtonian_plausibility": (joints, fps, mask),
            "jerk": (joints, fps, mask),
        }
        if batch.detections is not None:
            inputs["artifact_rate"] = (batch.detections, mask)
        if batch.body_pose is not None:
            inputs["range_of_motion"] = (batch.global_orient, batch.body_pose, mask)
        if need_vertices:
            inputs["self_penetration"] = (posed.vertices, mask)
        return {k: v for k, v in inputs.items() if k in self}

    def update(self, batch: SequencesLike) -> None:  # type: ignore[override]
        """Add a batch: a MotionBatch or a list of sequence dicts (all-or-nothing)."""
        if not isinstance(batch, MotionBatch):
            if not isinstance(batch, (list, tuple)):
                raise HumanScoreError(f"batch: expected a MotionBatch or a list of sequence dicts, "
                                      f"got {type(batch).__name__}")
            batch = MotionBatch.from_sequences(batch)
        metrics = dict(self.items(keep_base=True, copy_state=False))
        metric_device = next(iter(metrics.values())).device
        if metric_device != batch.device:
            self.to(batch.device)
        if "self_penetration" in metrics:
            # The part structure follows the vertices' device (cached per device by part_structure).
            metrics["self_penetration"].structure = part_structure(self.body, batch.device)
        with torch.no_grad():
            inputs = self._inputs(batch)
            saved = {k: ({a: v.clone() for a, v in m.metric_state.items()}, m._update_count) for k, m in metrics.items()}
            try:
                for key, args in inputs.items():
                    metrics[key].update(*args)
            except Exception:
                for key, (states, count) in saved.items():
                    for attr, value in states.items():
                        setattr(metrics[key], attr, value)
                    metrics[key]._update_count = count
                raise

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Not supported: accumulate with :meth:`update`, read with :meth:`compute` (per-batch,
        per-clip values come from :func:`humanscore_torch.evaluation.score_batch`)."""
        raise HumanScoreError("HumanScore: call update(batch) and compute(); per-batch values come from "
                              "humanscore_torch.evaluation.score_batch")

    # ------------------------------------------------------------------ compute
    def compute(self) -> Dict[str, torch.Tensor]:  # type: ignore[override]
        """The pooled scores, raw values and computed flags (see the class docstring)."""
        nan = torch.tensor(float("nan"), dtype=torch.float64)
        scores = {key: nan for key in METRIC_KEYS}
        raws = {key: nan for key in METRIC_KEYS}
        computed = {key: torch.tensor(False) for key in METRIC_KEYS}
        for key, metric in self.items(keep_base=True, copy_state=False):
            with metric.sync_context():  # the total count over all processes decides "computed"
                computed[key] = (getattr(metric, _COUNT_STATES[key]) > 0).cpu()
            if bool(computed[key]):  # the same on every process, so the collective calls match
                out = metric.compute()  # syncs the states across processes, then restores them
                scores[key], raws[key] = (out[name].to(device="cpu", dtype=torch.float64) for name in ("score", "raw"))
        agg_scores, agg_computed = aggregate_scores(scores, computed, self.aggregate_config)
        scores.update({k: torch.where(agg_computed[k], agg_scores[k], nan) for k in agg_scores})
        computed.update(agg_computed)
        result = {key: scores[key] for key in (OVERALL_KEY, *TIERS, *METRIC_KEYS)}
        result.update({f"raw/{key}": raws[key] for key in METRIC_KEYS})
        result.update({f"computed/{key}": computed[key] for key in (OVERALL_KEY, *TIERS, *METRIC_KEYS)})
        return result

    def summary(self) -> Dict[str, Any]:
        """:meth:`compute` as plain Python: ``scores`` (overall, tier and metric key -> 0-100
        or None when not computed) and ``raw`` (metric key -> ``{"value", "unit"}`` or None),
        like a results.json record."""
        values = self.compute()
        scores = {k: float(values[k]) if bool(values[f"computed/{k}"]) else None
                  for k in (OVERALL_KEY, *TIERS, *METRIC_KEYS)}
        raw = {k: {"value": float(values[f"raw/{k}"]), "unit": UNITS[k]} if scores[k] is not None else None
               for k in METRIC_KEYS}
        return {"scores": scores, "raw": raw}
