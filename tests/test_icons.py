"""Font Awesome を使うアイコンだけにする (``dlbook_tools.icons``)。

単体: テーマのテンプレートから fontawesome.js の行だけが消えること、CSS から
アイコンの文字を読むこと。サイト: どのページも fontawesome.js を読まず、
ページが使う ``fa-*`` のアイコンと CSS の疑似要素の文字がすべて、削った
Web フォントに残っていること (アイコンが豆腐にならない)。
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from dlbook_tools import icons
from dlbook_tools.checks import site


def test_the_template_loses_only_the_script_line() -> None:
    theme = (icons.theme_static() / "webpack-macros.html").read_text("utf-8")
    out = icons.macros_without_script(theme)
    assert "fontawesome.js" in theme
    assert "fontawesome.js" not in out
    assert len(theme.splitlines()) - len(out.splitlines()) == 1
    assert "bootstrap.js" in out
    with pytest.raises(RuntimeError, match="1 行だけ"):
        icons.macros_without_script(out)


def test_css_icons_reads_classes_and_pseudo_elements() -> None:
    css = (
        '.fa-a:before,.fa-b::before{content:"\\f001"}'
        ':root{--pst-icon-info:"\uf05a";--pst-icon-x:"\\f111"}'
        '.note:after{content:var(--pst-icon-info)}.q:after{content:"x"}'
    )
    by_class, always = icons.css_icons(css)
    assert by_class == {"a": 0xF001, "b": 0xF001}
    assert always == {0xF05A, 0xF111}


def test_used_classes() -> None:
    html = '<i class="fa-solid fa-bars fa-lg"></i><span class="sfa-x">'
    assert icons.used_classes(html) == {"solid", "bars", "lg"}


def _cmap(font: Path) -> set[int]:
    return set(TTFont(font).getBestCmap())


@pytest.mark.site
def test_pages_load_no_fontawesome_js(built_site: Path) -> None:
    assert not (built_site / "_static" / icons.SCRIPT).exists()
    users = [
        rel
        for rel in site.pages(built_site)
        if "fontawesome.js" in (built_site / rel).read_text("utf-8")
    ]
    assert not users, f"fontawesome.js を読むページ: {users}"


@pytest.mark.site
def test_every_used_icon_keeps_its_glyph(built_site: Path) -> None:
    fonts = sorted((built_site / icons.WEBFONTS).glob("*.woff2"))
    assert fonts
    kept = set().union(*(_cmap(f) for f in fonts))
    used = icons.used_codepoints(built_site)
    # ヘッダのボタンのアイコン (メニュー、検索、テーマ切り替え) は必ずある
    assert len(used) >= 5
    assert not used - kept, f"字形のないアイコン: {sorted(used - kept)}"
    # 元のフォントの 1 割未満 (全アイコンは約 290 KiB)
    assert sum(f.stat().st_size for f in fonts) < 30 * 1024
