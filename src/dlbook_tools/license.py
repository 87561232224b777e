"""この本のライセンス (1 か所): サイトのフッター、ノートブックの最初のセル、引用情報が使う。

d2l や QuantEcon と同じ分け方である。

- 本文・図・スライド (``book/``、``slides/``、生成した図とノートブックの文章):
  CC BY-SA 4.0 (``LICENSE-CC-BY-SA-4.0.txt``)
- コード (``src/``、``tests/``、``benchmarks/``、ツール): MIT (``LICENSE``)
"""

from __future__ import annotations

import html
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1].parent
CITATION = ROOT / "CITATION.cff"

TEXT_NAME = "CC BY-SA 4.0"
TEXT_URL = "https://creativecommons.org/licenses/by-sa/4.0/deed.ja"
CODE_NAME = "MIT"
TEXT_FILE = "LICENSE-CC-BY-SA-4.0.txt"
CODE_FILE = "LICENSE"


def _file_url(repo: str, name: str) -> str:
    return f"{repo}/blob/main/{name}"


def notice_html(repo: str) -> str:
    """フッターに置く 1 行 (HTML)。"""
    text = f'<a rel="license" href="{html.escape(TEXT_URL)}">{TEXT_NAME}</a>'
    code = (
        f'<a href="{html.escape(_file_url(repo, CODE_FILE))}">{CODE_NAME}</a>'
    )
    return (
        '<p class="dlbook-license">'
        f"本文・図・スライドは {text}、コードは {code} ライセンスで利用できる。"
        "</p>"
    )


def notice_markdown(repo: str) -> str:
    """ノートブックの最初のセルに置く文 (Markdown)。"""
    return (
        f"本文・図・スライドは [{TEXT_NAME}]({TEXT_URL})、コードは "
        f"[{CODE_NAME}]({_file_url(repo, CODE_FILE)}) ライセンスで利用できる"
        " (text and figures: CC BY-SA 4.0; code: MIT)。"
    )


def citation(path: Path = CITATION) -> dict:
    """``CITATION.cff`` の中身。"""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def bibtex(path: Path = CITATION) -> str:
    """``CITATION.cff`` と同じ内容の BibTeX (サイトの表紙に載せる)。"""
    cff = citation(path)
    authors = " and ".join(
        a.get("name") or f"{a['family-names']}, {a['given-names']}"
        for a in cff["authors"]
    )
    year = str(cff["date-released"])[:4]
    licenses = cff["license"]
    if isinstance(licenses, str):
        licenses = [licenses]
    fields = {
        "title": cff["title"],
        "author": authors,
        "year": year,
        "url": cff["repository-code"],
        "note": f"Version {cff['version']}. License: {', '.join(licenses)}",
    }
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields.items())
    return f"@book{{dlbook{year},\n{body}\n}}"
