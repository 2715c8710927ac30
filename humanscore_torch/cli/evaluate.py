"""``humanscore evaluate PATH...``: score motion files and write results, report and plots.

A bad file never stops the run: a file that cannot be read, and a readable clip whose scoring
raises, each get a record whose ``error`` says why, and every other clip is scored. Results are
written (atomically) as each file finishes, so an interrupted run keeps what it finished and
``--resume`` scores only the rest. The exit code is 1 when any clip failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from tqdm import tqdm

from ..config import config_overrides
from ..distributed import add_distributed_options, evaluate_files, is_distributed
from ..errors import HumanScoreError
from ..evaluation import read_file_or_error, score_sequences
from ..io import find_motion_files
from ..report.document import write_report
from ..report.leaderboard import leaderboard_rows, leaderboard_text
from ..report.results import console_table, write_all, write_groups
from ..report.traces import TraceCollector
from .common import add_device_and_body_options, load_body, resolve_device

Record = Dict[str, Any]
TITLE = "HumanScore evaluation"
# Keys a results.json record must have for --resume to keep it (spec section 8).
RECORD_KEYS = ("path", "num_frames", "fps", "scores", "raw", "error")


def add_parser(subparsers) -> None:
    """Register the ``evaluate`` subcommand and its options (including the device, body and
    distributed options) on ``subparsers``, with :func:`run` as its handler."""
    parser = subparsers.add_parser("evaluate", help="score motion files, folders or globs",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="motion files, folders (searched recursively) or globs")
    parser.add_argument("--output", type=Path, default=Path("humanscore_output"), help="output folder")
    parser.add_argument("--group-by", metavar="KEY", default=None,
                        help="metadata key to group clips by (e.g. model, prompt, intensity)")
    parser.add_argument("--config", metavar="FILE", default=None,
                        help="YAML of config overrides: {config name: partial config}")
    parser.add_argument("--fps", type=float, default=None, help="frame rate for files that do not state one")
    parser.add_argument("--opensim-model", type=Path, default=None, metavar="OSIM",
                        help="the OpenSim model of .mot files (default: the only .osim next to each .mot; else "
                             "the shipped Rajagopal 2016 map, with the knee/elbow flexion sign read from the values)")
    parser.add_argument("--worst-frames", type=int, default=2, metavar="N",
                        help="mesh renders of the N worst frames per kind (penetration, range of motion) in the report")
    parser.add_argument("--resume", action="store_true",
                        help="keep the records of files OUTPUT/results.json already holds without error and score "
                             "only the others (new files, and files that failed); without it results.json is "
                             "overwritten. Timelines and worst-frame renders cover the clips scored in this run")
    add_device_and_body_options(parser)
    add_distributed_options(parser)
    parser.set_defaults(handler=run)


def _path_key(path: Any) -> Path:
    """A file's identity for matching records to files: its resolved path (so ``clips/a.npz``
    and ``./clips/a.npz`` are one file)."""
    return Path(str(path)).resolve()


def load_resume(results_path: Path, files: Sequence[Path]) -> Dict[int, List[Record]]:
    """The records ``--resume`` keeps from an earlier run's ``results.json``.

    Args:
        results_path: ``OUTPUT/results.json``; a missing file keeps nothing.
        files: this run's motion files, in order.

    Returns:
        file position in ``files`` -> that file's records (every sequence of a multi-person
        file), for each file whose records all have ``error`` None. Files that failed, files
        absent from results.json and records of files not among ``files`` are left out, so
        those files are scored again (and the stray records dropped).

    Raises:
        HumanScoreError: results.json exists but is not JSON, not a list, or holds a record
            without the keys of spec section 8 (a usage error: the run would overwrite it).
    """
    if not results_path.is_file():
        print(f"--resume: no {results_path} yet; scoring every file", file=sys.stderr)
        return {}
    try:
        data = json.loads(results_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HumanScoreError(f"--resume: cannot read {results_path} as JSON ({exc}); "
                              f"remove it, or run without --resume to overwrite it") from exc
    if not isinstance(data, list):
        raise HumanScoreError(f"--resume: {results_path} holds a {type(data).__name__}; expected the list of "
                              f"per-clip records humanscore evaluate writes")
    for i, record in enumerate(data):
        missing = [k for k in RECORD_KEYS if not isinstance(record, dict) or k not in record]
        if missing or not isinstance(record["path"], str):
            raise HumanScoreError(f"--resume: record {i} of {results_path} is not a results.json record "
                                  f"(missing or bad {missing or ['path']}); expected keys {list(RECORD_KEYS)}")
    position = {_path_key(path): i for i, path in enumerate(files)}
    by_file: Dict[int, List[Record]] = {}
    failed: set = set()
    stray = 0
    for record in data:
        index = position.get(_path_key(record["path"]))
        if index is None:
            stray += 1
            continue
        by_file.setdefault(index, []).append(record)
        if record["error"] is not None:
            failed.add(index)
    kept = {i: records for i, records in by_file.items() if i not in failed}
    message = f"--resume: keeping {len(kept)} scored files of {results_path}, scoring {len(files) - len(kept)}"
    if stray:
        message += f"; dropping {stray} records of files not among PATH"
    print(message, file=sys.stderr)
    return kept


class ResultsLog:
    """The records of a run, by file, written to ``output`` whenever files finish.

    Only finished files are written (every sequence of a multi-person file scored), in the
    order of the file list, so results.json always lists whole files: what ``--resume`` needs
    to tell what is done.

    Args:
        files: the run's motion files, in order. output: the output folder.
        kept: file position -> records kept by ``--resume`` (already finished).
    """

    def __init__(self, files: Sequence[Path], output: Path, kept: Optional[Dict[int, List[Record]]] = None):
        self.files = list(files)
        self.output = output
        self.done: Dict[int, List[Record]] = dict(kept or {})
        self.expected: Dict[int, int] = {}
        self.partial: Dict[int, List[Record]] = {}

    def records(self) -> List[Record]:
        """Every finished file's records, in file order."""
        return [record for index in sorted(self.done) for record in self.done[index]]

    def finish(self, index: int, records: List[Record]) -> None:
        """File ``index`` is done with ``records`` (a read error's single record, say)."""
        self.done[index] = records

    def expect(self, index: int, count: int) -> None:
        """File ``index`` was read into ``count`` sequences, to be scored."""
        self.expected[index] = count
        self.partial[index] = []

    def add(self, index: int, record: Record) -> bool:
        """One scored sequence of file ``index``; True when that completes the file."""
        self.partial[index].append(record)
        if len(self.partial[index]) < self.expected[index]:
            return False
        self.done[index] = self.partial.pop(index)
        return True

    def write(self) -> None:
        """Replace results.json, results.csv and report.md with the finished files' records."""
        write_all(self.records(), self.output, title=TITLE)


