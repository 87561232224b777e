"""1 章だけを素早くビルドする (執筆中のプレビュー用)。

使い方::

    python -m dlbook_tools.preview book/ch04_nn_basics.md

出力は ``_build/preview/<章>/_build/html``。実行キャッシュも章ごとに分けるので、
複数の章を同時にプレビューしても互いに干渉しない。章番号は本番と同じになる。
"""

from __future__ import annotations

import argparse
from pathlib import Path

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
            }
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
    # 本番と同じ入口で走らせる: 失敗したセルを「章:行 (コードセル N)」で
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
    )
    if code == 0:
        code = preview_slides(root / path, out / "_build")
    print(f"\nプレビュー: {out / '_build' / 'html' / (docname + '.html')}")
    return code


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
