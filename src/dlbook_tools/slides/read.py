"""章 (MyST Markdown) を myst-parser 自身の構文解析器で読み、スライドの定義を取り出す。

本のビルドと同じ設定 (``_config.yml`` の ``myst_enable_extensions``) で
markdown-it のトークンを作り、``{slide}`` などのディレクティブのオプションは
``myst_parser.parsers.directives.parse_directive_text`` で読む。
番号 (図・式・節) はここでは数えない: Sphinx のビルドが計算したものを
``numbers.py`` が読む。
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml
from docutils.parsers.rst import Directive, directives
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.directives import parse_directive_text
from myst_parser.parsers.mdit import create_md_parser

from dlbook_tools.slides.model import (
    ROOT,
    Chapter,
    Section,
    Slide,
    SlideError,
    rel,
    where,
)
from dlbook_tools.slides.text import join_lines

#: 章の ``{slide}`` のオプション
CHAPTER_OPTIONS = {"figure", "notes", "class"}
#: 講師の上書きファイルだけで使えるオプション
OVERRIDE_OPTIONS = CHAPTER_OPTIONS | {
    "replace",
    "after",
    "before",
    "remove",
    "image",
}
OPTION_LINE = re.compile(r"^:(?P<key>[\w-]+):(?:\s+(?P<value>.*))?$")


class SlideSpec(Directive):
    """``{slide}`` の形 (引数 1 つ、本文あり)。Sphinx 側もこの option_spec を使う。"""

    has_content = True
    optional_arguments = 1
    final_argument_whitespace = True
    option_spec: ClassVar[dict[str, Any]] = {
        name: directives.unchanged for name in sorted(OVERRIDE_OPTIONS)
    }


class _AnyOptions(dict[str, Any]):
    """どのオプション名も受け付ける option_spec (図・式・コードのオプションを読むため)。"""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> Any:
        return directives.unchanged

    def __bool__(self) -> bool:
        return True


class AnyDirective(Directive):
    has_content = True
    optional_arguments = 1
    final_argument_whitespace = True
    option_spec: ClassVar[dict[str, Any]] = _AnyOptions()


@functools.cache
def parser(root: Path = ROOT) -> MarkdownIt:
    """本と同じ拡張を有効にした myst-parser の markdown-it。"""
    extensions: set[str] = {"dollarmath", "amsmath", "colon_fence"}
    double_inline = True
    config = root / "_config.yml"
    if config.exists():
        parse = yaml.safe_load(config.read_text(encoding="utf-8")).get(
            "parse", {}
        )
        extensions = set(parse.get("myst_enable_extensions", extensions))
        double_inline = bool(parse.get("myst_dmath_double_inline", True))
    cfg = MdParserConfig(
        enable_extensions=extensions, dmath_double_inline=double_inline
    )
    return create_md_parser(cfg, RendererHTML)


@dataclass
class Block:
    """ディレクティブ (フェンス) 1 つ。行番号は 1 始まり。"""

    name: str  # "slide", "glue:figure", … (ディレクティブでなければ "")
    argument: str  # {name} の後ろ (普通のフェンスなら info 全体)
    lines: list[str]  # フェンスの中身
    line: int  # フェンスの行
    closed: bool
    fence: str


def fences(
    tokens: list[Token], lines: list[str], offset: int
) -> Iterator[Block]:
    """最上位のフェンスのトークンを ``Block`` にする。"""
    for tok in tokens:
        if tok.type != "fence" or tok.level != 0 or tok.map is None:
            continue
        start, end = tok.map
        info = tok.info.strip()
        m = re.match(r"^\{(?P<name>[^}]+)\}\s*(?P<arg>.*)$", info)
        last = lines[end - 1].strip() if end - 1 > start else ""
        closed = (
            end - 1 > start
            and last.startswith(tok.markup)
            and set(last) == {tok.markup[0]}
        )
        yield Block(
            name=m.group("name") if m else "",
            argument=m.group("arg").strip() if m else info,
            lines=tok.content.splitlines(),
            line=offset + start + 1,
            closed=closed,
            fence=tok.markup,
        )


def trailing_options(lines: list[str]) -> int:
    """本文の最後にまとめて書いたオプション (``:notes:`` と字下げした続き) の始まり。

    なければ ``len(lines)``。本文の前に書くのが MyST の形だが、箇条書きの後に
    ノートを書いても読めるようにする (本のビルドでは ``{slide}`` の本文は出さない)。
    """
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    start = end
    while start and (
        OPTION_LINE.match(lines[start - 1])
        or (
            lines[start - 1].startswith((" ", "\t"))
            and lines[start - 1].strip()
        )
    ):
        start -= 1
    while start < end and not OPTION_LINE.match(lines[start]):
        start += 1
    return start if start < end else len(lines)


def _stray_options(body: list[str], first: int, path: Path) -> list[str]:
    """本文の途中のオプション行 (スライドに ``:notes:`` の文字が出てしまう) を誤りにする。"""
    problems = []
    fence = ""
    for k, line in enumerate(body):
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            mark = stripped[:3]
            fence = "" if fence == mark else (fence or mark)
            continue
        m = OPTION_LINE.match(line)
        if m and not fence:
            problems.append(
                f"{where(path, first + k)}: {{slide}} のオプション :{m.group('key')}: が"
                "本文の途中にあります (本文の前か、本文の後ろにまとめて書く)"
            )
    return problems


def directive_options(
    block: Block,
    path: Path,
    allowed: set[str] | None,
    problems: list[str],
) -> tuple[dict[str, tuple[str, int]], list[str], int]:
    """ディレクティブのオプションと本文を ``parse_directive_text`` で読む。

    ``:notes:`` などは字下げした次の行に続けて書ける (本のビルドではその行は
    ``{slide}`` の本文になり、何も出さない)。続きの行は前のオプションにつなぐ。

    Returns:
        (オプション名 → (値, 行番号), 本文の行, 本文 1 行目の行番号)
    """
    lines = block.lines
    first = block.line + 1
    joined: list[str] = []
    at: dict[str, int] = {}
    i = 0
    tail: list[tuple[int, str]] = []
    if block.name == "slide" and not (lines and lines[0].strip() == "---"):
        start = trailing_options(lines)
        tail = [(first + k, lines[k]) for k in range(start, len(lines))]
        lines = lines[:start]
    if lines and lines[0].strip() == "---":  # YAML のオプション
        end = next(
            (k for k in range(1, len(lines)) if lines[k].strip() == "---"),
            None,
        )
        if end is None:
            problems.append(
                f"{where(path, first)}: オプションの --- が閉じていません"
            )
            return {}, [], first
        for key in yaml.safe_load("\n".join(lines[1:end])) or {}:
            at[str(key)] = first + 1
        joined = lines[: end + 1]
        i = end + 1
    else:
        while i < len(lines):
            m = OPTION_LINE.match(lines[i])
            if m:
                at[m.group("key")] = first + i
                joined.append(lines[i].rstrip())
            elif (
                joined
                and lines[i].startswith((" ", "\t"))
                and lines[i].strip()
            ):
                joined[-1] = join_lines(joined[-1], lines[i])
            else:
                break
            i += 1
        for line_no, text in tail:  # 本文の後ろに書いたオプション
            m = OPTION_LINE.match(text)
            if m:
                at[m.group("key")] = line_no
                joined.append(text.rstrip())
            elif joined and text.strip():
                joined[-1] = join_lines(joined[-1], text)
        if block.name == "slide":
            problems += _stray_options(lines[i:], first + i, path)
    spec = SlideSpec if block.name == "slide" else AnyDirective
    result = parse_directive_text(
        spec,
        block.argument,
        "\n".join([*joined, *lines[i:]]),
        line=block.line,
        validate_options=spec is SlideSpec,
    )
    options = {
        str(k): ("" if v is None else str(v).strip(), at.get(str(k), first))
        for k, v in result.options.items()
    }
    if allowed is not None:
        for key, line in at.items():
            if key not in allowed:
                names = ", ".join(f":{k}:" for k in sorted(allowed))
                problems.append(
                    f"{where(path, line)}: {{{block.name}}} の未知のオプション :{key}: "
                    f"(使えるもの: {names})"
                )
    body = list(result.body)
    skipped = len(lines) - len(body)
    while body and not body[-1].strip():
        body.pop()
    return options, body, first + skipped


def make_slide(
    block: Block,
    path: Path,
    allowed: set[str],
    problems: list[str],
    default_title: str = "",
) -> Slide:
    """``{slide}`` のブロックを ``Slide`` にする。"""
    if not block.closed:
        problems.append(
            f"{where(path, block.line)}: {{slide}} のフェンス {block.fence} が閉じていません"
        )
    options, body, body_line = directive_options(
        block, path, allowed, problems
    )
    opt = {k: v for k, (v, _) in options.items()}
    slide = Slide(
        title=block.argument or default_title,
        kind="content",
        body=body,
        figure=opt.get("figure") or None,
        notes=opt.get("notes", ""),
        classes=opt.get("class", "").split(),
        path=path,
        line=block.line,
        body_line=body_line,
        options=options,
    )
    if "figure" in options and not slide.figure:
        problems.append(
            f"{where(path, options['figure'][1])}: :figure: に glue 名がありません"
        )
    return slide


def chapter_number(path: Path) -> int:
    """``ch04_nn_basics.md`` → 4。"""
    m = re.match(r"ch0*(\d+)", path.stem)
    if not m:
        raise SlideError(
            [f"{rel(path)}:1: 章番号がファイル名 (chNN_*.md) にありません"]
        )
    return int(m.group(1))


def tokens(text: str) -> list[Token]:
    return parser().parse(text, {})


def inline_text(tok: Token) -> str:
    """見出しなどのインラインのトークンの元の文字 (MyST のまま)。"""
    return tok.content.strip()


def front_matter(text: str) -> dict[str, Any]:
    """ファイル冒頭の YAML (``---`` … ``---``)。なければ空。"""
    for tok in tokens(text):
        if tok.type == "front_matter":
            data = yaml.safe_load(tok.content) or {}
            return data if isinstance(data, dict) else {}
    return {}


def read_chapter(path: Path) -> Chapter:
    """章を読み、節とスライドの定義を取り出す。誤りはまとめて ``SlideError``。"""
    problems: list[str] = []
    number = chapter_number(path)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    toks = tokens(text)
    title = path.stem
    sections: list[Section] = []
    intro: list[Slide] = []
    captions: dict[str, str] = {}
    labels: dict[str, str] = {}
    pending_label: str | None = None
    for k, tok in enumerate(toks):
        if tok.level != 0:
            continue
        if tok.type == "myst_target":
            pending_label = tok.content
            continue
        if tok.type == "heading_open":
            level = int(tok.tag[1])
            heading = inline_text(toks[k + 1])
            line = (tok.map or [0])[0] + 1
            if pending_label:
                labels[pending_label] = heading
            if level == 1 and title == path.stem:
                title = heading
            elif level == 2:
                sections.append(Section(heading, line))
            elif level == 3 and sections:
                sections[-1].subsections.append(heading)
        elif tok.type == "fence":
            block = next(fences([tok], lines, 0))
            if block.name == "slide":
                slide = make_slide(
                    block,
                    path,
                    CHAPTER_OPTIONS,
                    problems,
                    sections[-1].title if sections else title,
                )
                (sections[-1].slides if sections else intro).append(slide)
            elif block.name in ("glue:figure", "figure"):
                opts, body, _ = directive_options(block, path, None, [])
                name = opts.get("name", ("", 0))[0]
                if block.name == "glue:figure" and not name:
                    name = block.argument
                if name:  # 日本語どうしの改行は空白にしない
                    captions[name] = functools.reduce(
                        join_lines, (x.strip() for x in body if x.strip()), ""
                    )
            elif block.name == "bibliography" and sections:
                sections[-1].references = True
        if tok.type.endswith("_close") or tok.type in ("inline",):
            continue
        pending_label = None
    if problems:
        raise SlideError(problems)
    return Chapter(path, number, title, intro, sections, captions, labels)


def read_override(path: Path) -> tuple[dict[str, Any], list[Slide]]:
    """講師の上書きファイル: 冒頭の YAML (デッキの設定) と ``{slide}`` の列。"""
    problems: list[str] = []
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    toks = tokens(text)
    settings = front_matter(text)
    slides = [
        make_slide(block, path, OVERRIDE_OPTIONS, problems)
        for block in fences(toks, lines, 0)
        if block.name == "slide"
    ]
    if problems:
        raise SlideError(problems)
    return settings, slides
