"""設定どうしの食い違いを防ぐ検査 (ビルドなしで走る)。

- KaTeX: ページの CSS・フォントは npm の ``katex`` から、数式の描画 (プリレンダ) は
  sphinxcontrib-katex 同梱の ``katex.min.js`` で行う。版が違うと CSS と HTML が
  合わなくなるので、3 つの版が等しいこと
- ``_config.yml`` に何もしない設定を置かない (既定値の繰り返し、使わないビルダー)
- ``tools/apt-packages.txt`` の Debian パッケージは、どれもリポジトリのどこかが使う
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_katex_versions_agree() -> None:
    import sphinxcontrib.katex as katex_ext

    declared = json.loads((ROOT / "package.json").read_text("utf-8"))
    npm_pin = declared["devDependencies"]["katex"]
    installed = json.loads(
        (ROOT / "node_modules" / "katex" / "package.json").read_text("utf-8")
    )["version"]
    bundled = Path(katex_ext.__file__).with_name("katex.min.js")
    rendered = re.search(r'version:"([\d.]+)"', bundled.read_text("utf-8"))
    assert rendered, f"{bundled} に版がない"
    versions = {
        "package.json の katex": npm_pin,
        "node_modules/katex": installed,
        "sphinxcontrib-katex の katex_version": katex_ext.katex_version,
        "sphinxcontrib-katex の katex.min.js": rendered[1],
    }
    assert len(set(versions.values())) == 1, versions


def test_config_has_no_dead_keys() -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text("utf-8"))
    # 言語は sphinx.config.language が決める (最上位の language は読まれない)
    assert "language" not in config
    # LaTeX ビルダーは使わない (PDF は Chromium で印刷する: dlbook_tools.pdf)
    assert "latex" not in config
    # 起動ボタンは使わない (Colab のリンクは dlbook_tools.notebooks が出す)
    assert "launch_buttons" not in config
    assert config["sphinx"]["config"]["language"] == "ja"


def _tracked_text() -> str:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    skip = (
        "apt-packages.txt",
        ".lock",
        "package-lock.json",
        Path(__file__).name,
    )
    chunks = []
    for name in files:
        path = ROOT / name
        if name.endswith(skip) or not path.is_file():
            continue
        if path.suffix in {".py", ".sh", ".yml", ".yaml", ".md", ".mjs", ""}:
            chunks.append(path.read_text("utf-8", errors="ignore"))
    return "\n".join(chunks)


#: パッケージ → それを使っている印 (コマンドやファイル)
APT_USES = {
    "chromium": ["chromium"],
    "fonts-noto-cjk": ["Noto Sans CJK", "noto-cjk", "NotoSansCJK"],
    "graphviz": ["dot", "graphviz"],
    "poppler-utils": ["pdftoppm", "pdftotext", "pdfinfo"],
    # torch.compile (Inductor) が CPU 用の C++ をコンパイルする
    "g++": ["torch.compile"],
}


def test_every_debian_package_is_used() -> None:
    listed = [
        ln.split("#")[0].strip()
        for ln in (ROOT / "tools" / "apt-packages.txt")
        .read_text()
        .splitlines()
    ]
    listed = [p for p in listed if p]
    unknown = [p for p in listed if p not in APT_USES]
    assert not unknown, f"APT_USES に使いみちを書く: {unknown}"
    text = _tracked_text()
    unused = [
        p
        for p in listed
        if not any(
            re.search(rf"\b{re.escape(m)}\b", text) for m in APT_USES[p]
        )
    ]
    assert not unused, f"どこも使わない Debian パッケージ: {unused}"
