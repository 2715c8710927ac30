"""The metrics the CLI and reports run, by stable key (spec section 8), in tier order.

Each entry is a function ``(batch: MotionBatch, body: BodyModel) -> MetricResult``. A metric
module adds itself here when it lands; the demo and ``evaluate`` run whatever is listed.
"""

from __future__ import annotations

from typing import Callable, Dict, Tuple

from .body.model import BodyModel
from .functional.result import MetricResult
from .motion import MotionBatch

MetricFn = Callable[[MotionBatch, BodyModel], MetricResult]

METRIC_KEYS: Tuple[str, ...] = (
    "artifact_rate", "bone_length_consistency",
    "range_of_motion", "self_penetration",
    "newtonian_plausibility", "jerk",
)
TIERS: Dict[str, Tuple[str, ...]] = {
    "anatomy": ("artifact_rate", "bone_length_consistency"),
    "kinematics": ("range_of_motion", "self_penetration"),
    "kinetics": ("newtonian_plausibility", "jerk"),
}


def available_metrics() -> Dict[str, MetricFn]:
    """Metric key -> evaluation function, for the metrics implemented so far, in tier order."""
    found: Dict[str, MetricFn] = {}
    # Each metric module registers here with a local import, e.g.
    #   from .functional.jerk import jerk_result; found["jerk"] = jerk_result
    from .functional.range_of_motion import range_of_motion_result; found["range_of_motion"] = range_of_motion_result
    from .functional.self_penetration import self_penetration_result; found["self_penetration"] = self_penetration_result
    from .functional.artifact_rate import artifact_rate_result; found["artifact_rate"] = artifact_rate_result
    from .functional.bone_length import bone_length_result; found["bone_length_consistency"] = bone_length_result
    from .functional.newtonian import newtonian_result; found["newtonian_plausibility"] = newtonian_result
    from .functional.jerk import jerk_result; found["jerk"] = jerk_result
    return {key: found[key] for key in METRIC_KEYS if key in found}
