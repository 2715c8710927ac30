"""Jerk: exact against an independent numpy formula, jitter, spikes, masks, metric class, loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from humanscore_torch.errors import HumanScoreError
from humanscore_torch.functional.jerk import _jerk_compute, _jerk_update, jerk, jerk_penalty, jerk_result
from humanscore_torch.losses.kinetics import JerkLoss
from humanscore_torch.metrics.jerk import Jerk
from humanscore_torch.motion import MotionBatch


def _random_motion(seed: int, batch: int = 3, frames: int = 20, joints: int = 24):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, frames, joints, 3, generator=generator, dtype=torch.float64).cumsum(1) * 0.01
    fps = torch.tensor([30.0, 60.0, 24.0, 25.0][:batch], dtype=torch.float64)
    mask = torch.rand(batch, frames, generator=generator) > 0.15
    mask[0, -5:] = False  # padding
    return x, fps, mask


def _numpy_mean_jerk(x: np.ndarray, fps: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Independent reference: loop over sequences and frames, count only fully valid windows."""
    out = []
    for b in range(x.shape[0]):
        values = []
        for t in range(x.shape[1] - 3):
            if mask[b, t:t + 4].all():
                d = x[b, t + 3] - 3 * x[b, t + 2] + 3 * x[b, t + 1] - x[b, t]
                values.extend(np.sqrt((d ** 2).sum(-1)) * fps[b] ** 3)
        out.append(np.mean(values) if values else 0.0)
    return np.array(out)


def test_jerk_matches_numpy_with_masks_and_mixed_fps():
    x, fps, mask = _random_motion(0)
    expected = _numpy_mean_jerk(x.numpy(), fps.numpy(), mask.numpy())
    out = jerk(x, fps, mask)
    assert np.allclose(out["raw"].numpy(), expected, rtol=1e-6, atol=0)
    assert torch.equal(out["jitter"], out["raw"] / 10)
    assert out["computed"].all()


def test_invalid_frame_removes_every_difference_touching_it():
    x, fps, _ = _random_motion(1, batch=1, frames=12)
    mask = torch.ones(1, 12, dtype=torch.bool)
    mask[0, 6] = False
    counted = jerk(x, fps[:1], mask)["counted"][0]
    # Windows t..t+3 touching frame 6 start at 3, 4, 5, 6; the last three never count.
    assert counted.tolist() == [True, True, True, False, False, False, False, True, True, False, False, False]
    # A huge value in the invalid frame does not change the result.
    spoiled = x.clone()
    spoiled[0, 6] += 100.0
    assert torch.allclose(jerk(spoiled, fps[:1], mask)["raw"], jerk(x, fps[:1], mask)["raw"], rtol=0, atol=0)


def test_constant_velocity_and_acceleration_have_zero_jerk_and_cubic_has_exact_jerk():
    t = torch.arange(30, dtype=torch.float64) / 30.0
    base = torch.zeros(1, 30, 2, 3, dtype=torch.float64)
    fps = torch.tensor([30.0], dtype=torch.float64)
    quadratic = base.clone()
    quadratic[..., 0] = (1.0 + 2.0 * t + 3.0 * t ** 2)[None, :, None]
    assert jerk(quadratic, fps)["raw"].abs().max() < 1e-9
    cubic = base.clone()
    cubic[..., 1] = (0.5 * t ** 3)[None, :, None]  # d^3/dt^3 = 3 m/s^3
    assert torch.allclose(jerk(cubic, fps)["raw"], torch.tensor([3.0], dtype=torch.float64), rtol=1e-9)


def test_spike_rate_counts_windows_above_threshold():
    x = torch.zeros(1, 10, 24, 3, dtype=torch.float64)
    x[0, 5, 3, 0] = 0.001  # one joint displaced 1 mm in one frame: windows 2..5 see it
    fps = torch.tensor([30.0], dtype=torch.float64)
    config = {"spike_threshold_m_s3": 50.0, "smooth_eps_m_s3": 1.0, "score": {"free": 0.0, "half": 1.0}}
    out = jerk(x, fps, config=config)
    # |diff| x 30^3 = 27, 81, 81, 27 m/s^3 in windows 2, 3, 4, 5; two exceed 50 among 7 windows.
    assert out["spike_rate"].item() == pytest.approx(2 / 7)


def test_short_sequences_are_not_computed():
    x = torch.zeros(2, 3, 24, 3)
    out = jerk(x, torch.tensor([30.0, 30.0]))
    assert not out["computed"].any() and (out["raw"] == 0).all()


