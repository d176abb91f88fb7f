"""fastrnn._threads: BLAS's thread count, and who runs the kernels' per-step products."""
from threadpoolctl import threadpool_limits

from fastrnn import _threads


def test_blas_threads_follows_threadpool_limits():
    with threadpool_limits(1, "blas"):
        assert _threads.blas_threads() == 1


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
