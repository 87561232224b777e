"""``make check`` (dlbook_tools.check): 変えた章とそのテストを選ぶ。"""

from __future__ import annotations

import subprocess
from pathlib import Path

from dlbook_tools.check import changed_files, modules_used, plan
from dlbook_tools.check import tests_for as select_tests


def test_modules_used_come_from_imports_and_literalinclude() -> None:
    source = (
        "```{code-cell} ipython3\nfrom dlbook.layers import Affine\n"
        "import dlbook.optim as optim\nnet = dlbook.models.MLP()\n```\n"
        "```{literalinclude} ../src/dlbook/conv.py\n:pyobject: im2col\n```\n"
    )
    assert modules_used(source) == {"layers", "optim", "models", "conv"}


def _repo(tmp_path: Path) -> Path:
    for name in ("conv", "layers", "pooling", "check"):
        (tmp_path / "tests").mkdir(exist_ok=True)
        (tmp_path / "tests" / f"test_{name}.py").write_text("")
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "ch06_cnn.md").write_text(
        "```{code-cell} ipython3\nfrom dlbook.conv import Conv2d\n```\n"
    )
    return tmp_path


def test_a_changed_chapter_brings_its_modules_tests(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    chapters, _ = plan(["book/ch06_cnn.md", "README.md"])
    assert chapters == ["book/ch06_cnn.md"]
    assert select_tests(["book/ch06_cnn.md"], root) == ["tests/test_conv.py"]


def test_changed_sources_and_tests_bring_their_tests(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    files = [
        "src/dlbook/layers.py",
        "src/dlbook_tools/check.py",
        "tests/test_pooling.py",
        "src/dlbook/unknown.py",  # テストのないモジュールは何も足さない
    ]
    assert select_tests(files, root) == [
        "tests/test_check.py",
        "tests/test_layers.py",
        "tests/test_pooling.py",
    ]
    assert plan(files)[0] == []  # 章は変わっていない: プレビューしない


def test_chapter_option_overrides_git(tmp_path: Path) -> None:
    chapters, _ = plan([], ["book/ch04_nn_basics.md"])
    assert chapters == ["book/ch04_nn_basics.md"]


def test_changed_files_include_untracked(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    (tmp_path / "a.md").write_text("a\n")
    (tmp_path / "b.md").write_text("b\n")
    git("add", "a.md", "b.md")
    git("commit", "-q", "-m", "x")
    (tmp_path / "a.md").write_text("changed\n")
    (tmp_path / "new.md").write_text("new\n")
    assert changed_files(tmp_path) == ["a.md", "new.md"]


def test_outside_git_nothing_counts_as_changed(tmp_path: Path) -> None:
    assert changed_files(tmp_path) == []
