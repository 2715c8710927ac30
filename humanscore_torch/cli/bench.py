"""``humanscore bench [--device D] [--json FILE] [--categories C...] [--threads N...] [--compile]``:
frames per second and peak memory of every metric and of the whole suite, against a reference
pipeline a competent engineer would write instead (numpy vectorised over frames; for
self-penetration a box test per part pair, a sweep-and-prune, the same exact triangle test and
libigl's fast winding numbers and AABB distances), timed alternately with the project in one
process on the same clips, per clip category (natural, contact-heavy, penetration defects,
extreme shapes) and thread count; memory against clip count (chunked evaluation) and clip
length; with ``--compile``, the same cases under ``torch.compile`` as well.

numpy's BLAS: where OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE force an old kernel, unset both in the
benchmark command (``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE humanscore bench ...``) for a
fair reference; the JSON records the kernel each measurement ran (threadpoolctl)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
import sys
from pathlib import Path
from typing import Tuple

import torch

from ..bench.clips import CATEGORIES
from ..bench.runner import CATEGORY_SIZES, MESH_KEYS
from ..errors import HumanScoreError


def add_parser(subparsers) -> None:
    """Register the ``bench`` subcommand on an argparse subparsers object."""
    parser = subparsers.add_parser("bench", help="benchmark the metrics against a vectorised numpy + libigl reference",
                                   description=__doc__)
    parser.add_argument("--device", action="append", default=None,
                        help="torch device, repeatable (default: cpu, and cuda when available)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this JSON file")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16], metavar="N",
                        help="clips per batch of the natural clips, every metric (default: 16)")
    parser.add_argument("--frames", type=int, nargs="+", default=[120], metavar="T",
                        help="frames per natural clip, every metric (default: 120)")
    parser.add_argument("--suite-cases", nargs="*", default=["1x1920", "64x30"], metavar="BxT",
                        help="further natural batches for the suite: long clips, large batches "
                             "(default: 1x1920 64x30)")
    parser.add_argument("--categories", nargs="+", default=list(CATEGORIES), metavar="C",
                        help=f"clip categories (default: all of {', '.join(CATEGORIES)}); all but natural "
                             f"measure {' and '.join(MESH_KEYS)} only")
    parser.add_argument("--category-sizes", nargs="*", default=[], metavar="C=BxT",
                        help="clips x frames of a category other than natural (defaults: " + ", ".join(
                            f"{c}={b}x{t}" for c, (b, t) in CATEGORY_SIZES.items()) + ")")
    parser.add_argument("--metrics", nargs="+", default=None, metavar="KEY",
                        help="metric keys and/or 'suite' (default: all six and suite)")
    parser.add_argument("--clip-counts", type=int, nargs="*", default=[50, 200], metavar="N",
                        help="clip counts streamed through chunked evaluation for memory (default: 50 200)")
    parser.add_argument("--clip-count-frames", type=int, default=30, metavar="T",
                        help="frames per clip of the clip-count scaling (default: 30)")
    parser.add_argument("--clip-lengths", type=int, nargs="*", default=[120, 480, 1920], metavar="T",
                        help="clip lengths of the memory-against-length scaling (default: 120 480 1920)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed rounds per case (project and reference alternately), medians reported (default 3)")
    parser.add_argument("--max-seconds", type=float, default=20.0,
                        help="stop a case's rounds once each pipeline has run about this long (default 20)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="CPU thread counts of torch and numpy, both pipelines; every case runs with each "
                             "(default: 1 2)")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference pipeline")
    parser.add_argument("--compile", action="store_true",
                        help="also measure every case under torch.compile (posing and every metric but "
                             "self_penetration), after two warm-up runs, timed alternately with the eager pipeline "
                             "in a fresh process (opt-in: compiling takes up to a minute or more per case on CPU)")
    parser.set_defaults(handler=run)


def _size(text: str, flag: str) -> Tuple[int, int]:
    """``"BxT"`` -> (B, T), both positive."""
    try:
        b, t = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise HumanScoreError(f"{flag}: expected clips x frames such as 16x120, got {text!r}") from None
    if b <= 0 or t < 4:
        raise HumanScoreError(f"{flag}: expected at least 1 clip of at least 4 frames (jerk needs 4), got {text!r}")
    return b, t


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, print the table, write the JSON. Returns 0."""
    from ..bench.report import table
    from ..bench.runner import BENCH_KEYS, run_bench

    # threadpoolctl sets the BLAS threads of every case; libigl is the reference's mesh library.
    needed = ["threadpoolctl"] + ([] if args.no_reference else ["igl"])
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise HumanScoreError(f"humanscore bench needs {', '.join(missing)}: pip install 'humanscore_torch[bench]'")
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    for device in devices:
        if torch.device(device).type == "cuda" and not torch.cuda.is_available():
            raise HumanScoreError(f"--device {device}: CUDA is not available on this machine")
    keys = tuple(args.metrics) if args.metrics else BENCH_KEYS
    unknown = [k for k in keys if k not in BENCH_KEYS]
    if unknown:
        raise HumanScoreError(f"--metrics: unknown {unknown}; expected some of {list(BENCH_KEYS)}")
    unknown = [c for c in args.categories if c not in CATEGORIES]
    if unknown:
        raise HumanScoreError(f"--categories: unknown {unknown}; expected some of {list(CATEGORIES)}")
    if min(args.batch_sizes + args.frames) <= 0 or args.repeats <= 0 or min(args.threads) <= 0:
        raise HumanScoreError("--batch-sizes, --frames, --repeats, --threads: expected positive numbers")
    if min(args.frames) < 4:
        raise HumanScoreError(f"--frames: expected clips of at least 4 frames (jerk needs 4), got {args.frames}")
    suite_cases = [_size(s, "--suite-cases") for s in args.suite_cases]
    category_sizes = dict(CATEGORY_SIZES)
    for entry in args.category_sizes:
        category, _, size = entry.partition("=")
        if category not in CATEGORY_SIZES:
            raise HumanScoreError(f"--category-sizes: expected C=BxT with C one of {list(CATEGORY_SIZES)}, got {entry!r}")
        category_sizes[category] = _size(size, "--category-sizes")
    command = "humanscore " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["bench"] else None
    log = lambda line: print(line, flush=True)  # noqa: E731
    result = run_bench(devices, args.batch_sizes, args.frames, keys, args.categories, category_sizes, suite_cases,
                       args.clip_counts, args.clip_count_frames, args.clip_lengths, args.repeats,
                       not args.no_reference, args.threads, log, command, compiled=args.compile,
                       max_seconds=args.max_seconds)
    print()
    print(table(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
        print(f"\nwrote {args.json}")
    return 0
