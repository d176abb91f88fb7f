"""GRU forward pass and backpropagation through time: one layer, one direction, float32 and float64.

Math (PyTorch's names and gate order r, z, n; H hidden units; x_t (F,), h (H,)):

    ax  = W_ih x_t + b_ih                                input pre-activations (3H,) = [ax_r, ax_z, ax_n]
    ah  = W_hh h_{t-1} + b_hh                            recurrent pre-activations (3H,) = [ah_r, ah_z, ah_n]
    r   = σ(ax_r + ah_r)    z = σ(ax_z + ah_z)    n = act(ax_n + r * ah_n)
    h_t = (1 - z) * n + z * h_{t-1}                     act = tanh, or relu (Keras's activation="relu")

The reset gate multiplies ah_n with its bias, so b_hn cannot join the input projection; b_hr and b_hz can.

Backward, with dh = dL/dh_t (from the output and from step t+1):

    dn_a = dh * (1 - z) * act'(n)            dz_a = dh * (h_{t-1} - n) * z (1 - z)
    dr_a = dn_a * ah_n * r (1 - r)
    dax  = [dr_a, dz_a, dn_a]                dah = [dr_a, dz_a, dn_a * r]
    dh_{t-1} = dh * z + dah @ W_hh
    dW_ih += dax^T x    dW_hh += dah^T h_{t-1}    db_ih += dax    db_hh += dah    dx = dax @ W_ih

Packed layout and state handling as in lstm.pyx: step t owns rows off : off + b; the state array h (B, H) comes in
as h0 and goes out as h_n, and a step reads h_{t-1} from the previous step's rows of Y where it can (_steps.pxd).
"""
from cython cimport floating
from libc.stdlib cimport free
from libc.string cimport memset

from _blas cimport gemm_nn, gemm_tn, pack_step, step_gemm
from _math cimport all_finite, bias_sum
from _steps cimport pack_projection, state_rows, keep_final, project, step_gates
from gru cimport gru_pointwise, gru_pointwise_backward


def gru_forward(
    const floating[:, ::1] X,
    const Py_ssize_t[::1] batch_sizes,
    const floating[:, ::1] weight_ih,
    const floating[:, ::1] weight_hh,
    const floating[::1] bias_ih,
    const floating[::1] bias_hh,
    floating[::1] bias,
    floating[:, ::1] h,
    floating[:, ::1] Y,
    floating[:, ::1] gates,
    floating[:, ::1] ah,
    floating[:, ::1] h_prev,
    floating[:, ::1] ah_n,
    bint use_relu,
    bint reverse,
    bint training,
    bint own_product,
):
    """Run the GRU over a packed batch, writing Y, the final state and (when training) the stash.

    Parameters
    ----------
    X : (P, F) packed inputs.
    batch_sizes : (T,) live sequences at each step, non-increasing, batch_sizes[0] == B.
    weight_ih : (3H, F).   weight_hh : (3H, H).   bias_ih, bias_hh : (3H,).
    bias : (4H,) scratch: b_ih + [b_hr, b_hz, 0], which the pointwise pass adds (b_hn joins W_hn h_{t-1}), then the
        sums of h_t * 0 by unit, from which the kernel tells that every h_t is finite without a pass over Y (gru.h).
    h : (B, H) in: initial state h0 (sorted order); out: final state h_n.
    Y : (P, H) out: h_t at every packed row.
    gates : (P, 3H) out: post-activation gates [r, z, n] of every row; scratch when not training, and then
        (B, 3H), the rows of one step, reused at every step, where _steps.pxd's step_gates allows it.
    ah : (B, 3H) scratch for the recurrent product W_hh h_{t-1} of one step.
    h_prev, ah_n : (P, H) out when training: h_{t-1} and W_hn h_{t-1} + b_hn of every row;
        ignored (may have 0 rows) when not training.
    use_relu : relu instead of tanh for n.
    reverse : walk the steps from T-1 down to 0.
    training : fill the stash the backward needs.
    own_product : the per-step products on the own product (_gemm.h), not BLAS (fastrnn/_threads.py decides).
    """
    cdef:
        Py_ssize_t P = X.shape[0], F = X.shape[1], H = h.shape[1], G = 3 * H
        Py_ssize_t T = batch_sizes.shape[0], s, t, b, b_prev = 0, b_next, off, off_prev = 0, done, row
        bint one_step = gates.shape[0] < P
        floating* hp
        floating* nan_sum = &bias[G]
        floating* Wp
        floating* Wx
        bint finite
    if gates.shape[0] < (batch_sizes[0] if step_gates(training, own_product, batch_sizes[0]) else P):
        raise ValueError(f"gates has {gates.shape[0]} rows, too few for this pass")
    with nogil:
        # The input projection gates = X @ W_ih^T goes a chunk of steps ahead (project); the bias joins in the
        # pointwise pass.
        bias_sum(&bias[0], &bias_ih[0], &bias_hh[0], G, 2 * H)
        memset(nan_sum, 0, H * sizeof(floating))

        Wp = pack_step(own_product, True, H, G, &weight_hh[0, 0])
        Wx = pack_projection(own_product, batch_sizes[0], F, G, &weight_ih[0, 0])
        if one_step and Wx == NULL:
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
            done = project(reverse, done, off, b, P, batch_sizes[0], &X[0, 0], F, &weight_ih[0, 0], Wx, G, &gates[0, 0],
                           row)
            hp = state_rows(&h[0, 0], &Y[off_prev, 0] if s else NULL, b, b_prev, H)
            step_gemm(True, b, G, H, hp, H, &weight_hh[0, 0], H, 0, &ah[0, 0], G, Wp)
            gru_pointwise(use_relu, b, H, &gates[row, 0], &bias[0], &ah[0, 0], &bias_hh[2 * H], hp, &Y[off, 0],
                          &ah_n[off, 0] if training else NULL, &h_prev[off, 0] if training else NULL, nan_sum)
            b_next = batch_sizes[t - 1 if reverse else t + 1] if s < T - 1 else 0
            keep_final(&h[0, 0], &Y[off, 0], b, b_next, H)
            b_prev, off_prev = b, off
            if not reverse:
                off += b
        free(Wp)
        free(Wx)
        finite = all_finite(nan_sum, H)
    if not finite:
        raise FloatingPointError("non-finite value in the GRU forward pass")


