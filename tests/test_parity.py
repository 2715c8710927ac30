"""The ``HumanScore`` collection (the Lightning callback's path) and ``score_sequences`` (the
CLI's) score every clip alike: every score and raw value, on every shipped synthetic clip, on
a file of every loader layout, and with unmeasured joints."""

from __future__ import annotations

import warnings

import pytest


from helpers.loader_files import WRITERS  # noqa: E402

from humanscore_torch import synthetic  # noqa: E402
from humanscore_torch.evaluation import score_sequences  # noqa: E402
from humanscore_torch.io import read_motion_file  # noqa: E402
from humanscore_torch.io.layouts import LAYOUT_NAMES  # noqa: E402
from humanscore_torch.metrics import HumanScore  # noqa: E402
from humanscore_torch.registry import METRIC_KEYS  # noqa: E402


def _assert_parity(sequence, body, collection: HumanScore) -> None:
    (record,) = score_sequences([sequence], body)
    collection.reset()
    collection.update([sequence])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # compute before update, for the metrics a clip does not feed
        summary = collection.summary()
    for key, score in record["scores"].items():
        assert (summary["scores"][key] is None) == (score is None), key
        if score is not None:
            assert summary["scores"][key] == pytest.approx(score, rel=1e-5, abs=1e-6), key
    for key in METRIC_KEYS:
        assert (summary["raw"][key] is None) == (record["raw"][key] is None), key
        if record["raw"][key] is not None:
            assert summary["raw"][key]["unit"] == record["raw"][key]["unit"], key
            assert summary["raw"][key]["value"] == pytest.approx(record["raw"][key]["value"], rel=1e-5, abs=1e-9), key


@pytest.fixture(scope="module")
def collection(default_body):
    return HumanScore(default_body)


def test_unmeasured_joints_are_left_out_by_both(default_body, collection):
    clip = synthetic.defect_clip("walk", "arm_through_torso", 0.1)
    typed = {**clip, "unmeasured_joints": ("left_collar", "right_collar")}
    listed = {**clip, "metadata": {**clip.get("metadata", {}), "unmeasured_joints": "left_collar,right_collar"}}
    for sequence in (typed, listed):
        _assert_parity(sequence, default_body, collection)
    (record,) = score_sequences([listed], default_body)
    (scored_whole,) = score_sequences([clip], default_body)
    # The arm through the torso is below the collars: left out, it no longer penetrates.
    assert record["raw"]["self_penetration"]["value"] == 0.0 < scored_whole["raw"]["self_penetration"]["value"]


@pytest.mark.parametrize("name", synthetic.CLIP_NAMES)
def test_every_clean_clip(name, default_body, collection):
    _assert_parity(synthetic.clean_clip(name), default_body, collection)


@pytest.mark.parametrize("defect, size", [(d, size) for d in sorted(synthetic.DEFECT_SIZES)
                                           for size in synthetic.DEFECT_SIZES[d]])
def test_every_defect_clip_at_every_size(defect, size, default_body, collection):
    clip = synthetic.defect_clip(synthetic.DEFECT_BASE_CLIPS[defect], defect, size)
    _assert_parity(clip, default_body, collection)


def test_writers_cover_every_layout():
    assert set(WRITERS) == set(LAYOUT_NAMES)


@pytest.mark.parametrize("layout", sorted(WRITERS))
def test_a_file_of_every_loader(layout, tmp_path, default_body, collection):
    (sequence,) = read_motion_file(WRITERS[layout](tmp_path))
    assert sequence["metadata"]["layout"] == layout
    _assert_parity(sequence, default_body, collection)
