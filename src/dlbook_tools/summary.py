"""ビルドの警告を 1 つの要約にまとめる (Sphinx 拡張 + 要約の書式)。

ビルド中の警告 (Sphinx・myst-nb・本書の検査) をすべて記録し、ビルドの
終わりに ``<出力先>/../dlbook-warnings.json`` へ書く。``run_jupyter_book``
(``make html``/``make preview``) はそれを読んで最後に要約を出し、
``make serve`` では拡張自身が要約を出す (``dlbook_print_summary``)。

要約の 1 行は ``ファイル:行: 何が起きたか — 直し方`` の形::

    book/ch04_nn_basics.md:36 (コードセル 2): セルの実行に失敗しました — ValueError: …
    book/ch04_nn_basics.md:24: glue のキー 'ch4-vall' がありません — …
    book/ch04_nn_basics.md:24: ラベル 'fig-ch4-missing' が定義されていません — …
"""

from __future__ import annotations

import difflib
import json
import logging
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

from dlbook_tools.build import ANSI, CellFailure, cell_failure_in_message

SUMMARY_FILE = "dlbook-warnings.json"
#: 要約に出さない警告 (他の警告と重複するもの)
IGNORED = (re.compile(r"^Notebook exception traceback saved in"),)
NOISE_LINE = re.compile(r"Kernel is running over TCP|report this")


@dataclass
class Problem:
    """要約の 1 行。"""

    path: str
    line: int | None
    what: str
    fix: str
    kind: str = "other"
    #: 場所の後に添える説明 (「(コードセル 3)」)
    note: str = ""

    def __str__(self) -> str:
        where = self.path + (f":{self.line}" if self.line else "")
        return f"{where}{self.note}: {self.what} — {self.fix}"


@dataclass
class Warning_:
    """記録した警告 1 つ (場所はソースのパスと行)。"""

    path: str
    line: int | None
    message: str
    type: str = ""
    subtype: str = ""


