"""本全体を 1 つの PDF にする (オフラインで読む・印刷する用)。

ビルド済みの HTML (``_build/html``) を目次 (``_toc.yml``) の順に headless Chromium
(Playwright、Debian の ``/usr/bin/chromium``) で印刷し、pypdf で 1 冊にまとめて
``_build/html/dlbook.pdf`` に書く。章ごとに PDF のしおり (bookmark) を付ける。

- 印刷用のスタイルでサイドバー・ナビゲーション・ボタン類を隠す。
- 日本語は Noto CJK、数式は KaTeX のフォント (サイト内) で描く。フォントの読み込みを
  待ってから印刷する。サイトはローカルの静的サーバで配信し、外へは何も取りに行かない。

使い方::

    python -m dlbook_tools.pdf                 # _build/html → _build/html/dlbook.pdf
    python -m dlbook_tools.pdf --html DIR --out FILE
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import yaml
from pypdf import PdfReader, PdfWriter

from dlbook_tools import buildinfo
from dlbook_tools.browser import CHROMIUM, CHROMIUM_ARGS, serve_directory

ROOT = buildinfo.ROOT

PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
@media print {
  .bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header-article,
  .header-article, .prev-next-area, .prev-next-footer, .bd-footer,
  .bd-footer-article, .bd-footer-content, footer, #pst-back-to-top,
  .pst-scrollable-table-container .copybtn, button, .copybtn, .headerlink,
  .dlbook-notebook, .dlbook-slides, .dlbook-pdf, .search-button, .theme-switch-button,
  .skip-link, .sidebar-toggle, #pst-primary-sidebar-checkbox,
  #pst-secondary-sidebar-checkbox { display: none !important; }
  html, body { font-size: 10.5pt; }
  .bd-main, .bd-content, .bd-article-container, .bd-article, .bd-page-width,
  .bd-container, .bd-container__inner {
    max-width: none !important; width: auto !important; margin: 0 !important;
    padding: 0 !important; display: block !important; }
  pre { white-space: pre-wrap !important; word-break: break-all; }
  .katex-display { overflow: visible !important; }
  img, figure, table, .cell_output { break-inside: avoid; }
  h1, h2, h3 { break-after: avoid; }
  /* テーマは印刷時に番号のない題 (#jb-print-docs-body) を出し、本文の h1 を隠す。
     章番号 (4. など) の付いた本文の h1 を見せる */
  #jb-print-docs-body { display: none !important; }
  .bd-main .bd-content .bd-article h1:first-of-type { display: block !important; }
  a { color: inherit; text-decoration: none; }
}
"""

FOOTER = (
    '<div style="font-size:8px;width:100%;text-align:center;color:#666;'
    "font-family:'Noto Sans CJK JP',sans-serif\">{title} — "
    '<span class="pageNumber"></span></div>'
)


def toc_docs(root: Path = ROOT) -> list[str]:
    """``_toc.yml`` の順に文書名を返す (root、各部の章、その節)。"""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    docs = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries or []:
            if "file" in entry:
                docs.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return [d.removesuffix(".md").removesuffix(".ipynb") for d in docs]


def print_pages(html: Path, docs: list[str]) -> list[tuple[str, bytes]]:
    """各ページを PDF に印刷し、(しおりの題, PDF のバイト列) の列を返す。"""
    from playwright.sync_api import sync_playwright

    results = []
    with serve_directory(html) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        context = browser.new_context()

        def local_only(route) -> None:  # 外へは何も取りに行かない
            u = route.request.url
            if (
                u.startswith(("data:", "blob:"))
                or urlparse(u).hostname == "127.0.0.1"
            ):
                route.continue_()
            else:
                route.abort()

        context.route("**/*", local_only)
        for doc in docs:
            if not (html / f"{doc}.html").exists():
                print(
                    f"[pdf] ページがないので飛ばします: {doc}.html",
                    file=sys.stderr,
                )
                continue
            page = context.new_page()
            page.goto(f"{url}/{doc}.html", wait_until="networkidle")
            page.add_style_tag(content=PRINT_CSS)
            page.evaluate("""() => {
                document.querySelectorAll('details').forEach(d => d.open = true);
                document.querySelectorAll('img[loading=lazy]')
                    .forEach(i => i.loading = 'eager');
            }""")
            page.evaluate("document.fonts.ready.then(() => true)")
            page.wait_for_function(
                "Array.from(document.images).every(i => i.complete)",
                timeout=30000,
            )
            title = (
                page.evaluate(
                    "(document.querySelector('article h1') || {}).innerText"
                    " || document.title"
                )
                .replace("#", "")
                .strip()
            )
            footer = FOOTER.format(title=title.replace("<", "&lt;"))
            data = page.pdf(
                format="A4",
                print_background=True,
                display_header_footer=True,
                header_template="<span></span>",
                footer_template=footer,
                prefer_css_page_size=True,
            )
            results.append((title, data))
            page.close()
            print(
                f"[pdf] {doc}: {len(PdfReader(io.BytesIO(data)).pages)} ページ"
            )
        context.close()
        browser.close()
    return results


def merge(parts: list[tuple[str, bytes]], out: Path) -> int:
    """章ごとの PDF を 1 つにし、章ごとのしおりを付ける。ページ数を返す。"""
    writer = PdfWriter()
    for title, data in parts:
        writer.append(PdfReader(io.BytesIO(data)), outline_item=title)
    writer.add_metadata(
        {
            "/Title": "深層学習 — ニューラルネットワークから CNN まで",
            "/Subject": f"dlbook {buildinfo.version()} ({buildinfo.commit()})",
        }
    )
    writer.page_mode = "/UseOutlines"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as f:
        writer.write(f)
    return len(writer.pages)


def build_pdf(html: Path, out: Path, root: Path = ROOT) -> int:
    start = time.perf_counter()
    parts = print_pages(html, toc_docs(root))
    if not parts:
        raise RuntimeError(f"印刷するページがありません: {html}")
    pages = merge(parts, out)
    print(
        f"[dlbook] PDF: {out} ({pages} ページ, {time.perf_counter() - start:.1f} 秒)"
    )
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="本全体を 1 つの PDF にする")
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="_toc.yml のある場所"
    )
    args = parser.parse_args(argv)
    out = args.out or args.html / "dlbook.pdf"
    if not (args.html / "index.html").exists():
        print(
            f"HTML がありません: {args.html} (先に make html)", file=sys.stderr
        )
        return 1
    build_pdf(args.html, out, args.root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
