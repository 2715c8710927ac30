"""``humanscore bench [--device D] [--json FILE] [--batch-sizes N...] [--frames T...] [--compile]``:
frames per second and peak memory of every metric and of the whole suite, against a reference
pipeline (per-frame numpy, libigl/CGAL for self-penetration) on the same frames; memory
against clip count (chunked evaluation) and clip length; with ``--compile``, the same cases
under ``torch.compile`` as well."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import torch

from ..errors import HumanScoreError


def add_parser(subparsers) -> None:
    """Register the ``bench`` subcommand on an argparse subparsers object."""
    parser = subparsers.add_parser("bench", help="benchmark the metrics against a per-frame numpy reference",
                                   description=__doc__)
    parser.add_argument("--device", action="append", default=None,
                        help="torch device, repeatable (default: cpu, and cuda when available)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this JSON file")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16], metavar="N",
                        help="clips per batch (default: 1 16)")
    parser.add_argument("--frames", type=int, nargs="+", default=[30, 120], metavar="T",
                        help="frames per clip (default: 30 120)")
    parser.add_argument("--metrics", nargs="+", default=None, metavar="KEY",
                        help="metric keys and/or 'suite' (default: all six and suite)")
    parser.add_argument("--clip-counts", type=int, nargs="*", default=[50, 200], metavar="N",
                        help="clip counts streamed through chunked evaluation for memory (default: 50 200)")
    parser.add_argument("--clip-count-frames", type=int, default=30, metavar="T",
                        help="frames per clip of the clip-count scaling (default: 30)")
    parser.add_argument("--clip-lengths", type=int, nargs="*", default=[120, 480, 1920], metavar="T",
                        help="clip lengths of the memory-against-length scaling (default: 120 480 1920)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case, median reported (default 3)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads of torch and numpy in every measurement, both pipelines (default 1)")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference pipeline")
    parser.add_argument("--compile", action="store_true",
                        help="also measure every case under torch.compile (posing and every metric but "
                             "self_penetration), after two warm-up runs, timed alternately with the eager pipeline "
                             "in a fresh process (opt-in: compiling takes up to a minute or more per case on CPU)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, print the table, write the JSON. Returns 0."""
    from ..bench.report import table
    from ..bench.runner import BENCH_KEYS, run_bench

    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    for device in devices:
        if torch.device(device).type == "cuda" and not torch.cuda.is_available():
            raise HumanScoreError(f"--device {device}: CUDA is not available on this machine")
    keys = tuple(args.metrics) if args.metrics else BENCH_KEYS
    unknown = [k for k in keys if k not in BENCH_KEYS]
    if unknown:
        raise HumanScoreError(f"--metrics: unknown {unknown}; expected some of {list(BENCH_KEYS)}")
    if min(args.batch_sizes + args.frames) <= 0 or args.repeats <= 0 or args.threads <= 0:
        raise HumanScoreError("--batch-sizes, --frames, --repeats, --threads: expected positive numbers")
    if min(args.frames) < 4:
        raise HumanScoreError(f"--frames: expected clips of at least 4 frames (jerk needs 4), got {args.frames}")
    command = "humanscore " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["bench"] else None
    log = lambda line: print(line, flush=True)  # noqa: E731
    result = run_bench(devices, args.batch_sizes, args.frames, keys, args.clip_counts, args.clip_count_frames,
                       args.clip_lengths, args.repeats, not args.no_reference, args.threads, log, command,
                       compiled=args.compile)
    print()
    print(table(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
        print(f"\nwrote {args.json}")
    return 0
