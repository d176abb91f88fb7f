/* Branch-free sigmoid and tanh for float and double, written so that compilers vectorise the kernels' pointwise
 * loops. libm's exp and tanh are function calls a compiler cannot vectorise without -ffast-math (which would
 * also break the NaN checks), and in an LSTM step they cost more than the matrix product.
 *
 * Both reduce the argument the same way:
 *     y = n ln2 + r,  n = round(y / ln2),  |r| <= ln2 / 2     (Cody-Waite: ln2 = LN2_HI + LN2_LO, n * LN2_HI exact)
 *     2^n is built in the exponent bits from the rounding constant's low mantissa bits (integer add and shift,
 *     which vectorise; a float-to-int conversion would not).
 * Only e^-|x| <= 1 is needed, so each argument is clamped on one side only (a compare and a blend in the vector
 * loop; on both sides GCC's compares, blends and mask logic were a quarter of a sigmoid's instructions). NaN
 * propagates through every step (the clamps are written so that a NaN compares false and passes through), for the
 * kernels' non-finite checks.
 *
 * double: e^r = P(r) / P(-r), the Pade approximant of degree 6 over 6, whose error on |r| <= ln2/2 is 2e-19.
 * P(r) = E(r^2) + r O(r^2), so both P(r) and P(-r) cost one polynomial of degree 3 and one of degree 2 in r^2: 7
 * multiplies and multiply-adds (r^2 and r O included) and 2 additions, where (e^r - 1) / r to the same accuracy
 * takes a polynomial of degree 10 (11). The quotient folds into the one division that sigmoid and tanh need anyway:
 *     e = e^-|x| = s P / Q,  s = 2^n,  Q = P(-r):
 *     sigmoid(x) = Q / (Q + s P) for x >= 0,  s P / (Q + s P) for x < 0;
 *     tanh(x)    = sign(x) * (Q - s P) / (Q + s P),  with e = e^(-2|x|), and Q - s P = (1 - s) P - 2 r O so that
 *                  at n = 0 (|x| < ln2/4) it is -2 r O, with no cancellation near 0.
 * The small LSTM's float64 pointwise pass (b 32, H 64) is 20% faster than with the polynomial of degree 10; the
 * largest errors on 600,000 arguments: sigmoid 2.4 ulp (2.2 before), tanh 3.5 ulp (2.6), mean 0.4 ulp for both.
 *
 * float: e^y - 1 = s m + (s - 1), m = e^r - 1 = r p(r), p(r) ~ (e^r - 1) / r the minimax polynomial of degree 5,
 * whose error on |r| <= ln2/2 is below half an ulp; then
 *     sigmoid(x) = 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0,    e = e^-|x|, with -|x| clamped to where e is
 *                                                                     a normal number;
 *     tanh(x)    = sign(x) * -m / (m + 2)      with m = e^(-2|x|) - 1, so no cancellation near 0 and no overflow.
 * float keeps this form: the Pade approximant of degree 3 over 3 saves two multiply-adds a call, but its tanh is 3
 * ulp off where this one is 2, and returns 1 - 2^-24 instead of 1 from |x| = 10 on.
 */
#ifndef FASTRNN_FASTMATH_H
#define FASTRNN_FASTMATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FR_INLINE static inline __attribute__((always_inline))

/* ---- double ---- */

static const double FR_LN2_HI = 6.93147180369123816490e-01;  /* ln2 with 21 trailing zero bits */
static const double FR_LN2_LO = 1.90821492927058770002e-10;  /* ln2 - FR_LN2_HI */
static const double FR_INV_LN2 = 1.44269504088896338700e+00;
static const double FR_SHIFT = 6755399441055744.0;           /* 1.5 * 2^52: adding it rounds to an integer */

/* e^y = s P(r) / P(-r) for y in [-708, 708] (callers clamp): s = 2^n, E = E(r^2), rO = r O(r^2). */
FR_INLINE void fr_exp_parts(double y, double *s, double *E, double *rO) {
    double kd = y * FR_INV_LN2 + FR_SHIFT;
    double n = kd - FR_SHIFT;
    double r = (y - n * FR_LN2_HI) - n * FR_LN2_LO;
    double r2 = r * r;
    /* P(r) = sum over k of (12 - k)! 6! / (12! k! (6 - k)!) r^k */
    *E = ((1.0 / 665280 * r2 + 1.0 / 792) * r2 + 5.0 / 44) * r2 + 1.0;
    *rO = ((1.0 / 15840 * r2 + 1.0 / 66) * r2 + 0.5) * r;
    uint64_t bits;
    memcpy(&bits, &kd, sizeof bits);                           /* low bits: 2^51 + n */
    bits = (bits + 1023) << 52;                                /* (n + 1023) in the exponent field */
    memcpy(s, &bits, sizeof bits);
}

