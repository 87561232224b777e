"""本のビルド (Makefile とテストが共有する唯一の入口)。

使い方::

    python -m dlbook_tools.build html      # 本 (HTML) をビルド
    python -m dlbook_tools.build slides    # スライドだけ
    python -m dlbook_tools.build pdf       # 本全体の PDF (HTML のビルドの後)
    python -m dlbook_tools.build all       # 本・スライド・PDF

ビルドは ``-W -n --keep-going`` で走り、警告 1 つでも失敗する。
失敗したときは、すべての警告 (失敗したセル、glue のキー、未定義のラベル、
KaTeX のエラー、二重の図) を ``ファイル:行: 何が — 直し方`` の形で最後に
要約する (``dlbook_tools.summary``)。画面にはライブラリの定型の警告を
出さず、完全なログは ``_build/logs/build.log`` (プレビューは章ごと) に残す。
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
JB_FLAGS = ["--warningiserror", "--nitpick", "--keep-going"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: 画面に出さない行 (完全なログには残る): カーネルの通信路の警告と、
#: Sphinx が例外のたびに出す「開発者に報告して」の定型文
NOISE = re.compile(
    r"Kernel is running over TCP without encryption"
    r"|Please also report this if it was a user error"
    r"|A bug report can be filed in the tracker"
)
CELL_TIMEOUT = re.compile(
    r"A cell timed out while it was being executed, after (?P<sec>\d+) "
    r"seconds\..*?Here is a preview of the cell contents:\n-+\n"
    r"(?P<src>.*?)\n-+(?:\n|\Z)",
    re.S,
)
CELL_ERROR = re.compile(
    r"An error occurred while executing the following cell:\n-+\n"
    r"(?P<src>.*?)\n-+\n(?P<tb>.*?)(?:The above exception|\Z)",
    re.S,
)


@dataclass
class CellFailure:
    """失敗したセルの場所。"""

    path: str
    cell: int | None
    line: int | None
    error: str

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
        cell = f" (コードセル {self.cell})" if self.cell is not None else ""
        return f"{where}{cell}: セルの実行に失敗しました — {self.error}"


def _code_cells(md: str) -> list[tuple[int, str]]:
    """MyST ノートブックのコードセルを (開始行, ソース) の列で返す。"""
    cells: list[tuple[int, str]] = []
    lines = md.splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^(`{3,})\{code-cell\}", lines[i])
        if m:
            fence, start, body = m.group(1), i + 1, []
            i += 1
            while i < len(lines) and not lines[i].startswith(fence):
                body.append(lines[i])
                i += 1
            src = "\n".join(ln for ln in body if not ln.startswith(":"))
            cells.append((start, src.strip()))
        i += 1
    return cells


def find_cell_failures(log: str, root: Path = ROOT) -> list[CellFailure]:
    """jupyter-book の出力から、失敗したセルの章・番号・行を割り出す。

    ``raise_on_error`` で Sphinx が例外で止まったときのログの形
    (``ExecutionError: <章>`` の後にセルとトレースバック) を読む。
    """
    log = ANSI.sub("", log)
    failures = []
    pattern = re.compile(r"ExecutionError: (?P<path>\S+\.(?:md|ipynb))\s")
    for m in pattern.finditer(log):
        failure = cell_failure_in_message(
            log[m.end() :], Path(m.group("path")), root
        )
        if failure is not None:
            failures.append(failure)
    return failures


def cell_failure_in_message(
    text: str, path: Path, root: Path = ROOT
) -> CellFailure | None:
    """``text`` の最初の「セルの実行に失敗」のトレースバックを読む。

    ``path`` は実行した章。セルのソースを章の中で探して番号と行を割り出す。
    """
    text = ANSI.sub("", text)
    m = CELL_ERROR.search(text)
    timeout = CELL_TIMEOUT.search(text)
    if m is not None:
        src = m.group("src").strip()
        tb_lines = [ln for ln in m.group("tb").splitlines() if ln.strip()]
        error = next(
            (
                ln.strip()
                for ln in reversed(tb_lines)
                if re.match(
                    r"^[\w.]*(Error|Exception|Interrupt)\w*:", ln.strip()
                )
            ),
            tb_lines[-1].strip() if tb_lines else "不明なエラー",
        )
    elif timeout is not None:
        src = timeout.group("src").strip()
        error = f"CellTimeoutError: {timeout.group('sec')} 秒を超えた"
        if src.startswith("["):  # 長いセルは先頭 5 行のリスト表記
            with contextlib.suppress(ValueError, SyntaxError):
                src = "\n".join(ast.literal_eval(src.splitlines()[0]))
    else:
        return None
    prefix = m is None  # タイムアウトの表示はセルの先頭だけのことがある
    cell = line = None
    if path.suffix == ".md" and path.exists():
        for k, (start, body) in enumerate(_code_cells(path.read_text()), 1):
            if body == src or (prefix and body.startswith(src)):
                cell, line = k, start
                break
    try:
        shown = str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        shown = str(path)
    return CellFailure(shown, cell, line, error)


def run_jupyter_book(
    root: Path = ROOT,
    extra: list[str] | None = None,
    log_path: Path | None = None,
    outdir: Path | None = None,
    ignore: Callable[[Any], bool] | None = None,
) -> int:
    """``jupyter-book build`` を走らせ、警告を要約して終了コードを返す。

    画面には定型の雑音 (``NOISE``) を除いた出力を流し、完全なログは
    ``log_path`` (既定 ``_build/logs/build.log``) に書く。失敗したら
    ``dlbook_tools.summary`` が記録した警告を ``ファイル:行: 何が — 直し方``
    の形で最後にまとめる。``outdir`` はビルドの ``_build`` (既定
    ``root/_build``)。``ignore`` が真を返す要約の行 (プレビューでは他の章を
    指す参照など) は失敗に数えない。
    """
    from dlbook_tools import summary  # summary は build を import する

    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(root), *JB_FLAGS, *(extra or [])]
    log_path = log_path or root / "_build" / "logs" / "build.log"
    outdir = outdir or root / "_build"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    stale = outdir / summary.SUMMARY_FILE
    stale.unlink(missing_ok=True)
    print("$", " ".join(cmd), flush=True)
    start = time.perf_counter()
    # 新しいセッションで起動し、終了後にプロセスグループごと片付ける。
    # KaTeX のプリレンダ用 node サーバは、ビルドが失敗すると残って出力の
    # パイプを開いたままにするため、EOF を待つと永久に終わらない。
    proc = subprocess.Popen(
        cmd,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    chunks: list[str] = []

    def pump(stream: IO[str], log: IO[str]) -> None:
        for line in stream:
            log.write(line)
            chunks.append(line)
            if not NOISE.search(line):
                sys.stdout.write(line)

    with log_path.open("w", encoding="utf-8") as log:
        reader = threading.Thread(
            target=pump, args=(proc.stdout, log), daemon=True
        )
        reader.start()
        code = proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        reader.join(timeout=10)
    sys.stdout.flush()
    elapsed = time.perf_counter() - start
    shown_log = _shown(log_path, root)
    if code != 0:
        warnings = summary.read_summary(outdir) or []
        labels = summary.read_labels(outdir)
        problems = summary.summarize(warnings, root, labels, shown_log)
        # Sphinx が例外で止まったとき (警告の記録がない) はログから読む
        cells = {(p.path, p.line) for p in problems if p.kind == "cell"}
        for failure in find_cell_failures("".join(chunks), root):
            if (failure.path, failure.line) not in cells:
                problems.insert(0, summary.cell_problem(failure, shown_log))
        ignored = [p for p in problems if ignore is not None and ignore(p)]
        problems = [p for p in problems if p not in ignored]
        if ignored and not problems:
            # プレビューでは解決できないもの (他の章への参照など) だけ
            print(
                f"[dlbook] プレビューの外を指す警告 {len(ignored)} 件は無視した"
                f" (本全体のビルドで確かめる。一覧: {shown_log})"
            )
            print(f"[dlbook] HTML のビルド完了: {elapsed:.1f} 秒")
            return 0
        if not problems:
            problems = summary.crash_problems("".join(chunks), shown_log)
        print(
            "\n" + summary.format_summary(problems, shown_log), file=sys.stderr
        )
        if ignored:
            print(
                f"(ほかにプレビューの外を指す警告 {len(ignored)} 件)",
                file=sys.stderr,
            )
    else:
        print(f"[dlbook] HTML のビルド完了: {elapsed:.1f} 秒")
    return code


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def slides_command(chapters: list[str] | None = None) -> list[str]:
    """スライド (全形式) を作るコマンド。``chapters`` があればその章だけ。"""
    which = ["--all"]
    if chapters:
        which = [arg for ch in chapters for arg in ("--chapter", ch)]
    return [sys.executable, "-m", "dlbook_tools.slides", *which]


PDF_COMMAND = [sys.executable, "-m", "dlbook_tools.pdf"]


def run_slides(chapters: list[str] | None = None) -> int:
    """スライド (全形式) を作る。``chapters`` があればその章だけ。"""
    cmd = slides_command(chapters)
    print("$", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT)


def run_pdf() -> int:
    """本全体の PDF (_build/html/dlbook.pdf) を作る。"""
    print("$", " ".join(PDF_COMMAND), flush=True)
    return subprocess.call(PDF_COMMAND, cwd=ROOT)


def run_slides_and_pdf(chapters: list[str] | None = None) -> int:
    """スライドと本の PDF を同時に作る (どちらも本の HTML を読むだけで、
    書く場所は別)。章の実行はほぼ 1 コアしか使わないので、HTML の後の
    この 2 つを並べると 2 コアを使い切れる。"""
    cmds = [slides_command(chapters), PDF_COMMAND]
    for cmd in cmds:
        print("$", " ".join(cmd), flush=True)
    procs = [subprocess.Popen(cmd, cwd=ROOT) for cmd in cmds]
    codes = [p.wait() for p in procs]
    return next((c for c in codes if c), 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("target", choices=["html", "slides", "pdf", "all"])
    parser.add_argument(
        "--chapter",
        action="append",
        help="slides: この章だけ (例: book/ch06_cnn.md、繰り返し可)",
    )
    args = parser.parse_args(argv)
    if args.target in ("html", "all"):
        code = run_jupyter_book()
        if code:
            return code
    if args.target == "all":
        return run_slides_and_pdf(args.chapter)
    if args.target == "slides":
        code = run_slides(args.chapter)
        if code:
            return code
    if args.target == "pdf":
        return run_pdf()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
