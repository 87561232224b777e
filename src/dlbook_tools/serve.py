"""執筆者のためのライブプレビュー (``make serve``)。

``_config.yml`` から Sphinx の conf.py を ``_build/serve/`` に生成し、
sphinx-autobuild で本をビルドして http://127.0.0.1:8000 で配信する。
Markdown や ``src/dlbook`` を保存するたびに、変わった章だけを再ビルドする
(実行キャッシュは本番ビルドと共有)。
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = ROOT / "_build" / "serve"


def write_conf() -> Path:
    """``jupyter-book config sphinx`` で conf.py を作り、_build/serve に移す。"""
    jb = Path(sys.executable).with_name("jupyter-book")
    subprocess.run(
        [str(jb), "config", "sphinx", str(ROOT)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    CONF_DIR.mkdir(parents=True, exist_ok=True)
    target = CONF_DIR / "conf.py"
    shutil.move(ROOT / "conf.py", target)
    # sphinxcontrib-bibtex は bib ファイルを conf.py の場所から探す
    with target.open("a") as conf:
        conf.write(
            "\nimport os as _os\n"
            "bibtex_bibfiles = [_os.path.relpath(_os.path.join("
            f"{str(ROOT)!r}, f), {str(CONF_DIR)!r}) "
            "for f in bibtex_bibfiles]\n"
        )
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    write_conf()
    autobuild = Path(sys.executable).with_name("sphinx-autobuild")
    cmd = [
        str(autobuild),
        str(ROOT),
        str(ROOT / "_build" / "html"),
        "-c",
        str(CONF_DIR),
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--watch",
        str(ROOT / "src" / "dlbook"),
        "--ignore",
        "*/_build/*",
        "--ignore",
        "*/.venv/*",
        "--ignore",
        "*/node_modules/*",
        "--ignore",
        "*/.git/*",
        "-d",
        str(ROOT / "_build" / ".doctrees"),
        "-n",
        "--keep-going",
    ]
    print("$", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT)


if __name__ == "__main__":
    raise SystemExit(main())
