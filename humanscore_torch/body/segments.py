"""Segment masses of the 24 SMPL parts from anthropometric tables (``configs/segment_masses.yaml``)."""

from __future__ import annotations

from typing import Any, Dict, Optional

import torch

from ..config import load_config
from ..errors import HumanScoreError
from ..shapes import check_shape
from .skeleton import JOINT_INDEX, NUM_JOINTS


def segment_mass_fractions(
    sex: str = "neutral", config: Optional[Dict[str, Any]] = None
) -> torch.Tensor:
    """Mass of each SMPL part as a fraction of body mass.

    Args:
        sex: "neutral" (mean of the table's columns), "male" or "female".
        config: a parsed ``segment_masses`` config; the shipped one when None.

    Returns:
        (24,) float64 fractions summing to 1, in SMPL joint order (part j moves with joint j).
    """
    config = load_config("segment_masses") if config is None else config
    if sex not in ("neutral", "male", "female"):
        raise HumanScoreError(f"sex: expected 'neutral', 'male' or 'female', got {sex!r}")
    fractions = torch.zeros(NUM_JOINTS, dtype=torch.float64)
    for seg_name, seg in config["segments"].items():
        percent = (seg["male"] + seg["female"]) / 2 if sex == "neutral" else seg[sex]
        sides = [""] + (["right_"] if seg.get("mirror") else [])
        for part, share in seg["split"].items():
            for side in sides:
                name = part.replace("left_", side) if side else part
                if name not in JOINT_INDEX:
                    raise HumanScoreError(f"segment_masses: segment {seg_name!r} names unknown part {name!r}")
                fractions[JOINT_INDEX[name]] += percent * share
    if (fractions <= 0).any():
        missing = [n for n, i in JOINT_INDEX.items() if fractions[i] <= 0]
        raise HumanScoreError(f"segment_masses: parts without mass: {missing}")
    return fractions / fractions.sum()


def com_joint_weights(sex: str = "neutral", config: Optional[Dict[str, Any]] = None) -> torch.Tensor:
    """Whole-body centre of mass as a fixed linear combination of the 24 joints.

    Each part's centre of mass lies on a line between two joints (``com_location`` in the
    config); weighting those points by the part masses gives one weight per joint, so
    ``com = sum_j w_j * joint_j``: linear, differentiable, and usable on raw keypoints.

    Returns:
        (24,) float64 weights summing to 1.
    """
    config = load_config("segment_masses") if config is None else config
    masses = segment_mass_fractions(sex, config)
    weights = torch.zeros(NUM_JOINTS, dtype=torch.float64)
    locations = config.get("com_location", {})
    for part, index in JOINT_INDEX.items():
        if part not in locations:
            raise HumanScoreError(f"segment_masses: com_location lacks part {part!r}")
        loc = locations[part]
        a, b, at = JOINT_INDEX[loc["from"]], JOINT_INDEX[loc["to"]], float(loc["at"])
        weights[a] += masses[index] * (1.0 - at)
        weights[b] += masses[index] * at
    return weights


def center_of_mass(joints: torch.Tensor, weights: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Whole-body centre of mass from SMPL joints.

    Args:
        joints: (..., 24, 3) joint positions in metres.
        weights: (24,) from :func:`com_joint_weights`; the shipped config's when None.

    Returns:
        (..., 3) centre of mass in metres.
    """
    check_shape(joints, "... 24 3", "joints")
    weights = com_joint_weights() if weights is None else weights
    return torch.einsum("...jc,j->...c", joints, weights.to(joints))
