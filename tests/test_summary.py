"""警告の要約 (dlbook_tools.summary) と二重の図の検査 (dlbook_tools.figcheck)。

要約の 1 行は ``ファイル:行: 何が — 直し方``。遅いテストは小さな一時
プロジェクトに典型的な間違いを全部入れてビルドし、要約を確かめる。
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document

from dlbook_tools.figcheck import alt_is_file_name, check_figures
from dlbook_tools.summary import (
    Problem,
    Warning_,
    classify,
    format_summary,
    glue_keys,
    summarize,
)
from test_build import _mini_book, _run

CHAPTER = """\
# 章

```{code-cell} ipython3
glue("ch4-val", 0.5, display=False)
```

値は {glue:text}`ch4-vall:.2f` である。

$$
\\frac{1}{\\undefinedmacro}
$$

```{code-cell} ipython3
raise ValueError('わざと壊したセル')
```

```{code-cell} ipython3
glue("ch4-after", 1, display=False)
```
"""

TRACEBACK = """\
Executing notebook failed: CellExecutionError
Traceback (most recent call last):
nbclient.exceptions.CellExecutionError: An error occurred while executing \
the following cell:
------------------
raise ValueError('わざと壊したセル')
------------------


ValueError: わざと壊したセル
"""


@pytest.fixture
def book(tmp_path: Path) -> Path:
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "ch.md").write_text(CHAPTER)
    return tmp_path


def _one(book: Path, message: str, line: int | None = None, **kw: str) -> str:
    problem = classify(
        Warning_("book/ch.md", line, message, **kw), book, ["fig-ch4-x"]
    )
    assert problem is not None
    return str(problem)


def test_glue_keys_are_read_from_the_chapter() -> None:
    assert glue_keys(CHAPTER) == ["ch4-val", "ch4-after"]


def test_glue_typo_names_the_key_and_a_close_one(book: Path) -> None:
    line = _one(
        book, "No key 'ch4-vall' found in glue data for this document.", 7
    )
    assert line.startswith("book/ch.md:7: glue のキー 'ch4-vall' がありません")
    assert "近い名前: ch4-val" in line
    assert " — " in line


def test_undefined_label_suggests_a_close_label(book: Path) -> None:
    line = _one(book, "undefined label: 'fig-ch4-y'", 9, subtype="numref")
    assert line.startswith("book/ch.md:9: ラベル 'fig-ch4-y' が定義されて")
    assert ":name: fig-ch4-y" in line and "近い名前: fig-ch4-x" in line


def test_katex_error_without_line_is_located_in_the_source(
    book: Path,
) -> None:
    line = _one(
        book,
        "KaTeX が式を描画できません: \\frac{1}{\\undefinedmacro}",
        subtype="katex",
    )
    assert line.startswith("book/ch.md:10: KaTeX が式を描画できません")


def test_failing_cell_is_named_by_line_and_number(book: Path) -> None:
    line = _one(book, TRACEBACK, subtype="exec")
    assert line.startswith(
        "book/ch.md:13 (コードセル 2): セルの実行に失敗しました: "
        "ValueError: わざと壊したセル — セルを直す"
    )


def test_missing_values_after_a_failed_cell_become_one_line(
    book: Path,
) -> None:
    warnings = [
        Warning_("book/ch.md", None, TRACEBACK, "mystnb", "exec"),
        Warning_(
            "book/ch.md",
            None,
            "Notebook exception traceback saved in: x.err.log",
            "mystnb",
            "exec",
        ),
        Warning_("book/ch.md", 20, "No key 'ch4-after' found in glue data"),
        Warning_("book/ch.md", 21, "No key 'ch4-after' found in glue data"),
        Warning_("book/ch.md", 7, "No key 'ch4-vall' found in glue data"),
    ]
    problems = summarize(warnings, book, [], "_build/logs/build.log")
    assert [p.kind for p in problems] == [
        "cell",
        "glue",
        "glue-missing-value",
    ]
    assert "glue の値が 2 個ありません (ch4-after, ch4-after)" in str(
        problems[2]
    )
    assert "_build/logs/build.log" in str(problems[0])


def test_summary_has_a_count_and_the_log(book: Path) -> None:
    text = format_summary(
        [Problem("book/ch.md", 3, "何か", "直す")], "_build/logs/build.log"
    )
    assert "ビルド失敗 (build failed): 1 件" in text
    assert "  book/ch.md:3: 何か — 直す" in text
    assert "完全なログ (full log): _build/logs/build.log" in text


# ---------------------------------------------------------------- 二重の図


def test_alt_text_that_is_a_file_name() -> None:
    uri = "../_images/3fa2.png"
    assert alt_is_file_name(uri, uri)
    assert alt_is_file_name("3fa2.png", uri)
    assert not alt_is_file_name("XOR の決定境界", uri)
    assert not alt_is_file_name("", uri)  # 空の alt は装飾画像として許す


def _page(*images: dict[str, str]) -> nodes.document:
    doc = new_document("ch.md", get_default_settings(Parser))
    for attrs in images:
        para = nodes.paragraph()
        para.line = 5
        para += nodes.image(**attrs)
        doc += para
    return doc


def test_figure_shown_twice_and_file_name_alt_are_warned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    page = _page(
        {"uri": "_build/jupyter_execute/ab.png"},  # セルの出力 (alt なし)
        {"uri": "_build/jupyter_execute/ab.png", "alt": "直線"},
        {"uri": "_build/jupyter_execute/cd.png", "alt": "曲線"},
    )
    with caplog.at_level(logging.WARNING):
        check_figures(None, page, "book/ch")  # type: ignore[arg-type]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert any("代替テキストがファイル名" in m for m in messages)
    assert any("同じ図がこのページに 2 回" in m for m in messages)
    assert all("plt.close(fig)" in m for m in messages)


# ---------------------------------------------------------------- ビルド全体


@pytest.mark.slow
def test_every_mistake_lands_in_one_summary(tmp_path: Path) -> None:
    body = (
        "# 章\n\n## 節\n\n"
        "```{code-cell} ipython3\nfrom myst_nb import glue\n"
        "import matplotlib.pyplot as plt\n"
        'glue("ch4-val", 0.5, display=False)\n'
        "fig, ax = plt.subplots()\nax.plot([1, 2])\n"
        'glue("fig-ch4-x", fig, display=False)\n```\n\n'
        "値は {glue:text}`ch4-vall:.2f` である。"
        "{numref}`fig-ch4-missing` を見よ。\n\n"
        "```{glue:figure} fig-ch4-x\n:name: fig-ch4-x\n:alt: 直線\n直線\n```\n"
        "\n$$\n\\frac{1}{\\undefinedmacro}\n$$\n\n"
        "```{code-cell} ipython3\nraise ValueError('わざと壊したセル')\n```\n"
    )
    book = _mini_book(tmp_path, body)
    code = (
        "from dlbook_tools.preview import main; "
        "sys.exit(main(['book/ch04_nn_basics.md', '--no-textlint'], "
        f"Path({str(book)!r})))"
    )
    proc = _run(book, code)
    assert proc.returncode != 0
    err = proc.stderr
    summary = err[err.index("ビルド失敗") :]
    expected = [
        "book/ch04_nn_basics.md:36 (コードセル 2): セルの実行に失敗しました: "
        "ValueError: わざと壊したセル — ",
        "book/ch04_nn_basics.md:24: glue のキー 'ch4-vall' がありません — ",
        "book/ch04_nn_basics.md:24: ラベル 'fig-ch4-missing' が定義されて",
        "book/ch04_nn_basics.md:17: 図の代替テキストがファイル名です",
        "book/ch04_nn_basics.md:26: 同じ図がこのページに 2 回出ています",
        "book/ch04_nn_basics.md:33: KaTeX が式を描画できません",
    ]
    for item in expected:
        assert item in summary, summary
    assert summary.index(expected[0]) < summary.index(expected[1])
    assert "ビルド失敗 (build failed): 6 件" in summary, summary
    # 雑音は画面に出ず、完全なログには残る。失敗したらページのパスは出さない
    log = book / "_build/preview/ch04_nn_basics/build.log"
    assert "TCP without encryption" in log.read_text()
    assert "TCP without encryption" not in proc.stdout + err
    assert "_build/preview/ch04_nn_basics/build.log" in summary
    assert "プレビュー:" not in proc.stdout


def test_a_cell_that_timed_out_is_located(book: Path) -> None:
    message = (
        "Executing notebook failed: CellTimeoutError\n"
        "nbclient.exceptions.CellTimeoutError: A cell timed out while it was"
        " being executed, after 300 seconds.\nThe message was: Cell execution"
        " timed out.\nHere is a preview of the cell contents:\n"
        "-------------------\n"
        "raise ValueError('わざと壊したセル')\n-------------------\n"
    )
    line = _one(book, message, subtype="exec")
    assert line.startswith(
        "book/ch.md:13 (コードセル 2): セルの実行に失敗しました: "
        "CellTimeoutError: 300 秒を超えた — 計算を軽くする"
    ), line


def test_a_sphinx_crash_shows_its_cause_not_the_wrapper() -> None:
    from dlbook_tools.summary import crash_problems

    log = (
        "writing output... [ 50%] book/ch04_nn_basics\n"
        "\x1b[91mException occurred:\x1b[39;49;00m\n"
        '  File "katex.py", line 432, in start_server_process\n'
        "    sock.connect(str(socket_path))\n"
        "ConnectionRefusedError: [Errno 111] Connection refused\n"
        "The full traceback has been saved in /tmp/sphinx-err-x.log\n"
        "Traceback (most recent call last):\n"
        "RuntimeError: \n"
        "There was an error in building your book.\n"
    )
    [problem] = crash_problems(log, "_build/logs/build.log")
    assert problem.what == (
        "ConnectionRefusedError: [Errno 111] Connection refused"
    )
