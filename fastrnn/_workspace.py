"""Reused memory for the kernels' large arrays (gates, stash, gradients, outputs).

A training step of a long batch asks for hundreds of megabytes (an LSTM(128) over 2000 steps of 16 sequences in
float64: 430 MB). Fresh from the allocator, every page of that is faulted in and zeroed by the kernel on first
touch: a third of a small GRU's training step, and up to half of a long LSTM's when another library's frees
have fragmented memory (measured with getrusage beside torch's steps). `empty` hands out memory of earlier calls
that nothing references any more instead.

A buffer is free when the pool holds the only reference to it: every array `empty` returns is a view whose base
is the buffer, so a caller that keeps an output (or a Cache keeps its stash) keeps its buffer out of reuse.
"""
import os
import sys
import threading

import numpy as np

# Arrays smaller than this come from np.empty: malloc keeps blocks this small in its heap and reuses them without
# faulting. Larger ones it may map fresh or return to the system (glibc's mmap and trim thresholds move with the
# process's history), and the (P, H) arrays of a tiny model (1600 rows of 50 doubles: 640 KB) then cost a quarter
# of its training step in page faults.
MIN_BYTES = 1 << 16
# The pool holds at most this many bytes, in use or free; past it, free buffers are released (largest first)
# and, if that is not enough, the request is a plain np.empty.
MAX_BYTES = 1 << 29

_buffers = []
_lock = threading.Lock()


def _new_lock():
    # A child forked while another thread held the lock (inside `empty`) would inherit it held, by a thread it
    # does not have, and its first kernel call would wait forever.
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock)


# Every array from the pool starts on a cache line (numpy's large arrays start 16 bytes past a page): a row of a
# whole number of cache lines then never straddles two, and the kernels' products read each vector in one load.
# Each buffer's first boundary is found once, when it is made (asking numpy for an array's address costs
# microseconds, as much as the rest of `empty`).
ALIGN = 64
_starts = {}  # id of a buffer in _buffers -> offset of its first 64-byte boundary


def _first_boundary(a):
    """Bytes from the start of a's memory to its first 64-byte boundary."""
    return -a.__array_interface__["data"][0] % ALIGN


def aligned_zeros(n, dtype):
    """Zeros of shape (n,) whose memory starts on a 64-byte boundary, outside the pool (for arrays kept for good,
    as a network's parameters)."""
    dtype = np.dtype(dtype)
    whole = np.zeros(n + ALIGN // dtype.itemsize, dtype)
    start = _first_boundary(whole) // dtype.itemsize
    return whole[start : start + n]


def empty(shape, dtype):
    """An uninitialised C-contiguous array, like np.empty, in memory an earlier call may have used; one of
    MIN_BYTES or more starts on a 64-byte boundary."""
    dtype = np.dtype(dtype)
    nbytes = dtype.itemsize
    for n in (shape if isinstance(shape, tuple) else (shape,)):
        nbytes *= n  # not np.prod: this runs for every small array too, where its microseconds show
    if nbytes < MIN_BYTES:
        return np.empty(shape, dtype=dtype)
    size = nbytes + ALIGN - 1
    with _lock:
        # Free: referenced only by the list (and getrefcount's argument), so no array of the caller's uses it.
        free = [i for i in range(len(_buffers)) if sys.getrefcount(_buffers[i]) == 2]
        fits = [i for i in free if size <= _buffers[i].nbytes <= 2 * size]
        if fits:
            buf = _buffers[min(fits, key=lambda i: _buffers[i].nbytes)]
            start = _starts[id(buf)]
        else:
            held = sum(b.nbytes for b in _buffers)
            drop = set()
            for i in sorted(free, key=lambda i: _buffers[i].nbytes, reverse=True):
                if held + size <= MAX_BYTES:
                    break
                held -= _buffers[i].nbytes
                drop.add(i)
            for i in drop:
                del _starts[id(_buffers[i])]
            _buffers[:] = [b for i, b in enumerate(_buffers) if i not in drop]
            buf = np.empty(size, dtype=np.uint8)
            start = _first_boundary(buf)
            if held + size <= MAX_BYTES:
                _buffers.append(buf)
                _starts[id(buf)] = start
        return buf[start : start + nbytes].view(dtype).reshape(shape)
