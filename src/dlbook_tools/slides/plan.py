"""スライドの計画: 章の構成から既定のスライドの列を作り、講師の上書きを当てる。

上書きファイル ``slides/overrides/<章>.md`` は、冒頭の YAML でデッキの設定
(``size``・``theme``・``logo``・``footer``・``select``) を、``{slide}`` で
スライドの差し替え・挿入・削除を指定する (書式は ``slides/README.md``)。
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dlbook_tools.slides.model import (
    LICENCE,
    ROOT,
    Chapter,
    Slide,
    SlideError,
    where,
)
from dlbook_tools.slides.read import read_override

SIZES = ("16:9", "4:3")
BUILTIN_THEMES = ("dlbook", "default", "gaia", "uncover")
SETTINGS = ("size", "theme", "logo", "footer", "select")


@dataclass
class DeckSettings:
    """デッキ全体の設定 (既定は 16:9・dlbook テーマ・章の題のフッター)。"""

    size: str = "16:9"
    theme: str = "dlbook"
    theme_css: Path | None = None  # 講師のテーマ (CSS ファイル)
    logo: Path | None = None
    footer: str | None = None
    applied: list[str] = field(default_factory=list)  # 当てた上書きの説明


def book_info(root: Path = ROOT) -> dict[str, Any]:
    config = root / "_config.yml"
    if not config.exists():
        return {}
    data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    return data if isinstance(data, dict) else {}


def licence_line(root: Path = ROOT) -> str:
    info = book_info(root)
    holder = " ".join(
        str(x) for x in (info.get("copyright"), info.get("author")) if x
    )
    prefix = f"© {holder}　" if holder else ""
    return f"{prefix}文章・図・スライド: {LICENCE}　コード: MIT"


def default_slides(ch: Chapter) -> list[Slide]:
    """章の構成から、上書き前のスライドの列を作る。"""
    book_title = str(book_info().get("title", ""))
    body = [f'<p class="book">{book_title}</p>'] if book_title else []
    body += ["", f'<p class="licence">{licence_line()}</p>']
    slides = [
        Slide(title=ch.title, kind="title", path=ch.path, line=1, body=body)
    ]
    # 節の番号は Sphinx のビルドのもの。文献だけの節はスライドにしない
    numbered = [
        (num, s)
        for num, s in zip(ch.section_numbers, ch.sections, strict=True)
        if s.slides or not s.references
    ]
    if numbered:
        toc = [f"{num}　{s.title}" for num, s in numbered]
        cls = "toc columns-2" if len(toc) > 6 else "toc"
        slides.append(
            Slide(
                title="目次",
                kind="toc",
                path=ch.path,
                line=1,
                body=[
                    f'<ol class="{cls}">',
                    *[f"<li>{t}</li>" for t in toc],
                    "</ol>",
                ],
            )
        )
    slides += ch.intro
    for num, section in numbered:
        if section.slides:
            for s in section.slides:
                s.header = f"{num}　{section.title}"
            slides += section.slides
        # {slide} も小節もない節 (演習問題など) は、空の扉にしない
        elif section.subsections:
            slides.append(
                Slide(
                    title=section.title,
                    kind="section",
                    body=[f"- {sub}" for sub in section.subsections],
                    header=num,
                    path=ch.path,
                    line=section.line,
                    body_line=section.line,
                )
            )
    return slides


def find_override(path: Path, overrides_dir: Path) -> Path | None:
    """``ch04_nn_basics.md`` の上書き: ``ch04_nn_basics.md`` か ``ch04.md``。"""
    m = re.match(r"(ch\d+)", path.stem)
    for name in (path.stem, m.group(1) if m else None):
        if name and (overrides_dir / f"{name}.md").exists():
            return overrides_dir / f"{name}.md"
    return None


def _valid_titles(slides: list[Slide]) -> str:
    return "、".join(f"「{s.title}」" for s in slides)


def apply_overrides(slides: list[Slide], override: Path) -> list[Slide]:
    """講師のファイルの ``{slide}`` で、題名を鍵にスライドを差し替え・挿入・削除する。

    - 題名が既存のスライドと同じ (または ``:replace: 題名``) → 差し替え
    - ``:after: 題名`` / ``:before: 題名`` → その前後に挿入
    - ``:remove:`` → その題名のスライドを削除
    """
    return apply_override_file(slides, override, DeckSettings())


def apply_override_file(
    slides: list[Slide], override: Path, settings: DeckSettings
) -> list[Slide]:
    """上書きファイル 1 つを当てる: 冒頭の設定は ``settings`` に、{slide} は列に。"""
    front, new_slides = read_override(override)
    problems: list[str] = []
    result = list(slides)
    counts = {"差し替え": 0, "挿入": 0, "削除": 0}
    for new in new_slides:
        opts = {k: v for k, (v, _) in new.options.items()}
        if "image" in opts:
            new.image = (override.parent / opts["image"]).resolve()
        if not new.title and not opts.get("replace"):
            problems.append(
                f"{where(override, new.line)}: {{slide}} に題名がありません"
            )
            continue
        titles = [s.title for s in result]
        position = next(
            ((k, opts[k]) for k in ("after", "before") if k in opts), None
        )
        target = opts.get("replace") or (
            position[1] if position else new.title
        )
        if target not in titles:
            hint = (
                ""
                if position
                else " (新しいスライドは :after: か :before: で位置を指定)"
            )
            problems.append(
                f"{where(override, new.line)}: スライド「{target}」が章にありません{hint}。"
                f"使える題: {_valid_titles(result)}"
            )
            continue
        k = titles.index(target)
        if "remove" in opts:
            del result[k]
            counts["削除"] += 1
        elif position is None or "replace" in opts:
            new.header = new.header or result[k].header
            new.title = new.title or result[k].title
            result[k] = new
            counts["差し替え"] += 1
        else:
            new.header = (
                result[k].header if result[k].kind == "content" else ""
            )
            result.insert(k + 1 if position[0] == "after" else k, new)
            counts["挿入"] += 1
    settings.applied += [f"{n} 枚{what}" for what, n in counts.items() if n]
    result = _apply_settings(result, front, override, settings, problems)
    if problems:
        raise SlideError(problems)
    return result


def _apply_settings(
    slides: list[Slide],
    front: dict[str, Any],
    override: Path,
    settings: DeckSettings,
    problems: list[str],
) -> list[Slide]:
    """冒頭の YAML (size, theme, logo, footer, select) を当てる。"""
    at = where(override, 1)
    for key in front:
        if key not in SETTINGS:
            names = ", ".join(SETTINGS)
            problems.append(f"{at}: 未知の設定 {key} (使えるもの: {names})")
    if "size" in front:
        size = str(front["size"]).strip()
        if size not in SIZES:
            problems.append(
                f"{at}: size: {size} は使えません (使えるもの: {', '.join(SIZES)})"
            )
        else:
            settings.size = size
            settings.applied.append(f"size {size}")
    if "theme" in front:
        theme = str(front["theme"]).strip()
        if theme.endswith(".css"):
            css = (override.parent / theme).resolve()
            m = (
                re.search(r"@theme\s+(\S+)", css.read_text("utf-8"))
                if css.exists()
                else None
            )
            if m is None:
                problems.append(
                    f"{at}: theme: {theme} がないか、/* @theme 名前 */ がありません"
                )
            else:
                settings.theme, settings.theme_css = m.group(1), css
                settings.applied.append(f"theme {m.group(1)} ({theme})")
        elif theme in BUILTIN_THEMES:
            settings.theme = theme
            settings.applied.append(f"theme {theme}")
        else:
            problems.append(
                f"{at}: theme: {theme} は使えません (使えるもの: "
                f"{', '.join(BUILTIN_THEMES)}、または上書きからの相対パスの .css)"
            )
    if "logo" in front:
        logo = (override.parent / str(front["logo"])).resolve()
        if not logo.exists():
            problems.append(f"{at}: logo: {front['logo']} がありません")
        else:
            settings.logo = logo
            settings.applied.append(f"logo {front['logo']}")
    if "footer" in front:
        settings.footer = str(front["footer"] or "")
        settings.applied.append("footer")
    if "select" in front:
        slides = select(slides, front["select"], at, problems)
        settings.applied.append(f"select ({len(slides)} 枚)")
    return slides


def select(
    slides: list[Slide], spec: Any, at: str, problems: list[str]
) -> list[Slide]:
    """講義で使うスライドだけを選ぶ。表紙と目次はいつも残す。

    ``spec`` は 1 つの文字列か、その列。各項目は
    - 節の番号 (``4.2``): その節のスライドすべて
    - 題 (``パーセプトロン``): その 1 枚
    - 範囲 (``パーセプトロン .. まとめ``): 両端を含む連続した区間
    """
    items = [spec] if isinstance(spec, (str, int, float)) else list(spec or [])
    titles = [s.title for s in slides]
    keep: set[int] = {
        k for k, s in enumerate(slides) if s.kind in ("title", "toc")
    }
    for item in (str(x).strip() for x in items):
        if re.fullmatch(r"\d+\.\d+", item):
            hits = {
                k
                for k, s in enumerate(slides)
                if s.header == item or s.header.startswith(item + "　")
            }
            if not hits:
                problems.append(
                    f"{at}: select: 節 {item} のスライドがありません"
                )
            keep |= hits
            continue
        ends = (
            [x.strip() for x in item.split("..")]
            if ".." in item
            else [item, item]
        )
        if len(ends) != 2 or any(e not in titles for e in ends):
            bad = next((e for e in ends if e not in titles), item)
            problems.append(
                f"{at}: select: スライド「{bad}」が章にありません。使える題: "
                f"{_valid_titles(slides)}"
            )
            continue
        first, last = titles.index(ends[0]), titles.index(ends[1])
        if first > last:
            problems.append(
                f"{at}: select: 範囲「{item}」の始まりが終わりより後です"
            )
            continue
        keep |= set(range(first, last + 1))
    return [s for k, s in enumerate(slides) if k in keep]
