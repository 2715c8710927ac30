"""``humanscore calibrate PATH...``: fit the raw-to-score maps to real reference motions and
write a scoring config (``humanscore evaluate --config FILE`` reads it).

Rule (see ``humanscore_torch.calibration``): per metric, free = the minimum raw value of the
references (``--free-percentile``), half such that the worst reference (``--top-percentile``)
scores ``--target``, never below the metric's ``score.min_half``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any, Dict, List

import yaml

from ..calibration import calibrate, over_ground, score_summary
from ..errors import HumanScoreError
from ..io import find_motion_files, read_motion_file
from .common import add_device_and_body_options, load_body, resolve_device


def add_parser(subparsers) -> None:
    """Register the ``calibrate`` subcommand and its options on ``subparsers`` (the object
    ``ArgumentParser.add_subparsers`` returns), with :func:`run` as its handler."""
    parser = subparsers.add_parser("calibrate", help="fit the raw-to-score maps to real reference motions",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", metavar="PATH", help="reference motion files, folders or globs")
    parser.add_argument("--output", type=Path, default=Path("humanscore_calibration.yaml"),
                        help="scoring config to write (default humanscore_calibration.yaml)")
    parser.add_argument("--target", type=float, default=90.0,
                        help="score of the worst reference on each metric (default 90)")
    parser.add_argument("--top-percentile", type=float, default=100.0,
                        help="percentile of the reference raw values that scores --target (default 100: the worst)")
    parser.add_argument("--free-percentile", type=float, default=0.0,
                        help="percentile of the reference raw values up to which the score is 100 "
                             "(default 0: the best)")
    parser.add_argument("--opensim-model", type=Path, default=None, metavar="OSIM",
                        help="OpenSim model of the .mot references (default: the only .osim next to each .mot)")
    parser.add_argument("--treadmill-speed", type=float, default=None, metavar="M_S",
                        help="references recorded on a treadmill: add this belt speed (m/s) to the root along +z "
                             "(the running direction of OpenSim imports), so the motion is over ground")
    parser.add_argument("--synthetic", action="store_true",
                        help="add the clean synthetic clips of humanscore_torch.synthetic to the references")
    parser.add_argument("--fps", type=float, default=None, help="frame rate for files that do not state one")
    add_device_and_body_options(parser)
    parser.set_defaults(handler=run)


def _read(path: Path, args: argparse.Namespace, body) -> List[Dict[str, Any]]:
    if path.suffix.lower() == ".mot" and args.opensim_model is not None:
        from ..io.opensim import read_opensim_motion

        return read_opensim_motion(path, args.opensim_model, body=body, fps=args.fps)
    return read_motion_file(path, default_fps=args.fps)


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces this calibration (output left out)."""
    parts = ["humanscore", "calibrate", *map(str, args.paths)]
    if args.opensim_model is not None:
        parts += ["--opensim-model", str(args.opensim_model)]
    if args.treadmill_speed is not None:
        parts += ["--treadmill-speed", f"{args.treadmill_speed:g}"]
    if args.synthetic:
        parts.append("--synthetic")
    parts += ["--target", f"{args.target:g}", "--top-percentile", f"{args.top_percentile:g}",
              "--free-percentile", f"{args.free_percentile:g}", "--body", args.body]
    return " ".join(map(shlex.quote, parts))


def run(args: argparse.Namespace) -> int:
    """Run ``humanscore calibrate``: read the reference motions (``PATH``s, ``.mot`` files through
    ``--opensim-model``, plus the synthetic clean clips with ``--synthetic``), fit each metric's
    score map with :func:`~humanscore_torch.calibration.calibrate`, write the scoring config
    to ``--output`` and print the references' scores.

    Returns:
        the exit code, 0.

    Raises:
        HumanScoreError: neither paths nor ``--synthetic`` given, or no motion file found.
    """
    if not args.paths and not args.synthetic:
        raise HumanScoreError("calibrate: expected reference PATHs and/or --synthetic, got neither")
    body = load_body(args.body)
    device = resolve_device(args.device)
    sequences: List[Dict[str, Any]] = []
    inputs: List[str] = []
    if args.paths:
        files = find_motion_files(args.paths)
        if not files:
            raise HumanScoreError(f"no motion files found in {args.paths}")
        for path in files:
            read = _read(path, args, body)
            if args.treadmill_speed is not None:
                read = [over_ground(seq, args.treadmill_speed) for seq in read]
            sequences += read
            inputs.append(str(path) + (f" (OpenSim model {args.opensim_model})"
                                       if path.suffix.lower() == ".mot" and args.opensim_model else "")
                          + (f" (treadmill belt {args.treadmill_speed:g} m/s added along +z)"
                             if args.treadmill_speed is not None else ""))
    if args.synthetic:
        from .. import synthetic

        clips = synthetic.clean_clips()
        sequences += list(clips.values())
        inputs.append(f"humanscore_torch.synthetic.clean_clips(): {', '.join(clips)}")
    config = calibrate(sequences, body, args.target, args.top_percentile, args.free_percentile,
                       args.batch_size, device, inputs=inputs,
                       command=_command(args))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    header = ("# Scoring config written by `humanscore calibrate` (use: humanscore evaluate --config FILE).\n"
              "# Each metric's score map {free, half} was fitted to the references listed under\n"
              "# calibration; that section is provenance only and is read by nothing.\n")
    args.output.write_text(header + yaml.safe_dump(config, sort_keys=False, width=110))
    summary = [{"path": ref["path"], "scores": ref["scores"]} for ref in config["calibration"]["references"]]
    print(score_summary(summary))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
