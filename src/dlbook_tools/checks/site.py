"""構築済みサイト (_build/html) の検査: アクセシビリティの基本と外部リンクの一覧。

- 画像はすべて空でない代替テキスト (``alt``) を持つ
- 見出しのレベルを飛ばさない (h1 の次に h3 が来ない)。h1 は 1 ページに 1 つ
- ``<html lang="ja">``
- 外部リンクは取りに行かず (ネットワークなし)、一覧を
  ``_build/html/reports/external-links.md`` に書く

使い方::

    python -m dlbook_tools.checks.site            # 検査して外部リンクの一覧を書く
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from pathlib import Path

from bs4 import BeautifulSoup, Tag

ROOT = Path(__file__).resolve().parents[3]
HTML = ROOT / "_build" / "html"
REPORT = Path("reports") / "external-links.md"
SKIP_PREFIXES = ("_static/", "_sources/", "slides/", "_images/", "reports/")
SKIP_PAGES = {
    "genindex.html",
    "search.html",
    "index.html",
}  # index はリダイレクト
EXTERNAL = re.compile(r"^(https?:|mailto:)")


def pages(html: Path = HTML) -> list[str]:
    """本のページ (HTML ディレクトリからの相対パス)。"""
    found = []
    for path in sorted(html.rglob("*.html")):
        rel = path.relative_to(html).as_posix()
        if not rel.startswith(SKIP_PREFIXES) and rel not in SKIP_PAGES:
            found.append(rel)
    return found


def _soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def _main(soup: BeautifulSoup) -> Tag | BeautifulSoup:
    """本文 (テーマのナビゲーションを除く)。"""
    return soup.select_one("article") or soup.select_one("main") or soup


def images_without_alt(html: Path, rel: str) -> list[str]:
    """代替テキストのない画像 (ページ全体)。"""
    soup = _soup(html / rel)
    return [
        str(img.get("src"))
        for img in soup.find_all("img")
        if not str(img.get("alt") or "").strip()
    ]


def heading_problems(html: Path, rel: str) -> list[str]:
    """本文の見出しの飛び (h2 → h4 など) と h1 の数。"""
    main = _main(_soup(html / rel))
    headings = main.find_all(re.compile(r"^h[1-6]$"))
    levels = [int(h.name[1]) for h in headings]
    problems = []
    if levels.count(1) != 1:
        problems.append(f"h1 が {levels.count(1)} 個ある (1 個にする)")
    previous = 0
    for heading, level in zip(headings, levels, strict=True):
        if level > previous + 1:
            text = heading.get_text(" ", strip=True).rstrip("#").strip()
            problems.append(f"h{previous} の次に h{level}: 「{text}」")
        previous = level
    return problems


def language(html: Path, rel: str) -> str | None:
    """``<html lang>`` の値。"""
    soup = _soup(html / rel)
    return (
        str(soup.html.get("lang"))
        if soup.html and soup.html.get("lang")
        else None
    )


def external_links(html: Path = HTML) -> dict[str, list[str]]:
    """外部リンク → それを含むページ。"""
    links: dict[str, list[str]] = defaultdict(list)
    for rel in pages(html):
        for a in _main(_soup(html / rel)).select("a[href]"):
            href = str(a["href"])
            if EXTERNAL.match(href) and rel not in links[href]:
                links[href].append(rel)
    return dict(sorted(links.items()))


def write_external_report(html: Path = HTML) -> Path:
    """外部リンクの一覧を ``reports/external-links.md`` に書く (取りには行かない)。"""
    links = external_links(html)
    lines = [
        "# 外部リンクの一覧 (External links)",
        "",
        "ビルドした本文に含まれる外部リンクである。ネットワークを使わないので、",
        "リンク先が生きているかは確かめていない (手で確かめる)。",
        "",
        f"{len(links)} 件。",
        "",
        "| URL | ページ |",
        "| --- | --- |",
    ]
    for url, where in links.items():
        lines.append(f"| <{url}> | {', '.join(where)} |")
    out = html / REPORT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def main() -> int:
    html = Path(sys.argv[1]) if len(sys.argv) > 1 else HTML
    problems = []
    for rel in pages(html):
        problems += [
            f"{rel}: alt のない画像 {src}"
            for src in images_without_alt(html, rel)
        ]
        problems += [f"{rel}: {p}" for p in heading_problems(html, rel)]
        if language(html, rel) != "ja":
            problems.append(f'{rel}: <html lang="ja"> がない')
    for problem in problems:
        print(problem)
    print(f"外部リンクの一覧: {write_external_report(html)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
