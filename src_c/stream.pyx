"""One time step of a stack of unidirectional recurrent layers and a dense head, for n independent streams.

The estimators' predict_step runs here, a whole step of the network in one compiled call: at one row, a step's
arithmetic (two GEMVs and a few hundred activations per layer at H = 64, about a microsecond) costs less than the
Python-level calls, argument checks and memoryview set-ups of one call of a sequence kernel would.

Math per recurrent layer l, on its input z (n, F_l) and state h (n, H) (c for the LSTM), the cells' own:

    LSTM:  a = z W_ih^T + h W_hh^T,  bias = b_ih + b_hh,              then lstm_pointwise (lstm.h) on the n rows
    GRU:   a = z W_ih^T,  u = h W_hh^T,  bias = b_ih + [b_hr, b_hz, 0], then gru_pointwise (gru.h) on the n rows
    RNN:   a = z W_ih^T + h W_hh^T,  bias = b_ih + b_hh,              then rnn_pointwise (rnn.h): h = act(a + bias)

then the head, as the network's: Z = relu(Z coef_i + intercept_i) for the hidden dense layers, and
out = out_act(Z coef + intercept) with out_act identity, logistic or softmax.

The weights are read where the model keeps them, at every call, so a model updated in place is seen at once;
the Stepper keeps references to those arrays so that their memory outlives it.
"""
cimport numpy as cnp
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from cython cimport floating
from libc.math cimport exp
from libc.string cimport memcpy

from _blas cimport step_gemm, dots
from _math cimport relu, sigmoid_rows, all_finite, bias_rows, bias_sum
from lstm cimport lstm_pointwise
from gru cimport gru_pointwise
from rnn cimport rnn_pointwise

import numpy as np

cnp.import_array()

cdef enum:
    LSTM, GRU, RNN

cdef enum:
    IDENTITY, LOGISTIC, SOFTMAX

cdef enum:
    # Up to this many streams, a step's products are fr_dots (_gemm.h) on the weights as they are; beyond, BLAS's
    # GEMM, whose register blocks reuse every weight across the streams. At F = 8, H = 64 against BLAS at 1 thread:
    # 0.5-0.85x the time from 5 to 16 streams in float32, 0.6-0.99x in float64 (the GRU at 5 and 6 streams in
    # float64 1.1x), the same at 1 to 4.
    DOTS_STREAMS = 16
    # Layers and scratch values (doubles) that Stepper.step keeps on the stack; a deeper or wider step allocates.
    STACK_LAYERS = 8
    STACK_SCRATCH = 1024

CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
OUT_ACTIVATIONS = {"identity": IDENTITY, "logistic": LOGISTIC, "softmax": SOFTMAX}
GATES = {"lstm": 4, "gru": 3, "rnn": 1}
_new_object = object.__new__


cdef struct Layer:
    void* w_ih      # (G H, F)
    void* w_hh      # (G H, H)
    void* b_ih      # (G H,)
    void* b_hh      # (G H,)
    Py_ssize_t F
    Py_ssize_t H


cdef struct Dense:
    void* coef      # (fan_in, fan_out)
    void* intercept  # (fan_out,)
    Py_ssize_t fan_in
    Py_ssize_t fan_out


