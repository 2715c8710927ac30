"""From a :class:`~humanscore_torch.motion.MotionBatch` to each metric's inputs, and the
per-sequence scoring of those inputs.

:func:`metric_inputs` is the one place that decides what a metric sees of a batch: the joints
(posed once per body and shared), the frame rates, the mask, the SMPL rotations, the posed mesh
a window of frames at a time (memory bounded by ``posing_frames`` of
``configs/self_penetration.yaml`` whatever the clip length) and the parts a sequence does not
measure (its ``unmeasured_joints``). The ``HumanScore`` collection feeds these arguments to its
classes' ``update``; :func:`humanscore_torch.registry.score_metric` (and so ``score_batch``,
``humanscore evaluate``) feeds them to the ``evaluate_*`` functions below, which apply the
functional ops. Both paths see the same inputs by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import torch

from .body.model import BodyModel
from .body.parts import part_structure
from .config import load_config
from .functional.artifact_rate import artifact_rate
from .functional.bone_length import bone_length_consistency
from .functional.ground_diagnostics import ground_diagnostics
from .functional.jerk import jerk
from .functional.newtonian import newtonian_plausibility
from .functional.range_of_motion import joint_map_for_body, range_of_motion
from .functional.scoring import score_from_config
from .functional.self_penetration import (_self_penetration_compute, _self_penetration_update,
                                          unchecked_parts_from_joints)
from .motion import MotionBatch

Arguments = Tuple[Optional[torch.Tensor], ...]
Outputs = Dict[str, torch.Tensor]


@dataclass
class MetricResult:
    """One metric on one batch, per sequence.

    Attributes:
        key: the stable metric key (``"jerk"``, ``"range_of_motion"``, ...).
        raw: (B,) headline raw value per sequence (lower is better), in ``unit``.
        unit: unit of ``raw`` (the metric's ``MetricSpec.unit``).
        score: (B,) 0-100, higher is better.
        computed: (B,) bool; False where the metric could not be computed (e.g. no
            detections for the artifact rate, no valid frame). ``raw``/``score`` are 0 there
            and must be reported as not computed, never as a score.
        details: further named values, each (B,) or (B, ...) (per-frame, per-joint, ...).
    """

    key: str
    raw: torch.Tensor
    unit: str
    score: torch.Tensor
    computed: torch.Tensor
    details: Dict[str, torch.Tensor] = field(default_factory=dict)


def _mesh_windows(batch: MotionBatch, body: BodyModel, unchecked: Optional[torch.Tensor]) -> Iterator[Arguments]:
    """(vertices (B, W, V, 3), mask (B, W), unchecked parts) per window of frames, posed when
    asked for: a 1920-frame batch of 16 clips whole would be 2.5 GB of vertices."""
    if batch.vertices is not None:
        yield batch.vertices, batch.mask, unchecked
        return
    window = max(1, int(load_config("self_penetration")["detection"]["posing_frames"]) // max(batch.batch_size, 1))
    for start in range(0, max(batch.num_frames, 1), window):
        frames = slice(start, start + window)
        yield batch.pose_frames(body, frames).vertices, batch.mask[:, frames], unchecked


def metric_inputs(batch: MotionBatch, body: BodyModel, keys: Sequence[str]) -> Dict[str, Iterable[Arguments]]:
    """Each metric's ``update`` arguments for ``batch``, as windows (one for every metric but
    self-penetration, whose mesh is posed a window of frames at a time, lazily).

    Args:
        batch: the sequences. body: the body model, on the batch's device.
        keys: the metric keys wanted.

    Returns:
        metric key -> iterable of argument tuples (in the order of the registry's ``inputs``);
        a key is absent where the batch lacks what the metric needs (no detections for the
        artifact rate; joints only, without SMPL parameters or vertices, for range of motion
        and self-penetration): the metric is then not computed.
    """
    inputs: Dict[str, Iterable[Arguments]] = {}
    mask = batch.mask
    if {"bone_length_consistency", "newtonian_plausibility", "jerk"} & set(keys):
        joints = batch.posed(body).joints
        fps = batch.fps.to(joints.dtype)
        inputs["bone_length_consistency"] = [(joints, mask)]
        inputs["newtonian_plausibility"] = [(joints, fps, mask)]
        inputs["jerk"] = [(joints, fps, mask)]
    if batch.detections is not None:
        inputs["artifact_rate"] = [(batch.detections, mask)]
    if batch.body_pose is not None:
        inputs["range_of_motion"] = [(batch.global_orient, batch.body_pose, mask)]
    if "self_penetration" in keys and (batch.body_pose is not None or batch.vertices is not None):
        unchecked = None
        if batch.unmeasured_joints is not None:
            unchecked = unchecked_parts_from_joints(batch.unmeasured_joints,
                                                    part_structure(body, batch.device).num_parts)
        inputs["self_penetration"] = _mesh_windows(batch, body, unchecked)
    return {k: v for k, v in inputs.items() if k in keys}


def _only(windows: Iterable[Arguments]) -> Arguments:
    (arguments,) = list(windows)
    return arguments


def evaluate_artifact_rate(windows: Iterable[Arguments], body: BodyModel) -> Outputs:
    """:func:`~humanscore_torch.functional.artifact_rate.artifact_rate` of the inputs."""
    return artifact_rate(*_only(windows))


def evaluate_bone_length(windows: Iterable[Arguments], body: BodyModel) -> Outputs:
    """:func:`~humanscore_torch.functional.bone_length.bone_length_consistency` of the inputs."""
    return bone_length_consistency(*_only(windows))


def evaluate_range_of_motion(windows: Iterable[Arguments], body: BodyModel) -> Outputs:
    """:func:`~humanscore_torch.functional.range_of_motion.range_of_motion` of the inputs, with
    the joint map aligned to ``body``'s rest joints (as the class gets it)."""
    global_orient, body_pose, mask = _only(windows)
    return range_of_motion(global_orient, body_pose, mask, joint_map_for_body(body))


def evaluate_newtonian(windows: Iterable[Arguments], body: BodyModel) -> Outputs:
    """:func:`~humanscore_torch.functional.newtonian.newtonian_plausibility` of the inputs."""
    return newtonian_plausibility(*_only(windows))


def evaluate_jerk(windows: Iterable[Arguments], body: BodyModel) -> Outputs:
    """:func:`~humanscore_torch.functional.jerk.jerk` of the inputs."""
    return jerk(*_only(windows))


def evaluate_self_penetration(windows: Iterable[Arguments], body: BodyModel) -> Outputs:
    """Self-penetration of the mesh windows, concatenated along time.

    Returns:
        the outputs of :func:`~humanscore_torch.functional.self_penetration.self_penetration`
        plus ``computed`` (B,), ``pair_frames`` (B, P, P) frames in which part i is inside part
        j beyond that pair's allowance and ``pair_max_depth_mm`` (B, P, P).
    """
    config = load_config("self_penetration")
    parts: List[Outputs] = []
    for vertices, mask, unchecked in windows:
        structure = part_structure(body, vertices.device)
        parts.append(_self_penetration_update(vertices, mask, structure, config, unchecked))
    sums = ("num_valid", "num_penetrating", "depth_sum_mm", "faces_involved")
    out = {k: (torch.stack([p[k] for p in parts]).sum(0) if k in sums else torch.cat([p[k] for p in parts], 1))
           for k in parts[0]}
    raw, mean_depth = _self_penetration_compute(out["num_penetrating"], out["num_valid"], out["depth_sum_mm"])
    pair_depth = out.pop("pair_depth_mm")
    out.update(raw=raw, mean_depth_mm=mean_depth, score=score_from_config(raw, config["score"]),
               computed=out["num_valid"] > 0, pair_frames=out.pop("pair_beyond_allowance").sum(1),
               pair_max_depth_mm=pair_depth.amax(1) if pair_depth.shape[1] else pair_depth.sum(1))
    return out


def ground_diagnostics_results(batch: MotionBatch, body: BodyModel) -> Dict[str, MetricResult]:
    """The ground diagnostics of a MotionBatch as MetricResults keyed by
    :data:`~humanscore_torch.functional.ground_diagnostics.DIAGNOSTICS` (outside the six-metric
    aggregate; ``score`` = 100 * (1 - raw), the share of unaffected frames).

    A per-sequence ``ground_height`` (m) in every metadata dict is used as the known ground.
    """
    from .registry import FRACTION_OF_FRAMES

    joints = batch.posed(body).joints
    heights = [m.get("ground_height") for m in batch.metadata]
    ground = None if any(h is None for h in heights) else joints.new_tensor([float(h) for h in heights])
    out = ground_diagnostics(joints, batch.fps.to(joints.dtype), batch.mask, ground)
    results = {}
    for name, values in out.items():
        details = {k: v for k, v in values.items() if k not in ("raw", "computed")}
        results[name] = MetricResult(key=name, raw=values["raw"], unit=FRACTION_OF_FRAMES,
                                     score=100.0 * (1.0 - values["raw"]), computed=values["computed"], details=details)
    return results


__all__ = ["MetricResult", "metric_inputs", "evaluate_artifact_rate", "evaluate_bone_length",
           "evaluate_range_of_motion", "evaluate_newtonian", "evaluate_jerk", "evaluate_self_penetration",
           "ground_diagnostics_results"]
