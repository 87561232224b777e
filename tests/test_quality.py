"""品質チェックの検査: 文章 (textlint の前処理)、用語集、記法、ワークフロー、リンク。

textlint と actionlint そのものは ``make lint`` が全章・全ワークフローに走らせる。
ここでは前処理と用語の規則が正しいこと (誤検出せず、本物の誤りを捕まえる) を確かめる。
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from dlbook_tools.checks import glossary, site, textlint_myst, workflows

ROOT = Path(__file__).resolve().parents[1]
HAS_TEXTLINT = (
    textlint_myst.TEXTLINT.exists() and shutil.which("node") is not None
)

MYST = """\
---
jupytext:
  text_representation: {extension: .md}
---

# 見出し

(ch9-label)=
## 節

入力 $\\mathbf{x} \\in \\mathbb{R}^D$、重み $W$ に対し、出力は

$$
y = \\sigma(W \\mathbf{x} + b)
$$ (eq-ch9-out)

である。精度は {glue:text}`ch9-acc:.1f` % で、{numref}`fig-ch9` に示す。

```{code-cell} ipython3
:tags: [hide-input]
print("これはコードです、なので検査しません")
```

```{glue:figure} fig-ch9
:name: fig-ch9
:alt: 代替テキスト

学習曲線である。
```

