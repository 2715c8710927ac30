"""Foot skating, ground penetration and floating on joint-level walks; contact estimation."""

from __future__ import annotations

import torch

from humanscore_torch.functional.contact import dilate_frames, masked_quantile
from humanscore_torch.functional.ground_diagnostics import ground_diagnostics
from helpers.kinetics_clips import walk_clip

F64 = torch.float64
FPS = torch.tensor([30.0], dtype=F64)
GROUND = torch.zeros(1, dtype=F64)


def _raws(joints, ground=None):
    return {name: values["raw"].item() for name, values in ground_diagnostics(joints, FPS, ground=ground).items()}


def test_masked_quantile_and_dilation():
    values = torch.tensor([[5.0, 1.0, 3.0, 100.0, 2.0]])
    mask = torch.tensor([[True, True, True, False, True]])
    assert masked_quantile(values, mask, 0.0).item() == 1.0
    assert masked_quantile(values, mask, 1.0).item() == 5.0  # the masked 100 is ignored
    flags = torch.tensor([[False, False, True, False, False, False], [True, False, False, False, False, False]])
    assert dilate_frames(flags, torch.tensor([1, 2])).tolist() == [
        [False, True, True, True, False, False], [True, True, True, False, False, False]]


def test_clean_walk_is_free_of_ground_defects_with_and_without_known_ground():
    walk = walk_clip(6.0)[None]
    for ground in (None, GROUND):
        raws = _raws(walk, ground)
        assert raws["ground_penetration"] == 0 and raws["floating"] == 0 and raws["foot_skating"] == 0


def test_sinking_floating_and_sliding_are_found_and_grow_with_size():
    walk = walk_clip(6.0)[None]
    up = torch.tensor([0.0, 1.0, 0.0], dtype=F64)
    sink = [_raws(walk - depth * up, GROUND)["ground_penetration"] for depth in (0.0, 0.01, 0.03, 0.05)]
    hover = [_raws(walk + height * up, GROUND)["floating"] for height in (0.0, 0.03, 0.1, 0.3)]
    assert sink[0] == 0 and sink[-1] == 1.0 and all(a <= b for a, b in zip(sink, sink[1:]))
    assert hover[0] == 0 and hover[-1] == 1.0 and all(a <= b for a, b in zip(hover, hover[1:]))
    slides = []
    for speed in (0.0, 0.5, 1.5, 3.0):
        sliding = walk.clone()
        frames = torch.arange(walk.shape[1], dtype=F64) / 30.0
        sliding[0, :, [7, 8, 10, 11], 0] += speed * frames[:, None]  # planted feet glide sideways
        slides.append(_raws(sliding)["foot_skating"])
    assert all(a <= b for a, b in zip(slides, slides[1:])) and slides[-1] > 0.5
