"""構築済みサイトを読者と同じように本物のブラウザで確かめる。

1 度のビルド (conftest.built_site) に対して:

- すべてのページがコンソールエラーなしに読み込まれ、localhost の外へ要求を出さない
- 数式が KaTeX で描画されている (生の ``$$`` や katex-error がない)
- 画像が読み込まれる
- 日本語で検索すると正しい章が見つかる
- 内部リンクとアンカーがすべて解決する
- 章番号が 4, 5, 6 から始まる
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
from bs4 import BeautifulSoup

pytestmark = pytest.mark.site

CHAPTERS = {
    "book/ch04_nn_basics.html": 4,
    "book/ch05_framework.html": 5,
    "book/ch06_cnn.html": 6,
}
SKIP_PAGES = {"genindex.html", "search.html"}


def _pages(html: Path) -> list[str]:
    pages = []
    for path in sorted(html.rglob("*.html")):
        rel = path.relative_to(html).as_posix()
        if rel.startswith(("_static/", "_sources/", "slides/", "_images/")):
            continue
        if (
            rel in SKIP_PAGES or rel == "index.html"
        ):  # index.html はリダイレクト
            continue
        pages.append(rel)
    return pages


def test_pages_load_without_errors_or_external_requests(
    built_site: Path, site_url: str, browser
) -> None:
    pages = _pages(built_site)
    assert set(CHAPTERS) <= set(pages)
    problems: list[str] = []
    context = browser.new_context()
    for rel in pages:
        page = context.new_page()
        errors: list[str] = []
        page.on(
            "console",
            lambda m, e=errors: m.type == "error" and e.append(m.text),
        )
        page.on("pageerror", lambda exc, e=errors: e.append(str(exc)))
        external: list[str] = []

        def route(r, ext=external) -> None:
            host = urlparse(r.request.url).hostname
            if (
                r.request.url.startswith(("data:", "blob:"))
                or host == "127.0.0.1"
            ):
                r.continue_()
            else:
                ext.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        failed: list[str] = []
        page.on(
            "requestfailed",
            lambda req, f=failed, ext=external: (
                req.url not in ext and f.append(req.url)
            ),
        )
        page.goto(f"{site_url}/{rel}", wait_until="networkidle")
        broken_imgs = page.eval_on_selector_all(
            "img",
            "els => els.filter(i => !i.complete || i.naturalWidth === 0)"
            ".map(i => i.src)",
        )
        for kind, items in (
            ("console", errors),
            ("external", external),
            ("failed", failed),
            ("image", broken_imgs),
        ):
            problems += [f"{rel}: {kind}: {x}" for x in items]
        page.close()
    context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("rel", sorted(CHAPTERS))
def test_math_is_rendered(built_site: Path, rel: str) -> None:
    soup = BeautifulSoup((built_site / rel).read_text(), "html.parser")
    article = soup.select_one("article") or soup
    assert not article.select(".katex-error"), "KaTeX のエラーがある"
    assert article.select(".katex"), "KaTeX で描画された式がない"
    for hidden in article.select(".katex-mathml, pre, code, script"):
        hidden.decompose()  # MathML の注釈 (元の TeX) とコードは除く
    text = article.get_text(" ")
    for raw in ("$$", "\\begin{", "\\frac{"):
        assert raw not in text, f"描画されていない数式 {raw!r} が残っている"


@pytest.mark.parametrize("rel,number", sorted(CHAPTERS.items()))
def test_chapter_numbering(built_site: Path, rel: str, number: int) -> None:
    soup = BeautifulSoup((built_site / rel).read_text(), "html.parser")
    h1 = soup.select_one("article h1")
    assert h1 is not None
    assert h1.get_text().strip().startswith(f"{number}.")
    for h2 in soup.select("article section > section > h2")[:3]:
        assert re.match(rf"^{number}\.\d+\.", h2.get_text().strip()), (
            h2.get_text()
        )
    eqnos = [e.get_text() for e in soup.select(".eqno")]
    assert all(n.startswith(f"({number}.") for n in eqnos), eqnos


def test_html_declares_japanese(built_site: Path) -> None:
    for rel in CHAPTERS:
        soup = BeautifulSoup((built_site / rel).read_text(), "html.parser")
        assert soup.html is not None and soup.html.get("lang") == "ja"


def test_japanese_search_finds_convolution_chapter(
    site_url: str, browser
) -> None:
    page = browser.new_page()
    page.goto(f"{site_url}/search.html?q=畳み込み", wait_until="networkidle")
    page.wait_for_selector("#search-results ul.search li", timeout=15000)
    hrefs = page.eval_on_selector_all(
        "#search-results ul.search li a", "els => els.map(a => a.href)"
    )
    page.close()
    assert any("ch06_cnn" in h for h in hrefs), hrefs


def test_internal_links_and_anchors_resolve(built_site: Path) -> None:
    ids: dict[Path, set[str]] = {}

    def anchors(path: Path) -> set[str]:
        if path not in ids:
            soup = BeautifulSoup(path.read_text(), "html.parser")
            ids[path] = {t["id"] for t in soup.select("[id]")} | {
                t["name"] for t in soup.select("a[name]")
            }
        return ids[path]

    broken: list[str] = []
    for rel in _pages(built_site):
        path = built_site / rel
        soup = BeautifulSoup(path.read_text(), "html.parser")
        for a in soup.select("a[href]"):
            href = a["href"]
            if re.match(r"^(https?:|mailto:|javascript:|data:)", href):
                continue
            target = urlparse(urljoin(f"file://{path}", href))
            file = Path(unquote(target.path))
            if file.is_dir():
                file = file / "index.html"
            if not file.exists():
                broken.append(f"{rel}: {href} (ファイルがない)")
            elif target.fragment and file.suffix == ".html":
                if unquote(target.fragment) not in anchors(file):
                    broken.append(f"{rel}: {href} (アンカーがない)")
    assert not broken, "\n".join(broken)


def test_no_thebe_or_cdn_constants(built_site: Path) -> None:
    for rel in CHAPTERS:
        html = (built_site / rel).read_text()
        assert "THEBE_JS_URL" not in html
        assert "unpkg.com" not in html and "jsdelivr" not in html


def test_no_cdn_references_in_html(built_site: Path) -> None:
    offenders = []
    for rel in _pages(built_site):
        soup = BeautifulSoup((built_site / rel).read_text(), "html.parser")
        for tag in soup.select("script[src], link[href], img[src]"):
            url = tag.get("src") or tag.get("href")
            if tag.name == "link" and "stylesheet" not in (
                tag.get("rel") or []
            ):
                continue
            if re.match(r"^(https?:)?//", url):
                offenders.append(f"{rel}: {url}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("rel", sorted(CHAPTERS))
def test_cell_outputs_fit_without_horizontal_scroll(
    site_url: str, browser, rel: str
) -> None:
    """長い print の出力も、ノート PC の幅 (1280 px) で折り返して全部見える。"""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{site_url}/{rel}", wait_until="networkidle")
    wide = page.eval_on_selector_all(
        "div.cell_output pre",
        "els => els.filter(e => e.scrollWidth > e.clientWidth + 1)"
        ".map(e => e.innerText.slice(0, 80))",
    )
    page.close()
    assert not wide, f"{rel}: 横にはみ出す出力: {wide}"


@pytest.mark.parametrize("rel", sorted(CHAPTERS))
def test_equation_references_are_not_doubled(
    built_site: Path, rel: str
) -> None:
    """``{eq}`` は「式 (4.3)」と出すので、本文に「式」を重ねて書かない。"""
    soup = BeautifulSoup((built_site / rel).read_text(), "html.parser")
    text = soup.get_text()
    doubled = [m.group(0) for m in re.finditer(r"式\s*式\s*\(\d", text)]
    assert not doubled, f"{rel}: 「式 式」が {len(doubled)} か所"


def test_no_english_ui_labels(built_site: Path) -> None:
    """本文の開閉ボタンなど、テーマや拡張の英語の既定の文言が残っていない。"""
    leftovers = []
    for rel in _pages(built_site):
        html = (built_site / rel).read_text()
        leftovers += [
            f"{rel}: {s}"
            for s in (
                "Show code cell",
                "Hide code cell",
                'title="Suggest edit"',
                'title="Toggle primary sidebar"',
                'title="Toggle secondary sidebar"',
                'title="Download source file"',
                'aria-label="Color mode"',
                'title="System Settings"',
            )
            if s in html
        ]
    assert not leftovers, leftovers
