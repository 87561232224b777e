"""Sphinx の検索用スクリプトは検索ページでだけ読む (ページの重さ)。

pydata-sphinx-theme は、入力しながら検索する機能 (``search_as_you_type``) のために、
すべてのページで ``searchtools.js``・``language_data.js``・``searchindex.js``
(本全体の索引、gzip で約 40 KiB) を読む。この本はその機能を使わない (既定の
``False``): 検索窓は ``search.html`` へ送るフォームで、そのページが自分で
同じスクリプトを読む。そこで、テーマの ``layout.html`` からこの 3 行を除いた
テンプレートを作り、テーマの名前 (``pydata_sphinx_theme/layout.html``) で先に
見つかるようにする。テンプレートはテーマのファイルから毎回作るので、
テーマの版が変わっても追従し、3 行が見つからなければビルドを止める。
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

from dlbook_tools.icons import derived_template

SCRIPTS = (
    "_static/searchtools.js",
    "_static/language_data.js",
    "searchindex.js",
)


def theme_layout() -> Path:
    import pydata_sphinx_theme

    theme = Path(pydata_sphinx_theme.__file__).parent / "theme"
    return theme / "pydata_sphinx_theme" / "layout.html"


def layout_without_search_scripts(layout: str) -> str:
    """テーマの ``layout.html`` から検索用の ``<script>`` 3 行を除く。

    Raises:
        RuntimeError: 3 行がそれぞれ 1 回ずつ見つからないとき (テーマの版が
            変わって、除く行が分からなくなったとき)。
    """
    lines = layout.splitlines(keepends=True)
    kept = []
    found = dict.fromkeys(SCRIPTS, 0)
    for line in lines:
        hit = [
            s for s in SCRIPTS if f"pathto('{s}'" in line and "<script" in line
        ]
        if hit:
            found[hit[0]] += 1
        else:
            kept.append(line)
    wrong = {s: n for s, n in found.items() if n != 1}
    if wrong:
        raise RuntimeError(
            "pydata-sphinx-theme の layout.html に検索用の <script> が 1 行ずつ"
            f"あるはずが、見つかった回数は {wrong} (テーマの版が変わった?)"
        )
    return "".join(kept)


def _templates(app: Sphinx) -> Path:
    return derived_template(
        app,
        ".dlbook_search_templates",
        "pydata_sphinx_theme/layout.html",
        layout_without_search_scripts(theme_layout().read_text("utf-8")),
    )


def _check_option(app: Sphinx) -> None:
    options = app.config.html_theme_options or {}
    if options.get("search_as_you_type"):
        raise RuntimeError(
            "search_as_you_type は全ページで検索の索引を読む機能なので、"
            "dlbook_tools.search_scripts と一緒には使えない"
        )


def setup(app: Sphinx) -> dict[str, Any]:
    app.config.templates_path.insert(0, str(_templates(app)))
    app.connect("builder-inited", _check_option)
    return {
        "version": "0.1",
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
