"""Marp の HTML デッキをブラウザで 1 枚ずつ描き、編集できる PPTX と配布資料を作る。

**編集できる PPTX** (``<章>.editable.pptx``): 見出しはタイトルのプレースホルダ、
箇条書き・段落・キャプション・表・コードは本物の文字、図は元の画像、
別行立ての数式は KaTeX が描いた画像 (PowerPoint の数式にはできないため)、
行内の数式は KaTeX が描いた文字 (Unicode)、話者ノートは PPTX のノート。
どの要素も、ブラウザが描いた位置と大きさのまま置く (1 CSS px = 9525 EMU)。

Marp の ``--pptx-editable`` は LibreOffice (Debian で数百 MB、CI が遅い) を要し、
その変換は PDF を経るので段組みと数式がずれる。ここでは Marp が描いた HTML の
配置をそのまま写すので、見た目は HTML・PDF と同じで、文字は編集できる。

**配布資料** (``<章>.handout.pdf``): 各スライドの画像と話者ノートを A4 に 4 枚ずつ
並べた HTML を Chromium で印刷する。

**画像の PPTX** (``<章>.pptx``): 各ページが、ブラウザが 2 倍の解像度で描いた
スライド 1 枚の画像と話者ノート (見た目は HTML・PDF と同じ)。Marp の ``--pptx``
と同じものだが、同じ描画から撮るので、デッキをもう一度描き直さない。
"""

from __future__ import annotations

import html
import io
import json
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from dlbook_tools.browser import CHROMIUM, CHROMIUM_ARGS

EMU_PER_PX = 9525
SIZES = {"16:9": (1280, 720), "4:3": (960, 720)}

#: 表示中のスライドの要素と位置を集める (CSS px、スライドの左上が原点)
COLLECT_JS = """
(index) => {
  const svg = document.querySelectorAll('svg[data-marpit-svg]')[index];
  const section = svg.querySelector('section');
  const frame = section.getBoundingClientRect();
  const scale = frame.width / section.offsetWidth;
  const box = el => {
    const r = el.getBoundingClientRect();
    return {x: (r.left - frame.left) / scale, y: (r.top - frame.top) / scale,
            w: r.width / scale, h: r.height / scale};
  };
  const style = el => {
    const s = getComputedStyle(el);
    return {size: parseFloat(s.fontSize) / scale * scale, color: s.color,
            weight: s.fontWeight, align: s.textAlign};
  };
  // 行内の数式は KaTeX が描いた文字 (MathML の写しは読まない)
  const text = el => {
    let out = '';
    for (const n of el.childNodes) {
      if (n.nodeType === 3) out += n.textContent;
      else if (n.nodeType === 1) {
        if (n.matches('ul, ol, .katex-mathml')) continue;
        if (n.matches('br')) { out += '\\n'; continue; }
        if (n.matches('.katex')) {
          out += (n.querySelector('.katex-html') || n).textContent; continue;
        }
        out += text(n);
      }
    }
    return out;
  };
  const items = [];
  const seen = new Set();
  const walk = (el, depth) => {
    for (const c of el.children) {
      if (seen.has(c)) continue;
      if (c.matches('header, footer')) {
        items.push({type: c.localName, text: c.textContent.trim(), box: box(c),
                    style: style(c)});
      } else if (c.matches('h1, h2, h3')) {
        items.push({type: c.localName === 'h3' ? 'p' : 'title',
                    text: text(c).trim(), box: box(c), style: style(c)});
      } else if (c.matches('ul, ol')) {
        const lis = [];
        const collect = (list, level) => {
          for (const li of list.children) {
            if (li.localName !== 'li') continue;
            const marker = getComputedStyle(li).listStyleType;
            lis.push({text: text(li).trim(), level, style: style(li), box: box(li),
                      marker: marker === 'none' ? 'none'
                              : (list.localName === 'ol' ? 'number' : 'bullet')});
            for (const sub of li.querySelectorAll(':scope > ul, :scope > ol'))
              collect(sub, level + 1);
          }
        };
        collect(c, 0);
        const columns = parseInt(getComputedStyle(c).columnCount) || 1;
        items.push({type: 'list', items: lis, box: box(c), columns});
      } else if (c.matches('pre, marp-pre')) {
        // 自動縮小 (marp-auto-scaling) の後の大きさで文字の大きさを決める
        const code = c.querySelector('code') || c;
        const s = style(code);
        const shrink = code.getBoundingClientRect().width / (code.offsetWidth * scale || 1);
        s.size = s.size * (shrink > 0 && shrink < 1 ? shrink : 1);
        items.push({type: 'code', text: code.innerText.replace(/\\n$/, ''), box: box(c),
                    style: s});
      } else if (c.matches('table')) {
        const rows = [...c.rows].map(r => [...r.cells].map(td => text(td).trim()));
        items.push({type: 'table', rows, box: box(c), style: style(c.rows[0].cells[0])});
      } else if (c.matches('.katex-display, .katex-block')) {
        items.push({type: 'math', box: box(c)});
      } else if (c.matches('img')) {
        items.push({type: 'image', src: c.src, box: box(c)});
      } else if (c.matches('p') && c.querySelector(':scope > .katex-display')) {
        items.push({type: 'math', box: box(c)});
      } else if (c.matches('p') && c.children.length === 1 && c.firstElementChild.matches('img')
                 && !c.textContent.trim()) {
        items.push({type: 'image', src: c.firstElementChild.src, box: box(c.firstElementChild)});
      } else if (c.matches('p') && c.textContent.trim()) {
        items.push({type: 'p', text: text(c).trim(), box: box(c), style: style(c),
                    cls: c.className});
      } else if (c.matches('div, figure, section, blockquote, ol.toc')) {
        walk(c, depth + 1);
      }
    }
  };
  walk(section, 0);
  return {items, pagination: section.getAttribute('data-marpit-pagination') || '',
          background: getComputedStyle(section).backgroundColor};
}
"""


