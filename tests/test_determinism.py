"""決定性: 同じ機械で 2 回実行した章が、本文に出す数値と文字の出力で一致する。

ビルド (conftest.built_site) が実行したノートブックを 1 回目とし、いちばん速い章
(jupyter-cache に記録された実行時間で選ぶ) を新しいカーネルでもう一度実行して比べる。
全章は ``make determinism`` で。時間の扱いは ``dlbook_tools.checks.determinism``。
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dlbook_tools.checks import determinism

pytestmark = pytest.mark.site


def test_fastest_chapter_is_deterministic(built_site: Path) -> None:
    executed = built_site.parent / "jupyter_execute" / "book"
    chapter = determinism.fastest_chapter(
        executed, built_site.parent / ".jupyter_cache"
    )
    diffs = determinism.check_chapter(chapter, executed)
    assert not diffs, f"{chapter} の 2 回の実行が違う:\n" + "\n".join(diffs)


def test_timing_is_ignored_but_numbers_are_not() -> None:
    def nb(text: str, glue: str) -> dict:
        glue_out = {
            "output_type": "display_data",
            "metadata": {"scrapbook": {"name": "ch9-train-time"}},
            "data": {"text/plain": glue},
        }
        stream = {"output_type": "stream", "name": "stdout", "text": text}
        cell = {
            "cell_type": "code",
            "metadata": {},
            "outputs": [glue_out, stream],
        }
        return {"cells": [cell]}

    a = determinism.snapshot(nb("精度 0.912\n1 エポック 3.2 秒\n", "12.5"))
    b = determinism.snapshot(nb("精度 0.912\n1 エポック 2.9 秒\n", "11.0"))
    c = determinism.snapshot(nb("精度 0.913\n1 エポック 2.9 秒\n", "11.0"))
    assert determinism.compare(a, b) == []
    assert len(determinism.compare(a, c)) == 1


def test_stream_line_breaks_are_ignored_but_values_are_not() -> None:
    def nb(*chunks: str) -> dict:
        outs = [
            {"output_type": "stream", "name": "stdout", "text": c}
            for c in chunks
        ]
        return {
            "cells": [{"cell_type": "code", "metadata": {}, "outputs": outs}]
        }

    built = determinism.snapshot(nb("予測:\n [0 1 1 0] 正解: [0 1 1 0]\n"))
    rerun = determinism.snapshot(nb("予測:", " [0 1 1 0] 正解: [0 1 1 0]\n"))
    wrong = determinism.snapshot(nb("予測: [1 1 1 0] 正解: [0 1 1 0]\n"))
    assert determinism.compare(built, rerun) == []
    assert len(determinism.compare(built, wrong)) == 1


def test_outputs_come_from_the_cache_after_a_cached_build(
    tmp_path: Path,
) -> None:
    """キャッシュを使ったビルドは出力のないノートブックを書く。1 回目の出力は
    実行キャッシュから取り、再実行と比べる (出力なしと比べて違いにしない)。"""
    import nbformat
    from jupyter_cache import get_cache

    src = "print(6 * 7)"
    executed_nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                src,
                execution_count=1,
                outputs=[
                    nbformat.v4.new_output(
                        "stream", name="stdout", text="42\n"
                    )
                ],
            )
        ],
        metadata={
            "kernelspec": {
                "name": "python3",
                "display_name": "Python 3",
                "language": "python",
            }
        },
    )
    cached = tmp_path / "cached.ipynb"
    nbformat.write(executed_nb, cached)
    cache_dir = tmp_path / ".jupyter_cache"
    get_cache(cache_dir).cache_notebook_file(cached, check_validity=False)
    executed = tmp_path / "jupyter_execute"
    executed.mkdir()
    bare = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(src)],
        metadata=executed_nb.metadata,
    )
    nbformat.write(bare, executed / "ch09_demo.ipynb")
    assert determinism.check_chapter("ch09_demo", executed, cache_dir) == []


def test_no_outputs_anywhere_is_a_clear_error(tmp_path: Path) -> None:
    import nbformat

    executed = tmp_path / "jupyter_execute"
    executed.mkdir()
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]),
        executed / "ch09_demo.ipynb",
    )
    with pytest.raises(SystemExit, match="出力がなく"):
        determinism.check_chapter("ch09_demo", executed, tmp_path / "none")


def test_glue_with_display_false_is_compared() -> None:
    """display=False の glue は MIME に前置きが付く。それも比べる。"""

    def nb(value: str) -> dict:
        prefix = "application/papermill.record/"
        out = {
            "output_type": "display_data",
            "metadata": {
                "scrapbook": {"name": "ch4-x", "mime_prefix": prefix}
            },
            "data": {prefix + "text/plain": value},
        }
        return {"cells": [{"cell_type": "code", "outputs": [out]}]}

    snap = determinism.snapshot
    assert snap(nb("0.11")).glue == {"ch4-x": "0.11"}
    assert determinism.compare(snap(nb("0.11")), snap(nb("0.14")))


def test_keys_ending_in_seconds_are_timings() -> None:
    """ch6-tl-seconds (転移学習の学習時間) は実行のたびに変わる。"""
    assert determinism.TIMING_KEY.search("ch6-tl-seconds")
    assert not determinism.TIMING_KEY.search("ch6-tl-acc")
