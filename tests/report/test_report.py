"""Evaluate reports: leaderboard, plots, Markdown/HTML report, and the three-model ranking."""

from __future__ import annotations

import json
import time

import pytest

from humanscore_torch.cli import main
from humanscore_torch.evaluation import OVERALL_KEY
from humanscore_torch.report.leaderboard import leaderboard_rows, leaderboard_table, leaderboard_text
from humanscore_torch.registry import METRIC_KEYS, TIERS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _record(path, model, metric_scores):
    scores = {k: metric_scores.get(k) for k in METRIC_KEYS}
    tiers = {t: None for t in TIERS}
    for tier, keys in TIERS.items():
        present = [scores[k] for k in keys if scores[k] is not None]
        tiers[tier] = sum(present) / len(present) if present else None
    present = [v for v in tiers.values() if v is not None]
    overall = sum(present) / len(present) if present else None
    return {"path": path, "num_frames": 10, "fps": 30.0, "scores": {OVERALL_KEY: overall, **tiers, **scores},
            "raw": {k: None for k in METRIC_KEYS}, "metadata": {"model": model}, "error": None}


def _records():
    full = dict.fromkeys(METRIC_KEYS[1:], 100.0)
    return [
        _record("a1", "a", {**full, "jerk": 40.0}),
        _record("a2", "a", {**full, "jerk": 60.0}),
        _record("b1", "b", full),
        _record("c1", "c", {**full, "range_of_motion": 10.0, "self_penetration": 30.0}),
        {**_record("c2", "c", {}), "error": "unreadable"},
    ]


def test_leaderboard_ranks_groups_by_mean_overall():
    rows = leaderboard_rows(_records(), "model")
    assert [r["group"] for r in rows] == ["b", "a", "c"]
    assert [r["rank"] for r in rows] == [1, 2, 3]
    a = rows[1]
    # a: jerk 40 and 60 -> kinetics 70 and 80 -> overall (100 + 100 + 70) / 3 and (100 + 100 + 80) / 3
    assert a["jerk"] == pytest.approx(50.0)
    assert a[OVERALL_KEY] == pytest.approx(((270 / 3) + (280 / 3)) / 2)
    c = rows[2]
    assert (c["clips"], c["failed"]) == (2, 1)
    assert c["kinematics"] == pytest.approx(20.0)


def test_leaderboard_without_key_is_one_group():
    rows = leaderboard_rows(_records(), None)
    assert [r["group"] for r in rows] == ["all"]
    assert rows[0]["clips"] == 5


def test_leaderboard_table_and_text_follow_the_ranking():
    rows = leaderboard_rows(_records(), "model")
    table = leaderboard_table(rows, "model")
    assert table[0][:3] == ["rank", "model", "scored"]
    assert table[0][-1] == "HumanScore"
    assert [row[1] for row in table[1:]] == ["b", "a", "c"]
    assert table[3][2] == "1/2"
    assert table[1][-1] == "100.0"
    text = leaderboard_text(rows, "model").splitlines()
    assert [line.split()[1] for line in text[1:]] == ["b", "a", "c"]
    assert "kinematics" in text[0] and OVERALL_KEY in text[0]


def test_plots_write_pngs(tmp_path):
    from humanscore_torch.report.plots import metric_bars, tier_radar

    rows = leaderboard_rows(_records(), "model")
    for fn, name in ((tier_radar, "radar.png"), (metric_bars, "bars.png")):
        path = fn(rows, tmp_path / name)
        assert path.read_bytes()[:8] == PNG_MAGIC


def test_report_lists_leaderboard_and_plots(tmp_path):
    from humanscore_torch.report.document import write_report

    written = write_report(_records(), tmp_path, "model")
    md = (tmp_path / "report.md").read_text()
    html = (tmp_path / "report.html").read_text()
    for kind in ("radar", "bars"):
        (path,) = written[kind]
        assert path.read_bytes()[:8] == PNG_MAGIC
        assert f"plots/{path.name}" in md and f"plots/{path.name}" in html
    # The leaderboard rows appear in rank order in both formats.
    assert md.index("| 1 | b |") < md.index("| 2 | a |") < md.index("| 3 | c |")
    assert html.index("<td>b</td>") < html.index("<td>a</td>") < html.index("<td>c</td>")
    assert "error: unreadable" in md


@pytest.fixture(scope="module")
def three_models(tmp_path_factory):
    """50 synthetic clips of three models, evaluated once with ``--group-by model``."""
    pytest.importorskip("humanscore_torch.synthetic.clips")
    from humanscore_torch.synthetic.three_models import three_model_clips

    root = tmp_path_factory.mktemp("three_models")
    counts = three_model_clips(root / "clips", count=50)
    start = time.perf_counter()
    code = main(["evaluate", str(root / "clips"), "--output", str(root / "out"), "--group-by", "model"])
    seconds = time.perf_counter() - start
    return {"counts": counts, "code": code, "out": root / "out", "seconds": seconds}


def test_evaluate_ranks_clean_jittery_broken(three_models, capsys):
    assert three_models["counts"] == {"clean": 17, "jittery": 17, "broken": 16}
    assert three_models["code"] == 0
    records = json.loads((three_models["out"] / "results.json").read_text())
    assert len(records) == 50 and all(r["error"] is None for r in records)
    rows = {r["group"]: r for r in leaderboard_rows(records, "model")}
    assert rows["clean"][OVERALL_KEY] > rows["jittery"][OVERALL_KEY] > rows["broken"][OVERALL_KEY]
    assert [r["group"] for r in leaderboard_rows(records, "model")] == ["clean", "jittery", "broken"]
    print(f"\nthree-model evaluate of 50 clips: {three_models['seconds']:.1f} s; "
          + ", ".join(f"{g} {rows[g][OVERALL_KEY]:.2f}" for g in ("clean", "jittery", "broken")))


def test_evaluate_writes_reports_and_every_plot_kind(three_models):
    out = three_models["out"]
    for name in ("results.json", "results.csv", "report.md", "report.html", "groups.csv"):
        assert (out / name).stat().st_size > 0, name
    plots = out / "plots"
    kinds = {"radar": ["radar.png"], "bars": ["bars.png"],
             "timeline": sorted(p.name for p in plots.glob("timeline_*.png")),
             "worst_frame": sorted(p.name for p in plots.glob("worst_*.png"))}
    assert len(kinds["timeline"]) == 3  # the worst clip of each model
    assert any(n.startswith("worst_self_penetration") for n in kinds["worst_frame"])
    assert any(n.startswith("worst_range_of_motion") for n in kinds["worst_frame"])
    md = (out / "report.md").read_text()
    for names in kinds.values():
        for name in names:
            assert (plots / name).read_bytes()[:8] == PNG_MAGIC
            assert f"plots/{name}" in md
