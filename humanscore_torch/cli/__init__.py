"""The ``humanscore`` command line: one module per subcommand, each with ``add_parser``."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from ..errors import HumanScoreError
from . import bench, calibrate, demo, derive_limits, evaluate, validate

SUBCOMMANDS = (demo, evaluate, derive_limits, validate, calibrate, bench)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="humanscore",
        description="Score the physical and anatomical plausibility of SMPL human motion (HumanScore metrics).",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the ``humanscore`` console script. Returns the exit code:
    0 success, 1 some clip or step failed, 2 usage error."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except HumanScoreError as exc:
        print(f"humanscore {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