def _near(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    return f" (近い名前: {', '.join(close)})" if close else ""


def glue_keys(source: str) -> list[str]:
    """章のソースで ``glue("…"`` しているキー。"""
    return re.findall(r"""\bglue\(\s*f?["']([^"'{}]+)["']""", source)


def _line_of(text: str, source: str) -> int | None:
    """``text`` の最初の行がソースの何行目にあるか (1 始まり)。"""
    first = next((t.strip() for t in text.splitlines() if t.strip()), "")
    if not first:
        return None
    for number, line in enumerate(source.splitlines(), 1):
        if first in line:
            return number
    return None


def classify(
    warning: Warning_,
    root: Path,
    labels: list[str] | None = None,
    log: str = "",
) -> Problem | None:
    """警告 1 つを要約の 1 行にする。要約に要らない警告は None。"""
    msg = ANSI.sub("", warning.message).strip()
    if any(p.search(msg) for p in IGNORED):
        return None
    path, line = warning.path, warning.line
    full = root / path
    source = full.read_text(encoding="utf-8") if full.is_file() else ""
    see_log = f"完全なログ: {log}" if log else "ビルドのログを見る"
    first = msg.splitlines()[0] if msg else ""
    if first.startswith("Executing notebook failed"):
        failure = cell_failure_in_message(msg, full, root)
        if failure is not None:
            return cell_problem(failure, log)
        return Problem(path, line, first, see_log, "cell")
    m = re.match(r"No key '([^']+)' found in glue data", first)
    if m:
        key = m.group(1)
        if key in glue_keys(source):
            # 章は glue しているのに値がない: glue するセルが実行されなかった
            return Problem(
                path,
                line,
                f"glue のキー '{key}' の値がありません",
                "このキーを glue するセルが実行されていない"
                " (その前のセルの失敗を直す)",
                "glue-missing-value",
            )
        return Problem(
            path,
            line,
            f"glue のキー '{key}' がありません",
            f'セルで glue("{key}", 値, display=False) するか、'
            f"名前の綴りを直す{_near(key, glue_keys(source))}",
            "glue",
        )
    m = re.match(r"(?:undefined label|未定義のラベル): '?([^'\s]+)'?", first)
    if m:
        label = m.group(1)
        return Problem(
            path,
            line,
            f"ラベル '{label}' が定義されていません",
            f"図なら :name: {label}、節や式なら ({label})= で定義するか、"
            f"参照の綴りを直す{_near(label, labels or [])}",
            "label",
        )
    if warning.subtype == "katex" or first.startswith("KaTeX"):
        tex = first.split(":", 1)[-1].strip()
        return Problem(
            path,
            line or _line_of(tex, source),
            f"KaTeX が式を描画できません: {tex}",
            "式の構文を直すか、未定義のマクロを使わない"
            " (KaTeX の対応表: https://katex.org/docs/supported)",
            "katex",
        )
    if warning.subtype in ("figure-twice", "figure-alt"):
        what, _, fix = first.partition(" — ")
        return Problem(path, line, what, fix, "figure")
    return Problem(path, line, first, see_log, "other")


def cell_problem(failure: CellFailure, log: str = "") -> Problem:
    """失敗したセルの要約の行 (``章:行 (コードセル N): …``)。"""
    return Problem(
        failure.path,
        failure.line,
        f"セルの実行に失敗しました: {failure.error}",
        "計算を軽くするか、機械の負荷 (uptime) を確かめる"
        " (時間の上限は _config.yml の execute.timeout)"
        if failure.error.startswith("CellTimeoutError")
        else "セルを直す (トレースバック: " + (log or "ビルドのログ") + ")",
        "cell",
        f" (コードセル {failure.cell})" if failure.cell else "",
    )


def crash_problems(log_text: str, log: str = "") -> list[Problem]:
    """警告の記録もセルの失敗もないとき: ログの最後のエラー行を示す。"""
    lines = [ln.strip() for ln in ANSI.sub("", log_text).splitlines()]
    # Sphinx の例外なら、その原因 ("Exception occurred:" の後の最初のエラー行)
    if "Exception occurred:" in lines:
        lines = lines[lines.index("Exception occurred:") :]
        lines = lines[
            : next(
                (i for i, ln in enumerate(lines) if ln.startswith("The full")),
                len(lines),
            )
        ]
    errors = [
        ln
        for ln in lines
        if re.match(r"^([\w.]*(Error|Exception)\w*:|.*(ERROR|CRITICAL))", ln)
        and not NOISE_LINE.search(ln)
    ]
    what = errors[-1] if errors else (lines[-1] if lines else "不明な失敗")
    return [
        Problem(
            "(ビルド)",
            None,
            what,
            f"完全なログ {log} を見る" if log else "ビルドのログを見る",
        )
    ]


def summarize(
    warnings: list[Warning_],
    root: Path,
    labels: list[str] | None = None,
    log: str = "",
) -> list[Problem]:
    """警告の列を要約の行の列にする (重複は 1 つに、セルの失敗を先頭に)。"""
    problems: list[Problem] = []
    for warning in warnings:
        problem = classify(warning, root, labels, log)
        if problem is not None and problem not in problems:
            problems.append(problem)
    failed = {p.path for p in problems if p.kind == "cell"}
    kept: list[Problem] = []
    later: dict[str, list[Problem]] = {}
    for p in problems:
        # セルが失敗した章で、glue しているはずの値がないのはその結果
        # (後のセルが実行されていない)。1 行にまとめる
        if p.kind == "glue-missing-value" and p.path in failed:
            later.setdefault(p.path, []).append(p)
        else:
            kept.append(p)
    for path, missing in later.items():
        keys = ", ".join(p.what.split("'")[1] for p in missing[:5])
        more = " ほか" if len(missing) > 5 else ""
        kept.append(
            Problem(
                path,
                missing[0].line,
                f"glue の値が {len(missing)} 個ありません ({keys}{more})",
                "失敗したセルより後で glue される値。セルを直せば消える",
                "glue-missing-value",
            )
        )
    order = {"cell": 0}
    return sorted(kept, key=lambda p: order.get(p.kind, 1))


def format_summary(
    problems: list[Problem],
    log: str = "",
    title: str = "ビルド失敗 (build failed)",
) -> str:
    """見出し (既定は「ビルド失敗」) と要約の行。"""
    bar = "=" * 70
    lines = [bar, f"{title}: {len(problems)} 件"]
    lines += ["  " + str(p) for p in problems]
    if log:
        lines.append(f"完全なログ (full log): {log}")
    lines.append(bar)
    return "\n".join(lines)


def read_labels(outdir: Path) -> list[str]:
    """ビルドが記録したラベルの一覧 (近い名前の候補)。"""
    path = outdir / SUMMARY_FILE
    if not path.is_file():
        return []
    return list(json.loads(path.read_text()).get("labels", []))


def read_summary(outdir: Path) -> list[Warning_] | None:
    """ビルドが書いた警告の記録を読む (なければ None)。"""
    path = outdir / SUMMARY_FILE
    if not path.is_file():
        return None
    return [Warning_(**w) for w in json.loads(path.read_text())["warnings"]]


# ---------------------------------------------------------------- Sphinx


class _Collector(logging.Handler):
    """Sphinx のロガーに付けて、警告をすべて記録するハンドラ。"""

    def __init__(self, app: Sphinx) -> None:
        super().__init__(logging.WARNING)
        self.app = app
        self.warnings: list[Warning_] = []
        # Sphinx は読み書きの間の警告をためておき、後で全ハンドラへ流し直す
        # (pending_warnings)。同じ記録を 2 度数えない
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if any(r is record for r in self.records):
            return
        self.records.append(record)
        try:
            path, line = self._where(getattr(record, "location", None))
            self.warnings.append(
                Warning_(
                    path,
                    line,
                    record.getMessage(),
                    str(getattr(record, "type", "") or ""),
                    str(getattr(record, "subtype", "") or ""),
                )
            )
        except Exception:  # 記録の失敗でビルドを止めない
            self.handleError(record)

    def _where(self, location: Any) -> tuple[str, int | None]:
        env = getattr(self.app, "env", None)
        doc: str | None = None
        line: int | None = None
        if isinstance(location, nodes.Node):
            source, line = _node_source(location)
            return self._rel(source), line
        if isinstance(location, tuple):
            doc, line = location[0], location[1]
        elif isinstance(location, str):
            m = re.match(r"^(.*?)(?::(\d+))?$", location)
            assert m is not None
            doc = m.group(1)
            line = int(m.group(2)) if m.group(2) else None
        if doc and env is not None and doc in env.found_docs:
            return self._rel(str(env.doc2path(doc))), line
        return self._rel(doc or ""), line

    def _rel(self, source: str | None) -> str:
        if not source:
            return ""
        path = Path(source.split(":docstring of")[0])
        try:
            return str(path.resolve().relative_to(Path(self.app.srcdir)))
        except ValueError:
            return str(path)


def _node_source(node: nodes.Node) -> tuple[str | None, int | None]:
    """ノード (なければ祖先) のソースと行。"""
    current: Any = node
    while current is not None:
        source = current.get("source") if hasattr(current, "get") else None
        line = getattr(current, "line", None)
        if source or line:
            return source or current.source, line
        current = current.parent
    return None, None


def _labels(app: Sphinx) -> list[str]:
    std = app.env.domaindata.get("std", {}) if app.env else {}
    return sorted({*std.get("labels", {}), *std.get("anonlabels", {})})


def start_collecting(app: Sphinx) -> None:
    collector = _Collector(app)
    logging.getLogger("sphinx").addHandler(collector)
    app.dlbook_collector = collector  # type: ignore[attr-defined]


def write_summary(app: Sphinx, exception: Exception | None) -> None:
    """警告の記録を JSON に書き、``dlbook_print_summary`` なら要約も出す。"""
    collector: _Collector | None = getattr(app, "dlbook_collector", None)
    if collector is None:  # builder-inited の前に止まった
        return
    logging.getLogger("sphinx").removeHandler(collector)
    out = Path(app.outdir).parent
    out.mkdir(parents=True, exist_ok=True)
    labels = _labels(app) if app.env else []
    (out / SUMMARY_FILE).write_text(
        json.dumps(
            {
                "warnings": [asdict(w) for w in collector.warnings],
                "labels": labels,
            },
            ensure_ascii=False,
            indent=1,
        )
    )
    if app.config.dlbook_print_summary and collector.warnings:
        problems = summarize(collector.warnings, Path(app.srcdir), labels)
        text = format_summary(problems, title="警告の要約 (warnings)")
        print("\n" + text, file=sys.stderr, flush=True)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("dlbook_print_summary", False, "")
    app.connect("builder-inited", start_collecting)
    app.connect("build-finished", write_summary)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