cdef class Stepper:
    """A network's streaming step.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}.   activation : {"tanh", "relu"}, the cells' candidate activation.
    layers : list of (weight_ih (G H_l, F_l), weight_hh (G H_l, H_l), bias_ih (G H_l,), bias_hh (G H_l,)),
        one per stacked layer, F_l = H_{l-1}; C-contiguous arrays of one dtype, float32 or float64.
    dense : list of (coef (fan_in, fan_out), intercept (fan_out,)), the head; empty for none (then the output
        of a step is the top layer's new hidden state).
    out_activation : {"identity", "logistic", "softmax"}, applied to the head's output.
    """

    cdef Layer* _layers
    cdef Dense* _dense
    cdef Py_ssize_t n_layers, n_dense, n_features, n_outputs, max_width
    cdef int cell, out_activation, typenum
    cdef bint use_relu
    cdef readonly object dtype
    cdef list _keep

    def __cinit__(self, cell, activation, layers, dense, out_activation="identity"):
        self._layers = NULL
        self._dense = NULL

    def __init__(self, cell, activation, layers, dense, out_activation="identity"):
        if cell not in CELLS or activation not in ("tanh", "relu") or out_activation not in OUT_ACTIVATIONS:
            raise ValueError(f"unknown cell, activation or out_activation: {cell!r}, {activation!r}, "
                             f"{out_activation!r}")
        if not layers:
            raise ValueError("a Stepper needs at least one recurrent layer")
        self.cell = CELLS[cell]
        self.use_relu = activation == "relu"
        self.out_activation = OUT_ACTIVATIONS[out_activation]
        self.dtype = np.asarray(layers[0][0]).dtype
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"the weights must be float32 or float64, got {self.dtype}")
        self.typenum = cnp.NPY_FLOAT32 if self.dtype == np.float32 else cnp.NPY_FLOAT64
        self._keep = []
        self.n_layers, self.n_dense = len(layers), len(dense)
        self._layers = <Layer*> PyMem_Malloc(self.n_layers * sizeof(Layer))
        self._dense = <Dense*> PyMem_Malloc(max(self.n_dense, 1) * sizeof(Dense))
        if self._layers == NULL or self._dense == NULL:
            raise MemoryError()
        G = GATES[cell]
        width = self.n_features = np.shape(layers[0][0])[1]
        self.max_width = width
        for l, (w_ih, w_hh, b_ih, b_hh) in enumerate(layers):
            H = np.shape(w_hh)[0] // G
            self._layers[l] = Layer(
                self._data(f"weight_ih_l{l}", w_ih, (G * H, width)), self._data(f"weight_hh_l{l}", w_hh, (G * H, H)),
                self._data(f"bias_ih_l{l}", b_ih, (G * H,)), self._data(f"bias_hh_l{l}", b_hh, (G * H,)), width, H)
            width = H
            self.max_width = max(self.max_width, G * H)
        for i, (coef, intercept) in enumerate(dense):
            fan_out = np.shape(coef)[1]
            self._dense[i] = Dense(self._data(f"coef_{i}", coef, (width, fan_out)),
                                   self._data(f"intercept_{i}", intercept, (fan_out,)), width, fan_out)
            width = fan_out
            self.max_width = max(self.max_width, width)
        self.n_outputs = width

    cdef void* _data(self, name, a, shape) except NULL:
        """a's memory, after checking that it is a C-contiguous array of the dtype and shape (kept alive)."""
        if not isinstance(a, np.ndarray) or a.dtype != self.dtype or a.shape != shape or not a.flags.c_contiguous:
            raise ValueError(f"{name} must be a C-contiguous {self.dtype} array of shape {shape}, got "
                             f"{getattr(a, 'dtype', type(a).__name__)} {getattr(a, 'shape', '')}")
        self._keep.append(a)
        return cnp.PyArray_DATA(<cnp.ndarray> a)

    def __dealloc__(self):
        PyMem_Free(self._layers)
        PyMem_Free(self._dense)

    cdef void _check_state(self, tuple arrays, Py_ssize_t n) except *:
        """Each layer's state array is a C-contiguous, aligned (n, H_l) array of the Stepper's dtype, in the machine's
        byte order."""
        cdef cnp.ndarray a
        for l in range(self.n_layers):
            obj = arrays[l]
            if isinstance(obj, cnp.ndarray):
                a = <cnp.ndarray> obj
                if (cnp.PyArray_TYPE(a) == self.typenum and cnp.PyArray_NDIM(a) == 2 and a.shape[0] == n
                        and a.shape[1] == self._layers[l].H and cnp.PyArray_ISCARRAY_RO(a)
                        and cnp.PyArray_ISNOTSWAPPED(a)):
                    continue
            raise ValueError(
                f"state of layer {l} must be C-contiguous {self.dtype} arrays of shape ({n}, "
                f"{self._layers[l].H}), got {getattr(obj, 'dtype', type(obj).__name__)} {getattr(obj, 'shape', '')}"
                f"{'' if getattr(obj, 'flags', None) is None or obj.flags.c_contiguous else ' (not C-contiguous)'}; "
                "make it with this estimator's init_state."
            )

    cdef tuple _new_states(self, Py_ssize_t n, void** data):
        """A tuple of new (n, H_l) arrays, one per layer, and their memory in data[0:L]."""
        cdef cnp.npy_intp dims[2]
        cdef tuple arrays = PyTuple_New(self.n_layers)
        dims[0] = n
        for l in range(self.n_layers):
            dims[1] = self._layers[l].H
            a = cnp.PyArray_EMPTY(2, dims, self.typenum, 0)
            Py_INCREF(a)
            PyTuple_SET_ITEM(arrays, l, a)
            data[l] = cnp.PyArray_DATA(<cnp.ndarray> a)
        return arrays

    def step(self, cnp.ndarray x, tuple h, c):
        """One step of n streams: returns (out (n, n_outputs), new h (tuple), new c (tuple, or None)).

        x : (n, F) array of the Stepper's dtype, with finite values.
        h : tuple of (n, H_l) arrays, c : the same for an LSTM, else None: the state before the step, not modified.
        """
        return self._step(x, h, c)

    def stream(self, x, state, cls):
        """The estimators' predict_step: step() from `state`, an instance of `cls` (StreamState) holding the h and
        c tuples, to (out, a new cls holding the new ones). None, before any work, unless x is a 2-D array of the
        Stepper's dtype and width and state a cls: the caller then converts, checks and explains in its own
        terms. The Python-level version of these few tests and of StreamState's constructor took a quarter of a
        float64 step of 64 units."""
        if not (cnp.PyArray_CheckExact(x) and <object> cnp.PyArray_DESCR(<cnp.ndarray> x) is self.dtype
                and cnp.PyArray_NDIM(<cnp.ndarray> x) == 2 and (<cnp.ndarray> x).shape[1] == self.n_features
                and type(state) is cls):
            return None
        out, h, c = self._step(<cnp.ndarray> x, state.h, state.c)
        new = _new_object(cls)
        new.h = h
        new.c = c
        return out, new

    cdef tuple _step(self, cnp.ndarray x, tuple h, c):
        # A step at H = 64 takes about two microseconds, so this does its checks and allocations at the C level:
        # no Python attribute lookups, and no list or tuple but the three it returns (each of which, with the
        # garbage collector's passes they bring on, costs about as much as a check).
        cdef Py_ssize_t n, L = self.n_layers, l, size
        cdef bint lstm = self.cell == LSTM
        if (cnp.PyArray_TYPE(x) != self.typenum or not cnp.PyArray_ISNOTSWAPPED(x) or cnp.PyArray_NDIM(x) != 2
                or x.shape[1] != self.n_features):
            raise ValueError(f"X_t must be a {self.dtype} array of shape (n_samples, {self.n_features}), got "
                             f"{x.dtype} {(<object> x).shape}")
        if not (cnp.PyArray_IS_C_CONTIGUOUS(x) and cnp.PyArray_ISALIGNED(x)):
            x = np.require(x, requirements="CA")
        n = x.shape[0]
        if (c is None) == lstm or len(h) != L or (lstm and (type(c) is not tuple or len(<tuple> c) != L)):
            raise ValueError(f"state does not belong to this model ({L} {['lstm', 'gru', 'rnn'][self.cell]} "
                             "layers); make it with this estimator's init_state.")
        first = h[0]
        if (isinstance(first, cnp.ndarray) and cnp.PyArray_NDIM(<cnp.ndarray> first) == 2
                and (<cnp.ndarray> first).shape[0] != n):
            raise ValueError(f"X_t has {n} rows, but state holds {(<cnp.ndarray> first).shape[0]} streams; they "
                             "must match (use state.take(indices) to step a subset of the streams).")
        self._check_state(h, n)
        if lstm:
            self._check_state(<tuple> c, n)
        if not (all_finite(<float*> cnp.PyArray_DATA(x), n * self.n_features) if self.typenum == cnp.NPY_FLOAT32
                else all_finite(<double*> cnp.PyArray_DATA(x), n * self.n_features)):
            raise ValueError("X_t contains NaN or infinity.")

        # Pointers to every layer's state in, state out, in that order: h then c; on the stack unless there are
        # many layers, as is the scratch unless the step is wide.
        cdef void* states_here[4 * STACK_LAYERS]
        cdef double scratch_here[STACK_SCRATCH]
        cdef void** states = states_here
        cdef void* scratch = scratch_here
        size = (2 * n + 1) * self.max_width * cnp.PyArray_ITEMSIZE(x)
        if L > STACK_LAYERS:
            states = <void**> PyMem_Malloc(4 * L * sizeof(void*))
        if size > <Py_ssize_t> (STACK_SCRATCH * sizeof(double)):
            scratch = PyMem_Malloc(size)
        if states == NULL or scratch == NULL:
            self._free(states, scratch, states_here, scratch_here)
            raise MemoryError()
        cdef bint finite
        cdef cnp.ndarray out
        cdef cnp.npy_intp dims[2]
        cdef tuple new_h, new_c = None
        try:
            for l in range(L):
                states[l] = cnp.PyArray_DATA(<cnp.ndarray> h[l])
                if lstm:
                    states[2 * L + l] = cnp.PyArray_DATA(<cnp.ndarray> (<tuple> c)[l])
            new_h = self._new_states(n, states + L)
            if lstm:
                new_c = self._new_states(n, states + 3 * L)
            if self.n_dense:
                dims[0], dims[1] = n, self.n_outputs
                out = cnp.PyArray_EMPTY(2, dims, self.typenum, 0)
            else:
                out = new_h[L - 1]
            if self.typenum == cnp.NPY_FLOAT32:
                finite = self._run(<float*> cnp.PyArray_DATA(x), n, states, <float*> cnp.PyArray_DATA(out),
                                   <float*> scratch)
            else:
                finite = self._run(<double*> cnp.PyArray_DATA(x), n, states, <double*> cnp.PyArray_DATA(out),
                                   <double*> scratch)
        finally:
            self._free(states, scratch, states_here, scratch_here)
        if not finite:
            raise FloatingPointError("non-finite value in the streaming step")
        return out, new_h, new_c

    cdef void _free(self, void** states, void* scratch, void** states_here, void* scratch_here) noexcept:
        if states != states_here:
            PyMem_Free(states)
        if scratch != scratch_here:
            PyMem_Free(scratch)

    cdef bint _run(self, floating* x, Py_ssize_t n, void** states, floating* out, floating* scratch) noexcept:
        with nogil:
            return step(x, n, self._layers, self.n_layers, self._dense, self.n_dense, self.cell, self.use_relu,
                        self.out_activation, states, out, scratch, self.max_width)


