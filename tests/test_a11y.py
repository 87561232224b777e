"""アクセシビリティの基本を構築済みサイトで確かめる (すべての本のページ)。

- 画像はすべて空でない代替テキスト (``alt``) を持つ (図は ``:alt:`` で書く)
- 見出しはレベルを飛ばさない (``#`` の次に ``###`` を置かない)、h1 は 1 つ
- ``<html lang="ja">`` (章は test_site.py も確かめる。ここでは付録を含む全ページ)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dlbook_tools.checks import site

pytestmark = pytest.mark.site


def test_every_image_has_alt_text(built_site: Path) -> None:
    problems = [
        f"{rel}: {src}"
        for rel in site.pages(built_site)
        for src in site.images_without_alt(built_site, rel)
    ]
    assert not problems, "alt (代替テキスト) のない画像:\n" + "\n".join(
        problems
    )


def test_headings_do_not_skip_levels(built_site: Path) -> None:
    problems = [
        f"{rel}: {p}"
        for rel in site.pages(built_site)
        for p in site.heading_problems(built_site, rel)
    ]
    assert not problems, "\n".join(problems)


def test_every_page_declares_japanese(built_site: Path) -> None:
    pages = site.pages(built_site)
    assert pages
    wrong = [rel for rel in pages if site.language(built_site, rel) != "ja"]
    assert not wrong, f'<html lang="ja"> がないページ: {wrong}'


def test_checks_catch_problems(tmp_path: Path) -> None:
    """検査そのものが誤りを見つけること (壊れたページで確かめる)。"""
    (tmp_path / "bad.html").write_text(
        '<html><body><article><h1>章</h1><h3>節</h3><img src="a.png" alt=" ">'
        "</article></body></html>",
        encoding="utf-8",
    )
    assert site.images_without_alt(tmp_path, "bad.html") == ["a.png"]
    assert site.heading_problems(tmp_path, "bad.html") == [
        "h1 の次に h3: 「節」"
    ]
    assert site.language(tmp_path, "bad.html") is None
