"""スライドを本物のブラウザ (Debian の Chromium) で 1 枚ずつ描いて確かめる。

小さな章 (tests/fixtures/slides) から md・html・pdf・pptx を実際に marp で作り
(root で ``unshare`` が使えればネットワークのない名前空間で)、HTML のデッキの
すべてのスライドについて:

- 内容が枠 (1280×720 からフッタの帯を除いた範囲) からはみ出していない
- 数式が KaTeX で描かれている (生の ``$`` も ``.katex-error`` もない)
- 画像がすべて読み込まれている (naturalWidth > 0)
- 文字が Noto Sans CJK JP で描かれている (CDP の CSS.getPlatformFontsForNode)。
  中国語・韓国語の字形 (Noto Sans CJK SC など) への落ち込みは失敗
- コードが小さすぎない (自動縮小後も 16px 以上)
- http(s) への要求が 1 つもない

PDF のページ数 (pypdf) と両方の PPTX のスライド数 (python-pptx) がスライドの枚数と同じ。
編集できる PPTX は、各スライドの題がタイトルの文字として見つかり、ノートがあり、
描き戻すと図形がスライドの中に収まる。配布資料は 4 枚で 1 ページ、演習シートは
解答なし・解答つきの 2 つ。4:3 のデッキも同じ検査をする。
本のビルド (``_build/slides``) があれば本物の章でも同じ検査をし、さらに
内容のスライドすべてに話者ノートがあることを確かめる。
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dlbook_tools import slides

pytestmark = pytest.mark.site

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "slides"
JP_FONTS = {"Noto Sans CJK JP", "Noto Sans Mono CJK JP"}
# 日本語の文字が他の言語の CJK フォントで描かれたら失敗 (字形が違う)
WRONG_CJK = (
    "CJK SC",
    "CJK TC",
    "CJK HK",
    "CJK KR",
    "Droid Sans Fallback",
    "WenQuanYi",
)
TEXT_SELECTOR = (
    ":is(h1, h2, h3, p, li, td, th, header, footer, pre, code, span.caption)"
)

INSPECT_JS = """
(index) => {
  const svg = document.querySelectorAll('svg[data-marpit-svg]')[index];
  const section = svg.querySelector('section');
  const frame = section.getBoundingClientRect();
  const scale = frame.width / section.offsetWidth;
  const problems = [];
  if (!svg.classList.contains('bespoke-marp-active'))
    problems.push('スライドが表示されていない');
  // はみ出し: フッタと頁番号の帯 (下 44px) より上、左右は枠の中
  const bottom = frame.bottom - 44 * scale, tol = 1;
  for (const el of section.querySelectorAll('*')) {
    // KaTeX の内部 (根号の SVG など) は自分で切り抜くので、.katex の外枠だけを見る
    if (el.closest('header, footer') || el.parentElement.closest('.katex')) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.bottom > bottom + tol || r.right > frame.right + tol ||
        r.left < frame.left - tol || r.top < frame.top - tol) {
      const text = (el.textContent || el.getAttribute('src') || '').trim();
      problems.push(`はみ出し: <${el.localName}> ${text.slice(0, 40)}`);
      break;
    }
  }
  if (section.scrollHeight > section.clientHeight + 1 ||
      section.scrollWidth > section.clientWidth + 1)
    problems.push('はみ出し: section がスクロールする');
  for (const pre of section.querySelectorAll('pre')) {
    if (pre.scrollWidth > pre.clientWidth + 1)
      problems.push('はみ出し: コードの行が長すぎる');
    const code = pre.querySelector('code') || pre;
    const px = parseFloat(getComputedStyle(code).fontSize);
    const shrink = pre.getBoundingClientRect().width / (pre.offsetWidth * scale || 1);
    if (px * shrink < 16)
      problems.push(`コードが小さすぎる: ${(px * shrink).toFixed(1)}px`);
  }
  // 数式
  if (section.querySelector('.katex-error'))
    problems.push('KaTeX のエラー: ' +
                  section.querySelector('.katex-error').textContent);
  const walker = document.createTreeWalker(section, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement.closest('code, pre, .katex')) continue;
    if (n.textContent.includes('$'))
      problems.push('描かれていない数式: ' + n.textContent.trim().slice(0, 60));
  }
  // 画像
  for (const img of section.querySelectorAll('img'))
    if (!img.complete || img.naturalWidth === 0)
      problems.push('画像がない: ' + img.getAttribute('src'));
  // 本文のフォント指定
  const family = getComputedStyle(section).fontFamily;
  if (!family.startsWith('"Noto Sans CJK JP"'))
    problems.push('font-family が Noto Sans CJK JP でない: ' + family);
  return {problems, katex: section.querySelectorAll('.katex').length,
          images: section.querySelectorAll('img').length,
          lang: section.getAttribute('lang')};
}
"""


def _offline_prefix() -> list[str]:
    """root で unshare が使えれば、ネットワークのない名前空間で marp を走らせる。"""
    unshare = shutil.which("unshare")
    if not unshare or os.geteuid() != 0:
        return []
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True)
    return [unshare, "-n"] if probe.returncode == 0 else []


ALL_FORMATS = "md,html,pdf,pptx,notes,editable,handout,sheets"


def _build(
    out: Path,
    chapters: list[Path],
    executed: Path,
    overrides: Path,
    formats: str = ALL_FORMATS,
) -> dict:
    cmd = [
        *_offline_prefix(),
        sys.executable,
        "-m",
        "dlbook_tools.slides",
        "--executed",
        str(executed),
        "--overrides",
        str(overrides),
        "--out",
        str(out),
        "--html",
        str(FIXTURES / "html"),
        "--formats",
        formats,
        "--no-publish",
    ]
    for chapter in chapters:
        cmd += ["--chapter", str(chapter)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def fixture_decks(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("slides")
    manifest = _build(
        out,
        [FIXTURES / "book" / "ch07_demo.md"],
        FIXTURES / "jupyter_execute",
        FIXTURES / "overrides",
    )
    return out, manifest


@pytest.fixture(scope="session")
def fixture_decks_4x3(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict]:
    """講師の上書きで 4:3 にしたデッキ (フッターとロゴも)。"""
    overrides = tmp_path_factory.mktemp("ov43")
    (overrides / "ch07.md").write_text(
        "---\nsize: '4:3'\nfooter: テスト大学 第3回\n---\n", encoding="utf-8"
    )
    out = tmp_path_factory.mktemp("slides43")
    manifest = _build(
        out,
        [FIXTURES / "book" / "ch07_demo.md"],
        FIXTURES / "jupyter_execute",
        overrides,
        "md,html,pdf,editable",
    )
    return out, manifest


@pytest.fixture(scope="session")
def real_decks(request: pytest.FixtureRequest) -> tuple[Path, dict]:
    """本のビルド (conftest の 1 度きりの ``build all``) が作ったスライド。"""
    executed = ROOT / "_build" / "jupyter_execute"
    if not (executed / "book" / "ch04_nn_basics.ipynb").exists():
        pytest.skip("本の実行結果がありません (make html の後で走る)")
    # 本とスライドを最新にする (DLBOOK_SKIP_BUILD=1 なら既存のまま)
    request.getfixturevalue("built_site")
    out = ROOT / "_build" / "slides"
    manifest = out / "manifest.json"
    if not manifest.exists():
        pytest.fail("_build/slides/manifest.json がありません (make slides)")
    return out, json.loads(manifest.read_text(encoding="utf-8"))


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.requests = []  # type: ignore[attr-defined]
    page.on("request", lambda r: page.requests.append(r.url))
    # ネットワークには出さない (出ようとしたら記録して止める)
    page.route("http*://**", lambda route: route.abort())
    yield page
    context.close()


def _fonts(cdp: Any) -> list[tuple[str, list[dict]]]:
    root = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"][
        "nodeId"
    ]
    selector = f"svg.bespoke-marp-active section {TEXT_SELECTOR}"
    ids = cdp.send(
        "DOM.querySelectorAll", {"nodeId": root, "selector": selector}
    )
    result = []
    for node in ids["nodeIds"]:
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})[
            "fonts"
        ]
        name = cdp.send("DOM.describeNode", {"nodeId": node})["node"][
            "localName"
        ]
        result.append((name, fonts))
    return result


def check_deck(page: Any, html: Path, count: int) -> dict[str, int]:
    """デッキの全スライドを描いて検査する。問題はまとめて 1 つの assert で出す。"""
    problems: list[str] = []
    totals = {"katex": 0, "images": 0}
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    for index in range(count):
        page.goto(f"{html.as_uri()}#{index + 1}")
        page.wait_for_function(
            "i => document.querySelectorAll('svg[data-marpit-svg]')[i]"
            ".classList.contains('bespoke-marp-active')",
            arg=index,
        )
        page.evaluate("document.fonts.ready")
        page.wait_for_function(
            "() => [...document.images].every(i => i.complete)", timeout=10000
        )
        info = page.evaluate(INSPECT_JS, index)
        where = f"{html.name} スライド {index + 1}"
        problems += [f"{where}: {p}" for p in info["problems"]]
        if info["lang"] != "ja":
            problems.append(f"{where}: lang が ja でない ({info['lang']})")
        totals["katex"] += info["katex"]
        totals["images"] += info["images"]
        for name, fonts in _fonts(cdp):
            used = [f["familyName"] for f in fonts if f["glyphCount"]]
            wrong = [f for f in used if any(w in f for w in WRONG_CJK)]
            main = (
                max(fonts, key=lambda f: f["glyphCount"])["familyName"]
                if used
                else ""
            )
            if wrong or (used and main not in JP_FONTS):
                problems.append(f"{where}: <{name}> のフォント {used}")
    total = page.evaluate(
        "document.querySelectorAll('svg[data-marpit-svg]').length"
    )
    if total != count:
        problems.append(f"{html.name}: スライドが {total} 枚 (期待 {count})")
    external = [u for u in page.requests if u.startswith(("http:", "https:"))]
    problems += [f"{html.name}: 外部への要求 {u}" for u in external]
    assert not problems, "\n".join(problems)
    return totals


# ---------------------------------------------------------------- 小さな章のデッキ


def test_every_fixture_slide_renders(
    page: Any, fixture_decks: tuple[Path, dict]
) -> None:
    out, manifest = fixture_decks
    totals = check_deck(
        page, out / "ch07_demo.html", manifest["ch07_demo"]["slides"]
    )
    assert totals["katex"] >= 3  # 数式が本当に描かれている
    assert totals["images"] == 1  # :figure: (2 枚目は上書きで削除)


def test_pdf_has_one_page_per_slide(fixture_decks: tuple[Path, dict]) -> None:
    from pypdf import PdfReader

    out, manifest = fixture_decks
    reader = PdfReader(out / "ch07_demo.pdf")
    assert len(reader.pages) == manifest["ch07_demo"]["slides"]
    box = reader.pages[0].mediabox
    assert abs(float(box.width) / float(box.height) - 16 / 9) < 0.01
    text = reader.pages[5].extract_text()  # パーセプトロン
    assert "60,000" in text and "97.3" in text


def test_four_by_three_deck_renders(
    page: Any, fixture_decks_4x3: tuple[Path, dict]
) -> None:
    from pptx import Presentation
    from pypdf import PdfReader

    out, manifest = fixture_decks_4x3
    assert manifest["ch07_demo"]["size"] == "4:3"
    check_deck(page, out / "ch07_demo.html", manifest["ch07_demo"]["slides"])
    box = PdfReader(out / "ch07_demo.pdf").pages[0].mediabox
    assert abs(float(box.width) / float(box.height) - 4 / 3) < 0.01
    prs = Presentation(str(out / "ch07_demo.editable.pptx"))
    assert abs(prs.slide_width / prs.slide_height - 4 / 3) < 0.01
    check_editable(out, "ch07_demo", manifest["ch07_demo"]["slides"])
    footer = PdfReader(out / "ch07_demo.pdf").pages[2].extract_text()
    # PDF の文字は互換漢字 (⼤) と空白が混じるので正規化して比べる
    assert "テスト大学第3回" in unicodedata.normalize("NFKC", footer).replace(
        " ", ""
    )


def check_editable(out: Path, name: str, count: int) -> None:
    """編集できる PPTX: 枚数、題が文字で見つかる、ノート、描き戻した配置。"""
    from pptx import Presentation

    from dlbook_tools.slides import pptx_preview

    meta = json.loads((out / f"{name}.pages.json").read_text("utf-8"))
    deck = Presentation(str(out / f"{name}.editable.pptx"))
    assert len(deck.slides) == count
    problems = []
    for k, (slide, info) in enumerate(
        zip(deck.slides, meta["pages"], strict=True), 1
    ):
        title = slide.shapes.title
        if title is None or title.text_frame.text != info["title"]:
            got = title.text_frame.text if title is not None else None
            problems.append(f"{name} {k}: 題 {got!r} != {info['title']!r}")
        notes = (
            slide.notes_slide.notes_text_frame.text
            if slide.has_notes_slide
            else ""
        )
        if notes.strip() != info["notes"].strip():
            problems.append(f"{name} {k}: ノートが違う")
    problems += pptx_preview.render(out / f"{name}.editable.pptx")
    assert not problems, "\n".join(problems)


def test_editable_pptx_has_titles_as_text_and_notes(
    fixture_decks: tuple[Path, dict],
) -> None:
    from pptx import Presentation

    out, manifest = fixture_decks
    check_editable(out, "ch07_demo", manifest["ch07_demo"]["slides"])
    deck = Presentation(str(out / "ch07_demo.editable.pptx"))
    texts = [
        shape.text_frame.text
        for slide in deck.slides
        for shape in slide.shapes
        if shape.has_text_frame
    ]
    # 箇条書き・コード・表も文字 (画像ではない)
    assert any("精度は 97.35 %" in t for t in texts)
    assert any("def sigmoid(x: np.ndarray)" in t for t in texts)
    pictures = [
        shape
        for slide in deck.slides
        for shape in slide.shapes
        if shape.shape_type == 13
    ]
    assert pictures  # 図と別行立ての数式は画像


def _pdf_text(path: Path) -> str:
    """PDF の文字 (互換漢字 ⼤ などを NFKC で戻す)。"""
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(path).pages)
    return unicodedata.normalize("NFKC", text)


def test_handout_and_exercise_sheets(fixture_decks: tuple[Path, dict]) -> None:
    from pypdf import PdfReader

    out, manifest = fixture_decks
    n = manifest["ch07_demo"]["slides"]
    handout = PdfReader(out / "ch07_demo.handout.pdf")
    assert len(handout.pages) == math.ceil(n / 4)  # 4 枚で 1 ページ
    assert "最初に章全体の流れを話す" in _pdf_text(
        out / "ch07_demo.handout.pdf"
    )
    exercises = _pdf_text(out / "ch07_demo.exercises.pdf")
    solutions = _pdf_text(out / "ch07_demo.solutions.pdf")
    assert "練習 7.1" in exercises and "練習 7.2" in exercises
    assert "解答の本文" not in exercises  # 学生用には解答がない
    assert "解答の本文" in solutions and "練習 7.2" in solutions
    notes = (out / "ch07_demo.notes.txt").read_text(encoding="utf-8")
    assert "最初に章全体の流れを話す。" in notes


def test_pptx_has_one_slide_per_slide_with_notes(
    fixture_decks: tuple[Path, dict],
) -> None:
    from pptx import Presentation

    out, manifest = fixture_decks
    deck = Presentation(str(out / "ch07_demo.pptx"))
    assert len(deck.slides) == manifest["ch07_demo"]["slides"]
    notes = [
        s.notes_slide.notes_text_frame.text
        for s in deck.slides
        if s.has_notes_slide
    ]
    assert any("最初に章全体の流れを話す" in n for n in notes)


def test_html_deck_references_nothing_remote(
    fixture_decks: tuple[Path, dict],
) -> None:
    out, _ = fixture_decks
    html = (out / "ch07_demo.html").read_text(encoding="utf-8")
    for needle in (
        'src="http',
        "src='http",
        'href="http',
        "url(http",
        "url('http",
        'url("http',
    ):
        assert needle not in html, needle
    fonts = out / slides.KATEX_FONTS
    assert "assets/katex/fonts/KaTeX_Main-Regular.woff2" in html
    assert (fonts / "KaTeX_Main-Regular.woff2").exists()


BROKEN = """---
marp: true
theme: dlbook
lang: ja
paginate: true
math: katex
---

