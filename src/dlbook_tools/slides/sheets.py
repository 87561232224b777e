"""章のページ (ビルド済みの HTML) から演習シートの PDF を作る。

- ``<章>.exercises.pdf``: 演習問題だけ (解答なし、学生用)
- ``<章>.solutions.pdf``: 各問題の後に、実行した解答 (コードと出力) を置いたもの (講師用)

sphinx-exercise が書いた ``div.exercise`` と ``div.solution`` (解答の見出しのリンクが
問題の id を指す) を、章のページの中で並べ直して headless Chromium で印刷する。
本と同じ CSS・KaTeX のフォント・図を使うので、見た目は本と同じ。
"""

from __future__ import annotations

from pathlib import Path

from dlbook_tools.browser import CHROMIUM, CHROMIUM_ARGS
from dlbook_tools.pdf import FOOTER, PRINT_CSS

SHEET_CSS = """
@media print {
  .solution .toggle-hidden, .solution section, .solution .cell_output {
    display: block !important; visibility: visible !important; }
  .toggle-button, .toggle-hidden-content { display: none !important; }
  div.exercise, div.solution { break-inside: avoid; margin: 0 0 6mm; }
  .dlbook-sheet-space { height: 40mm; border: 0.3mm dashed #d1d5db; margin: 0 0 6mm; }
}
"""

REBUILD_JS = """
(withSolutions) => {
  const article = document.querySelector('article.bd-article') ||
                  document.querySelector('main') || document.body;
  const h1 = article.querySelector('h1');
  const title = h1 ? h1.innerText.replace(/#/g, '').trim() : document.title;
  const solutions = [...document.querySelectorAll('div.solution')];
  const parts = [];
  for (const ex of document.querySelectorAll('div.exercise')) {
    parts.push(ex.cloneNode(true));
    const sol = solutions.find(
      s => s.querySelector(`.admonition-title a[href="#${ex.id}"]`));
    if (withSolutions && sol) {
      const copy = sol.cloneNode(true);
      copy.classList.remove('dropdown', 'toggle', 'toggle-hidden');
      copy.querySelectorAll('.toggle-hidden').forEach(
        e => e.classList.remove('toggle-hidden'));
      parts.push(copy);
    } else if (!withSolutions) {
      const space = document.createElement('div');
      space.className = 'dlbook-sheet-space';
      parts.push(space);
    }
  }
  const sheet = document.createElement('div');
  const heading = document.createElement('h1');
  heading.textContent = title + '　' +
      (withSolutions ? '演習問題と解答 (講師用)' : '演習問題');
  sheet.append(heading, ...parts);
  article.replaceChildren(sheet);
  sheet.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager');
  return {title, count: document.querySelectorAll('div.exercise').length};
}
"""


def chapter_page(html_dir: Path, stem: str) -> Path:
    for candidate in (
        html_dir / "book" / f"{stem}.html",
        html_dir / f"{stem}.html",
    ):
        if candidate.exists():
            return candidate
    raise SystemExit(
        f"演習シート: 章のページ {stem}.html が {html_dir} にありません (先に make html)"
    )


def export_sheets(
    html_dir: Path, stems: list[Path], out_dir: Path
) -> dict[str, int]:
    """章ごとに演習シート 2 つを ``out_dir`` に書き、問題の数を返す。"""
    from playwright.sync_api import sync_playwright

    counts: dict[str, int] = {}
    pages = {str(s): chapter_page(html_dir, str(s)) for s in stems}
    # file:// で開く (ネットワークのない名前空間でも動くように、HTTP の配信はしない)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        context = browser.new_context()
        context.route("http*://**", lambda route: route.abort())
        for stem, path in pages.items():
            for suffix, solutions in (
                ("exercises", False),
                ("solutions", True),
            ):
                page = context.new_page()
                page.goto(path.resolve().as_uri(), wait_until="load")
                info = page.evaluate(REBUILD_JS, solutions)
                if not info["count"]:
                    page.close()
                    break
                page.add_style_tag(content=PRINT_CSS + SHEET_CSS)
                page.evaluate("document.fonts.ready.then(() => true)")
                page.wait_for_function(
                    "Array.from(document.images).every(i => i.complete)",
                    timeout=30000,
                )
                label = "演習問題と解答" if solutions else "演習問題"
                page.pdf(
                    path=str(out_dir / f"{stem}.{suffix}.pdf"),
                    format="A4",
                    print_background=True,
                    display_header_footer=True,
                    header_template="<span></span>",
                    footer_template=FOOTER.format(
                        title=f"{info['title']} {label}"
                    ),
                    prefer_css_page_size=True,
                )
                counts[stem] = info["count"]
                page.close()
        context.close()
        browser.close()
    return counts