cdef inline void products(Py_ssize_t n, Py_ssize_t m, const floating* z, Py_ssize_t F, const floating* w_ih,
                          const floating* h, Py_ssize_t H, const floating* w_hh, floating* y) noexcept nogil:
    """y (n, m) = z (n, F) W_ih^T + h (n, H) W_hh^T, without the second term when w_hh is NULL: fr_dots on the
    weights as they are for up to DOTS_STREAMS streams, BLAS's GEMM beyond."""
    if n <= DOTS_STREAMS:
        dots(n, m, w_ih, F, z, w_hh, H, h, y)
        return
    step_gemm(True, n, m, F, z, F, w_ih, F, 0, y, m)
    if w_hh != NULL:
        step_gemm(True, n, m, H, h, H, w_hh, H, 1, y, m)


cdef bint step(const floating* x, Py_ssize_t n, const Layer* layers, Py_ssize_t L, const Dense* dense,
               Py_ssize_t D, int cell, bint use_relu, int out_activation, void** states, floating* out,
               floating* scratch, Py_ssize_t width) noexcept nogil:
    """The step (math in the module docstring); False when a state or the output is not finite.

    states : 4 L pointers, (n, H_l) each: h in, h out, c in, c out of every layer (the c ones unused but for LSTM).
    out : (n, n_outputs) out, unless D == 0 (the output is then the top layer's h out).
    scratch : (2 n + 1) width values: the gates, the GRU's recurrent product and the bias of a layer; then the
        head's two buffers.
    """
    cdef:
        Py_ssize_t l, i, j, k, F, H, G, fi, fo
        const floating* z = x
        const floating* w_ih
        const floating* w_hh
        const floating* b_ih
        const floating* b_hh
        const floating* coef
        const floating* intercept
        floating* h0
        floating* h1
        floating* c1
        floating* a = scratch
        floating* u = scratch + n * width
        floating* bias = scratch + 2 * n * width
        floating* dst
        floating m, s
        bint finite = True
    for l in range(L):
        F, H = layers[l].F, layers[l].H
        w_ih, w_hh = <const floating*> layers[l].w_ih, <const floating*> layers[l].w_hh
        b_ih, b_hh = <const floating*> layers[l].b_ih, <const floating*> layers[l].b_hh
        h0, h1 = <floating*> states[l], <floating*> states[L + l]
        if cell == LSTM:
            G = 4 * H
            bias_sum(bias, b_ih, b_hh, G, G)
            products(n, G, z, F, w_ih, h0, H, w_hh, a)
            c1 = <floating*> states[3 * L + l]
            memcpy(c1, states[2 * L + l], n * H * sizeof(floating))
            lstm_pointwise(use_relu, n, H, a, bias, c1, h1, <floating*> NULL, <floating*> NULL, <floating*> NULL, 0, 0,
                           <floating*> NULL)
            finite = finite and all_finite(c1, n * H)
        elif cell == GRU:
            G = 3 * H
            bias_sum(bias, b_ih, b_hh, G, 2 * H)
            products(n, G, z, F, w_ih, <const floating*> NULL, 0, <const floating*> NULL, a)
            products(n, G, h0, H, w_hh, <const floating*> NULL, 0, <const floating*> NULL, u)
            gru_pointwise(use_relu, n, H, a, bias, u, b_hh + 2 * H, h0, h1, <floating*> NULL, <floating*> NULL,
                          <floating*> NULL)
        else:
            bias_sum(bias, b_ih, b_hh, H, H)
            products(n, H, z, F, w_ih, h0, H, w_hh, h1)
            rnn_pointwise(use_relu, n, H, h1, bias, 1, <floating*> NULL, 0, 0, <floating*> NULL)
        finite = finite and all_finite(h1, n * H)
        z = h1

    for i in range(D):
        fi, fo = dense[i].fan_in, dense[i].fan_out
        coef, intercept = <const floating*> dense[i].coef, <const floating*> dense[i].intercept
        # The hidden layers alternate between the two head buffers; the last writes out.
        dst = out if i == D - 1 else scratch + (i % 2) * n * width
        if fo == 1 and n <= DOTS_STREAMS:
            # A single output's coef (fi, 1) is one row of fi: a dot product per stream.
            dots(n, 1, coef, fi, z, <const floating*> NULL, 0, <const floating*> NULL, dst)
            for j in range(n):
                dst[j] += intercept[0]
        else:
            bias_rows(dst, n, fo, intercept)
            step_gemm(False, n, fo, fi, z, fi, coef, fo, 1, dst, fo)
        if i < D - 1:
            for k in range(n * fo):
                dst[k] = relu(dst[k])
        z = dst
    if D:
        fo = dense[D - 1].fan_out
        if out_activation == LOGISTIC:
            sigmoid_rows(out, n * fo)
        elif out_activation == SOFTMAX:
            for j in range(n):
                dst = out + j * fo
                m = dst[0]
                for k in range(1, fo):
                    m = dst[k] if dst[k] > m else m
                s = 0
                for k in range(fo):
                    dst[k] = exp(dst[k] - m)
                    s += dst[k]
                for k in range(fo):
                    dst[k] /= s
        finite = finite and all_finite(out, n * fo)
    return finite
