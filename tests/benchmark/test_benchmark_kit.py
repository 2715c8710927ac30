"""The benchmark kit (issue 18, items 3-4): the prompt suite, manifests, group keys, the
report's intervals, rank stability, intensity and variant sections, raw values, and an HTML
report that fits 1,400 px."""

from __future__ import annotations

import csv
import html.parser
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from humanscore_torch.benchmark.group_keys import group_value
from humanscore_torch.benchmark.manifest import ManifestError, read_manifest
from humanscore_torch.benchmark.prompts import INTENSITY_LEVELS, VARIANTS, prompt_suite
from humanscore_torch.cli import main
from humanscore_torch.config import config_overrides
from humanscore_torch.evaluation import OVERALL_KEY
from humanscore_torch.report.document import CELL_MAX_EM, HEADER_MAX_EM, PAGE_WIDTH_PX
from humanscore_torch.report.group_statistics import bootstrap_means, rank_stability, spread

CHROMIUM = Path("/usr/bin/chromium")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ---- prompt suite -----------------------------------------------------------------------

def test_suite_grades_every_category_in_plain_and_detailed():
    prompts = prompt_suite()
    ids = [p.id for p in prompts]
    assert len(set(ids)) == len(ids)
    categories = {p.category for p in prompts}
    assert {"walk", "run", "jump", "dance", "ballet", "martial-arts", "parkour", "basketball"} <= categories
    assert len(prompts) == len(categories) * len(INTENSITY_LEVELS) * len(VARIANTS)
    for p in prompts:
        assert p.id == f"{p.category}-{p.intensity:02d}-{p.variant}"
        assert p.text.endswith(".")
    by_id = {p.id: p for p in prompts}
    assert by_id["run-03-plain"].text == "A person sprints at full speed."
    # The detailed prompt describes the same action as the plain one.
    assert "sprints at full speed" in by_id["run-03-detailed"].text
    assert len(by_id["run-03-detailed"].text) > 3 * len(by_id["run-03-plain"].text)


