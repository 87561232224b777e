"""benchmarks.diagrams: 図を描いたセルの時間だけを足す。"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.diagrams import diagram_seconds, to_markdown


def _cell(start: str, end: str, mime: str | None) -> dict:
    outputs = [{"output_type": "display_data", "data": {mime: "<svg/>"}}]
    return {
        "cell_type": "code",
        "metadata": {
            "execution": {
                "iopub.execute_input": start,
                "shell.execute_reply": end,
            }
        },
        "outputs": outputs if mime else [],
    }


def test_sums_only_cells_that_draw_svg(tmp_path: Path) -> None:
    nb = {
        "cells": [
            _cell(
                "2026-12-06T09:00:00.000Z", "2026-12-06T09:00:01.500Z", None
            ),
            _cell(
                "2026-12-06T09:00:02.000Z",
                "2026-12-06T09:00:02.250Z",
                "image/svg+xml",
            ),
            _cell(
                "2026-12-06T09:00:03.000Z",
                "2026-12-06T09:00:04.000Z",
                "image/png",
            ),
            {"cell_type": "markdown", "source": "x"},
        ]
    }
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "ch04_nn_basics.ipynb").write_text(json.dumps(nb))
    (tmp_path / "book" / "ch05_untimed.ipynb").write_text(
        json.dumps({"cells": [{"cell_type": "code", "outputs": []}]})
    )
    got = diagram_seconds(tmp_path)
    assert list(got) == ["ch04_nn_basics"]
    assert got["ch04_nn_basics"]["cells"] == 1
    assert abs(got["ch04_nn_basics"]["seconds"] - 0.25) < 1e-9
    assert abs(got["ch04_nn_basics"]["total"] - 2.75) < 1e-9
    table = "\n".join(to_markdown(got))
    assert "| `ch04_nn_basics` | 1 | 0.2 秒 | 2.8 秒 | 9% |" in table
