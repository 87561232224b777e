"""MyST の構文を隠してから textlint で日本語の文章を検査する。

textlint の Markdown パーサ (remark) は MyST を知らないので、そのままでは
``{glue:text}`` ロール、``$…$`` の数式、ディレクティブのオプション行、
``(label)=`` などが「文章」に見えて誤検出になる。そこで各章を 1 行ずつ
変換した「影のファイル」を一時ディレクトリに書き、それを textlint に渡す。
行の数は変えないので、報告の行番号はそのまま元の章の行番号であり、
列番号も元の行の位置へ戻して表示する。

ブロックの構造 (ディレクティブ、コード、``$$`` の式、冒頭の YAML) は、スライドと
同じ reader (``dlbook_tools.slides.read``: 本のビルドと同じ拡張の myst-parser の
markdown-it) のトークンで見分ける。文章のディレクティブの本文は入れ子の MyST として
同じ規則をかける。行の中のロールと ``$…$`` は正規表現で隠す (markdown-it の
インラインのトークンは列の位置を持たないため)。

変換の規則:

- jupytext のヘッダ (先頭の ``---`` … ``---``) → 空行
- ``(label)=`` と ``+++`` → 空行。MyST のコメント ``% …`` → 空行
  (ただし ``% textlint-disable …`` / ``% textlint-enable …`` は
  ``<!-- textlint-disable … -->`` に直して filter-rule-comments に渡す)
- 文章を持つディレクティブ (図のキャプション、演習、注意書き、表、スライド)
  → 開き・閉じのフェンスとオプション行 (``:name: …``) を空行にし、本文は残す
- コードを持つディレクティブ (``code-cell``、``literalinclude`` など) と
  知らないディレクティブ → 通常のコードブロック (textlint は検査しない)
- ``$$ … $$`` (と ``{math}``、``\\begin{…}`` … ``\\end{…}``) → 文の途中の式なら
  `` `m` `` を並べて前後の文とつなぎ (「出力は (式) である。」が 1 文になる)、
  句点の後の式なら空行にする
- 行内の ``$…$`` と ``{role}`…``` → 短いインラインコード `` `m` `` / `` `r` ``
  (インラインコードはどの規則も文章として数えないが、文の長さには 3 文字と数える)

使い方::

    python -m dlbook_tools.checks.textlint_myst               # book/*.md
    python -m dlbook_tools.checks.textlint_myst book/ch04_nn_basics.md
    python -m dlbook_tools.checks.textlint_myst --summary     # 規則ごとの件数
    python -m dlbook_tools.checks.textlint_myst --show-masked book/ch04_nn_basics.md
"""

from __future__ import annotations

import argparse
import bisect
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from dlbook_tools.checks import glossary

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / ".textlintrc.json"
TEXTLINT = ROOT / "node_modules" / ".bin" / "textlint"

#: 本文が文章であるディレクティブ (フェンスとオプション行だけ消す)
PROSE_DIRECTIVES = {
    "glue:figure", "figure", "table", "list-table", "exercise", "solution",
    "note", "tip", "hint", "important", "warning", "caution", "attention",
    "danger", "error", "seealso", "admonition", "margin", "sidebar",
    "dropdown", "epigraph", "topic", "slide", "prf:definition",
    "prf:theorem", "prf:proof", "prf:lemma", "prf:example", "prf:remark",
}  # fmt: skip
#: 式として扱うディレクティブ
MATH_DIRECTIVES = {"math", "glue:math"}