/* max(x, lo), with a NaN x passed through (a NaN compares false). */
FR_INLINE double fr_floor_at(double x, double lo) { return lo > x ? lo : x; }

FR_INLINE double fr_sigmoid(double x) {
    double s, E, rO;
    fr_exp_parts(fr_floor_at(-fabs(x), -708.0), &s, &E, &rO);
    double P = E + rO, Q = E - rO, sP = s * P;
    return (x < 0.0 ? sP : Q) / (Q + sP);
}

FR_INLINE double fr_tanh(double x) {
    double s, E, rO;
    /* tanh(20) rounds to 1 in double. fabs and copysign, not comparisons, so that the loop stays branch-free
     * (and tanh(-0) is -0). */
    fr_exp_parts(fr_floor_at(-2.0 * fabs(x), -40.0), &s, &E, &rO);
    double P = E + rO, Q = E - rO;
    return copysign(((1.0 - s) * P - 2.0 * rO) / (Q + s * P), x);
}

/* ---- float ---- */

static const float FR_LN2_HI_F = 6.9314575195e-01f;           /* ln2 with 12 trailing zero bits */
static const float FR_LN2_LO_F = 1.4286068203e-06f;            /* ln2 - FR_LN2_HI_F */
static const float FR_INV_LN2_F = 1.4426950409e+00f;
static const float FR_SHIFT_F = 12582912.0f;                  /* 1.5 * 2^23 */

/* e^y - 1 = scale * m + (scale - 1) with scale = 2^n, for y in [-87, 87] (callers clamp). */
FR_INLINE void fr_expm1_parts_f(float y, float *scale, float *m) {
    float kd = y * FR_INV_LN2_F + FR_SHIFT_F;
    float n = kd - FR_SHIFT_F;
    float r = (y - n * FR_LN2_HI_F) - n * FR_LN2_LO_F;
    /* Degree 5, minimax for the relative error (Remez): 2.3e-8 with float coefficients (Taylor's needs degree 7). */
    float p = 0.0013888872927054763f;
    p = p * r + 0.00836906861513853f;
    p = p * r + 0.041667137295007706f;
    p = p * r + 0.16666506230831146f;
    p = p * r + 0.4999999701976776f;
    p = p * r + 1.0f;
    *m = p * r;
    uint32_t bits;
    memcpy(&bits, &kd, sizeof bits);                           /* low bits: 2^22 + n */
    bits = (bits + 127) << 23;
    memcpy(scale, &bits, sizeof bits);
}

FR_INLINE float fr_floor_atf(float x, float lo) { return lo > x ? lo : x; }

FR_INLINE float fr_sigmoidf(float x) {
    float s, m;
    fr_expm1_parts_f(fr_floor_atf(-fabsf(x), -87.0f), &s, &m);
    float e = s * m + s;
    return (x < 0.0f ? e : 1.0f) / (1.0f + e);
}

FR_INLINE float fr_tanhf(float x) {
    float s, m;
    /* tanh(10) rounds to 1 in float. */
    fr_expm1_parts_f(fr_floor_atf(-2.0f * fabsf(x), -20.0f), &s, &m);
    float em1 = s * m + (s - 1.0f);
    return copysignf(-em1 / (em1 + 2.0f), x);
}


/* ---- relu, the candidate activation by flag, and the derivatives from the outputs, for the cells' headers ----
 *
 * The cells' pointwise functions take `relu` as an argument and call their row loops with a literal 0 or 1, so
 * that each loop is compiled for one activation (no blend, no branch in the vector loop). */

/* NaN <= 0 is false, so a NaN passes through to the non-finite checks. */
FR_INLINE double fr_relu(double x) { return x <= 0.0 ? 0.0 : x; }
FR_INLINE float fr_reluf(float x) { return x <= 0.0f ? 0.0f : x; }

FR_INLINE double fr_act(double x, int relu) { return relu ? fr_relu(x) : fr_tanh(x); }
FR_INLINE float fr_actf(float x, int relu) { return relu ? fr_reluf(x) : fr_tanhf(x); }

/* act'(x) and sigma'(x) from y = act(x), y = sigma(x); relu' is 0 at 0, as PyTorch's. */
FR_INLINE double fr_dact(double y, int relu) { return relu ? (double)(y > 0.0) : 1.0 - y * y; }
FR_INLINE float fr_dactf(float y, int relu) { return relu ? (float)(y > 0.0f) : 1.0f - y * y; }
FR_INLINE double fr_dsigmoid(double y) { return y * (1.0 - y); }
FR_INLINE float fr_dsigmoidf(float y) { return y * (1.0f - y); }

