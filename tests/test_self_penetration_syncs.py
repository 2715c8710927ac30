"""Host synchronisations in the self-penetration hot path: counted on the CPU by wrapping every
tensor operation that needs the data on the host (``.item()``, ``.tolist()``, ``bool``/``int``
of a tensor, ``nonzero``, ``unique``, ``repeat_interleave`` without an output size, boolean-mask
indexing). Their number must not grow with the number of frames: no per-frame sync."""

from __future__ import annotations

import contextlib
import math
from collections import Counter

import pytest
import torch

from humanscore_torch.bench.poses import benchmark_poses
from humanscore_torch.body import BodyModel
from humanscore_torch.body.files import DEFAULT_BODY_PATH
from humanscore_torch.body.parts import part_structure
from humanscore_torch.functional import penetration_winding
from humanscore_torch.functional.self_penetration import _self_penetration_update

_METHODS = ("item", "tolist", "__bool__", "__int__", "__float__", "nonzero", "unique", "unique_consecutive")
_FUNCTIONS = ("nonzero", "unique", "unique_consecutive", "masked_select")


def _is_bool_index(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in items)


@contextlib.contextmanager
def count_host_syncs():
    """Counter of the operations that synchronise with the host, by name, while active."""
    counts: Counter = Counter()
    saved = []

    def wrap(owner, name, needs_sync=lambda *a, **k: True):
        original = getattr(owner, name)
        saved.append((owner, name, original))

        def counted(*args, **kwargs):
            if needs_sync(*args, **kwargs):
                counts[name] += 1
            return original(*args, **kwargs)
        setattr(owner, name, counted)

    for name in _METHODS:
        wrap(torch.Tensor, name)
    for name in _FUNCTIONS:
        wrap(torch, name)
    wrap(torch, "repeat_interleave", lambda x, repeats=None, *a, **k: "output_size" not in k and (
        repeats is None or isinstance(repeats, torch.Tensor)))
    wrap(torch.Tensor, "__getitem__", lambda self, index: _is_bool_index(index))
    try:
        yield counts
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)


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
