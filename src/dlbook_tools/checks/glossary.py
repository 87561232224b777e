"""用語集 (book/glossary.md) の表を読み、章の表記ゆれを探す。

用語集の表の列は「日本語 | 英語 | 初出 | 使わない表記」。
「使わない表記」(「、」区切り) が章のどこかに現れたら指摘する。

同じ表から textlint の prh 辞書 (``.textlint-prh.yml``、リポジトリには入れない) も作る。
``.textlintrc.json`` が読むので、``make lint`` (textlint_myst が毎回作り直す) か
``--prh`` の後なら ``npx textlint --fix book/ch04_nn_basics.md`` が使わない表記を直す。

使い方::

    python -m dlbook_tools.checks.glossary        # 表記ゆれと、英語のかっこ書きの有無
    python -m dlbook_tools.checks.glossary --prh  # 用語集から .textlint-prh.yml を作る
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
GLOSSARY = ROOT / "book" / "glossary.md"
PRH = ROOT / ".textlint-prh.yml"
CHAPTER_GLOB = "ch[0-9][0-9]_*.md"


@dataclass(frozen=True)
class Term:
    """用語集の 1 行。"""

    ja: str
    en: str
    chapter: str  # 初出の章のファイル名 (例: ch04_nn_basics.md)
    variants: tuple[str, ...]


@dataclass(frozen=True)
class Finding:
    """章の中で見つかった「使わない表記」。"""

    path: str
    line: int
    variant: str
    term: Term

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}: 「{self.variant}」ではなく"
            f"「{self.term.ja}」と書く (用語集)"
        )


def parse_glossary(path: Path = GLOSSARY) -> list[Term]:
    """用語集の Markdown の表を読む。"""
    terms = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if (
            not line.startswith("|")
            or len(cells) != 4
            or cells[0] in ("日本語", "---")
        ):
            continue
        ja, en, first, variants = cells
        link = re.search(r"\]\(([^)]+\.md)\)", first)
        if link is None:
            raise ValueError(
                f"用語集の「{ja}」の初出が章へのリンクではない: {first}"
            )
        split = tuple(
            v.strip() for v in re.split("[、,]", variants) if v.strip()
        )
        terms.append(Term(ja, en, link.group(1), split))
    return terms


def chapters(root: Path = ROOT) -> list[Path]:
    """検査する章 (book/chNN_*.md)。"""
    return sorted((root / "book").glob(CHAPTER_GLOB))


def find_variants(terms: list[Term], paths: list[Path]) -> list[Finding]:
    """章の中の「使わない表記」をすべて探す (コードセルの文字列も読者に見える)。"""
    findings = []
    for path in paths:
        rel = path.name
        for number, line in enumerate(
            path.read_text(encoding="utf-8").splitlines(), 1
        ):
            for term in terms:
                for variant in term.variants:
                    if variant in line:
                        findings.append(
                            Finding(f"book/{rel}", number, variant, term)
                        )
    return findings


def missing_gloss(terms: list[Term], root: Path = ROOT) -> list[Term]:
    """初出の章で「日本語 (English …)」のかっこ書きが見つからない用語 (参考)。"""
    missing = []
    for term in terms:
        text = (root / "book" / term.chapter).read_text(encoding="utf-8")
        english = re.escape(term.en.split(" (")[0])
        ja = re.escape(term.ja)
        pattern = rf"{ja}[^。]{{0,20}}?[(（][^)）]*{english}|{ja}\s*[,、]\s*{english}"
        if not re.search(pattern, text, re.IGNORECASE):
            missing.append(term)
    return missing


def prh_yaml(terms: list[Term]) -> str:
    """prh の辞書 (YAML): 使わない表記を用語集の表記に直す規則。"""
    lines = [
        "# book/glossary.md から作った (git には入れない)。手で直さない:",
        "#   python -m dlbook_tools.checks.glossary --prh",
        "version: 1",
        "rules:",
    ]
    for term in terms:
        if not term.variants:
            continue
        lines.append(
            f"  - expected: {json.dumps(term.ja, ensure_ascii=False)}"
        )
        lines.append("    patterns:")
        lines += [
            f"      - {json.dumps(v, ensure_ascii=False)}"
            for v in term.variants
        ]
    return "\n".join(lines) + "\n"


def write_prh(path: Path = PRH, glossary: Path = GLOSSARY) -> Path:
    """用語集から prh 辞書を書く (中身が同じなら書かない)。"""
    text = prh_yaml(parse_glossary(glossary))
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def main() -> int:
    if sys.argv[1:] == ["--prh"]:
        print(f"{write_prh().relative_to(ROOT)} を書いた")
        return 0
    terms = parse_glossary()
    findings = find_variants(terms, chapters())
    for finding in findings:
        print(finding)
    for term in missing_gloss(terms):
        print(
            f"参考: book/{term.chapter}: 「{term.ja} ({term.en})」の"
            "かっこ書きが見つからない"
        )
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
