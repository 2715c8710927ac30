"""Options and helpers shared by the scoring subcommands (device, body)."""

from __future__ import annotations

import argparse

import torch

from ..body.model import BodyModel
from ..errors import HumanScoreError


def add_device_and_body_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--device`` (default ``auto``, see :func:`resolve_device`), ``--body`` (``default``
    or an SMPL file, see :func:`load_body`) and ``--batch-size`` (sequences per batch, default
    16) to ``parser``."""
    parser.add_argument("--device", default="auto",
                        help="torch device: cpu, cuda, cuda:1, ... (default: cuda if available, else cpu)")
    parser.add_argument("--body", default="default",
                        help="'default' (the embedded body) or the path of an SMPL .pkl/.npz file")
    parser.add_argument("--batch-size", type=int, default=16, help="sequences per batch (default 16)")


def resolve_device(name: str) -> str:
    """'auto' -> 'cuda' when available, else 'cpu'; other names are checked."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise HumanScoreError(f"--device: {exc}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise HumanScoreError(f"--device {name}: CUDA is not available on this machine")
    return name


def load_body(name: str) -> BodyModel:
    """The body named by ``--body``."""
    return BodyModel.default() if name == "default" else BodyModel.from_file(name)
