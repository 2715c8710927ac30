"""Options and helpers shared by the subcommands: device, body, exit codes, termination."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from typing import Iterator

import torch

from ..body.model import BodyModel
from ..errors import HumanScoreError

# Exit codes of every subcommand (spec section 8 fixes 0, 1 and 2).
EXIT_OK = 0  # done: every clip scored
EXIT_FAILED = 1  # some clip or step failed (listed on stderr)
EXIT_USAGE = 2  # usage error: bad option or input, nothing scored
EXIT_OUTPUT_UNUSABLE = 3  # the output folder cannot be created or written (found before scoring)
EXIT_OUTPUT_IN_USE = 4  # another run is writing into the same output folder
EXIT_INTERRUPTED = 128 + signal.SIGINT  # Ctrl-C (SIGINT): 130, the shells' convention
EXIT_TERMINATED = 128 + signal.SIGTERM  # SIGTERM: 143


class CommandError(Exception):
    """A subcommand cannot go on for a reason outside its inputs; ends it with ``exit_code``
    and the message as one line on stderr."""

    exit_code = EXIT_FAILED


class OutputUnusableError(CommandError):
    """The output folder is a file, cannot be created, is read-only or full."""

    exit_code = EXIT_OUTPUT_UNUSABLE


class OutputInUseError(CommandError):
    """Another run holds the output folder's lock."""

    exit_code = EXIT_OUTPUT_IN_USE


class Terminated(BaseException):
    """Raised in the main thread when the process gets SIGTERM, so that ``finally`` blocks and
    cleanups run as for Ctrl-C's KeyboardInterrupt (a BaseException for the same reason: no
    ``except Exception`` swallows it)."""


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread (elsewhere, where
    Python cannot install handlers, the block runs unchanged)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def interruptions_deferred() -> Iterator[None]:
    """Within the block, Ctrl-C and SIGTERM wait: each is delivered, as its own handler would,
    when the block ends. The block is one step that must happen whole (a file appended to the
    log and counted as done). Blocking the signals with ``pthread_sigmask`` would not do: the
    kernel hands a process-wide signal to any thread that does not block it (torch's, tqdm's),
    and Python then runs the handler in the main thread all the same."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending = []
    previous = {signum: signal.signal(signum, lambda signum, frame: pending.append(signum))
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if pending:
            handler = previous[pending[0]]
            if callable(handler):
                handler(pending[0], None)
            else:  # SIG_DFL / SIG_IGN: let the system act on it
                signal.raise_signal(pending[0])


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
