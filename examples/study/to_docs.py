"""Put a finished study's tables and plots into ``docs/paper.md`` (between its ``study:begin`` and
``study:end`` markers) and its pictures into ``docs/img/study/``.

    videollm study examples/study/demo.yaml --out work_dirs/study/demo --jobs 2
    python examples/study/to_docs.py work_dirs/study/demo

The report is regenerated from the runs first (``videollm report``), so the page always shows what
the runs hold. Everything outside the markers (what the numbers show, in words) is left alone.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "paper.md"
IMAGES = ROOT / "docs" / "img" / "study"
BEGIN, END = "<!-- study:begin -->", "<!-- study:end -->"


def section(results_md: str) -> str:
    """``results.md`` as a page section: no title, no per-run tables, headings one level down, pictures under img/study/."""
    body = results_md.split("\n", 1)[1].lstrip("\n")
    # the per-run tables (one column per metric) stay in results.md / results.csv: the page shows the RQ tables
    head, _, rest = body.partition("## Runs\n")
    body = head + rest[rest.index("## RQ1"):] if "## RQ1" in rest else body
    body = re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", body, flags=re.M)
    body = re.sub(r"!\[([^\]]*)\]\(([^)/]+\.png)\)", r"![\1](img/study/\2)", body)
    return body.replace("(log: /", "(log: …/").rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the study's --out folder")
    args = parser.parse_args(argv)
    from videollm_core.study.report import write_report

    written = write_report(args.out)
    IMAGES.mkdir(parents=True, exist_ok=True)
    for old in IMAGES.glob("*.png"):
        old.unlink()
    for path in written.values():
        if path.suffix == ".png":
            shutil.copyfile(path, IMAGES / path.name)
    page = PAGE.read_text(encoding="utf-8")
    if BEGIN not in page or END not in page:
        print(f"{PAGE} has no {BEGIN} ... {END} markers", file=sys.stderr)
        return 1
    head, rest = page.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    PAGE.write_text(f"{head}{BEGIN}\n{section(written['md'].read_text(encoding='utf-8'))}{END}{tail}", encoding="utf-8")
    print(f"updated {PAGE} and {IMAGES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
