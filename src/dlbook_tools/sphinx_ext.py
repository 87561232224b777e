"""本書のビルドを支える Sphinx 拡張 (読者向けパッケージ ``dlbook`` とは別物)。

- 章番号を講義に合わせて 4, 5, 6 から始める (節・図・表・式の番号も追従)。
- ``src/dlbook`` が変わったら実行キャッシュを捨て、全章を再実行させる
  (jupyter-cache はノートブックの中身しか見ないため)。
- KaTeX のエラー (``katex-error``) を警告にして ``-W`` でビルドを止める。
- KaTeX の CSS とフォントをローカルから配信する (CDN を使わない)。
"""

from __future__ import annotations

import ast
import filecmp
import hashlib
import html
import re
import shutil
import time
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.directives.code import LiteralInclude
from sphinx.environment import BuildEnvironment
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

logger = logging.getLogger(__name__)

HASH_FILE = "dlbook_src.sha256"


# ---------------------------------------------------------------- 章番号


def _shift(number: tuple[int, ...] | list[int] | None, offset: int) -> Any:
    if not number:
        return number
    shifted = (number[0] + offset, *number[1:])
    return list(shifted) if isinstance(number, list) else shifted


def _shift_stored_numbers(env: BuildEnvironment, delta: int) -> None:
    """保存された節と図の番号の先頭 (章) に ``delta`` を足す。"""
    for docname, secnums in env.toc_secnumbers.items():
        env.toc_secnumbers[docname] = {
            anchor: _shift(num, delta) for anchor, num in secnums.items()
        }
    for docname, figtypes in env.toc_fignumbers.items():
        env.toc_fignumbers[docname] = {
            figtype: {fid: _shift(num, delta) for fid, num in ids.items()}
            for figtype, ids in figtypes.items()
        }


