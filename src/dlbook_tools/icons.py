"""Font Awesome を、サイトが使うアイコンの分だけにする (ページの重さ)。

pydata-sphinx-theme は全アイコン入りの ``fontawesome.js`` (gzip で約 530 KiB)
をすべてのページで読み、そのうえ CSS から Web フォント (``fa-solid-900`` など、
全アイコン入り) も読む。どちらも十数個のアイコンのためである
(テーマに切り替えはない: pydata-sphinx-theme#2379。#2494 は JS をやめて
CSS と Web フォントで描く方針)。ここでは #2494 と同じく CSS と Web フォントで描き:

1. ``fontawesome.js`` の ``<script>`` をテーマのテンプレート
   (``webpack-macros.html``) から外す。テンプレートはテーマのファイルから
   その 1 行だけを除いて作るので、テーマの版が変わっても追従する。
2. ビルドの最後に、Web フォントをサイトが使う字形だけに削る。使う字形は
   HTML と JS の ``fa-*`` クラス、および CSS の疑似要素 (``--pst-icon-*`` など、
   ``.fa-*`` 以外の規則の ``content``) が指す私用領域の文字である。

アイコンはすべてサイトの中のフォントで描かれ、外からは何も読まない。
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

SCRIPT = "scripts/fontawesome.js"
WEBFONTS = Path("_static") / "vendor" / "fontawesome" / "webfonts"
#: Font Awesome のアイコンが置かれる Unicode の私用領域
PRIVATE_USE = range(0xE000, 0xF900)

_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
# content: "\f05a" も、私用領域の文字をそのまま書いた content: "" もある
_CONTENT = re.compile(r"""(?:content|--[\w-]+)\s*:\s*["']([^"']{1,6})["']""")
_ESCAPE = re.compile(r"\\([0-9a-fA-F]{1,6}) ?")
_ICON_SELECTOR = re.compile(r"^\.fa-([\w-]+):{1,2}before$")
_FA_CLASS = re.compile(r"""(?<![\w-])fa-([a-z0-9][a-z0-9-]*)""")


def macros_without_script(theme_macros: str) -> str:
    """テーマの ``webpack-macros.html`` から ``fontawesome.js`` の行を除く。"""
    lines = theme_macros.splitlines(keepends=True)
    kept = [ln for ln in lines if SCRIPT not in ln]
    if len(kept) != len(lines) - 1:
        raise RuntimeError(
            f"webpack-macros.html に {SCRIPT} の <script> が 1 行だけあるはずが、"
            f"{len(lines) - len(kept)} 行あった (テーマの版が変わった?)"
        )
    return "".join(kept)


def _codepoints(value: str) -> list[int]:
    """CSS の文字列 (``\\f05a`` のようなエスケープを含む) の文字。"""
    text = _ESCAPE.sub(lambda m: chr(int(m[1], 16)), value)
    return [ord(c) for c in text]


def css_icons(css: str) -> tuple[dict[str, int], set[int]]:
    """CSS から (クラス名 → 文字, クラスによらず疑似要素が使う文字) を読む。"""
    by_class: dict[str, int] = {}
    always: set[int] = set()
    for selectors, body in _RULE.findall(css):
        points = [
            p
            for value in _CONTENT.findall(body)
            for p in _codepoints(value)
            if p in PRIVATE_USE
        ]
        if not points:
            continue
        names = [_ICON_SELECTOR.match(s.strip()) for s in selectors.split(",")]
        if all(names):
            for m in names:
                assert m is not None
                by_class[m[1]] = points[-1]
        else:
            always.update(points)
    return by_class, always


def used_classes(text: str) -> set[str]:
    """HTML か JS に現れる ``fa-*`` のクラス名。"""
    return set(_FA_CLASS.findall(text))


def used_codepoints(outdir: Path) -> set[int]:
    """サイトのページと CSS・JS が使う Font Awesome の文字。"""
    by_class: dict[str, int] = {}
    points: set[int] = set()
    for css in sorted((outdir / "_static").rglob("*.css")):
        classes, always = css_icons(css.read_text(encoding="utf-8"))
        by_class.update(classes)
        points |= always
    names: set[str] = set()
    for path in [*outdir.rglob("*.html"), *(outdir / "_static").rglob("*.js")]:
        names |= used_classes(
            path.read_text(encoding="utf-8", errors="ignore")
        )
    points |= {by_class[n] for n in names if n in by_class}
    return points


def subset_font(
    source: Path, target: Path, codepoints: set[int]
) -> tuple[int, int]:
    """``source`` (woff2) をその文字の字形だけにして ``target`` に書く。前後のバイト数。"""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    before = source.stat().st_size
    font = TTFont(source)
    options = subset.Options()
    options.flavor = font.flavor  # woff2 は woff2 のまま (brotli を使う)
    options.layout_features = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints))
    subsetter.subset(font)
    font.save(target)
    return before, target.stat().st_size


def theme_static() -> Path:
    """pydata-sphinx-theme の static ディレクトリ (元のフォントとテンプレート)。"""
    from pydata_sphinx_theme import __file__ as theme_init

    return Path(theme_init).parent / "theme" / "pydata_sphinx_theme" / "static"


def derived_template(app: Sphinx, folder: str, name: str, text: str) -> Path:
    """テーマのテンプレートを作り替えた ``text`` を、``_build/<folder>/<name>``
    に書き (中身が変わったときだけ)、``templates_path`` に足すフォルダを返す。

    ``name`` はテーマが読む名前 (例 ``static/webpack-macros.html``)。
    """
    out = Path(app.outdir).parent / folder
    target = out / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_text("utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return out


def _templates(app: Sphinx) -> Path:
    macros = (theme_static() / "webpack-macros.html").read_text("utf-8")
    # layout.html は "static/webpack-macros.html" の名前で読む
    return derived_template(
        app,
        ".dlbook_icon_templates",
        "static/webpack-macros.html",
        macros_without_script(macros),
    )


def _on_build_finished(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    for name in (SCRIPT, SCRIPT + ".map", SCRIPT + ".LICENSE.txt"):
        (outdir / "_static" / name).unlink(missing_ok=True)
    fonts = sorted((outdir / WEBFONTS).glob("*.woff2"))
    if not fonts:
        return
    points = used_codepoints(outdir)
    if not points:
        raise RuntimeError("Font Awesome のアイコンが 1 つも見つからない")
    # 前のビルドで削ったフォントではなく、毎回テーマの元のフォントから削る
    source = theme_static() / "vendor" / "fontawesome" / "webfonts"
    total = [0, 0]
    for font in fonts:
        before, after = subset_font(source / font.name, font, points)
        total[0] += before
        total[1] += after
    logger.info(
        "Font Awesome: %d 字の字形だけに削った (woff2 %d KiB → %d KiB)",
        len(points),
        total[0] // 1024,
        total[1] // 1024,
    )


def setup(app: Sphinx) -> dict[str, Any]:
    app.config.templates_path.insert(0, str(_templates(app)))
    app.connect("build-finished", _on_build_finished)
    return {
        "version": "0.1",
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
