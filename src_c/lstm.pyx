"""LSTM forward pass and backpropagation through time: one layer, one direction, float32 and float64.

Math (PyTorch's names and gate order i, f, g, o; H hidden units; x_t (F,), h, c (H,)):

    a   = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh          pre-activations (4H,) = [a_i, a_f, a_g, a_o]
    i   = σ(a_i)    f = σ(a_f)    g = act(a_g)    o = σ(a_o)
    c_t = f * c_{t-1} + i * g
    h_t = o * act(c_t)                                act = tanh, or relu (Keras's activation="relu")

Backward, with dh = dL/dh_t (from the output and from step t+1) and dc = dL/dc_t (from step t+1):

    dc    += dh * o * act'(c_t)
    da_i   = dc * g * i (1 - i)             da_f = dc * c_{t-1} * f (1 - f)
    da_g   = dc * i * act'(a_g)             da_o = dh * act(c_t) * o (1 - o)
    dc_{t-1} = dc * f                       dh_{t-1} = da @ W_hh
    dW_ih += da^T x    dW_hh += da^T h_{t-1}    db_ih += da    db_hh += da    dx = da @ W_ih

Packed layout (DESIGN.md section 2): sequences sorted longest first; step t owns the rows off : off + b of every
(P, .) array, b = batch_sizes[t] live sequences, and row off + j is sorted sequence j. The state arrays h, c (B, H)
come in as h0, c0 and go out as h_n, c_n. c holds every sequence's current cell state: a sequence that is not live
at a step keeps its c untouched, so rows that become live in the reverse direction start from c0. A step reads
h_{t-1} from the previous step's rows of Y where it can (_steps.pxd). The backward keeps dh, dc as c.
"""
from cython cimport floating
from libc.stdlib cimport free
from libc.string cimport memset

from _blas cimport gemm_nn, pack_step, step_gemm
from _math cimport all_finite, bias_sum
from _steps cimport pack_inputs_states, state_rows, keep_final, step_gates, step_products
from _steps cimport stash_inputs, stash_state, weight_grads, add_weight_grads, grads_finite
from lstm cimport lstm_pointwise, lstm_pointwise_backward


def lstm_forward(
    const floating[:, ::1] X,
    const Py_ssize_t[::1] batch_sizes,
    const floating[:, ::1] weight_ih,
    const floating[:, ::1] weight_hh,
    const floating[::1] bias_ih,
    const floating[::1] bias_hh,
    floating[::1] bias,
    floating[:, ::1] h,
    floating[:, ::1] c,
    floating[:, ::1] Y,
    floating[:, ::1] gates,
    floating[:, ::1] xh,
    floating[:, ::1] c_prev,
    floating[:, ::1] act_c,
    bint use_relu,
    bint reverse,
    bint training,
    bint own_product,
):
    """Run the LSTM over a packed batch, writing Y, the final states and (when training) the stash.

    Parameters
    ----------
    X : (P, F) packed inputs.
    batch_sizes : (T,) live sequences at each step, non-increasing, batch_sizes[0] == B.
    weight_ih : (4H, F).   weight_hh : (4H, H).   bias_ih, bias_hh : (4H,).
    bias : (5H,) scratch: b_ih + b_hh, which the pointwise pass adds, then the sums of h_t * 0 by unit, from which
        the kernel tells that every h_t is finite without a pass over Y (lstm.h).
    h, c : (B, H) in: initial states h0, c0 (sorted order); out: final states h_n, c_n.
    Y : (P, H) out: h_t at every packed row.
    gates : (P, 4H) out: post-activation gates [i, f, g, o] of every row; scratch when not training, and then
        (B, 4H), the rows of one step, reused at every step, where _steps.pxd's step_gates allows it.
    xh : (P, ldx) out when training, ldx >= F + H + 1 (fastrnn/_cells.py, stash_width): [x_t, h_{t-1}, 1, 0...] of
        every row, the right-hand side of the backward's one product for all the weight and bias gradients
        (_steps.pxd); ignored (may have 0 rows) when not training.
    c_prev, act_c : (P, H) out when training: c_{t-1}, act(c_t) of every row; ignored (may have 0 rows) when not
        training.
    use_relu : relu instead of tanh for g and the output.
    reverse : walk the steps from T-1 down to 0.
    training : fill the stash the backward needs.
    own_product : the per-step products on the own product (_gemm.h), not BLAS (fastrnn/_threads.py decides).
    """
    cdef:
        Py_ssize_t P = X.shape[0], F = X.shape[1], H = h.shape[1], G = 4 * H
        Py_ssize_t T = batch_sizes.shape[0], s, t, b, b_prev = 0, b_next, off, off_prev = 0, done, row
        bint one_step = gates.shape[0] < P
        floating* hp
        floating* h_next = NULL
        floating* nan_sum = &bias[G]
        floating* Wp
        floating* Wxh
        bint finite
    if gates.shape[0] < (batch_sizes[0] if step_gates(training, own_product, batch_sizes[0]) else P):
        raise ValueError(f"gates has {gates.shape[0]} rows, too few for this pass")
    with nogil:
        # A step's products (step_products): one pass over [x_t, h_{t-1}] on the own product; with BLAS, the input
        # projection X @ W_ih^T goes a chunk of steps ahead (project). The bias joins in the pointwise pass.
        bias_sum(&bias[0], &bias_ih[0], &bias_hh[0], G, G)
        memset(nan_sum, 0, H * sizeof(floating))
        if training:
            stash_inputs(&xh[0, 0], xh.shape[1], &X[0, 0], P, F, H)

        Wxh = pack_inputs_states(own_product, batch_sizes[0], F, H, G, &weight_ih[0, 0], &weight_hh[0, 0])
        Wp = pack_step(own_product and Wxh == NULL, True, H, G, &weight_hh[0, 0])
        if one_step and Wxh == NULL:
            # No memory for the layout; BLAS's path would write every row.
            free(Wp)
            with gil:
                raise MemoryError()
        off = done = P if reverse else 0
        for s in range(T):
            t = T - 1 - s if reverse else s
            b = batch_sizes[t]
            if reverse:
                off -= b
            row = 0 if one_step else off
            hp = state_rows(&h[0, 0], &Y[off_prev, 0] if s else NULL, b, b_prev, H)
            done = step_products(reverse, done, off, b, P, batch_sizes[0], &X[0, 0], F, hp, H, &weight_ih[0, 0],
                                 &weight_hh[0, 0], G, Wxh, Wp, &gates[0, 0], row)
            b_next = batch_sizes[t - 1 if reverse else t + 1] if s < T - 1 else 0
            if training:
                h_next = stash_state(&xh[0, 0], xh.shape[1], off, hp, b, b_prev, b_next, reverse, F, H)
            lstm_pointwise(use_relu, b, H, &gates[row, 0], &bias[0], &c[0, 0], &Y[off, 0],
                           &act_c[off, 0] if training else NULL, &c_prev[off, 0] if training else NULL, h_next,
                           xh.shape[1], min(b, b_next), nan_sum)
            keep_final(&h[0, 0], &Y[off, 0], b, b_next, H)
            b_prev, off_prev = b, off
            if not reverse:
                off += b
        free(Wp)
        free(Wxh)
        finite = all_finite(nan_sum, H) and all_finite(&c[0, 0], c.shape[0] * H)
    if not finite:
        raise FloatingPointError("non-finite value in the LSTM forward pass")


