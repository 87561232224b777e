"""各章の ``##`` 節が、準備のセルの後に単独で実行できること。

読者は Colab などで 1 つの節だけを試す。そのとき必要なのは章の最初の
準備のセル (最初の ``##`` より前と「はじめに」の節のコードセル) だけで、ほかの節で定義した
変数に頼ってはいけない。

- 毎回 (make test): 節のコードが読む名前が、準備のセルかその節自身で
  定義されていることを構文木で調べる (実行しないので数秒)。
- 毎週 (make test-all): 節ごとに、新しいカーネルで「準備のセル + その節の
  セル」だけを実行する (章を節の数だけ実行し直すので重い)。
"""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import nbformat
import pytest
from myst_nb.core.read import read_myst_markdown_notebook

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("ch0*_*.md"))
WEEKLY = pytest.mark.weekly
INTRO = "はじめに"


def split_sections(
    text: str,
) -> tuple[list[nbformat.NotebookNode], list[tuple[str, list]]]:
    """章の MyST Markdown を、準備のセルと ``##`` 節ごとのコードセルに分ける。

    準備のセルは、最初の ``##`` より前と「はじめに」の節のコードセル。

    Returns:
        ``(setup, sections)``。``sections`` は ``(節の題, コードセルのリスト)``。
    """
    nb = read_myst_markdown_notebook(text)
    setup: list[nbformat.NotebookNode] = []
    sections: list[tuple[str, list]] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                title = line[3:].strip()
                # 「はじめに」の節のセルは準備のセル (章の最初の import など)
                if line.startswith("## ") and title != INTRO:
                    sections.append((title, []))
        elif cell.cell_type == "code":
            (sections[-1][1] if sections else setup).append(cell)
    return setup, sections


def _cases() -> list:
    cases = []
    for path in CHAPTERS:
        _, sections = split_sections(path.read_text(encoding="utf-8"))
        for title, cells in sections:
            if cells:
                cases.append(
                    pytest.param(path, title, id=f"{path.stem}:{title}")
                )
    return cases


#: IPython のカーネルが最初から持つ名前
KERNEL_NAMES = {"get_ipython", "display", "In", "Out", "exit", "quit"}


def _python(cells: list) -> str:
    """コードセルの Python (``%`` と ``!`` で始まる IPython の行は除く)。"""
    lines = []
    for c in cells:
        for line in c.source.splitlines():
            keep = not line.lstrip().startswith(("%", "!"))
            lines.append(line if keep else "")
    return "\n".join(lines)


def defined_names(tree: ast.AST) -> set[str]:
    """コードのどこかで定義される名前 (代入・import・def・引数・内包表記など)。"""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(
            node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        ):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            names.add(node.name)
    return names


def foreign_names(setup: list, cells: list) -> set[str]:
    """節のセルが読むのに、準備のセルにも、その節のそれまでのセル (と同じセル)
    にも定義がない名前。"""
    known = defined_names(ast.parse(_python(setup)))
    known |= set(dir(builtins)) | KERNEL_NAMES
    foreign: set[str] = set()
    for cell in cells:
        tree = ast.parse(_python([cell]))
        known |= defined_names(tree)
        foreign |= {
            n.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        } - known
    return foreign


class TestForeignNames:
    def test_a_name_from_another_section_is_found(self) -> None:
        text = (
            "# 章\n\n```{code-cell} ipython3\nimport numpy as np\n```\n\n"
            "## A\n\n```{code-cell} ipython3\nnet = np.eye(2)\n```\n\n"
            "## B\n\n```{code-cell} ipython3\n%matplotlib inline\n"
            "def f(k):\n    return [k * i for i in range(3)]\n"
            "y = f(2) + net\nprint(len(y))\n```\n"
        )
        setup, sections = split_sections(text)
        found = {t: foreign_names(setup, cs) for t, cs in sections}
        assert found == {"A": set(), "B": {"net"}}

    def test_a_name_defined_only_in_a_later_cell_is_found(self) -> None:
        text = (
            "# 章\n\n## A\n\n```{code-cell} ipython3\ny = transfer.f()\n```"
            "\n\n```{code-cell} ipython3\nimport transfer\n```\n"
        )
        setup, sections = split_sections(text)
        assert foreign_names(setup, dict(sections)["A"]) == {"transfer"}


@pytest.mark.parametrize(("path", "title"), _cases())
def test_section_reads_only_its_own_names(path: Path, title: str) -> None:
    setup, sections = split_sections(path.read_text(encoding="utf-8"))
    foreign = foreign_names(setup, dict(sections)[title])
    assert not foreign, (
        f"{path.name} の節「{title}」が、準備のセルにもこの節にもない名前を"
        f"読む: {sorted(foreign)} (節を単独で実行すると NameError になる)"
    )


class TestSplitSections:
    def test_setup_and_sections(self) -> None:
        text = (
            "# 章\n\n```{code-cell} ipython3\nx = 1\n```\n\n"
            "## 節 A\n\n```{code-cell} ipython3\ny = x\n```\n\n"
            "### 小節\n\n```{code-cell} ipython3\nz = y\n```\n\n"
            "## 節 B\n\n本文だけ\n"
        )
        setup, sections = split_sections(text)
        assert [c.source for c in setup] == ["x = 1"]
        assert [(t, [c.source for c in cs]) for t, cs in sections] == [
            ("節 A", ["y = x", "z = y"]),
            ("節 B", []),
        ]


@pytest.mark.slow
@WEEKLY
@pytest.mark.parametrize(("path", "title"), _cases())
def test_section_runs_alone(path: Path, title: str) -> None:
    from nbclient import NotebookClient

    setup, sections = split_sections(path.read_text(encoding="utf-8"))
    cells = dict(sections)[title]
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(c.source) for c in setup + cells]
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # 失敗すれば CellExecutionError (セルと例外を示す)
