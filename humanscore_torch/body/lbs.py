"""Linear blend skinning, as pure batched functions.

Every tensor is an argument; nothing here loads files or holds state. ``N`` is the number of
posed bodies (frames), ``V`` vertices, ``J`` joints, ``K`` shape coefficients. Lengths in
metres, rotations as matrices.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch

# Frames skinned at once on the CPU: the (n, V, 12) blend stays in cache (fastest of 8, 16,
# 32, 64, 256 for 960 frames of a 6890-vertex body, 1 thread). On a GPU chunking only bounds
# memory (~0.33 MB of blend per frame of that body).
_SKIN_CHUNK_FRAMES = {"cpu": 16}
_SKIN_CHUNK_FRAMES_ELSEWHERE = 1024


def shape_vertices(betas: torch.Tensor, v_template: torch.Tensor, shapedirs: torch.Tensor) -> torch.Tensor:
    """Rest vertices of each shape.

    Args:
        betas: (N, K) shape coefficients.
        v_template: (V, 3) mean rest vertices.
        shapedirs: (V, 3, K) shape directions.

    Returns:
        (N, V, 3) rest vertices.
    """
    return v_template + torch.einsum("nk,vck->nvc", betas, shapedirs)


def shape_joints(betas: torch.Tensor, v_template: torch.Tensor, shapedirs: torch.Tensor,
                 j_regressor: torch.Tensor) -> torch.Tensor:
    """Rest joints of each shape, ``j_regressor @ shape_vertices(...)`` without
    the (N, V, 3) rest vertices: both maps are linear, so the regressor is applied to the
    template and the shape directions once (J x V x K) instead of to every body (N x J x V).

    Args:
        betas: (N, K); v_template: (V, 3); shapedirs: (V, 3, K); j_regressor: (J, V).

    Returns:
        (N, J, 3).
    """
    joint_template = j_regressor @ v_template  # (J, 3)
    joint_dirs = torch.einsum("jv,vck->jck", j_regressor, shapedirs)
    return joint_template + torch.einsum("nk,jck->njc", betas, joint_dirs)


def pose_feature(rotmats: torch.Tensor) -> torch.Tensor:
    """Input of the pose-corrective blend shapes: (R - I) of every non-root joint, flattened.

    Args:
        rotmats: (N, J, 3, 3) local rotations.

    Returns:
        (N, (J - 1) * 9).
    """
    eye = torch.eye(3, dtype=rotmats.dtype, device=rotmats.device)
    return (rotmats[:, 1:] - eye).flatten(1)


def forward_kinematics(
    rotmats: torch.Tensor,
    rest_joints: torch.Tensor,
    parents: Sequence[int],
    levels: Sequence[Sequence[int]],
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Pose a kinematic tree, one tree level at a time.

    Args:
        rotmats: (N, J, 3, 3) rotation of each joint relative to its parent.
        rest_joints: (N, J, 3) joint locations at rest.
        parents: parent index of each joint (-1 for the root).
        levels: joints grouped by depth (see ``skeleton.tree_levels``).

    Returns:
        world_rotmats: (N, J, 3, 3) global rotation of each joint.
        posed_joints: (N, J, 3) joint locations after posing (root at its rest location).
    """
    num_joints = rotmats.shape[1]
    world_rot: List[Optional[torch.Tensor]] = [None] * num_joints
    world_pos: List[Optional[torch.Tensor]] = [None] * num_joints
    for level in levels:
        idx = list(level)
        if parents[idx[0]] < 0:
            for j in idx:
                world_rot[j] = rotmats[:, j]
                world_pos[j] = rest_joints[:, j]
            continue
        par = [parents[j] for j in idx]
        parent_rot = torch.stack([world_rot[p] for p in par], dim=1)  # (N, L, 3, 3)
        parent_pos = torch.stack([world_pos[p] for p in par], dim=1)  # (N, L, 3)
        offset = rest_joints[:, idx] - rest_joints[:, par]
        rot = parent_rot @ rotmats[:, idx]
        pos = parent_pos + (parent_rot @ offset[..., None])[..., 0]
        for k, j in enumerate(idx):
            world_rot[j] = rot[:, k]
            world_pos[j] = pos[:, k]
    return torch.stack(world_rot, dim=1), torch.stack(world_pos, dim=1)


