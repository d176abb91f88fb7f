# Where a kernel's step finds h_{t-1} and leaves h_t in the packed layout (DESIGN.md section 2), shared by the
# three forward kernels; how far ahead of the steps their input projection runs; and the stash [x_t, h_{t-1}, 1]
# from which the backward computes every weight and bias gradient in one product.
#
# A step's outputs Y[off : off + b] are its rows' new states, so the next step reads its h_{t-1} there instead of
# from a copy in the state array h (B, H). Rows are sorted longest first, so the b live rows of a step were all
# live at the previous step in the forward direction. In the reverse direction a step can have more live rows than
# the one before: those start from h0, which is in h, so the previous step's rows are copied to the head of h and
# h serves the whole step. h ends holding every sequence's final state.

from cython cimport floating
from libc.string cimport memcpy

from _blas cimport gemm, gemm_tn, pack_pair, pack_step, pair_gemm, step_gemm


cdef inline floating* state_rows(floating* h, const floating* Y_prev, Py_ssize_t b, Py_ssize_t b_prev,
                                 Py_ssize_t H) noexcept nogil:
    """The (b, H) block of h_{t-1} of a step's b live rows; Y_prev is the previous step's output (b_prev rows),
    NULL at the first step."""
    if Y_prev == NULL:
        return h
    if b <= b_prev:
        return <floating*> Y_prev
    memcpy(h, Y_prev, b_prev * H * sizeof(floating))
    return h


cdef inline void keep_final(floating* h, const floating* Y_step, Py_ssize_t b, Py_ssize_t b_next,
                            Py_ssize_t H) noexcept nogil:
    """After a step with output Y_step (b rows): the rows that the next step (b_next rows, 0 after the last) does
    not continue have their final state, which goes to h."""
    if b_next < b:
        memcpy(h + b_next * H, Y_step + b_next * H, (b - b_next) * H * sizeof(floating))


# The input projection X @ W_ih^T runs a chunk of about this many bytes of products ahead of the steps, which then
# find them in the L2 cache when they add the recurrent product and run the pointwise pass. Computed for all the
# rows at once, a long batch's products were back in memory by then (long LSTM float32 inference 15% slower).
# That is for BLAS, which lays out W_ih at every call. The own product (W_ih laid out once, pack_projection)
# computes each step's rows at the step itself, where the recurrent product finds them in the L1 or L2 cache.
cdef enum:
    PROJECT_BYTES = 1 << 18


cdef inline bint own_inputs(bint own, Py_ssize_t B) noexcept nogil:
    """Whether the steps' own product takes their inputs x_t too, rather than BLAS computing the input projection
    in chunks: when own (as for the recurrent product), and not for a single sequence (B = 1), whose steps of one
    row would each read all of W_ih where a chunk's product reads it once (stream LSTM float32 inference 3.12 ->
    3.31 ms with one row)."""
    return own and B > 1


cdef inline bint step_gates(bint training, bint own, Py_ssize_t B) noexcept nogil:
    """Whether a forward kernel's gates array may hold one step's rows (B) instead of every packed row (P): in
    inference, when the own product computes each step's products at the step (own_inputs), so that no step's
    products outlive it. (P, G) is the largest array of inference: the whole forward of a long LSTM float32 (2000
    steps of 16 sequences, H 128) grew the process by 75 MB with it, 13 MB without. The step's rows also stay in
    the L1 or L2 cache from the product to the pointwise pass, where every step of a (P, G) array wrote lines of
    its own: GRU inference 0.94 (small, float64) and 0.97 (long) of its time, the LSTM's unchanged (A/B in the
    commit). fastrnn/_cells.py sizes the array by this rule, and the kernels refuse a short one on any other
    path."""
    return own_inputs(own, B) and not training


cdef inline floating* pack_projection(bint own, Py_ssize_t B, Py_ssize_t F, Py_ssize_t G,
                                     const floating* W) noexcept nogil:
    """W (G, F) laid out for project's own product, or NULL (BLAS then computes chunks), by own_inputs."""
    return pack_step(own_inputs(own, B), True, F, G, W)