def gru_backward(
    const floating[:, ::1] X,
    const Py_ssize_t[::1] batch_sizes,
    const floating[:, ::1] weight_ih,
    const floating[:, ::1] weight_hh,
    floating[:, ::1] gates,
    const floating[:, ::1] h_prev,
    const floating[:, ::1] ah_n,
    const floating[:, ::1] dY,
    floating[:, ::1] dh,
    floating[:, ::1] dgates_hh,
    floating[:, ::1] dX,
    floating[:, ::1] dweight_ih,
    floating[:, ::1] dweight_hh,
    floating[::1] dbias_ih,
    floating[::1] dbias_hh,
    bint use_relu,
    bint reverse,
    bint own_product,
    bint own_sequence,
):
    """Backpropagate through a GRU forward pass run with training=True and the same arguments.

    Parameters
    ----------
    X, batch_sizes, weight_ih, weight_hh, use_relu, reverse : as given to gru_forward.
    own_product : as for gru_forward (the same choice or not: only the speed differs).
    own_sequence : the whole-sequence products (weight gradients, dX) on the own product too, not BLAS.
    gates, h_prev, ah_n : the stash gru_forward filled. gates (P, 3H) out: dL/dax, the input-side pre-activation
        gradients of every row, written over the gates (gru.h), so that the stash serves one backward.
    dY : (P, H) dL/dY.
    dh : (B, H) in: dL/dh_n; out: dL/dh0.
    dgates_hh : (P, 3H) out: dL/dah, the recurrent-side ones (they differ from dax in the n part only).
    dX : (P, F) out: dL/dX; pass 0 rows to skip that product (the first layer needs no dX).
    dweight_ih (3H, F), dweight_hh (3H, H), dbias_ih, dbias_hh (3H,) : gradients ADDED to (callers zero them).
    """
    cdef:
        Py_ssize_t P = X.shape[0], F = X.shape[1], H = dh.shape[1], G = 3 * H
        Py_ssize_t T = batch_sizes.shape[0], s, t, b, off
        floating* Wp
        bint finite, bias_was_finite
    with nogil:
        bias_was_finite = all_finite(&dbias_ih[0], G) and all_finite(&dbias_hh[0], G)
        Wp = pack_step(own_product, False, G, H, &weight_hh[0, 0])
        off = 0 if reverse else P
        for s in range(T):
            t = s if reverse else T - 1 - s
            b = batch_sizes[t]
            if not reverse:
                off -= b
            gru_pointwise_backward(use_relu, b, H, &gates[off, 0], &h_prev[off, 0], &ah_n[off, 0], &dY[off, 0],
                                   &dh[0, 0], &dgates_hh[off, 0], &dbias_ih[0], &dbias_hh[0])
            step_gemm(False, b, H, G, &dgates_hh[off, 0], G, &weight_hh[0, 0], H, 1, &dh[0, 0], H, Wp)
            if reverse:
                off += b

        free(Wp)

        # Weight gradients and dX for all steps at once (the steps summed the bias gradients).
        gemm_tn(own_sequence, G, F, P, &gates[0, 0], G, &X[0, 0], F, True, &dweight_ih[0, 0], F)
        gemm_tn(own_sequence, G, H, P, &dgates_hh[0, 0], G, &h_prev[0, 0], H, True, &dweight_hh[0, 0], H)
        if dX.shape[0] != 0:
            gemm_nn(own_sequence, P, F, G, &gates[0, 0], G, &weight_ih[0, 0], F, &dX[0, 0], F)
        # The steps summed dax's and dah's rows into the bias gradients: a sum with a NaN or an infinite term is NaN
        # or infinite, so when the gradients came in finite, they tell whether every row was (and are infinite
        # when finite terms overflow, which is non-finite too). Scanning the (P, 3H) arrays is a pass over memory.
        if bias_was_finite:
            finite = all_finite(&dbias_ih[0], G) and all_finite(&dbias_hh[0], G)
        else:
            finite = all_finite(&gates[0, 0], P * G) and all_finite(&dgates_hh[0, 0], P * G)
        finite = finite and all_finite(&dh[0, 0], dh.shape[0] * H)
    if not finite:
        raise FloatingPointError("non-finite value in the GRU backward pass")
