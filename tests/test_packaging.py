"""読者が入れるパッケージ ``dlbook`` の形: wheel の中身と、torch なしの import。

- wheel には ``dlbook`` だけが入り、サイトの道具 ``dlbook_tools`` は入らない
  (ノートブックのインストールセルが道具を依存なしで入れていた)
- NumPy だけの章のモジュールは torch を読まない (torch の読み込みは約 1 秒)
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: 第4章・第6章の NumPy 実装。torch を読んではならない
NUMPY_MODULES = [
    "dlbook",
    "dlbook.activations",
    "dlbook.conv",
    "dlbook.descent",
    "dlbook.gradcheck",
    "dlbook.history",
    "dlbook.init",
    "dlbook.layers",
    "dlbook.losses",
    "dlbook.network",
    "dlbook.norm",
    "dlbook.optim",
    "dlbook.parallel",
    "dlbook.perceptron",
    "dlbook.plot",
    "dlbook.pooling",
    "dlbook.scratch",
    "dlbook.windows",
]


def _loaded_after_import(modules: list[str]) -> set[str]:
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    return set(out.split())


@pytest.mark.parametrize("module", NUMPY_MODULES)
def test_numpy_modules_import_without_torch(module: str) -> None:
    loaded = _loaded_after_import([module])
    assert module in loaded
    assert "torch" not in loaded, f"{module} が torch を読み込んだ"


def test_the_check_sees_torch() -> None:
    """torch を使うモジュールなら、この検査は torch を見つける。"""
    assert "torch" in _loaded_after_import(["dlbook.train"])


def test_config_loads_torch_only_when_asked() -> None:
    import dlbook.config as config

    dev = config.device()  # ここで torch を読む
    assert dev.type in {"cpu", "cuda", "mps"}
    assert config.device_name(dev)


@pytest.mark.slow
def test_wheel_holds_only_the_reader_package(tmp_path: Path) -> None:
    """``pip wheel .`` の中身は dlbook とそのメタデータ (MIT の LICENSE) だけ。"""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",  # hatchling は requirements.lock にある
            "--wheel-dir",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("dlbook-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"dlbook", f"{wheel.name.rsplit('-', 3)[0]}.dist-info"}
    assert "dlbook/layers.py" in names
    assert not [n for n in names if "dlbook_tools" in n]
    meta = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("/METADATA"))
    )
    assert b"License-Expression: MIT" in meta
    assert any(n.endswith("licenses/LICENSE") for n in names)


def test_release_attaches_the_wheel() -> None:
    """release.yml が wheel を dist/ (リリースに添付し SHA256SUMS に入る) に作る。"""
    import yaml

    workflow = yaml.safe_load(
        (ROOT / ".github" / "workflows" / "release.yml").read_text("utf-8")
    )
    steps = workflow["jobs"]["package"]["steps"]
    runs = [str(s.get("run", "")) for s in steps]
    build = next(i for i, r in enumerate(runs) if "pip wheel" in r)
    assert "--no-deps --wheel-dir dist ./repo" in runs[build]
    checkout = next(
        i for i, s in enumerate(steps) if "checkout" in str(s.get("uses"))
    )
    assert steps[checkout]["with"]["path"] == "repo"
    assert checkout < build
    collect = next(i for i, r in enumerate(runs) if "SHA256SUMS" in r)
    assert build < collect


def test_reader_package_declares_what_it_imports() -> None:
    """dlbook が import する外部のパッケージは、すべて wheel の依存にある
    (Colab でインストールセルが入れるのはこれだけ)。"""
    import ast
    import importlib.metadata
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    deps = {
        re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0].lower().replace("_", "-")
        for d in project["project"]["dependencies"]
    }
    owners = importlib.metadata.packages_distributions()
    missing = set()
    for path in (ROOT / "src" / "dlbook").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [str(node.module)]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "dlbook":
                    continue
                dists = {d.lower() for d in owners.get(top, [top])}
                if not dists & deps:
                    missing.add(f"{top} ({path.name})")
    assert not missing, (
        f"pyproject.toml の dependencies にない: {sorted(missing)}"
    )
