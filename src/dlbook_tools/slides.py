"""章 (MyST Markdown) と実行済みノートブックから、章ごとの Marp スライドを作る。

使い方::

    python -m dlbook_tools.slides --all
    python -m dlbook_tools.slides --chapter book/ch04_nn_basics.md --formats md,html

1 章が 1 つのデッキになる。表紙 (第N章 + 題)、目次、そして ``##`` 節ごとに
章の中の ``{slide}`` ディレクティブ (なければ節の扉スライド 1 枚)。
``{glue:text}`` などの値と ``:figure:`` の図は、本のビルドが書き出した
``_build/jupyter_execute/book/<章>.ipynb`` から取り出す。
講師は ``slides/overrides/<章>.md`` でスライドを差し替え・挿入・削除できる
(書式は ``slides/README.md``)。

出力は ``_build/slides/`` (``.md``、``.html``、``.pdf``、``.pptx`` と図)。
``_build/html`` があれば ``_build/html/slides/`` にも写す。
"""

from __future__ import annotations

import argparse
import ast
import base64
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "_build" / "slides"
SITE_DIR = ROOT / "_build" / "html" / "slides"
EXECUTED_DIR = ROOT / "_build" / "jupyter_execute"
SLIDES_DIR = ROOT / "slides"
FORMATS = ("md", "html", "pdf", "pptx")
KATEX_FONTS = "assets/katex/fonts"  # デッキ (.html) からの相対パス

CHAPTER_OPTIONS = {"figure", "notes", "class"}
OVERRIDE_OPTIONS = CHAPTER_OPTIONS | {
    "replace",
    "after",
    "before",
    "remove",
    "image",
}

FENCE = re.compile(
    r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$"
)
HEADING = re.compile(r"^(?P<level>#{1,6})\s+(?P<text>.+?)\s*#*\s*$")
TARGET = re.compile(r"^\((?P<label>[^()\s]+)\)=\s*$")
ROLE = re.compile(r"\{(?P<role>[A-Za-z][\w:+-]*)\}`(?P<text>[^`]*)`")
ROLE_OR_CODE = re.compile(ROLE.pattern + r"|(?P<code>`+)[^`]*?(?P=code)")
DMATH_LABEL = re.compile(r"^(?P<body>.*?)\$\$\s*\((?P<label>[^()\s]+)\)\s*$")


class SlideError(Exception):
    """章やオーバーライドのスライド定義の誤り。``path:line: 説明`` の形で出す。"""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _where(path: Path, line: int) -> str:
    return f"{_rel(path)}:{line}"


# ---------------------------------------------------------------- 章を読む


@dataclass
class Slide:
    """1 枚のスライド。``title`` がオーバーライドの鍵になる。"""

    title: str
    kind: str  # "title" | "toc" | "section" | "content"
    body: list[str] = field(default_factory=list)  # MyST のまま (未解決)
    figure: str | None = None
    image: Path | None = None
    notes: str = ""
    classes: list[str] = field(default_factory=list)
    header: str = ""
    path: Path = Path()
    line: int = 0  # ディレクティブの行 (1 始まり)
    body_line: int = 0  # 本文 1 行目の行番号
    options: dict[str, tuple[str, int]] = field(default_factory=dict)


@dataclass
class Directive:
    """``{slide}`` (または ``{glue:figure}`` など) のフェンス 1 つ。"""

    name: str
    argument: str
    options: dict[str, tuple[str, int]]
    body: list[str]
    line: int
    body_line: int


@dataclass
class Chapter:
    path: Path
    number: int
    title: str
    intro: list[Slide]  # 最初の ## より前の {slide}
    sections: list[
        tuple[str, int, list[Slide], list[str]]
    ]  # 題, 行, スライド, 小節
    figures: dict[str, tuple[str, str]]  # 図の名前 → (番号, キャプション)
    equations: dict[str, str]  # 式のラベル → 番号
    labels: dict[str, str]  # (label)= → 見出し
    references: set[str] = field(
        default_factory=set
    )  # {bibliography} の節 (出さない)


def chapter_number(path: Path) -> int:
    """``ch04_nn_basics.md`` → 4。"""
    m = re.match(r"ch0*(\d+)", path.stem)
    if not m:
        raise SlideError(
            [f"{_rel(path)}:1: 章番号がファイル名 (chNN_*.md) にありません"]
        )
    return int(m.group(1))


