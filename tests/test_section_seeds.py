"""節ごとの乱数 (dlbook_tools.checks.section_seeds)。

前の節の終わりにセルを足しても、後の節の glue した値が変わらないこと。
小さな章で検査そのものを確かめ、本の各章にかける (遅い)。
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dlbook_tools.checks.section_seeds import (
    PERTURB,
    built_baseline,
    check_section_seeds,
    perturbed,
    section_starts,
)
from test_build import HEADER

ROOT = Path(__file__).resolve().parents[1]


def _cell(src: str) -> str:
    return f"```{{code-cell}} ipython3\n{src}\n```\n\n"


def test_headings_inside_code_and_directives_are_not_sections() -> None:
    md = (
        "# 章\n\n## 1 節\n\n"
        + _cell("## コードの中のコメント\nx = 1")
        + "````{exercise}\n## 演習の中\n```python\n## x\n```\n````\n\n"
        + "### 小節\n\n## 2 節\n"
    )
    lines = md.splitlines()
    assert [lines[i] for i in section_starts(md)] == ["## 1 節", "## 2 節"]


def test_a_cell_is_added_before_every_section() -> None:
    md = "# 章\n\n" + _cell("x = 1") + "## 1 節\n\n本文\n\n## 2 節\n"
    out = perturbed(md)
    assert out.count(PERTURB) == 2
    assert out.index(PERTURB) < out.index("## 1 節")
    assert out.replace(PERTURB, "") == md


def _chapter(tmp_path: Path, second_section_seeds: bool) -> Path:
    seed = "rng = np.random.default_rng(2)\n" if second_section_seeds else ""
    md = (
        HEADER
        + "# 章\n\n"
        + _cell("import numpy as np\nimport torch\nfrom myst_nb import glue")
        + "## 1 節\n\n"
        + _cell(
            "rng = np.random.default_rng(1)\ntorch.manual_seed(1)\n"
            'glue("a", float(rng.normal()), display=False)'
        )
        + "## 2 節\n\n"
        + _cell(
            seed + "torch.manual_seed(2)\n"
            'glue("b", float(rng.normal()), display=False)\n'
            'glue("c", float(torch.rand(1)), display=False)'
        )
    )
    (tmp_path / "book").mkdir()
    path = tmp_path / "book" / "ch.md"
    path.write_text(md)
    return path


@pytest.mark.slow
def test_sections_with_their_own_generator_pass(tmp_path: Path) -> None:
    assert check_section_seeds(_chapter(tmp_path, True)) == []


@pytest.mark.slow
def test_a_section_that_reuses_the_previous_generator_fails(
    tmp_path: Path,
) -> None:
    diffs = check_section_seeds(_chapter(tmp_path, False))
    assert len(diffs) == 1 and diffs[0].startswith("b: "), diffs


@pytest.mark.site
@pytest.mark.parametrize(
    "chapter",
    [
        "ch04_nn_basics",
        # 章を丸ごと 2 回目に実行するので重い: make test-all (毎週) で
        pytest.param("ch05_framework", marks=pytest.mark.weekly),
        pytest.param("ch06_cnn", marks=pytest.mark.weekly),
    ],
)
def test_book_sections_seed_their_own_generators(
    chapter: str, built_site: Path
) -> None:
    """本の各章: 1 回目はサイトのビルドの実行 (同じ章なら) を使う。"""
    path = ROOT / "book" / f"{chapter}.md"
    baseline = built_baseline(
        path,
        built_site.parent / "jupyter_execute" / "book",
        built_site.parent / ".jupyter_cache",
    )
    diffs = check_section_seeds(path, baseline)
    assert diffs == [], "\n".join(diffs)
