"""ページの見出しの直後にリンクの段落を差し込む (スライド・ノートブック・PDF)。"""

from __future__ import annotations

from docutils import nodes


def insert_after_title(
    doctree: nodes.document,
    node: nodes.Node,
    after_classes: tuple[str, ...] = (),
) -> bool:
    """最初の節の見出し (h1) の直後に ``node`` を入れる。

    見出しのすぐ後に ``after_classes`` のクラスを持つ段落が続いていれば、
    その後ろに入れる (スライドのリンクの次にノートブックのリンク、など)。

    Returns:
        入れられたら ``True`` (節のないページでは ``False``)。
    """
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        return False
    children = section.children
    index = next(
        (i + 1 for i, c in enumerate(children) if isinstance(c, nodes.title)),
        0,
    )
    while index < len(children) and any(
        cls in children[index].get("classes", []) for cls in after_classes
    ):
        index += 1
    section.insert(index, node)
    return True
