"""章のページの重さと、ページの部品の数 (構築済みサイトを Chromium で開く)。

- 章を空のキャッシュで開いたときの転送量は、図 (画像) を除いて 450 KiB 以下
  (gzip で配信。``make bench`` の表と同じ測り方: ``benchmarks.run.page_weight``)
- 検索窓は 1 ページに 1 つ (テーマの既定ではヘッダーとサイドバーに 2 つ出る)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from benchmarks.run import PAGE_WEIGHT_TARGET, page_weight

from dlbook_tools.checks import site

LIMIT = PAGE_WEIGHT_TARGET


pytestmark = pytest.mark.site


def test_chapter_pages_stay_light(built_site: Path, browser: Any) -> None:
    weights = page_weight(built_site, browser)
    assert len(weights) >= 3, weights.keys()
    heavy = {
        rel: f"{w['without_images'] / 1024:.0f} KiB"
        for rel, w in weights.items()
        if w["without_images"] > LIMIT
    }
    assert not heavy, f"図を除いて {LIMIT // 1024} KiB を超える: {heavy}"
    for rel, w in weights.items():
        assert w.get("js", 0) < 150 * 1024, f"{rel}: JS {w.get('js')} バイト"


def test_one_search_box_per_page(
    built_site: Path, site_url: str, browser: Any
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    counts = {}
    try:
        for rel in site.pages(built_site):
            page.goto(f"{site_url}/{rel}", wait_until="networkidle")
            counts[rel] = page.locator(".search-button-field:visible").count()
    finally:
        page.close()
    assert set(counts.values()) == {1}, counts


def test_one_notebook_download_per_chapter(built_site: Path) -> None:
    """.ipynb のダウンロードは本の固定したノートブック 1 つだけ (テーマの分を出さない)。"""
    from bs4 import BeautifulSoup

    counts = {}
    for rel in site.pages(built_site):
        if not Path(rel).name.startswith("ch"):
            continue
        soup = BeautifulSoup(
            (built_site / rel).read_text("utf-8"), "html.parser"
        )
        links = [
            a["href"]
            for a in soup.find_all("a", href=True)
            if a["href"].endswith(".ipynb")
            and "dlbook-colab" not in a.get("class", [])
        ]
        counts[rel] = links
    assert counts
    wrong = {rel: links for rel, links in counts.items() if len(links) != 1}
    assert not wrong, wrong
    assert all(
        links[0].startswith("../notebooks/") for links in counts.values()
    )
