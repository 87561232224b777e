"""axe-core が見つけたアクセシビリティの問題を、テーマと拡張の出力で直す (Sphinx 拡張)。

``tests/test_a11y.py`` が全ページとスライドを axe-core で検査する。ここで直すもの:

- 参考文献: Sphinx は ``role="list"`` の中に ``role="doc-biblioentry"`` (非推奨の
  ロールで、list の子として認められない) を置く → 各項目を ``role="listitem"`` に
- myst-nb の hide-input の開閉ボタン: 見えている「ソースコードを表示」と違う英語の
  ``aria-label="Toggle hidden content"`` を外し、見えている文字を名前にする
- 検索ボタン: ``aria-label="検索"`` が見えている「この本を検索… Ctrl+K」と食い違う
  → テンプレート ``search-button-field.html`` (``templates/``) で aria-label を外す
- 横にスクロールする領域 (コード、幅の広い式、出力): キーボードで届くよう
  ``tabindex="0"`` を付ける。テーマも読み込み時に同じことをするが、Web フォントや
  画像が遅れて届くと幅が変わるので、フォントが揃った後と本文の大きさが変わった後にも
  数え直す
- 演習の中のリンクの色: 薄い青の背景でコントラストが 4.5:1 に届かない
  → ``dlbook.css`` でテーマの「高コントラストのリンク色」を使う
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

#: (置き換える前, 後)。ページの本文 (``body``) の HTML に当てる
BODY_FIXES = (
    ('role="doc-biblioentry"', 'role="listitem"'),
    ('<summary aria-label="Toggle hidden content">', "<summary>"),
)

#: 横にスクロールしうる要素にキーボードで届くようにする (フォントが揃った後にも)
SCROLL_TABSTOPS_JS = """
(() => {
  const selector = "pre, div.math, .katex-display, .cell_output .output, "
    + ".pst-scrollable-table-container, .table-wrapper";
  const mark = () => document.querySelectorAll(selector).forEach((el) => {
    const scrolls = el.scrollWidth > el.clientWidth
      || el.scrollHeight > el.clientHeight;
    if (scrolls) el.tabIndex = 0;
    else if (el.tabIndex === 0 && !el.matches("a, button")) el.tabIndex = -1;
  });
  let timer = null;
  const later = () => { clearTimeout(timer); timer = setTimeout(mark, 100); };
  window.addEventListener("load", () => {
    mark();
    document.fonts.ready.then(mark);
    // 画像や遅れて届くフォントで本文の大きさが変わったら数え直す
    new ResizeObserver(later).observe(document.body);
  });
  window.addEventListener("resize", later);
})();
"""


def fix_body(body: str) -> str:
    for old, new in BODY_FIXES:
        body = body.replace(old, new)
    return body


def _on_page_context(
    app: Sphinx,
    pagename: str,
    templatename: str,
    context: dict[str, Any],
    doctree: nodes.Node | None,
) -> None:
    if "body" in context:
        context["body"] = fix_body(context["body"])


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("html-page-context", _on_page_context)
    app.add_js_file(None, body=SCROLL_TABSTOPS_JS, priority=900)
    return {
        "version": "0.1",
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
