"""The kernels' reused memory (fastrnn._workspace): memory is handed out again only when nothing uses it."""
import pickle
import threading

import numpy as np
import pytest

from fastrnn import _cells, _workspace

BIG = (1000, 500)  # 4 MB in float64, past MIN_BYTES


@pytest.fixture(autouse=True)
def empty_pool(monkeypatch):
    monkeypatch.setattr(_workspace, "_buffers", [])
    monkeypatch.setattr(_workspace, "_starts", {})


def address(a):
    return a.__array_interface__["data"][0]


def test_arrays_are_like_np_empty():
    for shape, dtype in [(BIG, np.float64), ((700, 3, 200), np.float32), ((10,), np.float64), ((0, 5), np.float32)]:
        a = _workspace.empty(shape, dtype)
        assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable


def test_pool_arrays_start_on_a_cache_line():
    # Fresh and reused buffers, at sizes that are not multiples of 64 bytes.
    for shape in [BIG, (999, 499), BIG, (1001, 250), (300, 83)]:
        for dtype in (np.float32, np.float64):
            a = _workspace.empty(shape, dtype)
            assert a.nbytes >= _workspace.MIN_BYTES
            assert address(a) % _workspace.ALIGN == 0
            a[...] = 1  # all of it is writable memory of its own
            assert np.all(a == 1)


def test_aligned_zeros_and_network_parameters_start_on_a_cache_line():
    from fastrnn._network import Network

    for dtype in (np.float32, np.float64):
        for n in (1, 7, 1001):
            a = _workspace.aligned_zeros(n, dtype)
            assert a.shape == (n,) and a.dtype == dtype and not a.any()
            assert address(a) % _workspace.ALIGN == 0
        net = Network("lstm", 3, (5,), 1, "identity", dtype=dtype)
        assert address(net.params) % _workspace.ALIGN == 0
        net.params[:] = np.arange(net.params.size)
        back = pickle.loads(pickle.dumps(net))  # given parameters are copied onto a boundary too
        assert address(back.params) % _workspace.ALIGN == 0 and np.array_equal(back.params, net.params)


def test_memory_in_use_is_not_handed_out_again():
    a = _workspace.empty(BIG, np.float64)
    a.fill(1.0)
    b = _workspace.empty(BIG, np.float64)
    b.fill(2.0)
    assert not np.shares_memory(a, b)
    assert np.all(a == 1.0)


def test_a_view_keeps_its_memory_in_use():
    a = _workspace.empty(BIG, np.float64)
    v = a[10:20]
    v.fill(3.0)
    del a
    b = _workspace.empty(BIG, np.float64)
    b.fill(4.0)
    assert np.all(v == 3.0)


def test_freed_memory_is_reused():
    a = _workspace.empty(BIG, np.float64)
    first = address(a)
    del a
    assert address(_workspace.empty(BIG, np.float64)) == first
    # a smaller request fits the same buffer; one less than half its size does not
    assert address(_workspace.empty((BIG[0] // 2 + 1, BIG[1]), np.float64)) == first
    assert address(_workspace.empty((BIG[0] // 3, BIG[1]), np.float64)) != first


def test_the_pool_stays_under_its_bound(monkeypatch):
    monkeypatch.setattr(_workspace, "MAX_BYTES", 5 * 2**20)
    kept = [_workspace.empty((2**20 // 8 + 100 * k,), np.float64) for k in range(8)]  # 8 MB, all in use
    assert sum(b.nbytes for b in _workspace._buffers) <= _workspace.MAX_BYTES
    assert all(a.shape == (2**20 // 8 + 100 * k,) for k, a in enumerate(kept))
    del kept
    for k in range(20):  # every size new, so free buffers must make room
        _workspace.empty((2**20 // 8 + 100 * k + 50,), np.float32)
        assert sum(b.nbytes for b in _workspace._buffers) <= _workspace.MAX_BYTES


def test_threads_never_share_memory():
    barrier, out, errors = threading.Barrier(4), [], []

    def work():
        try:
            barrier.wait()
            for _ in range(50):
                a = _workspace.empty(BIG, np.float64)
                out.append(a)
                if len(out) > 8:
                    out.pop(0)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    live = list(out)
    assert not any(np.shares_memory(a, b) for i, a in enumerate(live) for b in live[i + 1:])


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_a_cache_survives_later_calls(cell):
    # Big enough for the stash to come from the pool; a second forward must not write into the first's stash.
    rng = np.random.default_rng(0)
    T, B, F, H = 60, 20, 7, 160
    G = _cells.GATES[cell]
    weights = tuple(rng.standard_normal(s) * 0.2 for s in [(G * H, F), (G * H, H), (G * H,), (G * H,)])
    bs = np.full(T, B)
    X1, X2 = rng.standard_normal((T * B, F)), rng.standard_normal((T * B, F))
    dY = rng.standard_normal((T * B, H))
    Y1, _, _, cache = _cells.forward(cell, X1, bs, weights, training=True)
    expected = [g.copy() for g in _cells.backward(cache, dY)[3]]
    Y1_copy = Y1.copy()
    del cache
    Y1b, _, _, cache = _cells.forward(cell, X1, bs, weights, training=True)
    for _ in range(2):
        _cells.forward(cell, X2, bs, weights, training=True)
        _cells.backward(_cells.forward(cell, X2, bs, weights, training=True)[3], dY)
    np.testing.assert_array_equal(Y1, Y1_copy)
    for a, b in zip(_cells.backward(cache, dY)[3], expected):
        np.testing.assert_array_equal(a, b)


def test_a_child_forked_while_the_pool_is_locked_can_use_it():
    # A child forked while another thread was inside `empty` inherited the lock held, by a thread it does not
    # have: its first kernel call waited forever (found with predicts in a thread beside forks in a loop).
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    held, release = threading.Event(), threading.Event()

    def hold():
        with _workspace._lock:
            held.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    try:
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        child = ctx.Process(target=lambda: queue.put(_workspace.empty(BIG, np.float64).shape))
        child.start()
        child.join(30)
        if child.is_alive():
            child.terminate()
            raise AssertionError("the forked child hung on the pool's lock")
        assert child.exitcode == 0 and queue.get(timeout=5) == BIG
    finally:
        release.set()
        holder.join()
