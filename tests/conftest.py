"""テスト全体の共通設定。

- ``site`` 印のテストは、セッションで 1 度だけ本とスライドをビルドし
  (quick プロファイル、実行キャッシュあり)、localhost の静的サーバで配信する。
- ブラウザは Debian の Chromium を Playwright で動かす (ダウンロードはしない)。
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlbook_tools.browser import CHROMIUM, CHROMIUM_ARGS, serve_directory

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"


@pytest.fixture(scope="session")
def built_site() -> Path:
    """本 (HTML) とスライドを 1 度だけビルドして、その HTML ディレクトリを返す。

    環境変数 ``DLBOOK_SKIP_BUILD=1`` なら既存の ``_build/html`` をそのまま使う。
    """
    if os.environ.get("DLBOOK_SKIP_BUILD") != "1":
        env = {**os.environ, "DLBOOK_PROFILE": "quick"}
        cmd = [sys.executable, "-m", "dlbook_tools.build", "all"]
        proc = subprocess.run(cmd, cwd=ROOT, env=env)
        if proc.returncode != 0:
            pytest.fail(
                "本のビルドに失敗しました (上の出力を参照)", pytrace=False
            )
    assert (HTML / "index.html").exists(), (
        "_build/html/index.html がありません"
    )
    return HTML


@pytest.fixture(scope="session")
def site_url(built_site: Path) -> Iterator[str]:
    """構築済みサイトを 127.0.0.1 の空きポートで配信する。"""
    with serve_directory(built_site) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian の Chromium を headless で起動した Playwright のブラウザ。"""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Chromium がありません: {CHROMIUM} (make setup で入ります)"
        )
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
