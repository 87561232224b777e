"""Conv2d の速度比: NumPy のループ版・im2col 版と PyTorch を比べる。

順伝播 + 逆伝播 (入力・重み・バイアスの勾配) 1 回の時間を測り、
``torch.nn.functional.conv2d`` + autograd との比を表にする。
PyTorch のスレッド数は NumPy の BLAS と同じにそろえる。
参考に、im2col 版と同じ形・同じ塊で行列積 3 回だけを行う時間と、
oneDNN を切った PyTorch (PyTorch 自身の im2col + 行列積の実装) の時間も測る。
im2col 版の時間から行列積の分を引いた残りが、列の行列を作る・足し戻す・
並べ替えるための時間である。比は CPU でも変わる: PyTorch の CPU の
畳み込み (oneDNN) は AVX-512 の計算機で特に速く、そこでは OpenBLAS の
行列積だけで PyTorch の 1 ステップに近い時間がかかる。

使い方::

    .venv/bin/python benchmarks/bench_conv.py            # 表を書き出す
    .venv/bin/python benchmarks/bench_conv.py --quick    # 小さな確認用

結果は ``benchmarks/results/conv.md`` (markdown の表) に書き、表示もする。

測り方: 各回で PyTorch・im2col 版・参考の 2 つを交互に測り (負荷の揺れが
どれにも同じように効くように)、時間は中央値、比は各回の比の中央値とする。
ループ版は遅いので回数を減らす (``--naive-repeats``)。外挿はしない。

交互に測るとき、方法を切り替える前に少し待つ (``--settle`` 秒)。
OpenBLAS の作業スレッドは仕事の後もしばらく (約 0.1 秒) 回り続けて
(spin) 次の仕事を待ち、PyTorch の OpenMP のスレッドも同じことをする。
待たずに切り替えると、2 スレッドでは前の方法のスレッドが 2 つしかない
CPU を取り合い、次の方法が遅く出る (静かな計算機でも PyTorch が
4.7 ms から 9〜10 ms になり、比が実際より良く見えた)。

待った後は、学習ループの中と同じく続けて呼んだときの時間を測る:
``--warmup`` 回空回ししてから ``--burst`` 回続けて測り、その中央値を
その回の時間とする。この計算機 (仮想マシン) では、しばらく休んだ
CPU は起きてから速さが戻るまでに数回分の時間がかかる。待った直後の
1 回だけを測ると、スレッドの受け渡しが多い方法 (im2col 版の 2 スレッド)
ほど遅く出た (続けて呼べば 14 ms のものが 25 ms)。

表は 2 つ作る。

1. 経過時間 (``time.perf_counter``)、スレッド数は BLAS と同じ。目標の指標。
2. 1 スレッドでのスレッド CPU 時間 (``time.thread_time``)。他の処理と
   CPU を分け合っている (待たされている) 時間を数えないので、
   混んだ計算機でも揺れにくい。

``compare_conv`` は小さな設定でも呼べるので、章のセルから
同じ測り方で小さな表を作るのにも使える。``dlbook`` はこのファイルに
依存しない。
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dlbook.conv import Conv2d, Conv2dNaive
from dlbook.layers import Layer
from dlbook.parallel import map_chunks
from dlbook.windows import Windows

RESULTS = Path(__file__).resolve().parent / "results" / "conv.md"
#: 目標: im2col の Conv2d (順+逆) は、同じ形・同じ塊の行列積 3 回の 1.5 倍以内。
#: 行列積そのものはこの CPU の BLAS が決める下限なので、PyTorch (oneDNN) では
#: なくそれと比べる (PyTorch との比は参考として並べる)
GEMM_TARGET = 1.5


@dataclass
class ConvCase:
    """測る畳み込みの大きさ (既定は課題の設定)。"""

    N: int = 32  # バッチの大きさ
    C: int = 16  # 入力チャネル
    FN: int = 32  # 出力チャネル (フィルタの数)
    size: int = 32  # 入力の高さ = 幅
    kernel: int = 3  # フィルタの大きさ
    pad: int = 1
    stride: int = 1
    dtype: str = "float32"


def blas_threads() -> int:
    """NumPy の BLAS が使うスレッド数 (分からなければ CPU の数)。"""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return os.cpu_count() or 1
    counts = [
        info["num_threads"]
        for info in threadpool_info()
        if info["user_api"] == "blas"
    ]
    return max(counts) if counts else os.cpu_count() or 1


CLOCKS: dict[str, Callable[[], float]] = {
    "wall": time.perf_counter,  # 経過時間
    "cpu": time.thread_time,  # このスレッドの CPU 時間 (1 スレッドで使う)
}


def time_once(fn: Callable[[], object], clock: str = "wall") -> float:
    """``fn()`` を 1 回呼んだ時間 (秒)。``clock`` は ``CLOCKS`` の名前。"""
    now = CLOCKS[clock]
    start = now()
    fn()
    return now() - start


def time_settled(
    fn: Callable[[], object],
    clock: str = "wall",
    settle: float = 0.2,
    warmup: int = 3,
    burst: int = 5,
) -> float:
    """``settle`` 秒待ち、``warmup`` 回空回ししてから ``fn()`` を
    ``burst`` 回続けて測り、その中央値を返す (秒)。

    待つのは、直前に測った方法のスレッドが回り終えるのを待つため。
    空回しは、自分のスレッドと CPU を起こし、キャッシュを温めるため。
    """
    time.sleep(settle)
    for _ in range(warmup):
        fn()
    return statistics.median(time_once(fn, clock) for _ in range(burst))


def make_steps(
    case: ConvCase, seed: int = 0, chunk: int | None = None
) -> dict[str, Callable[[], object]]:
    """方法の名前 → 順伝播 + 逆伝播を 1 回行う関数。"""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(case.dtype)
    x = rng.standard_normal((case.N, case.C, case.size, case.size))
    W = rng.standard_normal((case.FN, case.C, case.kernel, case.kernel))
    x, W = x.astype(dtype), (W * 0.1).astype(dtype)
    b = np.zeros(case.FN, dtype=dtype)
    layers = {
        "naive": Conv2dNaive(W, b, case.stride, case.pad),
        "im2col": (
            Conv2d(W, b, case.stride, case.pad)
            if chunk is None
            else Conv2d(W, b, case.stride, case.pad, chunk=chunk)
        ),
    }
    dout = rng.standard_normal(layers["im2col"].forward(x).shape)
    dout = dout.astype(dtype)

    def numpy_step(layer: Layer) -> Callable[[], object]:
        def step() -> object:
            layer.forward(x)
            return layer.backward(dout)

        return step

    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(W, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    dout_t = torch.tensor(dout)

    def torch_step() -> object:
        xt.grad = wt.grad = bt.grad = None
        y = F.conv2d(xt, wt, bt, stride=case.stride, padding=case.pad)
        y.backward(dout_t)
        return xt.grad

    def torch_im2col_step() -> object:
        # oneDNN を切ると、PyTorch も im2col + 行列積の実装 (slow_conv2d)
        # で計算する。同じ考え方どうしの比較になる
        with torch.backends.mkldnn.flags(enabled=False):
            return torch_step()

    return {
        "naive": numpy_step(layers["naive"]),
        "im2col": numpy_step(layers["im2col"]),
        "gemm": gemm_step(layers["im2col"], case, rng),
        "torch": torch_step,
        "torch_im2col": torch_im2col_step,
    }


def gemm_step(
    layer: Conv2d, case: ConvCase, rng: np.random.Generator
) -> Callable[[], object]:
    r"""``Conv2d`` の 3 つの行列積だけを、同じ形・同じ塊・同じスレッドで行う。

    順伝播の :math:`Y^\top = X_\mathrm{col}^\top W_\mathrm{col}^\top`、
    重みの勾配 :math:`X_\mathrm{col} \Delta^\top`、列の勾配
    :math:`W_\mathrm{col}^\top \Delta`。im2col・col2im・並べ替えを
    すべて 0 秒にできたときの下限で、PyTorch との差のうち行列積の分を示す。
    """
    dtype = np.dtype(case.dtype)
    side = case.size + 2 * case.pad
    windows = Windows(
        case.C, case.kernel, case.kernel, case.stride, side, side
    )
    rows = case.C * case.kernel**2
    W_col = layer.params["W"].reshape(case.FN, rows)
    W_col_T = np.ascontiguousarray(W_col.T)
    n_max = windows.size(min(layer.chunk, case.N))
    col = rng.standard_normal((rows, n_max)).astype(dtype)
    delta = rng.standard_normal((case.FN, n_max)).astype(dtype)
    work: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def chunk_gemms(worker: int, s: slice) -> np.ndarray:
        n_pos = windows.size(s.stop - s.start)
        if worker not in work:
            work[worker] = (
                np.empty((n_max, case.FN), dtype),
                np.empty((rows, n_max), dtype),
            )
        y_T, dcol = work[worker]
        c, d = col[:, :n_pos], delta[:, :n_pos]
        np.matmul(c.T, W_col.T, out=y_T[:n_pos])  # (n_pos, FN)
        np.matmul(W_col_T, d, out=dcol[:, :n_pos])  # (rows, n_pos)
        return c @ d.T  # (rows, FN)

    def step() -> object:
        return map_chunks(chunk_gemms, case.N, layer.chunk, layer.workers)

    return step


def compare_conv(
    case: ConvCase | None = None,
    repeats: int = 15,
    naive_repeats: int = 3,
    threads: int | None = None,
    clock: str = "wall",
    settle: float = 0.2,
    chunk: int | None = None,
    warmup: int = 3,
    burst: int = 5,
) -> list[dict[str, float | str | int]]:
    """ループ版・im2col 版・PyTorch の時間 (ms) と PyTorch との比。

    NumPy の BLAS のスレッド数は呼ぶ側で決めておく
    (``threadpoolctl.threadpool_limits``)。

    Args:
        case: 畳み込みの大きさ (``None`` なら既定の ``ConvCase()``)。
        repeats: im2col 版と PyTorch を測る回数 (交互に測る)。
        naive_repeats: ループ版を測る回数 (0 なら測らない)。
        threads: PyTorch のスレッド数 (``None`` なら BLAS と同じ)。
        clock: ``"wall"`` (経過時間) か ``"cpu"`` (スレッド CPU 時間。
            1 スレッドのときだけ意味がある)。
        settle: 方法を切り替える前に待つ秒数 (``time_settled``)。
            1 スレッドのときは待たない。
        chunk: ``Conv2d`` の ``chunk`` (``None`` なら既定値)。
        warmup: 各回、測る前に空回しする回数。
        burst: 各回、続けて測る回数 (その中央値をその回の時間とする)。

    Returns:
        行のリスト。各行は ``method``, ``ms`` (中央値), ``best_ms``
        (最小値), ``ratio`` (PyTorch との比), ``repeats``。
    """
    case = case or ConvCase()
    threads = threads or blas_threads()
    if threads == 1:  # 回り続ける作業スレッドがないので待たない
        settle = 0.0
    torch.set_num_threads(threads)
    steps = make_steps(case, chunk=chunk)
    for name in ("torch", "im2col", "torch", "im2col"):  # 準備運動
        steps[name]()
    methods = ("torch", "im2col", "gemm", "torch_im2col")
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(repeats):
        for name in methods:
            t = time_settled(steps[name], clock, settle, warmup, burst)
            times[name].append(t)
    rows: list[dict[str, float | str | int]] = []
    for name in methods:
        ratios = [
            a / b for a, b in zip(times[name], times["torch"], strict=True)
        ]
        to_gemm = [
            a / b for a, b in zip(times[name], times["gemm"], strict=True)
        ]
        rows.append(
            {
                "method": name,
                "ms": statistics.median(times[name]) * 1e3,
                "best_ms": min(times[name]) * 1e3,
                "ratio": statistics.median(ratios),
                "gemm_ratio": statistics.median(to_gemm),
                "repeats": repeats,
            }
        )
    torch_ms = float(rows[0]["ms"])
    if naive_repeats > 0:
        time.sleep(settle)
        naive = [
            time_once(steps["naive"], clock) for _ in range(naive_repeats)
        ]
        naive_ms = statistics.median(naive) * 1e3
        rows.append(
            {
                "method": "naive",
                "ms": naive_ms,
                "best_ms": min(naive) * 1e3,
                "ratio": naive_ms / torch_ms,
                "repeats": naive_repeats,
            }
        )
    return rows


LABELS = {
    "torch": "PyTorch `F.conv2d` + autograd",
    "im2col": "NumPy im2col (`dlbook.conv.Conv2d`)",
    "naive": "NumPy ループ (`dlbook.conv.Conv2dNaive`)",
    "gemm": "参考: im2col 版の行列積 3 回だけ",
    "torch_im2col": "参考: PyTorch の im2col 実装 (oneDNN なし)",
}


def cpu_model() -> str:
    """CPU の型番 (``/proc/cpuinfo`` の model name。なければ機種名)。"""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def kernels() -> str:
    """両者が使う計算核: OpenBLAS の最適化対象と PyTorch の SIMD 命令。

    比は CPU の命令セットで大きく変わる (AVX-512 の計算機では
    PyTorch の oneDNN が OpenBLAS より速い) ので、表と一緒に残す。
    """
    from threadpoolctl import threadpool_info

    blas = [
        f"{info['internal_api']} {info.get('version')} "
        f"({info.get('architecture')})"
        for info in threadpool_info()
        if info["user_api"] == "blas"
    ]
    capability = torch.backends.cpu.get_cpu_capability()
    return (
        f"NumPy の BLAS {', '.join(blas) or '不明'}、"
        f"PyTorch の CPU 命令 {capability}"
        f"{' + oneDNN' if torch.backends.mkldnn.is_available() else ''}"
    )


def header(
    case: ConvCase, loads: tuple[float, float], args: argparse.Namespace
) -> str:
    """表の前書き (設定と環境)。``loads`` は測定の前と後の load average。"""
    c = asdict(case)
    setting = (
        f"N={c['N']}, C={c['C']}→{c['FN']}, {c['size']}×{c['size']}, "
        f"{c['kernel']}×{c['kernel']}, padding {c['pad']}, "
        f"stride {c['stride']}, {c['dtype']}"
    )
    lines = [
        "# Conv2d の速度 (順伝播 + 逆伝播)",
        "",
        "`.venv/bin/python benchmarks/bench_conv.py` が書き出した表。",
        "",
        f"- 設定: {setting}",
        f"- 環境: {platform.machine()}, {cpu_model()}, "
        f"{os.cpu_count()} CPU, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, PyTorch {torch.__version__}",
        f"- 計算核: {kernels()}",
        f"- load average (1 分): 測定前 {loads[0]:.2f}、測定後 "
        f"{loads[1]:.2f}。他の処理と CPU を分け合っていると比は揺れる。",
        f"- `Conv2d` の chunk: {args.chunk or '既定値'}。"
        "2 スレッド以上では方法を切り替える前に "
        f"{args.settle} 秒待った (回り続ける作業スレッドの影響を除くため)。"
        f"各回、{args.warmup} 回空回ししてから {args.burst} 回続けて測り、"
        "その中央値をその回の時間とした (学習ループの中と同じ、続けて"
        "呼んだときの時間)。",
        "- 時間は各回の時間の中央値 (最小値も併記)。ループ版以外の比は、"
        "PyTorch と交互に測った各回の比の中央値。ループ版は回数を減らし、外挿せずに"
        "同じ大きさで 1 回ずつ測った (比は中央値どうしの比)。",
    ]
    return "\n".join(lines) + "\n"


def to_markdown(rows: list[dict[str, float | str | int]], title: str) -> str:
    """結果の行を markdown の表にする。"""
    lines = [
        f"## {title}",
        "",
        "| 方法 (method) | 時間 (ms) | 最小 (ms) | 行列積 3 回との比 "
        "| PyTorch との比 | 比 (最小どうし) | 回数 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    best_torch = float(rows[0]["best_ms"])
    for row in rows:
        label = LABELS[str(row["method"])]
        best_ratio = float(row["best_ms"]) / best_torch
        gemm = row.get("gemm_ratio")
        gemm_cell = f"{gemm:.2f}×" if gemm is not None else ""
        lines.append(
            f"| {label} | {row['ms']:.1f} | {row['best_ms']:.1f} "
            f"| {gemm_cell} | {row['ratio']:.2f}× | {best_ratio:.2f}× "
            f"| {row['repeats']} |"
        )
    im2col = next((r for r in rows if r["method"] == "im2col"), None)
    if im2col is not None and "gemm_ratio" in im2col:
        ratio = float(im2col["gemm_ratio"])
        mark = "✅" if ratio <= GEMM_TARGET else "❌"
        lines += [
            "",
            f"目標: `Conv2d` ≤ 行列積 3 回の {GEMM_TARGET}× → "
            f"{ratio:.2f}× {mark} (PyTorch との比 {im2col['ratio']:.2f}×)",
        ]
    return "\n".join(lines) + "\n"


def measure(
    case: ConvCase, args: argparse.Namespace, threads: int, clock: str
) -> list[dict[str, float | str | int]]:
    """BLAS のスレッド数を ``threads`` にそろえて ``compare_conv`` を呼ぶ。"""
    kwargs = {
        "settle": args.settle,
        "chunk": args.chunk,
        "warmup": args.warmup,
        "burst": args.burst,
    }
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # スレッド数は変えられないので、報告だけする
        return compare_conv(
            case, args.repeats, args.naive_repeats, threads, clock, **kwargs
        )
    with threadpool_limits(limits=threads, user_api="blas"):
        return compare_conv(
            case, args.repeats, args.naive_repeats, threads, clock, **kwargs
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--naive-repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=None, help="既定は BLAS と同じ"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=0.2,
        help="方法を切り替える前に待つ秒数 (回り続けるスレッドを待つ)",
    )
    parser.add_argument(
        "--chunk", type=int, default=None, help="Conv2d の chunk (既定値)"
    )
    parser.add_argument(
        "--warmup", type=int, default=3, help="各回、測る前の空回しの回数"
    )
    parser.add_argument(
        "--burst", type=int, default=5, help="各回、続けて測る回数"
    )
    parser.add_argument(
        "--no-cpu-clock",
        action="store_true",
        help="1 スレッドの CPU 時間の表を作らない",
    )
    parser.add_argument(
        "--quick", action="store_true", help="小さな設定で試す (書き出さない)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    case = ConvCase(N=4, size=16) if args.quick else ConvCase()
    threads = args.threads or blas_threads()
    load = os.getloadavg()[0]
    parts = []
    rows = measure(case, args, threads, "wall")
    title = f"経過時間、{threads} スレッド (NumPy の BLAS と PyTorch で同じ)"
    parts.append(to_markdown(rows, title))
    if not args.no_cpu_clock:
        rows = measure(case, args, 1, "cpu")
        title = "スレッド CPU 時間、1 スレッド (混雑の影響を受けにくい)"
        parts.append(to_markdown(rows, title))
    parts.insert(0, header(case, (load, os.getloadavg()[0]), args))
    text = "\n".join(parts)
    print(text)
    if not args.quick:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"書き出した: {args.output}")


if __name__ == "__main__":
    main()
