"""バッチを塊に分け、塊ごとの計算を複数のスレッドで並べて行う。

NumPy の行列積 (BLAS) は自分でスレッドを使うが、小さな行列積では
スレッドが増えてもあまり速くならず、im2col のようなコピーは
1 スレッドのままである。そこで ``conv.Conv2d`` は、バッチを塊に分け、
各スレッドが塊を 1 つずつ取って BLAS 1 スレッドで最初から最後まで
計算する。NumPy は重い計算の間 GIL を手放すので、Python のスレッドでも
並列に動く。

塊は前もって割り振らず、手の空いたスレッドが次の塊を取る。CPU の
速さがそろっていない計算機 (仮想マシンなど) でも、速い CPU が多くの
塊を受け持つので、遅い方を待つ時間が短い。結果は塊の順に並べて返す
ので、足し合わせる順序は毎回同じで、結果も毎回同じになる。

スレッドの数は、その時点の BLAS のスレッド数とする (PyTorch と同じ
スレッド数で比べられるように)。``threadpoolctl.threadpool_limits(1)``
の中では 1 スレッドで、呼んだスレッドがそのまま計算する。BLAS の
スレッド数はプロセス全体の設定なので、``map_chunks`` の間は、ほかの
スレッドが呼ぶ行列積も 1 スレッドになる。
"""

from __future__ import annotations

import functools
import threading
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


def chunks(n: int, size: int) -> list[slice]:
    """``range(n)`` を ``size`` 個ずつの ``slice`` に区切る。

    >>> chunks(10, 4)
    [slice(0, 4, None), slice(4, 8, None), slice(8, 10, None)]
    """
    if n < 0 or size < 1:
        raise ValueError(
            f"n >= 0, size >= 1 でなければならない: n={n}, size={size}"
        )
    return [slice(s, min(s + size, n)) for s in range(0, n, size)]


def map_chunks(
    fn: Callable[[int, slice], T],
    n: int,
    size: int,
    workers: int | None = None,
) -> list[T]:
    """``fn(worker, s)`` を ``chunks(n, size)`` の全ての塊 ``s`` について呼ぶ。

    ``workers`` 本のスレッドが、まだ誰も取っていない塊を順に取って
    計算する。``worker`` (0 始まり) は計算しているスレッドの番号で、
    ``fn`` はこれを使って作業用の配列をスレッドごとに使い回せる
    (番号 0 は呼んだスレッド)。2 本以上のときは、その間 BLAS を
    1 スレッドにする。

    Args:
        fn: 塊 1 つ分の計算。別々の ``worker`` から同時に呼ばれる。
        n: 全体の大きさ (バッチの枚数)。
        size: 塊の大きさ。
        workers: スレッドの数。``None`` なら ``blas_threads()``。

    Returns:
        ``fn`` の戻り値を塊の順に並べたもの。
    """
    todo = chunks(n, size)
    workers = blas_threads() if workers is None else workers
    workers = max(1, min(workers, len(todo)))
    if workers == 1:
        return [fn(0, s) for s in todo]
    results: list[T | None] = [None] * len(todo)
    lock = threading.Lock()
    taken = iter(range(len(todo)))

    def run(worker: int) -> None:
        while True:
            with lock:  # 次の塊を 1 つ取る
                i = next(taken, None)
            if i is None:
                return
            results[i] = fn(worker, todo[i])

    with _controller().limit(limits=1, user_api="blas"):
        # 番号 0 は呼んだスレッドで計算し、残りを待ち行列に渡す
        others = _pool(workers - 1).map(run, range(1, workers))
        try:
            run(0)
        finally:
            list(others)  # 残りのスレッドを待つ (例外はここで伝わる)
    return results  # type: ignore[return-value]
