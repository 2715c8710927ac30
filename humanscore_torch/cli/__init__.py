"""The ``humanscore`` command line: one module per subcommand, each with ``add_parser``."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from ..errors import HumanScoreError
from . import bench, calibrate, demo, derive_limits, evaluate, prompts, validate
from .common import EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_USAGE, CommandError, Terminated, sigterm_raises

SUBCOMMANDS = (demo, evaluate, derive_limits, validate, calibrate, bench, prompts)


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
    """Entry point of the ``humanscore`` console script. Returns the exit code (constants in
    :mod:`humanscore_torch.cli.common`): 0 success, 1 some clip or step failed, 2 usage error,
    3 output folder unusable, 4 output folder in use by another run, 130 interrupted (Ctrl-C),
    143 terminated (SIGTERM). Errors are one line on stderr, never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        with sigterm_raises():
            return int(args.handler(args))
    except HumanScoreError as exc:
        print(f"humanscore {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandError as exc:
        print(f"humanscore {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"humanscore {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print(f"humanscore {args.command}: terminated (SIGTERM)", file=sys.stderr)
        return EXIT_TERMINATED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