def lstm_backward(
    const floating[:, ::1] X,
    const Py_ssize_t[::1] batch_sizes,
    const floating[:, ::1] weight_ih,
    const floating[:, ::1] weight_hh,
    floating[:, ::1] gates,
    const floating[:, ::1] xh,
    const floating[:, ::1] c_prev,
    const floating[:, ::1] act_c,
    const floating[:, ::1] dY,
    floating[:, ::1] dh,
    floating[:, ::1] dc,
    floating[:, ::1] dX,
    floating[:, ::1] dW,
    floating[:, ::1] dweight_ih,
    floating[:, ::1] dweight_hh,
    floating[::1] dbias_ih,
    floating[::1] dbias_hh,
    bint use_relu,
    bint reverse,
    bint own_product,
    bint own_sequence,
):
    """Backpropagate through an LSTM forward pass run with training=True and the same arguments.

    Parameters
    ----------
    X, batch_sizes, weight_ih, weight_hh, use_relu, reverse : as given to lstm_forward.
    own_product : as for lstm_forward (the same choice or not: only the speed differs).
    own_sequence : the whole-sequence products (weight gradients, dX) on the own product too, not BLAS.
    gates, xh, c_prev, act_c : the stash lstm_forward filled. gates (P, 4H) out: dL/da, the pre-activation
        gradients of every row, written over the gates (lstm.h), so that the stash serves one backward.
    dY : (P, H) dL/dY.
    dh, dc : (B, H) in: dL/dh_n, dL/dc_n; out: dL/dh0, dL/dc0.
    dX : (P, F) out: dL/dX; pass 0 rows to skip that product (the first layer needs no dX).
    dW : (4H, ldx) scratch, ldx as xh's: da^T [x, h_{t-1}, 1, 0...] summed over the rows.
    dweight_ih (4H, F), dweight_hh (4H, H), dbias_ih, dbias_hh (4H,) : gradients ADDED to (callers zero them).
    """
    cdef:
        Py_ssize_t P = X.shape[0], F = X.shape[1], H = dh.shape[1], G = 4 * H
        Py_ssize_t T = batch_sizes.shape[0], s, t, b, off
        floating* Wp
        bint finite
    with nogil:
        Wp = pack_step(own_product, False, G, H, &weight_hh[0, 0])
        off = 0 if reverse else P
        for s in range(T):
            t = s if reverse else T - 1 - s
            b = batch_sizes[t]
            if not reverse:
                off -= b
            lstm_pointwise_backward(use_relu, b, H, &gates[off, 0], &c_prev[off, 0], &act_c[off, 0], &dY[off, 0],
                                    &dh[0, 0], &dc[0, 0])
            step_gemm(False, b, H, G, &gates[off, 0], G, &weight_hh[0, 0], H, 0, &dh[0, 0], H, Wp)
            if reverse:
                off += b

        free(Wp)

        # Weight and bias gradients for all steps at once, in one product, which reads dL/da once.
        weight_grads(own_sequence, G, P, &gates[0, 0], &xh[0, 0], xh.shape[1], &dW[0, 0], F, H)
        add_weight_grads(&dW[0, 0], dW.shape[1], G, F, H, &dweight_ih[0, 0], &dweight_hh[0, 0], &dbias_ih[0],
                         &dbias_hh[0])
        if dX.shape[0] != 0:
            gemm_nn(own_sequence, P, F, G, &gates[0, 0], G, &weight_ih[0, 0], F, &dX[0, 0], F)
        finite = grads_finite(&dW[0, 0], dW.shape[1], G, F, H) and all_finite(&dh[0, 0], dh.shape[0] * H)
    if not finite:
        raise FloatingPointError("non-finite value in the LSTM backward pass")
