"""バッチを塊に分け、塊ごとの計算を複数のスレッドで並べて行う。

NumPy の行列積 (BLAS) は自分でスレッドを使うが、小さな行列積では
スレッドが増えてもあまり速くならず、im2col のようなコピーは
1 スレッドのままである。そこで ``conv.Conv2d`` は、バッチを
スレッドの数に分け、各スレッドが自分の塊を BLAS 1 スレッドで
最初から最後まで計算する。NumPy は重い計算の間 GIL を手放すので、
Python のスレッドでも並列に動く。

スレッドの数は、その時点の BLAS のスレッド数とする (PyTorch と同じ
スレッド数で比べられるように)。``threadpoolctl.threadpool_limits(1)``
の中では 1 スレッドで、呼んだスレッドがそのまま計算する。
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from threadpoolctl import ThreadpoolController

T = TypeVar("T")


@functools.cache
def _pool(threads: int) -> ThreadPoolExecutor:
    """``threads`` 本のスレッドの待ち行列 (スレッドを作るのは 1 回だけ)。

    スレッドを毎回作ると 1 回に約 0.5 ms かかり、小さな層では
    計算そのものより長い。
    """
    return ThreadPoolExecutor(threads, thread_name_prefix="dlbook")


@functools.cache
def _controller() -> ThreadpoolController:
    """読み込まれた BLAS などの一覧 (作るのに時間がかかるので 1 回だけ)。"""
    return ThreadpoolController()


def blas_threads() -> int:
    """NumPy の BLAS が今使うスレッド数 (BLAS が見つからなければ 1)。"""
    blas = _controller().select(user_api="blas")
    counts = [lib.num_threads for lib in blas.lib_controllers]
    return max(counts, default=1)


def split(n: int, parts: int, chunk: int) -> list[list[slice]]:
    """``range(n)`` を ``parts`` 個の連続した部分に分け、各部分を
    ``chunk`` 個ずつの ``slice`` に区切る (空の部分は除く)。

    >>> split(10, 2, 3)
    [[slice(0, 3, None), slice(3, 5, None)], [slice(5, 8, None), slice(8, 10, None)]]
    """
    if n < 0 or parts < 1 or chunk < 1:
        raise ValueError(
            "n >= 0, parts >= 1, chunk >= 1 でなければならない: "
            f"n={n}, parts={parts}, chunk={chunk}"
        )
    bounds = [n * k // parts for k in range(parts + 1)]
    result = []
    for start, stop in itertools.pairwise(bounds):
        if start < stop:
            result.append(
                [
                    slice(s, min(s + chunk, stop))
                    for s in range(start, stop, chunk)
                ]
            )
    return result


def map_chunks(
    fn: Callable[[int, slice], T],
    n: int,
    chunk: int,
    workers: int | None = None,
) -> list[T]:
    """``fn(worker, s)`` を ``range(n)`` の全ての塊 ``s`` について呼ぶ。

    塊は ``workers`` 個の連続した部分に分け、同じ部分の塊は同じ
    スレッドで順に呼ぶ。``worker`` (0 始まり) はその部分の番号で、
    ``fn`` はこれを使って作業用の配列をスレッドごとに使い回せる。
    2 スレッド以上のときは、その間 BLAS を 1 スレッドにする。

    Args:
        fn: 塊 1 つ分の計算。別々の ``worker`` から同時に呼ばれる。
        n: 全体の大きさ (バッチの枚数)。
        chunk: 塊の大きさ。
        workers: スレッドの数。``None`` なら ``blas_threads()``。

    Returns:
        ``fn`` の戻り値を塊の順に並べたもの。
    """
    workers = blas_threads() if workers is None else workers
    parts = split(n, workers, chunk)

    def run(worker: int) -> list[T]:
        return [fn(worker, s) for s in parts[worker]]

    if len(parts) <= 1:
        return run(0) if parts else []
    with _controller().limit(limits=1, user_api="blas"):
        # 最初の部分は呼んだスレッドで計算し、残りを待ち行列に渡す
        others = _pool(len(parts) - 1).map(run, range(1, len(parts)))
        results = [run(0), *others]
    return [r for part in results for r in part]
