"""Range-of-motion violation (spec 4.3): joint angles outside human limits, in OpenSim coordinates.

SMPL local rotations become OpenSim coordinates and residual angles through the joint map
(:class:`humanscore_torch.limits.joint_map.JointMap`). Each checked coordinate has a range:
the OpenSim model's (``configs/joint_limits.yaml``, Rajagopal 2016) unless a clinical value
replaces it, and clinical ranges for the angles the model lacks
(``configs/joint_limits_clinical.yaml``). A coordinate's excess is how far it lies outside its
range (degrees, 0 inside). The humerus has no range per angle but a cone over its direction
(``shoulder_cone`` in ``configs/joint_limits_clinical.yaml``): its excess is the angle by which
the humerus lies outside the cone, carried on the elevation coordinate. Beyond a tolerance
(``configs/range_of_motion.yaml``) the excess counts, graded by how far and how long:

* ``raw``: the excess beyond the tolerance, summed over coordinates, integrated over the
  valid frames' time and divided by it: degree-seconds per second of clip (degrees). A knee
  3 deg past its limit for a tenth of the clip costs 0.3; one bent 40 deg backwards all
  through costs 37.
* ``violation_rate``: fraction of valid frames with any coordinate beyond the tolerance;
* ``mean_excess_deg``: mean, over violating frames, of the frame's largest excess (degrees).

A twist of the thigh or upper arm about its own long axis barely shows on the body's surface,
and pose estimators put it at the hip or the knee (the shoulder or the elbow) alike; anatomy
has it only at the ball joint. So before checking, the twist that brings a knee's or elbow's
bend into its hinge plane is moved to the joint above, as far as that joint's axial-rotation
range allows (:func:`anatomical_coordinates`): a pose counts as in range when some such split
of the unseen twist puts both joints in range.

Near gimbal lock a segment's first and third angles are not separately defined; they are not
checked there (``gimbal_margin_deg``). Padded/invalid frames never count.
"""

from __future__ import annotations

import math
import weakref
from typing import Any, Dict, Mapping, Optional, Tuple

import torch

from ..config import load_config
from ..errors import HumanScoreError, ShapeError
from ..limits.joint_map import JointMap
from ..rotations import rotvec_to_rotmat
from ..shapes import check_device, check_floating, check_shape
from .scoring import score_from_config