## はみ出す

{bullets}

---

## 数式の誤り

$$
\\frac{{1}}{{
$$

---

## 画像がない

![なし](nowhere.png)

---

## 中国語のフォント

<p style="font-family: 'Noto Sans CJK SC'">中国語の字形で描かれた日本語</p>
"""


def test_checker_catches_broken_slides(page: Any, tmp_path: Path) -> None:
    """検査そのものの検査: はみ出し・数式の誤り・画像なし・別言語の字形を見つける。"""
    bullets = "\n".join(f"- 項目 {k}" for k in range(30))
    md = tmp_path / "broken.md"
    md.write_text(BROKEN.format(bullets=bullets), encoding="utf-8")
    slides.copy_katex_fonts(tmp_path)
    slides.run_marp([md], ["html"], tmp_path)
    with pytest.raises(AssertionError) as info:
        check_deck(page, tmp_path / "broken.html", 4)
    message = str(info.value)
    assert "スライド 1: はみ出し" in message
    assert "スライド 2: KaTeX のエラー" in message
    assert "スライド 3: 画像がない: nowhere.png" in message
    assert "スライド 4: <p> のフォント ['Noto Sans CJK SC']" in message


# ---------------------------------------------------------------- 本物の章


def test_real_chapter_decks(page: Any, real_decks: tuple[Path, dict]) -> None:
    from pptx import Presentation
    from pypdf import PdfReader

    out, manifest = real_decks
    assert "ch04_nn_basics" in manifest
    for name, info in manifest.items():
        check_deck(page, out / f"{name}.html", info["slides"])
        assert len(PdfReader(out / f"{name}.pdf").pages) == info["slides"]
        assert (
            len(Presentation(str(out / f"{name}.pptx")).slides)
            == info["slides"]
        )
        check_editable(out, name, info["slides"])
        handout = PdfReader(out / f"{name}.handout.pdf")
        assert len(handout.pages) == math.ceil(info["slides"] / 4)
        for sheet in ("exercises", "solutions"):
            assert len(PdfReader(out / f"{name}.{sheet}.pdf").pages) >= 1


def content_slides_without_notes(out: Path, name: str) -> list[str]:
    """話者ノートのない内容のスライド (図だけを次のページに出した続きは除く)。"""
    pages = json.loads((out / f"{name}.pages.json").read_text("utf-8"))[
        "pages"
    ]
    missing = []
    for k, page in enumerate(pages):
        continued = k > 0 and pages[k - 1]["title"] == page["title"]
        if page["kind"] == "content" and not continued and not page["notes"]:
            missing.append(f"{name} {k + 1}: {page['title']}")
    return missing


def test_every_content_slide_has_notes(real_decks: tuple[Path, dict]) -> None:
    """講師が話すこと・問うこと・学生がつまずく所を、内容のスライドすべてに書く。"""
    out, manifest = real_decks
    missing = [
        m for name in manifest for m in content_slides_without_notes(out, name)
    ]
    assert not missing, (
        f"ノートのないスライド {len(missing)} 枚:\n" + "\n".join(missing)
    )


def test_notes_check_finds_a_slide_without_notes(
    fixture_decks: tuple[Path, dict],
) -> None:
    """検査そのものの検査: 小さな章の「活性化関数」にはノートがない。"""
    out, _ = fixture_decks
    missing = content_slides_without_notes(out, "ch07_demo")
    assert "ch07_demo 7: 活性化関数" in missing
    assert not any("この章のねらい" in m for m in missing)


def test_preview_builds_the_chapter_slides_where_the_page_links(
    tmp_path: Path,
) -> None:
    """make preview の後半: プレビューの実行結果からその章のスライドを作り、
    章のページのリンク (``html/slides/<章>.html``) が指す所に置く。"""
    from dlbook_tools.preview import preview_slides

    build = tmp_path / "_build"
    shutil.copytree(FIXTURES / "jupyter_execute", build / "jupyter_execute")
    shutil.copy(FIXTURES / "dlbook-numbers.json", build)
    (build / "html").mkdir()
    assert preview_slides(FIXTURES / "book" / "ch07_demo.md", build) == 0
    deck = build / "html" / "slides" / "ch07_demo.html"
    assert deck.exists() and (build / "slides" / "ch07_demo.md").exists()
    assert (build / "html" / "slides" / "ch07_demo.notes.txt").exists()


SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="600" height="400" '
    'viewBox="0 0 600 400"><rect x="10" y="10" width="580" height="380" '
    'fill="#dbeafe"/><circle cx="300" cy="200" r="120" fill="#1d4ed8"/></svg>'
)


def test_editable_pptx_places_svg_figures_as_pictures(tmp_path: Path) -> None:
    """概念図 (SVG の glue) は python-pptx が読めないので、ブラウザが描いた画像を置く。"""
    from pptx import Presentation

    fixtures = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, fixtures)
    sidecar = fixtures / "jupyter_execute" / "ch07_demo.glue.json"
    glue = json.loads(sidecar.read_text(encoding="utf-8"))
    glue["fig-ch7-activation"]["data"] = {
        "image/svg+xml": SVG,
        "text/plain": "<Figure>",
    }
    sidecar.write_text(json.dumps(glue), encoding="utf-8")
    out = tmp_path / "out"
    manifest = _build(
        out,
        [fixtures / "book" / "ch07_demo.md"],
        fixtures / "jupyter_execute",
        tmp_path / "no-overrides",
        "md,html,editable",
    )
    assert (out / "ch07_demo" / "fig-ch7-activation.svg").exists()
    check_editable(out, "ch07_demo", manifest["ch07_demo"]["slides"])
    deck = Presentation(str(out / "ch07_demo.editable.pptx"))
    figure_slide = deck.slides[5]  # 活性化関数 (本文 + 図)
    assert figure_slide.shapes.title.text_frame.text == "活性化関数"
    pictures = [s for s in figure_slide.shapes if s.shape_type == 13]
    assert len(pictures) == 1 and pictures[0].image.content_type == "image/png"
