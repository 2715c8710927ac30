"""``humanscore prompts [--output FILE]``: write the benchmark prompt suite.

The format follows FILE's extension (``.csv`` or ``.json``); without ``--output`` the CSV goes
to stdout. Columns: id, category, intensity (1 gentle .. 3 vigorous), variant (plain or
detailed), text. Ids are stable (``run-03-detailed``): put them in a manifest's ``prompt_id``
column and ``humanscore evaluate --manifest`` reports scores by intensity and variant.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..benchmark.prompts import prompt_suite, prompts_text
from ..errors import HumanScoreError
from ..report.results import write_text_atomic
from .common import EXIT_OK

FORMATS = {".csv": "csv", ".json": "json"}


def add_parser(subparsers) -> None:
    """Register the ``prompts`` subcommand on an argparse subparsers object."""
    parser = subparsers.add_parser("prompts", help="write the benchmark prompt suite (CSV or JSON)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=None, metavar="FILE",
                        help="a .csv or .json file (default: CSV on stdout)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Write the suite; 0 on success (a bad extension is a usage error)."""
    prompts = prompt_suite()
    if args.output is None:
        sys.stdout.write(prompts_text(prompts, "csv"))
        return EXIT_OK
    fmt = FORMATS.get(args.output.suffix.lower())
    if fmt is None:
        raise HumanScoreError(f"--output {args.output}: expected a .csv or .json file name")
    write_text_atomic(args.output, prompts_text(prompts, fmt))
    print(f"{len(prompts)} prompts written to {args.output}", file=sys.stderr)
    return EXIT_OK