def _rgb(css: str) -> tuple[int, int, int] | None:
    import re

    m = re.match(r"rgba?\((\d+),\s*(\d+),\s*(\d+)", css or "")
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def _emu(px: float) -> int:
    return round(px * EMU_PER_PX)


def _style_run(run: Any, style: dict[str, Any], mono: bool = False) -> None:
    from pptx.dml.color import RGBColor
    from pptx.util import Pt

    font = run.font
    font.size = Pt(max(6.0, float(style.get("size", 24)) * 0.75))
    font.name = "Noto Sans Mono CJK JP" if mono else "Noto Sans CJK JP"
    if str(style.get("weight", "400")) in ("600", "700", "800", "900", "bold"):
        font.bold = True
    color = _rgb(style.get("color", ""))
    if color:
        font.color.rgb = RGBColor(*color)


def _bullet(paragraph: Any, level: int, ordered: bool, size_px: float) -> None:
    """段落に本物の箇条書きの記号を付ける (PowerPoint で箇条書きとして編集できる)。"""
    from pptx.oxml.ns import qn

    p_pr = paragraph._p.get_or_add_pPr()
    indent = _emu(size_px * 1.2)
    p_pr.set("marL", str(indent * (level + 1)))
    p_pr.set("indent", str(-indent))
    if ordered:
        bu = p_pr.makeelement(qn("a:buAutoNum"), {"type": "arabicPeriod"})
    else:
        bu = p_pr.makeelement(
            qn("a:buChar"), {"char": "•" if level == 0 else "–"}
        )
    p_pr.append(bu)


def _textbox(slide: Any, box: dict[str, float], pad: float = 0) -> Any:
    from pptx.enum.text import MSO_AUTO_SIZE

    shape = slide.shapes.add_textbox(
        _emu(box["x"] - pad),
        _emu(box["y"]),
        _emu(box["w"] + 2 * pad),
        _emu(box["h"]),
    )
    tf = shape.text_frame
    tf.word_wrap = True
    tf.auto_size = MSO_AUTO_SIZE.NONE
    for side in ("margin_left", "margin_right", "margin_top", "margin_bottom"):
        setattr(tf, side, 0)
    return shape


