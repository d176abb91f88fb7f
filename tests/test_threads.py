"""fastrnn._threads: BLAS's thread count, and who runs the kernels' per-step products."""
import threading
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from fastrnn import _threads


def test_blas_threads_follows_threadpool_limits():
    with threadpool_limits(1, "blas"):
        assert _threads.blas_threads() == 1


def _library_threads():
    return [lib.get_num_threads() for lib in _threads._blas_libraries().lib_controllers]


@pytest.mark.parametrize("outer", [2, 3])
def test_one_blas_thread_limits_then_restores_each_library(outer):
    with threadpool_limits(outer, "blas"):
        before = _library_threads()
        with pytest.raises(KeyError):
            with _threads.one_blas_thread():
                assert _threads.blas_threads() == 1
                with _threads.one_blas_thread():  # nested: a lane inside step_threads's context
                    assert _threads.blas_threads() == 1
                assert _threads.blas_threads() == 1
                raise KeyError  # restored on the way out of an error too
        assert _library_threads() == before


def test_own_product_on_one_blas_thread_at_any_size():
    with threadpool_limits(1, "blas"):
        assert _threads.own_product(1, 4, 8)
        assert _threads.own_product(128, 4, 1024)  # the "large" benchmark shape: 2^29 multiply-adds a step


def test_several_blas_threads_take_large_steps_only(monkeypatch):
    monkeypatch.setattr(_threads, "blas_threads", lambda: 2)
    assert _threads.own_product(32, 4, 64)
    # SMALL_STEP multiply-adds a step is where several threads start to pay.
    assert _threads.own_product(1, 1, 2047)
    assert not _threads.own_product(1, 1, 2048)
    assert not _threads.own_product(64, 4, 256)


def test_own_sequence_for_small_gradients_on_one_blas_thread(monkeypatch):
    monkeypatch.setattr(_threads, "blas_threads", lambda: 1)
    assert _threads.own_sequence(4, 128, 16)  # a long LSTM's gradient: 512 by 145
    assert not _threads.own_sequence(4, 1024, 512)  # the large shape's: 4096 by 1537
    monkeypatch.setattr(_threads, "blas_threads", lambda: 2)
    assert not _threads.own_sequence(4, 128, 16)


def test_lanes_share_out_threads_for_large_enough_layers(monkeypatch):
    monkeypatch.setattr(_threads, "blas_threads", lambda: 2)
    # The medium LSTM (6,400 rows, H = 256, F = 64) in float32: 2^30.3 multiply-adds, 1.25 MB of weights.
    assert _threads.lanes(64, 6400, 4, 256, 64, 4) == 2
    assert _threads.lanes(1, 6400, 4, 256, 64, 4) == 1  # one sequence
    assert _threads.lanes(32, 3200, 1, 64, 8, 4) == 1  # a small RNN: too little work for a lane
    assert _threads.lanes(128, 6400, 4, 1024, 512, 4) == 2  # the large LSTM in float32: 2 copies of 24 MB
    assert _threads.lanes(128, 6400, 4, 1024, 512, 8) == 1  # in float64, 48 MB: one copy, on BLAS's threads
    monkeypatch.setattr(_threads, "blas_threads", lambda: 8)
    assert _threads.lanes(64, 6400, 4, 256, 64, 4) == 8
    assert _threads.lanes(64, 6400, 4, 512, 1536, 4) == 4  # the weights' copies: 4 of 16 MB fit in 64 MB
    assert _threads.lanes(3, 6400, 4, 256, 64, 4) == 3  # no more lanes than sequences
    assert _threads.lanes(64, 100 * 64, 1, 64, 8, 8) == 1
    monkeypatch.setattr(_threads, "blas_threads", lambda: 1)
    assert _threads.lanes(64, 6400, 4, 256, 64, 4) == 1


def test_step_threads_gives_blas_threads_to_lanes():
    class Small:
        def step_shapes(self):
            return [(4, 64)]

    with threadpool_limits(2, "blas"):
        with _threads.step_threads(32, Small()):
            assert _threads.blas_threads() == 1
            assert _threads.lanes(64, 6400, 4, 256, 64, 4) == 2
        assert _threads.blas_threads() == 2
    with threadpool_limits(1, "blas"), _threads.step_threads(32, Small()):
        assert _threads.lanes(64, 6400, 4, 256, 64, 4) == 1


