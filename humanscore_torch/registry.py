"""The six metrics and every fact the rest of the library asks about them, in one table.

Each :class:`MetricSpec` holds a metric's stable key (spec section 8), its tier, the unit of its
raw value, its config, the state of its class that counts what it saw (zero: not computed), its
names in reports, the per-frame series reports plot, the functional op, the torchmetrics class
and how to make it for a body, the arguments its ``update`` takes, and the batch adapter that
scores a :class:`~humanscore_torch.motion.MotionBatch` per sequence
(:mod:`humanscore_torch.adapter`). ``HumanScore``, ``score_batch``, the reports, calibration,
bench, distributed evaluation and the CLI all read this table.

Adding a metric: see "Adding a metric" in the README.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Tuple, Type

import torch
from torchmetrics import Metric

from . import adapter
from .adapter import MetricResult
from .body.model import BodyModel
from .functional.artifact_rate import artifact_rate
from .functional.bone_length import bone_length_consistency
from .functional.jerk import jerk
from .functional.newtonian import newtonian_plausibility
from .functional.range_of_motion import joint_map_for_body, range_of_motion
from .functional.self_penetration import self_penetration
from .metrics.artifact_rate import ArtifactRate
from .metrics.bone_length import BoneLengthConsistency
from .metrics.jerk import Jerk
from .metrics.newtonian import NewtonianPlausibility
from .metrics.range_of_motion import RangeOfMotion
from .metrics.self_penetration import SelfPenetration
from .motion import MotionBatch

# The key of the overall score, next to the tier and metric keys.
OVERALL_KEY = "humanscore"
OVERALL_NAME = "HumanScore"


@dataclass(frozen=True)
class MetricSpec:
    """Everything about one metric.

    Attributes:
        key: stable key (results.json, configs/humanscore.yaml weights).
        tier: ``anatomy``, ``kinematics`` or ``kinetics``.
        unit: unit of the raw value.
        config: name of its config file (``configs/<config>.yaml``), holding its ``score`` map.
        count_state: the sum state of its class that counts what it saw; 0 = not computed.
        display_name: name in report figures and tables.
        column_name: short name in the leaderboard's columns.
        series: (detail holding the (B, T) per-frame series, its label with unit) for timelines.
        op: the functional op (per sequence).
        metric_class: the torchmetrics class (pooled over batches).
        make_metric: body -> a fresh metric of the class for that body.
        inputs: the names of the class ``update`` arguments (as the adapter gives them).
        evaluate: the adapter's per-sequence scoring: (``update`` argument windows, body) ->
            the op's outputs with ``raw``, ``score``, ``computed``.
        details: the op's outputs kept as :attr:`MetricResult.details`.
    """

    key: str
    tier: str
    unit: str
    config: str
    count_state: str
    display_name: str
    column_name: str
    series: Tuple[str, str]
    op: Callable
    metric_class: Type[Metric]
    make_metric: Callable[[BodyModel], Metric]
    inputs: Tuple[str, ...]
    evaluate: Callable
    details: Tuple[str, ...]


FRACTION_OF_FRAMES = "fraction of frames"
PERCENT = "%"
M_PER_S3 = "m/s^3"
DEGREE_SECONDS_PER_SECOND = "degree-seconds per second"

METRICS: Tuple[MetricSpec, ...] = (
    MetricSpec(
        key="artifact_rate", tier="anatomy", unit=FRACTION_OF_FRAMES, config="artifact_rate",
        count_state="num_frames", display_name="artifact rate", column_name="artifact",
        series=("flagged", "artifact detected"), op=artifact_rate, metric_class=ArtifactRate,
        make_metric=lambda body: ArtifactRate(), inputs=("detections", "mask"),
        evaluate=adapter.evaluate_artifact_rate, details=("per_class", "flagged")),
    MetricSpec(
        key="bone_length_consistency", tier="anatomy", unit=PERCENT, config="bone_length",
        count_state="num_sequences", display_name="bone length", column_name="bone length",
        series=("per_frame_deviation", f"largest bone-length deviation ({PERCENT})"), op=bone_length_consistency,
        metric_class=BoneLengthConsistency, make_metric=lambda body: BoneLengthConsistency(),
        inputs=("joints", "mask"), evaluate=adapter.evaluate_bone_length,
        details=("max_change", "per_bone_cv", "used_bones", "per_frame_deviation")),
    MetricSpec(
        key="range_of_motion", tier="kinematics", unit=DEGREE_SECONDS_PER_SECOND, config="range_of_motion",
        count_state="num_valid", display_name="range of motion", column_name="ROM",
        series=("per_frame_excess_deg", "largest excess over joint limit (deg)"), op=range_of_motion,
        metric_class=RangeOfMotion, make_metric=lambda body: RangeOfMotion(joint_map=joint_map_for_body(body)),
        inputs=("global_orient", "body_pose", "mask"), evaluate=adapter.evaluate_range_of_motion,
        details=("violation_rate", "mean_excess_deg", "per_frame_excess_deg", "violating", "coordinate_violation_rate",
                 "coordinate_max_excess_deg")),
    MetricSpec(
        key="self_penetration", tier="kinematics", unit=FRACTION_OF_FRAMES, config="self_penetration",
        count_state="num_valid", display_name="self-penetration", column_name="penetration",
        series=("depth_mm", "penetration depth (mm)"), op=self_penetration, metric_class=SelfPenetration,
        make_metric=lambda body: SelfPenetration(body), inputs=("vertices", "mask", "unchecked_parts"),
        evaluate=adapter.evaluate_self_penetration,
        details=("mean_depth_mm", "depth_mm", "penetrating", "num_face_pairs", "faces_involved", "pair_frames",
                 "pair_max_depth_mm")),
    MetricSpec(
        key="newtonian_plausibility", tier="kinetics", unit=FRACTION_OF_FRAMES, config="newtonian",
        count_state="num_assessable", display_name="Newtonian", column_name="Newtonian",
        series=("violating", "Newtonian violation"), op=newtonian_plausibility, metric_class=NewtonianPlausibility,
        make_metric=lambda body: NewtonianPlausibility(), inputs=("joints", "fps", "mask"),
        evaluate=adapter.evaluate_newtonian,
        details=("excess", "violating", "flight", "contact", "max_excess", "num_violating_by_constraint",
                 "com_acceleration")),
    MetricSpec(
        key="jerk", tier="kinetics", unit=M_PER_S3, config="jerk", count_state="num_differences",
        display_name="jerk", column_name="jerk", series=("per_frame", f"mean joint jerk ({M_PER_S3})"), op=jerk,
        metric_class=Jerk, make_metric=lambda body: Jerk(), inputs=("joints", "fps", "mask"),
        evaluate=adapter.evaluate_jerk, details=("jitter", "spike_rate", "per_frame", "counted", "per_joint")),
)

SPECS: Dict[str, MetricSpec] = {spec.key: spec for spec in METRICS}
METRIC_KEYS: Tuple[str, ...] = tuple(SPECS)
TIERS: Dict[str, Tuple[str, ...]] = {}
for _spec in METRICS:
    TIERS.setdefault(_spec.tier, ())
    TIERS[_spec.tier] += (_spec.key,)
del _spec
# Display names of every score column: metrics, tiers (their key) and the overall score.
DISPLAY_NAMES: Dict[str, str] = {**{s.key: s.display_name for s in METRICS}, **{t: t for t in TIERS},
                                 OVERALL_KEY: OVERALL_NAME}
COLUMN_NAMES: Dict[str, str] = {**{s.key: s.column_name for s in METRICS}, **{t: t for t in TIERS},
                                OVERALL_KEY: OVERALL_NAME}

MetricFn = Callable[[MotionBatch, BodyModel], MetricResult]


def score_metric(key: str, batch: MotionBatch, body: BodyModel) -> MetricResult:
    """One metric on ``batch`` per sequence, from the adapter's inputs (the same ones the
    ``HumanScore`` collection feeds its classes): not computed where the batch lacks what it
    needs (no detections; joints only for range of motion and self-penetration)."""
    spec = SPECS[key]
    windows = adapter.metric_inputs(batch, body, (key,)).get(key)
    if windows is None:
        zeros = torch.zeros(batch.batch_size, device=batch.device)
        return MetricResult(key=key, raw=zeros, unit=spec.unit, score=zeros,
                            computed=torch.zeros_like(zeros, dtype=torch.bool))
    out = spec.evaluate(windows, body)
    return MetricResult(key=key, raw=out["raw"], unit=spec.unit, score=out["score"], computed=out["computed"],
                        details={k: out[k] for k in spec.details})


def available_metrics() -> Dict[str, MetricFn]:
    """Metric key -> ``(batch, body) -> MetricResult`` (:func:`score_metric`), in tier order."""
    return {key: (lambda batch, body, key=key: score_metric(key, batch, body)) for key in METRIC_KEYS}


__all__ = ["OVERALL_KEY", "OVERALL_NAME", "MetricResult", "MetricSpec", "METRICS", "SPECS", "METRIC_KEYS", "TIERS",
           "DISPLAY_NAMES", "COLUMN_NAMES", "MetricFn", "score_metric", "available_metrics"]