def skin_vertices(
    rest_vertices: torch.Tensor,
    weights: torch.Tensor,
    world_rotmats: torch.Tensor,
    rest_joints: torch.Tensor,
    posed_joints: torch.Tensor,
) -> torch.Tensor:
    """Move rest vertices by the weighted sum of their joints' rigid transforms.

    Joint j maps a rest point x to ``R_j (x - rest_j) + posed_j``.

    Args:
        rest_vertices: (N, V, 3) rest vertices (pose correctives already added).
        weights: (V, J) skinning weights, rows summing to 1.
        world_rotmats: (N, J, 3, 3).
        rest_joints, posed_joints: (N, J, 3).

    Returns:
        (N, V, 3) posed vertices.
    """
    translation = posed_joints - (world_rotmats @ rest_joints[..., None])[..., 0]  # (N, J, 3)
    transform = torch.cat([world_rotmats, translation[..., None]], dim=-1).flatten(2)  # (N, J, 12)
    # A few frames at a time (see _SKIN_CHUNK_FRAMES): memory does not grow with the clip.
    chunk = _SKIN_CHUNK_FRAMES.get(rest_vertices.device.type, _SKIN_CHUNK_FRAMES_ELSEWHERE)
    skinned = []
    for start in range(0, rest_vertices.shape[0], chunk):
        rest = rest_vertices[start:start + chunk]
        blended = torch.matmul(weights, transform[start:start + chunk]).reshape(
            *rest.shape[:2], 3, 4)  # (n, V, 3, 4)
        # The 3x3 rotation times the rest vertex written out (same products and sums, in the
        # same order, as the matmul): as a batched matmul it is n x V tiny products, 40 % of
        # posing time.
        x, y, z = (rest[..., None, k] for k in range(3))
        skinned.append((blended[..., 0] * x).add_(blended[..., 1] * y).add_(blended[..., 2] * z)
                       .add_(blended[..., 3]))
    return torch.cat(skinned) if skinned else rest_vertices.clone()


def linear_blend_skinning(
    betas: Optional[torch.Tensor],
    rotmats: torch.Tensor,
    v_template: torch.Tensor,
    shapedirs: torch.Tensor,
    posedirs: Optional[torch.Tensor],
    j_regressor: torch.Tensor,
    weights: torch.Tensor,
    parents: Sequence[int],
    levels: Sequence[Sequence[int]],
    need_vertices: bool = True,
) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
    """Shape, pose and skin a body (SMPL's model, root at its rest location, no translation).

    Args:
        betas: (N, K) shape coefficients, or None for the mean shape (the template itself:
            no shape blend is computed, the rest shape is shared by every frame).
        rotmats: (N, J, 3, 3) local joint rotations, root first.
        v_template: (V, 3); shapedirs: (V, 3, K); posedirs: (P, V * 3) with P = (J - 1) * 9,
            or None for a body without pose correctives; j_regressor: (J, V); weights: (V, J).
        parents, levels: the kinematic tree.
        need_vertices: skip skinning when only joints are wanted (joints do not depend on it).

    Returns:
        vertices: (N, V, 3) or None; joints: (N, J, 3).
    """
    n = rotmats.shape[0]
    if betas is None:
        rest_joints = (j_regressor @ v_template).expand(n, -1, -1)
    else:
        rest_joints = shape_joints(betas, v_template, shapedirs, j_regressor)
    world_rot, posed_joints = forward_kinematics(rotmats, rest_joints, parents, levels)
    if not need_vertices:
        return None, posed_joints
    rest_vertices = v_template.expand(n, -1, -1) if betas is None else shape_vertices(betas, v_template, shapedirs)
    if posedirs is not None:
        rest_vertices = rest_vertices + (pose_feature(rotmats) @ posedirs).reshape(rest_vertices.shape)
    vertices = skin_vertices(rest_vertices, weights, world_rot, rest_joints, posed_joints)
    return vertices, posed_joints
