"""``humanscore evaluate --devices 2`` (two CPU processes, gloo, through Lightning Fabric) writes
the results.json of one process: the same records, in the same order, with the same numbers;
``--resume`` with two processes scores what the record log lacks, and only that."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest


from helpers.humanscore_clips import clip  # noqa: E402

from humanscore_torch.cli import main  # noqa: E402
from humanscore_torch.distributed import shard_indices  # noqa: E402
from humanscore_torch.io import save_motion  # noqa: E402
from humanscore_torch.report.record_log import LOG_NAME, read_record_log  # noqa: E402


def _console_script() -> str:
    found = shutil.which("humanscore") or os.path.join(sysconfig.get_path("scripts"), "humanscore")
    assert os.path.exists(found), "the humanscore console script is not installed (pip install -e .)"
    return found


def _write_clips(folder: Path) -> None:
    # Five clips of different lengths and rates (the two processes batch them differently)
    # and one unreadable file, whose error record must land in its place too.
    for i in range(5):
        sequence = clip(14 + 5 * i, fps=30.0 if i % 2 == 0 else 25.0, seed=i, detections=False)
        save_motion(folder / f"clip{i}.npz", sequence)
    (folder / "clip2b.npz").write_bytes(b"not a motion file")


def _without_paths(value):
    """Records with folder-dependent paths reduced to file names."""
    return [{**r, "path": Path(r["path"]).name, "metadata": {k: v for k, v in r["metadata"].items() if k != "path"}}
            for r in value]


def _assert_same_records(one, two):
    """``two`` (two processes) holds ``one``'s records (one process) with the same numbers."""
    # File order in the gathered list (one process writes an unreadable file's record as soon as
    # it fails, ahead of the clips still waiting for their batch, so compare by path).
    assert [r["path"] for r in two] == sorted(r["path"] for r in one)
    assert sum(r["error"] is not None for r in one) == 1
    by_path = {r["path"]: r for r in two}
    for a in one:
        b = by_path[a["path"]]
        assert (a["error"] is None) == (b["error"] is None)
        assert a["num_frames"] == b["num_frames"] and a["fps"] == b["fps"]
        for key, value in a["scores"].items():
            assert (value is None) == (b["scores"][key] is None), (a["path"], key)
            if value is not None:
                assert b["scores"][key] == pytest.approx(value, rel=1e-5, abs=1e-6), (a["path"], key)
        for key, value in a["raw"].items():
            if value is not None:
                assert b["raw"][key]["unit"] == value["unit"]
                # abs: float32 posing of differently shaped batches moves the bone-length CV of these
                # rigid skeletons (its noise floor, ~2e-5 %) by ~2e-7 %.
                assert b["raw"][key]["value"] == pytest.approx(value["value"], rel=1e-5, abs=1e-6), (a["path"], key)


def test_shards_cover_every_item_once():
    shares = [shard_indices(7, rank, 3) for rank in range(3)]
    assert shares == [[0, 3, 6], [1, 4], [2, 5]]
    assert shard_indices(1, 1, 2) == []


def test_two_processes_write_the_records_of_one(tmp_path):
    clips_dir = tmp_path / "clips"
    clips_dir.mkdir()
    _write_clips(clips_dir)
    options = ["--device", "cpu", "--batch-size", "2", "--worst-frames", "0"]
    assert main(["evaluate", str(clips_dir), "--output", str(tmp_path / "one"), *options]) == 1  # the bad file
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")

    def two_processes(*extra: str):
        run = subprocess.run([_console_script(), "evaluate", str(clips_dir), "--output", str(tmp_path / "two"),
                              "--devices", "2", *options, *extra], capture_output=True, text=True, env=env,
                             timeout=300, cwd=tmp_path)
        assert run.returncode == 1, run.stderr[-3000:]
        assert "MEMBER: 2/2" in run.stderr  # Fabric really started a second process
        return _without_paths(json.loads((tmp_path / "two" / "results.json").read_text())), run.stderr

    one = _without_paths(json.loads((tmp_path / "one" / "results.json").read_text()))
    two, _ = two_processes()
    _assert_same_records(one, two)
    # A run killed after three files: the first process resumes from the log, and the two
    # processes score the three files left (the second gets its share from the first).
    log = tmp_path / "two" / LOG_NAME
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:3]))
    kept = read_record_log(log).groups
    resumed, err = two_processes("--resume")
    assert "--resume: keeping 3 scored files" in err and "scoring 3" in err
    _assert_same_records(one, resumed)
    assert [r for r in resumed if r["path"] in {Path(k).name for k in kept}] == \
        [r for r in two if r["path"] in {Path(k).name for k in kept}]
    assert len(read_record_log(log).groups) == len(one)
    scored = [r for r in one if r["error"] is None]
    assert len({round(r["scores"]["humanscore"], 3) for r in scored}) > 1  # clips that differ
