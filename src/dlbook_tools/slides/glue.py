"""実行済みノートブックの glue の値を読み、myst-nb と同じ書式で文字にする。"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlbook_tools.slides.model import rel

IMAGE_MIMES = {"image/png": "png", "image/svg+xml": "svg", "image/jpeg": "jpg"}


def join(value: str | list[str]) -> str:
    return "".join(value) if isinstance(value, list) else value


@dataclass
class GlueStore:
    """実行済みノートブックの glue の値 (名前 → MIME バンドル)。"""

    notebook: Path
    data: dict[str, dict[str, Any]]
    chapter: Path | None = None  # 古さを比べる章のファイル

    @classmethod
    def load(cls, notebook: Path, chapter: Path | None = None) -> GlueStore:
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
        return cls(notebook, data, chapter)

    @property
    def exists(self) -> bool:
        return (
            self.notebook.exists()
            or self.notebook.with_suffix(".glue.json").exists()
        )

    def stale(self) -> bool:
        """実行結果が章のファイルより古い (章を書き換えた後にビルドしていない)。"""
        if (
            self.chapter is None
            or not self.exists
            or not self.chapter.exists()
        ):
            return False
        files = [self.notebook, self.notebook.with_suffix(".glue.json")]
        built = max(f.stat().st_mtime for f in files if f.exists())
        return self.chapter.stat().st_mtime > built

    def missing(self) -> str:
        """glue が見つからないときの説明 (直し方つき)。"""
        if not self.exists:
            return (
                f"実行結果にありません ({rel(self.notebook)} がありません。"
                "先に本をビルドしてください: make html)"
            )
        if self.stale():
            assert self.chapter is not None
            return (
                f"実行結果にありません (実行結果 {rel(self.notebook)} が"
                f"章より古い。作り直すには: make preview CH={rel(self.chapter)}"
                " または make html)"
            )
        return "実行結果にありません"


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