def test_prompts_command_writes_csv_and_json(tmp_path, capsys):
    assert main(["prompts", "--output", str(tmp_path / "p.csv")]) == 0
    assert main(["prompts", "--output", str(tmp_path / "p.json")]) == 0
    with open(tmp_path / "p.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["id", "category", "intensity", "variant", "text"]
    as_json = json.loads((tmp_path / "p.json").read_text())
    assert [r["id"] for r in rows] == [r["id"] for r in as_json] == [p.id for p in prompt_suite()]
    assert as_json[0]["intensity"] == 1 and rows[0]["intensity"] == "1"
    capsys.readouterr()
    assert main(["prompts"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "id,category,intensity,variant,text"
    assert main(["prompts", "--output", str(tmp_path / "p.txt")]) == 2
    assert "expected a .csv or .json" in capsys.readouterr().err


# ---- manifests and group keys -----------------------------------------------------------

def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_manifest_joins_relative_and_absolute_paths_and_the_suite(tmp_path):
    (tmp_path / "m").mkdir()
    absolute = tmp_path / "elsewhere.npz"
    manifest = read_manifest(_write(tmp_path / "m" / "manifest.csv",
                                    f"path,model,prompt_id,note\nclips/a.npz,alpha,run-03-detailed,=1+1\n"
                                    f"{absolute},beta,not-a-prompt,x\n"))
    a = manifest.metadata_for(tmp_path / "m" / "clips" / "a.npz")
    # A formula stays the text it is; the suite prompt adds its category, intensity and variant.
    assert a == {"model": "alpha", "prompt_id": "run-03-detailed", "note": "=1+1", "category": "run",
                 "intensity": 3, "variant": "detailed"}
    assert manifest.metadata_for(absolute)["model"] == "beta"
    assert manifest.metadata_for(tmp_path / "other.npz") is None
    assert manifest.unknown_prompts() == ["not-a-prompt"]


@pytest.mark.parametrize("text, problem", [
    ("model,prompt_id\nalpha,run-01-plain\n", "no 'path' column"),
    ("path,model,model\na.npz,x,y\n", "repeated column"),
    ("path,model\na.npz,x\na.npz,y\n", "already on line 2"),
    ("path,model\na.npz,x,extra\n", "line 2: 3 cells, expected 2"),
    ("path,model\na.npz,\x00\n", "NUL byte"),
    ("", "empty"),
])
def test_malformed_manifests_are_refused_with_the_reason(tmp_path, text, problem):
    with pytest.raises(ManifestError, match=re.escape(problem)):
        read_manifest(_write(tmp_path / "manifest.csv", text))


def test_manifest_bounds_come_from_the_config(tmp_path):
    path = _write(tmp_path / "manifest.csv", "path\n" + "".join(f"{i}.npz\n" for i in range(5)))
    overrides = _write(tmp_path / "bounds.yaml", "io: {manifest: {max_rows: 4}}\n")
    assert len(read_manifest(path).rows) == 5
    with config_overrides(overrides):
        with pytest.raises(ManifestError, match="max_rows"):
            read_manifest(path)
    with pytest.raises(ManifestError, match="not a regular file"):
        read_manifest(tmp_path)
    (tmp_path / "latin1.csv").write_bytes(b"path\ncaf\xe9.npz\n")
    with pytest.raises(ManifestError, match="not UTF-8"):
        read_manifest(tmp_path / "latin1.csv")


def test_manifest_formulas_stay_text_in_the_csv_outputs(tmp_path):
    from humanscore_torch.report.results import write_csv, write_groups

    record = {"path": "=cmd|' /C calc'!A0.npz", "num_frames": 0, "fps": None, "scores": {}, "raw": {},
              "metadata": {"model": "=HYPERLINK(\"http://x\")"}, "error": "-bad"}
    write_csv([record], tmp_path / "results.csv")
    write_groups([record], "model", tmp_path)
    (row,) = list(csv.DictReader(open(tmp_path / "results.csv", newline="")))
    assert row["path"] == "'=cmd|' /C calc'!A0.npz" and row["error"] == "'-bad"
    (group,) = list(csv.DictReader(open(tmp_path / "groups.csv", newline="")))
    assert group["group"] == "'=HYPERLINK(\"http://x\")"


def test_path_component_group_keys():
    meta = {"model": "m"}
    assert group_value("runs/gvhmr/clip7/hmr4d_results.pt", meta, "path:-3") == "gvhmr"
    assert group_value("runs/gvhmr/clip7/hmr4d_results.pt", meta, "path:-1") == "hmr4d_results.pt"
    assert group_value("runs/gvhmr/clip7/hmr4d_results.pt", meta, "path:0") == "runs"
    assert group_value("a.npz", meta, "path:-2") == "(none)"
    assert group_value("a.npz", meta, "model") == "m"
    assert group_value("a.npz", meta, "seed") == "(none)"


# ---- statistics -------------------------------------------------------------------------

def test_bootstrap_means_are_the_means_of_multinomial_resamples():
    rng = np.random.default_rng(3)
    scores = rng.uniform(50, 100, size=(7, 2))
    scores[2, 1] = np.nan  # not computed: left out of that column's means
    means = bootstrap_means(scores, 50, np.random.default_rng(11))
    counts = np.random.default_rng(11).multinomial(7, np.full(7, 1 / 7), size=50)
    for b in range(50):
        resample = np.repeat(scores, counts[b], axis=0)
        assert means[b, 0] == pytest.approx(resample[:, 0].mean(), rel=1e-12)
        assert means[b, 1] == pytest.approx(np.nanmean(resample[:, 1]), rel=1e-12)
    assert np.isnan(bootstrap_means(np.zeros((0, 3)), 4)).all()


def test_rank_stability_and_spread():
    rng = np.random.default_rng(0)
    far = np.stack([rng.normal(90, 1, 1000), rng.normal(60, 1, 1000)], axis=1)
    assert rank_stability(far, [1, 2]).tolist() == [1.0, 1.0]
    # Exchangeable groups keep their ranks in about half the resamples.
    same = rng.normal(80, 1, size=(4000, 2))
    assert rank_stability(same, [1, 2]) == pytest.approx([0.5, 0.5], abs=0.03)
    values = np.array([[1.0], [2.0], [4.0], [8.0], [np.nan]])
    stats = spread(values)
    assert stats["std"][0] == pytest.approx(np.std([1, 2, 4, 8], ddof=1))
    assert stats["iqr"][0] == pytest.approx(np.percentile([1, 2, 4, 8], 75) - np.percentile([1, 2, 4, 8], 25))


# ---- the synthetic study end to end -----------------------------------------------------

@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """``humanscore prompts``, a manifest and ``evaluate --manifest --group-by model
    --reference mocap`` on four synthetic models at three intensities (72 clips of 30 frames)."""
    from humanscore_torch.benchmark.synthetic_study import run_study

    root = tmp_path_factory.mktemp("study")
    code, out = run_study(root)
    return {"root": root, "code": code, "out": out}


def test_study_leaderboard_intervals_and_rank_stability(study):
    assert study["code"] == 0
    from humanscore_torch.report.benchmark_sections import ranked_leaderboard

    records = json.loads((study["out"] / "results.json").read_text())
    assert len(records) == 72 and all(r["metadata"]["intensity"] in (1, 2, 3) for r in records)
    rows = ranked_leaderboard(records, "model", "mocap")
    assert [(r["group"], r["rank"]) for r in rows] == [("steady", 1), ("shaky", 2), ("brittle", 3), ("mocap", None)]
    for row in rows:
        low, high = row["interval"]
        assert low <= row[OVERALL_KEY] <= high
    assert rows[0]["rank_stability"] == 1.0 and rows[-1]["rank_stability"] is None
    md = (study["out"] / "report.md").read_text()
    assert "| ref | mocap (reference) |" in md and "| 1 | steady |" in md
    assert re.search(r"\| 3 \| brittle \| 18/18 \|.*\| \d+\.\d \[\d+\.\d, \d+\.\d\] \| \d+ % \|", md)


def test_study_intensity_penalty_and_variants(study):
    from humanscore_torch.report.benchmark_sections import factor_curves

    records = json.loads((study["out"] / "results.json").read_text())
    curves = factor_curves(records, "model", "intensity")
    brittle = [mean for _, mean, _, _ in curves["brittle"]]
    assert [level for level, *_ in curves["brittle"]] == [1, 2, 3]
    assert brittle[0] > brittle[1] > brittle[2]
    assert all(n == 6 for *_, n in curves["mocap"])
    variants = factor_curves(records, "model", "variant")
    assert [level for level, *_ in variants["shaky"]] == ["detailed", "plain"]
    for name in ("intensity.png", "leaderboard_intervals.png"):
        assert (study["out"] / "plots" / name).read_bytes()[:8] == PNG_MAGIC
    md = (study["out"] / "report.md").read_text()
    assert "plots/intensity.png" in md and "## Plain vs detailed prompts" in md
    # Raw values with units, frame rate and its source per clip.
    assert "jerk (m/s^3)" in md and "range of motion (degree-seconds per second)" in md and "| fps source |" in md


def test_path_component_groups_like_the_manifest_column(study, tmp_path):
    out = tmp_path / "by_folder"
    assert main(["evaluate", str(study["root"] / "clips" / "shaky"), str(study["root"] / "clips" / "brittle"),
                 "--output", str(out), "--group-by", "path:-2", "--worst-frames", "0"]) == 0
    records = json.loads((out / "results.json").read_text())
    folders = {r["metadata"]["path:-2"] for r in records}
    assert folders == {"shaky", "brittle"}
    assert main(["evaluate", str(study["root"] / "clips"), "--output", str(tmp_path / "bad"),
                 "--group-by", "path:x"]) == 2


def test_manifest_reports_unmatched_files_and_rows(study, tmp_path, capsys):
    clips = study["root"] / "clips"
    manifest = tmp_path / "partial.csv"
    rows = list(csv.DictReader(open(clips / "manifest.csv", newline="")))
    with open(manifest, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "model"])
        writer.writeheader()
        writer.writerow({"path": str(clips / rows[0]["path"]), "model": "first"})
        writer.writerow({"path": "missing.npz", "model": "ghost"})
    capsys.readouterr()
    code = main(["evaluate", str(clips / rows[0]["path"]), str(clips / rows[1]["path"]), "--manifest",
                 str(manifest), "--output", str(tmp_path / "out"), "--group-by", "model", "--worst-frames", "0"])
    err = capsys.readouterr().err
    assert code == 0
    assert "1 of 2 files matched" in err and "1 files without a row" in err and "1 rows naming no file" in err
    records = json.loads((tmp_path / "out" / "results.json").read_text())
    assert sorted(r["metadata"].get("model", "(none)") for r in records) == ["(none)", "first"]
    # The bar counts files as they are scored, and the frames.
    assert "scoring: 100%" in err and "60 frames scored" in err


def test_the_progress_bar_moves_when_a_file_is_scored_not_read(tmp_path):
    from humanscore_torch.cli.evaluate import RunRecords
    from humanscore_torch.report.record_log import RecordLog

    class Bar:
        n, postfix = 0, ""

        def update(self, k):
            self.n += k

        def set_postfix_str(self, text, refresh=True):
            self.postfix = text

    bar, log = Bar(), RecordLog(tmp_path / "records.jsonl")
    try:
        run = RunRecords(["a", "b"], log, progress=bar)
        run.expect(0, 2)  # file a read: two people, nothing scored yet
        assert bar.n == 0
        run.add(0, {"path": "a", "num_frames": 30, "error": None})
        assert bar.n == 0
        run.add(0, {"path": "a", "num_frames": 20, "error": None})
        assert (bar.n, bar.postfix) == (1, "50 frames scored")
        run.finish(1, [{"path": "b", "num_frames": 0, "error": "unreadable"}])
        assert bar.n == 2
    finally:
        log.close()


def test_reference_needs_a_group_key(study, tmp_path, capsys):
    assert main(["evaluate", str(study["root"] / "clips" / "mocap"), "--output", str(tmp_path / "out"),
                 "--reference", "mocap"]) == 2
    assert "--reference names a group of --group-by" in capsys.readouterr().err


# ---- the HTML report at 1,400 px --------------------------------------------------------

class _Tables(html.parser.HTMLParser):
    """The cells of every table of a page, as text."""

    def __init__(self):
        super().__init__()
        self.tables, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


# Font of the tables: 0.8 x 16 px; a generous 0.62 em per character (bold digits are ~0.56).
_EM_PX = 0.8 * 16
_CHAR_EM = 0.62
_CELL_PAD_PX = 2 * 5 + 1


def table_min_width_px(table):
    """The width a table needs under the report's CSS without breaking a word or a number:
    each column as wide as its longest word (text wraps at spaces), a cell at most
    CELL_MAX_EM and a header HEADER_MAX_EM wide (longer words wrap anywhere)."""
    def longest(cells, cap_em):
        words = [len(word) for c in cells for word in (c.split() or [""])]
        return min(max(words) * _CHAR_EM, cap_em) * _EM_PX

    width = 0.0
    for column in range(len(table[0])):
        cells = [row[column] for row in table[1:] if column < len(row)]
        width += max(longest([table[0][column]], HEADER_MAX_EM), longest(cells or [""], CELL_MAX_EM)) + _CELL_PAD_PX
    return width


@pytest.fixture(scope="module", params=["study", "long names"])
def report_folder(request, study, tmp_path_factory):
    """The study's report, and the same records rewritten with a 200-character unbreakable
    path, a long group name and an error message, reported again."""
    if request.param == "study":
        return study["out"]
    from humanscore_torch.report.document import write_report

    records = json.loads((study["out"] / "results.json").read_text())
    records[0]["path"] = "/data/" + "generated_video_" * 12 + ".npz"
    for r in records[:18]:
        r["metadata"]["model"] = "a-model-with-a-rather-long-name-v2.1"
    records[1] = {**records[1], "error": "MotionFileError: " + "a very long reason " * 10, "num_frames": 0}
    out = tmp_path_factory.mktemp("long_names")
    shutil.copytree(study["out"] / "plots", out / "plots")
    write_report(records, out, "model", reference="mocap")
    return out


def test_every_report_table_fits_the_page_without_a_browser(report_folder):
    parser = _Tables()
    parser.feed((report_folder / "report.html").read_text())
    assert len(parser.tables) >= 8
    widths = [table_min_width_px(t) for t in parser.tables]
    assert max(widths) <= PAGE_WIDTH_PX, widths
    assert PAGE_WIDTH_PX + 2 * 16 + 20 <= 1400  # the page, its padding and a scroll bar


def test_the_report_in_chromium_shows_every_column_at_1400_px(report_folder, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (Debian: apt-get install -y chromium)")
    page = tmp_path / "report.html"
    measure = ("<script>document.body.setAttribute('data-layout', JSON.stringify({page: "
               "document.documentElement.scrollWidth, tables: [...document.querySelectorAll('div.table')]"
               ".map(d => [d.scrollWidth, d.clientWidth])}));</script></body>")
    page.write_text((report_folder / "report.html").read_text().replace("</body>", measure))
    shutil.copytree(report_folder / "plots", tmp_path / "plots")
    profile = tempfile.mkdtemp(dir=tmp_path)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--window-size=1400,900"]
    dom = subprocess.run([str(CHROMIUM), *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "HOME": str(tmp_path)}).stdout
    found = re.search(r'data-layout="([^"]+)"', dom)
    assert found, dom[-2000:]
    layout = json.loads(found.group(1).replace("&quot;", '"'))
    assert layout["page"] <= 1400
    assert len(layout["tables"]) >= 8
    # No table needs its own scroll bar: every column is on the page.
    assert all(scroll <= client for scroll, client in layout["tables"]), layout
    screenshot = tmp_path / "report.png"
    subprocess.run([str(CHROMIUM), *flags, f"--screenshot={screenshot}", page.as_uri()], capture_output=True,
                   timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    assert screenshot.read_bytes()[:8] == PNG_MAGIC


def test_demo_writes_the_html_report_with_plots(tmp_path):
    assert main(["demo", "--output", str(tmp_path), "--device", "cpu"]) == 0
    report = (tmp_path / "report.html").read_text()
    for name in ("radar.png", "bars.png", "leaderboard_intervals.png"):
        assert f"plots/{name}" in report and (tmp_path / "plots" / name).read_bytes()[:8] == PNG_MAGIC
    assert "Raw values per clip" in report and "fps source" in report
