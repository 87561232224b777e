"""MyST の構文を隠してから textlint で日本語の文章を検査する。

textlint の Markdown パーサ (remark) は MyST を知らないので、そのままでは
``{glue:text}`` ロール、``$…$`` の数式、ディレクティブのオプション行、
``(label)=`` などが「文章」に見えて誤検出になる。そこで各章を 1 行ずつ
変換した「影のファイル」を一時ディレクトリに書き、それを textlint に渡す。
行の数は変えないので、報告の行番号はそのまま元の章の行番号であり、
列番号も元の行の位置へ戻して表示する。

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

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,}|:{3,})\s*(\{([^}]+)\})?(.*)$")
OPTION = re.compile(r"^\s*:[\w-]+:.*$")
TARGET = re.compile(r"^\s*\([\w:.-]+\)=\s*$")
ROLE = re.compile(r"\{[\w:.-]+\}(`+)(.+?)\1")
INLINE_MATH = re.compile(r"(?<![\\$])\$(?=\S)(.+?)(?<=\S)(?<!\\)\$(?!\$)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
ENV_BEGIN = re.compile(r"^\s*\\begin\{(\w+\*?)\}")
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


def mask_myst(source: str) -> list[MaskedLine]:
    """MyST の章を、同じ行数の「textlint 向け Markdown」に変換する。"""
    lines = source.split("\n")
    out: list[MaskedLine] = []
    stack: list[str] = []  # 開いている「文章のディレクティブ」のフェンス
    i = 0
    if lines and lines[0].strip() == "---":  # jupytext のヘッダ
        end = next(
            (k for k in range(1, len(lines)) if lines[k].strip() == "---"), 0
        )
        out += [MaskedLine("") for _ in range(end + 1)]
        i = end + 1

    def blank(n: int = 1) -> None:
        out.extend(MaskedLine("") for _ in range(n))

    def math_block(n: int) -> None:
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
        j = i + n
        while j < len(lines) and not lines[j].strip():
            lines[j] = "`m`"
            j += 1

    while i < len(lines):
        line = lines[i]
        m = FENCE.match(line)
        if (
            stack
            and m
            and not m.group(3)
            and m.group(2)[0] == stack[-1][0]
            and len(m.group(2)) >= len(stack[-1])
            and not m.group(5).strip()
        ):
            stack.pop()  # 文章のディレクティブを閉じる
            blank()
            i += 1
            continue
        if m and m.group(3):
            fence, name = m.group(2), m.group(4).strip()
            if name in PROSE_DIRECTIVES:
                stack.append(fence)
                blank()
                i += 1
                while i < len(lines) and OPTION.match(lines[i]):  # :name: など
                    blank()
                    i += 1
                if (
                    i < len(lines) and lines[i].strip() == "---"
                ):  # YAML のオプション
                    end = next(
                        (
                            k
                            for k in range(i + 1, len(lines))
                            if lines[k].strip() == "---"
                        ),
                        i,
                    )
                    blank(end - i + 1)
                    i = end + 1
                continue
            # コードのディレクティブ・知らないディレクティブ: 閉じるまでそのまま
            end = i + 1
            while end < len(lines):
                c = FENCE.match(lines[end])
                if (
                    c
                    and c.group(2)[0] == fence[0]
                    and len(c.group(2)) >= len(fence)
                ):
                    if not c.group(3) and not c.group(5).strip():
                        break
                end += 1
            n = min(end, len(lines) - 1) - i + 1
            if name in MATH_DIRECTIVES:
                math_block(n)
            else:
                # 通常のコードブロックにする (コロンのフェンスもバッククォートに)
                out.append(MaskedLine("`" * max(3, len(fence)) + "text"))
                out.extend(MaskedLine(ln) for ln in lines[i + 1 : i + n - 1])
                if n > 1:
                    out.append(MaskedLine("`" * max(3, len(fence))))
            i += n
            continue
        if m and not m.group(3):  # 普通のコードブロック: 閉じるまでそのまま
            fence = m.group(2)
            end = i + 1
            while end < len(lines) and not lines[end].lstrip().startswith(
                fence
            ):
                end += 1
            end = min(end, len(lines) - 1)
            out.extend(MaskedLine(ln) for ln in lines[i : end + 1])
            i = end + 1
            continue
        stripped = line.strip()
        if stripped.startswith("$$"):
            end = i
            rest = stripped[2:]
            if "$$" not in rest:
                end = i + 1
                while end < len(lines) and "$$" not in lines[end]:
                    end += 1
            math_block(min(end, len(lines) - 1) - i + 1)
            i = end + 1
            continue
        env = ENV_BEGIN.match(line)
        if env:
            close = f"\\end{{{env.group(1)}}}"
            end = i
            while end < len(lines) and close not in lines[end]:
                end += 1
            math_block(min(end, len(lines) - 1) - i + 1)
            i = end + 1
            continue
        d = DISABLE.match(line)
        if d:
            out.append(MaskedLine(f"<!-- {d.group(1).strip()} -->"))
        elif (
            TARGET.match(line) or stripped == "+++" or stripped.startswith("%")
        ):
            blank()
        elif stack and OPTION.match(line) and out and not out[-1].text.strip():
            blank()
        else:
            out.append(_mask_inline(line))
        i += 1
    assert len(out) == len(source.split("\n")), "行数が変わった"
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
