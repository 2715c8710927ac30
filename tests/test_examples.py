"""Every script in examples/ runs as documented (its quick-check arguments) and prints what its
docstring promises. Each runs in a subprocess, in a temporary folder, with one CPU thread
(torch's default of one thread per core is several times slower on a small shared machine)."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NUMBER = r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|nan|inf)"


def run_example(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True,
                            cwd=cwd, env=env, timeout=600)
    assert result.returncode == 0, f"{name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def numbers(line: str) -> List[float]:
    return [float(x) for x in re.findall(NUMBER, line)]


def table_rows(text: str, names: List[str]) -> Dict[str, List[float]]:
    """The numbers of the lines that start with each name (the first such line)."""
    rows = {}
    for line in text.splitlines():
        for name in names:
            if name not in rows and line.startswith(name + " "):
                rows[name] = numbers(line[len(name):])
    assert set(rows) == set(names), f"rows {set(names) - set(rows)} missing from:\n{text}"
    return rows


def test_examples_are_all_tested():
    tested = {"score_folder.py", "log_during_training.py", "use_as_loss.py", "train_with_physics_loss.py",
              "evaluate_multi_gpu.py"}
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_train_with_physics_loss(tmp_path):
    out = run_example("train_with_physics_loss.py", "--steps", "10", "--train", "walk", "--held-out", "squat",
                      cwd=tmp_path).stdout
    assert "trained 'data loss only': 10 steps" in out and "trained 'data + PhysicsLoss': 10 steps" in out
    header = next(line for line in out.splitlines() if "ROM viol. %" in line)
    for column in ("ROM exc. deg", "penetr. %", "depth mm", "jerk m/s^3", "Newton. %", "MPJPE mm"):
        assert column in header
    rows = table_rows(out, ["noisy input", "data loss only", "data + PhysicsLoss", "clean ground truth"])
    for name, values in rows.items():
        assert len(values) == 7 and all(math.isfinite(v) and v >= 0 for v in values), (name, values)
    assert rows["clean ground truth"][:4] == [0.0, 0.0, 0.0, 0.0]  # ROM and penetration of the clean clips
    assert rows["noisy input"][0] > 0 and rows["noisy input"][2] > 0  # the held-out clips have the defects
    # Even 10 steps of the physics loss take the arm out of the torso; the data loss alone does not.
    assert rows["data + PhysicsLoss"][2] < rows["data loss only"][2]
    summary = next(line for line in out.splitlines() if line.startswith("PhysicsLoss vs data loss only:"))
    assert len(re.findall(r"[-+]\d+%|n/a", summary)) == 7


def test_score_folder(tmp_path):
    out = run_example("score_folder.py", "--clips-per-model", "1", "--output", str(tmp_path / "out"),
                      cwd=tmp_path).stdout
    assert "wrote 3 synthetic clips" in out
    assert len(list((tmp_path / "out" / "clips").glob("*.npz"))) == 3
    means = {}
    for line in out.splitlines():
        match = re.match(r"\s+(\w+)\s+clips=(\d+)\s+humanscore=(" + NUMBER + ")", line)
        if match:
            means[match.group(1)] = float(match.group(3))
    assert set(means) == {"clean", "jittery", "broken"}, out
    assert means["clean"] >= 99.0  # the calibrated jerk map charges natural motion a little (99.8)
    assert means["broken"] < means["clean"] and means["jittery"] < means["clean"]
    assert "lowest overall: broken_00_" in out


def test_log_during_training(tmp_path):
    out = run_example("log_during_training.py", "--epochs", "1", "--steps", "5", "--seconds", "1",
                      "--output", str(tmp_path / "logs"), cwd=tmp_path).stdout
    rows = table_rows(out, ["humanscore", "kinetics", "jerk", "raw/jerk"])
    for name, values in rows.items():
        assert len(values) == 2 and all(math.isfinite(v) for v in values), (name, values)
    assert 0 <= rows["humanscore"][0] <= 100 and rows["raw/jerk"][0] > 0
    metrics = list((tmp_path / "logs").rglob("metrics.csv"))
    assert len(metrics) == 1 and "humanscore/humanscore" in metrics[0].read_text()
    assert len(re.findall(r"epoch\s+0 step\s+\d+\s+humanscore/humanscore=", out)) == 2  # validate() and epoch 0


def test_use_as_loss(tmp_path):
    out = run_example("use_as_loss.py", "--frames", "30", "--steps", "10", cwd=tmp_path).stdout
    loss_table, metric_table = out.split("metric raw value")
    losses = table_rows(loss_table, ["total", "self_penetration", "jerk"])
    assert losses["total"][1] < losses["total"][0]
    assert losses["self_penetration"][0] > 0  # the arm starts inside the torso
    metrics = table_rows(metric_table, ["self_penetration", "jerk", "humanscore"])
    assert metrics["self_penetration"][0] > 0
    assert metrics["humanscore"][1] > metrics["humanscore"][0]


def test_evaluate_multi_gpu(tmp_path):
    result = run_example("evaluate_multi_gpu.py", "--clips", "1", "--device", "cpu", "--devices", "2", "--compare",
                         "--output", str(tmp_path / "out"), cwd=tmp_path)
    out = result.stdout
    assert "MEMBER: 2/2" in result.stderr  # Fabric really started a second process
    assert "scored 2 clips on 2 processes (cpu)" in out
    assert re.search(r"process 0: 1 files", out) and re.search(r"process 1: 1 files", out)
    assert (tmp_path / "out" / "multi_gpu_results" / "results.json").is_file()
    match = re.search(r"same clips in the same order: (\w+); same metrics computed: (\w+); "
                      r"largest score difference (" + NUMBER + ")", out)
    assert match, out
    assert match.group(1) == "True" and match.group(2) == "True" and float(match.group(3)) < 1e-4
