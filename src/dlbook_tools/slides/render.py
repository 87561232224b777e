"""スライドの計画 (``Slide`` の列) を Marp の Markdown のページにする。

本文は myst-parser のトークンで読み、ロール (glue・式・図の参照) を実行結果と
Sphinx の番号で文字に直す。数式は KaTeX の ``$…$``/``$$…$$``、コードはそのまま。
"""

from __future__ import annotations

import base64
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markdown_it.token import Token

from dlbook_tools.slides.glue import (
    IMAGE_MIMES,
    GlueStore,
    format_plain_text,
    join,
)
from dlbook_tools.slides.model import Chapter, Slide, where
from dlbook_tools.slides.read import directive_options, fences, parser
from dlbook_tools.slides.text import (
    first_sentence,
    no_break_exponent,
    text_units,
    unwrap,
)

WIDE = 1.8  # これより横長の図は本文の下に置く (横に並べると小さすぎる)
DENSE = 110  # 図の横の本文がこれより長ければ (全角 1 文字 = 1) 列を広げる
STACK_TEXT = 90  # 横長の図の上の本文がこれより長ければ、図を次のページに出す
#: {numref} の既定の書き方 (_config.yml の numfig_format と同じ)
NUMREF_PREFIX = {"figure": "図", "table": "表", "code-block": "コード"}
BLOCK_TOKENS = ("fence", "math_block", "math_block_label", "amsmath")


@dataclass
class Page:
    """書き出した 1 ページ (Marp の Markdown と、そのページの話者ノート)。"""

    markdown: str
    title: str
    notes: str = ""
    kind: str = "content"


