"""Files per second of ``humanscore evaluate``'s results machinery as the run grows (issue 14).

``python -m humanscore_torch.bench.results_scaling [--files N] [--checkpoints K...] [--evaluate]``

Each finished file costs one append to the record log (``records.jsonl``: one write and one
fsync), whatever the number already done, so files/s at 10,000 files done should match files/s
at 1,000. Rates come from the log's own ``finished`` times: files/s over the ``--window`` files
before each checkpoint.

* By default, the machinery alone: the real :class:`~humanscore_torch.cli.evaluate.RunRecords`
  and record log in a real (locked, probed) output folder, fed ``--files`` copies of a real
  clip's record (scored from a file, so it carries the loaders' metadata), then the
  ``--resume`` read of the whole log and the final results.json, results.csv and report.
* ``--evaluate``: the whole ``humanscore evaluate`` (reading, scoring, logging, final writing)
  on ``--files`` short synthetic clips (0.3 s at 30 fps), written first; scoring dominates.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Sequence

from ..cli import main as cli_main
from ..cli.evaluate import RunRecords, file_key, resume_records
from ..cli.output_folder import OutputFolder
from ..evaluation import read_file_or_error, score_sequences
from ..io import save_motion
from ..report.document import write_report
from ..report.record_log import LOG_NAME, read_record_log
from ..report.results import write_csv, write_json
from ..report.traces import TraceCollector
from ..synthetic.clips import CLIP_NAMES, clean_clip

SHORT_CLIP_SECONDS = 0.3


def window_rates(finished: Sequence[float], checkpoints: Sequence[int], window: int) -> Dict[int, float]:
    """Files per second over the ``window`` files before each checkpoint, from the files'
    finishing times in order (``finished[k - 1]`` is when the k-th file was done)."""
    rates = {}
    for k in checkpoints:
        if not window < k <= len(finished):
            raise ValueError(f"checkpoint {k}: expected {window} < k <= {len(finished)} (the files done)")
        rates[k] = window / max(finished[k - 1] - finished[k - 1 - window], 1e-9)
    return rates


def _write_clips(folder: Path, count: int) -> List[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    clips = [clean_clip(name, fps=30.0, seconds=SHORT_CLIP_SECONDS) for name in CLIP_NAMES]
    return [save_motion(folder / f"clip_{i:05d}.npz", clips[i % len(clips)]) for i in range(count)]


def _machinery(work: Path, count: int) -> Dict[str, float]:
    """Feed ``count`` realistic records through RunRecords and the log; time the resume read
    and the final writing."""
    from ..body.model import BodyModel

    body = BodyModel.default()
    (source,) = _write_clips(work / "clip", 1)
    sequences, _ = read_file_or_error(source)
    template = next(score_sequences(sequences, body, device="cpu"))
    files = [work / "clips" / f"clip_{i:05d}.npz" for i in range(count)]
    keys = [file_key(path) for path in files]
    with OutputFolder(work / "out") as output:
        run_records = RunRecords(keys, output.open_log())
        for index, path in enumerate(files):
            run_records.finish(index, [{**template, "path": str(path), "metadata": {**template["metadata"],
                                                                                  "path": str(path)}}])
        start = time.perf_counter()
        contents = read_record_log(output.log_path)
        with contextlib.redirect_stderr(io.StringIO()):
            kept = resume_records(contents, keys, output.log_path)
        resume_seconds = time.perf_counter() - start
        assert len(kept) == count
        start = time.perf_counter()
        records = [r for i in sorted(kept) for r in kept[i]]
        write_json(records, output.path / "results.json")
        write_csv(records, output.path / "results.csv")
        write_report(records, output.path, None, TraceCollector(None, 0), body)
        final_seconds = time.perf_counter() - start
    return {"resume_read_of_the_log_s": resume_seconds, "results_json_csv_and_report_s": final_seconds}


def _evaluate(work: Path, count: int) -> Dict[str, float]:
    """The real ``humanscore evaluate`` on ``count`` short clips (its console output dropped)."""
    _write_clips(work / "clips", count)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = cli_main(["evaluate", str(work / "clips"), "--output", str(work / "out"), "--device", "cpu",
                         "--worst-frames", "0"])
    ended, seconds = time.time(), time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"humanscore evaluate exited with {code}")
    last = max(read_record_log(work / "out" / LOG_NAME).finished.values())
    return {"whole_run_s": seconds, "results_and_report_after_the_last_file_s": ended - last}


def main(argv: Sequence[str] = None) -> int:
    """Run the benchmark and print files/s at each checkpoint and their ratio."""
    parser = argparse.ArgumentParser(prog="python -m humanscore_torch.bench.results_scaling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000, help="files in the run (default 10000)")
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[1_000, 10_000], metavar="K",
                        help="files done at which to report files/s (default 1000 10000)")
    parser.add_argument("--window", type=int, default=500, help="files each rate is measured over (default 500)")
    parser.add_argument("--evaluate", action="store_true", help="time the whole evaluate command, scoring included")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where to write the run (default: a temporary folder, removed after)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="humanscore_results_scaling_", dir=args.workdir))
    try:
        extra = (_evaluate if args.evaluate else _machinery)(work, args.files)
        finished = sorted(read_record_log(work / "out" / LOG_NAME).finished.values())
        rates = window_rates(finished, args.checkpoints, args.window)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    what = "humanscore evaluate (read, score, log, write)" if args.evaluate else \
        "results machinery (RunRecords + record log, one fsync per file; no scoring)"
    print(f"{what}, {args.files} files, in {work.parent}:")
    for k, rate in rates.items():
        print(f"  files/s over the {args.window} files before {k} done: {rate:,.1f}")
    first, last = rates[min(rates)], rates[max(rates)]
    print(f"  ratio {min(rates)} / {max(rates)} done: {first / last:.2f}x "
          f"({'within' if max(first, last) / min(first, last) <= 1.5 else 'outside'} 1.5x)")
    for key, value in extra.items():
        print(f"  {key[:-len('_s')].replace('_', ' ')}: {value:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
