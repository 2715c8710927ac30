"""``humanscore evaluate`` past bad files (spec 7 and 8): every good clip is scored, every bad
file is listed with its reason, each finished file is logged as it finishes, an interrupted
run resumes with ``--resume`` without scoring finished files again, and the exit code is 1
when anything failed (2 on a usage error, 130 on Ctrl-C). Killed runs, signals, the folder
lock and unusable outputs: tests/cli/test_cli_output.py."""

from __future__ import annotations

import csv
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

import humanscore_torch.cli.evaluate as evaluate_cli
import humanscore_torch.evaluation as evaluation
from humanscore_torch.cli import main
from humanscore_torch.cli.common import EXIT_INTERRUPTED
from humanscore_torch.evaluation import OVERALL_KEY, score_sequences
from humanscore_torch.io import save_motion
from humanscore_torch.report.record_log import LOG_NAME, read_record_log
from humanscore_torch.report.results import write_all, write_csv, write_json
from humanscore_torch.registry import METRIC_KEYS, TIERS
from humanscore_torch.synthetic.clips import clean_clip

# Small batches so a few files make several batches; no mesh renders (slow, not tested here).
OPTIONS = ["--device", "cpu", "--batch-size", "2", "--worst-frames", "0"]
GOOD = ("walk", "run", "jump", "squat")


@pytest.fixture(scope="module")
def clips():
    """Four short clean clips (0.3 s at 30 fps: 9 frames, enough for every metric), made once."""
    return {name: clean_clip(name, fps=30.0, seconds=0.3) for name in GOOD}


@pytest.fixture(autouse=True)
def shared_body(default_body, monkeypatch):
    """Every run scores on the session's default body (what ``--body default`` loads), so its
    cached self-penetration part structure is built once, not once per run."""
    monkeypatch.setattr(evaluate_cli, "load_body", lambda name: default_body)


def _records(output: Path):
    return json.loads((output / "results.json").read_text())


def _by_name(records):
    return {Path(r["path"]).name: r for r in records}


def _no_temp_files(output: Path) -> bool:
    return not [p for p in output.iterdir() if p.name.endswith(".tmp")]


def _assert_scored(record):
    assert record["error"] is None, record["error"]
    assert record["num_frames"] == 9 and record["fps"] == 30.0
    assert set(record["scores"]) == {OVERALL_KEY, *TIERS, *METRIC_KEYS}
    assert all(record["scores"][k] is not None for k in METRIC_KEYS if k != "artifact_rate")  # no detections
    assert record["scores"][OVERALL_KEY] is not None and 0.0 <= record["scores"][OVERALL_KEY] <= 100.0


def _spy_scoring(monkeypatch, fail_on_call=None):
    """Record the clips each batch scores; with ``fail_on_call=n`` the n-th batch raises
    KeyboardInterrupt (a user's Ctrl-C in the middle of a run)."""
    scored = []
    real = evaluation.score_batch

    def spy(batch, body, metrics=None):
        if fail_on_call is not None and len(scored) + 1 == fail_on_call:
            raise KeyboardInterrupt
        scored.append([Path(m["path"]).name for m in batch.metadata])
        return real(batch, body, metrics)

    monkeypatch.setattr(evaluation, "score_batch", spy)
    return scored


def _spy_reading(monkeypatch):
    read = []
    real = evaluation.read_motion_file

    def spy(path, *args, **kwargs):
        read.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(evaluation, "read_motion_file", spy)
    return read


