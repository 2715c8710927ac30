"""Ground diagnostics beyond the six metrics (spec 4): foot skating, ground penetration, floating.

All three use the ground of :mod:`.contact` (the known ground plane when one is given, else
estimated locally in time from the supports) and the sole heights of the support points, on
low-passed joints (:mod:`.filtering`):

* **foot skating**: a foot joint within ``foot_skating.height_m`` of the ground that moves
  horizontally faster than ``foot_skating.speed_m_s``; per frame the fastest such joint.
* **ground penetration**: a foot joint deeper than ``ground_penetration.depth_tolerance_m``
  below the ground; per frame the deepest (mm).
* **floating**: airborne frames (every support point, feet, knees and hands, more than
  ``floating.height_m`` above the ground) in an airborne stretch longer than
  ``floating.max_flight_s`` (longer than any jump).

Each gives ``raw`` = fraction of valid frames affected and per-frame values.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import torch

from ..config import load_config
from .contact import FOOT_JOINTS, support_contact
from .filtering import lowpass_derivatives
from .motion_inputs import check_motion, safe_norm

DIAGNOSTICS = ("foot_skating", "ground_penetration", "floating")


def _run_lengths(flags: torch.Tensor) -> torch.Tensor:
    """(B, T) long: length of the run of True each True entry belongs to (0 on False)."""
    batch, frames = flags.shape
    starts = flags & ~torch.cat([flags.new_zeros(batch, 1), flags[:, :-1]], 1)
    run_id = (starts.long().cumsum(1) + torch.arange(batch, device=flags.device)[:, None] * frames) * flags
    lengths = torch.zeros(batch * frames + 1, dtype=torch.long, device=flags.device)
    lengths.scatter_add_(0, run_id.flatten(), flags.long().flatten())
    return lengths[run_id] * flags


def ground_diagnostics(joints: torch.Tensor, fps: torch.Tensor, mask: Optional[torch.Tensor] = None,
                       ground: Optional[torch.Tensor] = None,
                       config: Optional[Mapping[str, Any]] = None) -> Dict[str, Dict[str, torch.Tensor]]:
    """Foot skating, ground penetration and floating per sequence.

    Args:
        joints: (B, T, 24, 3) SMPL joints in metres, y up. fps: (B,) Hz.
        mask: (B, T) bool valid frames (None: all valid).
        ground: (B,) known ground height (m), or None to estimate it from the feet.
        config: the ``diagnostics`` config; the shipped one when None.

    Returns:
        ``{name: {"raw": (B,) fraction of valid frames, "computed": (B,), "per_frame": (B, T),
        "affected": (B, T) bool, ...}}`` for each name of :data:`DIAGNOSTICS`; per_frame is the
        skating speed (m/s), the penetration depth (mm) and the height of the lowest support
        point above the ground (m). foot_skating adds ``mean_speed`` (B,) over skating frames;
        ground_penetration ``mean_depth_mm`` (B,) over penetrating frames.
    """
    joints, mask = check_motion(joints, fps, mask, "B T 24 3")
    config = load_config("diagnostics") if config is None else config
    smooth = lowpass_derivatives(joints, fps.to(joints.dtype), mask, float(load_config("newtonian")["filter"]["cutoff_hz"]))
    valid = smooth.valid
    contact = support_contact(smooth.position, smooth.velocity, valid, fps, ground, config["contact"])
    heights = contact.heights[..., :FOOT_JOINTS.numel()]  # (B, T, 4) the foot joints come first
    horizontal = safe_norm(smooth.velocity[:, :, FOOT_JOINTS.to(joints.device).flatten()][..., [0, 2]])
    frames = valid.sum(1)
    dtype = joints.dtype

    def rate(flags: torch.Tensor) -> torch.Tensor:
        return flags.sum(1).to(dtype) / frames.clamp_min(1).to(dtype)

    planted = heights < float(config["foot_skating"]["height_m"])
    skate_speed = (horizontal * planted).amax(-1) * valid
    skating = skate_speed > float(config["foot_skating"]["speed_m_s"])
    depth_mm = 1000.0 * (-heights).clamp_min(0).amax(-1) * valid
    penetrating = depth_mm > 1000.0 * float(config["ground_penetration"]["depth_tolerance_m"])
    lowest = contact.heights.amin(-1) * valid
    airborne = (lowest > float(config["floating"]["height_m"])) & valid
    longest = torch.ceil(fps.to(dtype) * float(config["floating"]["max_flight_s"]))
    floating = _run_lengths(airborne).to(dtype) > longest[:, None]
    computed = frames > 0
    return {
        "foot_skating": {"raw": rate(skating), "computed": computed, "per_frame": skate_speed, "affected": skating,
                         "mean_speed": (skate_speed * skating).sum(1) / skating.sum(1).clamp_min(1)},
        "ground_penetration": {"raw": rate(penetrating), "computed": computed, "per_frame": depth_mm,
                               "affected": penetrating,
                               "mean_depth_mm": (depth_mm * penetrating).sum(1) / penetrating.sum(1).clamp_min(1)},
        "floating": {"raw": rate(floating), "computed": computed, "per_frame": lowest, "affected": floating},
    }
