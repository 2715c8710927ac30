"""``humanscore derive-limits MODEL.osim [--output FILE]``: joint limits and joint structure
of an OpenSim model, written as YAML (needs the ``opensim`` package)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers) -> None:
    """Register the ``derive-limits`` subcommand on an argparse subparsers object."""
    parser = subparsers.add_parser("derive-limits", help="derive joint limits from an OpenSim model",
                                   description=__doc__)
    parser.add_argument("model", type=Path, metavar="MODEL.osim", help="OpenSim model file")
    parser.add_argument("--output", type=Path, default=Path("joint_limits.yaml"),
                        help="YAML file to write (default: joint_limits.yaml)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Derive, write, and print a one-line summary. Returns 0 (errors raise HumanScoreError)."""
    from ..limits.derive import derive_limits, write_limits_yaml

    limits = derive_limits(args.model)
    path = write_limits_yaml(limits, args.output)
    worst = max(s["check_error_deg"] for s in limits["segments"].values())
    print(f"{path}: {len(limits['coordinates'])} coordinates, {len(limits['segments'])} segments "
          f"(structure reproduces OpenSim to {worst:.2g} deg)")
    return 0
