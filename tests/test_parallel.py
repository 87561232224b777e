"""dlbook.parallel のテスト: 塊の分け方と、スレッドでの実行。"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from threadpoolctl import threadpool_limits

from dlbook.parallel import blas_threads, chunks, map_chunks


class TestChunks:
    @pytest.mark.parametrize(
        ("n", "size"), [(10, 3), (7, 7), (5, 8), (0, 4), (32, 4), (1, 1)]
    )
    def test_covers_range_in_order(self, n: int, size: int) -> None:
        result = chunks(n, size)
        assert [i for s in result for i in range(n)[s]] == list(range(n))
        assert all(0 < s.stop - s.start <= size for s in result)

    def test_example(self) -> None:
        assert chunks(10, 4) == [slice(0, 4), slice(4, 8), slice(8, 10)]

    @pytest.mark.parametrize("args", [(-1, 2), (4, 0)])
    def test_bad_arguments(self, args: tuple[int, int]) -> None:
        with pytest.raises(ValueError, match="size"):
            chunks(*args)


class TestMapChunks:
    @pytest.mark.parametrize("workers", [1, 2, 3])
    def test_results_in_order_and_worker_is_one_thread(
        self, workers: int
    ) -> None:
        threads: dict[int, set[int]] = {}
        lock = threading.Lock()

        def fn(worker: int, s: slice) -> list[int]:
            with lock:
                threads.setdefault(worker, set()).add(threading.get_ident())
            time.sleep(0.001)  # ほかのスレッドにも塊が回るように
            return list(range(20)[s])

        results = map_chunks(fn, 20, 3, workers)
        assert [i for r in results for i in r] == list(range(20))
        assert set(threads) <= set(range(workers))
        # 同じ worker 番号の塊は同じスレッドで呼ばれ、番号 0 は呼んだスレッド
        assert all(len(ids) == 1 for ids in threads.values())
        assert threads.get(0, {threading.get_ident()}) == {
            threading.get_ident()
        }

    def test_fast_worker_takes_more_chunks(self) -> None:
        # 塊は手の空いたスレッドが取る: 遅いスレッドは少ししか受け持たない
        done: Counter[int] = Counter()

        def fn(worker: int, s: slice) -> None:
            done[worker] += 1
            time.sleep(0.05 if worker == 1 else 0.002)

        map_chunks(fn, 20, 1, 2)
        assert sum(done.values()) == 20
        assert done[0] > 2 * done[1]

    def test_blas_is_single_threaded_inside_and_restored(self) -> None:
        seen: list[int] = []
        with threadpool_limits(limits=2, user_api="blas"):
            before = blas_threads()
            map_chunks(lambda w, s: seen.append(blas_threads()), 8, 2, 2)
            assert blas_threads() == before
        assert seen and set(seen) == {1}

    @pytest.mark.parametrize("failing", [0, 1])
    def test_exception_propagates(self, failing: int) -> None:
        def fn(worker: int, s: slice) -> None:
            time.sleep(0.01)
            if worker == failing:
                raise RuntimeError(f"worker {failing} failed")

        with pytest.raises(RuntimeError, match=f"worker {failing}"):
            map_chunks(fn, 8, 1, 2)

    def test_empty(self) -> None:
        assert map_chunks(lambda w, s: 1, 0, 4, 2) == []
