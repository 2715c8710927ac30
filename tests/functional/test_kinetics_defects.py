"""Joint-level defects on a clean walk: each moves its own metric monotonically with its size
and leaves the others of (jerk, bone-length consistency, Newtonian plausibility) within 2
points of the clean clip (except a metric the defect changes by construction)."""

from __future__ import annotations

import math

import torch

from humanscore_torch.functional.bone_length import bone_length_consistency
from humanscore_torch.functional.jerk import jerk
from humanscore_torch.functional.newtonian import newtonian_plausibility
from helpers.kinetics_clips import walk_clip

FPS = torch.tensor([30.0], dtype=torch.float64)
KEYS = ("jerk", "bone_length_consistency", "newtonian_plausibility")


def _scores(joints):
    joints = joints[None]
    return {"jerk": jerk(joints, FPS)["score"].item(),
            "bone_length_consistency": bone_length_consistency(joints)["score"].item(),
            "newtonian_plausibility": newtonian_plausibility(joints, FPS)["score"].item()}


def _jitter(clip, sigma):
    noise = torch.randn(clip.shape, generator=torch.Generator().manual_seed(0), dtype=clip.dtype)
    return clip + sigma * noise


def _forearm_stretch(clip, amplitude):
    """Left forearm length times 1 + amplitude sin(2 pi t); the hand moves with the wrist."""
    t = torch.arange(len(clip), dtype=clip.dtype) / 30.0
    out = clip.clone()
    shift = (amplitude * torch.sin(2 * math.pi * t))[:, None] * (clip[:, 20] - clip[:, 18])
    out[:, 20] += shift
    out[:, 22] += shift
    return out


def _teleport(clip, distance):
    """The whole body jumps sideways by ``distance`` for 3 frames and back."""
    out = clip.clone()
    out[50:53, :, 0] += distance
    return out


# defect -> (function, sizes, its own metric, metrics it changes by construction). Independent
# noise on every joint changes every bone length, so bone-length consistency reacts to it too.
DEFECTS = {
    "joint_jitter": (_jitter, (0.002, 0.004, 0.006, 0.01), "jerk", ("bone_length_consistency",)),
    "forearm_stretch": (_forearm_stretch, (0.1, 0.2, 0.3, 0.4), "bone_length_consistency", ()),
    "teleport": (_teleport, (0.04, 0.05, 0.06, 0.08), "newtonian_plausibility", ()),
}


def test_clean_walk_scores_at_least_95():
    assert all(value >= 95 for value in _scores(walk_clip(4.0)).values())


def test_each_defect_moves_its_metric_and_leaves_the_others():
    clean_clip = walk_clip(4.0)
    clean = _scores(clean_clip)
    for name, (defect, sizes, own, related) in DEFECTS.items():
        rows = [_scores(defect(clean_clip, size)) for size in sizes]
        own_scores = [clean[own]] + [row[own] for row in rows]
        assert all(a >= b for a, b in zip(own_scores, own_scores[1:])), (name, own_scores)
        assert own_scores[-1] < own_scores[1] < clean[own], (name, own_scores)
        for row in rows:
            for key in KEYS:
                if key != own and key not in related:
                    assert abs(row[key] - clean[key]) <= 2.0, (name, key, row)
