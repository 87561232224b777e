"""公開ビルドのリハーサル: ``full`` プロファイルの全章を、この CPU で偽の入力に通す。

使い方::

    python -m dlbook_tools.rehearsal            # make rehearse-full と同じ
    python -m dlbook_tools.rehearsal --scale 0.02 --reuse-cache

1. ``_build/rehearsal/inputs/`` を作り直し、偽の MNIST・CIFAR-10 と乱数の
   重みを本物と同じ置き場所・ファイル名で書く (:mod:`dlbook_tools.fabricate`)。
   枚数は本物の枚数 × ``DLBOOK_REHEARSAL_SCALE`` (既定 0.01)。
2. ``DLBOOK_PROFILE=full``・``DLBOOK_DATA``・``TORCH_HOME`` をそこに向け、
   プロキシを閉じたアドレスにして (ダウンロードしようとすれば失敗する)、
   本番と同じ ``jupyter-book build`` を ``_build/rehearsal/_build/html`` へ
   自分の実行キャッシュで走らせる。失敗したセルは本番と同じく
   「章:行 (コードセル N)」で示す。
3. GPU でしか通らない分岐のうち、CPU の PyTorch で通せるもの
   (float16 の autocast と CPU の ``GradScaler``、時間計測の装置の分岐) を
   CPU で実行する (:func:`drill_gpu_branches`)。

本物の正解率や GPU の速さは確かめられない (README の「リハーサル」)。
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from dlbook import config
from dlbook_tools import fabricate
from dlbook_tools.build import _code_cells, run_jupyter_book

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SCALE = 0.01
#: リハーサルのセルごとの時間制限 (秒)
CELL_TIMEOUT = 1200
#: ダウンロードを確実に失敗させるプロキシ (discard ポート、誰も待ち受けない)
DEAD_PROXY = "http://127.0.0.1:9"
STARTUP = """\
# リハーサルのカーネルだけが読む (dlbook_tools.rehearsal が書いた)。
from dlbook_tools.rehearsal import install_kernel_hooks

