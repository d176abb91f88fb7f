/* The kernels' per-step recurrent product, C (m, n) += A (m, k) @ B (k, n), all row-major, for the few rows of
 * one step (m = the live sequences) and the same B at every step of a sequence; the same register blocks also
 * run the input projection, the backward's dX and (fr_gemm_tn, on B in place) its weight gradients A^T B.
 *
 * BLAS's GEMM copies B into its panel layout at every call; at m = 32 rows that copy and the call's set-up cost
 * about as much as the multiply-adds (perf: sgemm_incopy a third of the sgemm time of a small LSTM step). Here B
 * is laid out once per kernel call (fr_pack), in strips of NR = 2V columns, each strip k rows of NR contiguous
 * values (zero-padded past n), and every step runs on blocks of MR rows of C times one strip, held in registers
 * for the k loop:
 *
 *     acc[r][0:2V] = sum_kk A[r, kk] * strip[kk, 0 : 2V]            (V = one vector of T: 16 floats in 64 bytes)
 *
 * A strip is contiguous so that its rows do not collide in the L1 cache: rows of B itself lie n values apart, a
 * power of two times 128 bytes at the usual sizes, and fall into the same few cache sets (at k = 128, n = 512 in
 * float64 the product ran at 60% of its speed with the strips). Each block runs the whole k loop and adds into C
 * once: a strip longer than the L1 cache then comes from the L2 cache for every block, which the two loads per
 * eight multiply-adds leave time for, where k in chunks of 128 rows (a strip's chunk in the L1 cache) read and
 * wrote C once per chunk, from the L3 cache when C outgrows the L2 (1 thread, min of 5 runs: float32 m 128, n
 * 4096, k 1024, a large LSTM's step, 93 -> 108 GFLOP/s; m 64, n 1024, k 320 106 -> 112; float64 m 128, n 1024,
 * k 4096 48 -> 53; no shape measured was slower).
 *
 * GCC's vector extensions give the vectors, as wide as the CPU's registers: the product is compiled three times,
 * with vectors of 64 bytes for AVX-512 (x86-64-v4), 32 for AVX2 with FMA (x86-64-v3) and 16 for any other CPU,
 * and _fastmath.h's fr_vector_bytes picks one for the process. One source with 64-byte vectors for every clone
 * (target_clones) left GCC to emulate them on AVX2 through the stack: 1.7 GFLOP/s in float32 on this machine's
 * AVX2 clone (m 32, n 256, k 72), against 108 with 32-byte vectors and 115 with 64 on AVX-512. Measured against
 * scipy's OpenBLAS
 * at 1 thread, m = 32: 1.7x faster in float32 and 1.0-1.4x in float64 for n = 150..256, k = 50..64; one row
 * has a loop of its own (fr_row), 1.3-1.6x faster than BLAS's GEMV. B beyond the L2 cache costs it no more than
 * BLAS, which reads B once per step too and copies it besides: float32 m 64, n 1024, k 256 (a medium LSTM's step)
 * 111 against 85 GFLOP/s, m 128, n 4096, k 1024 108 against 80, m 4, n 4096, k 1024 64 against 9.5. Only
 * several BLAS threads on a large step beat it (fastrnn/_threads.py, own_product, decides).
 */
#ifndef FASTRNN_GEMM_H
#define FASTRNN_GEMM_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "_fastmath.h"

#define FR_MR 4
/* A half block (fr_block) has one accumulator a row, so it takes twice the rows: with FR_MR, its four chains of
 * multiply-adds waited on the FMA latency, at half the CPU's rate. With AVX2 (Zen 3, 1 thread, min of 200 calls):
 * dX = da @ W_ih at P 3200, G 256, F 8 in float32 (one half strip) 283 -> 185 us (OpenBLAS: 238); a tiny LSTM's
 * steps in float32, whose 4H = 200 columns end on a half strip, 10.7 -> 10.4 us (forward, k 50) and, with its
 * H = 50 ending on a partial one, 12.2 -> 11.7 us (backward, k 200). */
#define FR_MR_HALF (2 * FR_MR)
#define FR_KC 128

/* Per dtype T and vector width VB (bytes), compiled for TARGET: Bp = B (k, n) in strips (fr_pack_*), and C += A @ B \
 * (fr_gemm_*). */                                                                                             \
