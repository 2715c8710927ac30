"""Synthetic clips of three "models" written as motion files, for the docs' report figures
(tools/make_docs_figures.py) and the ranking test (tests/report/test_report.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Optional

MODELS = ("clean", "jittery", "broken")
# Defects that survive io.save_motion (it stores SMPL parameters only: bone_stretch lives in
# explicit joints and artifacts in detections, which the canonical npz does not keep).
BROKEN_DEFECTS = ("knee_hyperextension", "hip_abduction", "arm_through_torso", "teleport")
_FRAME_FIELDS = ("global_orient", "body_pose", "transl", "joints", "detections")


def centre_excerpt(sequence: Dict[str, Any], seconds: Optional[float]) -> Dict[str, Any]:
    """The middle ``seconds`` of a sequence dict (all of it when None or longer): the
    synthetic defects sit around the clip's middle, so an excerpt keeps them."""
    frames = int(sequence["global_orient"].shape[0])
    keep = frames if seconds is None else min(frames, int(round(seconds * float(sequence["fps"]))))
    start = (frames - keep) // 2
    return {k: (v[start:start + keep] if k in _FRAME_FIELDS and v is not None else v) for k, v in sequence.items()}


def three_model_clips(folder: Path, count: int = 50, seconds: Optional[float] = 2.0) -> Dict[str, int]:
    """Write ``count`` clips, split as evenly as possible over ``MODELS``, as canonical npz
    files (30 fps) with ``metadata["model"]`` set.

    Clip ``n`` of ``clean`` is synthetic clip ``CLIP_NAMES[n % 6]`` as it is, of ``jittery`` the
    same clip with the jitter defect (sizes of ``DEFECT_SIZES["jitter"]`` in turn); ``broken``
    takes the defects of ``BROKEN_DEFECTS`` in turn, each at its sizes in turn, in the clip the
    synthetic module designs it for (``DEFECT_BASE_CLIPS``). Each clip is cut to its middle
    ``seconds``. Deterministic (seed = clip number).

    Args:
        folder: output folder (created). count: number of clips (>= 3).
        seconds: length of the excerpt of each clip (None: whole clips).

    Returns:
        model -> number of clips written.
    """
    from ..io import save_motion
    from .clips import CLIP_NAMES, clean_clip
    from .defects import DEFECT_BASE_CLIPS, DEFECT_SIZES, defect_clip

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = CLIP_NAMES
    written = {m: 0 for m in MODELS}
    for k in range(count):
        model = MODELS[k % len(MODELS)]
        n = written[model]
        name = names[n % len(names)]
        if model == "clean":
            clip = clean_clip(name)
        else:
            defect = "jitter" if model == "jittery" else BROKEN_DEFECTS[n % len(BROKEN_DEFECTS)]
            if model == "broken":  # the clip the synthetic module designs this defect for
                name = DEFECT_BASE_CLIPS[defect]
            sizes = DEFECT_SIZES[defect]
            size = sizes[(n if model == "jittery" else n // len(BROKEN_DEFECTS)) % len(sizes)]
            clip = defect_clip(name, defect, size, seed=k)
        clip = centre_excerpt(clip, seconds)
        clip["metadata"] = {**clip["metadata"], "model": model}
        stem = re.sub(r"[^A-Za-z0-9]+", "_", str(clip["metadata"]["name"]))
        save_motion(folder / f"{model}_{n:02d}_{stem}.npz", clip)
        written[model] += 1
    return written
