"""節ごとの乱数の検査: セルを足しても、後の節の glue した値が変わらないか。

各 ``##`` 節は自分の乱数生成器を節の最初で作る
(``rng = np.random.default_rng(<節の seed>)``、``torch.manual_seed(…)``)。
そうなっていれば、ある節にセルを足しても後の節の数値は変わらない。

検査のしかた: 章の写しの、すべての ``##`` 見出しの直前 (= 前の節の終わり) に
「乱数を余分に引くセル」を足す。このセルは NumPy・Python・PyTorch の
グローバルな乱数と、そのときの変数にある ``np.random.Generator`` /
``torch.Generator`` をすべて進める。元の章と写しを新しいカーネルで実行し
(``determinism.rerun``)、glue した値を比べる。節が自分で seed していれば
どの値も変わらない。変わった値は、それを glue した節が前の節の乱数を
引き継いでいることを示す。時間の値 (タグ ``timing``、キー ``…-time`` など) は
``determinism`` と同じく比べない。

使い方::

    python -m dlbook_tools.checks.section_seeds book/ch04_nn_basics.md
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

import nbformat

from dlbook_tools.checks.determinism import rerun, snapshot

ROOT = Path(__file__).resolve().parents[3]

#: 前の節の終わりに足すセル。乱数の状態をすべて進める
PERTURB = """\
```{code-cell} ipython3
# dlbook_tools.checks.section_seeds: 節の終わりで乱数を余分に引く
import random as _r

import numpy as _np

_r.random()
_np.random.random(3)
for _v in list(globals().values()):
    if isinstance(_v, _np.random.Generator):
        _v.random(3)
try:
    import torch as _torch
except ImportError:
    pass
else:
    _torch.rand(3)
    for _v in list(globals().values()):
        if isinstance(_v, _torch.Generator):
            _torch.rand(3, generator=_v)
```

"""
FENCE = re.compile(r"^(`{3,}|~{3,}|:{3,})")


def section_starts(md: str) -> list[int]:
    """``##`` 見出しの行番号 (0 始まり)。コードやディレクティブの中は除く。"""
    starts = []
    fence: str | None = None
    for number, line in enumerate(md.splitlines()):
        m = FENCE.match(line)
        if fence is None:
            if m:
                fence = m.group(1)
            elif line.startswith("## "):
                starts.append(number)
        elif (
            m
            and m.group(1)[0] == fence[0]
            and len(m.group(1)) >= len(fence)
            and not line[len(m.group(1)) :].strip()
        ):
            fence = None
    return starts


def perturbed(md: str) -> str:
    """すべての ``##`` 見出しの直前に、乱数を余分に引くセルを足した章。"""
    lines = md.splitlines(keepends=True)
    for number in reversed(section_starts(md)):
        lines.insert(number, PERTURB)
    return "".join(lines)


def _notebook(md: str, path: Path) -> dict[str, Any]:
    from myst_nb.core.read import read_myst_markdown_notebook

    return dict(read_myst_markdown_notebook(md, path=path))


def _execute(md: str, path: Path) -> dict[str, Any]:
    return rerun(_notebook(md, path), cwd=path.parent)


def _code(nb: dict[str, Any]) -> list[str]:
    return [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in nb["cells"]
        if c["cell_type"] == "code"
    ]


def built_baseline(
    chapter: Path, executed: Path, cache: Path
) -> dict[str, Any] | None:
    """ビルドが実行した章 (出力は実行キャッシュから補う)。章と同じなら返す。

    コードセルが今の章と 1 つでも違えば (ビルドが古い) None。
    """
    from dlbook_tools.notebooks import has_outputs, merge_cached_outputs

    path = executed / f"{chapter.stem}.ipynb"
    if not path.is_file():
        return None
    from dlbook_tools.checks.determinism import with_glue_json

    nb = merge_cached_outputs(
        nbformat.reads(path.read_text("utf-8"), 4), cache
    )
    md = chapter.read_text(encoding="utf-8")
    if not has_outputs(nb) or _code(nb) != _code(_notebook(md, chapter)):
        return None
    nb = with_glue_json(nb, path.with_suffix(".glue.json"))
    return dict(nb)


def check_section_seeds(
    chapter: Path, baseline: dict[str, Any] | None = None
) -> list[str]:
    """章と、各節の前に乱数を引くセルを足した写しを実行し、違いを返す。

    ``baseline`` (ビルドが実行した同じ章) があれば、元の章は実行し直さない。
    """
    md = chapter.read_text(encoding="utf-8")
    if not section_starts(md):
        raise ValueError(f"{chapter} に ## の節がありません")
    first = snapshot(baseline or _execute(md, chapter)).glue
    second = snapshot(_execute(perturbed(md), chapter)).glue
    diffs = []
    for key in sorted(first.keys() | second.keys()):
        a, b = first.get(key), second.get(key)
        if a != b:
            diffs.append(f"{key}: {a!r} → {b!r}")
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chapters", nargs="+", type=Path)
    args = parser.parse_args(argv)
    failed = 0
    for chapter in args.chapters:
        start = time.perf_counter()
        diffs = check_section_seeds(chapter.resolve())
        elapsed = time.perf_counter() - start
        if diffs:
            print(
                f"{chapter}: 前の節にセルを足すと変わる glue の値が "
                f"{len(diffs)} 件 ({elapsed:.0f} 秒)。その値の節の最初で "
                "rng = np.random.default_rng(<節の seed>) と "
                "torch.manual_seed(<節の seed>) を置く:"
            )
            for diff in diffs:
                print("  " + diff)
        else:
            print(f"{chapter}: 節ごとの乱数 OK ({elapsed:.0f} 秒)")
        failed += bool(diffs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
