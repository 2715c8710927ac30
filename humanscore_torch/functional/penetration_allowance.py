"""How deep one body part may sink into another before it is penetration, not contact.

A rigid-skinned mesh cannot deform where two soft parts press together: a forearm against the
side of the thigh, a hand on the belly, thighs against the torso in a tuck. The real surfaces
flatten into a shared interface, the mesh's overlap instead, and its depth is the sum of the
two compressions. Soft tissue compresses by a share of its thickness, so the depth allowed for
a vertex of part ``a`` inside part ``b`` is

    allowed(a, b) = max(tolerance, compressible_share * (thickness_a + thickness_b))

with ``thickness`` each part's radius in the posed mesh itself: the median distance of its
vertices from its principal axis (the line through its centroid along its longest extent), so a
slim body gets less slack than a wide one and nothing depends on the part's name. Configured in
``configs/self_penetration.yaml`` (``detection.depth_tolerance_mm``, ``allowance``).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from ..body.parts import PartStructure
from ..config import load_config
from ..errors import InputValueError


def part_thickness(vertices: torch.Tensor, structure: PartStructure) -> torch.Tensor:
    """Radius of each part: median distance of its vertices from its principal axis.

    Args:
        vertices: (N, V, 3) posed meshes (metres).
        structure: the body's part structure (same device).

    Returns:
        (N, P) thickness in metres (0 for a part without vertices).
    """
    thickness = vertices.new_zeros(vertices.shape[0], structure.num_parts)
    for part in range(structure.num_parts):
        points = vertices[:, structure.vertex_parts == part].double()  # (N, n, 3)
        if points.shape[1] < 3:
            continue
        centred = points - points.mean(1, keepdim=True)
        # Principal axis: the eigenvector of the scatter matrix with the largest eigenvalue.
        axis = torch.linalg.eigh(centred.transpose(1, 2) @ centred)[1][..., -1]  # (N, 3)
        along = (centred * axis[:, None]).sum(-1, keepdim=True)
        thickness[:, part] = (centred - along * axis[:, None]).norm(dim=-1).median(1).values.to(thickness.dtype)
    return thickness


def allowed_depth_mm(vertices: torch.Tensor, structure: PartStructure, config: Mapping[str, Any]) -> torch.Tensor:
    """(N, P, P) depth (mm) a vertex of part i may sit inside part j on each mesh.

    Args:
        vertices: (N, V, 3) posed meshes (metres).
        structure: the body's part structure.
        config: the ``self_penetration`` config (``detection.depth_tolerance_mm``,
            ``allowance.compressible_share``).
    """
    tolerance = float(config["detection"]["depth_tolerance_mm"])
    # A config without the section (an older override) gets the shipped allowance.
    share = float((config.get("allowance") or load_config("self_penetration")["allowance"])["compressible_share"])
    if tolerance < 0 or not 0 <= share < 1:
        raise InputValueError(f"depth_tolerance_mm >= 0 and 0 <= compressible_share < 1 expected, "
                              f"got {tolerance} and {share}")
    thickness_mm = 1000.0 * part_thickness(vertices, structure)
    return (share * (thickness_mm[:, :, None] + thickness_mm[:, None, :])).clamp_min(tolerance)


__all__ = ["part_thickness", "allowed_depth_mm"]
