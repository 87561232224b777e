"""本全体の PDF (_build/html/dlbook.pdf) の検査。

ページ数・章ごとのしおり・日本語と数式の文字 (テキスト層)・
フォントの埋め込みを確かめる。
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader

from dlbook_tools import pdf

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def reader(built_site: Path) -> PdfReader:
    path = built_site / "dlbook.pdf"
    assert path.exists(), "dlbook.pdf がない (python -m dlbook_tools.pdf)"
    return PdfReader(path)


@pytest.fixture(scope="module")
def text(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def test_page_count_and_bookmarks(built_site: Path, reader: PdfReader) -> None:
    docs = [
        d for d in pdf.toc_docs(ROOT) if (built_site / f"{d}.html").exists()
    ]
    titles = [
        item.title for item in reader.outline if not isinstance(item, list)
    ]
    assert len(titles) == len(docs), titles
    for number in (4, 5, 6):  # 章のしおりは章番号で始まる
        assert any(t.startswith(f"{number}.") for t in titles), titles
    assert len(reader.pages) >= 3 * len(docs), len(reader.pages)


def test_text_layer_has_japanese(text: str) -> None:
    for word in ("畳み込み", "ニューラルネットワーク", "誤差逆伝播"):
        assert word in text, word


def test_text_layer_has_math(text: str) -> None:
    # KaTeX の式は文字として残る (画像ではない): 偏微分・和・ギリシャ文字
    for symbol in ("∂", "∑", "σ"):
        assert symbol in text, symbol


def test_fonts_are_embedded(reader: PdfReader) -> None:
    fonts: set[str] = set()
    for page in reader.pages[:40]:
        resources = page.get("/Resources") or {}
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            fonts.add(str(font.get("/BaseFont", "")))
            # Chromium は CJK の OpenType を Type3 で埋め込む (名前は FontDescriptor)
            descs = [
                font,
                *[d.get_object() for d in font.get("/DescendantFonts", [])],
            ]
            for desc in descs:
                descriptor = desc.get("/FontDescriptor")
                if descriptor is not None:
                    fonts.add(
                        str(descriptor.get_object().get("/FontName", ""))
                    )
    # 日本語の字形 (JP) の Noto CJK で描かれている (中国語の字形ではない)
    assert any("CJKjp" in f for f in fonts), fonts
    assert any("KaTeX" in f for f in fonts), fonts