def _parse_options(
    lines: list[str],
    start: int,
    path: Path,
    allowed: set[str],
    problems: list[str],
) -> tuple[dict[str, tuple[str, int]], int]:
    """ディレクティブ冒頭の ``:key: value`` (または ``---`` の YAML) を読む。

    Returns:
        (オプション名 → (値, 行番号), 本文の始まる添字)
    """
    options: dict[str, tuple[str, int]] = {}
    i = 0
    if lines and lines[0].strip() == "---":
        end = next(
            (k for k in range(1, len(lines)) if lines[k].strip() == "---"),
            None,
        )
        if end is None:
            problems.append(
                f"{_where(path, start)}: オプションの --- が閉じていません"
            )
            return options, len(lines)
        data = yaml.safe_load("\n".join(lines[1:end])) or {}
        for key, value in data.items():
            options[str(key)] = (
                "" if value is None else str(value),
                start + 1,
            )
        i = end + 1
    else:
        last: str | None = None
        while i < len(lines):
            m = re.match(r"^:(?P<key>[\w-]+):(?:\s+(?P<value>.*))?$", lines[i])
            if m:
                last = m.group("key")
                options[last] = ((m.group("value") or "").strip(), start + i)
            elif (
                last and lines[i].startswith((" ", "\t")) and lines[i].strip()
            ):
                value, line = options[last]
                options[last] = (join_lines(value, lines[i]), line)
            else:
                break
            i += 1
    for key, (_, line) in options.items():
        if key not in allowed:
            names = ", ".join(f":{k}:" for k in sorted(allowed))
            problems.append(
                f"{_where(path, line)}: {{slide}} の未知のオプション :{key}: "
                f"(使えるもの: {names})"
            )
    while i < len(lines) and not lines[i].strip():
        i += 1
    return options, i


def _blocks(
    lines: list[str], path: Path, problems: list[str], offset: int = 0
) -> list[tuple[int, str | Directive]]:
    """フェンスの外の行 (str) とフェンス (Directive) を順に返す。行番号は 1 始まり。"""
    out: list[tuple[int, str | Directive]] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            out.append((offset + i + 1, lines[i]))
            i += 1
            continue
        fence, info = m.group("fence"), m.group("info").strip()
        char, size = fence[0], len(fence)
        if (
            char == "`" and "`" in info
        ):  # インラインのコードで、フェンスではない
            out.append((offset + i + 1, lines[i]))
            i += 1
            continue
        end = i + 1
        while end < len(lines):
            c = FENCE.match(lines[end])
            if (
                c
                and c.group("fence")[0] == char
                and len(c.group("fence")) >= size
                and not c.group("info").strip()
            ):
                break
            end += 1
        dm = re.match(r"^\{(?P<name>[^}]+)\}\s*(?P<arg>.*)$", info)
        name = dm.group("name") if dm else ""
        if end >= len(lines):
            what = f"{{{name}}} の" if name else ""
            problems.append(
                f"{_where(path, offset + i + 1)}: "
                f"{what}フェンス {fence} が閉じていません"
            )
        body = lines[i + 1 : end]
        out.append(
            (
                offset + i + 1,
                Directive(
                    name=name,
                    argument=dm.group("arg").strip() if dm else info,
                    options={},
                    body=body,
                    line=offset + i + 1,
                    body_line=offset + i + 2,
                ),
            )
        )
        i = end + 1
    return out


def _front_matter_end(lines: list[str]) -> int:
    if lines and lines[0].strip() == "---":
        for k in range(1, len(lines)):
            if lines[k].strip() == "---":
                return k + 1
    return 0


def _make_slide(
    d: Directive,
    path: Path,
    allowed: set[str],
    problems: list[str],
    default_title: str,
    header: str,
) -> Slide:
    options, skip = _parse_options(
        d.body, d.body_line, path, allowed, problems
    )
    body = d.body[skip:]
    while body and not body[-1].strip():
        body.pop()
    opt = {k: v for k, (v, _) in options.items()}
    slide = Slide(
        title=d.argument or default_title,
        kind="content",
        body=body,
        figure=opt.get("figure") or None,
        notes=opt.get("notes", ""),
        classes=opt.get("class", "").split(),
        header=header,
        path=path,
        line=d.line,
        body_line=d.body_line + skip,
        options=options,
    )
    if "figure" in options and not slide.figure:
        problems.append(
            f"{_where(path, options['figure'][1])}: :figure: に glue 名がありません"
        )
    return slide


