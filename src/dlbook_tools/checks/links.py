"""外部リンクの検査結果 (Sphinx の linkcheck) を Markdown の要約にする。

ネットワークのある CI ランナーで毎週 (``scheduled.yml``)::

    jupyter-book build . --builder linkcheck
    python -m dlbook_tools.checks.links _build/linkcheck/output.json

壊れたリンク (``broken``) があれば、章・行・URL・理由の表を
``$GITHUB_STEP_SUMMARY`` (なければ標準出力) に書き、終了コード 1 を返す。
転送 (``redirected``) は件数だけ示す。この計算機からは外に出られないので、
ここで確かめるのは出力の読み方だけである (tests/test_links.py)。
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path


def read_results(path: Path) -> list[dict[str, object]]:
    """linkcheck の ``output.json`` (1 行に 1 つの JSON) を読む。"""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def summary(rows: list[dict[str, object]]) -> str:
    """結果の要約 (Markdown)。"""
    counts = Counter(str(r["status"]) for r in rows)
    lines = ["## 外部リンクの検査 (Sphinx linkcheck)", ""]
    lines.append(
        "、".join(f"{status} {n} 件" for status, n in sorted(counts.items()))
        or "リンクはありません"
    )
    broken = [r for r in rows if r["status"] == "broken"]
    if broken:
        lines += [
            "",
            "| 場所 | URL | 理由 |",
            "| --- | --- | --- |",
        ]
        for r in sorted(broken, key=lambda r: (r["filename"], r["lineno"])):
            info = (
                str(r.get("info", "")).replace("|", "\\|").replace("\n", " ")
            )
            lines.append(
                f"| {r['filename']}:{r['lineno']} | <{r['uri']}> | {info} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "output", type=Path, help="_build/linkcheck/output.json"
    )
    args = parser.parse_args(argv)
    if not args.output.is_file():
        print(f"linkcheck の結果がありません: {args.output}", file=sys.stderr)
        return 2
    rows = read_results(args.output)
    text = summary(rows)
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with open(target, "a", encoding="utf-8") as f:
            f.write(text)
    print(text)
    return 1 if any(r["status"] == "broken" for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
