"""Vanilla (Elman) RNN forward pass and backpropagation through time: one layer, one direction, float32 and
float64, activation tanh or relu.

Math (PyTorch's names; H hidden units; x_t (F,), h (H,)):

    a   = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh          pre-activation (H,)
    h_t = act(a)                                         act = tanh or relu

Backward, with dh = dL/dh_t (from the output and from step t+1):

    da = dh * act'(a)              act' from the output: 1 - h_t^2 for tanh, [h_t > 0] for relu
    dh_{t-1} = da @ W_hh
    dW_ih += da^T x    dW_hh += da^T h_{t-1}    db_ih += da    db_hh += da    dx = da @ W_ih

Packed layout and state handling as in lstm.pyx: step t owns rows off : off + b; the state array h (B, H) comes in
as h0 and goes out as h_n, and a step reads h_{t-1} from the previous step's rows of Y where it can (_steps.pxd).
Y holds the products of a step until its pointwise pass adds the bias and turns them into h_t, so the RNN needs
no gates array, and h_t itself (Y) is the stash for act'.
"""
from cython cimport floating
from libc.stdlib cimport free
from libc.string cimport memcpy, memset

from _blas cimport gemm_nn, pack_step, step_gemm
from _math cimport all_finite, bias_sum
from _steps cimport pack_inputs_states, state_rows, keep_final, step_products
from _steps cimport stash_inputs, stash_state, weight_grads, add_weight_grads, grads_finite
from rnn cimport rnn_pointwise, rnn_pointwise_backward


def rnn_forward(
    const floating[:, ::1] X,
    const Py_ssize_t[::1] batch_sizes,
    const floating[:, ::1] weight_ih,
    const floating[:, ::1] weight_hh,
    const floating[::1] bias_ih,
    const floating[::1] bias_hh,
    floating[::1] bias,
    floating[:, ::1] h,
    floating[:, ::1] Y,
    floating[:, ::1] xh,
    bint use_relu,
    bint reverse,
    bint training,
    bint own_product,
):
    """Run the RNN over a packed batch, writing Y, the final state and (when training) the stash.

    Parameters
    ----------
    X : (P, F) packed inputs.
    batch_sizes : (T,) live sequences at each step, non-increasing, batch_sizes[0] == B.
    weight_ih : (H, F).   weight_hh : (H, H).   bias_ih, bias_hh : (H,).
    bias : (2 R H,) scratch, R >= 1: b_ih + b_hh in each of R rows, which the pointwise pass adds (R rows at a time
        in inference), then R rows of sums of h_t * 0, from which the kernel tells that every h_t is finite
        without a pass over Y (rnn.h).
    h : (B, H) in: initial state h0 (sorted order); out: final state h_n.
    Y : (P, H) out: h_t at every packed row.
    xh : (P, ldx) out when training, ldx >= F + H + 1 (fastrnn/_cells.py, stash_width): [x_t, h_{t-1}, 1, 0...] of
        every row, the right-hand side of the backward's one product for all the weight and bias gradients
        (_steps.pxd); ignored (may have 0 rows) when not training.
    use_relu : relu activation instead of tanh.
    reverse : walk the steps from T-1 down to 0.
    training : fill the stash the backward needs.
    own_product : the per-step products on the own product (_gemm.h), not BLAS (fastrnn/_threads.py decides).
    """
    cdef:
        Py_ssize_t P = X.shape[0], F = X.shape[1], H = h.shape[1], R = bias.shape[0] // (2 * H), j
        Py_ssize_t T = batch_sizes.shape[0], s, t, b, b_prev = 0, b_next, off, off_prev = 0, done
        floating* hp
        floating* h_next = NULL
        floating* nan_sum = &bias[R * H]
        floating* Wp
        floating* Wxh
        bint finite
    with nogil:
        # A step's products (step_products): one pass over [x_t, h_{t-1}] on the own product; with BLAS, the input
        # projection X @ W_ih^T goes a chunk of steps ahead (project). The bias joins in the pointwise pass.
        bias_sum(&bias[0], &bias_ih[0], &bias_hh[0], H, H)
        for j in range(1, R):
            memcpy(&bias[j * H], &bias[0], H * sizeof(floating))
        memset(nan_sum, 0, R * H * sizeof(floating))
        if training:
            stash_inputs(&xh[0, 0], xh.shape[1], &X[0, 0], P, F, H)

        Wxh = pack_inputs_states(own_product, batch_sizes[0], F, H, H, &weight_ih[0, 0], &weight_hh[0, 0])
        Wp = pack_step(own_product and Wxh == NULL, True, H, H, &weight_hh[0, 0])
        off = done = P if reverse else 0
        for s in range(T):
            t = T - 1 - s if reverse else s
            b = batch_sizes[t]
            if reverse:
                off -= b
            hp = state_rows(&h[0, 0], &Y[off_prev, 0] if s else NULL, b, b_prev, H)
            done = step_products(reverse, done, off, b, P, batch_sizes[0], &X[0, 0], F, hp, H, &weight_ih[0, 0],
                                 &weight_hh[0, 0], H, Wxh, Wp, &Y[0, 0], off)
            b_next = batch_sizes[t - 1 if reverse else t + 1] if s < T - 1 else 0
            if training:
                h_next = stash_state(&xh[0, 0], xh.shape[1], off, hp, b, b_prev, b_next, reverse, F, H)
            rnn_pointwise(use_relu, b, H, &Y[off, 0], &bias[0], R, h_next, xh.shape[1], min(b, b_next), nan_sum)
            keep_final(&h[0, 0], &Y[off, 0], b, b_next, H)
            b_prev, off_prev = b, off
            if not reverse:
                off += b
        free(Wp)
        free(Wxh)
        finite = all_finite(nan_sum, R * H)
    if not finite:
        raise FloatingPointError("non-finite value in the RNN forward pass")


