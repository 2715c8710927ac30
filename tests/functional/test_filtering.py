"""The zero-phase low-pass: exact on parabolas with masks and mixed fps, cut-off, gradients."""

from __future__ import annotations

import math

import pytest
import torch

from humanscore_torch.errors import HumanScoreError
from humanscore_torch.functional.filtering import lowpass, lowpass_derivatives


def test_parabolas_are_reproduced_exactly_with_gaps_edges_and_mixed_fps():
    fps = torch.tensor([30.0, 60.0, 24.0], dtype=torch.float64)
    t = torch.arange(80, dtype=torch.float64)[None, :] / fps[:, None]
    x = torch.stack([0.3 * t, 1.0 + 2.0 * t - 4.905 * t ** 2, -t + 0.25 * t ** 2], -1)
    mask = torch.ones(3, 80, dtype=torch.bool)
    mask[0, 10:13] = False  # a gap
    mask[1, 70:] = False  # padding
    out = lowpass_derivatives(x, fps, mask)
    assert out.valid.sum(1).tolist() == [77, 70, 80]
    acceleration = torch.tensor([0.0, -9.81, 0.5], dtype=torch.float64)
    velocity = torch.stack([0.3 + 0 * t, 2.0 - 9.81 * t, -1 + 0.5 * t], -1)
    valid = out.valid
    assert (out.acceleration - acceleration)[valid].abs().max() < 1e-8
    assert (out.velocity - velocity)[valid].abs().max() < 1e-9
    assert (out.position - x)[valid].abs().max() < 1e-11
    assert (out.position[~valid] == 0).all()


@pytest.mark.parametrize("cutoff", [4.0, 8.0])
def test_half_power_near_cutoff_and_strong_attenuation_above(cutoff):
    fps = torch.tensor([120.0], dtype=torch.float64)
    t = torch.arange(1200, dtype=torch.float64) / 120.0
    mask = torch.ones(1, 1200, dtype=torch.bool)

    def gain(frequency):
        signal = torch.sin(2 * math.pi * frequency * t)[None, :, None]
        return lowpass(signal, fps, mask, cutoff)[0, 100:-100].abs().max().item()

    assert gain(cutoff) == pytest.approx(1 / math.sqrt(2), abs=0.03)
    assert gain(cutoff / 4) > 0.98 and gain(3 * cutoff) < 0.05


def test_invalid_frames_have_no_influence():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1, 40, 3, generator=generator, dtype=torch.float64)
    mask = torch.ones(1, 40, dtype=torch.bool)
    mask[0, 20] = False
    spoiled = x.clone()
    spoiled[0, 20] = 1e6
    fps = torch.tensor([30.0], dtype=torch.float64)
    a = lowpass_derivatives(x, fps, mask)
    b = lowpass_derivatives(spoiled, fps, mask)
    assert torch.equal(a.valid, b.valid) and torch.allclose(a.acceleration, b.acceleration, rtol=0, atol=1e-9)


def test_gradcheck_and_shape_errors():
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, 9, 2, generator=generator, dtype=torch.float64, requires_grad=True)
    fps = torch.tensor([30.0, 50.0], dtype=torch.float64)
    mask = torch.ones(2, 9, dtype=torch.bool)
    mask[1, 4] = False
    assert torch.autograd.gradcheck(lambda v: lowpass_derivatives(v, fps, mask).acceleration, (x,))
    with pytest.raises(HumanScoreError):
        lowpass(x, fps[:1], mask)
    with pytest.raises(HumanScoreError):
        lowpass(x[0, 0], fps, mask)