def failure_summary(records: Sequence[Record]) -> str:
    """One line per failed file (a multi-person file once per distinct reason): path and why;
    the empty string when nothing failed."""
    seen: Dict[tuple, None] = {}
    for r in records:
        if r["error"] is not None:
            seen.setdefault((r["path"], r["error"]), None)
    if not seen:
        return ""
    files = len({path for path, _ in seen})
    lines = [f"{files} file{'s' if files != 1 else ''} failed:"]
    lines += [f"  {path}: {error}" for path, error in seen]
    return "\n".join(lines)


def _score_locally(todo: List[int], files: Sequence[Path], log: ResultsLog, args: argparse.Namespace,
                   body, device: str, collector: TraceCollector) -> None:
    """Read and score the files at positions ``todo`` in this process, writing as files finish."""
    pending: List[Dict[str, Any]] = []
    owners: List[int] = []

    def score_pending() -> None:
        owner_iter = iter(owners)

        def on_batch(records: List[Record]) -> None:
            # score_sequences gives one record per sequence, in order: zip back to the files.
            finished = [log.add(next(owner_iter), record) for record in records]
            if any(finished):
                log.write()

        list(score_sequences(pending, body, args.batch_size, device, on_batch=on_batch,
                             on_results=collector.add, isolate_failures=True))
        pending.clear()
        owners.clear()

    for index in tqdm(todo, desc="evaluate", unit="file", file=sys.stderr):
        sequences, failure = read_file_or_error(files[index], args.fps, args.opensim_model)
        if failure is not None:
            log.finish(index, [failure])
            log.write()
            continue
        log.expect(index, len(sequences))
        pending.extend(sequences)
        owners.extend([index] * len(sequences))
        if len(pending) >= args.batch_size:
            score_pending()
    if pending:
        score_pending()


def run(args: argparse.Namespace) -> int:
    """Score the files, write results, report and plots; 0 when every clip scored, else 1."""
    if args.batch_size <= 0:
        raise HumanScoreError(f"--batch-size: expected a positive integer, got {args.batch_size}")
    files = find_motion_files(args.paths)
    if not files:
        raise HumanScoreError(f"no motion files found in {args.paths}")
    distributed = is_distributed(args.devices, args.num_nodes)
    if distributed and args.opensim_model is not None:
        raise HumanScoreError("--opensim-model is not supported with --devices/--num-nodes; "
                              "put the .osim next to the .mot files instead (it is found there)")
    if args.opensim_model is not None and not args.opensim_model.is_file():
        raise HumanScoreError(f"--opensim-model: no file {str(args.opensim_model)!r}")
    device = resolve_device(args.device)
    # Before loading the body: a bad results.json is reported at once.
    kept = load_resume(args.output / "results.json", files) if args.resume else {}
    todo = [i for i in range(len(files)) if i not in kept]
    log = ResultsLog(files, args.output, kept)
    collector = TraceCollector(args.group_by, worst_frames=max(args.worst_frames, 0))

    with config_overrides(args.config):
        try:
            if distributed:
                # Each process scores a share of the files still to do (every process reads the
                # same results.json before the first one writes, so they agree on the list); the
                # first gets every record, in file order, and writes.
                per_file = evaluate_files([files[i] for i in todo], args.devices, args.num_nodes, device,
                                          args.body, args.batch_size, args.fps, args.config, flatten=False)
                if per_file is None:
                    return 0
                for index, records in zip(todo, per_file):
                    log.finish(index, records)
                log.write()
                body = load_body(args.body)
            else:
                body = load_body(args.body)
                if not todo:
                    log.write()
                _score_locally(todo, files, log, args, body, device, collector)
        except KeyboardInterrupt:
            print(f"\ninterrupted: {len(log.done)} finished files are in {args.output}/results.json; "
                  f"rerun with --resume to score the rest", file=sys.stderr)
            raise
        records = log.records()
        # Inside the overrides: timelines and renders use the configured thresholds.
        write_report(records, args.output, args.group_by, collector, body.to(device))
    if args.group_by:
        write_groups(records, args.group_by, args.output)
    print(console_table(records))
    print(leaderboard_text(leaderboard_rows(records, args.group_by), args.group_by))
    failed = sum(r["error"] is not None for r in records)
    summary = failure_summary(records)
    if summary:
        print(summary, file=sys.stderr)
    print(f"{len(records) - failed} clips scored, {failed} failed; results in {args.output}/", file=sys.stderr)
    return 1 if failed else 0