@dataclass
class Renderer:
    """1 章ぶんのスライドを Marp の Markdown に直す。"""

    chapter: Chapter
    glue: GlueStore
    assets: Path  # 図を書き出すディレクトリ
    executed_root: Path
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def asset_prefix(self) -> str:
        return self.assets.name

    def _store_for(self, doc: str | None) -> GlueStore:
        if not doc:
            return self.glue
        base = self.glue.notebook.parent
        return GlueStore.load((base / doc).with_suffix(".ipynb"))

    def write_image(self, name: str, bundle: dict[str, Any]) -> str | None:
        for mime, ext in IMAGE_MIMES.items():
            if mime in bundle:
                self.assets.mkdir(parents=True, exist_ok=True)
                target = self.assets / f"{name}.{ext}"
                value = join(bundle[mime])
                if ext == "svg":
                    target.write_text(value, encoding="utf-8")
                else:
                    target.write_bytes(base64.b64decode(value))
                return f"{self.asset_prefix}/{target.name}"
        return None

    def glue_value(self, role: str, text: str, at: str) -> str:
        doc, _, key = text.rpartition("::")
        name, _, fmt = key.partition(":")
        store = self._store_for(doc or None)
        bundle = store.data.get(name)
        if bundle is None:
            self.problems.append(
                f"{at}: {{{role}}} の {name} が{store.missing()}"
            )
            return ""
        if role == "glue:md":
            return join(
                bundle.get("text/markdown", bundle.get("text/plain", ""))
            )
        if role in ("glue", "glue:", "glue:any"):
            src = self.write_image(name, bundle)
            if src:
                return f"![{name}]({src})"
            if "text/markdown" in bundle:
                return join(bundle["text/markdown"])
        if "text/plain" not in bundle:
            self.problems.append(
                f"{at}: {{{role}}} の {name} に text/plain がありません"
            )
            return ""
        try:
            value = format_plain_text(join(bundle["text/plain"]), fmt or "")
        except (ValueError, TypeError) as exc:
            self.problems.append(
                f"{at}: {{{role}}}`{text}` の書式が不正です: {exc}"
            )
            return ""
        return no_break_exponent(value)

    @staticmethod
    def _ref_text(text: str) -> tuple[str, str]:
        m = re.match(r"^(?P<title>.*?)\s*<(?P<target>[^<>]+)>$", text)
        if m:
            return m.group("title"), m.group("target")
        return "", text

    def role(self, name: str, text: str, at: str) -> str:
        """MyST のロール 1 つを、スライドで読める文字に直す。"""
        if name.startswith("glue"):
            return self.glue_value(name, text, at)
        if name == "math":
            return f"${text}$"
        if name == "eq":
            number = self.chapter.equations.get(text)
            if number is None:
                self.warnings.append(
                    f"{at}: 式 {text} の番号がビルドにありません"
                )
                return "式"
            return f"式 ({number})"
        if name == "numref":
            title, target = self._ref_text(text)
            number = self.chapter.figures.get(target, "")
            if not number:
                self.warnings.append(
                    f"{at}: 図 {target} の番号がビルドにありません"
                )
                return title.replace("%s", "").strip() or "図"
            if title:
                return title.replace("%s", number)
            kind = self.chapter.kinds.get(target, "figure")
            return f"{NUMREF_PREFIX.get(kind, '図')} {number}"
        if name == "ref":
            title, target = self._ref_text(text)
            return title or self.chapter.labels.get(target, target)
        if name.startswith("cite"):
            # 章ごとの文献の接頭辞 (ch4- など) はスライドでは外す
            return "[" + re.sub(r"\bch\d+-", "", text) + "]"
        if name == "kbd":
            return f"<kbd>{text}</kbd>"
        title, target = self._ref_text(text)
        return title or target

    def roles(self, line: str, at: str) -> str:
        """1 行のロールを直す。どこがロールかは myst-parser のインライン解析が決める
        (インラインのコード `…` の中のロールは直さない)。"""
        if "{" not in line:
            return line
        children = parser().parseInline(line, {})[0].children or []
        out: list[str] = []
        pos = 0
        for child in children:
            if child.type == "code_inline":
                m = re.compile(
                    re.escape(child.markup)
                    + r"\s*"
                    + re.escape(child.content)
                    + r"\s*"
                    + re.escape(child.markup)
                ).search(line, pos)
                if m:
                    out.append(line[pos : m.end()])
                    pos = m.end()
            elif child.type == "myst_role":
                name = child.meta["name"]
                m = re.compile(
                    r"\{"
                    + re.escape(name)
                    + r"\}(`+)"
                    + re.escape(child.content)
                    + r"\1"
                ).search(line, pos)
                if m:
                    out += [
                        line[pos : m.start()],
                        self.role(name, child.content, at),
                    ]
                    pos = m.end()
        return "".join(out) + line[pos:]

    def body(self, slide: Slide) -> list[str]:
        """``{slide}`` の本文 (MyST) を Marp の Markdown の行にする。"""
        lines = slide.body
        base = slide.body_line
        blocks: dict[int, Token] = {}
        for tok in parser().parse("\n".join(lines), {}):
            if tok.level == 0 and tok.map and tok.type in BLOCK_TOKENS:
                blocks[tok.map[0]] = tok
        out: list[str] = []
        i = 0
        while i < len(lines):
            block = blocks.get(i)
            if block is None or block.map is None:
                out.append(self.roles(lines[i], where(slide.path, base + i)))
                i += 1
                continue
            tok, end = block, block.map[1]
            if tok.type == "fence":
                out += self._fence(tok, lines, slide)
            elif tok.type == "math_block_label":
                out += [
                    "",
                    *self._display_math(tok.content.splitlines(), tok.info),
                    "",
                ]
            else:
                out += [
                    "",
                    *self._display_math(tok.content.splitlines(), ""),
                    "",
                ]
            i = end
        return unwrap(out)

    def _fence(self, tok: Token, lines: list[str], slide: Slide) -> list[str]:
        block = next(fences([tok], lines, slide.body_line - 1))
        at = where(slide.path, block.line)
        if block.name in ("code-cell", "code-block", "code"):
            _, body, _ = directive_options(block, slide.path, None, [])
            lang = block.argument.split()[0] if block.argument else "python"
            lang = "python" if lang == "ipython3" else lang
            return [f"```{lang}", *body, "```"]
        if block.name == "math":
            opts, body, _ = directive_options(block, slide.path, None, [])
            return self._display_math(body, opts.get("label", ("", 0))[0])
        if block.name == "":
            return [f"```{block.argument}", *block.lines, "```"]
        self.problems.append(
            f"{at}: {{slide}} の中の {{{block.name}}} は"
            "スライドにできません (箇条書き・数式・コードを使ってください)"
        )
        return []

    def _display_math(self, body: list[str], label: str) -> list[str]:
        tex = [ln for ln in body if ln.strip()]
        number = self.chapter.equations.get(label) if label else None
        if label and number is None:
            self.warnings.append(
                f"{where(self.chapter.path, 1)}: 式 {label} の番号がビルドにありません"
            )
        if number:
            tex.append(f"\\tag{{{number}}}")
        return ["$$", *tex, "$$"]

    def figure(self, slide: Slide) -> tuple[str, str] | None:
        """``:figure:`` の図を書き出し、(相対パス, キャプション) を返す。"""
        if slide.image is not None:
            if not slide.image.exists():
                self.problems.append(
                    f"{where(slide.path, slide.line)}: :image: {slide.image} がありません"
                )
                return None
            self.assets.mkdir(parents=True, exist_ok=True)
            shutil.copy2(slide.image, self.assets / slide.image.name)
            return f"{self.asset_prefix}/{slide.image.name}", ""
        if not slide.figure:
            return None
        line = slide.options.get("figure", ("", slide.line))[1]
        at = where(slide.path, line)
        bundle = self.glue.data.get(slide.figure)
        if bundle is None:
            self.problems.append(
                f"{at}: {{slide}} の :figure: {slide.figure} が{self.glue.missing()}"
            )
            return None
        src = self.write_image(slide.figure, bundle)
        if src is None:
            hint = ""
            if "<Figure" in join(bundle.get("text/plain", "")):
                hint = (
                    " — カーネルが図を PNG にしていません"
                    " (MPLBACKEND=Agg のときは %matplotlib inline が必要)"
                )
            self.problems.append(
                f"{at}: {{slide}} の :figure: {slide.figure} は画像ではありません"
                f" ({', '.join(bundle)}){hint}"
            )
            return None
        number = self.chapter.figures.get(slide.figure, "")
        caption = self.roles(self.chapter.captions.get(slide.figure, ""), at)
        label = f"図 {number}　{caption}" if number else caption
        return src, label.strip()


