"""章の実行済みノートブックを配り、「Colab で開く」リンクを付ける。

ビルドが実行した章のノートブック (``_build/jupyter_execute/book/<章>.ipynb``) の先頭に、
**このコミットの** ``dlbook`` を入れるセルを足し、サイトの ``notebooks/<章>.ipynb``
に置く。章のページには、スライドへのリンクの隣に
「ノートブック (.ipynb をダウンロード / Colab で開く)」を置く。

Colab は GitHub 上のパスしか開けない
(``https://colab.research.google.com/github/<owner>/<repo>/blob/<ref>/<path>``)。
公開ワークフローが生成したノートブックを ``notebooks`` ブランチの
``<dlbook_colab_subdir>/`` (main の公開は ``main/``、リリースはタグ名) に置くので、
リンクはそこを指す。ノートブック自身のインストールセルがコミットを固定しているので、
来年開いても同じコードで動く。

設定 (``_config.yml`` の ``sphinx.config``、または環境変数):

- ``dlbook_notebooks_dir`` (既定 ``notebooks``): サイト内の置き場所
- ``dlbook_colab_branch`` (既定 ``notebooks``、環境変数 ``DLBOOK_COLAB_BRANCH``)
- ``dlbook_colab_subdir`` (既定 ``main``、環境変数 ``DLBOOK_COLAB_SUBDIR``)

ビルドの外でも作れる: ``python -m dlbook_tools.notebooks [--out DIR]``。
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import posixpath
import re
from pathlib import Path
from typing import Any

import nbformat
from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

from dlbook_tools import buildinfo, license
from dlbook_tools.doctree import insert_after_title

logger = logging.getLogger(__name__)

ROOT = buildinfo.ROOT
COLAB = "https://colab.research.google.com/github"
INSTALL_TAG = "dlbook-install"


def install_requirements(root: Path = ROOT) -> list[str]:
    """インストールセルが入れるもの: このコミットの dlbook と、glue に要る myst-nb。"""
    try:
        mystnb = f"myst-nb=={importlib.metadata.version('myst-nb')}"
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        mystnb = "myst-nb"
    return [buildinfo.install_spec(root), mystnb]


def install_cell_source(root: Path = ROOT) -> str:
    reqs = " ".join(f'"{r}"' for r in install_requirements(root))
    return (
        "# この本のパッケージ dlbook を、本をビルドしたコミットに固定して入れる\n"
        f"%pip install -q {reqs}"
    )


def add_install_cell(
    nb: nbformat.NotebookNode, page_url: str | None = None, root: Path = ROOT
) -> nbformat.NotebookNode:
    """ノートブックの先頭に説明とインストールセルを足す (元の ``nb`` は変えない)。"""
    nb = nbformat.from_dict(nb)
    nb.cells = [
        c
        for c in nb.cells
        if INSTALL_TAG not in c.get("metadata", {}).get("tags", [])
    ]
    sha = buildinfo.commit(root)
    where = f"[本のページ]({page_url})" if page_url else "本のページ"
    intro = nbformat.v4.new_markdown_cell(
        "このノートブックは、本書のビルドが実行した章をそのまま書き出したものである"
        f" ({where})。\n"
        f"最初のセルが、本をビルドしたコミット `{sha[:12]}` の `dlbook` を入れる。"
        " Colab では上から順に実行すればよい。\n\n"
        f"{license.notice_markdown(buildinfo.repo_url(root))}\n\n"
        "This notebook is the chapter as executed by the book build. The first cell "
        f"installs `dlbook` pinned to commit `{sha}`.",
        metadata={"tags": [INSTALL_TAG]},
    )
    code = nbformat.v4.new_code_cell(
        install_cell_source(root), metadata={"tags": [INSTALL_TAG]}
    )
    nb.cells = [intro, code, *nb.cells]
    nb.metadata.setdefault(
        "kernelspec",
        {"name": "python3", "display_name": "Python 3", "language": "python"},
    )
    nb.metadata["dlbook"] = {"commit": sha, "version": buildinfo.version(root)}
    return nb


GLUE_ONLY = "application/papermill.record/"


def has_outputs(nb: nbformat.NotebookNode) -> bool:
    """コードセルのどれかに出力があるか。"""
    return any(c.get("outputs") for c in nb.cells if c.cell_type == "code")


def merge_cached_outputs(nb: nbformat.NotebookNode, cache: Path | None) -> Any:
    """出力のないノートブックに、jupyter-cache の実行結果を合わせる。

    myst-nb は、キャッシュを使った回には出力のないノートブックを
    ``jupyter_execute`` に書く。そのときはキャッシュから出力を取る。
    キャッシュに一致するものがなければ、警告してそのまま返す。
    """
    if not has_outputs(nb) and cache is not None and cache.exists():
        from jupyter_cache import get_cache

        try:
            _, nb = get_cache(cache).merge_match_into_notebook(nb)
        except KeyError:
            logger.warning(
                "実行キャッシュに一致するノートブックがありません",
                type="dlbook",
                subtype="notebooks",
            )
    return nb


def with_cached_outputs(nb: nbformat.NotebookNode, cache: Path | None) -> Any:
    """``merge_cached_outputs`` の後、読者に見えない出力を取り除く。

    ``glue(..., display=False)`` だけの出力 (Jupyter では見えない) を消す。
    """
    nb = merge_cached_outputs(nb, cache)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                o
                for o in cell.get("outputs", [])
                if not (
                    o.get("data")
                    and all(k.startswith(GLUE_ONLY) for k in o.data)
                )
            ]
    return nb


def colab_url(slug: str, branch: str, subdir: str, stem: str) -> str:
    path = posixpath.join(
        *(p for p in (subdir.strip("/"), f"{stem}.ipynb") if p)
    )
    return f"{COLAB}/{slug}/blob/{branch}/{path}"


def write_notebooks(
    executed: Path,
    out: Path,
    stems: list[str],
    page_urls: dict[str, str] | None = None,
    root: Path = ROOT,
    cache: Path | None = None,
) -> list[Path]:
    """``executed/<stem>.ipynb`` にインストールセルを足して ``out/`` に書く。"""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for stem in stems:
        src = executed / f"{stem}.ipynb"
        if not src.exists():
            raise FileNotFoundError(
                f"実行済みのノートブックがありません: {src}"
            )
        nb = with_cached_outputs(nbformat.read(src, as_version=4), cache)
        nb = add_install_cell(nb, (page_urls or {}).get(stem), root)
        dest = out / f"{stem}.ipynb"
        nbformat.write(nb, dest)
        written.append(dest)
    return written


# ---------------------------------------------------------------- Sphinx


def _is_chapter(app: Sphinx, docname: str) -> bool:
    return bool(re.search(app.config.dlbook_notebooks_pattern, docname))


def notebook_links(app: Sphinx, docname: str) -> nodes.paragraph:
    page = app.builder.get_target_uri(docname)
    base = posixpath.dirname(page) or "."
    stem = posixpath.basename(docname)
    download = posixpath.relpath(
        f"{app.config.dlbook_notebooks_dir}/{stem}.ipynb", base
    )
    colab = colab_url(
        buildinfo.repo_slug(Path(app.srcdir)),
        app.config.dlbook_colab_branch,
        app.config.dlbook_colab_subdir,
        stem,
    )
    para = nodes.paragraph(classes=["dlbook-notebook"])
    para += nodes.Text("ノートブック (")
    ref = nodes.reference(
        "", "", refuri=download, internal=False, classes=["dlbook-download"]
    )
    ref["download"] = f"{stem}.ipynb"
    ref += nodes.Text(".ipynb をダウンロード")
    para += ref
    para += nodes.Text(" / ")
    para += nodes.reference(
        "Colab で開く",
        "Colab で開く",
        refuri=colab,
        internal=False,
        classes=["dlbook-colab"],
    )
    para += nodes.Text(")")
    return para


def add_notebook_links(
    app: Sphinx, doctree: nodes.document, docname: str
) -> None:
    """スライドのリンク (``dlbook-slides``) の直後、なければ章の見出しの直後に置く。"""
    if app.builder.format != "html" or not _is_chapter(app, docname):
        return
    insert_after_title(
        doctree, notebook_links(app, docname), after_classes=("dlbook-slides",)
    )


def write_site_notebooks(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    executed = Path(app.outdir).parent / "jupyter_execute"
    docs = sorted(d for d in app.env.found_docs if _is_chapter(app, d))
    out = Path(app.outdir) / app.config.dlbook_notebooks_dir
    base = app.config.html_baseurl or ""
    cache = Path(app.config.nb_execution_cache_path or "_build/.jupyter_cache")
    if not cache.is_absolute():
        cache = Path(app.srcdir) / cache
    for docname in docs:
        stem = posixpath.basename(docname)
        page = app.builder.get_target_uri(docname)
        url = posixpath.join(base, page) if base else None
        src = executed / f"{docname}.ipynb"
        if not src.exists():
            logger.warning(
                "実行済みのノートブックがありません: %s",
                src,
                type="dlbook",
                subtype="notebooks",
            )
            continue
        write_notebooks(
            src.parent,
            out,
            [stem],
            {stem: url} if url else None,
            Path(app.srcdir),
            cache,
        )
    logger.info(
        "[dlbook] ノートブック %d 冊を %s に書きました", len(docs), out
    )


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value(
        "dlbook_notebooks_pattern", r"(^|/)ch\d+_[^/]+$", "html"
    )
    app.add_config_value("dlbook_notebooks_dir", "notebooks", "html")
    app.add_config_value(
        "dlbook_colab_branch",
        os.environ.get("DLBOOK_COLAB_BRANCH", "notebooks"),
        "html",
    )
    app.add_config_value(
        "dlbook_colab_subdir",
        os.environ.get("DLBOOK_COLAB_SUBDIR", "main"),
        "html",
    )
    # スライドのリンク (slides_sphinx, 既定の優先度 500) より後に走る
    app.connect("doctree-resolved", add_notebook_links, priority=600)
    app.connect("build-finished", write_site_notebooks)
    return {
        "version": "0.1",
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }


# ---------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--executed",
        type=Path,
        default=ROOT / "_build" / "jupyter_execute" / "book",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "_build" / "html" / "notebooks"
    )
    args = parser.parse_args(argv)
    stems = sorted(p.stem for p in args.executed.glob("ch*_*.ipynb"))
    cache = ROOT / "_build" / ".jupyter_cache"
    for path in write_notebooks(args.executed, args.out, stems, cache=cache):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
