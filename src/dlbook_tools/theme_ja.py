"""テーマの文言で日本語訳のないものを訳す Sphinx 拡張。

sphinx-book-theme と pydata-sphinx-theme の日本語の翻訳には抜けがあり、
「Suggest edit」「Toggle primary sidebar」「Color mode」などが英語のまま
ページに出る。ここで訳を足す。訳す関数を通さずに英語を書き込んでいる
サイドバーの開閉ボタンは、同じ名前のテンプレート (``templates/``)
で置き換えて訳せるようにする。

訳はテーマの翻訳の *後ろ* (fallback) に足すので、テーマがすでに訳している
文言はそのまま使われ、抜けているものだけがここの訳になる。メッセージ
カタログ (.mo) はビルドのたびに ``_build/.dlbook_locale`` に作る。
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from sphinx.application import Sphinx

#: 英語の文言 → 日本語。テーマのテンプレートと Python が使う msgid のまま
TRANSLATIONS = {
    "Suggest edit": "編集を提案",
    "Edit this page": "このページを編集",
    "Repository": "リポジトリ",
    "Source repositories": "ソースのリポジトリ",
    "open issue": "issue を開く",
    "Download this page": "このページをダウンロード",
    "Download source file": "ソースファイルをダウンロード",
    "Print to PDF": "PDF に印刷",
    "Fullscreen mode": "全画面表示",
    "Launch": "起動",
    "Color mode": "配色",
    "System Settings": "システムの設定",
    "Light": "ライト",
    "Dark": "ダーク",
    "Toggle primary sidebar": "左のサイドバーを開閉",
    "Toggle secondary sidebar": "右のサイドバーを開閉",
    "Back to top": "ページの先頭へ",
    "Skip to main content": "本文へ移動",
    "Site navigation": "サイトのナビゲーション",
    "Breadcrumb": "パンくずリスト",
    "Main": "メイン",
    "Page": "ページ",
}

#: 訳を足すメッセージカタログ (book テーマと、pydata テーマが使う sphinx)
CATALOGS = ("booktheme", "sphinx")


def write_catalogs(locale_dir: Path, language: str = "ja") -> Path:
    """``TRANSLATIONS`` を ``CATALOGS`` の名前の .mo に書き、その置き場所を返す。"""
    messages = locale_dir / language / "LC_MESSAGES"
    messages.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(locale=language)
    for msgid, msgstr in TRANSLATIONS.items():
        catalog.add(msgid, msgstr)
    for name in CATALOGS:
        with open(messages / f"{name}.mo", "wb") as f:
            write_mo(f, catalog)
    return locale_dir


TEMPLATES = Path(__file__).with_name("templates")


def setup(app: Sphinx) -> dict[str, Any]:
    if (app.config.language or "").startswith("ja"):
        locale_dir = write_catalogs(Path(app.outdir).parent / ".dlbook_locale")
        for name in CATALOGS:
            app.add_message_catalog(name, str(locale_dir))
        app.config.templates_path.insert(0, str(TEMPLATES))
    return {
        "version": "0.1",
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