cdef inline Py_ssize_t project(bint reverse, Py_ssize_t done, Py_ssize_t off, Py_ssize_t b, Py_ssize_t P,
                               Py_ssize_t B, const floating* X, Py_ssize_t F, const floating* W, const floating* Wp,
                               Py_ssize_t G, floating* out, Py_ssize_t row) noexcept nogil:
    """Make sure the input projection out = X @ W^T (P, G) covers a step's rows off : off + b, and return the new
    extent of the rows computed: 0 : done when not reverse (done = 0 before the first step), done : P when reverse
    (done = P before the first). With Wp (W laid out by pack_step), the own product computes the step's rows now.
    Otherwise BLAS computes the next chunk of rows when the step is not covered. B is the most rows a step has;
    when fewer than 4 steps' products fit in a chunk, the cache cannot hold them anyway, and all P rows are
    computed at the first step (one GEMM, which lays out W once). A chunk holds at least B rows and the steps come
    in their order, so the chunk next to `done` always covers the step. row is the row of out that takes the step's
    first row: off, or 0 with Wp when out holds one step's rows (step_gates)."""
    cdef Py_ssize_t lo, hi, chunk
    if Wp != NULL:
        step_gemm(True, b, G, F, X + off * F, F, W, F, 0, out + row * G, G, Wp)
        return off if reverse else off + b
    chunk = PROJECT_BYTES // (G * sizeof(floating)) + 1
    if chunk < 4 * B:
        chunk = P
    if reverse:
        if off >= done:
            return done
        lo, hi = max(0, done - chunk), done
    else:
        if off + b <= done:
            return done
        lo, hi = done, min(P, done + chunk)
    gemm(False, True, hi - lo, G, F, 1, X + lo * F, F, W, F, 0, out + lo * G, G)
    return lo if reverse else hi


cdef inline floating* pack_inputs_states(bint own, Py_ssize_t B, Py_ssize_t F, Py_ssize_t H, Py_ssize_t G,
                                         const floating* W_ih, const floating* W_hh) noexcept nogil:
    """[W_ih, W_hh]^T (F + H, G) laid out for step_products's one product per step, or NULL (then the input
    projection is project's and the recurrent product step_gemm's), by own_inputs: for the LSTM and the RNN, whose
    gates take the two products' sum (the GRU keeps them apart)."""
    return pack_pair(own_inputs(own, B), F, W_ih, H, W_hh, G)


cdef inline Py_ssize_t step_products(bint reverse, Py_ssize_t done, Py_ssize_t off, Py_ssize_t b, Py_ssize_t P,
                                     Py_ssize_t B, const floating* X, Py_ssize_t F, const floating* hp,
                                     Py_ssize_t H, const floating* W_ih, const floating* W_hh, Py_ssize_t G,
                                     const floating* Wxh, const floating* Wp, floating* out,
                                     Py_ssize_t row) noexcept nogil:
    """A step's products out[row : row + b] = X[off : off + b] @ W_ih^T + hp @ W_hh^T, hp its (b, H) h_{t-1};
    returns project's extent (arguments as project's: row is off, or 0 with Wxh when out holds one step's rows).
    With Wxh (pack_inputs_states), one product over [x_t, h_{t-1}], which writes the step's rows of out once:
    against the input projection's product then the recurrent one adding to it, a small LSTM float64's inference
    0.92 of its time (A/B, see the commit). Without, project, then step_gemm on Wp (pack_step of W_hh, or NULL:
    BLAS)."""
    if Wxh != NULL:
        pair_gemm(b, G, X + off * F, F, F, hp, H, H, Wxh, out + row * G, G)
        return done
    done = project(reverse, done, off, b, P, B, X, F, W_ih, NULL, G, out, row)
    step_gemm(True, b, G, H, hp, H, W_hh, H, 1, out + row * G, G, Wp)
    return done


# The training stash xh (P, ldx) holds a row [x_t, h_{t-1}, 1, 0...] for each packed row, so that the backward gets
# da^T [x, h_{t-1}, 1] = [dW_ih, dW_hh, db] from one GEMM: BLAS lays out the (P, G) gradients da once instead of
# once per product, and the bias needs no pass of its own. The row's length ldx is F + H + 1 rounded up to what the
# own product (_gemm.h, fr_gemm_tn) reads in place: 64 bytes, whole strips (128 bytes) or half ones
# (fastrnn/_cells.py, stash_width). Rows then start on a cache line (the arrays do: fastrnn/_workspace.py) and no
# strip is copied. With F + H + 1 columns, always odd (the 1), most rows straddled cache lines and the last strip
# was copied and zero-padded at every chunk of rows. Small LSTM float64's dW, m 256, k 3200, 1 thread: n 73
# 2.7-3.0 ms, n 80 (73 padded) 2.4 ms. The zero columns make zero gradients, which nothing reads.