OPTION = re.compile(r"^\s*:[\w-]+:.*$")
TARGET = re.compile(r"^\s*\([\w:.-]+\)=\s*$")
ROLE = re.compile(r"\{[\w:.-]+\}(`+)(.+?)\1")
INLINE_MATH = re.compile(r"(?<![\\$])\$(?=\S)(.+?)(?<=\S)(?<!\\)\$(?!\$)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
DISABLE = re.compile(r"^\s*%\s*(textlint-(?:disable|enable)\b.*)$")


@dataclass
class MaskedLine:
    """変換後の 1 行と、列を元の行へ戻すための対応表。"""

    text: str
    # (変換後の開始列, 元の開始列, 変換後の長さ, 元の長さ) — 0 始まり
    pieces: list[tuple[int, int, int, int]] = field(default_factory=list)

    def original_column(self, column: int) -> int:
        """変換後の列 (1 始まり) を元の行の列 (1 始まり) に戻す。"""
        col0, shift = column - 1, 0
        for start, orig, length, orig_length in self.pieces:
            if col0 < start:
                break
            if col0 < start + length:
                return orig + 1
            shift = (orig + orig_length) - (start + length)
        return col0 + shift + 1


def _mask_inline(line: str) -> MaskedLine:
    """行内の MyST ロールと ``$…$`` をインラインコードに置き換える。"""
    out: list[str] = []
    pieces: list[tuple[int, int, int, int]] = []
    pos = 0
    pattern = re.compile(
        f"{ROLE.pattern}|{CODE_SPAN.pattern}|{INLINE_MATH.pattern}"
    )
    for m in pattern.finditer(line):
        text = m.group(0)
        if text.startswith("{"):
            replacement = "`r`"
        elif text.startswith("`"):
            replacement = text  # 普通のインラインコードはそのまま
        else:
            replacement = "`m`"
        out.append(line[pos : m.start()])
        if replacement is not text:
            start = sum(map(len, out))
            pieces.append((start, m.start(), len(replacement), len(text)))
        out.append(replacement)
        pos = m.end()
    out.append(line[pos:])
    return MaskedLine("".join(out), pieces)


def _ends_sentence(lines: list[MaskedLine]) -> bool:
    """直前の空でない行が句点 (や見出し・表) で終わっているか。"""
    for prev in reversed(lines):
        text = prev.text.strip()
        if text:
            return text.endswith(
                ("。", "．", ".", "|", ":", "`")
            ) or text.startswith("#")
    return True


@dataclass
class _Block:
    """myst-parser が見つけたブロック (行番号は 0 始まり、``end`` は含まない)。"""

    kind: str  # "fence" (ディレクティブ・コード)、"math"、"front_matter"
    end: int
    name: str = ""  # ディレクティブ名 ({name})。普通のコードブロックなら ""
    fence: str = ""  # フェンスの記号 (``` や :::)


def _blocks(source: str) -> dict[int, _Block]:
    """章を myst-parser (スライドと同じ reader) で読み、ブロックの位置を返す。

    フェンス・コロンフェンス・``$$`` の式・``\\begin{…}`` の式・冒頭の YAML を、
    本のビルドと同じ拡張の markdown-it のトークンから取る。
    """
    from dlbook_tools.slides import read

    out: dict[int, _Block] = {}
    for tok in read.tokens(source):
        if tok.map is None:
            continue
        start, end = tok.map
        if tok.type in ("fence", "colon_fence"):
            m = re.match(r"^\{([^}]+)\}", tok.info.strip())
            name = m.group(1).strip() if m else ""
            out[start] = _Block("fence", end, name, tok.markup)
        elif tok.type in ("math_block", "math_block_label", "amsmath"):
            out[start] = _Block("math", end)
        elif tok.type == "front_matter":
            out[start] = _Block("front_matter", end)
    return out


def _closes(line: str, fence: str) -> bool:
    """``line`` が ``fence`` で開いたフェンスを閉じる行か。"""
    text = line.strip()
    return len(text) >= len(fence) and set(text) == {fence[0]}


def mask_myst(source: str, in_directive: bool = False) -> list[MaskedLine]:
    """MyST の章を、同じ行数の「textlint 向け Markdown」に変換する。

    ブロックの構造 (ディレクティブ、コード、式) は myst-parser のトークンで
    見分け、行の中 (ロールと ``$…$``) は正規表現で隠す。
    """
    lines = source.split("\n")
    blocks = _blocks(source)
    out: list[MaskedLine] = []

    def blank(n: int = 1) -> None:
        out.extend(MaskedLine("") for _ in range(n))

    def math_block(start: int, n: int) -> None:
        """n 行の式。文の途中なら前後とつなぐ。"""
        if _ends_sentence(out):
            blank(n)
            return
        # 式の直前の空行も段落の一部にする (「出力は」+ 式 + 「である。」)
        for k in range(len(out) - 1, -1, -1):
            if out[k].text.strip():
                break
            out[k] = MaskedLine("`m`")
        out.extend(MaskedLine("`m`") for _ in range(n))
        # 式の直後の空行も同様に (次の行が文の続きなら 1 つの段落になる)
        j = start + n
        while j < len(lines) and not lines[j].strip():
            lines[j] = "`m`"
            j += 1

    i = 0
    while i < len(lines):
        block = blocks.get(i)
        if block is not None:
            n = max(1, min(block.end, len(lines)) - i)
            if block.kind == "front_matter":
                blank(n)
            elif block.kind == "math" or block.name in MATH_DIRECTIVES:
                math_block(i, n)
            elif block.name in PROSE_DIRECTIVES:
                out.extend(_mask_prose_directive(lines[i : i + n], block))
            elif not block.name:  # 普通のコードブロック: そのまま
                out.extend(MaskedLine(ln) for ln in lines[i : i + n])
            else:
                # コード・知らないディレクティブ: 通常のコードブロックにする
                # (コロンのフェンスもバッククォートに)。textlint は検査しない
                mark = "`" * max(3, len(block.fence))
                out.append(MaskedLine(mark + "text"))
                out.extend(MaskedLine(ln) for ln in lines[i + 1 : i + n - 1])
                if n > 1:
                    out.append(MaskedLine(mark))
            i += n
            continue
        line = lines[i]
        stripped = line.strip()
        d = DISABLE.match(line)
        if d:
            out.append(MaskedLine(f"<!-- {d.group(1).strip()} -->"))
        elif (
            TARGET.match(line) or stripped == "+++" or stripped.startswith("%")
        ):
            blank()
        elif (
            in_directive
            and OPTION.match(line)
            and (not out or not out[-1].text.strip())
        ):
            blank()  # 本文の後ろにまとめて書いたオプション (:notes: など)
        else:
            out.append(_mask_inline(line))
        i += 1
    assert len(out) == len(source.split("\n")), "行数が変わった"
    return out


def _mask_prose_directive(lines: list[str], block: _Block) -> list[MaskedLine]:
    """文章のディレクティブ: フェンスとオプションを空行にし、本文を隠して残す。"""
    n = len(lines)
    closed = n > 1 and _closes(lines[-1], block.fence)
    body_end = n - 1 if closed else n
    out = [MaskedLine("")]  # 開きのフェンス
    k = 1
    # 先頭のオプション (:name: など) は空行に。字下げした続きの行 (:notes: の
    # 文章) は文章として検査する
    while k < body_end and (
        OPTION.match(lines[k])
        or (k > 1 and lines[k][:1].isspace() and lines[k].strip())
    ):
        opt = OPTION.match(lines[k]) and not lines[k][:1].isspace()
        out.append(MaskedLine("") if opt else _mask_inline(lines[k]))
        k += 1
    if k < body_end and lines[k].strip() == "---":  # YAML のオプション
        close = next(
            (j for j in range(k + 1, body_end) if lines[j].strip() == "---"),
            None,
        )
        if close is not None:
            out.extend(MaskedLine("") for _ in range(k, close + 1))
            k = close + 1
    body = lines[k:body_end]
    if body:
        # 本文は入れ子の Markdown (式や code-cell を含みうる) として同じ規則で
        indent = min(
            (len(ln) - len(ln.lstrip()) for ln in body if ln.strip()),
            default=0,
        )
        inner = mask_myst(
            "\n".join(ln[indent:] for ln in body), in_directive=True
        )
        # 字下げを戻し、列の対応もずらす
        for m in inner:
            shifted = [
                (a + indent, b + indent, c, d) for a, b, c, d in m.pieces
            ]
            out.append(
                MaskedLine(" " * indent + m.text if m.text else "", shifted)
            )
    if closed:
        out.append(MaskedLine(""))
    return out


@dataclass
class Violation:
    """textlint の指摘 1 件 (元の章の行・列で)。"""

    path: str
    line: int
    column: int
    rule: str
    message: str

    def __str__(self) -> str:
        message = self.message.replace("\n", " ")
        return (
            f"{self.path}:{self.line}:{self.column}: {message} ({self.rule})"
        )


def _relative(path: Path, root: Path) -> str:
    """表示用のパス (root の外なら絶対パス)。"""
    path = path.resolve()
    return (
        path.relative_to(root).as_posix()
        if path.is_relative_to(root)
        else str(path)
    )


def run_textlint(paths: list[Path], root: Path = ROOT) -> list[Violation]:
    """章を変換して textlint に 1 回でかけ、指摘を元の位置で返す。"""
    if not TEXTLINT.exists():
        raise SystemExit(
            f"textlint がありません: {TEXTLINT} (make setup で入ります)"
        )
    glossary.write_prh()  # .textlintrc.json が読む prh 辞書を用語集から作る
    masks: dict[str, tuple[str, list[MaskedLine]]] = {}
    with tempfile.TemporaryDirectory(prefix="dlbook-textlint-") as tmp:
        shadows = []
        for path in paths:
            rel = _relative(path, root)
            masked = mask_myst(path.read_text(encoding="utf-8"))
            shadow = Path(tmp) / rel.lstrip("/")
            shadow.parent.mkdir(parents=True, exist_ok=True)
            shadow.write_text(
                "\n".join(m.text for m in masked), encoding="utf-8"
            )
            masks[str(shadow.resolve())] = (rel, masked)
            shadows.append(str(shadow))
        cmd = [
            str(TEXTLINT),
            "--config",
            str(CONFIG),
            "--format",
            "json",
            *shadows,
        ]
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
        if proc.returncode not in (0, 1) or not proc.stdout.strip():
            raise SystemExit(
                f"textlint が失敗しました:\n{proc.stdout}\n{proc.stderr}"
            )
        results = json.loads(proc.stdout)
    violations = []
    for result in results:
        rel, masked = masks[str(Path(result["filePath"]).resolve())]
        # 位置は文字の通し番号 (index) から数え直す (textlint の loc は、
        # 行頭から始まる文で列がずれることがある)
        starts = [0]
        for m in masked:
            starts.append(starts[-1] + len(m.text) + 1)
        for msg in result["messages"]:
            index = msg.get("range", [msg.get("index", 0)])[0]
            line = bisect.bisect_right(starts, index)
            column = masked[line - 1].original_column(
                index - starts[line - 1] + 1
            )
            violations.append(
                Violation(rel, line, column, msg["ruleId"], msg["message"])
            )
    violations.sort(key=lambda v: (v.path, v.line, v.column))
    return violations


def default_paths(root: Path = ROOT) -> list[Path]:
    """検査する章: book/ の Markdown すべて。"""
    return sorted((root / "book").glob("*.md"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument(
        "--summary", action="store_true", help="章・規則ごとの件数"
    )
    parser.add_argument(
        "--show-masked", action="store_true", help="変換結果を表示"
    )
    args = parser.parse_args(argv)
    paths = args.paths or default_paths()
    if args.show_masked:
        for path in paths:
            for k, m in enumerate(
                mask_myst(path.read_text(encoding="utf-8")), 1
            ):
                print(f"{k:4d}| {m.text}")
        return 0
    if shutil.which("node") is None:
        raise SystemExit("node がありません (make setup で入ります)")
    violations = run_textlint(paths)
    for v in violations:
        print(v)
    if args.summary:
        print()
        counts = Counter((v.path, v.rule) for v in violations)
        for (path, rule), n in sorted(counts.items()):
            print(f"{n:4d}  {path}  {rule}")
    if violations:
        n = len(violations)
        print(f"\n文章の指摘が {n} 件あります (textlint)。", file=sys.stderr)
        print(
            "誤検出なら行の前に `% textlint-disable 規則名` を、"
            "言葉なら .textlint-allowlist.yml に足す (README の「品質チェック」)。",
            file=sys.stderr,
        )
        return 1
    print(f"textlint: {len(paths)} ファイル、指摘なし")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
