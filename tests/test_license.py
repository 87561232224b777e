"""ライセンスと引用情報: LICENSE の分け方、CITATION.cff とサイトの BibTeX、表示する場所。"""

from __future__ import annotations

import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup

from dlbook_tools import license, notebooks
from dlbook_tools.checks import site

ROOT = Path(__file__).resolve().parents[1]


def test_license_files_split_code_and_text() -> None:
    code = (ROOT / license.CODE_FILE).read_text("utf-8")
    text = (ROOT / license.TEXT_FILE).read_text("utf-8")
    assert code.startswith("MIT License")
    assert text.startswith("Attribution-ShareAlike 4.0 International")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    assert project["project"]["license"] == "MIT"  # wheel はコードだけ


def test_citation_matches_the_book() -> None:
    cff = license.citation()
    config = yaml.safe_load((ROOT / "_config.yml").read_text("utf-8"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    assert cff["cff-version"] == "1.2.0"
    assert cff["title"] == config["title"]
    assert cff["version"] == project["project"]["version"]
    assert cff["authors"] == [{"name": config["author"]}]
    assert cff["repository-code"] == config["repository"]["url"]
    assert sorted(cff["license"]) == ["CC-BY-SA-4.0", "MIT"]


def test_bibtex_says_what_citation_cff_says(tmp_path: Path) -> None:
    cff = tmp_path / "CITATION.cff"
    cff.write_text(
        "cff-version: 1.2.0\ntitle: 本\nversion: '2.0'\n"
        "date-released: '2030-01-02'\nlicense: MIT\n"
        "repository-code: https://example.org/r\n"
        "authors:\n  - family-names: 山田\n    given-names: 花子\n"
        "  - name: チーム\n",
        encoding="utf-8",
    )
    assert license.bibtex(cff) == (
        "@book{dlbook2030,\n"
        "  title = {本},\n"
        "  author = {山田, 花子 and チーム},\n"
        "  year = {2030},\n"
        "  url = {https://example.org/r},\n"
        "  note = {Version 2.0. License: MIT}\n"
        "}"
    )


def test_notebooks_state_the_license_in_their_first_cell() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    first = notebooks.add_install_cell(nb).cells[0]
    assert first.cell_type == "markdown"
    assert license.TEXT_URL in first.source
    assert f"[{license.CODE_NAME}]" in first.source


@pytest.mark.site
def test_every_page_footer_shows_the_license(built_site: Path) -> None:
    missing = []
    for rel in site.pages(built_site):
        soup = BeautifulSoup(
            (built_site / rel).read_text("utf-8"), "html.parser"
        )
        notice = soup.select_one("footer .dlbook-license")
        link = notice.find("a", rel="license") if notice else None
        if not link or link.get("href") != license.TEXT_URL:
            missing.append(rel)
    assert not missing, f"フッターにライセンスがないページ: {missing}"


@pytest.mark.site
def test_front_page_offers_the_citation_cff_bibtex(built_site: Path) -> None:
    pages = [
        p
        for p in built_site.rglob("*.html")
        if "dlbook-bibtex" in p.read_text("utf-8")
    ]
    assert len(pages) == 1, pages
    soup = BeautifulSoup(pages[0].read_text("utf-8"), "html.parser")
    block = soup.select_one("pre.dlbook-bibtex, .dlbook-bibtex pre")
    assert block is not None
    shown = block.get_text()
    assert shown.strip() == license.bibtex()