/* ---- one copy per vector width, and the width this process runs ----
 *
 * Compiled for baseline x86-64, the loops here and the cells' pointwise passes (lstm.h, gru.h, rnn.h) vectorise
 * with SSE2 only, 4 floats per divide, and the divides bound a small LSTM's forward pass; _gemm.h's products
 * need registers of their width. So each of these functions is compiled three times: for x86-64-v4 (AVX-512,
 * 64-byte vectors), for x86-64-v3 (AVX2 with FMA, 32 bytes) and for any x86-64 (16 bytes), and fr_vector_bytes
 * picks one copy for the whole process, so that one build runs on any x86-64 and a narrower CPU's code can be
 * tested and timed on a wider one (FASTRNN_VECTOR_BYTES). The always-inline scalar code of a copy is vectorised
 * with its registers. Where the compiler or the architecture lacks the attribute (FR_WIDTHS undefined), only the
 * 16-byte copy is built, for the compiler's default target.
 *
 * GCC 12 names the microarchitecture levels; clang and older GCC get feature names (avx512f implies FMA). Fused
 * multiply-adds change results by about an ulp, within the accuracy stated at the top. GCC's target_clones, with
 * an ifunc resolver choosing when the module loads, did the same for the pointwise passes before: no test could
 * run a narrower CPU's copy, and the AVX2 copy of the training passes had stayed scalar unseen (lstm.h's
 * fr_lstm_forward_outs). */
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target)
#define FR_WIDTHS 1
#if defined(__clang__) || __GNUC__ < 12
#define FR_TARGET_64 __attribute__((target("avx512f")))
#define FR_TARGET_32 __attribute__((target("avx2,fma")))
#define FR_CPU_64 __builtin_cpu_supports("avx512f")
#define FR_CPU_32 (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
#else
#define FR_TARGET_64 __attribute__((target("arch=x86-64-v4")))
#define FR_TARGET_32 __attribute__((target("arch=x86-64-v3")))
#define FR_CPU_64 __builtin_cpu_supports("x86-64-v4")
#define FR_CPU_32 __builtin_cpu_supports("x86-64-v3")
#endif
#endif
#endif

/* The width of the vectors this process runs on, in bytes: the widest the CPU has, or a narrower one that the
 * environment variable FASTRNN_VECTOR_BYTES (16 or 32) asks for. Fixed at the first call, so that every product
 * and pass of the process, and the layout that _gemm.h's fr_pack gives its B, use the same (threads that race to
 * the first call compute the same value). */
static __attribute__((unused)) int fr_vector_bytes(void) {
    static int bytes;
    if (bytes == 0) {
        int widest = 16;
#ifdef FR_WIDTHS
        widest = FR_CPU_64 ? 64 : FR_CPU_32 ? 32 : 16;
#endif
        const char *asked = getenv("FASTRNN_VECTOR_BYTES");
        int narrower = asked ? atoi(asked) : 0;
        bytes = (narrower == 16 || narrower == 32) && narrower < widest ? narrower : widest;
    }
    return bytes;
}

