"""``python -m dlbook_tools.slides``: デッキを作り、各形式に書き出し、サイトに写す。"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import yaml

from dlbook_tools.slides.deck import Deck, build_deck, describe_overrides
from dlbook_tools.slides.editable import export_rendered
from dlbook_tools.slides.export import (
    copy_katex_fonts,
    publish,
    run_marp,
    write_notes,
)
from dlbook_tools.slides.model import (
    EXECUTED_DIR,
    OUT_DIR,
    ROOT,
    SITE_DIR,
    SLIDES_DIR,
    SlideError,
    rel,
)

#: 書き出せる形式。md と html は Marp、pdf はノートを注釈に持つ PDF、
#: pptx は画像の PPTX、notes は話者ノートの文字、editable は編集できる PPTX、
#: handout は配布資料 (4 枚 + ノート / ページ)、sheets は演習シート (本の HTML から)
FORMATS = (
    "md",
    "html",
    "pdf",
    "pptx",
    "notes",
    "editable",
    "handout",
    "sheets",
)
DEFAULT_FORMATS = ",".join(FORMATS)


def chapters_from_toc(root: Path = ROOT) -> list[Path]:
    """_toc.yml の番号付きの部 (本編) にある章だけを返す (付録などは除く)。"""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    return [
        root / f"{c['file']}.md"
        for part in toc.get("parts", [])
        if part.get("numbered")
        for c in part.get("chapters", [])
    ]


def _sheets(
    html_dir: Path, stems: list[Path], out_dir: Path, result: dict
) -> None:
    """演習シート (別のスレッドで。失敗は ``result["error"]`` に)。"""
    from dlbook_tools.slides.sheets import export_sheets

    started = time.perf_counter()
    try:
        export_sheets(html_dir, stems, out_dir)
    except (Exception, SystemExit) as exc:
        result["error"] = str(exc)
    result["sheets"] = time.perf_counter() - started


def build(
    chapters: list[Path],
    formats: list[str],
    out_dir: Path = OUT_DIR,
    executed_dir: Path = EXECUTED_DIR,
    overrides_dir: Path | None = None,
    site_dir: Path | None = SITE_DIR,
    html_dir: Path | None = None,
) -> list[Deck]:
    """デッキを作り、各形式に書き出し、サイトにも写す。"""
    decks = []
    problems: list[str] = []
    for chapter in chapters:
        try:
            decks.append(
                build_deck(chapter, out_dir, executed_dir, overrides_dir)
            )
        except SlideError as exc:
            problems += exc.problems
    if problems:
        raise SlideError(problems)
    for d in decks:
        applied = describe_overrides(d)
        print(f"[slides] {d.name}: {applied or '上書きなし'}")
    copy_katex_fonts(out_dir)
    manifest = {
        d.name: {
            "slides": d.slides,
            "formats": formats,
            "size": d.settings.size,
        }
        for d in decks
    }
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    started = time.perf_counter()
    themes = [d.settings.theme_css for d in decks if d.settings.theme_css]
    if "notes" in formats:
        for d in decks:
            write_notes(d.markdown)
    mds = [d.markdown for d in decks]
    sheets: dict[str, float] = {}
    thread = None
    if "sheets" in formats:  # 本の HTML だけを使うので、Marp と並行に作る
        html_dir = html_dir or (
            site_dir.parent if site_dir else ROOT / "_build" / "html"
        )
        thread = threading.Thread(
            target=_sheets,
            args=(html_dir, [Path(d.name) for d in decks], out_dir, sheets),
        )
        thread.start()
    rendered = sorted({"editable", "handout", "pptx"} & set(formats))
    try:
        times = run_marp(
            mds,
            formats,
            out_dir,
            themes,
            (lambda: export_rendered(mds, rendered)) if rendered else None,
        )
    finally:
        if thread is not None:
            thread.join()
    if "error" in sheets:
        raise SystemExit(f"演習シートを作れませんでした: {sheets['error']}")
    times.update({k: v for k, v in sheets.items() if k != "error"})
    total = time.perf_counter() - started
    for d in decks:
        for w in d.warnings:
            print(f"警告: {w}", file=sys.stderr)
        print(f"[slides] {d.name}: {d.slides} 枚 → {rel(out_dir)}/{d.name}.*")
    if times:
        detail = ", ".join(f"{k} {v:.1f} 秒" for k, v in times.items())
        print(f"[slides] 書き出し: {total:.1f} 秒 ({detail})")
    if site_dir is not None and site_dir.parent.exists():
        publish(out_dir, site_dir)
        print(f"[slides] サイトに写しました: {rel(site_dir)}")
    return decks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dlbook_tools.slides",
        description=(sys.modules["dlbook_tools.slides"].__doc__ or ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--all", action="store_true", help="_toc.yml のすべての章"
    )
    which.add_argument(
        "--chapter",
        action="append",
        type=Path,
        help="章のファイル (繰り返し可)。例: book/ch04_nn_basics.md",
    )
    parser.add_argument(
        "--formats",
        default=DEFAULT_FORMATS,
        help=f"書き出す形式 (既定: {DEFAULT_FORMATS})",
    )
    parser.add_argument(
        "--out", type=Path, default=OUT_DIR, help="出力先 (_build/slides)"
    )
    parser.add_argument(
        "--executed",
        type=Path,
        default=EXECUTED_DIR,
        help="実行済みノートブックのディレクトリ (_build/jupyter_execute)",
    )
    parser.add_argument(
        "--overrides",
        type=Path,
        default=SLIDES_DIR / "overrides",
        help="講師の上書きファイルのディレクトリ (slides/overrides)",
    )
    parser.add_argument(
        "--site",
        type=Path,
        default=None,
        help="写し先 (既定: --out が _build/slides なら _build/html/slides)",
    )
    parser.add_argument(
        "--html",
        type=Path,
        default=None,
        help="演習シートを作る本の HTML (既定: 写し先の親、なければ _build/html)",
    )
    parser.add_argument(
        "--no-publish", action="store_true", help="サイトに写さない"
    )
    args = parser.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    if {"editable", "handout", "pptx"} & set(
        formats
    ) and "html" not in formats:
        # 編集用 PPTX・配布資料・画像の PPTX は HTML のデッキから作る
        formats.append("html")
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        parser.error(
            f"未知の形式: {', '.join(unknown)} (使えるもの: {', '.join(FORMATS)})"
        )
    chapters = (
        chapters_from_toc()
        if args.all
        else [p.resolve() for p in args.chapter]
    )
    for chapter in chapters:
        if not chapter.exists():
            parser.error(f"章のファイルがありません: {chapter}")
    out = args.out.resolve()
    site = (
        args.site.resolve()
        if args.site
        else (SITE_DIR if out == OUT_DIR else None)
    )
    if args.no_publish:
        site = None
    started = time.perf_counter()
    try:
        build(
            chapters,
            formats,
            out,
            args.executed.resolve(),
            args.overrides.resolve(),
            site,
            args.html.resolve() if args.html else None,
        )
    except SlideError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(
            f"スライドを作れませんでした ({len(exc.problems)} 件の誤り)",
            file=sys.stderr,
        )
        return 1
    print(f"[slides] 全体: {time.perf_counter() - started:.1f} 秒")
    return 0
