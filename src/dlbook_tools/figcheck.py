"""二重の図とファイル名の代替テキストを警告にする (Sphinx 拡張)。

図を作るセルが ``glue("fig-…", fig, display=False)`` の後で
``plt.close(fig)`` を忘れると、matplotlib がセルの出力にも同じ図を出す。
本文の ``{glue:figure}`` と合わせて同じ図が 2 回並び、出力の方の画像は
代替テキストがファイル名 (``../_images/3fa2….png``) になる。どちらも
``-W`` でビルドを止める。
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

FILE_NAME = re.compile(r"\.(png|jpe?g|gif|svg|webp|pdf)$", re.I)
CLOSE_FIG = (
    "図を作るセルで glue の後に plt.close(fig) を呼ぶ"
    " (セルの出力にも同じ図が出ている)"
)


def _line(node: nodes.Node) -> int | None:
    current: Any = node
    while current is not None:
        if getattr(current, "line", None):
            return int(current.line)
        current = current.parent
    return None


def alt_is_file_name(alt: str, uri: str) -> bool:
    """代替テキストがファイル名 (またはパス) か。"""
    alt = alt.strip()
    return bool(alt) and (
        alt == uri
        or alt == posixpath.basename(uri)
        or bool(FILE_NAME.search(alt))
    )


def check_figures(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """ページの画像を調べ、同じ画像の 2 回目と、ファイル名の alt を警告する。"""
    seen: dict[str, int | None] = {}
    for image in doctree.findall(nodes.image):
        uri = str(image.get("uri", ""))
        if not uri or "://" in uri:
            continue
        line = _line(image)
        if uri in seen:
            first = seen[uri]
            where = f" ({first} 行目と同じ)" if first else ""
            logger.warning(
                f"同じ図がこのページに 2 回出ています{where}: "
                f"{posixpath.basename(uri)} — {CLOSE_FIG}",
                location=(docname, line),
                type="dlbook",
                subtype="figure-twice",
            )
        else:
            seen[uri] = line
        # alt のない画像は、HTML ではファイル名 (uri) が代替テキストになる
        alt = str(image.get("alt", uri))
        if alt_is_file_name(alt, uri):
            logger.warning(
                f"図の代替テキストがファイル名です: {posixpath.basename(alt)}"
                " — 図は glue して {glue:figure} に :alt: (何が描かれているか)"
                " を書く。セルの出力に出た図なら " + CLOSE_FIG.split(" (")[0],
                location=(docname, line),
                type="dlbook",
                subtype="figure-alt",
            )


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-resolved", check_figures)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
