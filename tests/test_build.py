"""ビルドの振る舞い: 失敗は大きな声で、キャッシュは src/ の変更に追従する。

小さな一時プロジェクト (本番と同じ _config.yml と拡張) で確かめる。
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dlbook_tools.build import CellFailure, _code_cells, find_cell_failures

ROOT = Path(__file__).resolve().parents[1]

HEADER = textwrap.dedent("""\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    ---
    """)


def _mini_book(tmp: Path, body: str) -> Path:
    """1 章だけの本を tmp に作る。章の本文は ``body``。"""
    shutil.copy(ROOT / "_config.yml", tmp / "_config.yml")
    (tmp / "_toc.yml").write_text(
        textwrap.dedent("""\
        format: jb-book
        root: book/index
        parts:
          - caption: 本編
            numbered: true
            chapters:
              - file: book/ch04_nn_basics
        """)
    )
    (tmp / "book").mkdir()
    (tmp / "book" / "index.md").write_text(
        "# 索引\n\n```{tableofcontents}\n```\n"
    )
    (tmp / "book" / "references.bib").write_text("")
    (tmp / "book" / "ch04_nn_basics.md").write_text(HEADER + body)
    (tmp / "src" / "dlbook").mkdir(parents=True)
    (tmp / "src" / "dlbook" / "marker.py").write_text("VALUE = 'A'\n")
    (tmp / "node_modules").symlink_to(ROOT / "node_modules")
    return tmp


def _run(book: Path, code: str) -> subprocess.CompletedProcess[str]:
    """``book`` の中で Python のコード ``code`` を別プロセスで走らせる。"""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; " + code,
        ],
        cwd=book,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _build(book: Path) -> subprocess.CompletedProcess[str]:
    return _run(
        book,
        "from dlbook_tools.build import run_jupyter_book; "
        f"sys.exit(run_jupyter_book(Path({str(book)!r})))",
    )


def test_code_cells_are_located_by_line() -> None:
    md = (
        "# t\n\n```{code-cell} ipython3\n:tags: [x]\nprint(1)\n```\n\n"
        "````{code-cell} ipython3\n1 / 0\n````\n"
    )
    assert _code_cells(md) == [(3, "print(1)"), (8, "1 / 0")]


def test_find_cell_failures_parses_the_log(tmp_path: Path) -> None:
    md = tmp_path / "ch.md"
    md.write_text("# t\n\n```{code-cell} ipython3\nx = 1\n1 / 0\n```\n")
    log = (
        f"myst_nb.core.execute.base.ExecutionError: {md}\n"
        "nbclient.exceptions.CellExecutionError: An error occurred while "
        "executing the following cell:\n------------------\nx = 1\n1 / 0\n"
        "------------------\n\n\nZeroDivisionError: division by zero\n"
    )
    [failure] = find_cell_failures(log, tmp_path)
    assert failure == CellFailure(
        "ch.md", 1, 3, "ZeroDivisionError: division by zero"
    )


@pytest.mark.slow
def test_broken_cell_fails_the_build_naming_file_and_cell(
    tmp_path: Path,
) -> None:
    body = (
        "# 章\n\n## 節\n\n```{code-cell} ipython3\nx = 1\n```\n\n"
        "```{code-cell} ipython3\nraise ValueError('わざと壊したセル')\n```\n"
    )
    book = _mini_book(tmp_path, body)
    proc = _build(book)
    assert proc.returncode != 0
    assert "book/ch04_nn_basics.md:19 (コードセル 2)" in proc.stderr, (
        proc.stderr
    )
    assert "ValueError: わざと壊したセル" in proc.stderr


@pytest.mark.slow
def test_bad_reference_fails_the_build(tmp_path: Path) -> None:
    body = "# 章\n\n## 節\n\n{numref}`fig-does-not-exist` を見よ。\n"
    proc = _build(_mini_book(tmp_path, body))
    assert proc.returncode != 0
    assert "fig-does-not-exist" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_katex_error_fails_the_build(tmp_path: Path) -> None:
    body = "# 章\n\n## 節\n\n$$\n\\frac{1}{\\undefinedmacro}\n$$\n"
    proc = _build(_mini_book(tmp_path, body))
    assert proc.returncode != 0
    assert "KaTeX" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_src_change_invalidates_execution_cache(tmp_path: Path) -> None:
    body = (
        "# 章\n\n## 節\n\n```{code-cell} ipython3\n"
        "print(open('../src/dlbook/marker.py').read())\n```\n"
    )
    book = _mini_book(tmp_path, body)
    page = book / "_build" / "html" / "book" / "ch04_nn_basics.html"
    assert _build(book).returncode == 0
    assert "VALUE = 'A'" in page.read_text()
    written = page.stat().st_mtime_ns
    assert _build(book).returncode == 0  # 変更なし: キャッシュから
    # 変更なしの再ビルドは章を書き直さない (章番号の offset で毎回書き直していた)
    assert page.stat().st_mtime_ns == written
    assert 'section-number">4.1' in page.read_text()
    # コミットが変わったら、変更のないページもフッターのコミットを書き直す
    sha = "ab" * 20
    proc = _run(
        book,
        f"import os; os.environ['GITHUB_SHA'] = {sha!r}; "
        "from dlbook_tools.build import run_jupyter_book; "
        f"sys.exit(run_jupyter_book(Path({str(book)!r})))",
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert f"/commit/{sha}" in page.read_text()
    (book / "src" / "dlbook" / "marker.py").write_text("VALUE = 'B'\n")
    proc = _build(book)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "VALUE = 'B'" in page.read_text()


@pytest.mark.slow
def test_japanese_line_breaks_do_not_become_spaces(tmp_path: Path) -> None:
    body = (
        "# 章\n\n## 節\n\n細胞体で足し合わせ、\nその総量が閾値を超えると\n"
        "Rosenblatt の\nパーセプトロン。\n2 位の偽陽性、\n`code` と\n"
        "```python\n改行は\nそのまま\n```\n"
    )
    book = _mini_book(tmp_path, body)
    assert _build(book).returncode == 0
    html = (
        book / "_build" / "html" / "book" / "ch04_nn_basics.html"
    ).read_text()
    assert (
        "足し合わせ、その総量が閾値を超えると\nRosenblatt の" in html
        or "足し合わせ、その総量が閾値を超えると Rosenblatt の" in html
    )
    assert "のパーセプトロン" in html
    assert "パーセプトロン。2 位の偽陽性、<code" in html  # 句読点の後は詰める
    assert "改行は</span>\n" in html  # コードの改行は残る


@pytest.mark.slow
def test_preview_names_the_broken_cell_then_builds(tmp_path: Path) -> None:
    broken = (
        "```{code-cell} ipython3\nraise ValueError('わざと壊したセル')\n```\n"
    )
    fixed = "```{code-cell} ipython3\nprint('直した')\n```\n"
    book = _mini_book(tmp_path, "# 章\n\n## 節\n\n" + broken)
    code = (
        "from dlbook_tools.preview import main; "
        f"sys.exit(main(['book/ch04_nn_basics.md'], Path({str(book)!r})))"
    )

    def preview() -> subprocess.CompletedProcess[str]:
        return _run(book, code)

    proc = preview()
    assert proc.returncode != 0
    assert "book/ch04_nn_basics.md:15 (コードセル 1)" in proc.stderr, (
        proc.stderr
    )
    assert "ValueError: わざと壊したセル" in proc.stderr
    chapter = book / "book" / "ch04_nn_basics.md"
    chapter.write_text(chapter.read_text().replace(broken, fixed))
    proc = preview()
    assert proc.returncode == 0, proc.stdout[-3000:]
    page = book / "_build/preview/ch04_nn_basics/_build/html"
    html = (page / "book" / "ch04_nn_basics.html").read_text()
    assert "直した" in html
    assert "4.1" in html  # 章番号は本番と同じ 4 から
