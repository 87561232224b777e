"""アクセシビリティ: 構築済みサイトのすべての本のページとスライドを axe-core で検査する。

- axe-core (``package.json`` で固定) を Chromium で実行し、重大度 serious・
  critical の違反と見出しの飛び (``heading-order``) をゼロにする。報告は日本語
  (axe のロケール ja)。ライトモードではすべての規則、ダークモードでは色で
  結果が変わる規則 (``axe.COLOR_RULES``) を調べる。スライドには色のモードがない。
  画像の代替テキスト、ボタンやリンクの名前、色のコントラスト、``lang`` の有無
  などは axe が調べるので、手書きの検査は持たない。
- axe が調べないものだけを手で調べる: ``<html lang="ja">`` であること
  (axe は値が正しい言語タグかしか見ない) と、h1 が 1 ページに 1 つであること。
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dlbook_tools.checks import axe, site

pytestmark = pytest.mark.site


def _decks(html: Path) -> list[str]:
    return sorted(
        p.relative_to(html).as_posix()
        for p in (html / "slides").glob("*.html")
    )


@pytest.fixture(scope="module")
def axe_script() -> str:
    return axe.axe_script()


@pytest.mark.parametrize("mode", axe.MODES)
def test_axe_finds_no_serious_problems(
    built_site: Path, site_url: str, browser: Any, axe_script: str, mode: str
) -> None:
    # スライドには色のモードがない (CSS に prefers-color-scheme がない) ので
    # ライトだけで調べる。ダークモードの本のページは、色で結果が変わる規則だけ
    decks = _decks(built_site)
    assert len(decks) >= 3, "スライドがない"
    for rel in decks:
        css = (built_site / rel).read_text("utf-8")
        assert "prefers-color-scheme" not in css, f"{rel} にダークモードがある"
    pages = site.pages(built_site) + (decks if mode == "light" else [])
    rules = axe.COLOR_RULES if mode == "dark" else ()
    found: list[axe.Violation] = []
    for rel in pages:
        context, page = axe.open_page(browser, f"{site_url}/{rel}", mode)
        try:
            if not rel.startswith("slides/"):
                theme = page.evaluate("document.documentElement.dataset.theme")
                assert theme == mode, f"{rel}: テーマが {theme} のまま"
            found += axe.problems(axe.run(page, axe_script, rules), rel, mode)
        finally:
            context.close()
    assert not found, (
        f"axe-core {axe.version()} の違反 ({mode}、{len(found)} 件):\n"
        + "\n".join(v.describe() for v in found)
    )


def test_axe_reports_in_japanese_and_catches_problems(
    tmp_path: Path, browser: Any, axe_script: str
) -> None:
    """壊れたページで、axe が違反を日本語で報告し、検査がそれを拾うこと。"""
    (tmp_path / "bad.html").write_text(
        '<html><body><main><h1>章</h1><h3>節</h3><img src="a.png">'
        '<p style="color:#bbb;background:#fff">薄い字</p>'
        "<button></button></main></body></html>",
        encoding="utf-8",
    )
    page = browser.new_page()
    try:
        page.goto((tmp_path / "bad.html").as_uri())
        found = axe.problems(axe.run(page, axe_script), "bad.html", "light")
        colour_only = axe.problems(
            axe.run(page, axe_script, axe.COLOR_RULES), "bad.html", "dark"
        )
    finally:
        page.close()
    assert {v.rule for v in colour_only} == {"color-contrast"}
    rules = {v.rule for v in found}
    assert {
        "image-alt",
        "button-name",
        "color-contrast",
        "html-has-lang",
    } <= rules
    assert "heading-order" in rules  # moderate でも失敗にする
    alt = next(v for v in found if v.rule == "image-alt")
    assert alt.impact == "critical"
    assert any("\u3040" <= ch <= "\u30ff" for ch in alt.help), alt.help


def test_every_page_declares_japanese(built_site: Path) -> None:
    pages = site.pages(built_site)
    assert pages
    wrong = [rel for rel in pages if site.language(built_site, rel) != "ja"]
    assert not wrong, f'<html lang="ja"> がないページ: {wrong}'


def test_one_h1_per_page(built_site: Path) -> None:
    problems = [
        f"{rel}: {p}"
        for rel in site.pages(built_site)
        for p in site.heading_problems(built_site, rel)
        if p.startswith("h1 が")
    ]
    assert not problems, "\n".join(problems)


def test_hand_checks_catch_problems(tmp_path: Path) -> None:
    """手書きの検査そのものが誤りを見つけること (壊れたページで確かめる)。"""
    (tmp_path / "bad.html").write_text(
        "<html><body><article><h1>章</h1><h1>もう 1 つ</h1></article></body></html>",
        encoding="utf-8",
    )
    assert site.heading_problems(tmp_path, "bad.html") == [
        "h1 が 2 個ある (1 個にする)"
    ]
    assert site.language(tmp_path, "bad.html") is None
