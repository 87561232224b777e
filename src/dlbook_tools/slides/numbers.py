"""Sphinx のビルドが計算した図・式・節の番号を読む (スライドの側では数え直さない)。

``dlbook_tools.slides_sphinx`` がビルドの終わりに ``<ビルド>/dlbook-numbers.json``
(実行結果 ``jupyter_execute/`` の隣) に書く::

    {"book/ch04_nn_basics": {"title": "…", "sections": [["4.1", "題"], …],
      "figures": {"fig-ch4-xor": "4.2"}, "equations": {"eq-ch4-x": "4.1"}}}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dlbook_tools.slides.model import (
    NUMBERS_FILE,
    Chapter,
    SlideError,
    rel,
    where,
)


def numbers_path(executed_dir: Path) -> Path:
    return executed_dir.parent / NUMBERS_FILE


def docname(chapter: Path, root: Path) -> str:
    """``book/ch04_nn_basics.md`` → ``book/ch04_nn_basics`` (根から、なければ親から)。"""
    try:
        return str(chapter.resolve().relative_to(root).with_suffix(""))
    except ValueError:
        return f"{chapter.parent.name}/{chapter.stem}"


def load(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def apply_numbers(ch: Chapter, executed_dir: Path, root: Path) -> None:
    """``ch`` に Sphinx の番号を入れる。番号の表がない・章と合わないときは誤り。"""
    path = numbers_path(executed_dir)
    table = load(path)
    doc = docname(ch.path, root)
    entry = table.get(doc) or next(
        (v for k, v in table.items() if k.endswith("/" + ch.path.stem)), None
    )
    if entry is None:
        raise SlideError(
            [
                f"{where(ch.path, 1)}: 図・式・節の番号 ({rel(path)}) に"
                f" {doc} がありません。先に本をビルドしてください (make html"
                f" または make preview CH={rel(ch.path)})"
            ]
        )
    ch.figures = {str(k): str(v) for k, v in entry.get("figures", {}).items()}
    ch.kinds = {str(k): str(v) for k, v in entry.get("kinds", {}).items()}
    ch.equations = {
        str(k): str(v) for k, v in entry.get("equations", {}).items()
    }
    sections = [(str(n), str(t)) for n, t in entry.get("sections", [])]
    if len(sections) != len(ch.sections):
        raise SlideError(
            [
                f"{where(ch.path, 1)}: 章の ## 節は {len(ch.sections)} 個、"
                f"ビルドの番号の表 ({rel(path)}) では {len(sections)} 個。"
                f"ビルドが章より古い: make preview CH={rel(ch.path)} か make html"
                " で作り直してください"
            ]
        )
    ch.section_numbers = [n for n, _ in sections]