def offset_numbers(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """TocTreeCollector が振った番号の先頭 (章) に ``dlbook_chapter_offset`` を足す。"""
    offset = app.config.dlbook_chapter_offset
    if not offset:
        return []
    _shift_stored_numbers(env, offset)
    # サイドバーと前後リンクに出る番号 (toc のノードと各ページのタイトル)
    for toc in env.tocs.values():
        for ref in toc.findall(nodes.reference):
            if ref.get("secnumber"):
                ref["secnumber"] = _shift(ref["secnumber"], offset)
    for title in env.titles.values():
        if title.get("secnumber"):
            title["secnumber"] = _shift(title["secnumber"], offset)
    env.dlbook_numbers_shifted = True  # type: ignore[attr-defined]
    # 番号が本当に変わった章は TocTreeCollector が返す (unshift_numbers を参照)
    return []


def unshift_numbers(app: Sphinx, env: BuildEnvironment) -> list[str]:
    """前のビルドで足した章の番号の offset を、TocTreeCollector より先に戻す。

    TocTreeCollector は番号を振り直し、保存された番号と違う文書を「書き出し直す」
    ものとして返す。保存された番号に offset が足されたままだと、何も変わって
    いなくても番号の付いた章がすべて書き出し直しになる (変更なしの再ビルドが
    6 秒から 30 秒になる)。
    """
    offset = app.config.dlbook_chapter_offset
    if not offset or not getattr(env, "dlbook_numbers_shifted", False):
        return []
    _shift_stored_numbers(env, -offset)
    env.dlbook_numbers_shifted = False  # type: ignore[attr-defined]
    return []


# ---------------------------------------------------------------- 実行キャッシュ


def _src_hash(src: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(src.rglob("*.py")):
        digest.update(str(path.relative_to(src)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _cache_dir(app: Sphinx) -> Path:
    path = Path(app.config.nb_execution_cache_path or "")
    if not path.is_absolute():
        path = Path(app.srcdir) / path
    return path


def check_src_changed(
    app: Sphinx,
    env: BuildEnvironment,
    added: set[str],
    changed: set[str],
    removed: set[str],
) -> list[str]:
    """``src/dlbook`` のハッシュが前回と違えば、キャッシュを捨てて全章を読み直す。"""
    src = Path(app.srcdir) / app.config.dlbook_src_dir
    if not src.is_dir():
        return []
    current = _src_hash(src)
    cache = _cache_dir(app)
    stamp = cache.parent / HASH_FILE
    previous = stamp.read_text().strip() if stamp.exists() else None
    if previous == current:
        return []
    if cache.exists():
        logger.info(
            "[dlbook] src/ が変わったので実行キャッシュを破棄します: %s", cache
        )
        shutil.rmtree(cache)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(current + "\n")
    if previous is None:
        return []  # 初回ビルド: すべて新規なので何もしない
    return sorted(d for d in env.found_docs if d not in added)


# ---------------------------------------------------------------- KaTeX


KATEX_ERROR_MARKERS = ("katex-error", 'mathcolor="#cc0000"')


def check_katex_errors(
    app: Sphinx,
    pagename: str,
    templatename: str,
    context: dict[str, Any],
    doctree: nodes.Node | None,
) -> None:
    """KaTeX が描画できなかった式 (構文エラー・未定義マクロ) を警告にする。

    ``throwOnError: false`` の KaTeX は、構文エラーを ``katex-error`` で、
    未定義のマクロを赤字 (``#cc0000``) で出す。どちらも ``-W`` でビルドを止める。
    """
    body = context.get("body", "")
    if not any(marker in body for marker in KATEX_ERROR_MARKERS):
        return
    for chunk in body.split('<span class="katex')[1:]:
        if any(marker in chunk for marker in KATEX_ERROR_MARKERS):
            found = re.search(
                r'application/x-tex">(.*?)</annotation>', chunk, re.S
            ) or re.search(r'title="([^"]*)"', chunk)
            shown = found.group(1).strip() if found else chunk[:120]
            logger.warning(
                "KaTeX が式を描画できません: %s",
                html.unescape(shown),
                location=pagename,
                type="dlbook",
                subtype="katex",
            )


def drop_thebe_assets(
    app: Sphinx,
    pagename: str,
    templatename: str,
    context: dict[str, Any],
    doctree: nodes.Node | None,
) -> None:
    """Jupyter Book が必ず入れる sphinx-thebe のスクリプトを外す。

    本書はブラウザ内でのセル実行 (thebe) を使わない。sphinx-thebe は
    unpkg (CDN) の URL を定数として書き込み、しかも同じ定義を 2 度入れて
    コンソールエラー (THEBE_JS_URL の再宣言) を起こす。
    """

    def is_thebe(asset: Any) -> bool:
        body = str(getattr(asset, "attributes", {}).get("body", ""))
        return "thebe" in str(asset) or "THEBE_JS_URL" in body

    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [a for a in context[key] if not is_thebe(a)]


def start_katex_server(app: Sphinx, attempts: int = 5) -> None:
    """KaTeX のプリレンダ用 node サーバを、接続できるまで数回試して起動する。

    sphinxcontrib-katex は unix ソケットのファイルができた直後に接続するので、
    node がまだ listen していないと ConnectionRefusedError でビルド全体が
    落ちる (負荷の高い機械で 15 回に 3 回ほど)。ここで先に起動しておけば、
    拡張は起動済みのサーバ (``KaTeXServer.katex_server``) を使う。
    失敗した試みの node は、ビルドの終わりにプロセスグループごと片付く。
    """
    from sphinxcontrib import katex

    if not app.config.katex_prerender or app.builder.format != "html":
        return
    for attempt in range(attempts):
        if katex.KaTeXServer.katex_server is not None:
            return
        try:
            katex.KaTeXServer.katex_server = katex.KaTeXServer.start()
        except ConnectionRefusedError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def copy_if_changed(src: Path, dst: Path) -> bool:
    """中身が違うときだけ ``src`` を ``dst`` に写し、写したかを返す。

    ビルドのたびに同じファイルを書き直すと、``make serve`` の監視が
    それを「変更」と見て、次の再ビルドを始めてしまう。
    """
    if dst.exists() and filecmp.cmp(src, dst, shallow=False):
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)
    return True


def add_katex_assets(app: Sphinx) -> None:
    """npm の katex パッケージから CSS とフォントを _static に取り込む。"""
    if app.builder.format != "html":
        return
    dist = Path(app.srcdir) / "node_modules" / "katex" / "dist"
    if not (dist / "katex.min.css").exists():
        raise RuntimeError(
            f"KaTeX の CSS が見つかりません: {dist}/katex.min.css\n"
            "  `make setup` (npm ci) を実行してください。"
        )
    root = Path(app.outdir).parent / ".dlbook_static"
    static = root / "katex"
    copy_if_changed(dist / "katex.min.css", static / "katex.min.css")
    for font in (dist / "fonts").glob("*.woff2"):
        copy_if_changed(font, static / "fonts" / font.name)
    copy_if_changed(
        Path(__file__).with_name("static") / "dlbook.css", root / "dlbook.css"
    )
    if str(root) not in app.config.html_static_path:
        app.config.html_static_path.append(str(root))
    app.add_css_file("dlbook.css")


# ---------------------------------------------------------------- 日本語の改行


CJK = "\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef"
#: 全角の句読点・括弧。この後の改行は、次が英数字でも空白にしない (「、 2 位」を防ぐ)
CJK_PUNCT = (
    "\u3001-\u3003\u3008-\u3011\u3014-\u301f\u30fb"
    "\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
)
CJK_BREAK = re.compile(
    rf"(?<=[{CJK}])[ \t]*\n[ \t]*(?=[{CJK}])"
    rf"|(?<=[{CJK_PUNCT}])[ \t]*\n[ \t]*"
)
SKIP_TEXT = (
    nodes.literal,
    nodes.literal_block,
    nodes.math,
    nodes.math_block,
    nodes.raw,
    nodes.comment,
)


class JoinJapaneseLines(SphinxTransform):
    """原稿の改行を、日本語の文字どうしの間では空白にせず詰める。

    HTML は段落内の改行を空白として表示するので、
    「足し合わせ、\nその」が「足し合わせ、 その」になってしまう。
    全角の句読点・括弧の後の改行も、次が英数字でも詰める。それ以外の
    英字の前後の改行は空白のまま残す (「PyTorch の」のように書くため)。
    """

    default_priority = 400

    def apply(self, **kwargs: Any) -> None:
        for text in list(self.document.findall(nodes.Text)):
            parent = text.parent
            if (
                parent is None
                or "\n" not in text
                or any(isinstance(a, SKIP_TEXT) for a in _ancestors(parent))
            ):
                continue
            # MyST は改行 (softbreak) を独立した Text にするので、前後の兄弟も見る
            # Text は str なので parent.index() は等しい別のノードを返しうる
            index = next(i for i, c in enumerate(parent.children) if c is text)
            before = parent[index - 1].astext()[-1:] if index > 0 else ""
            after_node = parent[index + 1] if index + 1 < len(parent) else None
            after = after_node.astext()[:1] if after_node is not None else ""
            context = f"{before or ' '}{text}{after or ' '}"
            joined = CJK_BREAK.sub("", context)[1:-1]
            if joined != str(text):
                parent.children[index] = nodes.Text(joined)
                parent.children[index].parent = parent


def _ancestors(node: nodes.Node) -> list[nodes.Node]:
    chain = []
    while node is not None:
        chain.append(node)
        node = node.parent
    return chain


# ---------------------------------------------------------------- literalinclude


def docstring_free_lines(source: str, pyobject: str) -> str:
    """``pyobject`` の中で docstring を除いた行範囲 (``:lines:`` の書式) を返す。

    行番号は ``:pyobject:`` で切り出した範囲の中での 1 始まりの番号。
    """
    tree = ast.parse(source)
    node: ast.AST = tree
    for name in pyobject.split("."):
        body = getattr(node, "body", [])
        found = [
            n
            for n in body
            if isinstance(
                n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            )
            and n.name == name
        ]
        if not found:
            raise ValueError(f"{pyobject} が見つかりません")
        node = found[0]
    assert isinstance(
        node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    )
    assert node.end_lineno is not None
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    doc = node.body[0]
    is_doc = (
        isinstance(doc, ast.Expr)
        and isinstance(doc.value, ast.Constant)
        and isinstance(doc.value.value, str)
    )
    if not is_doc or len(node.body) < 2:
        return f"1-{node.end_lineno - first + 1}"
    assert doc.end_lineno is not None
    head_end = doc.lineno - first  # docstring の前の行 (def と引数)
    rest = node.body[1].lineno - first + 1
    # 本体の最初の文に付いたコメント行も残す
    lines = source.splitlines()
    while (
        rest - 1 > doc.end_lineno - first + 1
        and lines[first + rest - 3].strip()
    ):
        rest -= 1
    return f"1-{head_end},{rest}-"


class DlbookLiteralInclude(LiteralInclude):
    """``literalinclude`` に ``:no-docstring:`` を足したもの。

    本文ですでに説明した docstring を省き、実装だけを見せる。行番号を手で
    書く ``:lines:`` と違い、ソースが変わってもずれない。
    """

    option_spec: ClassVar[dict[str, Any]] = {
        **LiteralInclude.option_spec,
        "no-docstring": directives.flag,
    }

    def run(self) -> list[nodes.Node]:
        if "no-docstring" in self.options:
            if "pyobject" not in self.options or "lines" in self.options:
                raise self.error(
                    ":no-docstring: には :pyobject: が要り、:lines: とは併用できません"
                )
            _, path = self.env.relfn2path(self.arguments[0])
            source = Path(path).read_text(encoding="utf-8")
            try:
                self.options["lines"] = docstring_free_lines(
                    source, self.options["pyobject"]
                )
            except ValueError as exc:
                raise self.error(str(exc)) from exc
            del self.options["no-docstring"]
        return super().run()


def setup(app: Sphinx) -> dict[str, Any]:
    # 警告の要約 (ファイル:行: 何が — 直し方) と二重の図の検査
    app.setup_extension("dlbook_tools.summary")
    app.setup_extension("dlbook_tools.figcheck")
    app.add_config_value("dlbook_chapter_offset", 3, "env")
    app.add_config_value("dlbook_src_dir", "src/dlbook", "env")
    app.add_transform(JoinJapaneseLines)
    app.add_directive("literalinclude", DlbookLiteralInclude, override=True)
    app.connect("env-get-outdated", check_src_changed)
    app.connect("env-get-updated", unshift_numbers, priority=100)
    app.connect("env-get-updated", offset_numbers, priority=900)
    app.connect("html-page-context", check_katex_errors)
    app.connect("html-page-context", drop_thebe_assets)
    app.connect("builder-inited", add_katex_assets)
    # sphinxcontrib-katex が builder-inited で node のパスを決めた後に起動する
    app.connect("builder-inited", start_katex_server, priority=900)
    return {
        "version": "0.1",
        # 読み込み時の変換 (改行の詰め方など) を直したら、保存した doctree を
        # 捨てて全章を読み直させる (実行キャッシュは src/dlbook だけが決める)
        "env_version": tools_env_version(),
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }


def tools_env_version(tools: Path = Path(__file__).parent) -> int:
    """``dlbook_tools`` のソースのハッシュから作る Sphinx の環境の版番号。"""
    return int(_src_hash(tools)[:12], 16)
