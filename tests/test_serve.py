"""``make serve`` (dlbook_tools.serve): 1 回の保存で再ビルドは 1 回。

小さな一時プロジェクトで本物の sphinx-autobuild を起動し、章と
``src/dlbook`` をそれぞれ 1 回だけ保存して、再ビルドの回数を数える。
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from test_build import _mini_book

# dlbook_tools は各テストの中で import する: 遅いテストは別プロセスで
# サーバを起動するだけなので、PYTHONPATH で古い dlbook_tools を渡しても
# 走り、直す前の版で失敗することを確かめられる

REBUILD = "Rebuilding..."
READY = "Serving on"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _serve(book: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    code = (
        "import sys; from pathlib import Path; "
        "from dlbook_tools.serve import main; "
        f"sys.exit(main(['--port', '{_free_port()}'], Path({str(book)!r})))"
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=book,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_for(log: Path, text: str, count: int, timeout: float) -> None:
    """ログに ``text`` が ``count`` 回現れるまで待つ。"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.read_text(errors="replace").count(text) >= count:
            return
        time.sleep(0.5)
    raise AssertionError(
        f"{text!r} が {count} 回現れません:\n"
        + log.read_text(errors="replace")[-4000:]
    )


def _rebuilds_after_one_save(
    log: Path, path: Path, settle: float, text: str | None = None
) -> int:
    """``path`` を 1 回保存し (``text`` か、末尾に改行を足したもの)、
    落ち着くまで待ってから再ビルドの回数を返す。"""
    before = log.read_text(errors="replace")
    rebuilds, ready = before.count(REBUILD), before.count(READY)
    path.write_text(path.read_text() + "\n" if text is None else text)
    _wait_for(log, READY, ready + 1, timeout=240)
    # 再ビルドが自分の書いたファイルで次の再ビルドを呼ぶなら、この間に始まる
    time.sleep(settle)
    return log.read_text(errors="replace").count(REBUILD) - rebuilds


def _wait_until_watching(log: Path, path: Path, timeout: float) -> None:
    """監視が始まるまで ``path`` を書き直し、最初の再ビルドが終わるのを待つ。

    sphinx-autobuild は最初のビルドの後でファイルの監視を始める (木をたどって
    inotify を張るので、負荷が高いと数十秒かかる)。その前の保存は数えられない。
    """
    deadline = time.monotonic() + timeout
    rebuilds = log.read_text(errors="replace").count(REBUILD)
    ready = log.read_text(errors="replace").count(READY)
    while time.monotonic() < deadline:
        path.write_text(path.read_text())
        for _ in range(20):
            time.sleep(0.5)
            if log.read_text(errors="replace").count(REBUILD) > rebuilds:
                _wait_for(log, READY, ready + 1, timeout=240)
                time.sleep(5)  # 落ち着くのを待つ (ここでの再ビルドは数えない)
                return
    raise AssertionError("sphinx-autobuild がファイルの変更を検出しない")


def test_command_ignores_build_folder_by_absolute_path(tmp_path: Path) -> None:
    from dlbook_tools.serve import autobuild_command

    cmd = autobuild_command(tmp_path)
    ignored = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--ignore"]
    assert str(tmp_path / "_build") in ignored
    assert all(Path(p).is_absolute() for p in ignored)
    regexes = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--re-ignore"]
    assert any("__pycache__" in r for r in regexes)


def test_static_assets_are_copied_only_when_they_change(
    tmp_path: Path,
) -> None:
    from dlbook_tools.sphinx_ext import copy_if_changed

    src, dst = tmp_path / "a.css", tmp_path / "out" / "a.css"
    src.write_text("body {}\n")
    assert copy_if_changed(src, dst)
    os.utime(dst, (1, 1))
    assert not copy_if_changed(src, dst)
    assert dst.stat().st_mtime == 1  # 同じ中身なら書き直さない
    src.write_text("body { color: red }\n")
    assert copy_if_changed(src, dst)
    assert dst.read_text() == "body { color: red }\n"


@pytest.mark.slow
def test_one_save_causes_one_rebuild(tmp_path: Path) -> None:
    body = (
        "# 章\n\n## 節\n\n式 $a^2 + b^2$ とコード。\n\n"
        "```{code-cell} ipython3\nimport sys\n"
        "sys.path.insert(0, '../src/dlbook')\nimport marker\n"
        "print(marker.VALUE)\n```\n"
    )
    (tmp_path / "book").mkdir()
    book = _mini_book(tmp_path / "book", body)
    log = tmp_path / "serve.log"
    with _serve(book, log):
        _wait_for(log, READY, 1, timeout=300)  # 最初のビルド
        chapter = book / "book" / "ch04_nn_basics.md"
        _wait_until_watching(log, book / "book" / "index.md", timeout=240)
        assert _rebuilds_after_one_save(log, chapter, settle=10) == 1, (
            log.read_text()[-4000:]
        )
        # src/dlbook の保存: 全章を実行し直し、カーネルが __pycache__ を書く
        marker = book / "src" / "dlbook" / "marker.py"
        assert _rebuilds_after_one_save(log, marker, settle=10) == 1, (
            log.read_text()[-4000:]
        )
        # glue の名前の誤りは空白ではなく、要約の 1 行になる
        text = chapter.read_text() + "\n値は {glue:text}`ch4-nokey` である。\n"
        line = len(text.splitlines())  # 足した行
        assert _rebuilds_after_one_save(log, chapter, 5, text) == 1
        # myst-nb はロールの行を段落の前の空行で数えることがある (1 行前)
        assert any(
            f"book/ch04_nn_basics.md:{n}: glue のキー 'ch4-nokey' がありません"
            in log.read_text()
            for n in (line - 1, line)
        ), log.read_text()[-4000:]
