"""Newtonian plausibility (spec 4.5): could external forces on a human body produce this motion?

Pipeline, batched over sequences and frames:

1. Whole-body centre of mass (COM) from the joints (:func:`humanscore_torch.body.segments.
   center_of_mass`, de Leva 1996 segment masses), low-passed with the zero-phase filter of
   :mod:`.filtering` (default 8 Hz), which also gives its velocity and acceleration ``a``.
   Joints are low-passed the same way for their speeds and for contact.
2. Contact of the supports (feet, knees, hands; :mod:`.contact`: ground estimated locally in
   time, robust without a ground plane and to slow vertical drift). *Flight* frames are frames
   with no support in contact, no support point at rest and no invalid frame within the
   filter's Gaussian width (``ceil(sigma * fps)`` frames), where stance barely leaks into the
   smoothed value. *Planted* support points are near the ground and slow
   (:class:`.contact.Contact`).
3. Per frame, the excess over each constraint (0 when satisfied), with ``g = 9.81 m/s^2`` and
   ``f = a + (0, g, 0)`` the ground force per unit mass the motion implies:

   =====  ===================  ==========================================================
   index  constraint            excess
   =====  ===================  ==========================================================
   0      ground cannot pull    ``-(a_y + g) - pull_tolerance`` (m/s^2), every frame
   1      free fall in flight   ``|f| - flight_tolerance`` (m/s^2), flight frames
   2      friction cone         ``|a_h| - mu max(a_y + g, 0) - friction_tolerance`` (m/s^2), other frames
   3      implied force         ``|f| / g - max_force_bw`` (body weights), every frame
   4      joint linear speed    ``max_j |v_j| - max_joint_speed`` (m/s), every frame
   5      bone angular speed    ``max_b |omega_b| - max_angular_speed`` (rad/s), every frame
   6      stance sliding        ``min_p |v_h,p| - max_stance_sliding`` (m/s) over the planted
                                points p, least within +-2 sigma, other frames
   =====  ===================  ==========================================================

   ``omega_b`` is the angular speed of bone direction b (swing; twist is invisible in joint
   positions): ``|b x db/dt| / |b|^2``. Stance sliding is static friction: a body standing on
   the ground holds it with at least one planted point that does not slide (horizontal speed
   ``v_h``); when every planted point slides (a whole body drifting with a camera pan, a lone
   stance foot skating) the support would have to be ice.
4. ``raw`` = fraction of assessable frames (valid, with a determined filter fit) violating
   any constraint. Thresholds and their derivation from real running are in
   ``configs/newtonian.yaml``.

The smooth version (:func:`newtonian_penalty`) sums squared hinge excesses (gradients continuous
except where the support force is exactly zero),
with contact and flight held fixed (they are discrete decisions).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

import torch

from ..body.segments import center_of_mass
from ..body.skeleton import bones as smpl_bones
from ..config import load_config
from .contact import SUPPORT_POINT_JOINTS, dilate_frames, running_quantile, support_contact
from .filtering import gaussian_sigma_seconds, lowpass_derivatives
from .motion_inputs import check_motion, safe_norm
from .scoring import score_from_config

CONSTRAINTS: Tuple[str, ...] = ("ground_pull", "flight_free_fall", "friction_cone", "implied_force",
                                "joint_speed", "angular_speed", "stance_sliding")
_UP = 1


def _kinematics(joints: torch.Tensor, fps: torch.Tensor, mask: torch.Tensor, config: Mapping[str, Any],
                ground: Optional[torch.Tensor], eps: float):
    """Smoothed COM acceleration, joint/bone speeds, flight flags; shared by metric and loss."""
    cutoff = float(config["filter"]["cutoff_hz"])
    com = lowpass_derivatives(center_of_mass(joints), fps, mask, cutoff)
    smooth = lowpass_derivatives(joints, fps, mask, cutoff)
    with torch.no_grad():  # contact is a discrete decision: no gradient through it
        contact = support_contact(smooth.position, smooth.velocity, smooth.valid, fps, ground)
        radius = torch.ceil(fps * gaussian_sigma_seconds(cutoff)).long()
        # Frames of unknown support (masked, padded, or before/after the clip) count as supported.
        supported = dilate_frames(contact.supported | ~mask, radius, outside=True)
        flight = com.valid & ~supported
    index = torch.as_tensor(smpl_bones(), device=joints.device)
    bone = smooth.position[:, :, index[:, 1]] - smooth.position[:, :, index[:, 0]]
    bone_rate = smooth.velocity[:, :, index[:, 1]] - smooth.velocity[:, :, index[:, 0]]
    with torch.no_grad():  # bones too short for a meaningful direction are left out
        lengths = bone.norm(dim=-1)
        weight = com.valid.to(joints.dtype)[..., None]
        mean_length = (lengths * weight).sum(1) / weight.sum(1).clamp_min(1)
        long_bones = mean_length >= float(config["speeds"]["min_bone_length_m"])
    squared_length = bone.pow(2).sum(-1) + eps * eps
    # Zero-length bones (padded frames, eps = 0) divide by 1 instead of 0: their speed is 0.
    present = squared_length > 0
    angular = safe_norm(torch.linalg.cross(bone, bone_rate, dim=-1), eps=eps) * present / torch.where(
        present, squared_length, torch.ones_like(squared_length))
    # Horizontal speed of the slowest planted point (0 where none is planted: nothing slides),
    # and its least value within +-2 sigma: the low-pass spreads a landing or lifting foot's swing
    # speed v over the stance's ends (about v * Phi(-d / sigma) at d from the contact edge: a
    # 9 m/s swing foot reads 0.5 m/s up to 1.6 sigma inside), a slide lasts through them.
    horizontal = safe_norm(smooth.velocity[:, :, SUPPORT_POINT_JOINTS.to(joints.device)][..., [0, 2]], eps=eps)
    slowest = torch.where(contact.planted, horizontal, torch.full_like(horizontal, float("inf"))).amin(-1)
    slowest = torch.where(contact.planted.any(-1), slowest, torch.zeros_like(slowest))
    sliding = running_quantile(slowest, smooth.valid, fps, 4.0 * gaussian_sigma_seconds(cutoff), 0.0)
    return {
        "acceleration": com.acceleration,
        "stance_sliding": sliding * smooth.valid,
        "assessable": com.valid & smooth.valid,
        "flight": flight & smooth.valid,
        "contact": contact.contact,
        "joint_speed": safe_norm(smooth.velocity, eps=eps),
        "angular_speed": angular * long_bones[:, None, :],
    }


def _excesses(kin: Dict[str, torch.Tensor], config: Mapping[str, Any], eps: float,
              reduce_joints: bool) -> torch.Tensor:
    """(B, T, 7) excess over each constraint (0 where satisfied or not applicable).

    With ``reduce_joints`` the speed constraints use the fastest joint/bone (the metric);
    otherwise they are returned per joint/bone summed after squaring by the caller.
    """
    g = float(config["gravity_m_s2"])
    acc = kin["acceleration"]
    tol = config["tolerances_m_s2"]
    support = acc[..., _UP] + g  # vertical ground force per unit mass
    force = safe_norm(acc + acc.new_tensor([0.0, g, 0.0]), eps=eps)
    horizontal = safe_norm(acc[..., [0, 2]], eps=eps)
    flight = kin["flight"].to(acc.dtype)
    excess = [
        (-support - float(tol["ground_pull"])).clamp_min(0),
        (force - float(tol["flight"])).clamp_min(0) * flight,
        # A negative support is the ground-pull violation; the cone itself closes at zero support.
        (horizontal - float(config["friction_coefficient"]) * support.clamp_min(0) - float(tol["friction"])).clamp_min(0) * (1 - flight),
        (force / g - float(config["max_force_body_weights"])).clamp_min(0),
    ]
    speeds = config["speeds"]
    linear = (kin["joint_speed"] - float(speeds["max_joint_speed_m_s"])).clamp_min(0)
    angular = (kin["angular_speed"] - float(speeds["max_angular_speed_rad_s"])).clamp_min(0)
    if reduce_joints:
        excess += [linear.amax(-1), angular.amax(-1)]
    else:  # root of the sum of squares: the loss squares it again
        excess += [safe_norm(linear, eps=0.0), safe_norm(angular, eps=0.0)]
    sliding = (kin["stance_sliding"] - float(config["max_stance_sliding_m_s"])).clamp_min(0) * (1 - flight)
    excess.append(sliding)
    return torch.stack(excess, -1) * kin["assessable"].to(acc.dtype)[..., None]


def _newtonian_update(joints: torch.Tensor, fps: torch.Tensor, mask: Optional[torch.Tensor] = None,
                      ground: Optional[torch.Tensor] = None,
                      config: Optional[Mapping[str, Any]] = None) -> Dict[str, torch.Tensor]:
    """Per-frame constraint excesses and per-sequence counts for one batch.

    Args:
        joints: (B, T, 24, 3) SMPL joints in metres, y up. fps: (B,) Hz.
        mask: (B, T) bool valid frames (None: all valid).
        ground: (B,) known ground height (m) or None (estimated from the supports, locally in time).
        config: the ``newtonian`` config; the shipped one when None.

    Returns:
        ``num_assessable`` (B,), ``num_violating`` (B,), ``num_violating_by_constraint`` (B, 7),
        ``excess`` (B, T, 7) in each constraint's unit, ``violating`` (B, T) bool,
        ``assessable`` (B, T), ``flight`` (B, T), ``contact`` (B, T, 6) (``contact.SUPPORTS``),
        ``com_acceleration`` (B, T, 3) m/s^2.
    """
    joints, mask = check_motion(joints, fps, mask, "B T 24 3")
    config = load_config("newtonian") if config is None else config
    kin = _kinematics(joints, fps.to(joints.dtype), mask, config, ground, eps=0.0)
    excess = _excesses(kin, config, eps=0.0, reduce_joints=True)
    broken = (excess > 0) & kin["assessable"][..., None]
    violating = broken.any(-1)
    return {
        "num_assessable": kin["assessable"].sum(1),
        "num_violating": violating.sum(1),
        "num_violating_by_constraint": broken.sum(1),
        "excess": excess,
        "violating": violating,
        "assessable": kin["assessable"],
        "flight": kin["flight"],
        "contact": kin["contact"],
        "com_acceleration": kin["acceleration"],
    }


def _newtonian_compute(num_violating: torch.Tensor, num_assessable: torch.Tensor) -> torch.Tensor:
    """Fraction of assessable frames violating any constraint (0 where none is assessable)."""
    return num_violating.to(torch.get_default_dtype()) / num_assessable.clamp_min(1).to(torch.get_default_dtype())


def newtonian_plausibility(joints: torch.Tensor, fps: torch.Tensor, mask: Optional[torch.Tensor] = None,
                           ground: Optional[torch.Tensor] = None,
                           config: Optional[Mapping[str, Any]] = None) -> Dict[str, torch.Tensor]:
    """Newtonian plausibility per sequence.

    Args:
        joints: (B, T, 24, 3) SMPL joints in metres, world frame with y up.
        fps: (B,) frames per second. mask: (B, T) bool valid frames (None: all valid).
        ground: (B,) known ground height in metres, or None to estimate it from the supports.
        config: the ``newtonian`` config; the shipped one when None.

    Returns:
        the fields of :func:`_newtonian_update` plus ``raw`` (B,) fraction of assessable frames
        violating any constraint, ``score`` (B,) 0-100, ``computed`` (B,) bool, and
        ``max_excess`` (B, 7) the largest excess of each constraint (order ``CONSTRAINTS``).
    """
    config = load_config("newtonian") if config is None else config
    out = _newtonian_update(joints, fps, mask, ground, config)
    out["raw"] = _newtonian_compute(out["num_violating"], out["num_assessable"]).to(joints.dtype)
    out["score"] = score_from_config(out["raw"], config["score"])
    out["computed"] = out["num_assessable"] > 0
    out["max_excess"] = out["excess"].amax(1) if out["excess"].shape[1] else out["excess"].sum(1)  # T = 0: zeros
    return out


def newtonian_penalty(joints: torch.Tensor, fps: torch.Tensor, mask: Optional[torch.Tensor] = None,
                      ground: Optional[torch.Tensor] = None, config: Optional[Mapping[str, Any]] = None,
                      eps: float = 1e-6) -> torch.Tensor:
    """Smooth loss: mean over assessable frames of ``sum_k (excess_k / scale_k)^2``, scale_k
    being each constraint's tolerance or ceiling, so the terms are unitless and comparable.

    Squared hinges are C1; norms use ``sqrt(|x|^2 + eps^2)`` (eps in the input's units) so a
    zero acceleration or speed has a finite gradient. Contact and flight are held fixed.
    Speed terms sum over all joints/bones (not only the fastest), which keeps them smooth.

    Args:
        joints: (B, T, 24, 3) metres. fps: (B,). mask: (B, T) bool or None. ground: (B,) or None.

    Returns:
        () penalty (unitless).
    """
    joints, mask = check_motion(joints, fps, mask, "B T 24 3")
    config = load_config("newtonian") if config is None else config
    kin = _kinematics(joints, fps.to(joints.dtype), mask, config, ground, eps=eps)
    excess = _excesses(kin, config, eps=eps, reduce_joints=False)
    tol = config["tolerances_m_s2"]
    speeds = config["speeds"]
    scale = excess.new_tensor([tol["ground_pull"], tol["flight"], tol["friction"], config["max_force_body_weights"],
                               speeds["max_joint_speed_m_s"], speeds["max_angular_speed_rad_s"],
                               config["max_stance_sliding_m_s"]])
    return (excess / scale).pow(2).sum() / kin["assessable"].sum().clamp_min(1)
