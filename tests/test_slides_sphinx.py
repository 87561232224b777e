"""slides_sphinx: 章のページにスライドへのリンクが入り、警告が出ないこと。"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bs4 import BeautifulSoup


def test_chapter_pages_link_to_their_decks(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "book").mkdir(parents=True)
    (src / "conf.py").write_text(
        'extensions = ["dlbook_tools.slides_sphinx"]\nlanguage = "ja"\n'
    )
    (src / "index.rst").write_text(
        "目次\n====\n\n.. toctree::\n\n   book/ch04_nn_basics\n"
    )
    (src / "book" / "ch04_nn_basics.rst").write_text(
        "ニューラルネットワークの基礎\n============================\n\n本文。\n\n"
        ".. slide:: スライドだけの題\n   :figure: fig-ch4-x\n   :notes: ノート\n\n"
        "   - スライドだけの要点\n"
    )
    out = tmp_path / "html"
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "-n",
        "-q",
        "-b",
        "html",
        str(src),
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert not proc.stderr.strip(), proc.stderr  # 警告なし

    soup = BeautifulSoup(
        (out / "book" / "ch04_nn_basics.html").read_text(), "html.parser"
    )
    para = soup.select_one("p.dlbook-slides")
    assert para is not None
    assert para.get_text() == "スライド (HTML / PDF / PPTX)"
    assert [a["href"] for a in para.select("a")] == [
        "../slides/ch04_nn_basics.html",
        "../slides/ch04_nn_basics.pdf",
        "../slides/ch04_nn_basics.pptx",
    ]
    assert "スライドだけ" not in soup.get_text()  # {slide} は本に出ない
    # 章の見出しの直後に置く
    assert para.find_previous_sibling("h1") is not None
    index = BeautifulSoup((out / "index.html").read_text(), "html.parser")
    assert (
        index.select_one("p.dlbook-slides") is None
    )  # 章でないページには出さない