def read_chapter(path: Path) -> Chapter:
    """章を読み、節とスライドの定義を取り出す。誤りはまとめて ``SlideError``。"""
    problems: list[str] = []
    number = chapter_number(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    start = _front_matter_end(lines)
    title = path.stem
    sections: list[tuple[str, int, list[Slide], list[str]]] = []
    figures: dict[str, tuple[str, str]] = {}
    equations: dict[str, str] = {}
    labels: dict[str, str] = {}
    intro: list[Slide] = []  # 最初の ## より前の {slide}
    references: set[str] = set()  # {bibliography} のある節
    pending_label: str | None = None
    n_fig = n_eq = 0
    for lineno, item in _blocks(lines[start:], path, problems, offset=start):
        if isinstance(item, Directive):
            if item.name == "slide":
                sec_title = sections[-1][0] if sections else title
                slide = _make_slide(
                    item, path, CHAPTER_OPTIONS, problems, sec_title, ""
                )
                (sections[-1][2] if sections else intro).append(slide)
            elif item.name in ("glue:figure", "figure"):
                opts, skip = _parse_options(
                    item.body, item.body_line, path, set(), []
                )
                name = opts.get("name", ("", 0))[0]
                if item.name == "glue:figure" and not name:
                    name = item.argument
                if "name" in opts:
                    n_fig += 1
                caption = functools.reduce(
                    join_lines,
                    (x.strip() for x in item.body[skip:] if x.strip()),
                    "",
                )  # 日本語どうしの改行は空白にしない
                if name:
                    figures[name] = (
                        f"{number}.{n_fig}" if "name" in opts else "",
                        caption,
                    )
            elif item.name == "math":
                opts, _ = _parse_options(
                    item.body, item.body_line, path, set(), []
                )
                if "label" in opts:
                    n_eq += 1
                    equations[opts["label"][0]] = f"{number}.{n_eq}"
            elif item.name == "bibliography" and sections:
                references.add(sections[-1][0])
            pending_label = None
            continue
        text = item
        m = DMATH_LABEL.match(text)
        if m and "$$" in text:
            n_eq += 1
            equations[m.group("label")] = f"{number}.{n_eq}"
        t = TARGET.match(text)
        if t:
            pending_label = t.group("label")
            continue
        h = HEADING.match(text)
        if h:
            level, heading = len(h.group("level")), h.group("text")
            if pending_label:
                labels[pending_label] = heading
            if level == 1 and title == path.stem:
                title = heading
            elif level == 2:
                sections.append((heading, lineno, [], []))
            elif level == 3 and sections:
                sections[-1][3].append(heading)
        if text.strip():
            pending_label = None
    if problems:
        raise SlideError(problems)
    return Chapter(
        path,
        number,
        title,
        intro,
        sections,
        figures,
        equations,
        labels,
        references,
    )


# ---------------------------------------------------------------- glue


@dataclass
class GlueStore:
    """実行済みノートブックの glue の値 (名前 → MIME バンドル)。"""

    notebook: Path
    data: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, notebook: Path) -> GlueStore:
        """``<章>.glue.json`` (myst-nb が書く) とノートブックの出力から glue を集める。

        本のビルドは ``display=False`` の glue をノートブックから取り除き、
        隣の ``<章>.glue.json`` に書く。``display=True`` の glue は出力に残る。
        """
        data: dict[str, dict[str, Any]] = {}
        sidecar = notebook.with_suffix(".glue.json")
        outputs: list[dict[str, Any]] = []
        if sidecar.exists():
            outputs += json.loads(sidecar.read_text(encoding="utf-8")).values()
        if notebook.exists():
            nb = json.loads(notebook.read_text(encoding="utf-8"))
            for cell in nb.get("cells", []):
                if cell.get("cell_type") == "code":
                    outputs += cell.get("outputs", [])
        for output in outputs:
            meta = output.get("metadata", {}).get("scrapbook")
            if not meta or "name" not in meta or meta["name"] in data:
                continue
            prefix = meta.get("mime_prefix", "")
            data[meta["name"]] = {
                k.removeprefix(prefix) if prefix else k: v
                for k, v in output.get("data", {}).items()
            }
        return cls(notebook, data)

    @property
    def exists(self) -> bool:
        return (
            self.notebook.exists()
            or self.notebook.with_suffix(".glue.json").exists()
        )

    def missing(self) -> str:
        if self.exists:
            return "実行結果にありません"
        return (
            f"実行結果にありません ({_rel(self.notebook)} がありません。"
            "先に本をビルドしてください)"
        )


EXPONENT = re.compile(r"(?<=\d)e-(?=\d)")


def no_break_exponent(text: str) -> str:
    """指数表記の「e-」の「-」を、改行しない U+2011 (non-breaking hyphen) にする。

    狭い段組みで「2.6e-」と「12」が別の行に分かれるのを防ぐ。
    """
    return EXPONENT.sub("e\u2011", text)


def format_plain_text(text: str, fmt_spec: str) -> str:
    """myst-nb の ``{glue:text}`name:fmt``` と同じ規則で値を書式化する。"""
    try:
        value: Any = ast.literal_eval(text)
    except (SyntaxError, ValueError):
        value = text
    if fmt_spec == "":
        return str(value)
    kind = fmt_spec[-1]
    if kind == "s":
        value = str(value)
    elif kind in "bcdoxX":
        value = int(value)
    elif kind in "eEfFgGn%":
        value = float(value)
    return format(value, fmt_spec)


def _join(value: str | list[str]) -> str:
    return "".join(value) if isinstance(value, list) else value


IMAGE_MIMES = {"image/png": "png", "image/svg+xml": "svg", "image/jpeg": "jpg"}


