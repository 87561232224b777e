"""dlbook_tools.sphinx_ext の部品: docstring を除く行範囲と番号の付け替え。"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dlbook_tools.sphinx_ext import (
    _shift,
    docstring_free_lines,
    tools_env_version,
)

SOURCE = textwrap.dedent('''\
    import numpy as np


    def f(
        x: int,
    ) -> int:
        """説明。

        長い説明。
        """
        # コメントは残す
        y = x + 1
        return y


    class A:
        """クラス。"""

        def g(self) -> int:
            return 1

        @staticmethod
        def h() -> int:
            """短い。"""
            return 2
    ''')


def _select(spec: str, lines: list[str]) -> list[str]:
    out = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out += lines[int(lo) - 1 : int(hi) if hi else None]
    return out


def test_function_docstring_is_dropped_and_comment_kept() -> None:
    spec = docstring_free_lines(SOURCE, "f")
    assert spec == "1-3,8-"
    body = SOURCE.splitlines()[3:12]
    shown = _select(spec, body)
    assert shown[0].startswith("def f(") and '"""' not in "".join(shown)
    assert "# コメントは残す" in shown[3]


def test_method_without_docstring_is_whole() -> None:
    assert docstring_free_lines(SOURCE, "A.g") == "1-2"


def test_decorated_method() -> None:
    # @staticmethod, def, docstring, return
    assert docstring_free_lines(SOURCE, "A.h") == "1-2,4-"


def test_missing_object() -> None:
    with pytest.raises(ValueError, match=r"A\.zzz"):
        docstring_free_lines(SOURCE, "A.zzz")


def test_shift_chapter_numbers() -> None:
    assert _shift((1, 2), 3) == (4, 2)
    assert _shift([2], 3) == [5]
    assert _shift((), 3) == ()


def test_env_version_follows_the_tool_sources(tmp_path: Path) -> None:
    (tmp_path / "ext.py").write_text("A = 1\n")
    first = tools_env_version(tmp_path)
    assert tools_env_version(tmp_path) == first  # 同じソースなら同じ版
    (tmp_path / "ext.py").write_text("A = 2\n")
    assert tools_env_version(tmp_path) != first
    assert isinstance(tools_env_version(), int)


def test_katex_server_start_is_retried_when_the_socket_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """node がまだ listen していない (ConnectionRefusedError) ときは待って再試行。"""
    from types import SimpleNamespace

    from sphinxcontrib import katex

    from dlbook_tools.sphinx_ext import start_katex_server

    calls: list[int] = []
    server = object()

    def start() -> object:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError(111, "Connection refused")
        return server

    monkeypatch.setattr(katex.KaTeXServer, "katex_server", None)
    monkeypatch.setattr(katex.KaTeXServer, "start", start)
    app = SimpleNamespace(
        config=SimpleNamespace(katex_prerender=True),
        builder=SimpleNamespace(format="html"),
    )
    start_katex_server(app)  # type: ignore[arg-type]
    assert katex.KaTeXServer.katex_server is server
    assert len(calls) == 3
    start_katex_server(app)  # type: ignore[arg-type]
    assert len(calls) == 3  # 起動済みなら何もしない
