"""1 章のデッキ (Marp の Markdown、図、ページごとのノートの表) を書き出す。"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from dlbook_tools.slides.glue import GlueStore
from dlbook_tools.slides.model import (
    EXECUTED_DIR,
    OUT_DIR,
    ROOT,
    SLIDES_DIR,
    SlideError,
    rel,
)
from dlbook_tools.slides.numbers import apply_numbers
from dlbook_tools.slides.plan import (
    DeckSettings,
    apply_override_file,
    default_slides,
    find_override,
)
from dlbook_tools.slides.read import read_chapter
from dlbook_tools.slides.render import Renderer, render_slide

FRONT = """---
marp: true
theme: {theme}
lang: ja
paginate: true
math: katex
size: {size}
title: "{title}"
footer: "{footer}"
{style}---
"""
NOTES = re.compile(r"<!--\n(?P<text>.*?)\n-->\s*$", re.S)
TITLE = re.compile(r"^#{1,2} (?P<title>.+)$", re.M)


@dataclass
class Deck:
    name: str
    markdown: Path
    slides: int
    warnings: list[str]
    settings: DeckSettings = field(default_factory=DeckSettings)
    override: Path | None = None


def notebook_for(chapter: Path, executed_dir: Path) -> Path:
    """章に対応する実行済みノートブック (``<executed>/book/<章>.ipynb``)。"""
    try:
        rel_path = chapter.relative_to(ROOT)
    except ValueError:
        rel_path = Path(chapter.name)
    candidate = executed_dir / rel_path.with_suffix(".ipynb")
    flat = executed_dir / f"{chapter.stem}.ipynb"
    for path in (candidate, flat):
        if path.exists() or path.with_suffix(".glue.json").exists():
            return path
    return candidate


def page_info(page: str) -> dict[str, str]:
    """Marp のページから題とノートを取り出す (PPTX・配布資料・ノートの書き出し用)。"""
    title = TITLE.search(page)
    notes = NOTES.search(page)
    kind = re.search(r"_class: (\S+)", page)
    return {
        "title": title.group("title") if title else "",
        "notes": notes.group("text").replace("--&gt;", "-->") if notes else "",
        "kind": kind.group(1) if kind else "content",
    }


def _style(settings: DeckSettings, assets: Path) -> str:
    if settings.logo is None:
        return ""
    assets.mkdir(parents=True, exist_ok=True)
    shutil.copy2(settings.logo, assets / settings.logo.name)
    url = f"{assets.name}/{settings.logo.name}"
    return (
        "style: |\n"
        f"  section {{ background-image: url('{url}');"
        " background-repeat: no-repeat; background-position: right 28px top 18px;"
        " background-size: auto 44px; }\n"
    )


def build_deck(
    chapter_path: Path,
    out_dir: Path = OUT_DIR,
    executed_dir: Path = EXECUTED_DIR,
    overrides_dir: Path | None = None,
    root: Path = ROOT,
) -> Deck:
    """1 章のデッキ (Marp の .md と図、``<章>.pages.json``) を書き出す。"""
    chapter_path = chapter_path.resolve()
    ch = read_chapter(chapter_path)
    apply_numbers(ch, executed_dir, root)
    overrides_dir = overrides_dir or SLIDES_DIR / "overrides"
    slides = default_slides(ch)
    settings = DeckSettings()
    override = find_override(chapter_path, overrides_dir)
    if override:
        slides = apply_override_file(slides, override, settings)
    notebook = notebook_for(chapter_path, executed_dir)
    assets = out_dir / chapter_path.stem
    if assets.exists():
        shutil.rmtree(assets)
    r = Renderer(
        ch, GlueStore.load(notebook, chapter_path), assets, executed_dir
    )
    parts = [page for s in slides for page in render_slide(s, r)]
    if r.problems:
        raise SlideError(r.problems)
    default_footer = f"第{ch.number}章　{ch.title}"
    footer = default_footer if settings.footer is None else settings.footer
    head = FRONT.format(
        theme=settings.theme,
        size=settings.size,
        title=f"第{ch.number}章 {ch.title}",
        footer=footer.replace('"', "'"),
        style=_style(settings, assets),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / f"{chapter_path.stem}.md"
    md.write_text(head + "\n" + "\n---\n\n".join(parts), encoding="utf-8")
    pages = {
        "chapter": f"第{ch.number}章　{ch.title}",
        "size": settings.size,
        "pages": [page_info(p) for p in parts],
    }
    (out_dir / f"{chapter_path.stem}.pages.json").write_text(
        json.dumps(pages, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return Deck(
        chapter_path.stem, md, len(parts), r.warnings, settings, override
    )


def describe_overrides(deck: Deck) -> str:
    """ビルドが当てた上書きの説明 (なければ空)。"""
    if deck.override is None:
        return ""
    what = "、".join(deck.settings.applied) or "変更なし"
    return f"上書き {rel(deck.override)}: {what}"