install_kernel_hooks()
"""
#: 成り立たなかった主張の印 (セルの出力に書き、ビルドの後で集める)
CLAIM_MARK = "[rehearsal] 主張が成り立たない:"


@dataclass(frozen=True)
class GpuOnly:
    """GPU のある計算機でだけ実行される箇所。"""

    where: str
    what: str
    on_cpu: str  # CPU のリハーサルでどこまで通すか


#: ビルド状況のページが「GPU でのみ実行」として示す箇所
GPU_ONLY: tuple[GpuOnly, ...] = (
    GpuOnly(
        "第5章 時間の測り方",
        "GPU の行列積と学習 1 ステップの時間 (表の GPU の行)、"
        "`torch.cuda.synchronize` (`dlbook.timing.sync`)",
        "CPU の行と、装置が CPU のときに同期しない分岐だけ",
    ),
    GpuOnly(
        "第5章 混合精度",
        "CUDA の float16 の autocast と `GradScaler` による学習 1 ステップ",
        "同じコードを CPU の float16 の autocast と CPU の `GradScaler` で実行",
    ),
    GpuOnly(
        "第5章 学習中のメモリ",
        "`torch.cuda.max_memory_allocated` による最大使用量の実測 "
        "(`dlbook.memory.cuda_peak_bytes`)",
        "CPU では測らずに None を返す分岐だけ",
    ),
    GpuOnly(
        "本全体",
        "GPU の名前の表示と、GPU での学習・推論 (cuDNN の畳み込みなど)",
        "同じコードを CPU で実行",
    ),
)


def gpu_only_table(device_type: str) -> str:
    """ビルド状況のページの表 (Markdown)。``device_type`` はビルドの装置。"""
    done = device_type == "cuda"
    rows = ["| 箇所 | 内容 | このビルド |", "| --- | --- | --- |"]
    for item in GPU_ONLY:
        status = (
            "実行した" if done else f"GPU でのみ実行 (CPU では{item.on_cpu})"
        )
        rows.append(f"| {item.where} | {item.what} | {status} |")
    return "\n".join(rows)


# ---------------------------------------------------------------- 入力
def fabricate_inputs(
    inputs: Path, scale: float, seed: int = 0
) -> dict[str, Path]:
    """``inputs/data`` (``DLBOOK_DATA``) と ``inputs/torch`` (``TORCH_HOME``) に偽の入力を書く。"""
    if inputs.exists():
        shutil.rmtree(inputs)
    data, torch_home = inputs / "data", inputs / "torch"
    data.mkdir(parents=True)
    fabricate.write_mnist(
        data, *fabricate.scaled_sizes(fabricate.MNIST_SIZES, scale), seed=seed
    )
    fabricate.write_cifar10(
        data,
        *fabricate.scaled_sizes(fabricate.CIFAR10_SIZES, scale),
        seed=seed + 1,
    )
    sources = [
        *sorted((ROOT / "book").glob("*.md")),
        *sorted((ROOT / "src" / "dlbook").rglob("*.py")),
    ]
    for weight in fabricate.weights_used(sources):
        path = fabricate.write_weights(weight, torch_home, seed=seed)
        print(
            f"[rehearsal] {weight} → {path.relative_to(inputs)} (乱数の重み)"
        )
    return {"data": data, "torch": torch_home}


def rehearsal_env(
    out: Path, paths: dict[str, Path], scale: float
) -> dict[str, str]:
    """リハーサルのビルドとカーネルに渡す環境変数。"""
    ipython = out / "ipython"
    startup = ipython / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-rehearsal.py").write_text(STARTUP)
    env = {
        config.PROFILE_ENV: "full",
        config.REHEARSAL_ENV: repr(scale),
        config.DATA_ENV: str(paths["data"]),
        "TORCH_HOME": str(paths["torch"]),
        "IPYTHONDIR": str(ipython),
        "NO_PROXY": "",
        "no_proxy": "",
    }
    for name in (
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ):
        env[name] = DEAD_PROXY
    return env


# ---------------------------------------------------------------- カーネル
class _ClaimsToFindings(ast.NodeTransformer):
    """セルの ``assert 条件, 文`` を ``_rehearsal_claim(条件, 文, "条件")`` に書き換える。"""

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        self.generic_visit(node)
        call = ast.Call(
            func=ast.Name("_rehearsal_claim", ast.Load()),
            args=[
                node.test,
                node.msg or ast.Constant(None),
                ast.Constant(ast.unparse(node.test)),
            ],
            keywords=[],
        )
        return ast.copy_location(ast.Expr(call), node)


def _rehearsal_claim(ok: object, message: object, source: str) -> None:
    """成り立たない主張を印付きで出力に書き、実行は続ける。"""
    if not ok:
        print(f"{CLAIM_MARK} {message or source} ({source})", file=sys.stderr)


def install_kernel_hooks() -> None:
    """リハーサルのカーネルの準備 (IPython の起動ファイルから呼ぶ)。

    1. 偽の CIFAR-10 の MD5 を torchvision の ``CIFAR10`` に登録する。
    2. セルの ``assert`` (本文の主張の確認) を、失敗しても止まらない記録に
       変える。主張はデータで決まる (「BN ありの方が高い」など) ので、偽の
       データでは成り立たなくてよい。止めると、その後の full の分岐が
       実行されない。成り立たなかった主張は :func:`claim_findings` が集める。
       ``assert`` 以外の例外はそのままセルを失敗させる。
    """
    from IPython import get_ipython

    fabricate.register_cifar10_checksums(Path(os.environ[config.DATA_ENV]))
    shell = get_ipython()
    if shell is None:
        raise RuntimeError("IPython のカーネルの中で呼んでください")
    shell.user_ns["_rehearsal_claim"] = _rehearsal_claim
    shell.ast_transformers.append(_ClaimsToFindings())


def claim_findings(executed: Path, book: Path = ROOT / "book") -> list[str]:
    """実行済みのノートブックから、成り立たなかった主張を「章:行: 文」で集める。"""
    found = []
    for nb_path in sorted(executed.glob("*.ipynb")):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        md = book / f"{nb_path.stem}.md"
        cells = _code_cells(md.read_text()) if md.is_file() else []
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            src = "".join(cell["source"]).strip()
            line = next((ln for ln, body in cells if body == src), None)
            for out in cell.get("outputs", []):
                text = "".join(out.get("text", ""))
                for row in text.splitlines():
                    if row.startswith(CLAIM_MARK):
                        where = f"book/{md.name}" + (
                            f":{line}" if line else ""
                        )
                        found.append(
                            f"{where}: {row[len(CLAIM_MARK) :].strip()}"
                        )
    return found


# ---------------------------------------------------------------- GPU の分岐
MIXED_PRECISION_SWITCH = re.compile(r"^use_fp16 = .*$", re.M)


def drill_gpu_branches(chapter: Path | None = None) -> dict[str, object]:
    """GPU の分岐のうち CPU の PyTorch で通せるものを CPU で実行する。

    - 第5章の混合精度のセルを、``use_fp16`` を真にして (float16 の autocast と
      CPU の ``GradScaler``) そのまま実行する。
    - ``dlbook.timing`` と ``dlbook.memory.cuda_peak_bytes`` を CPU で呼び、
      装置の分岐 (CPU では同期も実測もしない) を通す。

    Raises:
        RuntimeError: セルが見つからない、または結果が期待と違うとき。
    """
    import numpy as np
    import torch
    from torch import nn

    from dlbook.memory import cuda_peak_bytes
    from dlbook.models import SmallCNN
    from dlbook.timing import sync, time_fn

    chapter = chapter or ROOT / "book" / "ch05_framework.md"
    cells = [
        (line, src)
        for line, src in _code_cells(chapter.read_text())
        if "GradScaler(" in src
    ]
    if len(cells) != 1 or not MIXED_PRECISION_SWITCH.search(cells[0][1]):
        raise RuntimeError(
            f"{chapter}: GradScaler を使うセル (use_fp16 = ... の行を含む) が 1 つではありません"
            f" ({len(cells)} 個)。dlbook_tools.rehearsal.drill_gpu_branches を直してください。"
        )
    line, src = cells[0]
    src = MIXED_PRECISION_SWITCH.sub(
        "use_fp16 = True  # リハーサル: CPU で float16", src
    )
    cpu = torch.device("cpu")
    torch.manual_seed(0)
    # 章の準備のセルが定義する名前 (このセルが使うもの)
    ns: dict[str, object] = {
        "np": np,
        "torch": torch,
        "nn": nn,
        "SmallCNN": SmallCNN,
        "cpu": cpu,
        "has_gpu": False,
        "loss_fn": nn.CrossEntropyLoss(),
        "dev": cpu,
        "Xb": torch.randn(16, 3, 32, 32),
    }
    exec(compile(src, f"{chapter}:{line}", "exec"), ns)  # 章のセルをそのまま
    scaler, cnn, loss = ns["scaler"], ns["cnn"], ns["loss"]
    assert isinstance(scaler, torch.amp.GradScaler)
    assert isinstance(cnn, nn.Module) and isinstance(loss, torch.Tensor)
    grads = [p.grad for p in cnn.parameters() if p.grad is not None]
    checks = {
        "autocast dtype is float16": ns["amp_dtype"] is torch.float16,
        "GradScaler enabled": scaler.is_enabled(),
        "loss is float32": loss.dtype is torch.float32,
        "grads are float32 and finite": bool(grads)
        and all(
            g.dtype is torch.float32 and bool(torch.isfinite(g).all())
            for g in grads
        ),
    }
    sync(cpu)  # CPU では何もしない分岐
    seconds = time_fn(lambda: torch.ones(8) @ torch.ones(8), cpu, repeat=2)
    checks["time_fn on CPU"] = seconds >= 0.0
    checks["cuda_peak_bytes is None on CPU"] = (
        cuda_peak_bytes(lambda: None, cpu) is None
    )
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        raise RuntimeError(
            f"{chapter}:{line}: GPU の分岐の CPU での実行が期待と違います: {failed}"
        )
    return {
        "cell": f"{chapter.name}:{line}",
        "scale": scaler.get_scale(),
        **checks,
    }


# ---------------------------------------------------------------- 本文の検査
PASTED = re.compile(r'<span class="pasted-text">([^<]*)</span>')
NOT_A_NUMBER = re.compile(r"(?<![A-Za-z])nan(?![A-Za-z])", re.I)


def glued_nan(html: Path) -> list[str]:
    """ビルドした章の本文に glue された ``nan`` (測らなかった値) を探す。

    full でだけ測らない量を ``nan`` で glue すると、本文に「nan%」と出る。
    偽のデータでも本物でも同じ道を通るので、リハーサルで見つかる。

    Returns:
        ``"book/ch06_cnn.html: …前後の文…"`` の形の一覧。
    """
    found = []
    for page in sorted((html / "book").glob("ch*.html")):
        text = page.read_text(encoding="utf-8")
        for m in PASTED.finditer(text):
            if NOT_A_NUMBER.search(m.group(1)):
                before = re.sub(
                    r"<[^>]+>", "", text[max(0, m.start() - 300) : m.start()]
                )
                after = re.sub(r"<[^>]+>", "", text[m.end() : m.end() + 200])
                context = f"{before[-40:]}【{m.group(1)}】{after[:30]}"
                found.append(
                    f"{page.relative_to(html)}: {' '.join(context.split())}"
                )
    return found


# ---------------------------------------------------------------- 実行
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=float(os.environ.get(config.REHEARSAL_ENV) or DEFAULT_SCALE),
        help=f"データとエポックの倍率 (既定 {DEFAULT_SCALE}、0 より大きく 1 以下)",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "_build" / "rehearsal"
    )
    parser.add_argument(
        "--reuse-cache",
        action="store_true",
        help="前回の実行キャッシュを使う (章を直している間)",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()
    os.environ[config.REHEARSAL_ENV] = repr(args.scale)
    scale = config.rehearsal_scale()  # 範囲外ならここで止まる
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    # 数秒で済むので先に (章のセルが変わっていれば、ここで止まる)
    drill = drill_gpu_branches()
    print("[rehearsal] GPU の分岐を CPU で実行:", drill)
    paths = fabricate_inputs(out / "inputs", scale)
    os.environ.update(rehearsal_env(out, paths, scale))

    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    cache = out / ".jupyter_cache"
    if not args.reuse_cache:
        shutil.rmtree(cache, ignore_errors=True)
    cfg["execute"]["cache"] = str(cache)
    # この 2 コアの CPU では、GPU なら数秒のセル (Faster R-CNN の推論、
    # ResNet-18 の転移) が本番の 300 秒を超えうる。確かめるのは通るかどうか
    cfg["execute"]["timeout"] = max(cfg["execute"]["timeout"], CELL_TIMEOUT)
    (out / "_config.yml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    code = run_jupyter_book(
        ROOT,
        extra=[
            "--config",
            str(out / "_config.yml"),
            "--path-output",
            str(out),
        ],
    )

    nan_texts = glued_nan(out / "_build" / "html") if code == 0 else []
    for item in nan_texts:
        print(f"[rehearsal] 本文に nan: {item}", file=sys.stderr)
    executed = out / "_build" / "jupyter_execute" / "book"
    for item in claim_findings(executed):
        print(
            f"[rehearsal] 偽のデータで成り立たなかった主張 (本番は本物の"
            f"データで確かめる): {item}",
            file=sys.stderr,
        )
    elapsed = time.perf_counter() - start
    status = "成功" if code == 0 else "失敗"
    print(
        f"[rehearsal] {status}: full プロファイル、倍率 {scale}、{elapsed:.0f} 秒。"
        f"サイト: {out / '_build' / 'html' / 'index.html'}"
    )
    return code


if __name__ == "__main__":
    sys.exit(main())
