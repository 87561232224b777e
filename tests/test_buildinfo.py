"""ビルドの素性 (dlbook_tools.buildinfo)、フッター、ビルド状況のページの検査。"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from dlbook_tools import buildinfo

ROOT = Path(__file__).resolve().parents[1]


def _head() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, text=True, capture_output=True
    ).stdout.strip()


def test_commit_and_repo_from_the_environment(monkeypatch) -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    monkeypatch.setenv("GITHUB_SHA", sha)
    monkeypatch.setenv("GITHUB_REPOSITORY", "someone/fork")
    for f in (buildinfo.commit, buildinfo.repo_slug):
        f.cache_clear()
    try:
        assert buildinfo.commit() == sha
        assert buildinfo.install_spec() == (
            f"dlbook @ git+https://github.com/someone/fork@{sha}"
        )
    finally:
        for f in (buildinfo.commit, buildinfo.repo_slug):
            f.cache_clear()


def test_repo_from_config(monkeypatch) -> None:
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    buildinfo.repo_slug.cache_clear()
    try:
        assert buildinfo.repo_slug() == "dlbook-ja/dlbook"
    finally:
        buildinfo.repo_slug.cache_clear()


def test_tool_versions_are_found() -> None:
    versions = buildinfo.tool_versions()
    for name in (
        "Python",
        "PyTorch",
        "torchvision",
        "Jupyter Book",
        "MyST-NB",
        "Sphinx",
        "Marp CLI",
        "KaTeX",
    ):
        assert re.match(r"^\d+\.\d+", versions[name]), (name, versions[name])


@pytest.mark.site
def test_build_status_page(built_site: Path) -> None:
    soup = BeautifulSoup(
        (built_site / "book" / "build_status.html").read_text(), "html.parser"
    )
    tables = soup.select("article table")
    # ビルドの情報・版・章の実行結果、それに GPU でのみ実行する部分の一覧
    assert len(tables) == 4, len(tables)
    assert "GPU でのみ実行" in soup.get_text()
    info = {
        r.select("td")[0].get_text(strip=True): r.select("td")[1]
        for r in tables[0].select("tbody tr")
    }
    sha = info["コミット"].get_text(strip=True)
    assert re.fullmatch(r"[0-9a-f]{40}", sha) and sha == _head()
    assert info["プロファイル"].get_text(strip=True) == "quick"
    assert info["デバイス"].get_text(strip=True)
    tools = {
        r.select("td")[0].get_text(strip=True): r.select("td")[1].get_text()
        for r in tables[1].select("tbody tr")
    }
    assert tools["PyTorch"] == buildinfo.python_version("torch")
    assert tools["KaTeX"] == buildinfo.node_version("katex")
    rows = {
        r.select("td")[0].get_text(strip=True): [
            c.get_text(strip=True) for c in r.select("td")
        ]
        for r in tables[3].select("tbody tr")  # 表 2 は GPU でのみ実行する部分
    }
    for chapter in ("ch04_nn_basics", "ch05_framework", "ch06_cnn"):
        row = rows[f"book/{chapter}"]
        assert row[2] in ("cache", "force", "auto"), row
        assert float(row[3]) > 0, row
        assert row[4] == "成功", row


@pytest.mark.site
def test_footer_shows_version_and_commit(built_site: Path) -> None:
    for rel in ("book/ch04_nn_basics.html", "book/index.html"):
        soup = BeautifulSoup((built_site / rel).read_text(), "html.parser")
        footer = soup.select_one(".dlbook-buildinfo")
        assert footer is not None, rel
        assert footer.select_one(".dlbook-version").get_text(strip=True)
        assert footer.select_one("a.dlbook-commit")["href"].endswith(_head())
    index = BeautifulSoup(
        (built_site / "book" / "index.html").read_text(), "html.parser"
    )
    link = index.select_one("p.dlbook-pdf a")
    assert link is not None and (built_site / "book" / link["href"]).exists()