cdef inline void stash_inputs(floating* xh, Py_ssize_t ldx, const floating* X, Py_ssize_t P, Py_ssize_t F,
                              Py_ssize_t H) noexcept nogil:
    """Fill the x_t, 1 and zero columns of xh (P, ldx); the steps fill h_{t-1} (stash_state)."""
    cdef Py_ssize_t p, k
    for p in range(P):
        memcpy(xh + p * ldx, X + p * F, F * sizeof(floating))
        xh[p * ldx + F + H] = 1
        for k in range(F + H + 1, ldx):
            xh[p * ldx + k] = 0


cdef inline floating* stash_state(floating* xh, Py_ssize_t ldx, Py_ssize_t off, const floating* hp, Py_ssize_t b,
                                 Py_ssize_t b_prev, Py_ssize_t b_next, bint reverse, Py_ssize_t F,
                                 Py_ssize_t H) noexcept nogil:
    """Stash the h_{t-1} of a step's b rows, which start at row off of xh (P, ldx): hp (b, H) is its h_{t-1}, b_prev
    and b_next the previous and next steps' rows (0 before the first step and after the last). The previous step's
    pointwise pass wrote its h_t into the first min(b, b_prev) rows, where it had it in registers; this copies the
    rest, the rows that start from h0. Returns where this step's pointwise pass writes the h_t of its first
    min(b, b_next) rows, the next step's h_{t-1}: the next step's rows (NULL after the last step)."""
    cdef Py_ssize_t j
    for j in range(min(b, b_prev), b):
        memcpy(xh + (off + j) * ldx + F, hp + j * H, H * sizeof(floating))
    if b_next == 0:
        return NULL
    return xh + (off - b_next if reverse else off + b) * ldx + F


cdef inline void weight_grads(bint own, Py_ssize_t G, Py_ssize_t P, const floating* da, const floating* xh,
                              Py_ssize_t ldx, floating* dW, Py_ssize_t F, Py_ssize_t H) noexcept nogil:
    """dW (G, ldx) = da (P, G)^T xh (P, ldx): on the own product, every column, so that every strip is whole; on
    BLAS's, the F + H + 1 columns that count (BLAS has no use for the padding)."""
    gemm_tn(own, G, ldx if own else F + H + 1, P, da, G, xh, ldx, False, dW, ldx)


cdef inline void add_weight_grads(const floating* dW, Py_ssize_t ldw, Py_ssize_t G, Py_ssize_t F, Py_ssize_t H,
                                  floating* dweight_ih, floating* dweight_hh, floating* dbias_ih,
                                  floating* dbias_hh) noexcept nogil:
    """Add dW (G, ldw) = da^T [x, h_{t-1}, 1, ...] to the gradients of W_ih (G, F), W_hh (G, H), b_ih and b_hh."""
    cdef Py_ssize_t g, k
    for g in range(G):
        for k in range(F):
            dweight_ih[g * F + k] += dW[g * ldw + k]
        for k in range(H):
            dweight_hh[g * H + k] += dW[g * ldw + F + k]
        dbias_ih[g] += dW[g * ldw + F + H]
        dbias_hh[g] += dW[g * ldw + F + H]


cdef inline bint grads_finite(const floating* dW, Py_ssize_t ldw, Py_ssize_t G, Py_ssize_t F,
                              Py_ssize_t H) noexcept nogil:
    """Whether all of the pre-activation gradients da (P, G) whose product dW (G, ldw) is (weight_grads) are finite,
    from dW's bias column alone: that column is da's sum over the rows (the stash's column of 1s), and a sum with
    a NaN or an infinite term is NaN or infinite. It is also infinite when finite terms overflow, and then so is
    the bias gradient. Scanning all of da instead was a pass over memory at every backward call."""
    cdef Py_ssize_t g
    cdef floating d
    for g in range(G):
        d = dW[g * ldw + F + H]
        if d - d != 0:
            return False
    return True