def _image_file(src: str, deck_dir: Path) -> Path | None:
    url = urlparse(src)
    if url.scheme == "file":
        return Path(unquote(url.path))
    if url.scheme in ("http", "https") and url.hostname == "127.0.0.1":
        return deck_dir / unquote(url.path).lstrip("/")
    return None


#: python-pptx がそのまま置ける画像。SVG などはブラウザが描いた画像を置く
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp")


def add_slide(
    prs: Any,
    info: dict[str, Any],
    notes: str,
    deck_dir: Path,
    shoot: Callable[[dict[str, float]], bytes],
) -> None:
    """ブラウザで集めた 1 枚ぶんの要素を PPTX のスライドにする。

    ``shoot(box)`` はスライドのその範囲をブラウザで撮った PNG
    (別行立ての数式と、SVG の図に使う)。
    """
    from pptx.enum.text import PP_ALIGN
    from pptx.util import Pt

    layout = prs.slide_layouts[5]  # タイトルのみ
    slide = prs.slides.add_slide(layout)
    title_shape = slide.shapes.title
    has_title = False
    for item in info["items"]:
        kind, box = item["type"], item.get("box", {})
        if box and (box["w"] <= 0 or box["h"] <= 0):
            continue
        if kind == "title" and not has_title:
            has_title = True
            title_shape.left, title_shape.top = _emu(box["x"]), _emu(box["y"])
            title_shape.width, title_shape.height = (
                _emu(box["w"]),
                _emu(box["h"]),
            )
            tf = title_shape.text_frame
            tf.text = item["text"]
            for side in (
                "margin_left",
                "margin_right",
                "margin_top",
                "margin_bottom",
            ):
                setattr(tf, side, 0)
            p = tf.paragraphs[0]
            p.alignment = (
                PP_ALIGN.LEFT
                if item["style"]["align"] in ("left", "start")
                else PP_ALIGN.CENTER
            )
            for run in p.runs:
                _style_run(run, item["style"])
        elif kind in ("title", "p", "header", "footer"):
            tf = _textbox(slide, box).text_frame
            tf.text = item["text"]
            for p in tf.paragraphs:
                if item["style"]["align"] == "center":
                    p.alignment = PP_ALIGN.CENTER
                for run in p.runs:
                    _style_run(run, item["style"])
        elif kind == "list" and item.get("columns", 1) > 1:
            # 段組みの一覧 (目次など): 項目ごとに、描かれた位置に置く
            for li in item["items"]:
                tf = _textbox(slide, li["box"]).text_frame
                tf.text = li["text"]
                for run in tf.paragraphs[0].runs:
                    _style_run(run, li["style"])
        elif kind == "list":
            tf = _textbox(slide, box).text_frame
            for k, li in enumerate(item["items"]):
                p = tf.paragraphs[0] if k == 0 else tf.add_paragraph()
                run = p.add_run()
                run.text = li["text"]
                _style_run(run, li["style"])
                if li["marker"] != "none":
                    _bullet(
                        p,
                        li["level"],
                        li["marker"] == "number",
                        float(li["style"]["size"]),
                    )
                p.space_after = Pt(float(li["style"]["size"]) * 0.75 * 0.3)
        elif kind == "code":
            shape = _textbox(slide, box, 0)
            shape.fill.solid()
            from pptx.dml.color import RGBColor

            shape.fill.fore_color.rgb = RGBColor(0xF6, 0xF8, 0xFA)
            tf = shape.text_frame
            for side in (
                "margin_left",
                "margin_right",
                "margin_top",
                "margin_bottom",
            ):
                setattr(tf, side, _emu(8))
            for k, line in enumerate(item["text"].split("\n")):
                p = tf.paragraphs[0] if k == 0 else tf.add_paragraph()
                run = p.add_run()
                run.text = line
                _style_run(run, item["style"], mono=True)
        elif kind == "table":
            rows, cols = len(item["rows"]), max(len(r) for r in item["rows"])
            table = slide.shapes.add_table(
                rows,
                cols,
                _emu(box["x"]),
                _emu(box["y"]),
                _emu(box["w"]),
                _emu(box["h"]),
            ).table
            for r, row in enumerate(item["rows"]):
                for c, value in enumerate(row):
                    cell = table.cell(r, c)
                    cell.text = value
                    for p in cell.text_frame.paragraphs:
                        for run in p.runs:
                            _style_run(run, {**item["style"], "color": ""})
        elif kind in ("math", "image"):
            path = _image_file(item.get("src", ""), deck_dir)
            picture: Any = (
                str(path)
                if kind == "image"
                and path is not None
                and path.suffix.lower() in PICTURE_SUFFIXES
                and path.exists()
                else io.BytesIO(shoot(box))
            )
            slide.shapes.add_picture(
                picture,
                _emu(box["x"]),
                _emu(box["y"]),
                _emu(box["w"]),
                _emu(box["h"]),
            )
    if (
        not has_title
    ):  # 題のないページ (ありえないが、空のプレースホルダは残さない)
        title_shape._element.getparent().remove(title_shape._element)
    if info.get("pagination"):
        w = prs.slide_width / EMU_PER_PX
        h = prs.slide_height / EMU_PER_PX
        tf = _textbox(
            slide, {"x": w - 120, "y": h - 40, "w": 90, "h": 24}
        ).text_frame
        tf.text = info["pagination"]
        tf.paragraphs[0].alignment = PP_ALIGN.RIGHT
        for run in tf.paragraphs[0].runs:
            _style_run(run, {"size": 18, "color": "rgb(107, 114, 128)"})
    if notes:
        slide.notes_slide.notes_text_frame.text = notes


HANDOUT_CSS = """
@page { size: A4; margin: 12mm 12mm 14mm 12mm; }
body { font-family: 'Noto Sans CJK JP', sans-serif; margin: 0; color: #1f2937; }
h1 { font-size: 13pt; margin: 0 0 4mm; }
.row { display: grid; grid-template-columns: 52% 1fr; gap: 5mm; height: 58mm;
       margin-bottom: 3mm; break-inside: avoid; }
.row img { width: 100%; border: 0.3mm solid #9ca3af; }
.notes { font-size: 9pt; line-height: 1.5; white-space: pre-wrap; overflow: hidden;
         border-left: 0.3mm solid #d1d5db; padding-left: 3mm; }
.notes:empty::before { content: '(ノートなし)'; color: #9ca3af; }
.num { font-size: 8pt; color: #6b7280; }
.page { break-after: page; }
.page:last-child { break-after: auto; }
"""


def handout_html(
    title: str, pages: list[tuple[bytes, str]], per_page: int = 4
) -> str:
    """スライドの画像とノートを 1 ページに ``per_page`` 枚並べた HTML。"""
    import base64

    rows = []
    for k, (shot, notes) in enumerate(pages, 1):
        src = "data:image/jpeg;base64," + base64.b64encode(shot).decode()
        rows.append(
            f'<div class="row"><div><img src="{src}" alt="スライド {k}">'
            f'<div class="num">{k} / {len(pages)}</div></div>'
            f'<div class="notes">{html.escape(notes)}</div></div>'
        )
    chunks = [rows[i : i + per_page] for i in range(0, len(rows), per_page)]
    body = "".join(
        f'<div class="page"><h1>{html.escape(title)}</h1>{"".join(c)}</div>'
        for c in chunks
    )
    return (
        f'<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{HANDOUT_CSS}</style></head>"
        f"<body>{body}</body></html>"
    )


def _shooter(page: Any) -> Callable[[dict[str, float]], bytes]:
    def shoot(box: dict[str, float]) -> bytes:
        clip = {
            "x": box["x"],
            "y": box["y"],
            "width": box["w"],
            "height": box["h"],
        }
        return bytes(page.screenshot(clip=clip))

    return shoot


