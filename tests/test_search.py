"""日本語の検索で複合語が見つかることを、本物のブラウザで確かめる。

- 小さな本 (tests/fixtures/search_ja) で仕組みを確かめる: 本文では「各畳」「込み」
  「層」のように分かち書きされた「畳み込み層」も、索引に合わせて分けた検索語で見つかる。
  拡張を外した Sphinx の既定では見つからないことも確かめる (検査が意味を持つ証拠)。
- 本のサイトで: 畳み込み層 → 第6章、誤差逆伝播法 → 第4章。
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlbook_tools.browser import serve_directory

FIXTURE = Path(__file__).parent / "fixtures" / "search_ja"


def _search(browser, base: str, query: str) -> list[str]:
    page = browser.new_page()
    try:
        page.goto(f"{base}/search.html?q={query}", wait_until="networkidle")
        page.wait_for_function(
            "() => { const s = document.querySelector('#search-results h2');"
            " return s && !/検索中|Searching/.test(s.textContent); }",
            timeout=15000,
        )
        return page.eval_on_selector_all(
            "#search-results ul.search li a", "els => els.map(a => a.href)"
        )
    finally:
        page.close()


def _build_fixture(out: Path, shim: bool) -> Path:
    env = {**os.environ, "DLBOOK_SEARCH_SHIM": "1" if shim else "0"}
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "-b",
        "html",
        "-q",
        "-W",
        str(FIXTURE),
        str(out),
    ]
    subprocess.run(cmd, check=True, env=env)
    return out


@pytest.fixture(scope="module")
def fixture_sites(tmp_path_factory) -> Iterator[dict[bool, str]]:
    root = tmp_path_factory.mktemp("search_ja")
    with (
        serve_directory(_build_fixture(root / "shim", True)) as with_shim,
        serve_directory(_build_fixture(root / "plain", False)) as plain,
    ):
        yield {True: with_shim, False: plain}


@pytest.mark.parametrize(
    "query,page",
    [
        ("畳み込み層", "conv.html"),
        ("誤差逆伝播法", "backprop.html"),
        ("活性化関数", "other.html"),
        ("特徴マップ", "conv.html"),
    ],
)
def test_fixture_compound_words_are_found(
    fixture_sites, browser, query, page
) -> None:
    hrefs = _search(browser, fixture_sites[True], query)
    assert any(h.split("?")[0].endswith(page) for h in hrefs), (query, hrefs)


def test_fixture_without_the_shim_misses_compound_words(
    fixture_sites, browser
) -> None:
    """Sphinx の既定の日本語検索は検索語を分けないので、複合語を見つけられない。"""
    assert _search(browser, fixture_sites[False], "畳み込み層") == []
    assert _search(browser, fixture_sites[False], "誤差逆伝播法") == []


def test_fixture_unrelated_query_finds_nothing(fixture_sites, browser) -> None:
    assert _search(browser, fixture_sites[True], "再帰型ネットワーク") == []


@pytest.mark.site
@pytest.mark.parametrize(
    "query,chapter",
    [("畳み込み層", "ch06_cnn"), ("誤差逆伝播法", "ch04_nn_basics")],
)
def test_book_search_finds_compound_words(
    site_url, browser, query, chapter
) -> None:
    hrefs = _search(browser, site_url, query)
    assert any(chapter in h for h in hrefs), (query, hrefs)