# ---------------------------------------------------------------- Markdown へ


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
                value = _join(bundle[mime])
                if ext == "svg":
                    target.write_text(value, encoding="utf-8")
                else:
                    target.write_bytes(base64.b64decode(value))
                return f"{self.asset_prefix}/{target.name}"
        return None

    def glue_value(self, role: str, text: str, where: str) -> str:
        doc, _, key = text.rpartition("::")
        name, _, fmt = key.partition(":")
        store = self._store_for(doc or None)
        bundle = store.data.get(name)
        if bundle is None:
            self.problems.append(
                f"{where}: {{{role}}} の {name} が{store.missing()}"
            )
            return ""
        if role == "glue:md":
            return _join(
                bundle.get("text/markdown", bundle.get("text/plain", ""))
            )
        if role in ("glue", "glue:", "glue:any"):
            src = self.write_image(name, bundle)
            if src:
                return f"![{name}]({src})"
            if "text/markdown" in bundle:
                return _join(bundle["text/markdown"])
        if "text/plain" not in bundle:
            self.problems.append(
                f"{where}: {{{role}}} の {name} に text/plain がありません"
            )
            return ""
        try:
            value = format_plain_text(_join(bundle["text/plain"]), fmt or "")
        except (ValueError, TypeError) as exc:
            self.problems.append(
                f"{where}: {{{role}}}`{text}` の書式が不正です: {exc}"
            )
            return ""
        return no_break_exponent(value)

    def _ref_text(self, text: str) -> tuple[str, str]:
        m = re.match(r"^(?P<title>.*?)\s*<(?P<target>[^<>]+)>$", text)
        if m:
            return m.group("title"), m.group("target")
        return "", text

    def roles(self, line: str, where: str) -> str:
        """MyST のロールを、スライドで読める文字に直す。"""

        def repl(m: re.Match[str]) -> str:
            role, text = m.group("role"), m.group("text")
            if role.startswith("glue"):
                return self.glue_value(role, text, where)
            if role == "math":
                return f"${text}$"
            if role == "eq":
                number = self.chapter.equations.get(text)
                if number is None:
                    self.warnings.append(
                        f"{where}: 式 {text} の番号が分かりません"
                    )
                    return "式"
                return f"式 ({number})"
            if role == "numref":
                title, target = self._ref_text(text)
                number = self.chapter.figures.get(target, ("", ""))[0]
                if not number:
                    self.warnings.append(
                        f"{where}: 図 {target} の番号が分かりません"
                    )
                    return title.replace("%s", "").strip() or "図"
                return title.replace("%s", number) if title else f"図 {number}"
            if role == "ref":
                title, target = self._ref_text(text)
                return title or self.chapter.labels.get(target, target)
            if role.startswith("cite"):
                # 章ごとの文献の接頭辞 (ch4- など) はスライドでは外す
                return "[" + re.sub(r"\bch\d+-", "", text) + "]"
            if role == "kbd":
                return f"<kbd>{text}</kbd>"
            title, target = self._ref_text(text)
            return title or target

        # インラインのコード `…` の中は直さない (左から順に、ロールかコードかを見る)
        return ROLE_OR_CODE.sub(
            lambda m: repl(m) if m.group("role") else m.group(0), line
        )

    def body(self, slide: Slide) -> list[str]:
        out: list[str] = []
        path = slide.path
        for lineno, item in _blocks(
            slide.body, path, self.problems, offset=slide.body_line - 1
        ):
            where = _where(path, lineno)
            if isinstance(item, Directive):
                fence = "```"
                if item.name in ("code-cell", "code-block", "code"):
                    opts, skip = _parse_options(
                        item.body, item.body_line, path, set(), []
                    )
                    lang = (
                        item.argument.split()[0] if item.argument else "python"
                    )
                    lang = "python" if lang == "ipython3" else lang
                    out += [f"{fence}{lang}", *item.body[skip:], fence]
                elif item.name == "math":
                    opts, skip = _parse_options(
                        item.body, item.body_line, path, set(), []
                    )
                    out += self._display_math(
                        item.body[skip:], opts.get("label", ("", 0))[0]
                    )
                elif item.name == "":
                    out += [f"{fence}{item.argument}", *item.body, fence]
                else:
                    self.problems.append(
                        f"{where}: {{slide}} の中の {{{item.name}}} は"
                        "スライドにできません (箇条書き・数式・コードを使ってください)"
                    )
                continue
            out.append(self.roles(item, where))
        return self._math_blocks(_unwrap(out))

    def _display_math(self, body: list[str], label: str) -> list[str]:
        tex = [ln for ln in body if ln.strip()]
        number = self.chapter.equations.get(label) if label else None
        if number:
            tex.append(f"\\tag{{{number}}}")
        return ["$$", *tex, "$$"]

    def _math_blocks(self, lines: list[str]) -> list[str]:
        """``$$ … $$ (label)`` を Marp の ``$$`` ブロックにし、式番号を付ける。"""
        out: list[str] = []
        i = 0
        in_code = False
        while i < len(lines):
            line = lines[i].strip()
            if line.startswith(("```", "~~~")) or in_code:
                in_code = in_code != line.startswith(("```", "~~~"))
                out.append(lines[i])
                i += 1
                continue
            if not line.startswith("$$"):
                out.append(lines[i])
                i += 1
                continue
            rest = line[2:]
            m = DMATH_LABEL.match(rest)
            if m or rest.rstrip().endswith("$$"):  # 1 行の $$ x $$ (label)
                body = m.group("body") if m else rest.rstrip()[:-2]
                out += self._display_math(
                    [body], m.group("label") if m else ""
                )
                i += 1
                continue
            body = [rest] if rest.strip() else []
            i += 1
            label = ""
            while i < len(lines):
                s = lines[i].strip()
                m = DMATH_LABEL.match(s)
                if m:
                    body.append(m.group("body"))
                    label = m.group("label")
                    break
                if s.endswith("$$"):
                    body.append(s[:-2])
                    break
                body.append(lines[i])
                i += 1
            i += 1
            out += ["", *self._display_math(body, label), ""]
        return out

    def figure(self, slide: Slide) -> tuple[str, str] | None:
        """``:figure:`` の図を書き出し、(相対パス, キャプション) を返す。"""
        if slide.image is not None:
            if not slide.image.exists():
                self.problems.append(
                    f"{_where(slide.path, slide.line)}: "
                    f":image: {slide.image} がありません"
                )
                return None
            self.assets.mkdir(parents=True, exist_ok=True)
            shutil.copy2(slide.image, self.assets / slide.image.name)
            return f"{self.asset_prefix}/{slide.image.name}", ""
        if not slide.figure:
            return None
        line = slide.options.get("figure", ("", slide.line))[1]
        where = _where(slide.path, line)
        bundle = self.glue.data.get(slide.figure)
        if bundle is None:
            self.problems.append(
                f"{where}: {{slide}} の :figure: {slide.figure} が{self.glue.missing()}"
            )
            return None
        src = self.write_image(slide.figure, bundle)
        if src is None:
            hint = ""
            if "<Figure" in _join(bundle.get("text/plain", "")):
                hint = (
                    " — カーネルが図を PNG にしていません"
                    " (MPLBACKEND=Agg のときは %matplotlib inline が必要)"
                )
            self.problems.append(
                f"{where}: {{slide}} の :figure: {slide.figure} は画像ではありません"
                f" ({', '.join(bundle)}){hint}"
            )
            return None
        number, caption = self.chapter.figures.get(slide.figure, ("", ""))
        caption = self.roles(caption, where)
        label = f"図 {number}　{caption}" if number else caption
        return src, label.strip()


CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")
BLOCK_START = re.compile(r"^\s*(?:[-*+]\s|\d+[.)]\s|#|\||<|\$\$|>|```|~~~)")
NO_JOIN_AFTER = re.compile(r"^\s*(?:#|\||<|\$\$|```|~~~)")


def join_lines(left: str, right: str) -> str:
    """折り返した 2 行をつなぐ。日本語どうしの間には空白を入れない。"""
    left, right = left.rstrip(), right.strip()
    if not left or not right:
        return left + right
    if CJK.match(left[-1]) or CJK.match(right[0]):
        return left + right
    return f"{left} {right}"


def _unwrap(lines: list[str]) -> list[str]:
    """段落や箇条書きの中の改行をつなぐ (Marp は改行を <br> にするため)。"""
    out: list[str] = []
    in_math = in_code = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")) or in_code:
            in_code = in_code != stripped.startswith(("```", "~~~"))
            out.append(line)
            continue
        if "$$" in stripped and (in_math or stripped.startswith("$$")):
            # $$ の行: 開くか閉じる (1 行で開いて閉じる $$ x $$ は変えない)
            opened_and_closed = not in_math and stripped.count("$$") >= 2
            in_math = False if in_math else not opened_and_closed
            out.append(line)
            continue
        prev = out[-1].strip() if out else ""
        if (
            not in_math
            and stripped
            and prev
            and not BLOCK_START.match(line)
            and not NO_JOIN_AFTER.match(prev)
        ):
            out[-1] = join_lines(out[-1], stripped)
        else:
            out.append(line)
    return out


def _notes(text: str) -> str:
    return "<!--\n" + text.replace("-->", "--&gt;").strip() + "\n-->"