#define FR_GEMM(T, SUFFIX, VB, TARGET)                                                                         \
typedef T fr_vec_##SUFFIX __attribute__((vector_size(VB)));                                                    \
enum { FR_NR_##SUFFIX = 2 * VB / (int)sizeof(T) };                                                             \
                                                                                                               \
/* Bp (strips of k rows by NR) = [B1; B2]^T when trans_b (B1 given as (n, k1), B2 as (n, k - k1)), else [B1; B2] \
 * (B1 (k1, n), B2 (k - k1, n)), zero-padded; NULL if no memory. B2 may be NULL (k1 = k): one matrix. Two, so  \
 * that a step multiplies [x_t, h_{t-1}] by [W_ih; W_hh] in one pass (fr_gemm). Strip by strip, so that what a \
 * strip reads stays in the L1 cache: with trans_b, a column of its NR rows of B at a time, each row's cache line \
 * serving the next columns (row by row over all of B, every read was a cache line of its own: 2.6% of the large \
 * LSTM's forward). */                                                                                         \
static __attribute__((unused)) T *fr_pack_##SUFFIX(int trans_b, ptrdiff_t k, ptrdiff_t n, ptrdiff_t k1,        \
                                                  const T *B1, const T *B2) {                                  \
    ptrdiff_t strips = (n + FR_NR_##SUFFIX - 1) / FR_NR_##SUFFIX;                                              \
    T *Bp = (T *)calloc((size_t)(strips * k * FR_NR_##SUFFIX > 0 ? strips * k * FR_NR_##SUFFIX : 1), sizeof(T)); \
    if (Bp == NULL) return NULL;                                                                               \
    for (ptrdiff_t s = 0; s < strips; s++) {                                                                   \
        ptrdiff_t c0 = s * FR_NR_##SUFFIX, nc = n - c0 < FR_NR_##SUFFIX ? n - c0 : FR_NR_##SUFFIX;             \
        T *dst = Bp + s * k * FR_NR_##SUFFIX;                                                                  \
        for (ptrdiff_t kk = 0; kk < k; kk++, dst += FR_NR_##SUFFIX) {                                          \
            const T *B = kk < k1 ? B1 : B2;                                                                    \
            ptrdiff_t kb = kk < k1 ? k1 : k - k1, q = kk < k1 ? kk : kk - k1;                                  \
            if (trans_b)                                                                                       \
                for (ptrdiff_t c = 0; c < nc; c++) dst[c] = B[(c0 + c) * kb + q];                              \
            else                                                                                               \
                for (ptrdiff_t c = 0; c < nc; c++) dst[c] = B[q * n + c0 + c];                                 \
        }                                                                                                      \
    }                                                                                                          \
    return Bp;                                                                                                 \
}                                                                                                              \
                                                                                                               \
/* acc[r] += A's row r (element kk at A[r * ar + kk * ak]) times the strip's k rows, for the mr rows of a block \
 * (fr_block). */                                                                                              \
FR_INLINE void fr_acc_##SUFFIX(int mr, int half, ptrdiff_t k, const T *A, ptrdiff_t ar, ptrdiff_t ak,          \
                               const T *strip, ptrdiff_t bk, fr_vec_##SUFFIX acc[FR_MR_HALF][2]) {             \
    fr_vec_##SUFFIX b0, b1;                                                                                    \
    for (ptrdiff_t kk = 0; kk < k; kk++) {                                                                     \
        memcpy(&b0, strip + kk * bk, sizeof b0);                                                               \
        if (!half) memcpy(&b1, strip + kk * bk + FR_NR_##SUFFIX / 2, sizeof b1);                               \
        for (int r = 0; r < mr; r++) {                                                                         \
            T a = A[r * ar + kk * ak];                                                                         \
            acc[r][0] += a * b0;                                                                               \
            if (!half) acc[r][1] += a * b1;                                                                    \
        }                                                                                                      \
    }                                                                                                          \
}                                                                                                              \
                                                                                                               \
/* mr (<= FR_MR, or FR_MR_HALF for a half block; a constant once inlined) rows by one strip, k + k2 rows of    \
 * it; only nc columns of C are real. Element (r, kk) of the block's A is A[r * ar + kk * ak] for kk < k,      \
 * then A2[r * ar2 + kk - k] for the strip's next k2 rows (none when k2 = 0). A half block (half, a constant   \
 * too) reads and computes the strip's first vector only, for twice the rows; fr_panel keeps it for a last     \
 * strip of half a strip or less, and a row of exactly half a strip goes out as one vector. Against a whole    \
 * last strip (in blocks of 4 rows then; m = 32, k = 50, 1 thread, min of 7 runs): in double n = 56 3.9 ->     \
 * 3.5 us, n = 150 9.7 -> 9.3, n = 200 12.6 -> 12.3; in float n = 200 6.5 -> 6.3 (a tiny LSTM float32's        \
 * inference 0.953 of its time in A/B). */                                                                     \
FR_INLINE void fr_block_##SUFFIX(int mr, int half, ptrdiff_t nc, ptrdiff_t k, const T *A, ptrdiff_t ar,        \
                                 ptrdiff_t ak, ptrdiff_t k2, const T *A2, ptrdiff_t ar2, const T *strip,       \
                                 ptrdiff_t bk, T *C, ptrdiff_t ldc, int add) {                                 \
    fr_vec_##SUFFIX acc[FR_MR_HALF][2];                                                                        \
    for (int r = 0; r < mr; r++) acc[r][0] = acc[r][1] = (fr_vec_##SUFFIX){0};                                 \
    /* The block's rows of C (up to 3 cache lines each) are fetched while the k loop runs: a step's rows of C are \
     * often in the L3 cache or memory by now (BLAS's input projection wrote them long before, or nothing touched \
     * them since the last call), and waiting for them after the loop cost 15-20% (measured adding to a cold C, \
     * m 64, n 1024, k 256: float32 90 -> 106, float64 43 -> 53 GFLOP/s). */                                   \
    for (int r = 0; r < mr; r++) {                                                                             \
        __builtin_prefetch(C + r * ldc, 1);                                                                    \
        __builtin_prefetch(C + r * ldc + FR_NR_##SUFFIX / 2, 1);                                               \
        __builtin_prefetch(C + r * ldc + FR_NR_##SUFFIX - 1, 1);                                               \
    }                                                                                                          \
    fr_acc_##SUFFIX(mr, half, k, A, ar, ak, strip, bk, acc);                                                   \
    fr_acc_##SUFFIX(mr, half, k2, A2, ar2, 1, strip + k * bk, bk, acc);                                        \
    /* A whole strip's row goes out as two vectors, half a strip's as one; a partial one through an array,     \
     * whose copy of variable size is a call of libc's memcpy per row (that call made the overwriting product, \
     * add = 0, which the backward's dh_{t-1} and the GRU's u are, 15% slower than the adding one). */         \
    for (int r = 0; r < mr; r++) {                                                                             \
        T *c = C + r * ldc;                                                                                    \
        if (half && nc == FR_NR_##SUFFIX / 2) {                                                                \
            fr_vec_##SUFFIX c0 = acc[r][0], old;                                                               \
            if (add) {                                                                                         \
                memcpy(&old, c, sizeof old);                                                                   \
                c0 += old;                                                                                     \
            }                                                                                                  \
            memcpy(c, &c0, sizeof c0);                                                                         \
            continue;                                                                                          \
        }                                                                                                      \
        if (nc == FR_NR_##SUFFIX) {                                                                            \
            fr_vec_##SUFFIX c0 = acc[r][0], c1 = acc[r][1], old;                                               \
            if (add) {                                                                                         \
                memcpy(&old, c, sizeof old);                                                                   \
                c0 += old;                                                                                     \
                memcpy(&old, c + FR_NR_##SUFFIX / 2, sizeof old);                                              \
                c1 += old;                                                                                     \
            }                                                                                                  \
            memcpy(c, &c0, sizeof c0);                                                                         \
            memcpy(c + FR_NR_##SUFFIX / 2, &c1, sizeof c1);                                                    \
            continue;                                                                                          \
        }                                                                                                      \
        T out[FR_NR_##SUFFIX];                                                                                 \
        memcpy(out, acc[r], sizeof out);                                                                       \
        if (add)                                                                                               \
            for (ptrdiff_t j = 0; j < nc; j++) c[j] += out[j];                                                 \
        else                                                                                                   \
            memcpy(c, out, (size_t)nc * sizeof(T));                                                            \
    }                                                                                                          \
}                                                                                                              \
                                                                                                               \
/* The m rows of C[:, 0 : nc] against one strip, as fr_block reads A and A2: blocks of FR_MR rows              \
 * (FR_MR_HALF first for a half block), then of 2 and 1 for the rest, each size a literal so that its          \
 * accumulators stay in registers. Row by row, the last m % FR_MR rows (a packed batch's last sequences at     \
 * the steps where some have ended) ran two chains of multiply-adds each, at the FMA latency (1 thread, n      \
 * 256, k 72, three alternating runs of the min of 30: float64 m 2 23 -> 27, m 7 42 -> 46 GFLOP/s, float32 m   \
 * 3 62 -> 75; m 15 and 31 2-4% faster; m 32 the same). */                                                     \
FR_INLINE void fr_blocks_##SUFFIX(ptrdiff_t m, int half, ptrdiff_t nc, ptrdiff_t k, const T *A, ptrdiff_t ar,  \
                                  ptrdiff_t ak, ptrdiff_t k2, const T *A2, ptrdiff_t ar2, const T *strip,      \
                                  ptrdiff_t bk, T *C, ptrdiff_t ldc, int add) {                                \
    ptrdiff_t j = 0;                                                                                           \
    if (half)                                                                                                  \
        for (; j + FR_MR_HALF <= m; j += FR_MR_HALF)                                                           \
            fr_block_##SUFFIX(FR_MR_HALF, 1, nc, k, A + j * ar, ar, ak, k2, A2 + j * ar2, ar2, strip, bk,      \
                              C + j * ldc, ldc, add);                                                          \
    for (; j + FR_MR <= m; j += FR_MR)                                                                         \
        fr_block_##SUFFIX(FR_MR, half, nc, k, A + j * ar, ar, ak, k2, A2 + j * ar2, ar2, strip, bk, C + j * ldc, \
                          ldc, add);                                                                           \
    for (; j + 2 <= m; j += 2)                                                                                 \
        fr_block_##SUFFIX(2, half, nc, k, A + j * ar, ar, ak, k2, A2 + j * ar2, ar2, strip, bk, C + j * ldc,   \
                          ldc, add);                                                                           \
    if (j < m)                                                                                                 \
        fr_block_##SUFFIX(1, half, nc, k, A + j * ar, ar, ak, k2, A2 + j * ar2, ar2, strip, bk, C + j * ldc,   \
                          ldc, add);                                                                           \
}                                                                                                              \
                                                                                                               \
/* Every row of C[:, 0 : nc] against one strip, k + k2 rows of it: a whole strip, or for a last strip of NR / 2 \
 * columns or fewer, a half one (see fr_block). */                                                             \
FR_INLINE void fr_panel_##SUFFIX(ptrdiff_t m, ptrdiff_t nc, ptrdiff_t k, const T *A, ptrdiff_t ar, ptrdiff_t ak, \
                                 ptrdiff_t k2, const T *A2, ptrdiff_t ar2, const T *strip, ptrdiff_t bk, T *C, \
                                 ptrdiff_t ldc, int add) {                                                     \
    /* nc as a literal where the strip is whole, so that the block's partial-strip epilogue drops out of it:   \
     * with that path in it, GCC kept the accumulators in memory between the k loops and the epilogue          \
     * (m 32, n 256, k 72, 1 thread: float64 46 -> 52, float32 97 -> 111 GFLOP/s). */                          \
    if (nc == FR_NR_##SUFFIX)                                                                                  \
        fr_blocks_##SUFFIX(m, 0, FR_NR_##SUFFIX, k, A, ar, ak, k2, A2, ar2, strip, bk, C, ldc, add);           \
    else if (nc == FR_NR_##SUFFIX / 2)                                                                         \
        fr_blocks_##SUFFIX(m, 1, FR_NR_##SUFFIX / 2, k, A, ar, ak, k2, A2, ar2, strip, bk, C, ldc, add);       \
    else if (nc < FR_NR_##SUFFIX / 2)                                                                          \
        fr_blocks_##SUFFIX(m, 1, nc, k, A, ar, ak, k2, A2, ar2, strip, bk, C, ldc, add);                       \
    else                                                                                                       \
        fr_blocks_##SUFFIX(m, 0, nc, k, A, ar, ak, k2, A2, ar2, strip, bk, C, ldc, add);                       \
}                                                                                                              \
                                                                                                               \
/* One row, c (n) += [a (k), a2 (k2)] @ B (or =, as fr_gemm). A block of one row has two accumulators, each    \
 * multiply-add waiting on the one before it, so strip after strip runs at the FMA latency; four strips at once \
 * keep eight chains in flight, and the row runs at the L2 cache's bandwidth (B is read once per row, nothing  \
 * reuses it). Measured at 1 thread against OpenBLAS's GEMV on B in the L2 cache: k 128, n 512 in float32 2.7  \
 * against 4.3 us, in float64 5.0 against 6.5 us. A last 1 to 3 strips, and a partial one, run as blocks. */   \
FR_INLINE void fr_row_acc_##SUFFIX(ptrdiff_t k, const T *a, const T *strips, ptrdiff_t ks,                     \
                                   fr_vec_##SUFFIX acc[8]) {                                                   \
    enum { NR = FR_NR_##SUFFIX, V = FR_NR_##SUFFIX / 2 };                                                      \
    fr_vec_##SUFFIX v;                                                                                         \
    for (ptrdiff_t kk = 0; kk < k; kk++)                                                                       \
        for (int q = 0; q < 8; q++) {                                                                          \
            memcpy(&v, strips + (q / 2) * ks * NR + kk * NR + (q % 2) * V, sizeof v);                          \
            acc[q] += a[kk] * v;                                                                               \
        }                                                                                                      \
}                                                                                                              \
                                                                                                               \
FR_INLINE void fr_row_##SUFFIX(ptrdiff_t n, ptrdiff_t k, const T *a, ptrdiff_t k2, const T *a2, const T *Bp, T *c, \
                               int add) {                                                                      \
    enum { NR = FR_NR_##SUFFIX, V = FR_NR_##SUFFIX / 2 };                                                      \
    ptrdiff_t c0 = 0, ks = k + k2;                                                                             \
    for (; c0 + 4 * NR <= n; c0 += 4 * NR) {                                                                   \
        fr_vec_##SUFFIX acc[8], v;                                                                             \
        const T *strips = Bp + c0 * ks;                                                                        \
        for (int q = 0; q < 8; q++) acc[q] = (fr_vec_##SUFFIX){0};                                             \
        fr_row_acc_##SUFFIX(k, a, strips, ks, acc);                                                            \
        fr_row_acc_##SUFFIX(k2, a2, strips + k * NR, ks, acc);                                                 \
        for (int q = 0; q < 8; q++) {                                                                          \
            if (add) {                                                                                         \
                memcpy(&v, c + c0 + q * V, sizeof v);                                                          \
                acc[q] += v;                                                                                   \
            }                                                                                                  \
            memcpy(c + c0 + q * V, &acc[q], sizeof v);                                                         \
        }                                                                                                      \
    }                                                                                                          \
    for (; c0 < n; c0 += NR) {                                                                                 \
        ptrdiff_t nc = n - c0 < NR ? n - c0 : NR;                                                              \
        fr_panel_##SUFFIX(1, nc, k, a, k, 1, k2, a2, k2, Bp + c0 * ks, NR, c + c0, n, add);                    \
    }                                                                                                          \
}                                                                                                              \
                                                                                                               \
/* C (m, n) += [A (m, k), A2 (m, k2)] @ B when add, C = [A, A2] @ B otherwise (C's old values, NaN included, are \
 * not read), with Bp from fr_pack_*(.., k + k2, n, ..) of B's k + k2 rows. k2 = 0 (A2 NULL): C += A @ B. */   \
static inline TARGET void fr_gemm_##SUFFIX(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T *A, ptrdiff_t lda,   \
        ptrdiff_t k2, const T *A2, ptrdiff_t lda2, const T *Bp, T *C, ptrdiff_t ldc, int add) {                \
    /* Without a second part, A stands in for A2, which is then never read: fr_panel offsets A2 by its rows,   \
     * and an offset of NULL, even of 0, is undefined in C. */                                                 \
    if (A2 == NULL) {                                                                                          \
        A2 = A;                                                                                                \
        lda2 = lda;                                                                                            \
    }                                                                                                          \
    if (m == 1) {                                                                                              \
        fr_row_##SUFFIX(n, k, A, k2, A2, Bp, C, add);                                                          \
        return;                                                                                                \
    }                                                                                                          \
    for (ptrdiff_t c0 = 0; c0 < n; c0 += FR_NR_##SUFFIX) {                                                     \
        ptrdiff_t nc = n - c0 < FR_NR_##SUFFIX ? n - c0 : FR_NR_##SUFFIX;                                      \
        const T *strip = Bp + c0 * (k + k2);                                                                   \
        fr_panel_##SUFFIX(m, nc, k, A, lda, 1, k2, A2, lda2, strip, FR_NR_##SUFFIX, C + c0, ldc, add);         \
    }                                                                                                          \
}                                                                                                              \
                                                                                                               \
/* C (m, n) += A^T B (or =, as fr_gemm) for A (k, m) and B (k, n) row-major: the backward's weight gradients   \
 * da^T [x, h_{t-1}, 1] over all the packed rows, k = P. BLAS copies both into its panel layout first, and     \
 * at k = 32,000 the copies cost about half as much as the multiply-adds. Here the k rows go in chunks of      \
 * FR_KC, whose rows of A and B stay in the cache while every register block of C walks them. B's strips are   \
 * read in place, a last partial one through a zero-padded copy so that no load runs past B (a last half       \
 * strip is read in place: the half block loads its first vector only); the kernels' stash pads B's rows to    \
 * whole or half strips (_steps.pxd), so that no copy is made. A block's k loop takes one value from each of   \
 * kc rows of A, lda apart, and the next blocks read the same lines; when lda is a multiple of 512 bytes       \
 * those lines fall into 8 of the L1 cache's 64 sets or fewer (2 at 2 KB: the gates of H = 128 in float, 64    \
 * in double), too few to keep them, and A's chunk is copied once, into groups of FR_MR_HALF columns, each     \
 * group's kc rows contiguous (Ap), 8 rows of A at a time (a group's column at a time, every row's line came   \
 * from the L2 cache once per group: 12% of the product's time in double). Zen 3 (AVX2), 1 thread, min of      \
 * 5-60 runs, in place -> copied (OpenBLAS): float32 m 512, n 152, k 32000 (a long LSTM's dW) 58 -> 76-79      \
 * GFLOP/s (76-78), float64 30 -> 38-39; m 256, n 80, k 3200 (a small LSTM's) float64 30 -> 36-39 (32-37),     \
 * float32 75-80 -> 82-86 (75). At other strides, and for a product of one strip (which reads each line of A   \
 * for a few blocks only), the copy cost more than it saved (tiny GRU training 2-4% slower, lda 150), and A    \
 * is read in place, as it is without memory for Ap. */                                                        \
static inline TARGET void fr_gemm_tn_##SUFFIX(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T *A,               \
        ptrdiff_t lda, const T *B, ptrdiff_t ldb, T *C, ptrdiff_t ldc, int add) {                              \
    enum { NR = FR_NR_##SUFFIX, GR = FR_MR_HALF };                                                             \
    T tail[FR_KC * NR];                                                                                        \
    ptrdiff_t groups = (m + GR - 1) / GR;                                                                      \
    int copy = n > NR && lda * (ptrdiff_t)sizeof(T) % 512 == 0;                                                \
    T *Ap = copy ? (T *)malloc((size_t)(groups * FR_KC * GR) * sizeof(T)) : NULL;                              \
    for (ptrdiff_t k0 = 0; k0 < k; k0 += FR_KC) {                                                              \
        ptrdiff_t kc = k - k0 < FR_KC ? k - k0 : FR_KC;                                                        \
        int add_c = add || k0 > 0;                                                                             \
        for (ptrdiff_t k1 = 0; Ap != NULL && k1 < kc; k1 += 8)                                                 \
            for (ptrdiff_t g = 0; g < groups; g++) {                                                           \
                ptrdiff_t w = m - g * GR < GR ? m - g * GR : GR, ke = kc - k1 < 8 ? kc : k1 + 8;               \
                T *dst = Ap + g * kc * GR;                                                                     \
                const T *src = A + k0 * lda + g * GR;                                                          \
                /* A last group's columns past m are never read (its blocks take its w rows of C); a whole     \
                 * group's copy has a constant size, which GCC inlines. */                                     \
                for (ptrdiff_t kk = k1; kk < ke; kk++)                                                         \
                    if (w == GR)                                                                               \
                        memcpy(dst + kk * GR, src + kk * lda, GR * sizeof(T));                                 \
                    else                                                                                       \
                        memcpy(dst + kk * GR, src + kk * lda, (size_t)w * sizeof(T));                          \
            }                                                                                                  \
        for (ptrdiff_t c0 = 0; c0 < n; c0 += NR) {                                                             \
            ptrdiff_t nc = n - c0 < NR ? n - c0 : NR, bk = ldb;                                                \
            const T *strip = B + k0 * ldb + c0;                                                                \
            if (nc < NR && nc != NR / 2) {                                                                     \
                memset(tail, 0, (size_t)kc * NR * sizeof(T));                                                  \
                for (ptrdiff_t kk = 0; kk < kc; kk++)                                                          \
                    memcpy(tail + kk * NR, strip + kk * ldb, (size_t)nc * sizeof(T));                          \
                strip = tail;                                                                                  \
                bk = NR;                                                                                       \
            }                                                                                                  \
            /* A (or Ap) in place of the unread second part, as fr_gemm's NULL. */                             \
            if (Ap == NULL)                                                                                    \
                fr_panel_##SUFFIX(m, nc, kc, A + k0 * lda, 1, lda, 0, A, 1, strip, bk, C + c0, ldc, add_c);    \
            else                                                                                               \
                for (ptrdiff_t g = 0; g < groups; g++)                                                         \
                    fr_panel_##SUFFIX(m - g * GR < GR ? m - g * GR : GR, nc, kc, Ap + g * kc * GR, 1, GR, 0,   \
                                      Ap, 1, strip, bk, C + g * GR * ldc + c0, ldc, add_c);                    \
        }                                                                                                      \
    }                                                                                                          \
    free(Ap);                                                                                                  \
}

#ifdef FR_WIDTHS
FR_GEMM(float, f64, 64, FR_TARGET_64)
FR_GEMM(double, d64, 64, FR_TARGET_64)
FR_GEMM(float, f32, 32, FR_TARGET_32)
FR_GEMM(double, d32, 32, FR_TARGET_32)
#endif
FR_GEMM(float, f16, 16, )
FR_GEMM(double, d16, 16, )

/* The products of fr_vector_bytes's width. A B laid out by fr_pack_* is read by fr_gemm_* of the same process. */
#define FR_GEMM_WIDTH(T, S)                                                                                    \
static __attribute__((unused)) T *fr_pack_##S(int trans_b, ptrdiff_t k, ptrdiff_t n, ptrdiff_t k1, const T *B1, \
                                              const T *B2) {                                                   \
    return FR_BY_WIDTH(fr_pack_##S, (trans_b, k, n, k1, B1, B2));                                              \
}                                                                                                              \
                                                                                                               \
static inline void fr_gemm_##S(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T *A, ptrdiff_t lda, ptrdiff_t k2, \
                               const T *A2, ptrdiff_t lda2, const T *Bp, T *C, ptrdiff_t ldc, int add) {       \
    FR_BY_WIDTH(fr_gemm_##S, (m, n, k, A, lda, k2, A2, lda2, Bp, C, ldc, add));                                \
}                                                                                                              \
                                                                                                               \
static inline void fr_gemm_tn_##S(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T *A, ptrdiff_t lda, const T *B, \
                                  ptrdiff_t ldb, T *C, ptrdiff_t ldc, int add) {                               \
    FR_BY_WIDTH(fr_gemm_tn_##S, (m, n, k, A, lda, B, ldb, C, ldc, add));                                       \
}

FR_GEMM_WIDTH(float, f)
FR_GEMM_WIDTH(double, d)

/* ---- the streaming step's products, on the weights where the model keeps them ----
 *
 * One step of a few streams (fastrnn._stream.Stepper) multiplies each stream's input and state by the weights as
 * the model stores them, row-major W (m, k), read afresh at every call so that a model updated in place is seen at
 * once; nothing is laid out in advance, so BLAS's GEMV was the product. Per stream x (k):
 *
 *     y[r] = W1[r, :] . x1 + W2[r, :] . x2                 (the input and recurrent products, summed; W2 optional)
 *
 * a dot product per row of W. Each block of R rows (R = the lanes of a 32-byte vector) keeps one vector of partial
 * sums per row, over both products, and adds each vector's lanes in a transposed reduction: log2(R) rounds of
 * shuffles and adds leave the R rows' sums in one vector, stored at once (lane by lane, the horizontal sums were as
 * slow as the multiply-adds at H = 64). The block's rows of W are read once from the L2 cache for the first
 * stream, then from L1 for the others. The step's weights do not fit the L1 cache (128 KB at H = 64 in float64),
 * so the L2 cache's bandwidth bounds it, as it bounds BLAS's GEMV; what this saves is the rest of BLAS's two
 * calls: argument checks, a buffer lock, the GEMV of a (G H, F) W_ih whose rows are a vector or two long, and a
 * second pass over y. */
typedef double fr_v4d __attribute__((vector_size(32)));
typedef float fr_v8f __attribute__((vector_size(32)));
typedef double fr_v2d __attribute__((vector_size(16)));
typedef float fr_v4f __attribute__((vector_size(16)));
/* FR_SHUFFLE(V, a, b, lanes...) for a and b of type fr_##V: lane i of the result is lane lanes[i] of a's lanes
 * followed by b's. GCC takes the lanes as a vector of integers of the lanes' size (fr_mask_##V). */
#if defined(__clang__)
#define FR_SHUFFLE(V, a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
typedef long long fr_mask_v4d __attribute__((vector_size(32)));
typedef int fr_mask_v8f __attribute__((vector_size(32)));
typedef long long fr_mask_v2d __attribute__((vector_size(16)));
typedef int fr_mask_v4f __attribute__((vector_size(16)));
#define FR_SHUFFLE(V, a, b, ...) __builtin_shuffle(a, b, (fr_mask_##V){__VA_ARGS__})
#endif

/* Lane r of the result: the sum of a[r]'s lanes. Round 1 adds neighbouring lanes of two vectors at a time, round 2
 * (and 3 for 8 lanes) neighbouring pairs of those, each round halving the vectors. */
FR_INLINE void fr_lane_sums_v2d(const fr_v2d a[2], fr_v2d *sums) {
    *sums = FR_SHUFFLE(v2d, a[0], a[1], 0, 2) + FR_SHUFFLE(v2d, a[0], a[1], 1, 3);
}

#define FR_LANE_SUMS_4(V)                                                                                      \
FR_INLINE void fr_lane_sums_##V(const fr_##V a[4], fr_##V *sums) {                                             \
    fr_##V t0 = FR_SHUFFLE(V, a[0], a[1], 0, 4, 2, 6) + FR_SHUFFLE(V, a[0], a[1], 1, 5, 3, 7);                 \
    fr_##V t1 = FR_SHUFFLE(V, a[2], a[3], 0, 4, 2, 6) + FR_SHUFFLE(V, a[2], a[3], 1, 5, 3, 7);                 \
    *sums = FR_SHUFFLE(V, t0, t1, 0, 1, 4, 5) + FR_SHUFFLE(V, t0, t1, 2, 3, 6, 7);                             \
}
FR_LANE_SUMS_4(v4d)
FR_LANE_SUMS_4(v4f)

FR_INLINE void fr_lane_sums_v8f(const fr_v8f a[8], fr_v8f *sums) {
    fr_v8f t[4], u[2];
    for (int p = 0; p < 4; p++)
        t[p] = FR_SHUFFLE(v8f, a[2 * p], a[2 * p + 1], 0, 8, 2, 10, 4, 12, 6, 14)
             + FR_SHUFFLE(v8f, a[2 * p], a[2 * p + 1], 1, 9, 3, 11, 5, 13, 7, 15);
    for (int q = 0; q < 2; q++)
        u[q] = FR_SHUFFLE(v8f, t[2 * q], t[2 * q + 1], 0, 1, 8, 9, 4, 5, 12, 13)
             + FR_SHUFFLE(v8f, t[2 * q], t[2 * q + 1], 2, 3, 10, 11, 6, 7, 14, 15);
    *sums = FR_SHUFFLE(v8f, u[0], u[1], 0, 1, 2, 3, 8, 9, 10, 11)
          + FR_SHUFFLE(v8f, u[0], u[1], 4, 5, 6, 7, 12, 13, 14, 15);
}

/* Per dtype T, with vectors fr_##V of R lanes and SETS sets of partial sums: fr_dots_##S##_body and its parts. */
#define FR_DOTS(T, S, V, R, SETS)                                                                              \
/* acc[r] += W[r, kk : kk + R] * x[kk : kk + R] lane-wise, for R rows of W (k apart). R is a constant, so that \
 * acc stays in registers. Each chunk also asks for its share of the next R rows (prefetch past the end of W is \
 * harmless): rows that do not start on a 32-byte boundary make every other load straddle two cache lines, and \
 * the product waited on the L2 cache (H = 64 in float64: 1.9 us with W 16 bytes past the boundary, 1.7 with   \
 * the prefetch, 1.4 on the boundary, where it changes nothing). */                                            \
FR_INLINE void fr_dots_chunk_##S(const T *W, ptrdiff_t k, ptrdiff_t kk, const T *x, fr_##V acc[R]) {           \
    fr_##V xv, w;                                                                                              \
    memcpy(&xv, x + kk, sizeof xv);                                                                            \
    for (int q = 0; q < (R * R * (int)sizeof(T) + 63) / 64; q++)                                               \
        __builtin_prefetch((const char *)(W + R * k + kk * R) + 64 * q);                                       \
    for (int r = 0; r < R; r++) {                                                                              \
        memcpy(&w, W + r * k + kk, sizeof w);                                                                  \
        acc[r] += w * xv;                                                                                      \
    }                                                                                                          \
}                                                                                                              \
                                                                                                               \
/* acc[s R + r] += W[r, :] * x lane-wise over the chunks of R columns, chunk after chunk into the SETS sets (so \
 * that SETS R chains of additions are in flight), with the k % R last columns' products summed in tail[r]     \
 * instead, so that no load runs past a row. */                                                                \
FR_INLINE void fr_dots_part_##S(const T *W, ptrdiff_t k, const T *x, fr_##V acc[SETS * R], T tail[R]) {        \
    ptrdiff_t kk = 0;                                                                                          \
    for (; kk + SETS * R <= k; kk += SETS * R)                                                                 \
        for (int s = 0; s < SETS; s++) fr_dots_chunk_##S(W, k, kk + s * R, x, acc + s * R);                    \
    if (SETS > 1)                                                                                              \
        for (; kk + R <= k; kk += R) fr_dots_chunk_##S(W, k, kk, x, acc);                                      \
    for (; kk < k; kk++)                                                                                       \
        for (int r = 0; r < R; r++) tail[r] += W[r * k + kk] * x[kk];                                          \
}                                                                                                              \
                                                                                                               \
/* W[0, :] . x, for the m % R last rows (a head of one output is such a row). */                               \
FR_INLINE T fr_dot_##S(const T *W, ptrdiff_t k, const T *x) {                                                  \
    fr_##V acc = {0}, w, xv;                                                                                   \
    ptrdiff_t kk = 0;                                                                                          \
    for (; kk + R <= k; kk += R) {                                                                             \
        memcpy(&w, W + kk, sizeof w);                                                                          \
        memcpy(&xv, x + kk, sizeof xv);                                                                        \
        acc += w * xv;                                                                                         \
    }                                                                                                          \
    T s = 0;                                                                                                   \
    for (int r = 0; r < R; r++) s += acc[r];                                                                   \
    for (; kk < k; kk++) s += W[kk] * x[kk];                                                                   \
    return s;                                                                                                  \
}                                                                                                              \
                                                                                                               \
