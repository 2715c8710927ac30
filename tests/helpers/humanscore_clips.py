"""Small, deterministic SMPL clips for the HumanScore collection, callback, distributed and
example tests: a walking-like swing of hips, knees and shoulders with per-clip amplitude,
speed and noise, so every metric sees something to score."""

from __future__ import annotations

import math
from typing import Any, Dict, List

import torch

from humanscore_torch.detectors import HADM_CLASSES

# SMPL body_pose rows (joint index - 1): hips 0/1, knees 3/4, shoulders 15/16.
_HIPS, _KNEES, _SHOULDERS = (0, 1), (3, 4), (15, 16)


def clip(frames: int, fps: float = 30.0, seed: int = 0, detections: bool = True) -> Dict[str, Any]:
    """One sequence dict: ``global_orient`` (T, 3), ``body_pose`` (T, 23, 3), ``transl`` (T, 3),
    ``betas`` (10,), ``fps``, ``metadata`` and, if asked, ``detections`` (T, 18) confidences."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(frames, dtype=torch.float32) / fps
    amplitude = 0.3 + 0.4 * float(torch.rand((), generator=g))
    phase = 2 * math.pi * (1.0 + float(torch.rand((), generator=g))) * t
    pose = torch.zeros(frames, 23, 3)
    for side, sign in zip(range(2), (1.0, -1.0)):
        pose[:, _HIPS[side], 0] = sign * amplitude * torch.sin(phase)
        pose[:, _KNEES[side], 0] = amplitude * (1 - torch.cos(phase + side * math.pi)) * 0.8
        pose[:, _SHOULDERS[side], 2] = -sign * (1.1 + 0.2 * torch.sin(phase))  # arms down from the T-pose
    pose += (0.004 * seed) * torch.randn(pose.shape, generator=g)  # jitter grows with the seed
    transl = torch.stack([0.02 * torch.sin(phase), 0.9 + 0.01 * torch.cos(2 * phase), 1.2 * t], dim=-1)
    sequence = {"global_orient": (0.1 * torch.rand(3, generator=g)).expand(frames, 3).clone(), "body_pose": pose,
                "transl": transl, "betas": torch.zeros(10), "fps": fps,
                "metadata": {"name": f"clip{seed}", "path": f"clip{seed}", "model": f"m{seed % 2}"}}
    if detections:
        sequence["detections"] = torch.rand(frames, len(HADM_CLASSES), generator=g) ** 60
    return sequence


def clips(count: int = 5, detections: bool = True) -> List[Dict[str, Any]]:
    """``count`` clips of different lengths (12.. frames) and frame rates (30 and 25 fps)."""
    return [clip(12 + 4 * i, 30.0 if i % 2 == 0 else 25.0, seed=i, detections=detections) for i in range(count)]
