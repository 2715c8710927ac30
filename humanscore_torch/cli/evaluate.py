"""``humanscore evaluate PATH...``: score motion files and write results, report and plots."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Dict, List

from tqdm import tqdm

from ..config import config_overrides
from ..distributed import add_distributed_options, evaluate_files, is_distributed
from ..errors import HumanScoreError
from ..evaluation import error_record, score_sequences
from ..io import find_motion_files, read_motion_file
from ..report.document import write_report
from ..report.leaderboard import leaderboard_rows, leaderboard_text
from ..report.results import console_table, write_all, write_groups
from ..report.traces import TraceCollector
from .common import add_device_and_body_options, load_body, resolve_device


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="score motion files, folders or globs",
                                   description=__doc__)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="motion files, folders (searched recursively) or globs")
    parser.add_argument("--output", type=Path, default=Path("humanscore_output"), help="output folder")
    parser.add_argument("--group-by", metavar="KEY", default=None,
                        help="metadata key to group clips by (e.g. model, prompt, intensity)")
    parser.add_argument("--config", metavar="FILE", default=None,
                        help="YAML of config overrides: {config name: partial config}")
    parser.add_argument("--fps", type=float, default=None, help="frame rate for files that do not state one")
    parser.add_argument("--worst-frames", type=int, default=2, metavar="N",
                        help="mesh renders of the N worst frames per kind (penetration, range of motion) in the report")
    add_device_and_body_options(parser)
    add_distributed_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.batch_size <= 0:
        raise HumanScoreError(f"--batch-size: expected a positive integer, got {args.batch_size}")
    files = find_motion_files(args.paths)
    if not files:
        raise HumanScoreError(f"no motion files found in {args.paths}")
    device = resolve_device(args.device)
    body = load_body(args.body)
    records: List[Dict[str, Any]] = []
    collector = TraceCollector(args.group_by, worst_frames=max(args.worst_frames, 0))

    def flush(new_records: List[Dict[str, Any]]) -> None:
        records.extend(new_records)
        write_all(records, args.output, title="HumanScore evaluation")

    with config_overrides(args.config):
        local_files = files
        if is_distributed(args.devices, args.num_nodes):
            # Each process scores a share; the first gets every record, in file order, and writes.
            gathered = evaluate_files(files, args.devices, args.num_nodes, device, args.body, args.batch_size,
                                      args.fps, args.config)
            if gathered is None:
                return 0
            flush(gathered)
            local_files = []
        pending: List[Dict[str, Any]] = []
        for path in tqdm(local_files, desc="evaluate", unit="file", file=sys.stderr):
            try:
                pending.extend(read_motion_file(path, fps=args.fps))
            except HumanScoreError as exc:
                flush([error_record(str(path), str(exc))])
            if len(pending) >= args.batch_size:
                list(score_sequences(pending, body, args.batch_size, device, on_batch=flush, on_results=collector.add))
                pending = []
        list(score_sequences(pending, body, args.batch_size, device, on_batch=flush, on_results=collector.add))
        # Inside the overrides: timelines and renders use the configured thresholds.
        write_report(records, args.output, args.group_by, collector, body.to(device))
    if args.group_by:
        write_groups(records, args.group_by, args.output)
    print(console_table(records))
    print(leaderboard_text(leaderboard_rows(records, args.group_by), args.group_by))
    failed = sum(r["error"] is not None for r in records)
    print(f"{len(records) - failed} clips scored, {failed} failed; results in {args.output}/", file=sys.stderr)
    return 1 if failed else 0
