"""``PhysicsLoss``: the smooth penalties of all six metrics, weighted and summed, taken through
the body model into the SMPL pose."""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import torch
from torch import nn

from ..body.model import BodyModel
from ..config import load_config
from ..errors import HumanScoreError, InputValueError
from ..functional.range_of_motion import joint_map_for_body
from ..motion import MotionBatch
from .anatomy import ArtifactLoss, BoneLengthLoss
from .kinetics import JerkLoss, NewtonianLoss
from .range_of_motion import RangeOfMotionLoss
from .self_penetration import SelfPenetrationLoss

TERMS = ("bone_length", "range_of_motion", "self_penetration", "newtonian", "jerk", "artifact")


class PhysicsLoss(nn.Module):
    """Weighted sum of the smooth penalties: bone length, range of motion, self-penetration,
    Newtonian plausibility, jerk and (when detections are given) the artifact rate.

    The SMPL parameters are posed on ``body`` inside the loss, so the gradient reaches the
    pose, translation and shape. Each term is the matching loss module of this package:
    :class:`BoneLengthLoss`, :class:`RangeOfMotionLoss` (joint map aligned to ``body``, as the
    metric uses), :class:`SelfPenetrationLoss` (mean per examined frame), :class:`NewtonianLoss`,
    :class:`JerkLoss`, :class:`ArtifactLoss`. A term whose weight is 0 is not computed.

    Args:
        body: the BodyModel the parameters belong to.
        bone_length, range_of_motion, self_penetration, newtonian, jerk, artifact: weight of
            each term (>= 0); ``configs/physics_loss.yaml`` (``weights``) when None, where the
            reasons for the defaults are given.
        self_penetration_stride: examine self-penetration on frames ``t % stride == 0`` only
            (the config's when None; 1 = every frame, the exact penalty).
        config: a ``physics_loss`` config mapping replacing the shipped one.

    ``forward(motion)`` with a :class:`MotionBatch` holding SMPL parameters, or
    ``forward(global_orient=..., body_pose=..., transl=..., betas=..., fps=..., mask=...,
    detections=...)`` with the shapes of MotionBatch: global_orient (B, T, 3) or (B, T, 3, 3),
    body_pose (B, T, 23, 3) or (B, T, 23, 3, 3), transl (B, T, 3) metres, betas (B, K) or
    (B, T, K), fps (B,) Hz or a float, mask (B, T) bool (all valid when None), detections
    (B, T, C) confidences. Returns the () total loss and a dict of the unweighted () terms
    computed (units: bone_length unitless, range_of_motion degrees, self_penetration m^2 per
    frame, newtonian unitless, jerk m/s^3, artifact fraction of frames), for logging.
    """

    def __init__(self, body: BodyModel, bone_length: Optional[float] = None, range_of_motion: Optional[float] = None,
                 self_penetration: Optional[float] = None, newtonian: Optional[float] = None,
                 jerk: Optional[float] = None, artifact: Optional[float] = None,
                 self_penetration_stride: Optional[int] = None, config: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__()
        if not isinstance(body, BodyModel):
            raise HumanScoreError(f"body: expected a BodyModel, got {type(body).__name__}")
        config = load_config("physics_loss") if config is None else config
        given = dict(bone_length=bone_length, range_of_motion=range_of_motion, self_penetration=self_penetration,
                     newtonian=newtonian, jerk=jerk, artifact=artifact)
        self.weights: Dict[str, float] = {}
        for name in TERMS:
            value = float(config["weights"][name] if given[name] is None else given[name])
            if not math.isfinite(value) or value < 0:
                raise InputValueError(f"{name}: expected a finite weight >= 0, got {value}")
            self.weights[name] = value
        stride = int(config["self_penetration_stride"] if self_penetration_stride is None else self_penetration_stride)
        if stride < 1:
            raise InputValueError(f"self_penetration_stride: expected an integer >= 1, got {stride}")
        self.self_penetration_stride = stride
        self.body = body
        self.bone_length = BoneLengthLoss()
        self.range_of_motion = RangeOfMotionLoss(joint_map=joint_map_for_body(body))
        self.self_penetration = SelfPenetrationLoss(body, reduction="mean")
        self.newtonian = NewtonianLoss()
        self.jerk = JerkLoss()
        self.artifact = ArtifactLoss()

    def forward(self, motion: Optional[MotionBatch] = None, *, global_orient: Optional[torch.Tensor] = None,
                body_pose: Optional[torch.Tensor] = None, transl: Optional[torch.Tensor] = None,
                betas: Optional[torch.Tensor] = None, fps: Union[torch.Tensor, float, None] = None,
                mask: Optional[torch.Tensor] = None,
                detections: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """() loss and dict of the () unweighted terms; see the class docstring."""
        batch = self._batch(motion, global_orient, body_pose, transl, betas, fps, mask, detections)
        w = self.weights
        betas = batch.betas
        if betas is not None and betas.dim() == 2:
            betas = betas[:, None, :].expand(-1, batch.num_frames, -1)
        terms: Dict[str, torch.Tensor] = {}
        if any(w[k] > 0 for k in ("bone_length", "newtonian", "jerk")):
            joints = self.body(batch.global_orient, batch.body_pose, betas, batch.transl, need_vertices=False).joints
            fps_ = batch.fps.to(joints.dtype)
            if w["bone_length"] > 0:
                terms["bone_length"] = self.bone_length(joints, batch.mask)
            if w["newtonian"] > 0:
                terms["newtonian"] = self.newtonian(joints, fps_, batch.mask)
            if w["jerk"] > 0:
                terms["jerk"] = self.jerk(joints, fps_, batch.mask)
        if w["range_of_motion"] > 0:
            terms["range_of_motion"] = self.range_of_motion(batch.global_orient, batch.body_pose, batch.mask)
        if w["self_penetration"] > 0:
            # Only the examined frames are posed with vertices (the costly part of the body model).
            step = slice(None, None, self.self_penetration_stride)
            vertices = self.body(batch.global_orient[:, step], batch.body_pose[:, step],
                                 None if betas is None else betas[:, step], batch.transl[:, step],
                                 need_vertices=True).vertices
            terms["self_penetration"] = self.self_penetration(vertices, batch.mask[:, step])
        if w["artifact"] > 0 and batch.detections is not None:
            terms["artifact"] = self.artifact(batch.detections, batch.mask)
        if not terms:
            raise HumanScoreError("PhysicsLoss: every weight is 0 (and no detections for the artifact term); "
                                  "expected at least one term to compute")
        total = sum(w[k] * v for k, v in terms.items())
        return total, terms

    @staticmethod
    def _batch(motion, global_orient, body_pose, transl, betas, fps, mask, detections) -> MotionBatch:
        """A MotionBatch (validated) from either a batch or the parameters."""
        if motion is not None:
            if not isinstance(motion, MotionBatch):
                raise HumanScoreError(f"motion: expected a MotionBatch, got {type(motion).__name__}")
            if any(x is not None for x in (global_orient, body_pose, transl, betas, fps, mask, detections)):
                raise HumanScoreError("PhysicsLoss: give a MotionBatch or the SMPL parameters, not both")
            if motion.body_pose is None:
                raise HumanScoreError("motion: PhysicsLoss needs SMPL parameters (global_orient, body_pose), "
                                      "got a batch with joints only")
            return motion
        if global_orient is None or body_pose is None or fps is None:
            raise HumanScoreError("PhysicsLoss: expected a MotionBatch, or global_orient, body_pose and fps "
                                  f"(got global_orient={global_orient is not None}, body_pose="
                                  f"{body_pose is not None}, fps={fps is not None})")
        if not isinstance(body_pose, torch.Tensor) or body_pose.dim() < 2:
            raise HumanScoreError(f"body_pose: expected a (B, T, 23, 3) tensor, got {getattr(body_pose, 'shape', body_pose)}")
        b, t = body_pose.shape[:2]
        fps = torch.as_tensor(fps, dtype=torch.float32, device=body_pose.device)
        fps = fps.expand(b) if fps.dim() == 0 else fps
        mask = torch.ones(b, t, dtype=torch.bool, device=body_pose.device) if mask is None else mask
        return MotionBatch(fps=fps, mask=mask, global_orient=global_orient, body_pose=body_pose, transl=transl,
                           betas=betas, detections=detections)
