"""Host synchronisations in the metrics' hot paths, counted on the CPU (tests/helpers/sync_counter.py):
their number must not grow with the number of frames (no per-frame sync), in self-penetration
on contact-heavy poses and in every metric of the suite on a synthetic clip."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from humanscore_torch.bench.poses import benchmark_poses
from humanscore_torch.body import BodyModel
from humanscore_torch.body.files import DEFAULT_BODY_PATH
from humanscore_torch.body.parts import part_structure
from humanscore_torch.functional import penetration_winding
from humanscore_torch.functional.self_penetration import _self_penetration_update
from humanscore_torch.motion import MotionBatch
from humanscore_torch.registry import available_metrics
from humanscore_torch.synthetic.clips import clean_clip

from helpers.sync_counter import count_host_syncs


@pytest.fixture(scope="module")
def body() -> BodyModel:
    if not DEFAULT_BODY_PATH.exists():
        pytest.skip(f"default body not built yet ({DEFAULT_BODY_PATH})")
    return BodyModel.default()


def test_the_counter_sees_syncs():
    x = torch.arange(4)
    with count_host_syncs() as counts:
        x.nonzero(); x[x > 1]; int(x.sum()); torch.repeat_interleave(x, x)
        torch.repeat_interleave(x, x, output_size=6)
    assert counts == Counter(nonzero=1, __getitem__=1, __int__=1, repeat_interleave=1)


def test_self_penetration_syncs_do_not_grow_with_frames(body, monkeypatch):
    # One memory block for every stage, so only per-frame work could add syncs.
    monkeypatch.setattr(penetration_winding, "QUERY_BLOCK", 1 << 26)
    structure = part_structure(body)
    global_orient, body_pose, kind = benchmark_poses(10)
    contact = kind != 0  # crossed arms, hand in torso, knees crossing, deep squat
    with torch.no_grad():
        mesh = body(global_orient[contact][:1].float(), body_pose[contact][:1].float()).vertices
    found = {}
    for frames in (1, 6):
        vertices = mesh.expand(frames, -1, -1)[None]  # (1, frames, V, 3), the same pose
        with count_host_syncs() as counts:
            out = _self_penetration_update(vertices, torch.ones(1, frames, dtype=torch.bool), structure)
        assert bool(out["penetrating"].all()) and int(out["num_face_pairs"][0, 0]) > 0
        found[frames] = counts
    assert found[6] == found[1], (found[1], found[6])


@pytest.mark.parametrize("key", sorted(available_metrics()))
def test_metric_syncs_do_not_grow_with_frames(body, key):
    # 9 and 15 frames: within one broad-phase chunk of self-penetration (``chunk_frames``,
    # which bounds memory and syncs once per chunk).
    metric = available_metrics()[key]
    metric(MotionBatch.from_sequences([clean_clip("walk", seconds=0.3)]), body)  # per-body caches built
    found = {}
    for seconds in (0.3, 0.5):
        batch = MotionBatch.from_sequences([clean_clip("walk", seconds=seconds)])
        with count_host_syncs() as counts:
            metric(batch, body)
        found[seconds] = counts
    assert found[0.5] == found[0.3], (found[0.3], found[0.5])
