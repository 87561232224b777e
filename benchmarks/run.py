"""ベンチマークをまとめて走らせ、``benchmarks/results/README.md`` に表を書く。

測るもの (どれも作業ツリーの ``_build/`` には触れない):

1. 冷えたビルド (cold): リポジトリの一時コピーで、キャッシュなしに ``make book``
   と同じ ``build all`` (本 (HTML、quick プロファイル) の後、スライドと本の PDF を
   同時に) を走らせる時間。ログから本・スライド・PDF それぞれの秒数も読む
2. 変更なしの再ビルド (no-change): 同じコピーでもう一度 HTML を作る時間
3. 1 段落の編集 (edit): コピーの 4 章の本文 1 行に 1 文を足して HTML を作り直す時間
   (コードセルは変わらないので実行キャッシュが効き、セルは再実行されない)
4. スライドの書き出し (slides): 全章のスライドを全形式 (md/html/pdf/pptx/ノート/
   編集用 PPTX/配布資料/演習シート) で、ほかの書き出しと並べずに単独で作る時間
   (スライドにはキャッシュがないので毎回すべて書き出す。目標 90 秒)
5. ページの重さ (page weight): コピーのサイトを 127.0.0.1 で gzip 付きで配信し
   (静的ホスティングと同じくテキストだけを圧縮)、Chromium で各章を空のキャッシュで
   開いたときに転送したバイト数 (HTML・CSS・JS・フォント・画像)。目標は図 (画像) を
   除いて 450 KiB 以下
6. 概念図の描画時間: 冷えたビルドの実行済みノートブックで、SVG の図を出したセルの
   実行時間を章ごとに足す (``benchmarks/diagrams.py``)
7. Conv2d の速度比: ``benchmarks/bench_conv.py`` を呼ぶ (結果は ``results/conv.md``)
8. import の時間: 新しいプロセスで ``import dlbook.layers`` (NumPy だけ、torch を
   読まない) と ``import dlbook.train`` (torch を読む) にかかる時間 (3 回の中央値)

一時コピーは ``git ls-files --cached --others --exclude-standard`` のファイル
(作業ツリーの今の内容) を写したもので、``node_modules`` はシンボリックリンク、
Python は同じ venv を使い、``PYTHONPATH`` でコピーの ``src/`` を優先させる。

使い方::

    .venv/bin/python -m benchmarks.run                 # すべて (10 分ほど)
    .venv/bin/python -m benchmarks.run --skip-conv     # Conv2d を除く
    .venv/bin/python -m benchmarks.run --keep          # 一時コピーを残す
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.diagrams import diagram_seconds
from benchmarks.diagrams import to_markdown as diagrams_markdown
from dlbook_tools.browser import CHROMIUM, CHROMIUM_ARGS, serve_directory

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
EDIT_CHAPTER = "book/ch04_nn_basics.md"
EDIT_SENTENCE = "この一文はベンチマークが足した。"

#: 目標 (秒)。README の「品質チェック」と同じ値
#: cold は本 + スライド + 本の PDF。スライドは 3 章 × 全形式の書き出し (issue 19)
TARGETS = {
    "cold": 360.0,
    "no_change": 20.0,
    "edit": 60.0,
    "slides_alone": 90.0,
}
#: 1 章を初めて開いたときの転送量の目標 (図を除く、gzip)
PAGE_WEIGHT_TARGET = 450 * 1024
#: import の時間を測るモジュール (NumPy だけのものと torch を読むもの)
IMPORTS = ["dlbook.layers", "dlbook.train"]
#: 失敗したビルドの種類 (html / slides)。表に注記する
FAILED: set[str] = set()


def copy_repo(dest: Path) -> Path:
    """作業ツリーの (無視されていない) ファイルを dest に写す。"""
    files = subprocess.run(
        [
            "git",
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in files:
        if not raw:
            continue
        rel = raw.decode()
        src = ROOT / rel
        if not src.is_file():  # 消されたがまだコミットしていないファイル
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    if (ROOT / "node_modules").exists():
        (dest / "node_modules").symlink_to(ROOT / "node_modules")
    return dest


def env_for(copy: Path) -> dict[str, str]:
    """コピーの中でビルドするための環境変数。"""
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # Agg にするとカーネルが図を PNG にしない
    env.update(
        DLBOOK_PROFILE="quick",
        PYTHONHASHSEED="0",
        PYTHONPATH=os.pathsep.join(
            [str(copy / "src"), env.get("PYTHONPATH", "")]
        ),
    )
    return env


def timed(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    """コマンドを走らせた時間 (秒)。失敗したらログの末尾を見せて止める。"""
    print("$", " ".join(cmd), flush=True)
    start = time.perf_counter()
    with log.open("a", encoding="utf-8") as out:
        code = subprocess.call(cmd, cwd=cwd, env=env, stdout=out, stderr=out)
    elapsed = time.perf_counter() - start
    if code != 0:
        # -W で警告が 1 つでもあれば失敗するが、--keep-going なのでページはできている。
        # 時間は記録し、表に「失敗」と書く (章の誤りでベンチマークを止めない)
        FAILED.add(" ".join(cmd[-1:]))
        print(f"  失敗 (終了コード {code})、ログ: {log}", flush=True)
    print(f"  {elapsed:.1f} 秒", flush=True)
    return elapsed


def edit_paragraph(path: Path) -> int:
    """コードの外で「。」で終わる最初の行に 1 文を足す。足した行番号を返す。"""
    lines = path.read_text(encoding="utf-8").split("\n")
    fence = None
    for k, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            mark = stripped[:3]
            fence = None if fence == mark else fence or mark
            continue
        if fence is None and k > 0 and stripped.endswith("。"):
            lines[k] = line + EDIT_SENTENCE
            path.write_text("\n".join(lines), encoding="utf-8")
            return k + 1
    raise SystemExit(f"{path} に編集できる段落がない")


def bench_builds(copy: Path) -> dict[str, float]:
    """冷えたビルド、変更なしの再ビルド、1 段落の編集、スライドの時間。"""
    env = env_for(copy)
    log = copy / "bench-build.log"
    py = sys.executable
    build = [py, "-m", "dlbook_tools.build"]
    times = {}
    # make book と同じ: 本 (HTML) の後、スライドと本の PDF を同時に作る
    start = log.stat().st_size if log.exists() else 0
    times["cold"] = timed([*build, "all"], copy, env, log)
    times.update(phase_seconds(log.read_text("utf-8")[start:]))
    times["no_change"] = timed([*build, "html"], copy, env, log)
    line = edit_paragraph(copy / EDIT_CHAPTER)
    print(f"  {EDIT_CHAPTER}:{line} に 1 文を足した")
    times["edit"] = timed([*build, "html"], copy, env, log)
    # スライドだけを単独で (ほかの書き出しと CPU を分け合わずに) 全形式書き出す
    times["slides_alone"] = timed([*build, "slides"], copy, env, log)
    return times


def phase_seconds(log: str) -> dict[str, float]:
    """``build all`` のログから、本・スライド・PDF それぞれの秒数を読む。"""
    patterns = {
        "cold_html": r"\[dlbook\] HTML のビルド完了: ([\d.]+) 秒",
        "cold_slides": r"\[slides\] 全体: ([\d.]+) 秒",
        "cold_pdf": r"\[dlbook\] PDF: .*?([\d.]+) 秒\)",
    }
    out = {}
    for key, pattern in patterns.items():
        m = re.search(pattern, log)
        if m:
            out[key] = float(m.group(1))
    return out


def _kind(url: str, content_type: str) -> str:
    path = url.split("?")[0].lower()
    if "font" in content_type or path.endswith((".woff2", ".woff", ".ttf")):
        return "fonts"
    if "css" in content_type or path.endswith(".css"):
        return "css"
    if "javascript" in content_type or path.endswith(".js"):
        return "js"
    if content_type.startswith("image/"):
        return "images"
    if "html" in content_type:
        return "html"
    return "other"


def page_weight(html: Path, browser: Any = None) -> dict[str, dict[str, int]]:
    """各章を Chromium で開いて転送したバイト数 (種類別、キャッシュなし)。

    ``browser`` (Playwright のブラウザ) を渡せばそれを使う (テストの fixture)。
    """
    from playwright.sync_api import Request, sync_playwright

    if browser is None:
        with sync_playwright() as pw:
            own = pw.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS
            )
            try:
                return page_weight(html, own)
            finally:
                own.close()
    chapters = sorted((html / "book").glob("ch*.html"))
    weights: dict[str, dict[str, int]] = {}
    with serve_directory(html, compress=True) as url:
        for path in chapters:
            rel = path.relative_to(html).as_posix()
            context = browser.new_context()  # 章ごとに空のキャッシュ
            page = context.new_page()
            responses: list[Request] = []
            page.on(
                "requestfinished", functools.partial(list.append, responses)
            )
            page.goto(f"{url}/{rel}", wait_until="networkidle")
            page.wait_for_timeout(500)  # 遅れて読まれるフォント
            totals = {"requests": 0, "total": 0}
            for request in responses:
                sizes = request.sizes()
                response = request.response()
                ctype = (
                    response.headers.get("content-type", "")
                    if response
                    else ""
                )
                size = sizes["responseBodySize"] + sizes["responseHeadersSize"]
                kind = _kind(request.url, ctype)
                totals[kind] = totals.get(kind, 0) + size
                totals["total"] += size
                totals["requests"] += 1
            totals["without_images"] = totals["total"] - totals.get(
                "images", 0
            )
            weights[rel] = totals
            context.close()
    return weights


def import_time(module: str, repeat: int = 3) -> float:
    """新しいプロセスで ``import module`` にかかる秒数 (起動の時間を引いた中央値)。"""

    def run(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        return time.perf_counter() - start

    times = sorted(
        run(f"import {module}") - run("pass") for _ in range(repeat)
    )
    return max(times[len(times) // 2], 0.0)


def bench_conv() -> tuple[float, str]:
    """``bench_conv.py`` を走らせ、時間と結果の表 (markdown) を返す。"""
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_conv.py")]
    print("$", " ".join(cmd), flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    return elapsed, (RESULTS / "conv.md").read_text(encoding="utf-8")


def _kb(n: int) -> str:
    return f"{n / 1024:,.0f} KiB"


def to_markdown(data: dict) -> str:
    """結果を README に載せる markdown にする。"""
    lines = [
        "# ベンチマークの結果 (Benchmarks)",
        "",
        "`make bench` (`python -m benchmarks.run`) が書いたファイル。手で直さない。",
        "",
        f"- 日時: {data['date']}、コミット: `{data['commit']}`",
        f"- 機械: {data['machine']}、CPU {data['cpus']} コア、"
        f"開始時のロードアベレージ {data['load']:.2f}",
        "- プロファイル: quick。ビルドは作業ツリーの一時コピーで行った",
        "",
    ]
    times = data.get("builds")
    if times:
        names = {
            "cold": (
                "冷えたビルド (make book: 本の後にスライドと PDF を同時に、"
                "キャッシュなし)"
            ),
            "cold_html": "　うち本 (HTML、全セルを実行)",
            "cold_slides": "　うちスライド (PDF と同時)",
            "cold_pdf": "　うち本の PDF (スライドと同時)",
            "no_change": "変更なしの再ビルド (HTML)",
            "edit": "1 段落を編集して再ビルド (HTML)",
            "slides_alone": (
                "スライドだけの書き出し (全章 × md/html/pdf/pptx/ノート/"
                "編集用 PPTX/配布資料/演習シート、単独)"
            ),
        }
        lines += [
            "## ビルド時間",
            "",
            "| 測定 | 時間 | 目標 | |",
            "| --- | ---: | ---: | --- |",
        ]
        for key, label in names.items():
            if key not in times:
                continue
            target = TARGETS.get(key)
            mark = (
                ""
                if target is None
                else ("✅" if times[key] <= target else "❌")
            )
            goal = f"≤ {target:.0f} 秒" if target else ""
            lines.append(
                f"| {label} | {times[key]:.1f} 秒 | {goal} | {mark} |"
            )
        if data.get("failed"):
            lines.append("")
            lines.append(
                f"注: ビルドが失敗した ({', '.join(data['failed'])}: 警告かエラー)。"
                "時間は失敗までのもの。"
            )
        lines.append("")
    if data.get("diagrams"):
        lines += diagrams_markdown(data["diagrams"])
    weights = data.get("weights")
    if weights:
        kinds = ["html", "css", "js", "fonts", "images", "other"]
        goal = f"≤ {_kb(PAGE_WEIGHT_TARGET)}"
        lines += [
            "## ページの重さ (キャッシュなしで 1 章を開いたときの転送量、gzip)",
            "",
            f"| ページ | 要求数 | 図を除く ({goal}) | | 合計 | "
            + " | ".join(kinds)
            + " |",
            "| --- | ---: | ---: | --- | ---: | "
            + " | ".join("---:" for _ in kinds)
            + " |",
        ]
        for rel, w in weights.items():
            cells = " | ".join(_kb(w.get(k, 0)) for k in kinds)
            lean = w.get("without_images", w["total"] - w.get("images", 0))
            mark = "✅" if lean <= PAGE_WEIGHT_TARGET else "❌"
            lines.append(
                f"| `{rel}` | {w['requests']} | {_kb(lean)} | {mark} "
                f"| {_kb(w['total'])} | {cells} |"
            )
        lines.append("")
    imports = data.get("imports")
    if imports:
        lines += [
            "## import の時間 (新しいプロセス、3 回の中央値)",
            "",
            "| モジュール | 時間 |",
            "| --- | ---: |",
        ]
        lines += [f"| `{m}` | {t:.2f} 秒 |" for m, t in imports.items()]
        lines.append("")
    if data.get("conv"):
        lines += [
            f"## Conv2d の速度比 ({data['conv_seconds']:.0f} 秒)",
            "",
            "`benchmarks/bench_conv.py` の結果 ([conv.md](conv.md)) を写したもの。",
            "",
        ]
        body = data["conv"].splitlines()
        lines += [ln for ln in body if not ln.startswith("# ")]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--skip-builds", action="store_true", help="ビルド時間を測らない"
    )
    parser.add_argument(
        "--skip-weight", action="store_true", help="ページの重さを測らない"
    )
    parser.add_argument(
        "--skip-conv", action="store_true", help="Conv2d を測らない"
    )
    parser.add_argument(
        "--skip-imports", action="store_true", help="import の時間を測らない"
    )
    parser.add_argument(
        "--keep", action="store_true", help="一時コピーを消さない"
    )
    parser.add_argument("--output", type=Path, default=RESULTS / "README.md")
    args = parser.parse_args(argv)

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    data: dict = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + ("+作業中の変更" if _dirty() else ""),
        "machine": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "load": os.getloadavg()[0],
    }
    tmp = Path(tempfile.mkdtemp(prefix="dlbook-bench-"))
    try:
        copy = copy_repo(tmp / "repo")
        print(f"一時コピー: {copy}", flush=True)
        if not args.skip_builds:
            data["builds"] = bench_builds(copy)
        elif not args.skip_weight:
            timed([sys.executable, "-m", "dlbook_tools.build", "html"], copy,
                  env_for(copy), copy / "bench-build.log")  # fmt: skip
        if not args.skip_builds:
            data["diagrams"] = diagram_seconds(
                copy / "_build" / "jupyter_execute"
            )
        if not args.skip_weight:
            data["weights"] = page_weight(copy / "_build" / "html")
    finally:
        if args.keep:
            print(f"一時コピーを残した: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    data["failed"] = sorted(FAILED)
    if not args.skip_imports:
        data["imports"] = {m: import_time(m) for m in IMPORTS}
    if not args.skip_conv:
        data["conv_seconds"], data["conv"] = bench_conv()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(to_markdown(data), encoding="utf-8")
    (args.output.parent / "results.json").write_text(
        json.dumps({k: v for k, v in data.items() if k != "conv"}, indent=2,
                   ensure_ascii=False) + "\n", encoding="utf-8")  # fmt: skip
    print(args.output.read_text(encoding="utf-8"))
    return 0


def _dirty() -> bool:
    status = subprocess.run(
        ["git", "status", "--porcelain"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return bool(status.stdout.strip())


if __name__ == "__main__":
    raise SystemExit(main())