/* NAME's copy for fr_vector_bytes's width, called with ARGS (parenthesised): an expression of NAME's type. */
#ifdef FR_WIDTHS
#define FR_BY_WIDTH(NAME, ARGS)                                                                                \
    (fr_vector_bytes() == 64 ? NAME##64 ARGS : fr_vector_bytes() == 32 ? NAME##32 ARGS : NAME##16 ARGS)
#else
#define FR_BY_WIDTH(NAME, ARGS) NAME##16 ARGS
#endif

/* RET NAME PARAMS, calling the copy of its width, and the copies NAME##64, NAME##32, NAME##16, each compiled for
 * its target with the expression CALL64, CALL32 or CALL16 as its body: a call of an always-inline function on
 * NAME's parameters. PARAMS and ARGS: NAME's parameters and their names, parenthesised. RET is void or int. */
#define FR_RETURN_void
#define FR_RETURN_int return
#ifdef FR_WIDTHS
#define FR_WIDE_COPIES(RET, NAME, PARAMS, CALL64, CALL32)                                                      \
    static __attribute__((unused)) FR_TARGET_64 RET NAME##64 PARAMS { FR_RETURN_##RET CALL64; }                \
    static __attribute__((unused)) FR_TARGET_32 RET NAME##32 PARAMS { FR_RETURN_##RET CALL32; }
#else
#define FR_WIDE_COPIES(RET, NAME, PARAMS, CALL64, CALL32)
#endif
#define FR_BY_WIDTH_EACH(RET, NAME, PARAMS, ARGS, CALL64, CALL32, CALL16)                                      \
    FR_WIDE_COPIES(RET, NAME, PARAMS, CALL64, CALL32)                                                          \
    static __attribute__((unused)) RET NAME##16 PARAMS { FR_RETURN_##RET CALL16; }                             \
    static inline RET NAME PARAMS { FR_RETURN_##RET FR_BY_WIDTH(NAME, ARGS); }

/* Every copy the always-inline NAME##_body ARGS. */
#define FR_BY_WIDTH_COPIES(RET, NAME, PARAMS, ARGS)                                                            \
    FR_BY_WIDTH_BODIES(RET, NAME, NAME##_body, NAME##_body, PARAMS, ARGS)
/* Bodies of their own: WIDE ARGS for the copies of 64 and 32 bytes, NARROW ARGS for that of 16. */
#define FR_BY_WIDTH_BODIES(RET, NAME, WIDE, NARROW, PARAMS, ARGS)                                              \
    FR_BY_WIDTH_EACH(RET, NAME, PARAMS, ARGS, WIDE ARGS, WIDE ARGS, NARROW ARGS)
/* NAME##_body with the copy's vector width in bytes, a literal, before ARGS: for a pass whose best shape depends
 * on the width (lstm.h's fr_lstm_forward). */
#define FR_ARGS(...) __VA_ARGS__
#define FR_BY_WIDTH_SIZED(RET, NAME, PARAMS, ARGS)                                                             \
    FR_BY_WIDTH_EACH(RET, NAME, PARAMS, ARGS, NAME##_body(64, FR_ARGS ARGS), NAME##_body(32, FR_ARGS ARGS),    \
                     NAME##_body(16, FR_ARGS ARGS))

/* ---- whole rows, for the kernels' pointwise loops (here, and the cells' in lstm.h, gru.h, rnn.h) ---- */

FR_INLINE void fr_sigmoid_rows_body(double *x, ptrdiff_t n) {
    for (ptrdiff_t k = 0; k < n; k++) x[k] = fr_sigmoid(x[k]);
}
FR_BY_WIDTH_COPIES(void, fr_sigmoid_rows, (double *x, ptrdiff_t n), (x, n))

FR_INLINE void fr_sigmoid_rows_f_body(float *x, ptrdiff_t n) {
    for (ptrdiff_t k = 0; k < n; k++) x[k] = fr_sigmoidf(x[k]);
}
FR_BY_WIDTH_COPIES(void, fr_sigmoid_rows_f, (float *x, ptrdiff_t n), (x, n))

/* act (tanh, or relu), in place. */
FR_INLINE void fr_act_rows_body(double *x, ptrdiff_t n, int relu) {
    if (relu)
        for (ptrdiff_t k = 0; k < n; k++) x[k] = fr_relu(x[k]);
    else
        for (ptrdiff_t k = 0; k < n; k++) x[k] = fr_tanh(x[k]);
}
FR_BY_WIDTH_COPIES(void, fr_act_rows, (double *x, ptrdiff_t n, int relu), (x, n, relu))

FR_INLINE void fr_act_rows_f_body(float *x, ptrdiff_t n, int relu) {
    if (relu)
        for (ptrdiff_t k = 0; k < n; k++) x[k] = fr_reluf(x[k]);
    else
        for (ptrdiff_t k = 0; k < n; k++) x[k] = fr_tanhf(x[k]);
}
FR_BY_WIDTH_COPIES(void, fr_act_rows_f, (float *x, ptrdiff_t n, int relu), (x, n, relu))

/* The outputs a cell's forward row loop writes besides its state and h_t, given as a literal so that the loop is
 * compiled once for each set and tests nothing: the training stash, h_t into the next step's stash, and the
 * non-finite check's sum (lstm.h's fr_lstm_forward_outs says why). */
enum { FR_STASH = 1, FR_NEXT = 2, FR_CHECK = 4 };

/* 1 when none of x[0:n] is NaN or infinite: x - x is 0 for a finite x and NaN otherwise, and OR-ing the NaN
 * tests is an integer reduction, which vectorises (a sum of the values would be one serial chain of additions).
 * Baseline x86-64 compiles the test to scalar ucomisd: after every layer and pass the kernels check all their
 * outputs, 2% of a small GRU's training step; the wider copies run it in vectors. */
#define FR_ALL_FINITE(T, NAME)                                                                                 \
FR_INLINE int NAME##_body(const T *x, ptrdiff_t n) {                                                           \
    int bad = 0;                                                                                               \
    for (ptrdiff_t k = 0; k < n; k++) {                                                                        \
        T d = x[k] - x[k];                                                                                     \
        bad |= d != d;                                                                                         \
    }                                                                                                          \
    return !bad;                                                                                               \
}                                                                                                              \
FR_BY_WIDTH_COPIES(int, NAME, (const T *x, ptrdiff_t n), (x, n))
FR_ALL_FINITE(double, fr_all_finite)
FR_ALL_FINITE(float, fr_all_finite_f)

#endif
