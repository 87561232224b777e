"""構築済みサイトの概念図: 各章のページに 12 枚以上、番号・代替テキスト付き、
ダークモードでも読め、スライドでも使われている。

概念図は ``dlbook.diagrams`` がビルドのたびに描く SVG で、結果のグラフ (PNG) とは
別に数える。
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

pytestmark = pytest.mark.site

CHAPTERS = ["ch04_nn_basics", "ch05_framework", "ch06_cnn"]
MIN_DIAGRAMS = 12
#: 章のページの概念図のうち、スライドにも出ていなければならない数
MIN_ON_SLIDES = 9
FILE_NAME = re.compile(r"^[\w.-]+\.(svg|png|jpe?g)$", re.IGNORECASE)


def _digest(data: bytes) -> str:
    return hashlib.sha256(b"".join(data.split())).hexdigest()


def _diagrams(html: Path, stem: str) -> list[tuple[str, str, Path]]:
    """章のページの図のうち SVG のもの: (代替テキスト, キャプション, ファイル)。"""
    page = html / "book" / f"{stem}.html"
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    found = []
    for fig in soup.select("figure"):
        img = fig.find("img")
        if img is None or not str(img.get("src", "")).endswith(".svg"):
            continue
        caption = fig.find("figcaption")
        text = caption.get_text(" ", strip=True) if caption else ""
        found.append(
            (
                str(img.get("alt", "")),
                text,
                (page.parent / str(img["src"])).resolve(),
            )
        )
    return found


@pytest.mark.parametrize("stem", CHAPTERS)
def test_each_chapter_shows_numbered_diagrams_with_alt_text(
    built_site: Path, stem: str
) -> None:
    diagrams = _diagrams(built_site, stem)
    assert len(diagrams) >= MIN_DIAGRAMS, (
        f"{stem}: 概念図 (SVG の図) が {len(diagrams)} 枚 (≥ {MIN_DIAGRAMS} 枚必要)"
    )
    chapter = CHAPTERS.index(stem) + 4
    for alt, caption, path in diagrams:
        assert alt.strip() and not FILE_NAME.match(alt), (
            f"{stem}: {path.name} の代替テキストが空かファイル名: {alt!r}"
        )
        assert re.match(rf"図\s*{chapter}\.\d+", caption), (
            f"{stem}: {path.name} のキャプションに図番号がない: {caption[:40]!r}"
        )
        data = path.read_bytes()
        assert data.lstrip().startswith(b"<svg") or b"<svg" in data[:400]
        assert b"<text" not in data, f"{path.name}: 文字がパスになっていない"


@pytest.mark.parametrize("stem", CHAPTERS)
def test_diagrams_are_reused_on_the_slides(
    built_site: Path, stem: str
) -> None:
    page = {_digest(p.read_bytes()) for _, _, p in _diagrams(built_site, stem)}
    deck_dirs = [
        built_site / "slides" / stem,
        built_site.parent / "slides" / stem,
    ]
    on_slides = {
        _digest(p.read_bytes())
        for d in deck_dirs
        if d.is_dir()
        for p in d.rglob("*.svg")
    }
    shared = page & on_slides
    assert len(shared) >= MIN_ON_SLIDES, (
        f"{stem}: スライドに出ている概念図が {len(shared)} 枚 "
        f"(ページの {len(page)} 枚のうち ≥ {MIN_ON_SLIDES} 枚必要)"
    )


def test_diagrams_stay_light_in_dark_mode(
    built_site: Path, site_url: str, browser: object
) -> None:
    """ダークモードでも概念図は白い地のまま (黒い線が暗い背景に沈まない)。"""
    from PIL import Image, ImageStat

    tab = browser.new_page()  # type: ignore[attr-defined]
    tab.emulate_media(color_scheme="dark")
    for stem in CHAPTERS:
        tab.goto(f"{site_url}/book/{stem}.html")
        tab.evaluate("document.documentElement.dataset.theme = 'dark'")
        imgs = tab.locator("figure img[src$='.svg']")
        assert imgs.count() > 0, f"{stem}: SVG の図がない"
        first = imgs.first
        first.scroll_into_view_if_needed()
        png = first.screenshot()
        mean = ImageStat.Stat(Image.open(io.BytesIO(png)).convert("L")).mean[0]
        assert mean > 150, (
            f"{stem}: ダークモードで概念図が暗い (平均輝度 {mean:.0f})"
        )
    tab.close()
