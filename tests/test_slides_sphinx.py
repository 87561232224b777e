"""slides_sphinx: 章のページのリンク、{slide} が本に出ないこと、番号の表 (JSON)。"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bs4 import BeautifulSoup

# 1x1 の PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8ffff3f0005fe02fea7d6a4bd00"
    "00000049454e44ae426082"
)
CHAPTER = """ニューラルネットワークの基礎
============================

本文。

.. slide:: スライドだけの題
   :figure: fig-ch4-x
   :notes: ノート

   - スライドだけの要点

パーセプトロン
--------------

.. _fig-ch4-x:

.. figure:: dot.png
   :alt: 点

   点の図。

.. math::
   :label: eq-ch4-y

   y = x

.. _fig-ch4-z:

.. figure:: dot.png
   :alt: 点

   2 つ目の図。

.. _tab-ch4-a:

.. table:: 表の題

   ===  ===
   a    b
   ===  ===
   1    2
   ===  ===

多層
----

.. math::
   :label: eq-ch4-z

   z = y
"""


def _build(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "book").mkdir(parents=True)
    (src / "conf.py").write_text(
        'extensions = ["dlbook_tools.slides_sphinx"]\nlanguage = "ja"\n'
        "numfig = True\n"
    )
    (src / "index.rst").write_text(
        "目次\n====\n\n.. toctree::\n   :numbered:\n\n   book/ch04_nn_basics\n"
    )
    (src / "book" / "ch04_nn_basics.rst").write_text(CHAPTER)
    (src / "book" / "dot.png").write_bytes(PNG)
    out = tmp_path / "build" / "html"
    cmd = [sys.executable, "-m", "sphinx", "-W", "-n", "-q"]
    proc = subprocess.run(
        [*cmd, "-b", "html", str(src), str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert not proc.stderr.strip(), proc.stderr  # 警告なし
    return out


def test_chapter_pages_link_to_their_decks(tmp_path: Path) -> None:
    out = _build(tmp_path)
    soup = BeautifulSoup(
        (out / "book" / "ch04_nn_basics.html").read_text(), "html.parser"
    )
    para = soup.select_one("p.dlbook-slides")
    assert para is not None
    text = para.get_text()
    assert text.startswith("スライド (HTML / PDF / PPTX 編集用 / PPTX 画像")
    assert "PPTX 編集用は文字とノートを直せる版" in text  # どれが何か
    assert "CC BY-SA 4.0" in text
    hrefs = [a["href"] for a in para.select("a")]
    assert hrefs == [
        f"../slides/ch04_nn_basics.{ext}"
        for ext in (
            "html",
            "pdf",
            "editable.pptx",
            "pptx",
            "handout.pdf",
            "exercises.pdf",
            "solutions.pdf",
        )
    ]
    assert "スライドだけ" not in soup.get_text()  # {slide} は本に出ない
    # 章の見出しの直後に置く
    assert para.find_previous_sibling("h1") is not None
    index = BeautifulSoup((out / "index.html").read_text(), "html.parser")
    # 章でないページには出さない
    assert index.select_one("p.dlbook-slides") is None


def test_build_writes_the_numbers_sphinx_computed(tmp_path: Path) -> None:
    out = _build(tmp_path)
    table = json.loads((out.parent / "dlbook-numbers.json").read_text())
    assert set(table) == {"book/ch04_nn_basics"}  # 章だけ
    ch = table["book/ch04_nn_basics"]
    assert ch["title"] == "ニューラルネットワークの基礎"
    assert ch["sections"] == [["1.1", "パーセプトロン"], ["1.2", "多層"]]
    assert ch["figures"] == {
        "fig-ch4-x": "1.1",
        "fig-ch4-z": "1.2",
        "tab-ch4-a": "1.1",
    }
    assert ch["kinds"] == {"tab-ch4-a": "table"}  # 図以外の種類
    assert ch["equations"] == {"eq-ch4-y": "1.1", "eq-ch4-z": "1.2"}
    # 本のページに出る番号と同じ
    page = (out / "book" / "ch04_nn_basics.html").read_text()
    assert "図 1.2" in page or "Fig. 1.2" in page
