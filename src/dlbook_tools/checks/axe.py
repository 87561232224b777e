"""axe-core (npm で固定) でページのアクセシビリティを検査する。

Playwright で開いた Chromium のページに ``node_modules/axe-core/axe.min.js`` を
読み込み、日本語のロケール (``locales/ja.json``) で ``axe.run()`` を実行する。
重大度 (impact) が ``serious`` か ``critical`` の違反と、重大度によらず
守る規則 (``ENFORCED``) の違反を問題とする。

ライト・ダークの両方で調べられるよう、``open_page`` は pydata-sphinx-theme の
色のモード (``localStorage`` の ``mode``) を読み込み前に決め、ブラウザの
``prefers-color-scheme`` もそれに合わせる (Marp のスライドはこちらを読む)。
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
AXE = ROOT / "node_modules" / "axe-core"
#: 重大度がこれらの違反は失敗にする
FAIL_IMPACTS = ("serious", "critical")
#: 重大度 (moderate) によらず守る規則: 見出しのレベルを飛ばさない
ENFORCED = ("heading-order",)
MODES = ("light", "dark")


@dataclass(frozen=True)
class Violation:
    """1 つの規則の違反 (1 ページ・1 モード)。"""

    page: str
    mode: str
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def describe(self) -> str:
        where = ", ".join(self.targets[:3])
        more = (
            f" ほか {len(self.targets) - 3} か所"
            if len(self.targets) > 3
            else ""
        )
        return (
            f"{self.page} ({self.mode}): [{self.impact}] {self.rule} — "
            f"{self.help} ({where}{more})"
        )


def axe_script() -> str:
    """axe-core 本体と、日本語ロケールを設定するスクリプト。"""
    source = (AXE / "axe.min.js").read_text(encoding="utf-8")
    locale = (AXE / "locales" / "ja.json").read_text(encoding="utf-8")
    return f"{source}\naxe.configure({{locale: {locale}}});\n"


def version() -> str:
    return str(
        json.loads((AXE / "package.json").read_text("utf-8"))["version"]
    )


def mode_script(mode: str) -> str:
    """ページのスクリプトより先に走らせ、テーマの色のモードを決める。"""
    return (
        f"localStorage.setItem('mode', '{mode}');"
        f"localStorage.setItem('theme', '{mode}');"
    )


def open_page(browser: Any, url: str, mode: str) -> tuple[Any, Any]:
    """``mode`` (light / dark) でページを開き、(context, page) を返す。"""
    context = browser.new_context(
        color_scheme=mode,
        locale="ja-JP",
        viewport={"width": 1280, "height": 900},
    )
    context.add_init_script(mode_script(mode))
    page = context.new_page()
    page.goto(url, wait_until="networkidle")
    return context, page


#: 色のモードで結果が変わりうる規則 (ダークモードではこれだけを調べる。
#: 構造の規則 (代替テキスト、名前、見出し、lang など) は色のモードによらない)
COLOR_RULES = ("color-contrast", "link-in-text-block")


def run(
    page: Any, script: str | None = None, rules: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """開いたページで axe を実行し、違反 (axe の ``violations``) を返す。

    ``rules`` を渡せばその規則だけを調べる (axe の ``runOnly``)。
    """
    # ページ自身のスクリプト (フォントが揃った後の処理など) が終わるのを待つ
    page.evaluate(
        "document.fonts.ready.then(() => new Promise(r => setTimeout(r, 300)))"
    )
    page.add_script_tag(content=script or axe_script())
    options: dict[str, Any] = {"resultTypes": ["violations"]}
    if rules:
        options["runOnly"] = {"type": "rule", "values": list(rules)}
    result = page.evaluate(
        "async (options) => await axe.run(document, options)", options
    )
    return list(result["violations"])


def problems(
    violations: list[dict[str, Any]], page: str, mode: str
) -> list[Violation]:
    """失敗にする違反だけを ``Violation`` にする。"""
    out = []
    for v in violations:
        impact = v.get("impact") or "minor"
        if impact not in FAIL_IMPACTS and v["id"] not in ENFORCED:
            continue
        targets = tuple(
            " ".join(str(t) for t in node.get("target", []))
            for node in v["nodes"]
        )
        out.append(Violation(page, mode, v["id"], impact, v["help"], targets))
    return out