def test_jitter_noise_raises_jerk_monotonically():
    t = torch.arange(90, dtype=torch.float64) / 30.0
    clean = torch.zeros(1, 90, 24, 3, dtype=torch.float64)
    clean[..., 2] = 1.3 * t[None, :, None]
    fps = torch.tensor([30.0], dtype=torch.float64)
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    scores = [jerk(clean + sigma * noise, fps)["score"].item() for sigma in (0.0, 0.002, 0.004, 0.008, 0.016)]
    raws = [jerk(clean + sigma * noise, fps)["raw"].item() for sigma in (0.0, 0.002, 0.004, 0.008, 0.016)]
    assert all(a < b for a, b in zip(raws, raws[1:]))
    assert scores[0] == 100.0 and all(a >= b for a, b in zip(scores, scores[1:])) and scores[-1] < scores[2]


def test_penalty_gradcheck_and_value_close_to_metric():
    x, fps, mask = _random_motion(4, batch=2, frames=9, joints=3)
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda j: jerk_penalty(j, fps[:2], mask[:2], eps=1.0), (x,))
    still = torch.zeros(1, 6, 2, 3, dtype=torch.float64, requires_grad=True)
    jerk_penalty(still, fps[:1], eps=1.0).backward()  # zero jerk: finite (zero) gradient
    assert torch.isfinite(still.grad).all()
    x2, fps2, mask2 = _random_motion(5)
    metric = jerk(x2, fps2, mask2)
    total = (metric["raw"] * metric["num_differences"] * 24).sum() / (metric["num_differences"].sum() * 24)
    assert JerkLoss(eps=1e-6)(x2, fps2, mask2).item() == pytest.approx(total.item(), rel=1e-9)


def test_metric_over_batches_equals_functional_on_concatenation_and_rejects_bad_batch():
    parts = [_random_motion(seed, frames=frames) for seed, frames in ((6, 12), (7, 20), (8, 16))]
    metric = Jerk()
    for x, fps, mask in parts:
        metric.update(x, fps, mask)
    before = {k: v.clone() for k, v in metric.metric_state.items()}
    with pytest.raises(HumanScoreError):
        metric.update(parts[0][0], torch.tensor([30.0, -1.0, 30.0], dtype=torch.float64), parts[0][2])
    with pytest.raises(HumanScoreError):
        metric.update(parts[0][0][:, :, :, :2], parts[0][1], parts[0][2])
    assert all(torch.equal(before[k], v) for k, v in metric.metric_state.items())
    frames = max(p[0].shape[1] for p in parts)
    pad = lambda t, value: torch.cat([t, t.new_full((t.shape[0], frames - t.shape[1]) + tuple(t.shape[2:]), value)], 1)  # noqa: E731
    joints = torch.cat([pad(p[0], 0.0) for p in parts])
    masks = torch.cat([pad(p[2], False) for p in parts])
    sums = _jerk_update(joints, torch.cat([p[1] for p in parts]), masks)
    expected = _jerk_compute(sums["jerk_sum"].sum(), sums["num_terms"].sum(), sums["num_spikes"].sum(),
                             sums["num_differences"].sum())
    got = metric.compute()
    for key in ("raw", "jitter", "spike_rate"):
        assert got[key].item() == pytest.approx(expected[key].item(), rel=1e-12)


def test_suite_entry_on_motion_batch_with_precomputed_joints():
    x, fps, mask = _random_motion(9)
    batch = MotionBatch(fps=fps.float(), mask=mask, joints=x.float())
    result = jerk_result(batch, None)
    assert result.key == "jerk" and result.unit == "m/s^3"
    assert torch.allclose(result.raw, jerk(x, fps, mask)["raw"].float(), rtol=1e-4)
    assert result.details["per_frame"].shape == mask.shape


def test_nan_frames_are_masked_and_half_precision_is_computed_in_float32():
    from humanscore_torch.functional.bone_length import bone_length_consistency
    from humanscore_torch.functional.newtonian import newtonian_plausibility
    from kinetics_clips import walk_clip

    walk = walk_clip(2.0)[None]
    fps = torch.tensor([30.0], dtype=torch.float64)
    spoiled = walk.clone()
    spoiled[0, 20, 5, 1] = float("nan")
    without = torch.ones(1, walk.shape[1], dtype=torch.bool)
    without[0, 20] = False
    for fn in (lambda j, m: jerk(j, fps, m)["raw"], lambda j, m: bone_length_consistency(j, m)["raw"],
               lambda j, m: newtonian_plausibility(j, fps, m)["raw"]):
        value = fn(spoiled, None)
        assert torch.isfinite(value).all() and torch.allclose(value, fn(walk, without))
    half = jerk(walk.half(), fps.half())
    assert half["raw"].dtype == torch.float32
    # Same (float16-rounded) positions in float64: the float16 input lost nothing more.
    assert half["raw"].item() == pytest.approx(jerk(walk.half().double(), fps)["raw"].item(), rel=1e-5)
