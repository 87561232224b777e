"""Marp CLI でデッキを HTML・PDF (ノートの注釈つき)・PPTX (画像)・ノートの文字に書き出す。

CDN は使わない: KaTeX のフォントは marp-core と同じ版を node_modules から写し、
PDF/PPTX はローカルの Chromium (``CHROME_PATH``、既定 ``/usr/bin/chromium``) で作る。
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from dlbook_tools.slides.model import ROOT, SLIDES_DIR

KATEX_FONTS = "assets/katex/fonts"  # デッキ (.html) からの相対パス
#: 形式 → Marp の引数。PDF は話者ノートを注釈 (--pdf-notes) に、しおりを節に持つ
#: (画像の PPTX は ``editable.export_rendered`` が HTML の描画から作る)
MARP_FLAGS = {
    "html": [],
    "pdf": ["--pdf", "--pdf-notes", "--pdf-outlines"],
}


def marp_command() -> list[str]:
    local = ROOT / "node_modules" / ".bin" / "marp"
    if not local.exists():
        raise SystemExit(
            f"marp-cli がありません: {local} (`make setup` で npm ci)"
        )
    return [str(local)]


def copy_katex_fonts(out_dir: Path) -> None:
    """marp-core が使う KaTeX と同じ版のフォントをデッキの隣に置く (CDN を使わない)。"""
    core = ROOT / "node_modules" / "@marp-team" / "marp-core"
    for candidate in (
        core / "node_modules" / "katex",
        ROOT / "node_modules" / "katex",
    ):
        fonts = candidate / "dist" / "fonts"
        if fonts.is_dir():
            break
    else:
        raise SystemExit(
            "KaTeX のフォントが node_modules にありません (`make setup`)"
        )
    target = out_dir / KATEX_FONTS
    target.mkdir(parents=True, exist_ok=True)
    for font in fonts.glob("*.woff2"):
        shutil.copy2(font, target / font.name)


def browser_env() -> dict[str, str]:
    env = {**os.environ}
    if "CHROME_PATH" not in env:
        for browser in (
            "/usr/bin/chromium",
            "/usr/bin/chromium-browser",
            "/usr/bin/google-chrome",
        ):
            if Path(browser).exists():
                env["CHROME_PATH"] = browser
                break
    env.setdefault(
        "CHROME_NO_SANDBOX", "1"
    )  # root・コンテナでも起動できるように
    return env


def run_marp(
    decks: list[Path],
    formats: list[str],
    out_dir: Path,
    themes: list[Path] | None = None,
    after_html: Callable[[], None] | None = None,
) -> dict[str, float]:
    """marp を形式ごとに 1 回ずつ (全デッキまとめて) 並行に走らせる。

    ``after_html`` は HTML ができたところで (PDF・PPTX の書き出しと並行に) 呼ぶ。
    """
    theme_set = [SLIDES_DIR / "theme" / "dlbook.css", *(themes or [])]
    base = [
        *marp_command(),
        "--config-file",
        str(SLIDES_DIR / "marp.config.mjs"),
        "--theme-set",
        *[str(t) for t in theme_set],
        "--html",
        "--allow-local-files",
        "--no-stdin",
    ]
    procs: dict[str, tuple[subprocess.Popen[str], float]] = {}
    for fmt in formats:
        if fmt not in MARP_FLAGS:
            continue
        cmd = [*base, *MARP_FLAGS[fmt], "--", *[str(d) for d in decks]]
        proc = subprocess.Popen(
            cmd,
            cwd=out_dir,
            env=browser_env(),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        procs[fmt] = (proc, time.perf_counter())
    times: dict[str, float] = {}
    failed: list[str] = []
    order = sorted(procs, key=lambda f: f != "html")  # HTML を先に待つ
    for fmt in order:
        proc, started = procs[fmt]
        output, _ = proc.communicate()
        times[fmt] = time.perf_counter() - started
        if proc.returncode != 0:
            failed.append(f"marp ({fmt}) が失敗しました:\n{output}")
        elif fmt == "html" and after_html is not None:
            t0 = time.perf_counter()
            after_html()
            times["pptx+editable+handout"] = time.perf_counter() - t0
    if failed:
        raise SystemExit("\n".join(failed))
    return times


def write_notes(deck: Path) -> Path:
    """話者ノートの文字 (``<章>.notes.txt``): ページ番号・題・ノート。

    Marp の ``--notes`` と同じ内容に、どのスライドのノートかが分かるよう番号と題を付ける
    (Marp をもう 1 回起動しないので速い)。
    """
    meta = json.loads(deck.with_suffix(".pages.json").read_text("utf-8"))
    blocks = [meta["chapter"] + "　話者ノート"]
    for k, page in enumerate(meta["pages"], 1):
        notes = page["notes"].strip() or "(ノートなし)"
        blocks.append(f"--- {k}. {page['title']}\n{notes}")
    target = deck.with_suffix(".notes.txt")
    target.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return target


def publish(out_dir: Path, site_dir: Path) -> None:
    """``_build/slides`` を構築済みサイトの ``slides/`` に写す。"""
    if site_dir.exists():
        shutil.rmtree(site_dir)
    shutil.copytree(out_dir, site_dir)
