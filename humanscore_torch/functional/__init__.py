"""The metrics as batched torch ops: per-sequence values (``x``), the sums a metric class keeps
(``_x_update``, ``_x_compute``) and smooth penalties for losses (``x_penalty``)."""

from .artifact_rate import artifact_penalty, artifact_rate
from .bone_length import bone_length_consistency, bone_length_penalty, bone_lengths
from .ground_diagnostics import DIAGNOSTICS, ground_diagnostics
from .jerk import jerk, jerk_penalty
from .newtonian import CONSTRAINTS, newtonian_penalty, newtonian_plausibility
from .range_of_motion import coordinate_limits, joint_map_for_body, range_of_motion, range_of_motion_penalty
from .scoring import raw_to_score, score_from_config
from .self_penetration import (find_inside_vertices, find_self_intersections, self_penetration,
                               self_penetration_penalty, unchecked_parts_from_joints)

__all__ = [
    "artifact_rate", "artifact_penalty",
    "bone_length_consistency", "bone_length_penalty", "bone_lengths",
    "range_of_motion", "range_of_motion_penalty", "coordinate_limits", "joint_map_for_body",
    "self_penetration", "self_penetration_penalty", "find_self_intersections", "find_inside_vertices",
    "unchecked_parts_from_joints",
    "newtonian_plausibility", "newtonian_penalty", "CONSTRAINTS",
    "jerk", "jerk_penalty",
    "ground_diagnostics", "DIAGNOSTICS",
    "raw_to_score", "score_from_config",
]
