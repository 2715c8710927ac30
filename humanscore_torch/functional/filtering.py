"""Zero-phase low-pass filtering with derivatives: masked, batched, differentiable.

The filter is a Gaussian-weighted local quadratic regression (a Savitzky-Golay filter with
Gaussian weights): around every frame ``t`` a parabola ``c0 + c1 s + c2 s^2`` is fitted by
weighted least squares to the valid frames ``t + s`` with weights ``exp(-s^2 / (2 sigma^2))``;
the smoothed value is ``c0``, the velocity ``c1`` and the acceleration ``2 c2``. Why this
filter:

* zero phase (the weights are symmetric) and linear in the input, so it is differentiable and
  commutes with the centre-of-mass combination;
* padded/invalid frames simply get weight 0, so masks, gaps and clip edges need no padding
  rule, and a parabola (a ballistic flight) is reproduced exactly everywhere, edges included;
* different fps per sequence only change the weights: everything runs as grouped
  convolutions over time, with no Python loop over frames.

The cut-off sets ``sigma``: in continuous time the smoothed value has the frequency response
``(1 + u/2) exp(-u/2)`` with ``u = (2 pi f sigma)^2``, which is ``1/sqrt(2)`` (-3 dB) at
``u = 2.1513``, so ``sigma = sqrt(2.1513) / (2 pi f_c)`` (0.0292 s at the default 8 Hz).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from ..errors import InputValueError, ShapeError
from ..shapes import check_floating, check_shape

# u at which (1 + u/2) exp(-u/2) = 1/sqrt(2): the -3 dB point of the local-quadratic smoother.
_HALF_POWER_U = 2.1513
# Below this width (in frames) a quadratic fit through few frames is ill-conditioned; a cut-off
# near or above Nyquist falls back to this narrowest filter.
_MIN_SIGMA_FRAMES = 0.6
# Weights are cut at 4 sigma (exp(-8) = 0.03 %; at 3 sigma the -3 dB point moves up by ~5 %),
# and never narrower than +-2 frames so that an
# edge frame still sees three frames.
_TRUNCATE_SIGMAS = 4.0
_MIN_HALF_WIDTH = 2


class Smoothed(NamedTuple):
    """Output of :func:`lowpass_derivatives`; all in the input's units per second powers.

    Attributes:
        position: (B, T, ...) smoothed signal (input units).
        velocity: (B, T, ...) first derivative (units/s).
        acceleration: (B, T, ...) second derivative (units/s^2).
        valid: (B, T) bool: the frame is valid and its fit is determined (three or more valid
            frames in its window); elsewhere the outputs are 0.
    """

    position: torch.Tensor
    velocity: torch.Tensor
    acceleration: torch.Tensor
    valid: torch.Tensor


def gaussian_sigma_seconds(cutoff_hz: float) -> float:
    """Gaussian weight width (s) whose local-quadratic smoother is -3 dB at ``cutoff_hz``."""
    if not cutoff_hz > 0:
        raise InputValueError(f"cutoff_hz: expected a positive frequency in Hz, got {cutoff_hz}")
    return math.sqrt(_HALF_POWER_U) / (2.0 * math.pi * cutoff_hz)


def _window(fps: torch.Tensor, cutoff_hz: float, dtype: torch.dtype, frames: int):
    """Per-sequence weights (B, K) over offsets (K,) in frames, K = 2W + 1, for clips of
    ``frames`` (>= 1) frames."""
    sigma_frames = (fps.to(dtype) * gaussian_sigma_seconds(cutoff_hz)).clamp_min(_MIN_SIGMA_FRAMES)
    # W depends only on fps and T (never on data): one host read of a (B,) tensor per call.
    # Offsets past T - 1 never reach a frame, so W stops there: memory stays bounded at any fps.
    reach_frames = min(_TRUNCATE_SIGMAS * float(sigma_frames.max()), frames - 1)
    half = max(_MIN_HALF_WIDTH, int(math.ceil(reach_frames)))
    offsets = torch.arange(-half, half + 1, device=fps.device, dtype=dtype)
    weights = torch.exp(-0.5 * (offsets[None, :] / sigma_frames[:, None]) ** 2)
    reach = (_TRUNCATE_SIGMAS * sigma_frames).clamp_min(_MIN_HALF_WIDTH)
    return offsets, weights * (offsets.abs()[None, :] <= reach[:, None])


def _correlate(signal: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """out[b, c, k, t] = sum_s kernels[b, k, s] * signal[b, c, t + s - W] (zeros outside).

    signal (B, C, T), kernels (B, P, K) -> (B, C, P, T), one grouped conv1d.
    """
    batch, channels, frames = signal.shape
    powers, width = kernels.shape[1], kernels.shape[2]
    weight = kernels[:, None].expand(batch, channels, powers, width).reshape(batch * channels * powers, 1, width)
    out = F.conv1d(signal.reshape(1, batch * channels, frames), weight, padding=width // 2, groups=batch * channels)
    return out.reshape(batch, channels, powers, frames)


def lowpass_derivatives(x: torch.Tensor, fps: torch.Tensor, mask: torch.Tensor, cutoff_hz: float = 8.0) -> Smoothed:
    """Zero-phase low-pass of ``x`` along time, with its first two time derivatives.

    Args:
        x: (B, T, ...) signal, e.g. (B, T, 3) centre of mass or (B, T, J, 3) joints, metres.
        fps: (B,) frame rate of each sequence (Hz), > 0.
        mask: (B, T) bool, valid frames; invalid frames are ignored (weight 0).
        cutoff_hz: -3 dB frequency of the smoothed signal (Hz).

    Returns:
        :class:`Smoothed` (position, velocity in units/s, acceleration in units/s^2, valid).
    """
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        raise ShapeError(f"x: expected a tensor of shape (B, T, ...), got {getattr(x, 'shape', type(x).__name__)}")
    check_floating(x, "x")
    if torch.finfo(x.dtype).bits < 32:  # second derivatives times fps^2 lose all precision in 16 bits
        x = x.float()
    sizes = {"B": x.shape[0], "T": x.shape[1]}
    check_shape(fps, "B", "fps", sizes)
    check_shape(mask, "B T", "mask", sizes)
    batch, frames = x.shape[:2]
    trailing = x.shape[2:]
    dtype = x.dtype
    if batch == 0 or frames == 0:  # nothing to fit: every output is empty
        zeros = torch.zeros_like(x)
        return Smoothed(zeros, zeros, zeros, mask & False)
    offsets, weights = _window(fps, cutoff_hz, dtype, frames)
    m = mask.to(dtype)
    # Moments of the weights seen by each frame: S_k(t) = sum_s w(s) m(t+s) s^k, k = 0..4.
    mask_kernels = weights[:, None, :] * offsets[None, None, :] ** torch.arange(5, device=x.device, dtype=dtype)[None, :, None]
    moments = _correlate(m[:, None, :], mask_kernels)[:, 0]  # (B, 5, T)
    # Data moments Y_k(t) = sum_s w(s) m(t+s) x(t+s) s^k, k = 0..2, per channel.
    flat = (x * m.reshape(batch, frames, *([1] * len(trailing)))).reshape(batch, frames, -1).transpose(1, 2)
    data = _correlate(flat, mask_kernels[:, :3])  # (B, C, 3, T)
    s0, s1, s2, s3, s4 = moments.unbind(1)
    # Normal equations M c = Y with M = [[S0,S1,S2],[S1,S2,S3],[S2,S3,S4]], solved by the
    # adjugate (closed form, batched, differentiable).
    a00 = s2 * s4 - s3 * s3
    a01 = s2 * s3 - s1 * s4
    a02 = s1 * s3 - s2 * s2
    a11 = s0 * s4 - s2 * s2
    a12 = s1 * s2 - s0 * s3
    a22 = s0 * s2 - s1 * s1
    det = s0 * a00 + s1 * a01 + s2 * a02
    # Determined fit: valid frame with >= 3 valid frames in the window (det > 0 exactly then;
    # the relative floor guards rounding). Elsewhere divide by 1 and zero the result (no NaN).
    scale = (s0 * s2 * s4).clamp_min(torch.finfo(dtype).tiny)
    determined = det > 1e-6 * scale
    valid = mask & determined
    safe_det = torch.where(valid, det, torch.ones_like(det))[:, None, :]
    y0, y1, y2 = data.unbind(2)
    c0 = (a00[:, None] * y0 + a01[:, None] * y1 + a02[:, None] * y2) / safe_det
    c1 = (a01[:, None] * y0 + a11[:, None] * y1 + a12[:, None] * y2) / safe_det
    c2 = (a02[:, None] * y0 + a12[:, None] * y1 + a22[:, None] * y2) / safe_det
    keep = valid[:, None, :].to(dtype)
    rate = fps.to(dtype)[:, None, None]

    def back(c: torch.Tensor) -> torch.Tensor:
        return (c * keep).transpose(1, 2).reshape(batch, frames, *trailing)

    return Smoothed(back(c0), back(c1 * rate), back(2.0 * c2 * rate * rate), valid)


def lowpass(x: torch.Tensor, fps: torch.Tensor, mask: torch.Tensor, cutoff_hz: float = 8.0) -> torch.Tensor:
    """Zero-phase low-pass of ``x`` (B, T, ...) along time; see :func:`lowpass_derivatives`.

    Returns:
        (B, T, ...) smoothed signal, 0 on frames whose fit is undetermined.
    """
    return lowpass_derivatives(x, fps, mask, cutoff_hz).position