def notes_comment(text: str) -> str:
    return "<!--\n" + text.replace("-->", "--&gt;").strip() + "\n-->"


def image_aspect(path: Path) -> float | None:
    """PNG の幅 / 高さ (IHDR から読む)。PNG でなければ None。"""
    with path.open("rb") as f:
        header = f.read(24)
    if header[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    width, height = (
        int.from_bytes(header[16:20]),
        int.from_bytes(header[20:24]),
    )
    return width / height if height else None


def figure_md(fig: tuple[str, str]) -> list[str]:
    src, caption = fig
    out = [f"![{first_sentence(caption) or 'figure'}]({src})"]
    if caption:
        out += [
            "",
            '<div class="caption">',
            "",
            first_sentence(caption),
            "",
            "</div>",
        ]
    return out


def _figure_div(fig: tuple[str, str]) -> list[str]:
    return ['<div class="figure">', "", *figure_md(fig), "", "</div>"]


def render_slide(slide: Slide, r: Renderer) -> list[str]:
    """1 枚の ``{slide}`` を Marp の Markdown のページにする。

    本文が長く図が横長なら、図を次のページに出して 2 ページにする。
    """
    lines: list[str] = []
    figure_page: list[str] = []
    classes = [slide.kind, *slide.classes]
    header = [f"<!-- _header: '{slide.header}' -->"] if slide.header else []
    if slide.kind == "title":
        ch = r.chapter
        lines += ["<!-- _paginate: false -->", "<!-- _footer: '' -->"]
        lines += [
            f'<p class="chapter">第{ch.number}章</p>',
            "",
            f"# {ch.title}",
            "",
        ]
        lines += r.body(slide)
    elif slide.kind == "toc":
        lines += [f"## {slide.title}", "", *r.body(slide)]
    elif slide.kind == "section":
        lines += [
            f'<p class="chapter">{slide.header}</p>',
            "",
            f"## {slide.title}",
            "",
        ]
        lines += r.body(slide)
    else:
        lines += [*header, f"## {slide.title}", ""]
        body = r.body(slide)
        fig = r.figure(slide)
        has_text = any(x.strip() for x in body)
        aspect = image_aspect(r.assets.parent / fig[0]) if fig else None
        wide = bool(fig and has_text and aspect and aspect >= WIDE)
        if fig and wide and text_units(body) > STACK_TEXT:
            # 本文が長いと下の図が小さくなるので、図は次のページに大きく出す
            lines += body
            figure_page = [
                f"<!-- _class: {slide.kind} figure-only -->",
                *header,
                f"## {slide.title}",
                "",
                *_figure_div(fig),
            ]
        elif fig and wide:
            classes.append("stack")
            lines += [*body, "", *_figure_div(fig)]
        elif fig and has_text:
            classes.append("split")
            if text_units(body) > DENSE:
                classes.append(
                    "dense"
                )  # 文字が多い: 本文の列を広く、文字を少し小さく
            lines += [
                '<div class="columns">',
                '<div class="text">',
                "",
                *body,
                "",
            ]
            lines += ["</div>", *_figure_div(fig), "</div>"]
        elif fig:
            classes.append("figure-only")
            lines += _figure_div(fig)
        else:
            lines += body
    directive = f"<!-- _class: {' '.join(dict.fromkeys(classes))} -->"
    text = "\n".join([directive, *lines]).rstrip()
    if slide.notes:
        at = where(slide.path, slide.options.get("notes", ("", slide.line))[1])
        text += "\n\n" + notes_comment(r.roles(slide.notes, at))
    pages = [text + "\n"]
    if figure_page:
        # 図のページでも話すことは同じなので、発表者ノートも同じものを付ける
        page = "\n".join(figure_page).rstrip()
        if slide.notes:
            page += "\n\n" + notes_comment(r.roles(slide.notes, at))
        pages.append(page + "\n")
    return pages
