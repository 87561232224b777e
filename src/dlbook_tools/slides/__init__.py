"""章 (MyST Markdown) と本のビルドの結果から、章ごとの講義スライドを作る。

使い方::

    python -m dlbook_tools.slides --all
    python -m dlbook_tools.slides --chapter book/ch04_nn_basics.md --formats md,html

1 章が 1 つのデッキになる。表紙 (第N章 + 題 + ライセンス)、目次、``##`` 節ごとに
章の中の ``{slide}`` ディレクティブ (なければ節の扉スライド 1 枚)。

モジュール (1 つに 1 つの考え):

- ``read``: 章を myst-parser の構文解析器で読む (``{slide}``・見出し・図のキャプション)
- ``numbers``: Sphinx のビルドが計算した節・図・式の番号を読む
- ``glue``: 実行済みノートブックの glue の値と書式
- ``plan``: 既定のスライドの列と講師の上書き (差し替え・挿入・削除・選択・設定)
- ``render``: スライドを Marp の Markdown にする
- ``deck``: 1 章のデッキを書き出す
- ``export``: Marp で HTML・PDF (ノートつき)・PPTX (画像)・ノートの文字を書き出す
- ``editable``: ブラウザで描いたデッキから編集できる PPTX と配布資料 (PDF) を作る
- ``sheets``: 章のページから演習シート (解答なし・解答つき) の PDF を作る
- ``cli``: コマンド (``python -m dlbook_tools.slides``)
"""

from dlbook_tools.slides.cli import build, chapters_from_toc, main
from dlbook_tools.slides.deck import Deck, build_deck
from dlbook_tools.slides.export import KATEX_FONTS, copy_katex_fonts, run_marp
from dlbook_tools.slides.glue import GlueStore, format_plain_text
from dlbook_tools.slides.model import Chapter, Slide, SlideError
from dlbook_tools.slides.plan import apply_overrides, default_slides, select
from dlbook_tools.slides.read import (
    CHAPTER_OPTIONS,
    OVERRIDE_OPTIONS,
    read_chapter,
)
from dlbook_tools.slides.render import Renderer, render_slide
from dlbook_tools.slides.text import join_lines, no_break_exponent

__all__ = [
    "CHAPTER_OPTIONS",
    "KATEX_FONTS",
    "OVERRIDE_OPTIONS",
    "Chapter",
    "Deck",
    "GlueStore",
    "Renderer",
    "Slide",
    "SlideError",
    "apply_overrides",
    "build",
    "build_deck",
    "chapters_from_toc",
    "copy_katex_fonts",
    "default_slides",
    "format_plain_text",
    "join_lines",
    "main",
    "no_break_exponent",
    "read_chapter",
    "render_slide",
    "run_marp",
    "select",
]
