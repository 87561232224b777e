"""概念図がビルドに足す時間を、実行済みノートブックのセルの時刻から測る。

nbclient はセルごとに ``metadata.execution`` に ``iopub.execute_input`` (開始) と
``shell.execute_reply`` (終了) の時刻を書く。出力に ``image/svg+xml`` を持つセル
(``dlbook.diagrams`` の SVG を glue したセル) の実行時間を章ごとに足し合わせる。
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

SVG_MIME = "image/svg+xml"


def _duration(cell: dict) -> float | None:
    meta = cell.get("metadata", {}).get("execution", {})
    start, end = (
        meta.get("iopub.execute_input"),
        meta.get("shell.execute_reply"),
    )
    if not start or not end:
        return None
    t0 = datetime.fromisoformat(start.replace("Z", "+00:00"))
    t1 = datetime.fromisoformat(end.replace("Z", "+00:00"))
    return (t1 - t0).total_seconds()


def _draws_svg(cell: dict) -> bool:
    return any(
        SVG_MIME in out.get("data", {}) for out in cell.get("outputs", [])
    )


def diagram_seconds(executed: Path) -> dict[str, dict[str, float]]:
    """``executed`` (``_build/jupyter_execute``) の各章について、図のセル数と秒数を返す。

    Returns:
        章の名前 → ``{"cells": 図を描いたセルの数, "seconds": その実行時間の和,
        "total": 章の全セルの実行時間の和}``。時刻のないノートブックは含めない。
    """
    result: dict[str, dict[str, float]] = {}
    for path in sorted(executed.rglob("ch0*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = [
            c for c in nb.get("cells", []) if c.get("cell_type") == "code"
        ]
        durations = [(_duration(c), _draws_svg(c)) for c in cells]
        if not any(d is not None for d, _ in durations):
            continue
        result[path.stem] = {
            "cells": float(sum(1 for _, svg in durations if svg)),
            "seconds": sum(d or 0.0 for d, svg in durations if svg),
            "total": sum(d or 0.0 for d, _ in durations),
        }
    return result


def to_markdown(data: dict[str, dict[str, float]]) -> list[str]:
    """結果を README の表の行にする。"""
    lines = [
        "## 概念図の描画時間 (実行済みノートブックのセルの時刻から)",
        "",
        "| 章 | 図を描いたセル | 図の時間 | 章の全セル | 割合 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, d in data.items():
        share = d["seconds"] / d["total"] if d["total"] else 0.0
        lines.append(
            f"| `{name}` | {d['cells']:.0f} | {d['seconds']:.1f} 秒 "
            f"| {d['total']:.1f} 秒 | {share:.0%} |"
        )
    lines.append("")
    return lines