def render_slide(slide: Slide, r: Renderer) -> list[str]:
    """1 枚の ``{slide}`` を Marp の Markdown のページにする。

    本文が長く図が横長なら、図を次のページに出して 2 ページにする。
    """
    ch = r.chapter
    lines: list[str] = []
    figure_page: list[str] = []
    classes = [slide.kind, *slide.classes]
    if slide.kind == "title":
        lines += ["<!-- _paginate: false -->", "<!-- _footer: '' -->"]
        lines += [
            f'<p class="chapter">第{ch.number}章</p>',
            "",
            f"# {ch.title}",
            "",
        ]
        lines += r.body(slide)
    elif slide.kind == "toc":
        lines += [f"## {slide.title}", ""]
        lines += r.body(slide)
    elif slide.kind == "section":
        lines += [
            f'<p class="chapter">{slide.header}</p>',
            "",
            f"## {slide.title}",
            "",
        ]
        lines += r.body(slide)
    else:
        if slide.header:
            lines.append(f"<!-- _header: '{slide.header}' -->")
        lines += [f"## {slide.title}", ""]
        body = r.body(slide)
        fig = r.figure(slide)
        has_text = any(x.strip() for x in body)
        aspect = image_aspect(r.assets.parent / fig[0]) if fig else None
        if (
            fig
            and has_text
            and aspect
            and aspect >= WIDE
            and text_units(body) > STACK_TEXT
        ):
            # 本文が長いと下の図が小さくなるので、図は次のページに大きく出す
            lines += body
            figure_page = [
                f"<!-- _class: {slide.kind} figure-only -->",
                *(
                    [f"<!-- _header: '{slide.header}' -->"]
                    if slide.header
                    else []
                ),
                f"## {slide.title}",
                "",
                '<div class="figure">',
                "",
                *_figure_md(fig),
                "",
                "</div>",
            ]
        elif fig and has_text and aspect and aspect >= WIDE:
            classes.append("stack")
            lines += [*body, "", '<div class="figure">', ""]
            lines += _figure_md(fig)
            lines += ["", "</div>"]
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
                "</div>",
                '<div class="figure">',
                "",
            ]
            lines += _figure_md(fig)
            lines += ["", "</div>", "</div>"]
        elif fig:
            classes.append("figure-only")
            lines += [
                '<div class="figure">',
                "",
                *_figure_md(fig),
                "",
                "</div>",
            ]
        else:
            lines += body
    directive = f"<!-- _class: {' '.join(dict.fromkeys(classes))} -->"
    text = "\n".join([directive, *lines]).rstrip()
    if slide.notes:
        where = _where(
            slide.path, slide.options.get("notes", ("", slide.line))[1]
        )
        text += "\n\n" + _notes(r.roles(slide.notes, where))
    pages = [text + "\n"]
    if figure_page:
        pages.append("\n".join(figure_page) + "\n")
    return pages


def _figure_md(fig: tuple[str, str]) -> list[str]:
    src, caption = fig
    out = [f"![{_first_sentence(caption) or 'figure'}]({src})"]
    if caption:
        out += [
            "",
            '<div class="caption">',
            "",
            _first_sentence(caption),
            "",
            "</div>",
        ]
    return out


def _first_sentence(caption: str) -> str:
    """キャプションの最初の文 (スライドでは長い説明を省く)。"""
    head, sep, _ = caption.partition("。")
    return head + sep


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


WIDE = 1.8  # これより横長の図は本文の下に置く (横に並べると小さすぎる)
DENSE = 110  # 図の横の本文がこれより長ければ (全角 1 文字 = 1) 列を広げる
STACK_TEXT = 90  # 横長の図の上の本文がこれより長ければ、図を次のページに出す


def text_units(lines: list[str]) -> float:
    """本文の長さの目安。全角 1 文字を 1、半角を 0.55、インライン数式を 4 と数える。"""
    text = "".join(lines)
    text = re.sub(r"\$[^$]*\$", "####", text)
    text = re.sub(r"<[^>]+>|[*`]", "", text)
    return sum(1.0 if CJK.match(c) else 0.55 for c in text if not c.isspace())


# ---------------------------------------------------------------- デッキ