% textlint-disable ja-technical-writing/ja-no-mixed-period
句点のない一文
% textlint-enable
"""


def test_mask_keeps_lines_and_hides_myst() -> None:
    masked = textlint_myst.mask_myst(MYST)
    text = "\n".join(m.text for m in masked)
    assert len(masked) == len(MYST.split("\n"))
    for myst in (
        "{glue:text}",
        "{numref}",
        "$",
        "(ch9-label)=",
        ":name:",
        "jupytext",
    ):
        assert myst not in text, myst
    assert "```{glue:figure}" not in text and "学習曲線である。" in text
    assert (
        "<!-- textlint-disable ja-technical-writing/ja-no-mixed-period -->"
        in text
    )
    # 文の途中の式は前後の文とつながる (「出力は」で段落が切れない)
    lines = text.split("\n")
    start = next(i for i, ln in enumerate(lines) if ln.startswith("入力"))
    assert all(ln.strip() for ln in lines[start : start + 7])


def test_mask_maps_columns_back() -> None:
    line = "精度は {glue:text}`ch9-acc:.1f` % で、$x$ の値"
    masked = textlint_myst.mask_myst(line)[0]
    col = masked.text.index("で、") + 1
    assert masked.original_column(col) == line.index("で、") + 1


@pytest.mark.skipif(not HAS_TEXTLINT, reason="textlint がない (make setup)")
def test_textlint_accepts_myst_and_flags_real_mistakes(tmp_path: Path) -> None:
    clean = tmp_path / "clean.md"
    clean.write_text(MYST, encoding="utf-8")
    assert textlint_myst.run_textlint([clean]) == []
    bad = tmp_path / "bad.md"
    bad.write_text(
        MYST + "\nこれはペンです。\n\n計算を実行することができる。\n",
        encoding="utf-8",
    )
    found = {
        (v.line, v.rule.split("/")[-1])
        for v in textlint_myst.run_textlint([bad])
    }
    n = len(MYST.split("\n"))
    assert (n + 1, "no-mix-dearu-desumasu") in found
    assert (n + 3, "ja-no-redundant-expression") in found


def test_textlint_config_is_valid_json() -> None:
    import json

    config = json.loads(
        (ROOT / ".textlintrc.json").read_text(encoding="utf-8")
    )
    assert "preset-ja-technical-writing" in config["rules"]
    assert (
        config["rules"]["preset-ja-technical-writing"][
            "no-mix-dearu-desumasu"
        ]["preferInBody"]
        == "である"
    )


# ---------------------------------------------------------------- 用語集と記法


@pytest.fixture(scope="module")
def terms() -> list[glossary.Term]:
    return glossary.parse_glossary()


def test_glossary_is_well_formed(terms: list[glossary.Term]) -> None:
    assert len(terms) >= 30
    names = [t.ja for t in terms]
    assert len(names) == len(set(names)), "同じ用語が 2 度ある"
    canonical = set(names)
    for term in terms:
        assert (ROOT / "book" / term.chapter).exists(), term
        assert term.en and term.en == term.en.strip()
        for variant in term.variants:
            assert variant not in canonical, (
                f"「{variant}」は正しい表記でもある"
            )
            assert variant != term.ja


def test_each_term_is_spelled_one_way(terms: list[glossary.Term]) -> None:
    findings = glossary.find_variants(terms, glossary.chapters())
    assert not findings, "\n".join(map(str, findings))


def test_variant_check_catches_variants(tmp_path: Path, terms) -> None:
    chapter = tmp_path / "ch09_demo.md"
    chapter.write_text(
        "畳込み層の出力はニューロン素子の出力である。\n", encoding="utf-8"
    )
    found = {f.variant for f in glossary.find_variants(terms, [chapter])}
    assert found == {"畳込み", "ニューロン素子"}


def test_each_term_appears_in_its_first_chapter(
    terms: list[glossary.Term],
) -> None:
    missing = [
        f"{t.ja} → book/{t.chapter}"
        for t in terms
        if t.ja not in (ROOT / "book" / t.chapter).read_text(encoding="utf-8")
    ]
    assert not missing, "用語集の「初出」の章に用語がない:\n" + "\n".join(
        missing
    )


def test_notation_covers_shape_letters() -> None:
    """``N, C, H, W = x.shape`` のような展開の文字は、すべて記法の表にある。"""
    notation = (ROOT / "book" / "notation.md").read_text(encoding="utf-8")
    symbols = set(re.findall(r"^\| \$([^$]+)\$", notation, re.M))
    symbols |= {s.strip() for row in re.findall(r"^\| (\$[^|]+)\|", notation, re.M)
                for s in re.findall(r"\$([^$]+)\$", row)}  # fmt: skip
    # 「コード」の列の名前 (H_p に対する Hp など)
    symbols |= {name for row in re.findall(r"^\| \$.*\| (.*) \|$", notation, re.M)
                for name in re.findall(r"`(\w+)`", row)}  # fmt: skip
    unpack = re.compile(
        r"^\s*([A-Z]\w*(?:, *\w+)+) *= *[\w.\[\]]+\.shape", re.M
    )
    letters = set()
    for path in (ROOT / "src" / "dlbook").glob("*.py"):
        for m in unpack.finditer(path.read_text(encoding="utf-8")):
            letters |= {
                n.strip().rstrip("_")
                for n in m.group(1).split(",")
                if n.strip() not in ("_",) and n.strip()[0].isupper()
            }
    missing = sorted(letters - symbols)
    assert not missing, f"記法 (book/notation.md) にない形の文字: {missing}"


def test_appendix_pages_are_in_toc() -> None:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert "book/glossary" in files and "book/notation" in files


# ---------------------------------------------------------------- ワークフロー


@pytest.mark.skipif(shutil.which("node") is None, reason="node がない")
def test_actionlint_runs_and_catches_errors(tmp_path: Path) -> None:
    if not (ROOT / "node_modules" / "@tktco" / "node-actionlint").exists():
        pytest.skip("actionlint (npm) がない (make setup)")
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: [self-hosted, gpu]\n"
        "    needs: [nope]\n    steps:\n      - run: echo hi\n",
        encoding="utf-8",
    )
    problems = workflows.actionlint([bad])
    assert any("job-needs" in p for p in problems), problems
    assert not any("runner-label" in p for p in problems), (
        "gpu は設定済みのラベル"
    )


# ---------------------------------------------------------------- 外部リンク


@pytest.mark.site
def test_external_links_are_listed(built_site: Path) -> None:
    report = site.write_external_report(built_site)
    text = report.read_text(encoding="utf-8")
    assert text.startswith("# 外部リンクの一覧")
    for url in site.external_links(built_site):
        assert re.match(r"^(https://|mailto:)\S+$", url), (
            f"http: か空白を含む: {url}"
        )
