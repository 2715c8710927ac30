"""The evaluation report: ``report.md`` and ``report.html`` with their plots in ``plots/``.

One list of blocks (headings, text, tables, images) is written in both formats, so the two
always say the same thing. Contents: the leaderboard (one row per group, tier columns,
overall), the benchmark sections (:mod:`~humanscore_torch.report.benchmark_sections`: intervals
and rank stability, scores by prompt intensity and variant, spread, raw values with units, frame
rates and conversions), the tier radar, the per-metric bars, per-frame violation timelines of
the worst clip of each group, renders of the worst frames (penetrating faces, out-of-range
joints), and the per-clip scores.

The HTML fits a 1,400 px window: the page is at most :data:`PAGE_WIDTH_PX` wide, headers
wrap, the clip column breaks long paths, and a table that is still wider scrolls inside its
own box instead of pushing columns off the page.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..body.model import BodyModel
from ..evaluation import OVERALL_KEY
from ..registry import DISPLAY_NAMES, METRIC_KEYS, TIERS
from .benchmark_sections import benchmark_blocks, ranked_leaderboard
from .leaderboard import leaderboard_rows, leaderboard_table
from .plots import metric_bars, tier_radar, violation_timelines
from .results import clip_labels, common_folder
from .traces import TraceCollector, thresholds
from .worst_frames import render_worst_frame

Block = Tuple[str, Any]  # ("h1"|"h2"|"p"|"table"|"img", content)
PAGE_WIDTH_PX = 1300  # the body's max-width: a 1,400 px window less margins and a scroll bar
# Widest a cell grows (em of the table's font) before its text wraps, anywhere if it must
# (a long path, a group name): cells and headers.
CELL_MAX_EM = 12
HEADER_MAX_EM = 9
STYLE = (f"body{{font-family:sans-serif;max-width:{PAGE_WIDTH_PX}px;margin:2em auto;padding:0 1em}}"
         ".table{overflow-x:auto;max-width:100%}"
         "table{border-collapse:collapse;font-size:0.8em}"
         "td,th{border:1px solid #ccc;padding:2px 5px;text-align:right;vertical-align:top;overflow-wrap:anywhere}"
         f"td{{max-width:{CELL_MAX_EM}em}}th{{max-width:{HEADER_MAX_EM}em}}"
         "td:first-child,th:first-child,td:nth-child(2),th:nth-child(2){text-align:left}"
         "img{max-width:100%}figcaption{font-size:0.85em;color:#555}")


def _cell(value: Optional[float]) -> str:
    return "n/c" if value is None else f"{value:.1f}"


def _clip_table(records: Sequence[Dict[str, Any]], key: Optional[str]) -> List[List[str]]:
    columns = [OVERALL_KEY, *TIERS, *METRIC_KEYS]
    table = [["clip", *([key] if key else []), "frames", *[DISPLAY_NAMES[c] for c in columns]]]
    labels = dict(zip(map(id, records), clip_labels([r["path"] for r in records])))
    ordered = sorted(records, key=lambda r: (r["scores"][OVERALL_KEY] is None, r["scores"][OVERALL_KEY] or 0.0))
    for r in ordered:
        group = [str(r.get("metadata", {}).get(key, "(none)"))] if key else []
        if r["error"]:
            table.append([labels[id(r)], *group, "-", f"error: {r['error']}", *[""] * (len(columns) - 1)])
        else:
            table.append([labels[id(r)], *group, str(r["num_frames"]), *[_cell(r["scores"].get(c)) for c in columns]])
    return table


def _markdown(blocks: Sequence[Block]) -> str:
    out: List[str] = []
    for kind, content in blocks:
        if kind == "h1":
            out += [f"# {content}", ""]
        elif kind == "h2":
            out += [f"## {content}", ""]
        elif kind == "p":
            out += [content, ""]
        elif kind == "table":
            out.append("| " + " | ".join(content[0]) + " |")
            out.append("|" + "---|" * len(content[0]))
            out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in content[1:]]
            out.append("")
        elif kind == "img":
            path, caption = content
            out += [f"![{caption}]({path})", ""]
    return "\n".join(out)


def _html(blocks: Sequence[Block], title: str) -> str:
    out = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>", f"<title>{html.escape(title)}</title>",
           f"<style>{STYLE}</style>", "</head><body>"]
    for kind, content in blocks:
        if kind in ("h1", "h2"):
            out.append(f"<{kind}>{html.escape(content)}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{html.escape(content)}</p>")
        elif kind == "table":
            out.append("<div class='table'><table><tr>"
                       + "".join(f"<th>{html.escape(c)}</th>" for c in content[0]) + "</tr>")
            out += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in content[1:]]
            out.append("</table></div>")
        elif kind == "img":
            path, caption = content
            out.append(f"<figure><img src='{html.escape(path)}' alt='{html.escape(caption)}'>"
                       f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out)


def write_plots(records: Sequence[Dict[str, Any]], output: Path, group_by: Optional[str],
                collector: Optional[TraceCollector], body: Optional[BodyModel]) -> Dict[str, List[Path]]:
    """Write every plot into ``output/plots``.

    Returns:
        plot kind (``radar``, ``bars``, ``timeline``, ``worst_frame``) -> PNG paths.
    """
    folder = Path(output) / "plots"
    rows = leaderboard_rows(records, group_by)
    plots: Dict[str, List[Path]] = {"radar": [], "bars": [], "timeline": [], "worst_frame": []}
    if not any(r[OVERALL_KEY] is not None for r in rows):
        return plots
    plots["radar"].append(tier_radar(rows, folder / "radar.png"))
    plots["bars"].append(metric_bars(rows, folder / "bars.png"))
    if collector is not None:
        levels = thresholds()
        for k, trace in enumerate(collector.timelines()):
            plots["timeline"].append(violation_timelines(trace, folder / f"timeline_{k}.png", levels))
        if body is not None:
            for kind, frames in collector.frames.items():
                for k, frame in enumerate(frames):
                    plots["worst_frame"].append(render_worst_frame(frame, body, folder / f"worst_{kind}_{k}.png"))
    return plots


def write_report(records: Sequence[Dict[str, Any]], output: Path, group_by: Optional[str] = None,
                 collector: Optional[TraceCollector] = None, body: Optional[BodyModel] = None,
                 title: str = "HumanScore evaluation", reference: Optional[str] = None) -> Dict[str, List[Path]]:
    """Write ``report.md``, ``report.html`` and their plots into ``output``.

    Args:
        records: results.json records. group_by: the metadata key of the leaderboard rows.
        collector: the traces gathered while scoring (timelines and worst frames need them).
        body: the body the clips were scored on (worst-frame renders need it).
        reference: the group of real videos, shown unranked below the leaderboard's rows.

    Returns:
        the plots written, by kind, plus ``report`` -> [report.md, report.html].
    """
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    plots = write_plots(records, output, group_by, collector, body)
    rows = ranked_leaderboard(records, group_by, reference)
    failed = sum(r["error"] is not None for r in records)
    blocks: List[Block] = [
        ("h1", title),
        ("p", f"{len(records)} clips, {failed} failed. Scores are 0-100 (higher is better); n/c = not computed. "
              f"Tier = mean of its computed metrics; HumanScore = mean of the tiers."
              + (f" Clip paths are relative to {common}." if (common := common_folder([r["path"] for r in records]))
                 else "")),
        ("h2", f"Leaderboard (by {group_by})" if group_by else "Leaderboard"),
        ("table", leaderboard_table(rows, group_by)),
    ]
    sections, benchmark_plots = benchmark_blocks(records, output, group_by, reference, rows)
    blocks += sections
    captions = {
        "radar": "Metric scores per group, axes grouped by tier",
        "bars": "Overall, tier and metric scores per group",
        "timeline": "Per-frame violations of the lowest-scoring clip of each group (shaded: flagged frames)",
        "worst_frame": "Worst frames (red: penetrating faces; orange circles: joints out of range)",
    }
    for kind, paths in plots.items():
        if paths:
            blocks.append(("h2", captions[kind]))
            blocks += [("img", (p.relative_to(output).as_posix(), f"{captions[kind]}: {p.stem}")) for p in paths]
    blocks += [("h2", "Per-clip scores (lowest first)"), ("table", _clip_table(records, group_by))]
    plots.update(benchmark_plots)
    (output / "report.md").write_text(_markdown(blocks))
    (output / "report.html").write_text(_html(blocks, title))
    plots["report"] = [output / "report.md", output / "report.html"]
    return plots
