"""1 章だけを素早くビルドする (執筆中のプレビュー用)。

使い方::

    python -m dlbook_tools.preview book/ch04_nn_basics.md

出力は ``_build/preview/<章>/_build/html``。実行キャッシュも章ごとに分けるので、
複数の章を同時にプレビューしても互いに干渉しない。章番号は本番と同じになる。
ビルドと並行して章の文章を textlint で検査する (``--no-textlint`` で省く)。
ページのパスはビルドが成功したときだけ出す。完全なログは
``_build/preview/<章>/build.log``。
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from dlbook_tools.build import run_jupyter_book

ROOT = Path(__file__).resolve().parents[2]


def chapter_number(toc: dict, docname: str) -> int:
    """本番の _toc.yml での章番号 (4, 5, 6, …) を返す。"""
    chapters = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    if docname not in chapters:
        raise SystemExit(f"{docname} は _toc.yml にありません: {chapters}")
    return chapters.index(docname) + 4


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    """``argv`` の章を ``root`` の本の中で 1 章だけビルドし、終了コードを返す。"""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("chapter", help="例: book/ch04_nn_basics.md")
    parser.add_argument(
        "--no-textlint", action="store_true", help="文章の検査を省く"
    )
    args = parser.parse_args(argv)
    path = Path(args.chapter)
    if not (root / path).exists():
        raise SystemExit(f"ファイルがありません: {path}")
    docname = str(path.with_suffix(""))
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    number = chapter_number(toc, docname)
    out = root / "_build" / "preview" / path.stem
    out.mkdir(parents=True, exist_ok=True)
    preview_toc = {
        "format": "jb-book",
        "root": toc["root"],
        "parts": [
            {
                "caption": "プレビュー",
                "numbered": True,
                "chapters": [{"file": docname}],
            },
            # 実行するセルのない付録 (用語集・記法) は軽いので含める: 章の
            # {doc}`notation` などの参照が本番と同じに解決される。セルのある
            # 付録 (ビルド状況) は毎回 20 秒かかるので含めず、その参照の警告は
            # outside_preview が失敗に数えない
            *appendix_parts(toc, root),
        ],
    }
    (out / "_toc.yml").write_text(
        yaml.safe_dump(preview_toc, allow_unicode=True)
    )
    config = yaml.safe_load((root / "_config.yml").read_text())
    config["execute"]["cache"] = str(out / ".jupyter_cache")
    config["sphinx"]["config"]["dlbook_chapter_offset"] = number - 1
    (out / "_config.yml").write_text(
        yaml.safe_dump(config, allow_unicode=True)
    )
    # 文章の検査 (node の textlint) はビルドと並行して走らせる
    lint: list[str] = []
    linter = threading.Thread(
        target=lambda: lint.extend(textlint(root / path, root)), daemon=True
    )
    if not args.no_textlint:
        linter.start()
    # 本番と同じ入口で走らせる: 警告を「章:行: 何が — 直し方」で
    # 要約し、KaTeX の node サーバも片付ける
    code = run_jupyter_book(
        root,
        extra=[
            "--toc",
            str(out / "_toc.yml"),
            "--config",
            str(out / "_config.yml"),
            "--path-output",
            str(out),
        ],
        log_path=out / "build.log",
        outdir=out / "_build",
        ignore=outside_preview(path, root),
    )
    built = code == 0
    if code == 0:
        code = preview_slides(root / path, out / "_build")
    if not args.no_textlint:
        linter.join()
    if lint:
        print("\n文章の検査 (textlint) の指摘:", file=sys.stderr)
        for line in lint:
            print("  " + line, file=sys.stderr)
        code = code or 1
    if built:
        page = out / "_build" / "html" / (docname + ".html")
        print(f"\nプレビュー: {page}")
    return code


def appendix_parts(toc: dict, root: Path) -> list[dict]:
    """番号のない部 (付録) のうち、コードセルのないページだけの部。"""
    parts = []
    for part in toc["parts"]:
        if part.get("numbered"):
            continue
        pages = [
            c
            for c in part["chapters"]
            if "{code-cell}" not in _read(root / f"{c['file']}.md")
        ]
        if pages:
            parts.append({**part, "chapters": pages})
    return parts


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


LABEL_DEF = re.compile(
    r"^\(([\w:.-]+)\)=\s*$|^\s*:name:\s*(\S+)|\$\$\s*\(([\w:.-]+)\)", re.M
)


def outside_preview(chapter: Path, root: Path = ROOT) -> Callable[[Any], bool]:
    """プレビューでは解決できない警告か (要約の行を受け取る述語) を返す。

    プレビューは 1 章と付録だけをビルドするので、次は本全体のビルドに任せる:
    付録のページ自身の警告 (他の章へのリンク)、他の章で定義されたラベルへの
    参照、他の章の文書へのリンク。
    """
    here = chapter.as_posix()
    others = [
        p
        for p in sorted((root / "book").glob("*.md"))
        if p.name != chapter.name
    ]
    docs = {p.relative_to(root).with_suffix("").as_posix() for p in others}
    labels: set[str] = set()
    for p in others:
        for m in LABEL_DEF.finditer(p.read_text(encoding="utf-8")):
            labels.add(next(g for g in m.groups() if g))

    def ignore(problem: Any) -> bool:
        if problem.path and problem.path != here:
            return True  # 付録のページなど、この章ではないページの警告
        quoted = re.findall(r"'([^']+)'", problem.what)
        if problem.kind == "label":
            return bool(quoted) and quoted[0] in labels
        if re.search(
            r"Unknown source document|unknown document", problem.what
        ):
            return any(
                q.removesuffix(".md") in docs
                or f"book/{q.removesuffix('.md')}" in docs
                for q in quoted
            )
        return False

    return ignore


def textlint(chapter: Path, root: Path = ROOT) -> list[str]:
    """章を textlint で検査し、指摘を ``章:行:列: 何が (規則) — 直し方`` で返す。"""
    from dlbook_tools.checks.textlint_myst import run_textlint

    fix = (
        "文を直す。誤検出なら前の行に `% textlint-disable 規則名`、"
        "言葉なら .textlint-allowlist.yml に足す"
    )
    shown = []
    for v in run_textlint([chapter]):
        v.path = _relative(chapter, root)
        shown.append(f"{v} — {fix}")
    return shown


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def preview_slides(chapter: Path, build: Path) -> int:
    """プレビューの実行結果から、その章のスライド (md と HTML) を作る。

    章のページの「スライド」のリンク (``html/slides/<章>.html``) が指す所に置く。
    """
    from dlbook_tools.slides.cli import main as slides_main

    return slides_main(
        [
            "--chapter",
            str(chapter),
            "--executed",
            str(build / "jupyter_execute"),
            "--out",
            str(build / "slides"),
            "--site",
            str(build / "html" / "slides"),
            "--formats",
            "md,html,notes",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
