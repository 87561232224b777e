"""スライドの部品の型: 1 枚のスライド、章の構造、誤り、場所の表示。"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
OUT_DIR = ROOT / "_build" / "slides"
SITE_DIR = ROOT / "_build" / "html" / "slides"
EXECUTED_DIR = ROOT / "_build" / "jupyter_execute"
SLIDES_DIR = ROOT / "slides"
#: Sphinx のビルドが計算した番号 (図・式・節) を書く JSON。実行結果のディレクトリの隣
NUMBERS_FILE = "dlbook-numbers.json"
LICENCE = "CC BY-SA 4.0"


class SlideError(Exception):
    """章やオーバーライドのスライド定義の誤り。``path:line: 説明`` の形で出す。"""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def rel(path: Path) -> str:
    """リポジトリからの相対パス (外なら絶対パス)。"""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def where(path: Path, line: int) -> str:
    return f"{rel(path)}:{line}"


@dataclass
class Slide:
    """1 枚のスライド。``title`` がオーバーライドの鍵になる。"""

    title: str
    kind: str  # "title" | "toc" | "section" | "content"
    body: list[str] = field(default_factory=list)  # MyST のまま (未解決)
    figure: str | None = None
    image: Path | None = None
    notes: str = ""
    classes: list[str] = field(default_factory=list)
    header: str = ""
    path: Path = Path()
    line: int = 0  # ディレクティブの行 (1 始まり)
    body_line: int = 0  # 本文 1 行目の行番号
    options: dict[str, tuple[str, int]] = field(default_factory=dict)


@dataclass
class Section:
    """章の ``##`` 節 1 つ。"""

    title: str
    line: int
    slides: list[Slide] = field(default_factory=list)
    subsections: list[str] = field(default_factory=list)
    references: bool = False  # {bibliography} のある節 (スライドに出さない)


@dataclass
class Chapter:
    """章を読んだ結果。番号は Sphinx のビルドから (``numbers.py``)。"""

    path: Path
    number: int
    title: str
    intro: list[Slide]  # 最初の ## より前の {slide}
    sections: list[Section]
    captions: dict[str, str]  # 図の名前 → キャプション (MyST のまま)
    labels: dict[str, str] = field(default_factory=dict)  # (label)= → 見出し
    figures: dict[str, str] = field(default_factory=dict)  # 図の名前 → 番号
    kinds: dict[str, str] = field(default_factory=dict)  # 図以外: table など
    equations: dict[str, str] = field(default_factory=dict)  # 式 → 番号
    section_numbers: list[str] = field(default_factory=list)  # 節の番号