def default_slides(ch: Chapter) -> list[Slide]:
    """章の構成から、オーバーライド前のスライドの列を作る。"""
    book_title = ""
    config = ROOT / "_config.yml"
    if config.exists():
        book_title = str(
            yaml.safe_load(config.read_text(encoding="utf-8")).get("title", "")
        )
    slides = [
        Slide(
            title=ch.title,
            kind="title",
            path=ch.path,
            line=1,
            body=[f'<p class="book">{book_title}</p>'] if book_title else [],
        )
    ]
    # 節の番号は本と同じ。文献だけの節はスライドにしない (番号は飛ぶ)
    numbered = [
        (f"{ch.number}.{k}", s)
        for k, s in enumerate(ch.sections, 1)
        if s[2] or s[0] not in ch.references
    ]
    if numbered:
        toc = [f"{num}　{title}" for num, (title, *_rest) in numbered]
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
    for num, (title, line, section_slides, subsections) in numbered:
        if section_slides:
            for s in section_slides:
                s.header = f"{num}　{title}"
            slides += section_slides
        # {slide} も小節もない節 (演習問題など) は、空の扉にしない
        elif subsections:
            body = [f"- {sub}" for sub in subsections]
            slides.append(
                Slide(
                    title=title,
                    kind="section",
                    body=body,
                    header=f"{num}",
                    path=ch.path,
                    line=line,
                    body_line=line,
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


def apply_overrides(slides: list[Slide], override: Path) -> list[Slide]:
    """講師のファイルの ``{slide}`` で、題名を鍵にスライドを差し替え・挿入・削除する。

    - 題名が既存のスライドと同じ (または ``:replace: 題名``) → 差し替え
    - ``:after: 題名`` / ``:before: 題名`` → その前後に挿入
    - ``:remove:`` → その題名のスライドを削除
    """
    problems: list[str] = []
    lines = override.read_text(encoding="utf-8").splitlines()
    start = _front_matter_end(lines)
    result = list(slides)
    for _, item in _blocks(lines[start:], override, problems, offset=start):
        if not isinstance(item, Directive) or item.name != "slide":
            continue
        new = _make_slide(item, override, OVERRIDE_OPTIONS, problems, "", "")
        opts = {k: v for k, (v, _) in new.options.items()}
        if "image" in opts:
            new.image = (override.parent / opts["image"]).resolve()
        if not new.title and not opts.get("replace"):
            problems.append(
                f"{_where(override, item.line)}: {{slide}} に題名がありません"
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
                f"{_where(override, item.line)}: "
                f"スライド「{target}」が章にありません{hint}"
            )
            continue
        k = titles.index(target)
        if "remove" in opts:
            del result[k]
            continue
        if position is None or "replace" in opts:
            new.header = new.header or result[k].header
            new.title = new.title or result[k].title
            result[k] = new
        else:
            new.header = (
                result[k].header if result[k].kind == "content" else ""
            )
            result.insert(k + 1 if position[0] == "after" else k, new)
    if problems:
        raise SlideError(problems)
    return result


FRONT = """---
marp: true
theme: dlbook
lang: ja
paginate: true
math: katex
size: 16:9
title: "{title}"
footer: "{footer}"
---
"""


@dataclass
class Deck:
    name: str
    markdown: Path
    slides: int
    warnings: list[str]


def build_deck(
    chapter_path: Path,
    out_dir: Path = OUT_DIR,
    executed_dir: Path = EXECUTED_DIR,
    overrides_dir: Path | None = None,
) -> Deck:
    """1 章のデッキ (Marp の .md と図) を書き出す。"""
    chapter_path = chapter_path.resolve()
    ch = read_chapter(chapter_path)
    overrides_dir = overrides_dir or SLIDES_DIR / "overrides"
    slides = default_slides(ch)
    override = find_override(chapter_path, overrides_dir)
    if override:
        slides = apply_overrides(slides, override)
    notebook = _notebook_for(chapter_path, executed_dir)
    assets = out_dir / chapter_path.stem
    if assets.exists():
        shutil.rmtree(assets)
    r = Renderer(ch, GlueStore.load(notebook), assets, executed_dir)
    parts = [page for s in slides for page in render_slide(s, r)]
    if r.problems:
        raise SlideError(r.problems)
    head = FRONT.format(
        title=f"第{ch.number}章 {ch.title}",
        footer=f"第{ch.number}章　{ch.title}",
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / f"{chapter_path.stem}.md"
    md.write_text(head + "\n" + "\n---\n\n".join(parts), encoding="utf-8")
    return Deck(chapter_path.stem, md, len(parts), r.warnings)


def _notebook_for(chapter: Path, executed_dir: Path) -> Path:
    """章に対応する実行済みノートブック (``<executed>/book/<章>.ipynb``)。"""
    try:
        rel = chapter.relative_to(ROOT)
    except ValueError:
        rel = Path(chapter.name)
    candidate = executed_dir / rel.with_suffix(".ipynb")
    flat = executed_dir / f"{chapter.stem}.ipynb"
    for path in (candidate, flat):
        if path.exists() or path.with_suffix(".glue.json").exists():
            return path
    return candidate


# ---------------------------------------------------------------- Marp


def _marp() -> list[str]:
    local = ROOT / "node_modules" / ".bin" / "marp"
    if not local.exists():
        raise SystemExit(
            f"marp-cli がありません: {local} (`make setup` で npm ci)"
        )
    return [str(local)]


def copy_katex_fonts(out_dir: Path) -> None:
    """marp-core が使う KaTeX と同じ版のフォントをデッキの隣に置く (CDN を使わない)。"""
    core = ROOT / "node_modules" / "@marp-team" / "marp-core"
    for candidate in (
        core / "node_modules" / "katex",
        ROOT / "node_modules" / "katex",
    ):
        fonts = candidate / "dist" / "fonts"
        if fonts.is_dir():
            break
    else:
        raise SystemExit(
            "KaTeX のフォントが node_modules にありません (`make setup`)"
        )
    target = out_dir / KATEX_FONTS
    target.mkdir(parents=True, exist_ok=True)
    for font in fonts.glob("*.woff2"):
        shutil.copy2(font, target / font.name)


def run_marp(
    decks: list[Path], formats: list[str], out_dir: Path
) -> dict[str, float]:
    """marp を形式ごとに 1 回ずつ (全デッキまとめて) 走らせる。PDF と PPTX は並行。"""
    env = {**os.environ}
    if "CHROME_PATH" not in env:
        for browser in (
            "/usr/bin/chromium",
            "/usr/bin/chromium-browser",
            "/usr/bin/google-chrome",
        ):
            if Path(browser).exists():
                env["CHROME_PATH"] = browser
                break
    env.setdefault(
        "CHROME_NO_SANDBOX", "1"
    )  # root・コンテナでも起動できるように
    base = [
        *_marp(),
        "--config-file",
        str(SLIDES_DIR / "marp.config.mjs"),
        "--theme-set",
        str(SLIDES_DIR / "theme" / "dlbook.css"),
        "--html",
        "--allow-local-files",
        "--no-stdin",
    ]
    procs: dict[str, tuple[subprocess.Popen[str], float]] = {}
    for fmt in formats:
        if fmt == "md":
            continue
        flag = [] if fmt == "html" else [f"--{fmt}"]
        cmd = [*base, *flag, *[str(d) for d in decks]]
        procs[fmt] = (
            subprocess.Popen(
                cmd,
                cwd=out_dir,
                env=env,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            ),
            time.perf_counter(),
        )
    times: dict[str, float] = {}
    failed: list[str] = []
    for fmt, (proc, started) in procs.items():
        output, _ = proc.communicate()
        times[fmt] = time.perf_counter() - started
        if proc.returncode != 0:
            failed.append(f"marp ({fmt}) が失敗しました:\n{output}")
    if failed:
        raise SystemExit("\n".join(failed))
    return times


def publish(out_dir: Path, site_dir: Path) -> None:
    """``_build/slides`` を構築済みサイトの ``slides/`` に写す。"""
    if site_dir.exists():
        shutil.rmtree(site_dir)
    shutil.copytree(out_dir, site_dir)


def chapters_from_toc(root: Path = ROOT) -> list[Path]:
    """_toc.yml の番号付きの部 (本編) にある章だけを返す (付録などは除く)。"""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    return [
        root / f"{c['file']}.md"
        for part in toc.get("parts", [])
        if part.get("numbered")
        for c in part.get("chapters", [])
    ]


def build(
    chapters: list[Path],
    formats: list[str],
    out_dir: Path = OUT_DIR,
    executed_dir: Path = EXECUTED_DIR,
    overrides_dir: Path | None = None,
    site_dir: Path | None = SITE_DIR,
) -> list[Deck]:
    """デッキを作り、各形式に書き出し、サイトにも写す。"""
    decks = []
    problems: list[str] = []
    for chapter in chapters:
        try:
            decks.append(
                build_deck(chapter, out_dir, executed_dir, overrides_dir)
            )
        except SlideError as exc:
            problems += exc.problems
    if problems:
        raise SlideError(problems)
    copy_katex_fonts(out_dir)
    manifest = {
        d.name: {"slides": d.slides, "formats": formats} for d in decks
    }
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    started = time.perf_counter()
    times = run_marp([d.markdown for d in decks], formats, out_dir)
    total = time.perf_counter() - started
    for d in decks:
        for w in d.warnings:
            print(f"警告: {w}", file=sys.stderr)
        outputs = f"{_rel(out_dir)}/{d.name}.{{{','.join(formats)}}}"
        print(f"[slides] {d.name}: {d.slides} 枚 → {outputs}")
    if times:
        detail = ", ".join(f"{k} {v:.1f} 秒" for k, v in times.items())
        print(f"[slides] marp: {total:.1f} 秒 ({detail})")
    if site_dir is not None and site_dir.parent.exists():
        publish(out_dir, site_dir)
        print(f"[slides] サイトに写しました: {_rel(site_dir)}")
    return decks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--all", action="store_true", help="_toc.yml のすべての章"
    )
    which.add_argument(
        "--chapter",
        action="append",
        type=Path,
        help="章のファイル (繰り返し可)。例: book/ch04_nn_basics.md",
    )
    parser.add_argument(
        "--formats",
        default="md,html,pdf,pptx",
        help="書き出す形式 (既定: md,html,pdf,pptx)",
    )
    parser.add_argument(
        "--out", type=Path, default=OUT_DIR, help="出力先 (_build/slides)"
    )
    parser.add_argument(
        "--executed",
        type=Path,
        default=EXECUTED_DIR,
        help="実行済みノートブックのディレクトリ (_build/jupyter_execute)",
    )
    parser.add_argument(
        "--overrides",
        type=Path,
        default=SLIDES_DIR / "overrides",
        help="講師の上書きファイルのディレクトリ (slides/overrides)",
    )
    parser.add_argument(
        "--no-publish",
        action="store_true",
        help="_build/html/slides に写さない",
    )
    args = parser.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        parser.error(
            f"未知の形式: {', '.join(unknown)} (使えるもの: {', '.join(FORMATS)})"
        )
    chapters = (
        chapters_from_toc()
        if args.all
        else [p.resolve() for p in args.chapter]
    )
    for chapter in chapters:
        if not chapter.exists():
            parser.error(f"章のファイルがありません: {chapter}")
    out = args.out.resolve()
    site = None if args.no_publish or out != OUT_DIR else SITE_DIR
    started = time.perf_counter()
    try:
        build(
            chapters,
            formats,
            out,
            args.executed.resolve(),
            args.overrides.resolve(),
            site,
        )
    except SlideError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(
            f"スライドを作れませんでした ({len(exc.problems)} 件の誤り)",
            file=sys.stderr,
        )
        return 1
    print(f"[slides] 全体: {time.perf_counter() - started:.1f} 秒")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
