"""A small matplotlib renderer for triangle meshes: flat shading, orthographic views.

Meant for reports: the default body at rest, a posed body, penetrating faces highlighted in
another colour. No OpenGL; faces are painted back to front (painter's algorithm), which is
exact enough for a closed body surface seen orthographically.

World frame as everywhere in the project: y up, the body facing +z, its left side at +x.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Sequence, Union

import numpy as np

# Views: (name, rotation taking world coordinates to (screen x, screen y, towards viewer)).
VIEWS: Dict[str, np.ndarray] = {
    # Looking at the body's front (from +z): its left side appears on the right of the image.
    "front": np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
    # Looking at the body's left side (from +x): the body faces right.
    "side": np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]),
    "back": np.array([[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]]),
    "top": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]),
}
BASE_COLOUR = (0.78, 0.80, 0.84)
# Light direction in screen coordinates (from the viewer, slightly above and to the left).
_LIGHT = np.array([-0.35, 0.45, 1.0]) / np.linalg.norm([-0.35, 0.45, 1.0])


def _as_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def draw_mesh(
    ax,
    vertices,
    faces,
    view: str = "front",
    face_colors=None,
    joints=None,
    joint_color: str = "crimson",
    title: Optional[str] = None,
) -> None:
    """Draw a flat-shaded triangle mesh on a matplotlib Axes, orthographically.

    Args:
        ax: a matplotlib Axes.
        vertices: (V, 3) vertex positions in metres (numpy or torch).
        faces: (F, 3) vertex indices, counter-clockwise seen from outside.
        view: one of ``VIEWS`` ("front", "side", "back", "top").
        face_colors: optional (F, 3) or (F, 4) RGB(A) in [0, 1] per face; faces default to a
            light grey. Use it to highlight faces (e.g. penetrating ones).
        joints: optional (J, 3) points drawn as markers over the mesh.
        joint_color: marker colour of the joints.
        title: optional axes title.
    """
    from matplotlib.collections import PolyCollection

    if view not in VIEWS:
        raise ValueError(f"view: expected one of {sorted(VIEWS)}, got {view!r}")
    v = _as_numpy(vertices).astype(np.float64)
    f = _as_numpy(faces).astype(np.int64)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"vertices: expected shape (V, 3), got {v.shape}")
    if f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"faces: expected shape (F, 3), got {f.shape}")
    rot = VIEWS[view]
    screen = v @ rot.T
    tri = screen[f]  # (F, 3, 3)
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    facing = normal[:, 2] > 0  # back faces are hidden on a closed surface
    shade = 0.35 + 0.65 * np.clip(normal @ _LIGHT, 0.0, 1.0)
    if face_colors is None:
        colours = np.tile(np.array(BASE_COLOUR), (len(f), 1))
    else:
        colours = _as_numpy(face_colors).astype(np.float64)
        if colours.shape[0] != len(f) or colours.shape[1] not in (3, 4):
            raise ValueError(f"face_colors: expected shape ({len(f)}, 3) or ({len(f)}, 4), got {colours.shape}")
        colours = colours[:, :3]
    colours = np.clip(colours * shade[:, None], 0.0, 1.0)
    order = np.argsort(tri[:, :, 2].mean(1))  # far to near
    order = order[facing[order]]
    ax.add_collection(PolyCollection(tri[order, :, :2], facecolors=colours[order], edgecolors="none"))
    if joints is not None:
        j = _as_numpy(joints).astype(np.float64) @ rot.T
        ax.scatter(j[:, 0], j[:, 1], s=9, c=joint_color, zorder=3)
    lo, hi = screen[:, :2].min(0), screen[:, :2].max(0)
    pad = 0.03 * float((hi - lo).max())
    ax.set_xlim(lo[0] - pad, hi[0] + pad)
    ax.set_ylim(lo[1] - pad, hi[1] + pad)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)


def render_mesh(
    vertices,
    faces,
    views: Sequence[str] = ("front", "side"),
    face_colors=None,
    joints=None,
    title: Optional[str] = None,
    path: Optional[Union[str, Path]] = None,
    dpi: int = 150,
    panel_height_in: float = 5.0,
):
    """Render a mesh in one or more orthographic views side by side.

    Args:
        vertices: (V, 3) metres; faces: (F, 3); face_colors: optional (F, 3) RGB per face;
        joints: optional (J, 3) markers.
        views: names from ``VIEWS``, one panel each.
        title: optional figure title.
        path: when given, the figure is written there as PNG and closed, and the path returned.
        dpi, panel_height_in: image resolution and size of each panel.

    Returns:
        The matplotlib Figure, or the written ``Path`` when ``path`` is given.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    v = _as_numpy(vertices)
    widths = []
    for view in views:
        s = v @ VIEWS[view].T
        extent = s[:, :2].max(0) - s[:, :2].min(0)
        widths.append(max(float(extent[0] / max(extent[1], 1e-9)), 0.25))
    fig, axes = plt.subplots(1, len(views), figsize=(panel_height_in * sum(widths) + 0.4, panel_height_in),
                             gridspec_kw={"width_ratios": widths}, squeeze=False)
    for ax, view in zip(axes[0], views):
        draw_mesh(ax, vertices, faces, view=view, face_colors=face_colors, joints=joints, title=view)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    if path is None:
        return fig
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
