"""本のビルド (Makefile とテストが共有する唯一の入口)。

使い方::

    python -m dlbook_tools.build html      # 本 (HTML) をビルド
    python -m dlbook_tools.build slides    # スライドだけ
    python -m dlbook_tools.build pdf       # 本全体の PDF (HTML のビルドの後)
    python -m dlbook_tools.build all       # 本・スライド・PDF

ビルドは ``-W -n --keep-going`` で走り、警告 1 つでも失敗する。
セルの実行に失敗したときは、どの章のどのセル (何行目) かを最後に要約する。
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
JB_FLAGS = ["--warningiserror", "--nitpick", "--keep-going"]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


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
    """jupyter-book の出力から、失敗したセルの章・番号・行を割り出す。"""
    log = ANSI.sub("", log)
    failures = []
    pattern = re.compile(
        r"ExecutionError: (?P<path>\S+\.(?:md|ipynb))\s.*?"
        r"An error occurred while executing the following cell:\n-+\n"
        r"(?P<src>.*?)\n-+\n(?P<tb>.*?)(?:The above exception|\Z)",
        re.S,
    )
    for m in pattern.finditer(log):
        path = Path(m.group("path"))
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
        cell = line = None
        if path.suffix == ".md" and path.exists():
            for k, (start, body) in enumerate(
                _code_cells(path.read_text()), 1
            ):
                if body == src:
                    cell, line = k, start
                    break
        try:
            shown = str(path.resolve().relative_to(root))
        except ValueError:
            shown = str(path)
        failures.append(CellFailure(shown, cell, line, error))
    return failures


def run_jupyter_book(root: Path = ROOT, extra: list[str] | None = None) -> int:
    """``jupyter-book build`` を走らせ、失敗したセルを要約して終了コードを返す。"""
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", str(root), *JB_FLAGS, *(extra or [])]
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

    def pump(stream: IO[str]) -> None:
        for line in stream:
            sys.stdout.write(line)
            chunks.append(line)

    reader = threading.Thread(target=pump, args=(proc.stdout,), daemon=True)
    reader.start()
    code = proc.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    reader.join(timeout=10)
    sys.stdout.flush()
    elapsed = time.perf_counter() - start
    if code != 0:
        print("\n" + "=" * 70, file=sys.stderr)
        print("ビルド失敗 (build failed)", file=sys.stderr)
        for failure in find_cell_failures("".join(chunks), root):
            print("  " + str(failure), file=sys.stderr)
        print("=" * 70, file=sys.stderr)
    else:
        print(f"[dlbook] HTML のビルド完了: {elapsed:.1f} 秒")
    return code


def run_slides(chapters: list[str] | None = None) -> int:
    """スライド (全形式) を作る。``chapters`` があればその章だけ。"""
    which = ["--all"]
    if chapters:
        which = [arg for ch in chapters for arg in ("--chapter", ch)]
    cmd = [sys.executable, "-m", "dlbook_tools.slides", *which]
    print("$", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT)


def run_pdf() -> int:
    """本全体の PDF (_build/html/dlbook.pdf) を作る。"""
    cmd = [sys.executable, "-m", "dlbook_tools.pdf"]
    print("$", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT)


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
    if args.target in ("slides", "all"):
        code = run_slides(args.chapter)
        if code:
            return code
    if args.target in ("pdf", "all"):
        return run_pdf()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
