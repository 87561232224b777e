"""章のページの冒頭に、その章のスライド (HTML / PDF / PPTX) へのリンクを置く。

スライドは ``python -m dlbook_tools.slides --all`` が ``_build/slides/`` に作り、
サイトの ``slides/`` に写す (``slides/<章>.html`` など)。この拡張はリンクだけを足す。
対象は名前が ``dlbook_slides_pattern`` (既定: ``chNN_*``) に合う文書。
"""

from __future__ import annotations

import posixpath
import re
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from dlbook_tools.doctree import insert_after_title
from dlbook_tools.slides import CHAPTER_OPTIONS

FORMATS = (("HTML", "html"), ("PDF", "pdf"), ("PPTX", "pptx"))


class SlideDirective(SphinxDirective):
    """``{slide}``: スライド専用の内容。HTML の本には何も出さない。

    内容は ``dlbook_tools.slides`` が章から読み取り、Marp のスライドにする。
    オプションは ``slides.CHAPTER_OPTIONS`` と同じ (:figure:, :notes:, :class:)。
    """

    has_content = True
    optional_arguments = 1
    final_argument_whitespace = True
    option_spec: ClassVar[dict[str, Any]] = {
        name: directives.unchanged_required
        if name == "figure"
        else directives.unchanged
        for name in sorted(CHAPTER_OPTIONS)
    }

    def run(self) -> list[nodes.Node]:
        return []


def slide_links(app: Sphinx, docname: str) -> nodes.paragraph:
    """「スライド (HTML / PDF / PPTX)」の段落を作る。リンクは章のページからの相対。"""
    page = app.builder.get_target_uri(docname)
    base = posixpath.dirname(page) or "."
    stem = posixpath.basename(docname)
    para = nodes.paragraph(classes=["dlbook-slides"])
    para += nodes.Text("スライド (")
    for k, (label, ext) in enumerate(FORMATS):
        if k:
            para += nodes.Text(" / ")
        uri = posixpath.relpath(
            f"{app.config.dlbook_slides_dir}/{stem}.{ext}", base
        )
        para += nodes.reference(label, label, refuri=uri, internal=False)
    para += nodes.Text(")")
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


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("dlbook_slides_pattern", r"(^|/)ch\d+_[^/]+$", "html")
    app.add_config_value("dlbook_slides_dir", "slides", "html")
    app.add_directive("slide", SlideDirective)
    app.connect("doctree-resolved", add_slide_links)
    return {
        "version": "0.1",
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
