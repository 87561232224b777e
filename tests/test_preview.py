"""``make preview`` の文章の検査 (dlbook_tools.preview.textlint)。"""

from __future__ import annotations

from pathlib import Path

import pytest

from dlbook_tools.preview import textlint

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_textlint_names_file_line_and_fix(tmp_path: Path) -> None:
    (tmp_path / "book").mkdir()
    chapter = tmp_path / "book" / "ch04_nn_basics.md"
    chapter.write_text(
        "# 章\n\n## 節\n\nこれは関数である。\n\nこれはペンです。\n"
    )
    found = textlint(chapter, tmp_path)
    assert any(
        line.startswith("book/ch04_nn_basics.md:7:")
        and "no-mix-dearu-desumasu" in line
        and " — 文を直す" in line
        for line in found
    ), found


@pytest.mark.slow
def test_textlint_is_quiet_on_clean_prose(tmp_path: Path) -> None:
    (tmp_path / "book").mkdir()
    chapter = tmp_path / "book" / "ch.md"
    chapter.write_text("# 章\n\n## 節\n\nこれは関数である。\n")
    assert textlint(chapter, tmp_path) == []
