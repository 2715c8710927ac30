"""``humanscore validate [--reference-data DIR] [--json FILE] [--round-trip-sets N]``: measure
the validation figures on the OpenSim reference data and print them with their thresholds.

The real running trial (Hamner et al. 2010, subject02) imported onto the default SMPL body:
joint angles against the ``.mot``, limb directions against OpenSim's, range-of-motion and
Newtonian violation rates, centre-of-mass acceleration against the force plates; the round
trip of random coordinate sets through OpenSim (Rajagopal 2016); and the jerk, bone-length and
Newtonian figures the configs quote from the same trial. DIR defaults to
$HUMANSCORE_REFERENCE_DATA, else ../shared/reference-data. Needs the ``opensim`` package.
Exit code 0 when every check passes, 1 when one fails or a quoted value does not match.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def add_parser(subparsers) -> None:
    """Register the ``validate`` subcommand on an argparse subparsers object."""
    parser = subparsers.add_parser("validate", help="measure the validation figures on the OpenSim reference data",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference-data", type=Path, default=None, metavar="DIR",
                        help="reference data folder holding opensim/ (default: $HUMANSCORE_REFERENCE_DATA, "
                             "else ../shared/reference-data)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--round-trip-sets", type=int, default=500, metavar="N",
                        help="random coordinate sets of the OpenSim round trip (default 500)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Measure, print the table (and write the JSON). Returns 0 if every check holds, else 1."""
    from ..validation import figures_to_json, format_table, reference_data_dir, validate

    start = time.perf_counter()
    folder = reference_data_dir(args.reference_data)
    figures = validate(folder, round_trip_sets=args.round_trip_sets)
    seconds = time.perf_counter() - start
    print(format_table(figures))
    print(f"reference data {folder}; measured in {seconds:.1f} s")
    if args.json is not None:
        record = figures_to_json(figures, reference_data=str(folder), round_trip_sets=args.round_trip_sets,
                                 runtime_s=round(seconds, 2))
        args.json.write_text(json.dumps(record, indent=1) + "\n")
    return 0 if all(f.ok for f in figures) else 1
