"""check_shape messages and MotionBatch construction, padding, masking, moving and caching."""

import pytest
import torch

from humanscore_torch import HumanScoreError, MotionBatch, ShapeError, check_shape


def test_check_shape_messages_say_expected_and_found():
    check_shape(torch.zeros(2, 5, 24, 3), "B T 24 3", "joints")
    with pytest.raises(ShapeError, match=r"joints: expected shape \(B T 24 3\), got \(2, 5, 23, 3\)"):
        check_shape(torch.zeros(2, 5, 23, 3), "B T 24 3", "joints")
    with pytest.raises(ShapeError, match="expected 4 dimensions"):
        check_shape(torch.zeros(2, 5, 3), "B T 24 3", "joints")
    sizes = check_shape(torch.zeros(2, 5), "B T", "mask")
    with pytest.raises(ShapeError, match="dimension B is 3"):
        check_shape(torch.zeros(3), "B", "fps", sizes)
    with pytest.raises(ShapeError, match="torch.Tensor"):
        check_shape([1, 2], "B", "fps")
    assert isinstance(ShapeError("x"), ValueError)


def _sequence(n, fps=30.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {
        "global_orient": torch.randn(n, 3, generator=g) * 0.1,
        "body_pose": torch.randn(n, 23, 3, generator=g) * 0.1,
        "transl": torch.randn(n, 3, generator=g),
        "betas": torch.randn(10, generator=g),
        "fps": fps,
        "metadata": {"name": f"seq{seed}"},
    }


def test_from_sequences_pads_and_masks():
    batch = MotionBatch.from_sequences([_sequence(5), _sequence(8, fps=60.0, seed=1)])
    assert batch.body_pose.shape == (2, 8, 23, 3)
    assert batch.betas.shape == (2, 10)
    assert batch.lengths.tolist() == [5, 8]
    assert batch.fps.tolist() == [30.0, 60.0]
    assert batch.metadata[1]["name"] == "seq1"
    assert torch.equal(batch.body_pose[0, 5:], torch.zeros(3, 23, 3))


def test_nonfinite_frames_are_masked_counted_and_zeroed():
    seq = _sequence(6)
    seq["body_pose"][2, 4, 1] = float("nan")
    seq["transl"][4, 0] = float("inf")
    batch = MotionBatch.from_sequences([seq])
    assert batch.mask[0].tolist() == [True, True, False, True, False, True]
    assert batch.nonfinite_frames.tolist() == [2]
    assert torch.isfinite(batch.body_pose).all() and torch.isfinite(batch.transl).all()


def test_bad_inputs_raise_humanscore_errors():
    with pytest.raises(HumanScoreError, match="fps"):
        MotionBatch.from_sequences([_sequence(4, fps=0.0)])
    with pytest.raises(HumanScoreError, match=r"fps: expected finite values in \(0, 10000\]"):
        MotionBatch.from_sequences([_sequence(4, fps=1e12)])
    for dtype in (torch.bool, torch.complex64):
        seq = _sequence(4)
        seq["body_pose"] = torch.zeros(4, 23, 3, dtype=dtype)
        with pytest.raises(ShapeError, match=f"body_pose: expected a real floating or integer tensor, got dtype {dtype}"):
            MotionBatch.from_sequences([seq])
    with pytest.raises(ShapeError, match="body_pose"):
        MotionBatch(fps=torch.tensor([30.0]), mask=torch.ones(1, 4, dtype=torch.bool),
                    global_orient=torch.zeros(1, 4, 3), body_pose=torch.zeros(1, 4, 21, 3))
    with pytest.raises(ShapeError, match="mask"):
        MotionBatch(fps=torch.tensor([30.0]), mask=torch.ones(1, 4), joints=torch.zeros(1, 4, 24, 3))
    with pytest.raises(HumanScoreError, match="SMPL parameters"):
        MotionBatch(fps=torch.tensor([30.0]), mask=torch.ones(1, 4, dtype=torch.bool))


def test_select_chunks_to_and_posed_cache(small_body):
    batch = MotionBatch.from_sequences([_sequence(4, seed=s) for s in range(5)])
    chunks = batch.chunks(2)
    assert [len(c) for c in chunks] == [2, 2, 1]
    assert torch.equal(chunks[1].body_pose, batch.body_pose[2:4])
    assert chunks[2].metadata == [{"name": "seq4"}]
    moved = batch.to("cpu", dtype=torch.float64)
    assert moved.body_pose.dtype == torch.float64 and moved.mask.dtype == torch.bool
    joints_only = batch.posed(small_body)
    assert joints_only.vertices is None and joints_only.joints.shape == (5, 4, 24, 3)
    full = batch.posed(small_body, need_vertices=True)
    assert full.vertices.shape == (5, 4, small_body.num_vertices, 3)
    assert batch.posed(small_body) is full  # the vertex-bearing result serves later joint requests
    assert torch.allclose(full.joints, joints_only.joints, atol=1e-6)


def test_keypoints_only_batch():
    joints = torch.randn(2, 7, 17, 3)
    batch = MotionBatch(fps=torch.tensor([25.0, 30.0]), mask=torch.ones(2, 7, dtype=torch.bool), joints=joints)
    assert batch.posed(None).joints is joints
    with pytest.raises(HumanScoreError, match="only joints"):
        batch.posed(None, need_vertices=True)
