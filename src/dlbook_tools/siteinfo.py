"""サイトに、どのビルドから作られたかを示す (Sphinx 拡張)。

- すべてのページのフッターに、版・コミット・ビルド状況のページ・PDF 版へのリンク
  (sphinx-book-theme の ``extra_footer`` をページごとの相対リンクで埋める)。
- 表紙 (root の文書) の見出しの直後に、本全体の PDF へのリンク。
- ビルド状況のページ (``dlbook_status_doc``) は、ほかの文書かコミット・版・
  プロファイルが変わったビルドで読み直す (ページ自身は ``mystnb: execution_mode:
  force`` で、読み直すたびに実行される)。

値はすべて :mod:`dlbook_tools.buildinfo` から取る。
"""

from __future__ import annotations

import html
import os
import posixpath
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

from dlbook_tools import buildinfo, license
from dlbook_tools.doctree import insert_after_title

PDF_NAME = "dlbook.pdf"


def _rel(app: Sphinx, pagename: str, target: str) -> str:
    base = posixpath.dirname(app.builder.get_target_uri(pagename)) or "."
    return posixpath.relpath(target, base)


def footer_html(app: Sphinx, pagename: str) -> str:
    root = Path(app.srcdir)
    sha = buildinfo.commit(root)
    version = html.escape(buildinfo.version(root))
    repo = buildinfo.repo_url(root)
    parts = [f'版 <span class="dlbook-version">{version}</span>']
    if sha != "unknown":
        parts.append(
            f'コミット <a class="dlbook-commit" href="{repo}/commit/{sha}">'
            f"<code>{sha[:12]}</code></a>"
        )
    status = app.config.dlbook_status_doc
    if status in app.env.found_docs:
        uri = _rel(app, pagename, app.builder.get_target_uri(status))
        parts.append(f'<a href="{uri}">ビルド状況</a>')
    parts.append(f'<a href="{_rel(app, pagename, PDF_NAME)}">PDF 版</a>')
    info = '<p class="dlbook-buildinfo">' + " ・ ".join(parts) + "</p>"
    return info + license.notice_html(repo)


def set_footer(
    app: Sphinx,
    pagename: str,
    templatename: str,
    context: dict[str, Any],
    doctree: nodes.Node | None,
) -> None:
    context["theme_extra_footer"] = footer_html(app, pagename)
    context["dlbook_version"] = buildinfo.version(Path(app.srcdir))
    context["dlbook_commit"] = buildinfo.commit(Path(app.srcdir))


def add_pdf_link(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """表紙の見出しの直後に「本全体の PDF」を置く。"""
    if app.builder.format != "html" or docname != app.config.root_doc:
        return
    para = nodes.paragraph(classes=["dlbook-pdf"])
    para += nodes.Text("本全体を 1 つの PDF で読む・印刷する: ")
    uri = _rel(app, docname, PDF_NAME)
    para += nodes.reference(PDF_NAME, PDF_NAME, refuri=uri, internal=False)
    insert_after_title(doctree, para)
    add_citation(doctree)


def add_citation(doctree: nodes.document) -> None:
    """表紙の最後 (最初の節の中) に、CITATION.cff から作った BibTeX を置く。"""
    parent = next(iter(doctree.findall(nodes.section)), doctree)
    parent += nodes.rubric("", "この本を引用する")
    parent += nodes.paragraph(
        "", "CITATION.cff (GitHub の Cite this repository) と同じ内容である。"
    )
    parent += nodes.literal_block(
        "", license.bibtex(), language="bibtex", classes=["dlbook-bibtex"]
    )


#: ``{nb-exec-table}`` (myst-nb) の英語の見出しと絵文字を日本語の文字にする
#: (絵文字のフォントがない PDF でも読めるように)
EXEC_TABLE_TEXT = {
    "Document": "文書",
    "Modified": "更新日時",
    "Method": "実行方法",
    "Run Time (s)": "実行時間 (秒)",
    "Status": "成否",
    "✅": "成功",
    "❌": "失敗",
}


def localize_exec_table(
    app: Sphinx, doctree: nodes.document, docname: str
) -> None:
    if docname != app.config.dlbook_status_doc:
        return
    for table in doctree.findall(nodes.table):
        for text in list(table.findall(nodes.Text)):
            if str(text) in EXEC_TABLE_TEXT:
                text.parent.replace(
                    text, nodes.Text(EXEC_TABLE_TEXT[str(text)])
                )


def always_reread_status(
    app: Sphinx,
    env: BuildEnvironment,
    added: set[str],
    changed: set[str],
    removed: set[str],
) -> list[str]:
    """ほかの文書が変わったか、コミット・版・プロファイルが変わったときだけ
    ビルド状況のページを読み直す (そのページは毎回実行される)。

    何も変わっていない再ビルドで読み直すと、番号の付け直しで章のページまで
    書き直しになり、変更なしの再ビルドが 6 秒から 30 秒になる。
    """
    status = app.config.dlbook_status_doc
    key = (
        buildinfo.commit(),
        buildinfo.version(),
        os.environ.get("DLBOOK_PROFILE", ""),
    )
    same_build = getattr(env, "dlbook_status_key", None) == key
    env.dlbook_status_key = key  # type: ignore[attr-defined]
    # フッターの版とコミットはどのページにもあるので、変わったら全部書き直す
    env.dlbook_rewrite_all = not same_build  # type: ignore[attr-defined]
    others = (added | changed | removed) - {status}
    if status not in env.found_docs or status in added:
        return []
    return [status] if others or not same_build else []


def rewrite_all_on_new_build(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """コミット・版・プロファイルが変わったビルドでは、すべてのページを書き直す
    (読み直しはしない)。変わらなければ、変わった文書だけが書き直される。"""
    if getattr(env, "dlbook_rewrite_all", False):
        env.dlbook_rewrite_all = False  # type: ignore[attr-defined]
        return sorted(env.found_docs)
    return []


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("dlbook_status_doc", "book/build_status", "env")
    app.connect("env-get-outdated", always_reread_status)
    app.connect("env-get-updated", rewrite_all_on_new_build)
    app.connect("doctree-resolved", add_pdf_link)
    app.connect("doctree-resolved", localize_exec_table)
    app.connect("html-page-context", set_footer)
    return {
        "version": "0.1",
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
