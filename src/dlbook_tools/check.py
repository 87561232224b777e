"""コミット前の速い検査 (``make check``)。

1. lint: ``ruff check``・``ruff format --check``・``mypy`` (``make lint`` から
   全章の textlint とワークフローの検査を除いたもの。章の textlint は 2 でやる)
2. 変えた章のプレビュー (``make preview`` と同じ: 実行・警告の要約・
   スライド・その章の textlint)
3. その単体テスト: 変えた章が使う ``dlbook`` のモジュール、変えた
   ``src/`` のモジュール、変えたテストファイルに対応する ``tests/test_*.py``
   (``slow``・``site`` の印が付いたものは除く)

「変えた」は ``git`` で HEAD から変わったファイル (未追跡を含む)。
``CH=book/ch06_cnn.md`` (``--chapter``) で章を指定することもできる。
1〜3 は並行して走り、どれかが失敗しても残りは最後まで走る。
``make test`` はこれに加えて、全章の textlint、
すべてのテスト (遅いもの・本全体をビルドしてブラウザで見るもの) を走らせる。
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINTED = ("src", "tests", "benchmarks")
EXCLUDE = ("--extend-exclude", "tests/fixtures")
UNIT = "not slow and not site"
CHAPTER = re.compile(r"^book/ch\d\d_\w+\.md$")
USES = re.compile(
    r"(?:from|import)\s+dlbook\.(\w+)"
    r"|\.\./src/dlbook/(\w+)\.py"
    r"|\bdlbook\.(\w+)"
)


@dataclass
class Step:
    """検査の 1 段 (名前・コマンド・結果)。"""

    name: str
    cmd: list[str]
    code: int | None = None
    seconds: float = 0.0


def changed_files(root: Path = ROOT) -> list[str]:
    """HEAD から変わったファイル (作業ツリーと index、未追跡を含む)。"""

    def git(*args: str) -> list[str]:
        out = subprocess.run(
            ["git", *args],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return [line for line in out.splitlines() if line]

    try:
        files = git("diff", "--name-only", "HEAD") + git(
            "ls-files", "--others", "--exclude-standard"
        )
    except (subprocess.CalledProcessError, FileNotFoundError):
        return []  # git の外 (書き出した写しなど): CH= で章を指定する
    return sorted(set(files))


def chapters_of(files: Sequence[str]) -> list[str]:
    """変わったファイルのうち章 (``book/chNN_*.md``)。"""
    return sorted(f for f in files if CHAPTER.match(f))


def modules_used(chapter_source: str) -> set[str]:
    """章が使う ``dlbook`` のモジュール名 (import と literalinclude から)。"""
    return {
        next(g for g in m.groups() if g) for m in USES.finditer(chapter_source)
    }


def tests_for(files: Sequence[str], root: Path = ROOT) -> list[str]:
    """変わったファイルに対応する単体テストのファイル。"""
    names: set[str] = set()
    tests: set[str] = set()
    for f in files:
        path = Path(f)
        if CHAPTER.match(f) and (root / f).is_file():
            names |= modules_used((root / f).read_text(encoding="utf-8"))
        elif f.startswith("src/") and path.suffix == ".py":
            names.add(path.stem)
            if path.parent.name not in ("dlbook", "dlbook_tools", "src"):
                names.add(path.parent.name)  # パッケージの中のモジュール
        elif f.startswith("tests/") and re.match(r"test_\w+\.py$", path.name):
            tests.add(f)
    for name in names:
        candidate = f"tests/test_{name}.py"
        if (root / candidate).is_file():
            tests.add(candidate)
    return sorted(t for t in tests if (root / t).is_file())


def plan(
    files: Sequence[str], chapters: Sequence[str] | None = None
) -> tuple[list[str], list[str]]:
    """(プレビューする章, 走らせるテスト) を決める。"""
    chosen = list(chapters) if chapters else chapters_of(files)
    return chosen, tests_for([*files, *chosen])


def _start(step: Step, root: Path) -> subprocess.Popen[bytes]:
    print(f"\n$ {' '.join(step.cmd)}", flush=True)
    step.seconds = time.perf_counter()
    return subprocess.Popen(step.cmd, cwd=root)


def _finish(step: Step, proc: subprocess.Popen[bytes]) -> None:
    step.code = proc.wait()
    step.seconds = time.perf_counter() - step.seconds


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--chapter",
        action="append",
        default=[],
        help="検査する章 (既定: git で変わった章)",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    files = changed_files(root)
    chapters, tests = plan(files, [c for c in args.chapter if c])
    bin_ = Path(sys.executable).parent
    print("変わったファイル: " + (", ".join(files) or "なし"))
    print("プレビューする章: " + (", ".join(chapters) or "なし"))
    print("単体テスト: " + (", ".join(tests) or "なし"))
    lint = [
        Step(
            "ruff check",
            [str(bin_ / "ruff"), "check", *EXCLUDE, *LINTED],
        ),
        Step(
            "ruff format",
            [
                str(bin_ / "ruff"),
                "format",
                "--check",
                *EXCLUDE,
                *_format_pending(root),
                *LINTED,
            ],
        ),
        Step("mypy", [str(bin_ / "mypy")]),
    ]
    # lint が失敗しても続ける: 直すべきものを 1 回ですべて見せる
    parallel = [
        Step(
            f"preview {ch}",
            [sys.executable, "-m", "dlbook_tools.preview", ch],
        )
        for ch in chapters
    ]
    if tests:
        parallel.append(
            Step(
                "unit tests",
                [str(bin_ / "pytest"), "-q", "-m", UNIT, *tests],
            )
        )
    # プレビュー (ほぼカーネルの 1 コア)・テスト・lint を並行して走らせる
    running = [(s, _start(s, root)) for s in parallel]
    for step in lint:
        _finish(step, _start(step, root))
    for step, proc in running:
        _finish(step, proc)
    steps = [*lint, *parallel]
    total = time.perf_counter() - start
    print("\n" + "=" * 70)
    for s in steps:
        status = {None: "未実行", 0: "OK"}.get(s.code, "失敗")
        print(f"  {status:4s} {s.seconds:6.1f} 秒  {s.name}")
    failed = [s for s in steps if s.code != 0]
    verdict = "失敗あり (failed)" if failed else "すべて OK"
    print(f"make check: {verdict} — {total:.1f} 秒")
    if not failed:
        print(
            "  make test はこれに全章の textlint と遅いテスト・サイトの検査を足す"
        )
    print("=" * 70)
    return 1 if failed else 0


def _format_pending(root: Path) -> list[str]:
    """``ruff format`` をまだ通していないファイル (Makefile と同じ一覧)。"""
    path = root / "src" / "dlbook_tools" / "checks" / "ruff-format-pending.txt"
    if not path.is_file():
        return []
    names = [
        line.strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return [arg for name in names for arg in ("--extend-exclude", name)]


if __name__ == "__main__":
    raise SystemExit(main())