def test_bad_files_are_listed_and_good_ones_scored(tmp_path, clips, monkeypatch, capsys):
    folder, out = tmp_path / "clips", tmp_path / "out"
    folder.mkdir()
    good = {"a_walk.npz": "walk", "c_run.npz": "run", "g_jump.npz": "jump"}
    for file, name in good.items():
        save_motion(folder / file, clips[name])
    # Readable, but its frame rate is out of range: only scoring rejects it. Sorted right after
    # a_walk, so the two share a batch and a_walk must survive that batch failing.
    save_motion(folder / "b_fps.npz", {**clips["squat"], "fps": 1e12})
    (folder / "d_corrupt.npz").write_bytes(np.random.default_rng(0).bytes(4000))
    whole = (folder / "a_walk.npz").read_bytes()
    (folder / "e_truncated.npz").write_bytes(whole[: len(whole) // 2])
    np.savez(folder / "f_layout.npz", foo=np.zeros(3), bar=np.ones((2, 2)))

    # --resume with no results.json yet is a plain run.
    code = main(["evaluate", str(folder), "--output", str(out), "--resume", *OPTIONS])
    err = capsys.readouterr().err
    assert code == 1
    records = _by_name(_records(out))
    assert sorted(records) == ["a_walk.npz", "b_fps.npz", "c_run.npz", "d_corrupt.npz", "e_truncated.npz",
                               "f_layout.npz", "g_jump.npz"]
    for file in good:
        _assert_scored(records[file])
    reasons = {
        "b_fps.npz": ["InputValueError", "fps"],
        "d_corrupt.npz": ["corrupt"],
        "e_truncated.npz": ["truncated"],
        "f_layout.npz": ["unknown motion layout", "'foo'", "'bar'"],
    }
    for file, words in reasons.items():
        record = records[file]
        assert record["error"] and all(w in record["error"] for w in words), (file, record["error"])
        assert record["scores"][OVERALL_KEY] is None and record["num_frames"] == 0
    # The failure summary names each failed file with its reason.
    summary = err[err.index("4 files failed:"):]
    for file in reasons:
        line = next(line for line in summary.splitlines() if file in line)
        assert records[file]["error"] in line
    assert "3 clips scored, 4 failed" in err
    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(Path(r["path"]).name for r in rows) == sorted(records)
    assert _no_temp_files(out)

    # Fix the bad frame rate and resume: only the files that failed are read again; the scored
    # records are kept as they were; the still-broken files still fail.
    save_motion(folder / "b_fps.npz", clips["squat"])
    read = _spy_reading(monkeypatch)
    code = main(["evaluate", str(folder), "--output", str(out), "--resume", *OPTIONS])
    assert code == 1
    assert sorted(read) == ["b_fps.npz", "d_corrupt.npz", "e_truncated.npz", "f_layout.npz"]
    resumed = _by_name(_records(out))
    _assert_scored(resumed["b_fps.npz"])
    for file in good:
        assert resumed[file] == records[file]
    assert [Path(r["path"]).name for r in _records(out)] == sorted(records)  # file order
    assert "3 files failed:" in capsys.readouterr().err


def _wham_track(sequence):
    frames = sequence["body_pose"].shape[0]
    pose = np.concatenate([sequence["global_orient"].numpy(), sequence["body_pose"].reshape(frames, 69).numpy()], 1)
    return {"pose_world": pose, "trans_world": sequence["transl"].numpy(),
            "betas": np.zeros((frames, 10), np.float32), "frame_ids": np.arange(frames)}


def test_interrupted_run_resumes_without_scoring_finished_files(tmp_path, clips, monkeypatch, capsys):
    folder = tmp_path / "clips"
    folder.mkdir()
    # A one-person file, a two-person WHAM file, a one-person file. With --batch-size 2 the
    # batches are [walk, run] and [jump]: the two-person file straddles them.
    save_motion(folder / "0_walk.npz", clips["walk"])
    (folder / "1_two.pkl").write_bytes(pickle.dumps({0: _wham_track(clips["run"]), 1: _wham_track(clips["jump"])}))
    save_motion(folder / "2_squat.npz", clips["squat"])
    files = ["0_walk.npz", "1_two.pkl", "2_squat.npz"]
    assert main(["evaluate", str(folder), "--output", str(tmp_path / "reference"), *OPTIONS]) == 0
    reference = _records(tmp_path / "reference")
    # The WHAM file states no frame rate: its two clips were scored at the default, and the
    # console says so.
    assert [r["metadata"]["fps_source"].startswith(evaluate_cli.DEFAULT_FPS_SOURCE) for r in reference] == \
        [False, True, True, False]
    assert "2 of 4 clips state no frame rate in their file and were scored at the default 30 fps" \
        in capsys.readouterr().err
    assert [Path(r["path"]).name for r in reference] == ["0_walk.npz", "1_two.pkl", "1_two.pkl", "2_squat.npz"]

    # Ctrl-C while the second batch is scored: the log holds the files finished by then,
    # whole -- 0_walk, not the half-scored two-person file; results.json is written only by a
    # run that ends (the earlier run's is removed when a run starts).
    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        scored = _spy_scoring(patch, fail_on_call=2)
        assert main(["evaluate", str(folder), "--output", str(out), *OPTIONS]) == EXIT_INTERRUPTED
    assert scored == [["0_walk.npz", "1_two.pkl"]]
    logged = read_record_log(out / LOG_NAME)
    assert list(logged.groups.values()) == [reference[:1]] and not logged.torn
    assert not (out / "results.json").exists() and not (out / "results.csv").exists()
    assert _no_temp_files(out)
    err = capsys.readouterr().err
    assert "1 finished file logged" in err and "--resume" in err

    # Resume: 0_walk is neither read nor scored again; the result is the uninterrupted run's.
    scored = _spy_scoring(monkeypatch)
    read = _spy_reading(monkeypatch)
    assert main(["evaluate", str(folder), "--output", str(out), "--resume", *OPTIONS]) == 0
    assert read == files[1:]
    assert scored == [["1_two.pkl", "1_two.pkl"], ["2_squat.npz"]]
    final = _records(out)
    assert final[0] == reference[0]
    assert [r["path"] for r in final] == [r["path"] for r in reference]
    for got, want in zip(final, reference):
        assert {k: got[k] for k in ("num_frames", "fps", "error", "metadata")} == \
            {k: want[k] for k in ("num_frames", "fps", "error", "metadata")}
        for key, value in want["scores"].items():
            assert (got["scores"][key] is None) == (value is None), (got["path"], key)
            if value is not None:
                # Batched differently from the reference run (jump with run, not alone): float32 noise.
                assert got["scores"][key] == pytest.approx(value, rel=1e-5, abs=1e-6), (got["path"], key)

    # Resuming a finished run scores nothing and writes the same records, the two-person file's
    # two records included.
    scored.clear()
    read.clear()
    assert main(["evaluate", str(folder), "--output", str(out), "--resume", *OPTIONS]) == 0
    assert scored == [] and read == [] and _records(out) == final


def test_resume_with_a_log_that_is_not_one_is_a_usage_error(tmp_path, capsys):
    folder, out = tmp_path / "clips", tmp_path / "out"
    folder.mkdir()
    out.mkdir()
    (folder / "clip.npz").write_bytes(b"never read")
    entry = json.dumps({"file": "a", "part": 0, "parts": 1, "finished": 0.0, "record": {"path": "a"}})
    cases = {
        '[{"path": "a"}]\n' + entry + "\n": "line 1",  # an old results.json renamed, then an entry
        entry + '\n{"file": "b"}\n' + entry + "\n": "line 2",  # an entry without its keys
        entry.replace('"part": 0', '"part": 1') + "\n" + entry + "\n": "line 1",  # parts out of order
    }
    for text, words in cases.items():
        (out / LOG_NAME).write_text(text)
        assert main(["evaluate", str(folder), "--output", str(out), "--resume", *OPTIONS]) == 2
        err = capsys.readouterr().err
        assert "--resume" in err and LOG_NAME in err and words in err, err
        assert len(err.strip().splitlines()) == 1
        assert (out / LOG_NAME).read_text() == text  # left for the user to look at


def test_unexpected_read_error_is_that_files_error(tmp_path, monkeypatch, capsys):
    folder, out = tmp_path / "clips", tmp_path / "out"
    folder.mkdir()
    (folder / "clip.npz").write_bytes(b"never read")

    def broken_reader(path, *args, **kwargs):
        raise RuntimeError("reader bug")

    monkeypatch.setattr(evaluation, "read_motion_file", broken_reader)
    assert main(["evaluate", str(folder), "--output", str(out), *OPTIONS]) == 1
    (record,) = _records(out)
    assert record["error"] == "RuntimeError: reader bug"
    assert "clip.npz: RuntimeError: reader bug" in capsys.readouterr().err


def test_score_sequences_isolates_a_failing_clip(clips, default_body, monkeypatch):
    good = {**clips["walk"], "metadata": {"path": "good", "model": "m"}}
    bad = {**clips["run"], "fps": 1e12, "metadata": {"path": "bad", "model": "m"}}
    with pytest.raises(ValueError):
        list(score_sequences([good, bad], default_body, batch_size=2))
    seen = []
    records = list(score_sequences([good, bad], default_body, batch_size=2, isolate_failures=True,
                                   on_results=lambda batch, results, recs: seen.append(len(recs))))
    assert [r["path"] for r in records] == ["good", "bad"]
    _assert_scored(records[0])
    assert records[1]["error"].startswith("InputValueError: ") and records[1]["scores"][OVERALL_KEY] is None
    assert records[1]["metadata"] == {"path": "bad", "model": "m"}  # counted in its group
    assert seen == [1]  # the reports get the clip that scored, not the failed one

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluation, "score_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        list(score_sequences([good], default_body, batch_size=2, isolate_failures=True))


def test_results_are_replaced_whole_or_not_at_all(tmp_path):
    record = {"path": "a.npz", "num_frames": 3, "fps": 30.0, "error": None, "metadata": {},
              "scores": {k: 50.0 for k in (OVERALL_KEY, *TIERS, *METRIC_KEYS)},
              "raw": {k: {"value": 1.0, "unit": "u"} for k in METRIC_KEYS}}
    write_all([record], tmp_path)
    before = {name: (tmp_path / name).read_text() for name in ("results.json", "results.csv")}
    # A write that fails half way (a value JSON cannot hold; a record missing its raw values)
    # leaves the previous files as they were and no temporary file behind.
    with pytest.raises(TypeError):
        write_json([record, {**record, "path": object()}], tmp_path / "results.json")
    with pytest.raises(KeyError):
        write_csv([record, {k: v for k, v in record.items() if k != "raw"}], tmp_path / "results.csv")
    assert {name: (tmp_path / name).read_text() for name in before} == before
    assert _no_temp_files(tmp_path)
    # Permissions as for any file the user creates (a temporary file's are owner-only).
    (tmp_path / "plain").write_text("x")
    assert os.stat(tmp_path / "results.json").st_mode == os.stat(tmp_path / "plain").st_mode


def test_default_fps_summary_counts_scored_clips_by_rate():
    def record(source, fps=30.0, error=None):
        return {"fps": fps, "error": error, "metadata": {"fps_source": source}}

    default = evaluate_cli.DEFAULT_FPS_SOURCE + ": default 30 fps"
    assert evaluate_cli.default_fps_summary([record("mocap_framerate in the file")]) == ""
    records = [record(default), record("given by the caller", 25.0), record(default, error="broken")]
    assert evaluate_cli.default_fps_summary(records).startswith("1 of 3 clips state no frame rate")
    records.append(record(evaluate_cli.DEFAULT_FPS_SOURCE + ": default 24 fps", 24.0))
    assert "2 of 4 clips" in evaluate_cli.default_fps_summary(records)
    assert "1 at 24 fps, 1 at 30 fps" in evaluate_cli.default_fps_summary(records)