def coordinate_limits(joint_map: JointMap, limits: Optional[Mapping[str, Any]] = None,
                      clinical: Optional[Mapping[str, Any]] = None,
                      config: Optional[Mapping[str, Any]] = None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The range of every coordinate of ``joint_map``.

    Args:
        joint_map: the map whose ``coordinate_names`` order the result follows.
        limits, clinical, config: the ``joint_limits``, ``joint_limits_clinical`` and
            ``range_of_motion`` configs (the shipped ones when None).

    Returns:
        lower (K,), upper (K,) radians (float64) and checked (K,) bool.

    Raises:
        HumanScoreError: a mapped coordinate has no range anywhere.
    """
    limits = load_config("joint_limits") if limits is None else limits
    clinical = load_config("joint_limits_clinical") if clinical is None else clinical
    config = load_config("range_of_motion") if config is None else config
    table = {n: (c["min"], c["max"]) for n, c in limits["coordinates"].items()}
    for section in ("overrides", "residuals"):
        table.update({n: (c["min"], c["max"]) for n, c in (clinical.get(section) or {}).items()})
    unchecked = set(config.get("unchecked", []))
    lower, upper, checked = [], [], []
    for name in joint_map.coordinate_names:
        if name in unchecked:
            lower.append(-math.inf), upper.append(math.inf), checked.append(False)
            continue
        if name not in table:
            raise HumanScoreError(f"range of motion: coordinate {name!r} has no range in joint_limits or "
                                  "joint_limits_clinical, and is not listed as unchecked")
        low, high = table[name]
        lower.append(math.radians(low)), upper.append(math.radians(high)), checked.append(True)
    return (torch.tensor(lower, dtype=torch.float64), torch.tensor(upper, dtype=torch.float64),
            torch.tensor(checked))


def shoulder_cones(joint_map: JointMap, clinical: Optional[Mapping[str, Any]] = None,
                   points: int = 721) -> Optional[Dict[str, torch.Tensor]]:
    """The humerus cones of ``joint_map`` (None when it has no swing-twist shoulder).

    The allowed humerus directions are those within ``radius(psi)`` of the cone's centre,
    psi the azimuth about the centre; the clinical boundary points (plane of elevation,
    elevation) give the radius at their azimuths, linear in between (periodic).

    Returns:
        ``elevation_index`` (C,) long (the coordinate that carries a cone's excess),
        ``plane_index`` (C,), ``centre`` (3,), ``frame`` (2, 3) unit vectors perpendicular to
        the centre (lateral, up, forward components, both sides alike) and ``radius`` (points,)
        radians on the uniform azimuth grid [-pi, pi].
    """
    if not joint_map.anatomical or not bool(joint_map.swing_twist.any()):
        return None
    clinical = load_config("joint_limits_clinical") if clinical is None else clinical
    cone = clinical.get("shoulder_cone")
    if cone is None:
        raise HumanScoreError("range of motion: joint_limits_clinical has no 'shoulder_cone' for the humerus")

    def direction(plane_deg, elevation_deg):
        p, e = math.radians(plane_deg), math.radians(elevation_deg)
        return torch.tensor([math.sin(e) * math.cos(p), -math.cos(e), math.sin(e) * math.sin(p)], dtype=torch.float64)

    centre = direction(cone["centre"]["plane"], cone["centre"]["elevation"])
    first = torch.linalg.cross(centre, torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64))
    first = first / first.norm()
    frame = torch.stack([first, torch.linalg.cross(centre, first)])
    boundary = torch.stack([direction(b["plane"], b["elevation"]) for b in cone["boundary"]])
    azimuth = torch.atan2(boundary @ frame[1], boundary @ frame[0])
    radius = torch.acos((boundary @ centre).clamp(-1.0, 1.0))
    order = azimuth.argsort()
    azimuth, radius = azimuth[order], radius[order]
    # Periodic linear interpolation onto a uniform grid (one wrap on each side).
    azimuth = torch.cat([azimuth[-1:] - 2 * math.pi, azimuth, azimuth[:1] + 2 * math.pi])
    radius = torch.cat([radius[-1:], radius, radius[:1]])
    grid = torch.linspace(-math.pi, math.pi, points, dtype=torch.float64)
    upper = torch.searchsorted(azimuth, grid).clamp(1, len(azimuth) - 1)
    frac = (grid - azimuth[upper - 1]) / (azimuth[upper] - azimuth[upper - 1])
    table = radius[upper - 1] + frac * (radius[upper] - radius[upper - 1])
    segments = [i for i in range(len(joint_map.segments)) if bool(joint_map.swing_twist[i])]
    return {"elevation_index": torch.tensor([3 * i + 1 for i in segments]),
            "plane_index": torch.tensor([3 * i for i in segments]),
            "centre": centre, "frame": frame, "radius": table}


def _cone_excess(coordinates: torch.Tensor, cones: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """(..., K) coordinates -> (..., C) radians by which each humerus lies outside its cone."""
    plane = coordinates[..., cones["plane_index"].to(coordinates.device)]
    elevation = coordinates[..., cones["elevation_index"].to(coordinates.device)]
    d = torch.stack([torch.sin(elevation) * torch.cos(plane), -torch.cos(elevation),
                     torch.sin(elevation) * torch.sin(plane)], dim=-1)
    centre, frame = cones["centre"].to(d), cones["frame"].to(d)
    along = d @ centre
    across = d @ frame.T  # (..., C, 2)
    across_norm = across.norm(dim=-1).clamp_min(1e-12)
    angle = torch.atan2(across_norm, along)
    azimuth = torch.atan2(across[..., 1], across[..., 0])
    table = cones["radius"].to(d)
    position = (azimuth + math.pi) / (2 * math.pi) * (table.shape[0] - 1)
    index = position.floor().clamp(0, table.shape[0] - 2).long()
    frac = position - index.to(position.dtype)
    radius = table[index] + frac * (table[index + 1] - table[index])
    return (angle - radius).clamp_min(0.0)


def anatomical_coordinates(joint_map: JointMap, global_orient: torch.Tensor, body_pose: torch.Tensor,
                           lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """Coordinates (..., K) radians of SMPL rotation matrices (..., 3, 3), (..., 23, 3, 3), with
    the part of each hinge's off-plane bend that its ad/abduction range [lower, upper] (K,) does
    not allow moved, as a twist about the parent bone, to the ball joint above (hip, shoulder),
    as far as that joint's axial-rotation range leaves room. The smallest such twist: a pure
    flexion, or any bend within the hinge's laxity, is read as it is. Maps that are not
    anatomical read the rotations as they are."""
    relative = joint_map.relative_rotations(global_orient, body_pose)
    coordinates = joint_map.coordinates_from_relative(relative)
    if not joint_map.anatomical:
        return coordinates
    lower, upper = lower.to(coordinates), upper.to(coordinates)
    twist, sin_bend = joint_map.hinge_bend(coordinates)
    # Off-plane azimuth the hinge's laxity allows: |sin(bend) sin(azimuth)| <= sin(laxity).
    floating = 3 * joint_map.hinge_segments + 1
    laxity = torch.minimum(-lower[floating], upper[floating]).clamp(0.0, math.pi / 2)
    allowed = torch.asin((torch.sin(laxity) / sin_bend.clamp_min(1e-12)).clamp(max=1.0 - 1e-12))
    twist = twist - torch.maximum(torch.minimum(twist, allowed), -allowed)
    # No more than the ball joint's axial rotation (its third angle) has room for.
    axial = 3 * joint_map.hinge_parents + 2
    value = coordinates[..., axial]
    sign = joint_map.hinge_twist_sign.to(value)
    room_low = (lower[axial] - value).clamp_max(0.0) * sign
    room_high = (upper[axial] - value).clamp_min(0.0) * sign
    twist = torch.maximum(torch.minimum(twist, torch.maximum(room_low, room_high)), torch.minimum(room_low, room_high))
    return joint_map.coordinates_from_relative(joint_map.transfer_twist(relative, twist))


def _excess(coordinates: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """Distance outside [lower, upper], elementwise (0 inside); infinite bounds give 0."""
    below = (lower.to(coordinates) - coordinates).clamp_min(0.0)
    above = (coordinates - upper.to(coordinates)).clamp_min(0.0)
    return torch.nan_to_num(below + above, nan=0.0, posinf=0.0)


def _checked_mask(joint_map: JointMap, coordinates: torch.Tensor, checked: torch.Tensor,
                  gimbal_margin_deg: float) -> torch.Tensor:
    """(..., K) bool: checked, and not an outer angle of a segment near gimbal lock."""
    near_lock = joint_map.gimbal_cosine(coordinates) < math.sin(math.radians(gimbal_margin_deg))
    undefined = near_lock[..., joint_map.segment_of_coordinate] & joint_map.outer_slot
    return checked.to(coordinates.device) & ~undefined


def _rotations(global_orient: torch.Tensor, body_pose: torch.Tensor, mask: Optional[torch.Tensor]):
    """Validate SMPL rotations (B, T, 3)/(B, T, 23, 3) or matrices and the mask; return matrices
    (identities on non-finite frames) and the mask without those frames."""
    sizes: Dict[str, int] = {}
    matrices = isinstance(body_pose, torch.Tensor) and body_pose.dim() == 5
    check_shape(body_pose, "B T 23 3 3" if matrices else "B T 23 3", "body_pose", sizes)
    check_shape(global_orient, "B T 3 3" if matrices else "B T 3", "global_orient", sizes)
    # Checked before any conversion: rotvec_to_rotmat would turn integers into floats.
    check_floating(body_pose, "body_pose")
    check_floating(global_orient, "global_orient")
    check_device(body_pose, body_pose.device, "body_pose")
    check_device(global_orient, body_pose.device, "global_orient")
    if torch.finfo(body_pose.dtype).bits < 32:  # angles over small slopes overflow float16
        global_orient, body_pose = global_orient.float(), body_pose.float()
    if not matrices:
        global_orient, body_pose = rotvec_to_rotmat(global_orient), rotvec_to_rotmat(body_pose)
    if mask is None:
        mask = torch.ones(sizes["B"], sizes["T"], dtype=torch.bool, device=body_pose.device)
    check_shape(mask, "B T", "mask", sizes)
    check_device(mask, body_pose.device, "mask")
    if mask.dtype != torch.bool:
        raise ShapeError(f"mask: expected dtype torch.bool, got {mask.dtype}")
    finite = torch.isfinite(body_pose.flatten(2)).all(-1) & torch.isfinite(global_orient.flatten(2)).all(-1)
    # Non-finite frames are masked; put identities there so no NaN reaches the maths (metric and loss).
    eye = torch.eye(3, dtype=body_pose.dtype, device=body_pose.device)
    body_pose = torch.where(finite[..., None, None, None], body_pose, eye)
    global_orient = torch.where(finite[..., None, None], global_orient, eye)
    return global_orient, body_pose, mask & finite


def _coordinate_excess(joint_map: JointMap, coordinates: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor,
                       cones: Optional[Mapping[str, torch.Tensor]]) -> torch.Tensor:
    """(..., K) radians outside each coordinate's range, the humerus cones' on their elevation."""
    excess = _excess(coordinates, lower, upper)
    if cones is not None:
        excess = excess.index_add(-1, cones["elevation_index"].to(excess.device), _cone_excess(coordinates, cones))
    return excess


def _range_of_motion_update(global_orient: torch.Tensor, body_pose: torch.Tensor, mask: Optional[torch.Tensor],
                            joint_map: JointMap, lower: torch.Tensor, upper: torch.Tensor, checked: torch.Tensor,
                            tolerance_deg: float, gimbal_margin_deg: float,
                            cones: Optional[Mapping[str, torch.Tensor]] = None) -> Dict[str, torch.Tensor]:
    """Per-sequence sums for one batch (validated first; nothing is modified).

    Args:
        global_orient: (B, T, 3) or (B, T, 3, 3). body_pose: (B, T, 23, 3) or (B, T, 23, 3, 3).
        mask: (B, T) bool valid frames, or None. joint_map, lower, upper, checked: see
        :func:`coordinate_limits`. tolerance_deg, gimbal_margin_deg: degrees. cones: see
        :func:`shoulder_cones` (the shipped ones for ``joint_map`` when None).

    Returns:
        ``num_valid`` (B,), ``num_violating`` (B,), ``excess_sum_deg`` (B,) sum of violating
        frames' largest excess, ``severity_sum_deg`` (B,) sum over valid frames and coordinates
        of the excess beyond the tolerance, ``per_frame_excess_deg`` (B, T) largest excess per
        frame (0 on invalid frames), ``violating`` (B, T) bool, ``coordinate_violations`` (B, K)
        violating frame counts per coordinate, ``coordinate_max_excess_deg`` (B, K),
        ``coordinates`` (B, T, K) rad.
    """
    global_orient, body_pose, mask = _rotations(global_orient, body_pose, mask)
    cones = shoulder_cones(joint_map) if cones is None else cones
    coordinates = anatomical_coordinates(joint_map.to(body_pose.device), global_orient, body_pose, lower, upper)
    active = _checked_mask(joint_map, coordinates, checked, gimbal_margin_deg) & mask[..., None]
    excess = torch.rad2deg(_coordinate_excess(joint_map, coordinates, lower, upper, cones)) * active
    over = (excess > tolerance_deg) & active
    frame_excess = excess.amax(-1)
    violating = over.any(-1)
    return {
        "num_valid": mask.sum(1),
        "num_violating": violating.sum(1),
        "excess_sum_deg": (frame_excess * violating).sum(1),
        "severity_sum_deg": (excess - tolerance_deg).clamp_min(0.0).sum((1, 2)),
        "per_frame_excess_deg": frame_excess,
        "violating": violating,
        "coordinate_violations": over.sum(1),
        "coordinate_max_excess_deg": excess.amax(1) if excess.shape[1] else excess.sum(1),  # T = 0: zeros
        "coordinates": coordinates,
    }


def _range_of_motion_compute(num_violating: torch.Tensor, num_valid: torch.Tensor, excess_sum_deg: torch.Tensor,
                             severity_sum_deg: torch.Tensor) -> Dict[str, torch.Tensor]:
    """From sums (any matching shapes): ``raw`` degree-seconds beyond the tolerance per second of
    valid frames (degrees), ``violation_rate`` and ``mean_excess_deg`` (degrees per violating
    frame); 0 where nothing counted."""
    dtype = excess_sum_deg.dtype
    frames = num_valid.clamp_min(1).to(dtype)
    return {"raw": severity_sum_deg.to(dtype) / frames, "violation_rate": num_violating.to(dtype) / frames,
            "mean_excess_deg": excess_sum_deg / num_violating.clamp_min(1).to(dtype)}


def _setup(joint_map: Optional[JointMap], config: Optional[Mapping[str, Any]]):
    config = load_config("range_of_motion") if config is None else config
    joint_map = JointMap.for_range_of_motion() if joint_map is None else joint_map
    lower, upper, checked = coordinate_limits(joint_map, config=config)
    return joint_map, config, lower, upper, checked


def range_of_motion(global_orient: torch.Tensor, body_pose: torch.Tensor, mask: Optional[torch.Tensor] = None,
                    joint_map: Optional[JointMap] = None,
                    config: Optional[Mapping[str, Any]] = None) -> Dict[str, torch.Tensor]:
    """Range-of-motion violation of SMPL pose sequences.

    Args:
        global_orient: (B, T, 3) axis-angle or (B, T, 3, 3) root rotations.
        body_pose: (B, T, 23, 3) axis-angle or (B, T, 23, 3, 3) local joint rotations.
        mask: (B, T) bool valid frames (None: all valid).
        joint_map: the SMPL->OpenSim map (the shipped one read anatomically on SMPL's canonical
            T-pose when None; :func:`joint_map_for_body` aligns it to a body).
        config: the ``range_of_motion`` config (the shipped one when None).

    Returns:
        dict of ``raw`` (B,) degree-seconds beyond the limits per second (degrees),
        ``violation_rate`` (B,) fraction of valid frames violating, ``mean_excess_deg`` (B,),
        ``score`` (B,) 0-100, ``computed`` (B,) bool (any valid frame), ``per_frame_excess_deg``
        (B, T), ``violating`` (B, T) bool, ``coordinate_violation_rate`` (B, K) and
        ``coordinate_max_excess_deg`` (B, K) in ``joint_map.coordinate_names`` order, and
        ``coordinates`` (B, T, K) radians.
    """
    joint_map, config, lower, upper, checked = _setup(joint_map, config)
    sums = _range_of_motion_update(global_orient, body_pose, mask, joint_map, lower, upper, checked,
                                   float(config["tolerance_deg"]), float(config["gimbal_margin_deg"]))
    dtype = sums["per_frame_excess_deg"].dtype
    out = _range_of_motion_compute(sums["num_violating"], sums["num_valid"], sums["excess_sum_deg"],
                                   sums["severity_sum_deg"])
    out["score"] = score_from_config(out["raw"], config["score"])
    out["computed"] = sums["num_valid"] > 0
    out["coordinate_violation_rate"] = sums["coordinate_violations"].to(dtype) / sums["num_valid"].clamp_min(1)[:, None]
    for key in ("per_frame_excess_deg", "violating", "coordinate_max_excess_deg", "coordinates"):
        out[key] = sums[key]
    return out


def range_of_motion_penalty(global_orient: torch.Tensor, body_pose: torch.Tensor, mask: Optional[torch.Tensor] = None,
                            joint_map: Optional[JointMap] = None, config: Optional[Mapping[str, Any]] = None,
                            width_deg: Optional[float] = None) -> torch.Tensor:
    """Smooth range-of-motion loss: mean over valid frames of the summed soft hinge
    ``w (sqrt(1 + (e / w)^2) - 1)`` of every checked coordinate's excess e (degrees) beyond its
    range (no tolerance). Exactly 0, with zero gradient, inside the limits; ~ e^2 / (2 w) just
    outside and ~ e far outside, so gradients stay bounded.

    Args:
        global_orient, body_pose, mask, joint_map, config: as :func:`range_of_motion`.
        width_deg: hinge width w in degrees (the config's ``loss_width_deg`` when None).

    Returns:
        () penalty in degrees (0 when no frame is valid).
    """
    joint_map, config, lower, upper, checked = _setup(joint_map, config)
    width = float(config["loss_width_deg"]) if width_deg is None else float(width_deg)
    global_orient, body_pose, mask = _rotations(global_orient, body_pose, mask)
    coordinates = anatomical_coordinates(joint_map.to(body_pose.device), global_orient, body_pose, lower, upper)
    active = _checked_mask(joint_map, coordinates.detach(), checked, float(config["gimbal_margin_deg"]))
    excess = torch.rad2deg(_coordinate_excess(joint_map, coordinates, lower, upper, shoulder_cones(joint_map)))
    # The pseudo-Huber hinge has derivative 0 at e = 0, so it joins the flat inside smoothly.
    hinge = width * (torch.sqrt(1.0 + (excess / width) ** 2) - 1.0)
    per_frame = (hinge * active).sum(-1) * mask
    return per_frame.sum() / mask.sum().clamp_min(1)


# Joint maps aligned to bodies, dropped with their body.
_MAP_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def joint_map_for_body(body) -> JointMap:
    """The shipped joint map aligned to ``body``'s rest joints (cached per body object)."""
    if body not in _MAP_CACHE:
        zeros = torch.zeros(1, 3, dtype=torch.float64, device=body.v_template.device)
        with torch.no_grad():
            rest = body(zeros, zeros.new_zeros(1, 23, 3), None, need_vertices=False).joints[0]
        _MAP_CACHE[body] = JointMap.for_range_of_motion(rest.cpu())
    return _MAP_CACHE[body]
