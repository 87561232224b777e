"""依存の宣言とロック: ``requirements.in`` → ``requirements.lock`` (``make lock``)。

- ``requirements.in`` の行はすべて ``==`` で固定し、ロックにも同じ版がある
- ロックのどの行にもハッシュがある (``make setup`` は ``--require-hashes`` で入れる)
- コードが直接 import するパッケージは、すべて ``requirements.in`` か
  ``pyproject.toml`` に宣言してある (別のパッケージ経由で入るのに頼らない)
- ``make lock`` をもう一度走らせても同じファイルになる (uv が PyPI を読む)
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
REQUIREMENTS_IN = ROOT / "requirements.in"
#: import を集めるディレクトリ (本の章のコードセルも読む)
CODE_DIRS = ["src", "tests", "benchmarks"]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(text: str) -> dict[str, str]:
    """``name==version`` の行 (コメント・ハッシュ・環境マーカーは除く) を辞書にする。"""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
        if m:
            out[_norm(m[1])] = m[2]
    return out


def declared() -> set[str]:
    """requirements.in と pyproject.toml の dependencies にある名前。"""
    names = set(pins(REQUIREMENTS_IN.read_text(encoding="utf-8")))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    for dep in project["project"]["dependencies"]:
        names.add(_norm(re.split(r"[<>=!~;\[ ]", dep, maxsplit=1)[0]))
    return names


def imported_modules() -> set[str]:
    """src・tests・benchmarks と本の章が import する最上位のモジュール名。"""
    mods: set[str] = set()
    for folder in CODE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            if "fixtures" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    mods |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    mods.add(str(node.module).split(".")[0])
    for path in (ROOT / "book").glob("*.md"):
        text = path.read_text(encoding="utf-8")
        mods |= set(re.findall(r"^\s*(?:from|import) +(\w+)", text, re.M))
    local = {p.stem for p in (ROOT / "tests").glob("*.py")}
    local |= {p.name for p in (ROOT / "src").iterdir()} | {"benchmarks"}
    local |= {p.stem for p in (ROOT / "benchmarks").glob("*.py")}
    return {
        m for m in mods if m not in sys.stdlib_module_names and m not in local
    }


def undeclared(modules: set[str], names: set[str]) -> list[str]:
    """宣言された配布物のどれにも属さないモジュール (どの配布物か添えて)。"""
    owners = importlib.metadata.packages_distributions()
    missing = []
    for mod in sorted(modules):
        dists = {_norm(d) for d in owners.get(mod, [mod])}
        if not dists & names:
            missing.append(f"{mod} ({', '.join(sorted(dists))})")
    return missing


def test_requirements_in_pins_exact_versions_found_in_the_lock() -> None:
    wanted = pins(REQUIREMENTS_IN.read_text(encoding="utf-8"))
    lines = [
        ln.split("#")[0].strip()
        for ln in REQUIREMENTS_IN.read_text(encoding="utf-8").splitlines()
    ]
    unpinned = [ln for ln in lines if ln and "==" not in ln]
    assert not unpinned, f"== で固定していない行: {unpinned}"
    locked = pins(LOCK.read_text(encoding="utf-8"))
    wrong = {
        name: (version, locked.get(name))
        for name, version in wanted.items()
        if locked.get(name) != version
    }
    assert not wrong, (
        f"requirements.lock と版が違う (make lock を走らせる): {wrong}"
    )


def test_every_locked_package_has_hashes() -> None:
    text = LOCK.read_text(encoding="utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert len(entries) > 50
    bare = [e.split()[0] for e in entries if "--hash=sha256:" not in e]
    assert not bare, f"ハッシュのない行: {bare}"


def test_every_imported_package_is_declared() -> None:
    missing = undeclared(imported_modules(), declared())
    assert not missing, (
        "import しているが requirements.in / pyproject.toml にない: "
        + ", ".join(missing)
    )


def test_the_import_check_finds_a_missing_declaration() -> None:
    names = declared() - {"pyyaml"}
    assert undeclared({"yaml", "numpy"}, names) == ["yaml (pyyaml)"]


@pytest.mark.slow
def test_make_lock_is_reproducible(tmp_path: Path) -> None:
    """今のロックから同じコマンドで作り直すと、1 バイトも変わらない。"""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    assert uv, "uv がない (requirements.lock にある)"
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^lock:.*\n((?:\t.*\n)+)", make, re.M)
    assert recipe, "Makefile に lock がない"
    args = " ".join(
        ln.strip().rstrip("\\") for ln in recipe[1].splitlines()
    ).split()
    assert args[:3] == ["$(BIN)/uv", "pip", "compile"]
    args = [a for a in args[3:] if not a.startswith("$(")]
    out = tmp_path / "requirements.lock"
    shutil.copy(LOCK, out)
    args[args.index("-o") + 1] = str(out)
    cmd = [uv, "pip", "compile", *(a.strip('"') for a in args)]
    # "make lock" の引用符を戻す
    i = cmd.index("--custom-compile-command")
    cmd[i + 1 : i + 3] = ["make lock"]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    assert out.read_text(encoding="utf-8") == LOCK.read_text("utf-8")


def test_build_backend_is_pinned_like_the_lock() -> None:
    """make setup はビルドを隔離しないので、ロックの hatchling で wheel を作る。"""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    (spec,) = project["build-system"]["requires"]
    name, version = spec.split("==")
    assert pins(LOCK.read_text(encoding="utf-8"))[_norm(name)] == version
