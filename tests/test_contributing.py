"""README と CONTRIBUTING が指すファイルはリポジトリの中にある。"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)#\s]+)[^)]*\)")
CODE_PATH = re.compile(r"`(\.\./[\w./-]+\.\w+)`")


@pytest.mark.parametrize("doc", ["README.md", "CONTRIBUTING.md"])
def test_paths_in_docs_point_inside_the_repository(doc: str) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    missing = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue  # http:, mailto: など
        path = (ROOT / target).resolve()
        if not path.is_relative_to(ROOT) or not path.exists():
            missing.append(target)
    # `../x` は章 (book/) から見たパス (literalinclude) としてだけ書ける
    for target in CODE_PATH.findall(text):
        path = (ROOT / "book" / target).resolve()
        if not path.is_relative_to(ROOT) or not path.exists():
            missing.append(target)
    assert not missing, (
        f"{doc} がリポジトリの外か存在しないファイルを指す: {missing}"
    )


def test_contributing_says_what_to_run_before_committing() -> None:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    section = text.split("## コミットの前に", 1)[1].split("\n## ", 1)[0]
    for needle in ("make check", "make test", "remove-cell", "assert"):
        assert needle in section
    assert "default_rng" in section and "section_seeds" in section
