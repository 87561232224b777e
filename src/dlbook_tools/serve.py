"""執筆者のためのライブプレビュー (``make serve``)。

``_config.yml`` から Sphinx の conf.py を ``_build/serve/`` に生成し、
sphinx-autobuild で本をビルドして http://127.0.0.1:8000 で配信する。
Markdown や ``src/dlbook`` を保存するたびに、変わった章だけを再ビルドする
(実行キャッシュは本番ビルドと共有)。

1 回の保存で再ビルドは 1 回: ビルド自身が書くもの (``_build/``、カーネルが
書く ``__pycache__``) は監視から外す。sphinx-autobuild は ``--ignore`` の
glob を作業ディレクトリからの相対パスとして解決するので、``*/_build/*`` の
ような glob は ``<root>/_build/…`` に一致しない。ここでは絶対パスで渡す。
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: 監視しないディレクトリ (本のルートからの相対パス。絶対パスにして渡す)
IGNORED_DIRS = (
    "_build", ".venv", "node_modules", ".git", ".stamps", ".data",
    ".mypy_cache", ".ruff_cache", ".pytest_cache", "slides", "benchmarks",
    "tests",
)  # fmt: skip
#: どこにあっても監視しないもの (正規表現)。カーネルが dlbook を import すると
#: ``src/dlbook/__pycache__`` が書かれ、それだけで次の再ビルドが始まっていた
IGNORED_RE = (r"/__pycache__/", r"\.pyc$", r"/\.ipynb_checkpoints/", r"~$")


def write_conf(root: Path = ROOT) -> Path:
    """``jupyter-book config sphinx`` で conf.py を作り、_build/serve に移す。"""
    jb = Path(sys.executable).with_name("jupyter-book")
    subprocess.run(
        [str(jb), "config", "sphinx", str(root)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    conf_dir = root / "_build" / "serve"
    conf_dir.mkdir(parents=True, exist_ok=True)
    target = conf_dir / "conf.py"
    shutil.move(root / "conf.py", target)
    # sphinxcontrib-bibtex は bib ファイルを conf.py の場所から探す
    with target.open("a") as conf:
        conf.write(
            "\nimport os as _os\n"
            "bibtex_bibfiles = [_os.path.relpath(_os.path.join("
            f"{str(root)!r}, f), {str(conf_dir)!r}) "
            "for f in bibtex_bibfiles]\n"
            # ビルドのたびに警告を「章:行: 何が — 直し方」で要約して出す
            "dlbook_print_summary = True\n"
        )
    return target


def autobuild_command(
    root: Path, host: str = "127.0.0.1", port: int = 8000
) -> list[str]:
    """sphinx-autobuild のコマンド行 (監視・無視するパスはすべて絶対パス)。"""
    autobuild = Path(sys.executable).with_name("sphinx-autobuild")
    cmd = [
        str(autobuild),
        str(root),
        str(root / "_build" / "html"),
        "-c",
        str(root / "_build" / "serve"),
        "--host",
        host,
        "--port",
        str(port),
    ]
    if (root / "src" / "dlbook").is_dir():
        cmd += ["--watch", str(root / "src" / "dlbook")]
    for name in IGNORED_DIRS:
        cmd += ["--ignore", str(root / name)]
    for pattern in IGNORED_RE:
        cmd += ["--re-ignore", pattern]
    return [
        *cmd,
        "-d",
        str(root / "_build" / ".doctrees"),
        "-n",
        "--keep-going",
    ]


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    write_conf(root)
    cmd = autobuild_command(root, args.host, args.port)
    print("$", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=root)


if __name__ == "__main__":
    raise SystemExit(main())
