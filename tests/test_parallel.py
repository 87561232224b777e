"""dlbook.parallel のテスト: 塊の分け方と、スレッドでの実行。"""

from __future__ import annotations

import threading

import pytest
from threadpoolctl import threadpool_limits

from dlbook.parallel import blas_threads, map_chunks, split


class TestSplit:
    @pytest.mark.parametrize(
        ("n", "parts", "chunk"),
        [(10, 2, 3), (7, 3, 2), (5, 8, 1), (0, 2, 4), (32, 2, 4), (1, 1, 9)],
    )
    def test_covers_range_in_order(
        self, n: int, parts: int, chunk: int
    ) -> None:
        result = split(n, parts, chunk)
        flat = [i for part in result for s in part for i in range(n)[s]]
        assert flat == list(range(n))
        assert len(result) <= parts
        for part in result:
            assert part, "空の部分は返さない"
            assert all(s.stop - s.start <= chunk for s in part)

    def test_example(self) -> None:
        assert split(10, 2, 3) == [
            [slice(0, 3), slice(3, 5)],
            [slice(5, 8), slice(8, 10)],
        ]

    @pytest.mark.parametrize("args", [(-1, 2, 2), (4, 0, 2), (4, 2, 0)])
    def test_bad_arguments(self, args: tuple[int, int, int]) -> None:
        with pytest.raises(ValueError, match="chunk"):
            split(*args)


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
            return list(range(20)[s])

        results = map_chunks(fn, 20, 3, workers)
        assert [i for r in results for i in r] == list(range(20))
        assert sorted(threads) == list(range(workers))
        # 同じ worker 番号の塊は同じスレッドで呼ばれる
        assert all(len(ids) == 1 for ids in threads.values())
        # worker 0 は呼んだスレッドそのもの
        assert threads[0] == {threading.get_ident()}

    def test_blas_is_single_threaded_inside_and_restored(self) -> None:
        seen: list[int] = []
        with threadpool_limits(limits=2, user_api="blas"):
            before = blas_threads()
            map_chunks(lambda w, s: seen.append(blas_threads()), 8, 2, 2)
            assert blas_threads() == before
        assert seen and set(seen) == {1}

    def test_exception_propagates(self) -> None:
        def fn(worker: int, s: slice) -> None:
            if worker == 1:
                raise RuntimeError("worker 1 failed")

        with pytest.raises(RuntimeError, match="worker 1"):
            map_chunks(fn, 8, 2, 2)

    def test_empty(self) -> None:
        assert map_chunks(lambda w, s: 1, 0, 4, 2) == []
