"""スライド生成 (dlbook_tools.slides) の単体テスト。Marp もブラウザも使わない。

小さな章 ``tests/fixtures/slides/book/ch07_demo.md`` と、その実行結果
(``jupyter_execute/ch07_demo.ipynb`` と ``.glue.json``、本のビルドと同じ形) を使う。
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from myst_nb.core.variables import format_plain_text as mystnb_format

from dlbook_tools import slides
from dlbook_tools.slides import (
    Slide,
    SlideError,
    build_deck,
    format_plain_text,
    join_lines,
    no_break_exponent,
    render_slide,
)

FIXTURES = Path(__file__).parent / "fixtures" / "slides"
CHAPTER = FIXTURES / "book" / "ch07_demo.md"
EXECUTED = FIXTURES / "jupyter_execute"
OVERRIDES = FIXTURES / "overrides"
NO_OVERRIDES = FIXTURES / "no-overrides"  # 存在しないディレクトリ


def _deck(
    tmp_path: Path, overrides: Path = NO_OVERRIDES
) -> tuple[str, list[str]]:
    deck = build_deck(CHAPTER, tmp_path, EXECUTED, overrides)
    text = deck.markdown.read_text(encoding="utf-8")
    body = text.split("---\n", 2)[2]  # フロントマターの後
    pages = body.split("\n---\n")
    assert deck.slides == len(pages)
    return text, pages


def _titles(pages: list[str]) -> list[str]:
    return [re.search(r"^#{1,2} (.+)$", p, re.M).group(1) for p in pages]  # type: ignore[union-attr]


# ---------------------------------------------------------------- 章 → デッキ


def test_deck_follows_the_chapter(tmp_path: Path) -> None:
    text, pages = _deck(tmp_path)
    assert (
        "theme: dlbook" in text
        and "lang: ja" in text
        and "paginate: true" in text
    )
    assert _titles(pages) == [
        "スライド生成のための小さな章",  # 表紙
        "目次",
        "この章のねらい",  # 最初の ## より前の {slide}
        "はじめに",  # {slide} のない節 → 節の扉
        "パーセプトロン",
        "活性化関数",
        "活性化関数の比較",
        "NumPy で書く",
        "まとめ",
    ]  # 最後の「演習問題」の節は {slide} も小節もないので扉を作らない
    title, toc, _, section = pages[:4]
    assert "第7章" in title and "_paginate: false" in title
    assert "7.1　はじめに" in toc and "7.3　実装" in toc
    assert "7.4　演習問題" in toc  # 目次には残る
    assert "_class: section" in section and "7.1" in section
    assert "- 小節その 1" in section


def test_glue_values_are_resolved_with_format_spec(tmp_path: Path) -> None:
    _, pages = _deck(tmp_path)
    perceptron = pages[4]
    # {glue:text}`ch7-n-train:,d` と `ch7-acc:.1f`、折り返しは日本語なので空白なし
    assert "MNIST の訓練データ 60,000 枚で精度 97.3 %" in perceptron
    assert "{glue" not in "".join(pages)
    assert "_header: '7.2　パーセプトロン'" in perceptron


def test_display_math_keeps_its_equation_number(tmp_path: Path) -> None:
    _, pages = _deck(tmp_path)
    perceptron = pages[4]
    assert re.search(
        r"^\$\$\n.*\\begin\{cases\}.*\n.*\n\\tag\{7\.1\}\n\$\$$",
        perceptron,
        re.M | re.S,
    )
    assert "(eq-ch7-perceptron)" not in perceptron


def test_notes_become_html_comments_with_roles_resolved(
    tmp_path: Path,
) -> None:
    _, pages = _deck(tmp_path)
    assert "<!--\n最初に章全体の流れを話す。\n-->" in pages[2]
    assert (
        "<!--\nここで 図 7.1 を見せ、ステップ関数との違いを話す。\n-->"
        in pages[4]
    )


def test_figure_is_extracted_next_to_the_deck(tmp_path: Path) -> None:
    _, pages = _deck(tmp_path)
    split, only = pages[5], pages[6]
    assert "_class: content split" in split
    assert (
        "![図 7.1　シグモイド関数とステップ関数](ch07_demo/fig-ch7-activation.png)"
        in split
    )
    assert "図 7.1 を参照" in split  # {numref}
    assert "_class: content figure-only" in only
    png = tmp_path / "ch07_demo" / "fig-ch7-activation.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_code_blocks_are_kept_verbatim(tmp_path: Path) -> None:
    _, pages = _deck(tmp_path)
    code = pages[7]
    assert "```python\ndef sigmoid(x: np.ndarray) -> np.ndarray:\n" in code
    assert "`np.random.Generator`" in code
    assert "_class: content small" in pages[8]


# ---------------------------------------------------------------- 講師の上書き


def test_overrides_replace_insert_and_remove_by_title(tmp_path: Path) -> None:
    _, pages = _deck(tmp_path, OVERRIDES)
    titles = _titles(pages)
    assert titles[:3] == ["スライド生成のための小さな章", "目次", "講義の連絡"]
    assert "活性化関数の比較" not in titles
    assert "精度は 97.35 %" in pages[2]
    summary = pages[titles.index("まとめ")]
    assert "上書きしたまとめ。" in summary and "| 関数 |" not in summary
    assert "_header: '7.3　実装'" in summary  # 差し替えても節の見出しは残る


def _override(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "ov"
    folder.mkdir()
    (folder / "ch07.md").write_text(text, encoding="utf-8")
    return folder


def test_override_with_unknown_target_names_file_and_line(
    tmp_path: Path,
) -> None:
    folder = _override(tmp_path, "# x\n\n```{slide} 存在しない題\n- a\n```\n")
    with pytest.raises(
        SlideError, match=r"ch07\.md:3: スライド「存在しない題」が章に"
    ):
        build_deck(CHAPTER, tmp_path / "out", EXECUTED, folder)


def test_override_can_use_a_local_image(tmp_path: Path) -> None:
    folder = _override(
        tmp_path, "```{slide} 板書\n:after: まとめ\n:image: board.png\n```\n"
    )
    glue = json.loads((EXECUTED / "ch07_demo.glue.json").read_text())
    png = base64.b64decode(glue["fig-ch7-activation"]["data"]["image/png"])
    (folder / "board.png").write_bytes(png)
    deck = build_deck(CHAPTER, tmp_path / "out", EXECUTED, folder)
    assert "](ch07_demo/board.png)" in deck.markdown.read_text(
        encoding="utf-8"
    )
    assert (tmp_path / "out" / "ch07_demo" / "board.png").exists()


# ---------------------------------------------------------------- 誤り → file:line


BAD = {
    "unknown-option": (
        "```{slide} 題\n:figur: fig-ch7-activation\n- a\n```\n",
        r"ch09_bad\.md:{n1}: \{{slide\}} の未知のオプション :figur:",
    ),
    "missing-figure": (
        "```{slide} 題\n:figure: fig-x\n- a\n```\n",
        r"ch09_bad\.md:{n1}: \{{slide\}} の :figure: fig-x が実行結果にありません",
    ),
    "unknown-glue": (
        "```{slide} 題\n- a\n- 値は {glue:text}`ch7-nothing:.1f` %\n```\n",
        r"ch09_bad\.md:{n2}: \{{glue:text\}} の ch7-nothing が実行結果にありません",
    ),
    "unclosed-fence": (
        "```{slide} 題\n- a\n\n## 次の節\n",
        r"ch09_bad\.md:{n0}: \{{slide\}} のフェンス ``` が閉じていません",
    ),
    "bad-format": (
        "```{slide} 題\n- {glue:text}`ch7-dataset:.2f`\n```\n",
        r"ch09_bad\.md:{n1}: \{{glue:text\}}`ch7-dataset:\.2f` の書式が不正です",
    ),
    "figure-not-image": (
        "```{slide} 題\n:figure: ch7-acc\n```\n",
        r"ch09_bad\.md:{n1}: \{{slide\}} の :figure: ch7-acc は画像ではありません",
    ),
    "nested-directive": (
        "````{slide} 題\n```{note}\nx\n```\n````\n",
        r"ch09_bad\.md:{n1}: \{{slide\}} の中の \{{note\}} はスライドにできません",
    ),
}
HEAD = "# 悪い章\n\n## 節\n\n本文。\n\n"
N0 = HEAD.count("\n") + 1  # ディレクティブの行


def _bad_chapter(tmp_path: Path, body: str) -> tuple[Path, Path]:
    book = tmp_path / "book"
    book.mkdir()
    chapter = book / "ch09_bad.md"
    chapter.write_text(HEAD + body, encoding="utf-8")
    executed = tmp_path / "exec"
    executed.mkdir()
    for ext in ("ipynb", "glue.json"):
        shutil.copy(
            EXECUTED / f"ch07_demo.{ext}", executed / f"ch09_bad.{ext}"
        )
    numbers = {"book/ch09_bad": {"sections": [["9.1", "節"]]}}
    (tmp_path / "dlbook-numbers.json").write_text(json.dumps(numbers))
    return chapter, executed


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_directive_reports_file_and_line(
    tmp_path: Path, case: str
) -> None:
    body, pattern = BAD[case]
    chapter, executed = _bad_chapter(tmp_path, body)
    expected = pattern.format(n0=N0, n1=N0 + 1, n2=N0 + 2)
    with pytest.raises(SlideError) as info:
        build_deck(chapter, tmp_path / "out", executed, NO_OVERRIDES)
    assert any(re.search(expected, p) for p in info.value.problems), (
        info.value.problems
    )


def test_missing_executed_notebook_says_to_build_the_book(
    tmp_path: Path,
) -> None:
    chapter, _ = _bad_chapter(tmp_path, BAD["missing-figure"][0])
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    (nowhere.parent / "dlbook-numbers.json").rename(
        tmp_path / "dlbook-numbers.json.bak"
    )
    with pytest.raises(SlideError, match="先に本をビルドしてください"):
        build_deck(chapter, tmp_path / "out", nowhere, NO_OVERRIDES)
    (tmp_path / "dlbook-numbers.json.bak").rename(
        tmp_path / "dlbook-numbers.json"
    )
    with pytest.raises(
        SlideError, match="がありません。先に本をビルドしてください"
    ):
        build_deck(chapter, tmp_path / "out", nowhere / "x", NO_OVERRIDES)


def test_cli_exits_nonzero_and_prints_file_line(tmp_path: Path) -> None:
    chapter, executed = _bad_chapter(tmp_path, BAD["unknown-option"][0])
    cmd = [
        sys.executable,
        "-m",
        "dlbook_tools.slides",
        "--chapter",
        str(chapter),
        "--executed",
        str(executed),
        "--out",
        str(tmp_path / "out"),
        "--overrides",
        str(NO_OVERRIDES),
        "--formats",
        "md",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 1
    assert (
        f"ch09_bad.md:{N0 + 1}: {{slide}} の未知のオプション :figur:"
        in proc.stderr
    )


def test_cli_rejects_unknown_format() -> None:
    with pytest.raises(SystemExit):
        slides.main(["--chapter", str(CHAPTER), "--formats", "md,odp"])


# ---------------------------------------------------------------- 部品


@pytest.mark.parametrize(
    "text,spec",
    [
        ("97.3456", ".1f"),
        ("60000", ",d"),
        ("'MNIST'", ""),
        ("'MNIST'", "s"),
        ("0.000123", ".2e"),
        ("0.5", ".0%"),
        ("3", ""),
    ],
)
def test_format_matches_myst_nb(text: str, spec: str) -> None:
    assert format_plain_text(text, spec) == mystnb_format(text, spec)


def test_glue_store_reads_sidecar_and_notebook() -> None:
    store = slides.GlueStore.load(EXECUTED / "ch07_demo.ipynb")
    assert {
        "ch7-acc",
        "ch7-n-train",
        "ch7-dataset",
        "fig-ch7-activation",
    } <= set(store.data)
    assert "image/png" in store.data["fig-ch7-activation"]
    assert store.data["ch7-acc"]["text/plain"] == "97.3456"


@pytest.mark.parametrize(
    "left,right,joined",
    [
        ("枚で", "精度", "枚で精度"),
        ("weights", "and bias", "weights and bias"),
        ("値は", "MNIST", "値はMNIST"),
        ("$x$", "を使う", "$x$を使う"),
    ],
)
def test_join_lines(left: str, right: str, joined: str) -> None:
    assert join_lines(left, right) == joined


def test_real_chapters_parse_when_present() -> None:
    """執筆中の本物の章も (実行結果なしで) 構造だけは読めること。"""
    for chapter in slides.chapters_from_toc():
        if chapter.exists():
            ch = slides.read_chapter(chapter)
            assert ch.title and ch.number in (4, 5, 6)


def test_exponent_hyphen_does_not_break() -> None:
    assert no_break_exponent("2.6e-12") == "2.6e\u201112"
    assert no_break_exponent("1.8e-02 と e-mail") == "1.8e\u201102 と e-mail"
    assert no_break_exponent("3e+05") == "3e+05"


class _StubRenderer:
    """``render_slide`` が使うところだけを持つ Renderer の代わり。"""

    def __init__(self, assets: Path, body: list[str], size: tuple[int, int]):
        self.assets = assets / "deck"
        self.assets.mkdir(parents=True)
        width, height = size
        (self.assets / "fig.png").write_bytes(
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
            + width.to_bytes(4, "big")
            + height.to_bytes(4, "big")
        )
        self._body = body
        self.chapter = None  # 表紙でなければ使わない

    def body(self, slide: Slide) -> list[str]:
        return self._body

    def figure(self, slide: Slide) -> tuple[str, str]:
        return ("deck/fig.png", "横長の図。")

    def roles(self, text: str, at: str) -> str:
        return text


@pytest.mark.parametrize(
    ("n_bullets", "size", "pages"),
    [
        (1, (1200, 400), 1),  # 短い本文 + 横長の図: 同じページの下に
        (5, (1200, 400), 2),  # 長い本文 + 横長の図: 図を次のページに
        (5, (600, 500), 1),  # 長い本文 + 縦横の近い図: 横に並べる
    ],
)
def test_long_text_moves_a_wide_figure_to_its_own_page(
    tmp_path: Path, n_bullets: int, size: tuple[int, int], pages: int
) -> None:
    body = [
        f"- 箇条書き {i}: 図の上に置くには長すぎる説明の文"
        for i in range(n_bullets)
    ]
    r = _StubRenderer(tmp_path, body, size)
    slide = Slide(title="万能近似", kind="content", header="4.3　多層")
    out = render_slide(slide, r)  # type: ignore[arg-type]
    assert len(out) == pages
    assert "箇条書き 0" in out[0]
    if pages == 2:
        assert "fig.png" not in out[0]
        assert "figure-only" in out[1] and "fig.png" in out[1]
        assert "## 万能近似" in out[1] and "4.3　多層" in out[1]
    else:
        assert "fig.png" in out[0]


def test_a_figure_moved_to_its_own_page_keeps_the_notes(
    tmp_path: Path,
) -> None:
    body = [
        f"- 箇条書き {i}: 図の上に置くには長すぎる説明の文" for i in range(5)
    ]
    r = _StubRenderer(tmp_path, body, (1200, 400))
    slide = Slide(title="万能近似", kind="content", notes="図の縦軸を問う。")
    out = render_slide(slide, r)  # type: ignore[arg-type]
    assert len(out) == 2
    assert all("図の縦軸を問う。" in page for page in out), out


# ---------------------------------------------------------------- 番号はビルドから


def test_numbers_come_from_the_build_not_recounted(tmp_path: Path) -> None:
    """番号の表を書き換えると、スライドの番号もそれに従う (章から数え直さない)。"""
    executed = tmp_path / "exec"
    shutil.copytree(EXECUTED, executed)
    table = json.loads((FIXTURES / "dlbook-numbers.json").read_text())
    entry = table["book/ch07_demo"]
    entry["figures"]["fig-ch7-activation"] = "7.9"
    entry["equations"]["eq-ch7-perceptron"] = "7.8"
    entry["sections"][1][0] = "7.5"
    entry["kinds"] = {"fig-ch7-activation": "table"}  # 表なら「表 7.9」
    (tmp_path / "dlbook-numbers.json").write_text(json.dumps(table))
    deck = build_deck(CHAPTER, tmp_path / "out", executed, NO_OVERRIDES)
    text = deck.markdown.read_text(encoding="utf-8")
    assert "\\tag{7.8}" in text and "図 7.9　シグモイド関数" in text
    assert "7.5　パーセプトロン" in text and "7.2　パーセプトロン" not in text
    assert "表 7.9 を参照" in text


def test_numbers_table_out_of_date_says_how_to_fix(tmp_path: Path) -> None:
    executed = tmp_path / "exec"
    shutil.copytree(EXECUTED, executed)
    table = json.loads((FIXTURES / "dlbook-numbers.json").read_text())
    del table["book/ch07_demo"]["sections"][-1]  # 節が 1 つ少ない古い表
    (tmp_path / "dlbook-numbers.json").write_text(json.dumps(table))
    with pytest.raises(SlideError, match=r"ビルドが章より古い: make preview"):
        build_deck(CHAPTER, tmp_path / "out", executed, NO_OVERRIDES)


def test_stale_notebook_says_so_and_gives_the_command(tmp_path: Path) -> None:
    chapter, executed = _bad_chapter(tmp_path, BAD["unknown-glue"][0])
    old = chapter.stat().st_mtime - 600
    for f in executed.iterdir():
        os.utime(f, (old, old))  # 実行結果が章より古い
    with pytest.raises(SlideError) as info:
        build_deck(chapter, tmp_path / "out", executed, NO_OVERRIDES)
    message = "\n".join(info.value.problems)
    assert "が章より古い" in message
    assert "make preview CH=" in message and "ch09_bad.md" in message


# ---------------------------------------------------------------- MyST の読み方


def test_notes_continue_on_indented_lines_and_yaml_options(
    tmp_path: Path,
) -> None:
    body = (
        "```{slide} 題\n:notes: 1 行目の\n  続きの行\n:class: small\n- a\n```\n\n"
        "```{slide} 題 2\n---\nnotes: YAML のノート\nfigure: fig-ch7-activation\n"
        "---\n- b\n```\n"
    )
    chapter, executed = _bad_chapter(tmp_path, body)
    deck = build_deck(chapter, tmp_path / "out", executed, NO_OVERRIDES)
    text = deck.markdown.read_text(encoding="utf-8")
    assert "<!--\n1 行目の続きの行\n-->" in text
    assert "_class: content small" in text
    assert "YAML のノート" in text and "fig-ch7-activation.png" in text


def test_role_inside_inline_code_is_left_alone(tmp_path: Path) -> None:
    body = "```{slide} 題\n- `{glue:text}`x`` は書き方の例、値は {glue:text}`ch7-acc:.0f`\n```\n"
    chapter, executed = _bad_chapter(tmp_path, body)
    deck = build_deck(chapter, tmp_path / "out", executed, NO_OVERRIDES)
    text = deck.markdown.read_text(encoding="utf-8")
    assert "- `{glue:text}`x`` は書き方の例、値は 97" in text


# ---------------------------------------------------------------- 表紙・ノート


def test_title_slide_carries_the_licence(tmp_path: Path) -> None:
    _, pages = _deck(tmp_path)
    assert "CC BY-SA 4.0" in pages[0] and "MIT" in pages[0]


def test_pages_table_and_notes_text(tmp_path: Path) -> None:
    from dlbook_tools.slides.export import write_notes

    deck = build_deck(CHAPTER, tmp_path, EXECUTED, NO_OVERRIDES)
    meta = json.loads((tmp_path / "ch07_demo.pages.json").read_text())
    assert len(meta["pages"]) == deck.slides
    assert meta["pages"][2] == {
        "title": "この章のねらい",
        "notes": "最初に章全体の流れを話す。",
        "kind": "content",
    }
    text = write_notes(deck.markdown).read_text(encoding="utf-8")
    assert "--- 3. この章のねらい\n最初に章全体の流れを話す。" in text
    assert "--- 1. スライド生成のための小さな章\n(ノートなし)" in text


# ---------------------------------------------------------------- 講師の設定と選択


def test_override_front_matter_sets_size_footer_logo_and_theme(
    tmp_path: Path,
) -> None:
    folder = _override(
        tmp_path,
        "---\nsize: '4:3'\nfooter: 〇〇大学 深層学習 第3回\nlogo: logo.png\n"
        "theme: mine.css\n---\n",
    )
    (folder / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (folder / "mine.css").write_text("/* @theme mine */\n@import 'dlbook';\n")
    deck = build_deck(CHAPTER, tmp_path / "out", EXECUTED, folder)
    text = deck.markdown.read_text(encoding="utf-8")
    assert "size: 4:3" in text and "theme: mine" in text
    assert 'footer: "〇〇大学 深層学習 第3回"' in text
    assert "url('ch07_demo/logo.png')" in text
    assert (tmp_path / "out" / "ch07_demo" / "logo.png").exists()
    assert deck.settings.theme_css == (folder / "mine.css").resolve()
    assert slides.deck.describe_overrides(deck).endswith(
        "size 4:3、theme mine (mine.css)、logo logo.png、footer"
    )


@pytest.mark.parametrize(
    ("front", "message"),
    [
        ("size: '5:4'", "size: 5:4 は使えません"),
        ("theme: nothere", "theme: nothere は使えません"),
        ("logo: nothere.png", "logo: nothere.png がありません"),
        ("colour: red", "未知の設定 colour"),
    ],
)
def test_bad_front_matter_is_an_error(
    tmp_path: Path, front: str, message: str
) -> None:
    folder = _override(tmp_path, f"---\n{front}\n---\n")
    with pytest.raises(SlideError, match=message):
        build_deck(CHAPTER, tmp_path / "out", EXECUTED, folder)


@pytest.mark.parametrize(
    ("select", "titles"),
    [
        ("7.2", ["パーセプトロン", "活性化関数", "活性化関数の比較"]),
        ("[この章のねらい, まとめ]", ["この章のねらい", "まとめ"]),
        (
            "活性化関数 .. NumPy で書く",
            ["活性化関数", "活性化関数の比較", "NumPy で書く"],
        ),
    ],
)
def test_select_a_subset_or_range_of_slides(
    tmp_path: Path, select: str, titles: list[str]
) -> None:
    folder = _override(tmp_path, f"---\nselect: {select}\n---\n")
    _, pages = _deck(tmp_path, folder)
    # 表紙と目次はいつも残る
    assert _titles(pages) == ["スライド生成のための小さな章", "目次", *titles]


def test_unknown_title_lists_the_valid_ones(tmp_path: Path) -> None:
    folder = _override(tmp_path, "---\nselect: [パーセプトロソ]\n---\n")
    with pytest.raises(SlideError) as info:
        build_deck(CHAPTER, tmp_path / "out", EXECUTED, folder)
    message = info.value.problems[0]
    assert "スライド「パーセプトロソ」が章にありません" in message
    assert "使える題:" in message and "「パーセプトロン」" in message
    folder2 = tmp_path / "b"
    folder2.mkdir()
    (folder2 / "ch07.md").write_text("```{slide} まとめx\n:remove:\n```\n")
    with pytest.raises(SlideError, match=r"使える題: .*「まとめ」"):
        build_deck(CHAPTER, tmp_path / "out", EXECUTED, folder2)


def test_cli_prints_the_overrides_it_applied(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "dlbook_tools.slides",
        "--chapter",
        str(CHAPTER),
        "--executed",
        str(EXECUTED),
        "--out",
        str(tmp_path / "out"),
        "--overrides",
        str(OVERRIDES),
        "--formats",
        "md,notes",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (
        "ch07_demo: 上書き tests/fixtures/slides/overrides/ch07.md: "
        "1 枚差し替え、1 枚挿入、1 枚削除" in proc.stdout
    )
    assert (tmp_path / "out" / "ch07_demo.notes.txt").exists()


def test_pptx_preview_reports_boxes_outside_and_overflowing_text(
    tmp_path: Path,
) -> None:
    """描き戻しの検査そのものの検査: 外に出る枠・あふれる文字を見つける。"""
    from pptx import Presentation
    from pptx.util import Emu, Pt

    from dlbook_tools.slides import pptx_preview

    prs = Presentation()
    prs.slide_width, prs.slide_height = Emu(1280 * 9525), Emu(720 * 9525)
    slide = prs.slides.add_slide(prs.slide_layouts[6])
    px = 9525
    ok = slide.shapes.add_textbox(64 * px, 64 * px, 600 * px, 60 * px)
    ok.text_frame.text = "収まる文字"
    ok.text_frame.paragraphs[0].runs[0].font.size = Pt(24)
    outside = slide.shapes.add_textbox(1200 * px, 64 * px, 200 * px, 60 * px)
    outside.text_frame.text = "外"
    full = slide.shapes.add_textbox(64 * px, 300 * px, 200 * px, 40 * px)
    full.text_frame.text = "長い文字が狭い枠に何行にもわたって入りきらない" * 3
    full.text_frame.paragraphs[0].runs[0].font.size = Pt(24)
    prs.save(str(tmp_path / "bad.pptx"))
    problems = pptx_preview.render(tmp_path / "bad.pptx", tmp_path / "png")
    assert len(problems) == 2, problems
    assert "スライドの外に出る: '外'" in problems[0]
    assert "文字が枠からはみ出す: '長い文字" in problems[1]
    assert (tmp_path / "png" / "bad-01.png").exists()


def test_notes_may_close_the_body_but_not_sit_inside_it(
    tmp_path: Path,
) -> None:
    body = (
        "```{slide} 題\n- a\n- b\n:notes: 本文の後ろの\n  ノート\n```\n\n"
        "```{slide} 題 2\n- a\n:class: small\n- b\n```\n"
    )
    chapter, executed = _bad_chapter(tmp_path, body)
    with pytest.raises(SlideError) as info:
        build_deck(chapter, tmp_path / "out", executed, NO_OVERRIDES)
    # 2 枚目: 本文の途中の :class: は誤り (スライドに文字が出てしまう)
    [problem] = info.value.problems
    assert problem.endswith(
        f"ch09_bad.md:{N0 + 9}: {{slide}} のオプション :class: が"
        "本文の途中にあります (本文の前か、本文の後ろにまとめて書く)"
    )
    chapter.write_text(HEAD + body.split("\n\n```{slide} 題 2")[0] + "\n")
    deck = build_deck(chapter, tmp_path / "out", executed, NO_OVERRIDES)
    text = deck.markdown.read_text(encoding="utf-8")
    assert "- a\n- b\n\n<!--\n本文の後ろのノート\n-->" in text
    assert ":notes:" not in text
