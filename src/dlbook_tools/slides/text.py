"""スライドの文字の小さな規則: 行をつなぐ、指数の改行、文字量の目安。"""

from __future__ import annotations

import re

CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")
BLOCK_START = re.compile(r"^\s*(?:[-*+]\s|\d+[.)]\s|#|\||<|\$\$|>|```|~~~)")
NO_JOIN_AFTER = re.compile(r"^\s*(?:#|\||<|\$\$|```|~~~)")
EXPONENT = re.compile(r"(?<=\d)e-(?=\d)")


def join_lines(left: str, right: str) -> str:
    """折り返した 2 行をつなぐ。日本語どうしの間には空白を入れない。"""
    left, right = left.rstrip(), right.strip()
    if not left or not right:
        return left + right
    if CJK.match(left[-1]) or CJK.match(right[0]):
        return left + right
    return f"{left} {right}"


def no_break_exponent(text: str) -> str:
    """指数表記の「e-」の「-」を、改行しない U+2011 (non-breaking hyphen) にする。

    狭い段組みで「2.6e-」と「12」が別の行に分かれるのを防ぐ。
    """
    return EXPONENT.sub("e\u2011", text)


def unwrap(lines: list[str]) -> list[str]:
    """段落や箇条書きの中の改行をつなぐ (Marp は改行を <br> にするため)。"""
    out: list[str] = []
    in_math = in_code = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")) or in_code:
            in_code = in_code != stripped.startswith(("```", "~~~"))
            out.append(line)
            continue
        if "$$" in stripped and (in_math or stripped.startswith("$$")):
            # $$ の行: 開くか閉じる (1 行で開いて閉じる $$ x $$ は変えない)
            opened_and_closed = not in_math and stripped.count("$$") >= 2
            in_math = False if in_math else not opened_and_closed
            out.append(line)
            continue
        prev = out[-1].strip() if out else ""
        if (
            not in_math
            and stripped
            and prev
            and not BLOCK_START.match(line)
            and not NO_JOIN_AFTER.match(prev)
        ):
            out[-1] = join_lines(out[-1], stripped)
        else:
            out.append(line)
    return out


def text_units(lines: list[str]) -> float:
    """本文の長さの目安。全角 1 文字を 1、半角を 0.55、インライン数式を 4 と数える。"""
    text = "".join(lines)
    text = re.sub(r"\$[^$]*\$", "####", text)
    text = re.sub(r"<[^>]+>|[*`]", "", text)
    return sum(1.0 if CJK.match(c) else 0.55 for c in text if not c.isspace())


def first_sentence(caption: str) -> str:
    """キャプションの最初の文 (スライドでは長い説明を省く)。"""
    head, sep, _ = caption.partition("。")
    return head + sep
