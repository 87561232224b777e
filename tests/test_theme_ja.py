"""dlbook_tools.theme_ja: テーマの訳の抜けを埋めるメッセージカタログ。"""

from __future__ import annotations

import gettext
from pathlib import Path

from dlbook_tools.theme_ja import CATALOGS, TRANSLATIONS, write_catalogs


def test_catalogs_translate_every_message(tmp_path: Path) -> None:
    locale_dir = write_catalogs(tmp_path)
    for name in CATALOGS:
        t = gettext.translation(name, str(locale_dir), languages=["ja"])
        for msgid, msgstr in TRANSLATIONS.items():
            assert t.gettext(msgid) == msgstr
        assert t.gettext("not in the catalog") == "not in the catalog"


def test_translations_are_japanese() -> None:
    for msgid, msgstr in TRANSLATIONS.items():
        assert msgstr and msgstr != msgid
        assert any("\u3040" <= ch <= "\u9fff" for ch in msgstr), msgstr
