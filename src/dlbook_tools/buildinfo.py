"""ビルドの素性: どのコミット・どの版・どの道具で本を作ったか。

サイトのフッター、ビルド状況のページ (book/build_status.md)、ノートブックの
インストールセル、リリースが、すべてここから値を取る (手で書かない)。

- コミット: 環境変数 ``GITHUB_SHA`` (GitHub Actions)、なければ ``git rev-parse HEAD``
- 版: 環境変数 ``DLBOOK_VERSION``、なければ ``git describe --tags --always --dirty``
- リポジトリ: ``GITHUB_REPOSITORY`` (Actions)、なければ
  ``_config.yml`` の ``repository.url``

``python -m dlbook_tools.buildinfo`` で JSON を表示する。
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REPO = "https://github.com/dlbook-ja/dlbook"

#: ビルド状況のページに版を載せる Python パッケージ (表示名, 配布名)
PYTHON_TOOLS = (
    ("PyTorch", "torch"),
    ("torchvision", "torchvision"),
    ("NumPy", "numpy"),
    ("Jupyter Book", "jupyter-book"),
    ("MyST-NB", "myst-nb"),
    ("Sphinx", "sphinx"),
    ("sphinx-book-theme", "sphinx-book-theme"),
    ("sphinxcontrib-katex", "sphinxcontrib-katex"),
    ("Playwright (PDF)", "playwright"),
)
#: npm の道具 (表示名, node_modules 下のパッケージ名)
NODE_TOOLS = (("Marp CLI", "@marp-team/marp-cli"), ("KaTeX", "katex"))


def _git(*args: str, root: Path = ROOT) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


@functools.cache
def commit(root: Path = ROOT) -> str:
    """ビルドしたコミットの SHA (40 桁)。分からなければ ``"unknown"``。"""
    sha = os.environ.get("GITHUB_SHA") or _git("rev-parse", "HEAD", root=root)
    return sha if sha and re.fullmatch(r"[0-9a-f]{40}", sha) else "unknown"


@functools.cache
def version(root: Path = ROOT) -> str:
    """人が読む版の名前 (``v1.2.0``、``v1.2.0-3-gabc1234``、タグがなければ短い SHA)。"""
    env = os.environ.get("DLBOOK_VERSION")
    if env:
        return env
    described = _git("describe", "--tags", "--always", "--dirty", root=root)
    return described or commit(root)[:12]


def _config_repo_url(root: Path) -> str:
    config = root / "_config.yml"
    if config.exists():
        m = re.search(
            r"^repository:\s*\n(?:\s+.*\n)*?\s+url:\s*(\S+)",
            config.read_text(encoding="utf-8"),
            re.M,
        )
        if m:
            return m.group(1).strip("\"'")
    return DEFAULT_REPO


@functools.cache
def repo_slug(root: Path = ROOT) -> str:
    """GitHub の ``owner/name``。"""
    env = os.environ.get("GITHUB_REPOSITORY")
    if env and re.fullmatch(r"[\w.-]+/[\w.-]+", env):
        return env
    url = _config_repo_url(root).rstrip("/")
    m = re.search(r"github\.com[/:]([\w.-]+/[\w.-]+?)(?:\.git)?$", url)
    if not m:
        raise ValueError(f"GitHub のリポジトリ URL ではありません: {url}")
    return m.group(1)


def repo_url(root: Path = ROOT) -> str:
    return f"https://github.com/{repo_slug(root)}"


def install_spec(root: Path = ROOT) -> str:
    """このコミットの ``dlbook`` を入れる pip の要求 (PEP 508 の直接参照)。"""
    return f"dlbook @ git+{repo_url(root)}@{commit(root)}"


def python_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def node_version(package: str, root: Path = ROOT) -> str:
    path = root / "node_modules" / package / "package.json"
    try:
        return str(json.loads(path.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return "-"


def tool_versions(root: Path = ROOT) -> dict[str, str]:
    """Python と主な道具の版 (表示名 → 版)。"""
    versions = {"Python": platform.python_version()}
    versions.update(
        {name: python_version(dist) for name, dist in PYTHON_TOOLS}
    )
    versions.update(
        {name: node_version(pkg, root) for name, pkg in NODE_TOOLS}
    )
    return versions


def collect(root: Path = ROOT) -> dict[str, Any]:
    """ビルドの素性をまとめた辞書。"""
    return {
        "version": version(root),
        "commit": commit(root),
        "repository": repo_url(root),
        "run": _run_url(),
        "tools": tool_versions(root),
    }


def _run_url() -> str | None:
    server = os.environ.get("GITHUB_SERVER_URL")
    repo = os.environ.get("GITHUB_REPOSITORY")
    run = os.environ.get("GITHUB_RUN_ID")
    return (
        f"{server}/{repo}/actions/runs/{run}"
        if server and repo and run
        else None
    )


if __name__ == "__main__":
    print(json.dumps(collect(), ensure_ascii=False, indent=2))
