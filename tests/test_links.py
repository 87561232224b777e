"""dlbook_tools.checks.links のテスト: linkcheck の output.json の要約。"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlbook_tools.checks import links

ROWS = [
    {
        "filename": "book/ch04_nn_basics.md",
        "lineno": 12,
        "status": "working",
        "code": 0,
        "uri": "https://pytorch.org/",
        "info": "",
    },
    {
        "filename": "book/ch06_cnn.md",
        "lineno": 40,
        "status": "broken",
        "code": 404,
        "uri": "https://example.org/gone",
        "info": "404 Client Error: Not Found | for url",
    },
    {
        "filename": "book/ch05_framework.md",
        "lineno": 7,
        "status": "redirected",
        "code": 301,
        "uri": "http://example.org/",
        "info": "https://example.org/",
    },
]


def write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_broken_links_fail_and_are_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = write(tmp_path / "output.json", ROWS)
    step = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    assert links.main([str(out)]) == 1
    text = step.read_text()
    assert "broken 1 件" in text and "working 1 件" in text
    assert "redirected 1 件" in text
    assert "| book/ch06_cnn.md:40 | <https://example.org/gone> |" in text
    assert "Not Found \\| for url" in text  # 表の区切りを壊さない
    assert "pytorch.org" not in text  # 通ったリンクは並べない


def test_all_working_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    out = write(tmp_path / "output.json", ROWS[:1])
    assert links.main([str(out)]) == 0


def test_missing_output_is_an_error(tmp_path: Path) -> None:
    assert links.main([str(tmp_path / "none.json")]) == 2
