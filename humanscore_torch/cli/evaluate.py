"""``humanscore evaluate PATH...``: score motion files and write results, report and plots.

Before any clip is scored, the output folder is created, locked against a second run into it
and probed (a file written and fsynced), so an unusable output ends the command at once. A bad
file never stops the run: a file that cannot be read, and a readable clip whose scoring raises,
each get a record whose ``error`` says why, and every other clip is scored. Each finished file's
records are appended to OUTPUT/records.jsonl (one JSON record a line, fsynced: a constant cost
per file); results.json, results.csv and the report are written from them when the run ends.
An interrupted run (Ctrl-C, SIGTERM, even kill -9) keeps every finished file in the log, and
``--resume`` scores only the rest.

Exit codes: 0 every clip scored; 1 some clip failed; 2 usage error; 3 the output folder cannot
be created or written; 4 another run is writing into the output folder; 130 Ctrl-C; 143 SIGTERM.

A manifest (``--manifest FILE.csv``: a ``path`` column, relative to the manifest's folder or
absolute, and any others such as ``model`` and ``prompt_id``) adds its columns to each file's
clips; without PATH its files are scored. Files without a row and rows without a file are
reported. ``--group-by`` takes a manifest column, a metadata key or ``path:N``, the N-th
component of the clip's path (``path:-2``: the parent folder; see
:mod:`humanscore_torch.benchmark.group_keys`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from tqdm import tqdm

from ..benchmark.group_keys import group_value, path_component_index
from ..benchmark.manifest import Manifest, read_manifest, unmatched
from ..config import config_overrides
from ..distributed import add_distributed_options, evaluate_files, is_distributed, launcher
from ..errors import HumanScoreError
from ..evaluation import printable_text, read_file_or_error, score_sequences
from ..io import find_motion_files
from ..report.benchmark_sections import group_name, rank_rows
from ..report.document import write_report
from ..report.leaderboard import leaderboard_rows, leaderboard_text
from ..report.record_log import LogContents, RecordLog, read_record_log
from ..report.results import console_table, write_csv, write_groups, write_json
from ..report.traces import TraceCollector
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    OutputUnusableError,
    Terminated,
    add_device_and_body_options,
    interruptions_deferred,
    load_body,
    resolve_device,
)
from .output_folder import OutputFolder

Record = Dict[str, Any]
TITLE = "HumanScore evaluation"
# The start of a record's metadata.fps_source when its file states no frame rate and the
# default was used (written by the loaders: io/layouts.py, finish_track).
DEFAULT_FPS_SOURCE = "not in the file"


def add_parser(subparsers) -> None:
    """Register the ``evaluate`` subcommand and its options (including the device, body and
    distributed options) on ``subparsers``, with :func:`run` as its handler."""
    parser = subparsers.add_parser("evaluate", help="score motion files, folders or globs",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="motion files, folders (searched recursively) or globs (default: the --manifest's files)")
    parser.add_argument("--output", type=Path, default=Path("humanscore_output"), help="output folder")
    parser.add_argument("--group-by", metavar="KEY", default=None,
                        help="group clips by a manifest column or metadata key (model, prompt_id, intensity, ...) "
                             "or by path:N, the N-th component of the clip's path (path:-2: its folder)")
    parser.add_argument("--manifest", type=Path, default=None, metavar="FILE.csv",
                        help="CSV with a path column (relative to its folder, or absolute) and any others "
                             "(model, prompt_id, ...), joined to the files; its prompt_ids of the suite "
                             "(humanscore prompts) add category, intensity and variant")
    parser.add_argument("--reference", metavar="GROUP", default=None,
                        help="the --group-by group of real videos: shown as the leaderboard's reference row, "
                             "not ranked")
    parser.add_argument("--config", metavar="FILE", default=None,
                        help="YAML of config overrides: {config name: partial config}")
    parser.add_argument("--fps", type=float, default=None, help="frame rate for files that do not state one")
    parser.add_argument("--opensim-model", type=Path, default=None, metavar="OSIM",
                        help="the OpenSim model of .mot files (default: the only .osim next to each .mot; else "
                             "the shipped Rajagopal 2016 map, with the knee/elbow flexion sign read from the values)")
    parser.add_argument("--worst-frames", type=int, default=2, metavar="N",
                        help="mesh renders of the N worst frames per kind (penetration, range of motion) in the report")
    parser.add_argument("--resume", action="store_true",
                        help="keep the records of files OUTPUT/records.jsonl already holds without error and score "
                             "only the others (new files, and files that failed); without it a new log is started. "
                             "Timelines and worst-frame renders cover the clips scored in this run")
    add_device_and_body_options(parser)
    add_distributed_options(parser)
    parser.set_defaults(handler=run)


def file_key(path: Path) -> str:
    """A file's identity in the record log: its resolved path as printable text (so
    ``clips/a.npz`` and ``./clips/a.npz`` are one file, and a name that is not UTF-8 has the
    escaped form its records show)."""
    try:
        resolved = Path(path).resolve()
    except (OSError, RuntimeError):  # a symlink loop: the absolute path, unresolved
        resolved = Path(os.path.abspath(path))
    return printable_text(str(resolved))


def resume_records(contents: LogContents, keys: Sequence[str], log_path: Path) -> Dict[int, List[Record]]:
    """The records ``--resume`` keeps from an earlier run's record log.

    Args:
        contents: the log, as read by :func:`~humanscore_torch.report.record_log.read_record_log`.
        keys: this run's files' :func:`file_key`, in order. log_path: the log (for the message).

    Returns:
        file position in ``keys`` -> that file's records (every sequence of a multi-person
        file), for each file whose last records in the log all have ``error`` None. Files that
        failed and files absent from the log are left out, so those files are scored again;
        records of files not among ``keys`` stay in the log but not in the results.
    """
    position = {key: i for i, key in enumerate(keys)}
    kept = {position[key]: records for key, records in contents.groups.items()
            if key in position and all(r.get("error") is None for r in records)}
    message = f"--resume: keeping {len(kept)} scored files of {log_path}, scoring {len(keys) - len(kept)}"
    stray = sum(key not in position for key in contents.groups)
    if stray:
        message += f"; leaving out the records of {stray} files not among PATH"
    if contents.torn:
        message += "; dropped the file it was writing when it was killed"
    print(message, file=sys.stderr)
    return kept


def annotate(metadata: Dict[str, Any], file: Path, path_text: str, manifest: Optional[Manifest],
             group_by: Optional[str]) -> None:
    """Add to a clip's ``metadata`` (in place) what the manifest says of its ``file`` (every
    column but ``path``) and, for a ``path:N`` group key, that component of ``path_text`` (the
    clip's path as its record shows it), so every report groups by ``metadata[group_by]``."""
    if manifest is not None:
        extra = manifest.metadata_for(file) or {}
        metadata.update({key: value for key, value in extra.items() if key != "path"})
    if group_by is not None and path_component_index(group_by) is not None:
        metadata[group_by] = group_value(path_text, metadata, group_by)


def manifest_summary(manifest: Manifest, files: Sequence[Path]) -> str:
    """The manifest's join with the files, in a line or three: how many files it matched,
    the files without a row and the rows without a file (the first few of each), and its
    prompt_ids that are not in the suite."""
    missing = unmatched(manifest, files)
    lines = [f"manifest {manifest.path}: {len(files) - len(missing['files'])} of {len(files)} files matched"]
    for what, items in (("files without a row", missing["files"]), ("rows naming no file given", missing["rows"]),
                        ("prompt_ids not in the suite (humanscore prompts)", manifest.unknown_prompts())):
        if items:
            shown = ", ".join(items[:3]) + (f", ... ({len(items) - 3} more)" if len(items) > 3 else "")
            lines.append(f"  {len(items)} {what}: {shown}")
    return "\n".join(lines)


class RunRecords:
    """The records of a run, by file, each finished file appended to the record log.

    A file is finished when every sequence of it is scored (or it failed to read), so the log
    holds whole files only: what ``--resume`` needs to tell what is done.

    Args:
        keys: the run's files' :func:`file_key`, in order. log: the open record log.
        kept: file position -> records kept by ``--resume`` (finished, already in the log).
        progress: a bar advanced by one per finished file, its postfix the frames scored
            (so it moves as clips are scored, not as files are read).
    """

    def __init__(self, keys: Sequence[str], log: RecordLog, kept: Optional[Dict[int, List[Record]]] = None,
                 progress: Optional[tqdm] = None):
        self.keys = list(keys)
        self.log = log
        self.done: Dict[int, List[Record]] = dict(kept or {})
        self.expected: Dict[int, int] = {}
        self.partial: Dict[int, List[Record]] = {}
        self.progress = progress
        self.frames_scored = 0

    def records(self) -> List[Record]:
        """Every finished file's records, in file order."""
        return [record for index in sorted(self.done) for record in self.done[index]]

    def finish(self, index: int, records: List[Record]) -> None:
        """File ``index`` is done with ``records`` (a read error's single record, say).

        Raises:
            OutputUnusableError: the log cannot take them (the disk filled during the run).
        """
        # Ctrl-C and SIGTERM wait until the file is both in the log and counted as done, so the
        # interruption message counts exactly what the log holds.
        try:
            with interruptions_deferred():
                self.log.append(self.keys[index], records)
                self.done[index] = records
        except OSError as exc:
            raise OutputUnusableError(f"cannot append to {self.log.path} ({exc.strerror or exc}); the "
                                      f"{len(self.done)} files finished are in it: rerun with --resume "
                                      f"once it can be written") from exc
        if self.progress is not None:
            self.frames_scored += sum(r["num_frames"] for r in records)
            self.progress.set_postfix_str(f"{self.frames_scored} frames scored", refresh=False)
            self.progress.update(1)

    def expect(self, index: int, count: int) -> None:
        """File ``index`` was read into ``count`` sequences, to be scored."""
        self.expected[index] = count
        self.partial[index] = []

    def add(self, index: int, record: Record) -> None:
        """One scored sequence of file ``index``; the file is finished with its last one."""
        self.partial[index].append(record)
        if len(self.partial[index]) == self.expected[index]:
            self.finish(index, self.partial.pop(index))


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


def default_fps_summary(records: Sequence[Record]) -> str:
    """How many clips were scored at the default frame rate because their file states none
    (``metadata.fps_source``, see :data:`DEFAULT_FPS_SOURCE`); the empty string when none was."""
    rates: Dict[float, int] = {}
    for r in records:
        if r["error"] is None and str(r.get("metadata", {}).get("fps_source", "")).startswith(DEFAULT_FPS_SOURCE):
            rates[r["fps"]] = rates.get(r["fps"], 0) + 1
    if not rates:
        return ""
    count = sum(rates.values())
    at = ", ".join(f"{n} at {fps:g} fps" for fps, n in sorted(rates.items())) if len(rates) > 1 \
        else f"{next(iter(rates)):g} fps"
    return (f"{count} of {len(records)} clips state no frame rate in their file and were scored at the default "
            f"{at} (--fps sets it)")


def _score_locally(todo: List[int], files: Sequence[Path], run_records: RunRecords, args: argparse.Namespace,
                   body, device: str, collector: TraceCollector, manifest: Optional[Manifest]) -> None:
    """Read and score the files at positions ``todo`` in this process; each file's records go
    to the log as it finishes. Each clip's metadata gets its manifest columns and group key
    before scoring, so the traces are grouped as the records are."""
    pending: List[Dict[str, Any]] = []
    owners: List[int] = []

    def score_pending() -> None:
        owner_iter = iter(owners)

        def on_batch(records: List[Record]) -> None:
            # score_sequences gives one record per sequence, in order: zip back to the files.
            for record in records:
                run_records.add(next(owner_iter), record)

        list(score_sequences(pending, body, args.batch_size, device, on_batch=on_batch,
                             on_results=collector.add, isolate_failures=True))
        pending.clear()
        owners.clear()

    for index in todo:
        sequences, failure = read_file_or_error(files[index], args.fps, args.opensim_model)
        if failure is not None:
            run_records.finish(index, [failure])
            continue
        for sequence in sequences:
            metadata = sequence.setdefault("metadata", {})
            annotate(metadata, files[index], printable_text(str(metadata.get("path", files[index]))), manifest,
                     args.group_by)
        run_records.expect(index, len(sequences))
        pending.extend(sequences)
        owners.extend([index] * len(sequences))
        if len(pending) >= args.batch_size:
            score_pending()
    if pending:
        score_pending()


def _score_distributed(fabric, todo: List[int], files: Sequence[Path], run_records: RunRecords,
                       args: argparse.Namespace, device: str) -> None:
    """Score the files at positions ``todo`` on every process of ``fabric``; the records are
    logged, file by file, once the processes have sent them to this one (the first)."""
    per_file = evaluate_files([files[i] for i in todo], args.devices, args.num_nodes, device, args.body,
                              args.batch_size, args.fps, args.config, flatten=False, fabric=fabric)
    for index, records in zip(todo, per_file):
        run_records.finish(index, records)


def _write_results(records: List[Record], output: OutputFolder, group_by: Optional[str],
                   collector: TraceCollector, body, reference: Optional[str] = None) -> None:
    """results.json, results.csv, the report with its plots and (with ``group_by``) groups.csv.

    Raises:
        OutputUnusableError: one cannot be written (the records stay in the log).
    """
    try:
        write_json(records, output.path / "results.json")
        write_csv(records, output.path / "results.csv")
        write_report(records, output.path, group_by, collector, body, reference=reference)
        if group_by:
            write_groups(records, group_by, output.path)
    except OSError as exc:
        raise OutputUnusableError(f"cannot write the results into {output.path} ({exc.strerror or exc}); every "
                                  f"record is in {output.log_path}: rerun with --resume once it can be "
                                  f"written") from exc


def run(args: argparse.Namespace) -> int:
    """Score the files, write results, report and plots; 0 when every clip scored, else 1
    (the other exit codes: see the module docstring)."""
    if args.batch_size <= 0:
        raise HumanScoreError(f"--batch-size: expected a positive integer, got {args.batch_size}")
    if args.group_by is not None:
        path_component_index(args.group_by)  # a malformed path:N is a usage error before any work
    if args.reference is not None and args.group_by is None:
        raise HumanScoreError("--reference names a group of --group-by KEY: give --group-by too")
    manifest = read_manifest(args.manifest) if args.manifest is not None else None
    if not args.paths and manifest is None:
        raise HumanScoreError("expected PATH... or --manifest FILE.csv")
    files = find_motion_files(args.paths) if args.paths else manifest.files()
    if not files:
        raise HumanScoreError(f"no motion files found in {args.paths or args.manifest}")
    if manifest is not None:
        print(manifest_summary(manifest, files), file=sys.stderr)
    if is_distributed(args.devices, args.num_nodes) and args.opensim_model is not None:
        raise HumanScoreError("--opensim-model is not supported with --devices/--num-nodes; "
                              "put the .osim next to the .mot files instead (it is found there)")
    if args.opensim_model is not None and not args.opensim_model.is_file():
        raise HumanScoreError(f"--opensim-model: no file {str(args.opensim_model)!r}")
    device = resolve_device(args.device)
    fabric = launcher(args.devices, args.num_nodes, device) if is_distributed(args.devices, args.num_nodes) else None
    if fabric is not None and fabric.global_rank != 0:
        # Scores the share of the first process's list; only the first process writes.
        evaluate_files([], args.devices, args.num_nodes, device, args.body, args.batch_size, args.fps,
                       args.config, flatten=False, fabric=fabric)
        return EXIT_OK
    keys = [file_key(path) for path in files]
    collector = TraceCollector(args.group_by, worst_frames=max(args.worst_frames, 0))
    with OutputFolder(args.output) as output:
        # Before loading the body: a bad log is reported at once.
        contents = read_record_log(output.log_path) if args.resume else LogContents()
        kept = resume_records(contents, keys, output.log_path) if args.resume else {}
        todo = [i for i in range(len(files)) if i not in kept]
        progress = tqdm(total=len(todo), desc="scoring", unit="file", file=sys.stderr)
        run_records = RunRecords(keys, output.open_log(keep=contents.length), kept, progress)
        with config_overrides(args.config):
            try:
                if fabric is not None:
                    _score_distributed(fabric, todo, files, run_records, args, device)
                    body = load_body(args.body)
                else:
                    body = load_body(args.body)
                    _score_locally(todo, files, run_records, args, body, device, collector, manifest)
            except (KeyboardInterrupt, Terminated):
                progress.close()  # before the message, so the bar does not end its line
                done = len(run_records.done)
                print(f"\ninterrupted: {done} finished file{'s' if done != 1 else ''} logged in {output.log_path}; "
                      f"rerun with --resume to score the rest and write the results", file=sys.stderr)
                raise
            finally:
                progress.close()
            # Resumed and distributed records too: the manifest as it is now, the group key.
            for index, file_records in run_records.done.items():
                for record in file_records:
                    annotate(record.setdefault("metadata", {}), files[index], record["path"], manifest, args.group_by)
            records = run_records.records()
            # Inside the overrides: timelines and renders use the configured thresholds.
            _write_results(records, output, args.group_by, collector, body.to(device), args.reference)
    print(console_table(records))
    print(leaderboard_text(rank_rows(leaderboard_rows(records, args.group_by), args.reference), args.group_by))
    failed = sum(r["error"] is not None for r in records)
    if args.reference is not None and not any(group_name(r, args.group_by) == args.reference for r in records):
        print(f"--reference {args.reference}: no clip is in that group of --group-by {args.group_by}", file=sys.stderr)
    for summary in (default_fps_summary(records), failure_summary(records)):
        if summary:
            print(summary, file=sys.stderr)
    print(f"{len(records) - failed} clips scored, {failed} failed; results in {args.output}/", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK
