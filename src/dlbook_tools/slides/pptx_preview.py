"""編集できる PPTX を画像に描き戻す (LibreOffice なしで見た目と配置を確かめる)。

PowerPoint の描画の再現ではない。各図形を置かれた位置と大きさで描く:
画像はそのまま、文字は Noto Sans CJK JP で枠の幅で折り返し、表は罫線と文字。
文字が枠からはみ出す図形と、スライドの外に出る図形を ``problems`` として返す。

使い方::

    python -m dlbook_tools.slides.pptx_preview _build/slides/ch04_nn_basics.editable.pptx OUT
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

EMU_PER_PX = 9525
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"  # 0 番が JP


def _px(emu: int | None) -> int:
    return round((emu or 0) / EMU_PER_PX)


def _font(pt: float) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT, max(6, round(pt / 0.75)), index=0)


def _wrap(
    draw: ImageDraw.ImageDraw, text: str, font: Any, width: int
) -> list[str]:
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for ch in para:
            if line and draw.textlength(line + ch, font=font) > width:
                lines.append(line)
                line = ""
            line += ch
        lines.append(line)
    return lines


def _paragraphs(shape: Any) -> list[tuple[str, float, int]]:
    """(文字, pt, 字下げ px) の列。"""
    out = []
    for p in shape.text_frame.paragraphs:
        size = next((r.font.size.pt for r in p.runs if r.font.size), 18.0)
        p_pr = p._p.pPr
        indent = _px(int(p_pr.get("marL", 0))) if p_pr is not None else 0
        bullet = (
            "• "
            if p_pr is not None and p_pr.find("{*}buChar") is not None
            else ""
        )
        out.append((bullet + p.text, size, indent))
    return out


def render_slide(
    slide: Any, width: int, height: int
) -> tuple[Image.Image, list[str]]:
    """1 枚を画像にし、(画像, 問題の列) を返す。"""
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    problems: list[str] = []
    for shape in slide.shapes:
        x, y = _px(shape.left), _px(shape.top)
        w, h = _px(shape.width), _px(shape.height)
        name = (
            shape.text_frame.text[:30]
            if shape.has_text_frame
            else shape.shape_type
        )
        if x < -1 or y < -1 or x + w > width + 1 or y + h > height + 1:
            problems.append(
                f"スライドの外に出る: {name!r} ({x}, {y}, {w}, {h})"
            )
        if shape.shape_type == 13:  # 画像
            pic = Image.open(io.BytesIO(shape.image.blob)).convert("RGB")
            img.paste(pic.resize((max(1, w), max(1, h))), (x, y))
            continue
        if shape.has_table:
            table = shape.table
            rows, cols = len(table.rows), len(table.columns)
            for r in range(rows):
                for c in range(cols):
                    cx, cy = x + c * w // cols, y + r * h // rows
                    draw.rectangle(
                        [cx, cy, cx + w // cols, cy + h // rows],
                        outline="#9ca3af",
                    )
                    cell = table.cell(r, c)
                    draw.text(
                        (cx + 6, cy + 4),
                        cell.text,
                        fill="#111",
                        font=_font(14),
                    )
            continue
        if not shape.has_text_frame:
            continue
        fill = shape.fill.fore_color.rgb if shape.fill.type == 1 else None
        if fill is not None:
            draw.rectangle([x, y, x + w, y + h], fill=f"#{fill}")
        tf = shape.text_frame
        pad = _px(tf.margin_left or 0)
        cursor = y + _px(tf.margin_top or 0)
        for text, pt, indent in _paragraphs(shape):
            font = _font(pt)
            line_h = int(pt / 0.75 * 1.45)
            for line in _wrap(draw, text, font, max(1, w - indent - 2 * pad)):
                draw.text(
                    (x + pad + indent, cursor), line, fill="#1f2937", font=font
                )
                cursor += line_h
        if cursor > y + h + 0.25 * h + 8 and shape.text_frame.text.strip():
            problems.append(
                f"文字が枠からはみ出す: {name!r} (枠の高さ {h}px、文字 {cursor - y}px)"
            )
    return img, problems


def render(path: Path, out_dir: Path | None = None) -> list[str]:
    """PPTX の全スライドを描き (``out_dir`` があれば PNG に書き)、問題を返す。"""
    from pptx import Presentation

    prs = Presentation(str(path))
    width, height = _px(prs.slide_width), _px(prs.slide_height)
    problems: list[str] = []
    for k, slide in enumerate(prs.slides, 1):
        img, found = render_slide(slide, width, height)
        problems += [f"{path.name} スライド {k}: {p}" for p in found]
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            img.save(out_dir / f"{path.stem}-{k:02d}.png")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pptx", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    problems = render(args.pptx, args.out)
    print("\n".join(problems) or "問題なし")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
