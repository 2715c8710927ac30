"""Mesh renders of the worst frames: penetrating faces and out-of-range joints highlighted.

Each :class:`~humanscore_torch.report.traces.WorstFrame` holds the pose of one frame; it is
posed again on the body, and only that frame goes through the self-penetration test (which
faces intersect) and the range-of-motion check (which coordinates are out of range), so a
render costs one frame of each metric.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import numpy as np
import torch

from ..body.model import BodyModel
from ..body.parts import part_structure
from ..body.skeleton import JOINT_INDEX
from ..config import load_config
from ..functional.range_of_motion import joint_map_for_body, range_of_motion
from ..functional.self_penetration import self_penetration
from .mesh_render import BASE_COLOUR, VIEWS, draw_mesh
from .traces import WorstFrame

PENETRATION_COLOUR = (0.85, 0.10, 0.10)
JOINT_COLOUR = "darkorange"


def out_of_range(frame: WorstFrame, body: BodyModel) -> List[Tuple[str, str, float]]:
    """Coordinates of ``frame`` outside their range beyond the tolerance.

    Returns:
        (coordinate name, SMPL joint whose rotation carries it, excess in degrees), largest first.
    """
    joint_map = joint_map_for_body(body)
    device = body.faces.device
    out = range_of_motion(frame.global_orient[None, None].to(device), frame.body_pose[None, None].to(device),
                          None, joint_map)
    tolerance = float(load_config("range_of_motion")["tolerance_deg"])
    excess = out["coordinate_max_excess_deg"][0].cpu()
    # Coordinates come three per segment, in segment order; the chain's last joint carries them.
    chains = [seg.smpl_chain[-1] for seg in joint_map.segments for _ in range(3)]
    found = [(name, chains[k], float(excess[k])) for k, name in enumerate(joint_map.coordinate_names)
             if float(excess[k]) > tolerance]
    return sorted(found, key=lambda item: -item[2])


def render_worst_frame(frame: WorstFrame, body: BodyModel, path: Path, dpi: int = 110) -> Path:
    """Render ``frame`` (front and side) with penetrating faces red and out-of-range joints marked.

    Args:
        frame: the frame and its pose. body: the body the clip was scored on. path: PNG to write.

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    device = body.faces.device
    betas = frame.betas[None].to(device) if frame.betas.numel() else None
    with torch.no_grad():
        posed = body(frame.global_orient[None].to(device), frame.body_pose[None].to(device), betas,
                     frame.transl[None].to(device), need_vertices=True)
        vertices = posed.vertices  # (1, V, 3)
        hits = self_penetration(vertices[None], torch.ones(1, 1, dtype=torch.bool, device=device),
                                part_structure(body, device))
    involved = hits["faces_involved"][0].cpu().numpy() > 0
    depth = float(hits["depth_mm"][0, 0])
    colours = np.tile(np.array(BASE_COLOUR), (len(involved), 1))
    colours[involved] = PENETRATION_COLOUR
    joints_out = out_of_range(frame, body)
    marked = sorted({JOINT_INDEX[joint] for _, joint, _ in joints_out})
    joints = posed.joints[0, marked].cpu().numpy()
    rom_text = ", ".join(f"{name} +{excess:.0f} deg" for name, _, excess in joints_out[:3]) or "none"
    kind = {"self_penetration": f"deepest penetration ({frame.value:.0f} mm)",
            "range_of_motion": f"largest joint-limit excess ({frame.value:.0f} deg)"}[frame.kind]
    title = (f"Worst frame, {kind}: {Path(frame.path).name} [{frame.group}], frame {frame.frame} "
             f"(t = {frame.frame / frame.fps:.2f} s)\n"
             f"red: penetrating faces ({int(involved.sum())}, shown through the skin, depth {depth:.0f} mm); "
             f"orange: joints out of range ({rom_text})")
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 5.2))
    for ax, view in zip(axes, ("front", "side")):
        draw_mesh(ax, vertices[0].cpu(), body.faces.cpu(), view=view, face_colors=colours, title=view)
        # Penetrating faces lie partly inside the body: overlay them, see-through, on top.
        tri = (vertices[0].cpu().numpy() @ VIEWS[view].T)[body.faces.cpu().numpy()[involved]]
        ax.add_collection(PolyCollection(tri[:, :, :2], facecolors=(*PENETRATION_COLOUR, 0.45), edgecolors="none",
                                         zorder=3))
        screen = joints @ VIEWS[view].T
        ax.scatter(screen[:, 0], screen[:, 1], s=90, facecolors="none", edgecolors=JOINT_COLOUR, linewidths=2.0,
                   zorder=4)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
