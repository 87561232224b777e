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


def test_warnings_that_point_outside_the_preview_are_ignored(
    tmp_path: Path,
) -> None:
    from dlbook_tools.preview import outside_preview
    from dlbook_tools.summary import Problem

    book = tmp_path / "book"
    book.mkdir()
    (book / "ch04_nn_basics.md").write_text("(ch4-x)=\n## 節\n")
    (book / "ch05_framework.md").write_text(
        "(ch5-sec)=\n## 節\n```{glue:figure} f\n:name: fig-ch5-loss\n```\n"
        "$$ a $$ (eq-ch5-sgd)\n"
    )
    ignore = outside_preview(Path("book/ch04_nn_basics.md"), tmp_path)
    here = "book/ch04_nn_basics.md"

    def label(name: str) -> Problem:
        return Problem(
            here, 3, f"ラベル '{name}' が定義されていません", "", "label"
        )

    assert ignore(label("fig-ch5-loss"))  # 他の章の図
    assert ignore(label("eq-ch5-sgd")) and ignore(label("ch5-sec"))
    assert not ignore(label("fig-ch4-missing"))  # この章の誤り
    assert ignore(
        Problem("book/glossary.md", 40, "Unknown source document", "")
    )
    assert ignore(
        Problem(here, 9, "Unknown source document 'book/ch05_framework'", "")
    )
    assert not ignore(
        Problem(here, 9, "Unknown source document 'book/ch09_nothing'", "")
    )
    assert not ignore(
        Problem(here, 5, "glue のキー 'ch4-a' がありません", "", "glue")
    )


def test_only_appendix_pages_without_cells_join_the_preview(
    tmp_path: Path,
) -> None:
    from dlbook_tools.preview import appendix_parts

    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "glossary.md").write_text("# 用語集\n")
    (tmp_path / "book" / "status.md").write_text(
        "# 状況\n```{code-cell} ipython3\nprint(1)\n```\n"
    )
    toc = {
        "parts": [
            {"numbered": True, "chapters": [{"file": "book/ch04"}]},
            {
                "caption": "付録",
                "chapters": [
                    {"file": "book/glossary"},
                    {"file": "book/status"},
                ],
            },
        ]
    }
    assert appendix_parts(toc, tmp_path) == [
        {"caption": "付録", "chapters": [{"file": "book/glossary"}]}
    ]