def picture_slide(prs: Any, image: bytes, notes: str) -> None:
    """スライド全面の画像 1 枚と話者ノートのページを足す (画像の PPTX)。"""
    slide = prs.slides.add_slide(prs.slide_layouts[6])  # 白紙
    slide.shapes.add_picture(
        io.BytesIO(image), 0, 0, prs.slide_width, prs.slide_height
    )
    if notes:
        slide.notes_slide.notes_text_frame.text = notes


def export_rendered(decks: list[Path], formats: list[str]) -> None:
    """HTML のデッキ (``<章>.html``) を描き、編集できる PPTX・配布資料・画像の
    PPTX (``formats`` の ``editable``・``handout``・``pptx``) を書く。

    デッキが複数なら、デッキごとに別のプロセス (それぞれのブラウザ) で同時に描く。
    1 枚ごとの描画を待つ時間が長いので、2 コアでも並べると速い。
    """
    if len(decks) > 1:
        ctx = multiprocessing.get_context("spawn")  # 親のスレッドを写さない
        with ProcessPoolExecutor(len(decks), mp_context=ctx) as pool:
            list(
                pool.map(_export_decks, [[d] for d in decks], repeat(formats))
            )
        return
    _export_decks(decks, formats)


def _export_decks(decks: list[Path], formats: list[str]) -> None:
    from playwright.sync_api import sync_playwright
    from pptx import Presentation
    from pptx.util import Emu

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        for md in decks:
            meta = json.loads(
                md.with_suffix(".pages.json").read_text(encoding="utf-8")
            )
            width, height = SIZES[meta.get("size", "16:9")]
            # 数式と SVG の図は 2 倍の解像度で撮る (配布資料の画像は等倍)
            context = browser.new_context(
                viewport={"width": width, "height": height},
                device_scale_factor=2,
            )
            context.route("http*://**", lambda route: route.abort())
            page = context.new_page()
            html_path = md.resolve().with_suffix(".html")
            prs, pictures = Presentation(), Presentation()
            for p in (prs, pictures):
                p.slide_width = Emu(_emu(width))
                p.slide_height = Emu(_emu(height))
            shots: list[tuple[bytes, str]] = []
            page.goto(html_path.as_uri() + "#1")
            # 発表用の操作ボタン (ページ送りの帯) は写さない
            page.add_style_tag(
                content=".bespoke-marp-osc { display: none !important; }"
            )
            page.evaluate("document.fonts.ready")
            for index, pinfo in enumerate(meta["pages"]):
                page.goto(f"{html_path.as_uri()}#{index + 1}")
                page.wait_for_function(
                    "i => document.querySelectorAll('svg[data-marpit-svg]')[i]"
                    ".classList.contains('bespoke-marp-active')",
                    arg=index,
                )
                page.wait_for_function(
                    "() => [...document.images].every(i => i.complete)",
                    timeout=10000,
                )
                info = page.evaluate(COLLECT_JS, index)
                shot = (
                    page.screenshot(type="jpeg", quality=80, scale="css")
                    if "handout" in formats
                    else b""
                )
                if "editable" in formats:
                    add_slide(
                        prs, info, pinfo["notes"], md.parent, _shooter(page)
                    )
                if "pptx" in formats:
                    picture_slide(
                        pictures,
                        page.screenshot(type="jpeg", quality=90),
                        pinfo["notes"],
                    )
                shots.append((shot, pinfo["notes"]))
            if "editable" in formats:
                prs.save(str(md.with_suffix(".editable.pptx")))
            if "pptx" in formats:
                pictures.save(str(md.with_suffix(".pptx")))
            if "handout" in formats:
                page.set_content(
                    handout_html(meta["chapter"] + "　配布資料", shots)
                )
                page.evaluate("document.fonts.ready")
                page.pdf(
                    path=str(md.with_suffix(".handout.pdf")),
                    format="A4",
                    print_background=True,
                    display_header_footer=True,
                    header_template="<span></span>",
                    footer_template=(
                        '<div style="font-size:8px;width:100%;text-align:center;color:#666">'
                        f"{html.escape(meta['chapter'])} — "
                        '<span class="pageNumber"></span></div>'
                    ),
                )
            context.close()
        browser.close()
