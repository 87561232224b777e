"""日本語の検索で複合語 (畳み込み層、誤差逆伝播法) を見つける。

Sphinx の日本語検索は、索引を作るときに本文を TinySegmenter で単語に分けるが、
ブラウザでは検索語を分けない。「畳み込み層」は 1 語のまま索引を引くので、
索引に「畳み」「込み」しかなければ何も見つからない。しかも 1 文字の語 (層、法) は
索引に入らない (``SearchJapanese.word_filter``)。

この拡張は ``splitQuery`` (language_data.js) を差し替え、日本語を含む検索語を
**索引にある語の並び**に分ける (語の数が最小になる分け方を動的計画法で探す)。
索引にない 1 文字は落とす。区切り方は索引を作ったときの分かち書きに自動で合うので、
本文での分かれ方が文脈によって違っても見つかる。CDN から何も読まない。
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx
from sphinx.search.ja import SearchJapanese

SPLITTER_JS = r"""
/* dlbook_tools.search_ja: 日本語の検索語を索引の語に分ける */
function splitQuery(query) {
  const words = query
    .split(/[^\p{Letter}\p{Number}_\p{Emoji_Presentation}]+/gu)
    .filter((term) => term);
  const index =
    typeof Search !== "undefined" && Search._index ? Search._index : null;
  if (!index) return words;
  const has = Object.prototype.hasOwnProperty;
  const known = (w) =>
    has.call(index.terms, w.toLowerCase()) ||
    has.call(index.titleterms, w.toLowerCase());
  const cjk = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}ー]/u;
  const out = [];
  for (const word of words) {
    if (!cjk.test(word) || known(word)) {
      out.push(word);
      continue;
    }
    const chars = Array.from(word);
    const n = chars.length;
    const UNKNOWN = 10;  // 索引にない 1 文字の費用 (語 1 つは 1)
    const best = new Array(n + 1).fill(Infinity);
    const back = new Array(n + 1).fill(null);
    best[0] = 0;
    for (let i = 0; i < n; i++) {
      if (best[i] === Infinity) continue;
      if (best[i] + UNKNOWN < best[i + 1]) {
        best[i + 1] = best[i] + UNKNOWN;
        back[i + 1] = [i, false];
      }
      for (let j = i + 2; j <= n; j++) {
        if (best[i] + 1 < best[j] && known(chars.slice(i, j).join(""))) {
          best[j] = best[i] + 1;
          back[j] = [i, true];
        }
      }
    }
    const pieces = [];
    for (let j = n; j > 0; j = back[j][0]) {
      if (back[j][1]) pieces.unshift(chars.slice(back[j][0], j).join(""));
    }
    if (pieces.length) out.push(...pieces);
    else out.push(word);
  }
  return out;
}
"""


class SearchJapaneseCompound(SearchJapanese):
    """Sphinx の日本語検索に、複合語を索引の語に分ける ``splitQuery`` を足したもの。"""

    js_splitter_code = SPLITTER_JS


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_search_language(SearchJapaneseCompound)
    return {
        "version": "0.1",
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
