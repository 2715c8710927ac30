"""One helper to check tensor shapes at every public entrance.

A spec is a space-separated string of dimensions, kornia style: ``"B T 24 3"``. Each token is

* an integer: that size exactly;
* a name (``B``, ``T``, ``J`` ...): any size, but the same name must get the same size within
  one call and across calls sharing a ``sizes`` dict;
* ``*``: any size;
* ``...``: any number of leading dimensions (only as the first token).
"""

from __future__ import annotations

from typing import Dict, Optional

import torch

from .errors import ShapeError


def check_shape(
    x: torch.Tensor,
    spec: str,
    name: str,
    sizes: Optional[Dict[str, int]] = None,
) -> Dict[str, int]:
    """Check that ``x`` is a tensor whose shape matches ``spec``.

    Args:
        x: the tensor to check.
        spec: dimensions, e.g. ``"B T 24 3"`` (see module docstring).
        name: the argument's name, used in the error message.
        sizes: named sizes bound so far; updated in place and returned, so several arguments
            can be checked against each other (``B`` of ``joints`` equals ``B`` of ``fps``).

    Returns:
        The dict of named sizes.

    Raises:
        ShapeError: naming the argument, the expected spec and the shape found.
    """
    sizes = {} if sizes is None else sizes
    if not isinstance(x, torch.Tensor):
        raise ShapeError(f"{name}: expected a torch.Tensor of shape ({spec}), got {type(x).__name__}")
    tokens = spec.split()
    shape = tuple(x.shape)
    if tokens and tokens[0] == "...":
        tokens = tokens[1:]
        if len(shape) < len(tokens):
            raise ShapeError(f"{name}: expected shape (..., {' '.join(tokens)}), got {shape}")
        shape = shape[len(shape) - len(tokens):]
    elif len(shape) != len(tokens):
        raise ShapeError(
            f"{name}: expected {len(tokens)} dimensions ({spec}), got {len(shape)} with shape {tuple(x.shape)}"
        )
    for token, size in zip(tokens, shape):
        if token == "*":
            continue
        if token.isdigit():
            if size != int(token):
                raise ShapeError(f"{name}: expected shape ({spec}), got {tuple(x.shape)}")
            continue
        bound = sizes.setdefault(token, size)
        if bound != size:
            raise ShapeError(
                f"{name}: dimension {token} is {size} in shape {tuple(x.shape)}, "
                f"but {bound} elsewhere (expected ({spec}) with {token}={bound})"
            )
    return sizes


def check_floating(x: torch.Tensor, name: str) -> None:
    """Raise a ShapeError unless ``x`` has a floating-point dtype."""
    if not torch.is_floating_point(x):
        raise ShapeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")


def check_device(x: torch.Tensor, device: torch.device, name: str) -> None:
    """Raise a ShapeError unless ``x`` is on ``device`` (the first tensor argument's) and holds
    data (``meta`` tensors have none to compute with)."""
    if x.device != device:
        raise ShapeError(f"{name}: on device {x.device}, expected {device} like the other inputs")
    if x.device.type == "meta":
        raise ShapeError(f"{name}: a 'meta' tensor holds no data; expected a tensor on a real device")