def rnn_backward(
    const floating[:, ::1] X,
    const Py_ssize_t[::1] batch_sizes,
    const floating[:, ::1] weight_ih,
    const floating[:, ::1] weight_hh,
    const floating[:, ::1] Y,
    const floating[:, ::1] xh,
    const floating[:, ::1] dY,
    floating[:, ::1] dh,
    floating[:, ::1] dgates,
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
    """Backpropagate through an RNN forward pass run with training=True and the same arguments.

    Parameters
    ----------
    X, batch_sizes, weight_ih, weight_hh, use_relu, reverse : as given to rnn_forward.
    own_product : as for rnn_forward (the same choice or not: only the speed differs).
    own_sequence : the whole-sequence products (weight gradients, dX) on the own product too, not BLAS.
    Y, xh : the outputs and the stash rnn_forward filled.
    dY : (P, H) dL/dY.
    dh : (B, H) in: dL/dh_n; out: dL/dh0.
    dgates : (P, H) out: dL/da, the pre-activation gradient of every row.
    dX : (P, F) out: dL/dX; pass 0 rows to skip that product (the first layer needs no dX).
    dW : (H, ldx) scratch, ldx as xh's: da^T [x, h_{t-1}, 1, 0...] summed over the rows.
    dweight_ih (H, F), dweight_hh (H, H), dbias_ih, dbias_hh (H,) : gradients ADDED to (callers zero them).
    """
    cdef:
        Py_ssize_t P = X.shape[0], F = X.shape[1], H = dh.shape[1]
        Py_ssize_t T = batch_sizes.shape[0], s, t, b, off
        floating* Wp
        bint finite
    with nogil:
        Wp = pack_step(own_product, False, H, H, &weight_hh[0, 0])
        off = 0 if reverse else P
        for s in range(T):
            t = s if reverse else T - 1 - s
            b = batch_sizes[t]
            if not reverse:
                off -= b
            rnn_pointwise_backward(use_relu, b, H, &Y[off, 0], &dY[off, 0], &dh[0, 0], &dgates[off, 0])
            step_gemm(False, b, H, H, &dgates[off, 0], H, &weight_hh[0, 0], H, 0, &dh[0, 0], H, Wp)
            if reverse:
                off += b

        free(Wp)

        # Weight and bias gradients for all steps at once, in one product, which reads dgates once.
        weight_grads(own_sequence, H, P, &dgates[0, 0], &xh[0, 0], xh.shape[1], &dW[0, 0], F, H)
        add_weight_grads(&dW[0, 0], dW.shape[1], H, F, H, &dweight_ih[0, 0], &dweight_hh[0, 0], &dbias_ih[0],
                         &dbias_hh[0])
        if dX.shape[0] != 0:
            gemm_nn(own_sequence, P, F, H, &dgates[0, 0], H, &weight_ih[0, 0], F, &dX[0, 0], F)
        finite = grads_finite(&dW[0, 0], dW.shape[1], H, F, H) and all_finite(&dh[0, 0], dh.shape[0] * H)
    if not finite:
        raise FloatingPointError("non-finite value in the RNN backward pass")
