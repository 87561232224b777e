"""決定性の検査: 同じ機械で 2 回実行した章が同じ数値を出すか。

ビルドが実行したノートブック (``_build/jupyter_execute/book/<章>.ipynb``) を
1 回目の実行とみなし、そのセルを新しいカーネルで (nbclient) もう一度実行して、
次の 2 つを比べる:

- glue した値 (``text/plain``) — 本文に出る数値そのもの
- 各コードセルの文字の出力 (``stream`` と ``text/plain``)

時間は毎回変わるので、次のものは比べない:

- 時間を表す glue のキー: 最後の部分が ``time``/``timing``/``seconds``/``gflops``/``speedup``/
  ``elapsed``/``throughput``/``step`` のもの (例 ``ch5-train-time``、``ch5-cpu-step``)
- タグ ``timing`` (または ``nondeterministic``) を付けたセルの出力と glue のすべて
- 時間の単位 (秒、ms、µs、it/s、GFLOPS など) の付いた数を含む行は、その行の数をすべて
  ``<数>`` にしてから比べる。メモリのアドレス (``0x7f…``) も同様

図 (PNG) は比べない (図の元になる数値は glue か出力で比べる)。

使い方::

    python -m dlbook_tools.checks.determinism                 # いちばん速い章
    python -m dlbook_tools.checks.determinism --all      # すべての章 (make determinism)
    python -m dlbook_tools.checks.determinism ch06_cnn        # 章を指定
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from dlbook_tools.notebooks import has_outputs, merge_cached_outputs

ROOT = Path(__file__).resolve().parents[3]
EXECUTED = ROOT / "_build" / "jupyter_execute" / "book"
CACHE = ROOT / "_build" / ".jupyter_cache"
SKIP_TAGS = {"timing", "nondeterministic"}
TIMING_KEY = re.compile(
    r"-(time|timing|seconds|gflops|speedup|elapsed|throughput|step)$"
)
TIME_UNIT = re.compile(
    r"\d(?:[\d.,]*\d)?(?:e[+-]?\d+)?\s*"
    r"(?:秒|分|ミリ秒|ms|µs|μs|us|ns|s|sec|it/s|GFLOPS|GFLOP/s|TFLOPS)(?![A-Za-z])"
)
NUMBER = re.compile(r"[-+]?\d(?:[\d.,]*\d)?(?:e[+-]?\d+)?")
ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")


def normalise(text: str) -> str:
    """時間の行の数とメモリのアドレスを伏せる。"""
    text = ADDRESS.sub("0x…", text)
    lines = []
    for line in text.splitlines():
        if TIME_UNIT.search(line):
            line = NUMBER.sub("<数>", line)
        lines.append(line.rstrip())
    return "\n".join(lines)


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


@dataclass
class Snapshot:
    """1 回の実行で比べる値。"""

    glue: dict[str, str] = field(default_factory=dict)
    cells: dict[int, list[str]] = field(default_factory=dict)


def snapshot(nb: dict[str, Any]) -> Snapshot:
    """ノートブックの glue と文字の出力を (正規化して) 取り出す。"""
    snap = Snapshot()
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        if SKIP_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        texts = []
        streams: dict[str, str] = {}  # 流れ (stdout/stderr) ごとにつなげる
        for out in cell.get("outputs", []):
            scrap = out.get("metadata", {}).get("scrapbook", {})
            name = scrap.get("name")
            data = out.get("data", {})
            if name is not None:
                # glue(..., display=False) の値は "application/papermill.record/"
                # を前に付けた MIME で入る (本文に出る値はほぼすべてこれ)
                plain = data.get(
                    "text/plain",
                    data.get(scrap.get("mime_prefix", "") + "text/plain"),
                )
                if not TIMING_KEY.search(name) and plain is not None:
                    snap.glue[name] = normalise(_text(plain))
                continue
            if out["output_type"] == "stream":
                # ビルド (nb_merge_streams) は流れを最初の出力にまとめるが、残りの
                # 断片も残すことがある: すでに含まれている断片は足さない
                chunk, seen = _text(out["text"]), streams.get(out["name"], "")
                if chunk not in seen:
                    streams[out["name"]] = seen + chunk
            elif "text/plain" in data and not any(
                k.startswith("image/") for k in data
            ):
                texts.append(normalise(_text(data["text/plain"])))
            elif out["output_type"] == "error":
                texts.append(f"{out['ename']}: {out['evalue']}")
        # 流れの区切り方 (断片の境目の改行) は実行のたびに変わりうるので、
        # 空白の並びは 1 つの空白とみなして語と数だけを比べる
        texts += [
            " ".join(normalise(streams[name]).split())
            for name in sorted(streams)
        ]
        snap.cells[index] = texts
    return snap


def compare(first: Snapshot, second: Snapshot) -> list[str]:
    """2 回の実行の違い (なければ空)。"""
    diffs = []
    for key in sorted(first.glue.keys() | second.glue.keys()):
        a, b = first.glue.get(key), second.glue.get(key)
        if a != b:
            diffs.append(f"glue {key}: 1 回目 {a!r} / 2 回目 {b!r}")
    for index in sorted(first.cells.keys() | second.cells.keys()):
        a_out, b_out = first.cells.get(index, []), second.cells.get(index, [])
        if a_out != b_out:
            a, b = "\n".join(a_out), "\n".join(b_out)
            diffs.append(
                f"セル {index} の出力:\n  1 回目 {a[:300]!r}\n  2 回目 {b[:300]!r}"
            )
    return diffs


def execution_seconds(cache: Path = CACHE) -> dict[str, float]:
    """jupyter-cache に記録された、章ごとの実行時間 (秒)。"""
    if not cache.exists():
        return {}
    from jupyter_cache import get_cache

    seconds: dict[str, float] = {}
    for record in sorted(
        get_cache(str(cache)).list_cache_records(), key=lambda r: r.created
    ):
        value = (record.data or {}).get("execution_seconds")
        if value is not None:
            seconds[Path(record.uri).stem] = float(value)
    return seconds


def fastest_chapter(executed: Path = EXECUTED, cache: Path = CACHE) -> str:
    """実行がいちばん速かった章 (記録がなければセルの数が最も少ない章)。"""
    chapters = sorted(p.stem for p in executed.glob("ch*.ipynb"))
    if not chapters:
        raise FileNotFoundError(
            f"実行済みのノートブックがない: {executed} (先にビルドする)"
        )
    seconds = execution_seconds(cache)
    timed = [c for c in chapters if c in seconds]
    if timed:
        return min(timed, key=seconds.__getitem__)

    def n_cells(name: str) -> int:
        nb = json.loads(
            (executed / f"{name}.ipynb").read_text(encoding="utf-8")
        )
        return sum(c["cell_type"] == "code" for c in nb["cells"])

    return min(chapters, key=n_cells)


def rerun(nb: dict[str, Any], cwd: Path, timeout: int = 600) -> dict[str, Any]:
    """出力を消したノートブックを新しいカーネルで実行する。"""
    from nbclient import NotebookClient

    fresh = nbformat.reads(
        json.dumps(nb), as_version=4
    )  # source の行の連結も直す
    for cell in fresh.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    env = dict(os.environ)
    env.setdefault("DLBOOK_PROFILE", "quick")
    env.setdefault("PYTHONHASHSEED", "0")
    env.pop(
        "MPLBACKEND", None
    )  # ビルドと同じく、カーネルの既定 (inline) で図を作る
    src = str(ROOT / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    client = NotebookClient(
        fresh,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute(env=env)
    return dict(fresh)


def with_glue_json(nb: Any, glue_json: Path) -> Any:
    """ビルドが書いた ``<章>.glue.json`` の glue の値を、1 つの末尾のセルとして足す。

    ``remove-cell`` のセルの出力は ``jupyter_execute`` のノートブックから除かれるので、
    そこで glue した値 (本文の数値のほとんど) は ``.glue.json`` にしか残らない。
    足したセルは :func:`snapshot` の glue にだけ現れ、セルの比較には影響しない。
    """
    if not glue_json.is_file():
        return nb
    have = set(snapshot(nb).glue)
    outputs = [
        out
        for name, out in json.loads(glue_json.read_text("utf-8")).items()
        if name not in have
    ]
    if outputs:
        cell = nbformat.v4.new_code_cell("")
        cell.outputs = [nbformat.from_dict(o) for o in outputs]
        nb.cells.append(cell)
    return nb


def check_chapter(
    name: str, executed: Path = EXECUTED, cache: Path = CACHE
) -> list[str]:
    """章をもう一度実行し、ビルドの実行との違いを返す。

    キャッシュを使ったビルドでは ``jupyter_execute`` のノートブックに出力が
    ないので、1 回目の出力は実行キャッシュから取る。
    """
    path = executed / f"{name}.ipynb"
    nb = with_glue_json(
        merge_cached_outputs(
            nbformat.reads(path.read_text("utf-8"), 4), cache
        ),
        path.with_suffix(".glue.json"),
    )
    if not has_outputs(nb):
        raise SystemExit(
            f"{path} に出力がなく、実行キャッシュ ({cache}) にも一致する"
            "ものがありません。先に make html でビルドしてください"
        )
    second = rerun(nb, cwd=ROOT / "book")
    return compare(snapshot(nb), snapshot(second))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chapters", nargs="*", help="章の名前 (例 ch06_cnn)")
    parser.add_argument("--all", action="store_true", help="すべての章")
    args = parser.parse_args(argv)
    if args.all:
        names = sorted(p.stem for p in EXECUTED.glob("ch*.ipynb"))
    else:
        names = args.chapters or [fastest_chapter()]
    failed = 0
    for name in names:
        start = time.perf_counter()
        diffs = check_chapter(name)
        elapsed = time.perf_counter() - start
        status = "同じ" if not diffs else f"違いが {len(diffs)} 件"
        print(f"{name}: {status} ({elapsed:.0f} 秒)")
        for diff in diffs:
            print("  " + diff)
        failed += bool(diffs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