/* y (n, m) = x1 (n, k1) @ W1^T + x2 (n, k2) @ W2^T, all row-major and contiguous, W1 (m, k1) and W2 (m, k2);  \
 * without the second term when W2 is NULL. */                                                                 \
FR_INLINE void fr_dots_##S##_body(ptrdiff_t n, ptrdiff_t m, const T *W1, ptrdiff_t k1, const T *x1,            \
                                    const T *W2, ptrdiff_t k2, const T *x2, T *y) {                            \
    int tails = (k1 % R) || (W2 && k2 % R);                                                                    \
    ptrdiff_t r0 = 0;                                                                                          \
    for (; r0 + R <= m; r0 += R)                                                                               \
        for (ptrdiff_t j = 0; j < n; j++) {                                                                    \
            fr_##V acc[SETS * R], sums;                                                                        \
            T tail[R];                                                                                         \
            for (int r = 0; r < R; r++) {                                                                      \
                for (int s = 0; s < SETS; s++) acc[s * R + r] = (fr_##V){0};                                   \
                tail[r] = 0;                                                                                   \
            }                                                                                                  \
            fr_dots_part_##S(W1 + r0 * k1, k1, x1 + j * k1, acc, tail);                                        \
            if (W2) fr_dots_part_##S(W2 + r0 * k2, k2, x2 + j * k2, acc, tail);                                \
            for (int r = R; r < SETS * R; r++) acc[r % R] += acc[r];                                           \
            fr_lane_sums_##V(acc, &sums);                                                                      \
            if (tails) {                                                                                       \
                fr_##V t;                                                                                      \
                memcpy(&t, tail, sizeof t);                                                                    \
                sums += t;                                                                                     \
            }                                                                                                  \
            memcpy(y + j * m + r0, &sums, sizeof sums);                                                        \
        }                                                                                                      \
    for (; r0 < m; r0++)                                                                                       \
        for (ptrdiff_t j = 0; j < n; j++)                                                                      \
            y[j * m + r0] = fr_dot_##S(W1 + r0 * k1, k1, x1 + j * k1)                                          \
                          + (W2 ? fr_dot_##S(W2 + r0 * k2, k2, x2 + j * k2) : 0);                              \
}

/* 32-byte vectors for AVX2 and AVX-512 (64-byte ones would make a block 8 or 16 rows of W), 16-byte ones for the
 * narrowest copy: 32-byte vectors there kept their sums on the stack (an LSTM float64 step at H = 64 took 10.2 us
 * with SSE2 against 2.9 with AVX2), and with two sets of sums its additions are not one chain per row. */
FR_DOTS(double, d, v4d, 4, 1)
FR_DOTS(float, f, v8f, 8, 1)
FR_DOTS(double, d_narrow, v2d, 2, 2)
FR_DOTS(float, f_narrow, v4f, 4, 2)
#define FR_DOTS_PARAMS(T) (ptrdiff_t n, ptrdiff_t m, const T *W1, ptrdiff_t k1, const T *x1, const T *W2,      \
                           ptrdiff_t k2, const T *x2, T *y)
FR_BY_WIDTH_BODIES(void, fr_dots_d, fr_dots_d_body, fr_dots_d_narrow_body, FR_DOTS_PARAMS(double),
                   (n, m, W1, k1, x1, W2, k2, x2, y))
FR_BY_WIDTH_BODIES(void, fr_dots_f, fr_dots_f_body, fr_dots_f_narrow_body, FR_DOTS_PARAMS(float),
                   (n, m, W1, k1, x1, W2, k2, x2, y))

#endif
