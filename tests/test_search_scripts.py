"""検索用のスクリプトと索引は検索ページでだけ読む (``dlbook_tools.search_scripts``)。

単体: テーマの ``layout.html`` から 3 行の ``<script>`` だけが消え、もう一度
かけると (見つからないので) 止まること。サイト: 章のページは索引を読まず、
検索ページは読む (検索そのものは ``test_search`` が本物のブラウザで確かめる)。
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dlbook_tools import search_scripts
from dlbook_tools.checks import site


def test_the_layout_loses_only_the_three_script_lines() -> None:
    theme = search_scripts.theme_layout().read_text("utf-8")
    out = search_scripts.layout_without_search_scripts(theme)
    assert "searchindex.js" in theme
    assert "searchindex.js" not in out
    assert len(theme.splitlines()) - len(out.splitlines()) == 3
    assert "{% block extrahead %}" in out.replace("{%-", "{%")
    with pytest.raises(RuntimeError, match="テーマの版"):
        search_scripts.layout_without_search_scripts(out)


@pytest.mark.site
def test_only_the_search_page_loads_the_index(built_site: Path) -> None:
    loaders = [
        rel
        for rel in site.pages(built_site)
        if "searchindex.js" in (built_site / rel).read_text("utf-8")
    ]
    assert loaders == [], f"検索の索引を読む本文のページ: {loaders}"
    search = (built_site / "search.html").read_text("utf-8")
    assert "searchindex.js" in search
    assert "searchtools.js" in search
