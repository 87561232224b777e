"""スライドと本をつなぐ Sphinx 拡張。

- ``{slide}`` ディレクティブ: 本には何も出さない (内容は ``dlbook_tools.slides`` が読む)。
- 章のページの冒頭に、その章のスライドと配布物へのリンクを置く。
- ビルドの終わりに、Sphinx が計算した節・図・式の番号を
  ``<出力の親>/dlbook-numbers.json`` に書く。スライドはこれを読み、番号を数え直さない。

スライドは ``python -m dlbook_tools.slides --all`` が ``_build/slides/`` に作り、
サイトの ``slides/`` に写す (``slides/<章>.html`` など)。対象は名前が
``dlbook_slides_pattern`` (既定: ``chNN_*``) に合う文書。
"""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.nodes import make_id
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from dlbook_tools.doctree import insert_after_title
from dlbook_tools.slides.model import NUMBERS_FILE
from dlbook_tools.slides.read import CHAPTER_OPTIONS, SlideSpec

#: (リンクの文字, 拡張子, 説明 (title 属性))
LINKS = (
    ("HTML", "html", "発表用 (P キーで発表者表示とノート)"),
    ("PDF", "pdf", "スライドの PDF (話者ノートは PDF の注釈)"),
    (
        "PPTX 編集用",
        "editable.pptx",
        "文字・箇条書き・ノートを編集できる PowerPoint",
    ),
    ("PPTX 画像", "pptx", "見た目どおりの PowerPoint (各ページが 1 枚の画像)"),
    ("配布資料", "handout.pdf", "1 ページに 4 枚とノート (学生用)"),
)
SHEETS = (
    ("演習問題", "exercises.pdf", "解答なし (学生用)"),
    ("解答つき", "solutions.pdf", "実行した解答つき (講師用)"),
)


class SlideDirective(SphinxDirective):
    """``{slide}``: スライド専用の内容。HTML の本には何も出さない。

    内容は ``dlbook_tools.slides`` が章から読み取り、Marp のスライドにする。
    オプションは ``slides.read.CHAPTER_OPTIONS`` (:figure:, :notes:, :class:)。
    """

    has_content = True
    optional_arguments = 1
    final_argument_whitespace = True
    option_spec: ClassVar[dict[str, Any]] = {
        name: SlideSpec.option_spec[name] for name in sorted(CHAPTER_OPTIONS)
    }

    def run(self) -> list[nodes.Node]:
        return []


def _links(
    para: nodes.paragraph, base: str, folder: str, stem: str, items: tuple
) -> None:
    for k, (label, ext, title) in enumerate(items):
        if k:
            para += nodes.Text(" / ")
        uri = posixpath.relpath(f"{folder}/{stem}.{ext}", base)
        para += nodes.reference(
            label, label, refuri=uri, internal=False, reftitle=title
        )


def slide_links(app: Sphinx, docname: str) -> nodes.paragraph:
    """「スライド (HTML / PDF / …)」と「演習シート (…)」の段落を作る。

    リンクは章のページからの相対。どのファイルが何かは title 属性にも書く。
    """
    page = app.builder.get_target_uri(docname)
    base = posixpath.dirname(page) or "."
    stem = posixpath.basename(docname)
    folder = app.config.dlbook_slides_dir
    para = nodes.paragraph(classes=["dlbook-slides"])
    para += nodes.Text("スライド (")
    _links(para, base, folder, stem, LINKS)
    para += nodes.Text(")。演習シート (")
    _links(para, base, folder, stem, SHEETS)
    para += nodes.Text(
        ")。PPTX 編集用は文字とノートを直せる版、PPTX 画像は見た目どおりだが"
        "文字を直せない版。スライドと図は CC BY-SA 4.0。"
    )
    return para


def add_slide_links(
    app: Sphinx, doctree: nodes.document, docname: str
) -> None:
    """章の見出し (h1) の直後にスライドへのリンクを入れる (HTML の出力だけ)。"""
    if app.builder.format != "html":
        return
    if not re.search(app.config.dlbook_slides_pattern, docname):
        return
    insert_after_title(doctree, slide_links(app, docname))


def _number(numbers: Any) -> str:
    return ".".join(str(n) for n in numbers or ())


def chapter_numbers(app: Sphinx, docname: str) -> dict[str, Any]:
    """1 章ぶんの番号: ``##`` 節、名前付きの図・表、ラベル付きの式。"""
    env = app.env
    doctree = env.get_doctree(docname)
    secnums = env.toc_secnumbers.get(docname, {})
    top = next(iter(doctree.findall(nodes.section)), None)
    sections = []
    if top is not None:
        for sec in top.children:
            if isinstance(sec, nodes.section) and sec["ids"]:
                title = sec.next_node(nodes.title)
                sections.append(
                    [
                        _number(secnums.get("#" + sec["ids"][0])),
                        title.astext() if title else "",
                    ]
                )
    fignums = env.toc_fignumbers.get(docname, {})
    first = {
        fid: (_number(num), figtype)
        for figtype, ids in fignums.items()
        if figtype != "displaymath"
        for fid, num in ids.items()
    }
    # 番号は節点の最初の id に付く。ラベルは同じ節点の別の id を指すことがある
    by_id: dict[str, tuple[str, str]] = {}
    for node in doctree.findall(nodes.Element):
        ids = node.get("ids", [])
        if ids and ids[0] in first:
            by_id.update(dict.fromkeys(ids, first[ids[0]]))
    std = env.get_domain("std")
    labelled = {
        label: by_id[labelid]
        for label, (doc, labelid) in std.anonlabels.items()  # type: ignore[attr-defined]
        if doc == docname and labelid in by_id
    }
    figures = {label: num for label, (num, _) in labelled.items()}
    # 図以外 (表・コード) の種類。スライドの {numref} が「表 4.1」と書くため
    kinds = {
        label: kind
        for label, (_, kind) in labelled.items()
        if kind != "figure"
    }
    math = env.get_domain("math")
    displaymath = fignums.get("displaymath", {})
    equations = {}
    for label, (doc, eqno) in math.equations.items():  # type: ignore[attr-defined]
        if doc != docname:
            continue
        numbers = displaymath.get(make_id(f"equation-{label}"))
        equations[label] = _number(numbers) if numbers else str(eqno)
    title = env.titles.get(docname)
    return {
        "title": title.astext() if title else "",
        "sections": sections,
        "figures": figures,
        "kinds": kinds,
        "equations": equations,
    }


def write_numbers(app: Sphinx, exception: Exception | None) -> None:
    """章ごとの番号を ``<出力の親>/dlbook-numbers.json`` に書く (スライドが読む)。"""
    if exception is not None or app.builder.format != "html":
        return
    table = {
        doc: chapter_numbers(app, doc)
        for doc in sorted(app.env.found_docs)
        if re.search(app.config.dlbook_slides_pattern, doc)
    }
    target = Path(app.outdir).parent / NUMBERS_FILE
    target.write_text(
        json.dumps(table, ensure_ascii=False, indent=1), encoding="utf-8"
    )


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("dlbook_slides_pattern", r"(^|/)ch\d+_[^/]+$", "html")
    app.add_config_value("dlbook_slides_dir", "slides", "html")
    app.add_directive("slide", SlideDirective)
    app.connect("doctree-resolved", add_slide_links)
    app.connect("build-finished", write_numbers)
    return {
        "version": "0.2",
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