def test_run_lanes_runs_every_lane_and_waits_for_all_before_raising():
    results = _threads.run_lanes(3, lambda k: (k, threading.get_ident()))
    assert [k for k, _ in results] == [0, 1, 2]
    assert results[0][1] == threading.get_ident() != results[1][1]
    finished = []

    def lane(k):
        if k == 0:
            raise ValueError("lane 0")
        time.sleep(0.05)
        finished.append(k)

    with pytest.raises(ValueError, match="lane 0"):
        _threads.run_lanes(2, lane)
    assert finished == [1]
    with pytest.raises(KeyError):
        _threads.run_lanes(2, lambda k: {}[k])


def test_direction_lanes_for_bidirectional_layers_without_lanes_of_sequences(monkeypatch):
    monkeypatch.setattr(_threads, "blas_threads", lambda: 2)
    assert _threads.direction_lanes(2, 1, 1000, 4, 128, 32, 4) == 2  # one long sequence ("stream")
    assert _threads.direction_lanes(1, 1, 1000, 4, 128, 32, 4) == 1  # one direction
    assert _threads.direction_lanes(2, 64, 6400, 4, 256, 64, 4) == 1  # lanes of sequences instead
    assert _threads.direction_lanes(2, 1, 100, 4, 64, 8, 4) == 1  # too little work
    assert _threads.direction_lanes(2, 1, 1000, 4, 1024, 512, 4) == 2  # 2 x 24 MB of weights fit in 64 MB
    assert _threads.direction_lanes(2, 1, 1000, 4, 1024, 512, 8) == 1  # 2 x 48 MB do not
    monkeypatch.setattr(_threads, "blas_threads", lambda: 1)
    assert _threads.direction_lanes(2, 1, 1000, 4, 128, 32, 4) == 1


def test_a_fit_in_another_thread_gives_the_same_bits():
    # OpenBLAS ignores thread counts set from a thread other than the main one once the main thread has set one:
    # in a thread pool, one_blas_thread left BLAS at 2 threads, the kernels chose other products (BLAS's for the
    # weight gradients) and the fit came out 2e-16 apart.
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    from fastrnn import RNNClassifier

    rng = np.random.default_rng(0)
    X = [rng.standard_normal((int(rng.integers(2, 21)), 4)) for _ in range(200)]
    y = np.array([x[:, 0].sum() > 0 for x in X]).astype(int)

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = RNNClassifier(cell="gru", hidden_layer_sizes=(16,), max_iter=2, random_state=0).fit(X, y)
        with _threads.one_blas_thread():
            inside = _threads.blas_threads()
        return clf.predict_proba(X), inside

    with threadpool_limits(2, "blas"):
        main, inside_main = fit()  # the main thread sets a count: from here on, only it can
        with ThreadPoolExecutor(1) as pool:
            worker, inside_worker = pool.submit(fit).result()
    assert inside_main == inside_worker == 1
    assert np.array_equal(main, worker)


def test_lanes_see_their_callers_one_blas_thread():
    # A lane runs on a worker thread, in a copy of its caller's context: from a thread where OpenBLAS ignores the
    # count one_blas_thread sets, a lane without the copy saw BLAS's 2 threads and chose other products.
    from concurrent.futures import ThreadPoolExecutor

    def call():
        with _threads.one_blas_thread():
            return _threads.run_lanes(2, lambda k: _threads.blas_threads())

    with threadpool_limits(2, "blas"):
        with _threads.one_blas_thread():
            pass  # the main thread sets a count: from here on, only it can
        with ThreadPoolExecutor(1) as pool:
            assert pool.submit(call).result() == [1, 1]


def test_lanes_run_in_a_forked_child():
    # The child of a fork has none of the parent's threads; a pool copied from the parent would wait for them.
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    assert _threads.run_lanes(2, lambda k: k) == [0, 1]  # the parent's pool has a worker now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=lambda: queue.put(_threads.run_lanes(2, lambda k: 10 * k)))
    child.start()
    child.join(30)
    if child.is_alive():
        child.terminate()
        raise AssertionError("lanes hung in a forked child")
    assert child.exitcode == 0 and queue.get(timeout=5) == [0, 10]
