"""用語集から作る textlint の prh 辞書: 最新であり、``textlint --fix`` が表記を直す。"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dlbook_tools.checks import glossary

ROOT = Path(__file__).resolve().parents[1]
TEXTLINT = ROOT / "node_modules" / ".bin" / "textlint"


def test_write_prh_follows_the_glossary(tmp_path: Path) -> None:
    table = tmp_path / "glossary.md"
    table.write_text(
        "| 日本語 | 英語 | 初出 | 使わない表記 |\n| --- | --- | --- | --- |\n"
        "| 順伝播 | forward | [4 章](ch04.md) | 順伝搬 |\n",
        encoding="utf-8",
    )
    out = glossary.write_prh(tmp_path / "prh.yml", table)
    assert '      - "順伝搬"' in out.read_text("utf-8")
    table.write_text(
        table.read_text("utf-8").replace("順伝搬", "順でんぱ"),
        encoding="utf-8",
    )
    text = glossary.write_prh(tmp_path / "prh.yml", table).read_text("utf-8")
    assert "順伝搬" not in text
    assert '      - "順でんぱ"' in text


def test_prh_yaml_lists_each_variant() -> None:
    term = glossary.Term("順伝播", "forward", "ch04.md", ("順伝搬", "順 伝搬"))
    plain = glossary.Term("テンソル", "tensor", "ch05.md", ())
    text = glossary.prh_yaml([term, plain])
    assert '  - expected: "順伝播"\n    patterns:\n' in text
    assert '      - "順伝搬"\n      - "順 伝搬"\n' in text
    assert "テンソル" not in text


@pytest.mark.skipif(not TEXTLINT.exists(), reason="npm ci がまだ")
def test_textlint_fix_replaces_every_forbidden_variant(tmp_path: Path) -> None:
    terms = [t for t in glossary.parse_glossary() if t.variants]
    assert terms
    pairs = [(v, t.ja) for t in terms for v in t.variants]
    glossary.write_prh()  # .textlintrc.json が読む辞書 (textlint_myst と同じ)
    doc = tmp_path / "doc.md"
    doc.write_text(
        "# 試し\n\n" + "".join(f"ここは{v}とする。\n\n" for v, _ in pairs),
        encoding="utf-8",
    )
    subprocess.run(
        [str(TEXTLINT), "--config", str(ROOT / ".textlintrc.json"), "--fix",
         str(doc)],
        cwd=tmp_path, capture_output=True, check=False,
    )  # fmt: skip
    fixed = doc.read_text("utf-8")
    for variant, ja in pairs:
        assert f"ここは{ja}とする。" in fixed, f"{variant} → {ja} に直らない"
