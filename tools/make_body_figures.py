"""Figures of the embedded default body for the docs.

    python tools/make_body_figures.py docs/

writes ``docs/default_body_rest.png`` and ``docs/default_body_walk.png``
(:func:`humanscore_torch.report.body_figures.write_body_figures`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from humanscore_torch.report.body_figures import write_body_figures


def main(argv=None) -> int:
    """Command line: write the default-body figures into ``out_dir``, print their paths and
    return the exit code 0."""
    parser = argparse.ArgumentParser(description="Write figures of the embedded default body.")
    parser.add_argument("out_dir", type=Path, help="folder for default_body_rest.png and default_body_walk.png")
    args = parser.parse_args(argv)
    for path in write_body_figures(args.out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
