"""The LSTM's and GRU's forward pointwise passes alone (src_c/lstm.h, gru.h), in ns a hidden unit, for each vector
width's copy: a C harness compiled here against src_c's headers, with the flags setup.py gives GCC.

    python benchmarks/pointwise.py [--b B] [--H H] [--rounds ROUNDS] [--src DIR]

B rows of H units (default 32 and 64, a small LSTM's step), float64 and float32, inference (the non-finite check's
sum written besides c and h) and training (the stash too), every width this process runs (`fr_vector_bytes`: the
CPU's widest, or FASTRNN_VECTOR_BYTES's) and the narrower ones. Each call gets the same pre-activations (uniform
in [-2, 2]) copied in first, and the copies' time, measured apart, is subtracted; printed is the min over ROUNDS
rounds (default 7). DIR: the headers to build (default this checkout's src_c), so that a change to a pass is
measured against another checkout's, say a `git worktree` of the old commit, in turn (the machine is shared:
alternate, and compare the runs in pairs). Needs a C compiler: $CC, or cc.
"""
import argparse
import os
import subprocess
import tempfile

SRC_C = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "src_c")
# setup.py's GCC_FLAGS, and what Python's own build flags add to them there.
FLAGS = ["-O3", "-fwrapv", "-fno-tree-pre", "--param", "vect-max-version-for-alias-checks=64"]

HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lstm.h"
#include "gru.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* 64-byte aligned and zeroed: glibc's memcpy runs at a tenth of its speed or less on some CPUs (AMD Zen 3) when
 * only one side is aligned to a cache line. */
static void *buffer(size_t bytes) {
    bytes = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, bytes);
    if (p == NULL) exit(1);
    memset(p, 0, bytes);
    return p;
}

/* ns a unit of width W's copy: cell 0 the LSTM, 1 the GRU; train: the stash written too. */
#define BENCH(T, S, W)                                                                                         \
static double bench_##S##W(int cell, int train, int b, int H, int rounds) {                                    \
    size_t G = cell ? 3 : 4, n = (size_t)b * G * H, bh = (size_t)b * H;                                        \
    T *a0 = buffer(n * sizeof(T)), *a = buffer(n * sizeof(T)), *u = buffer(3 * bh * sizeof(T));                \
    T *bias = buffer(4 * H * sizeof(T)), *b_hn = buffer(H * sizeof(T)), *nan_sum = buffer(H * sizeof(T));      \
    T *c = buffer(bh * sizeof(T)), *y = buffer(bh * sizeof(T)), *h_prev = buffer(bh * sizeof(T));              \
    T *s1 = buffer(bh * sizeof(T)), *s2 = buffer(bh * sizeof(T)), *h_next = buffer(bh * sizeof(T));            \
    srand(1);                                                                                                  \
    for (size_t i = 0; i < n; i++) a0[i] = (T)(4.0 * rand() / RAND_MAX - 2);                                   \
    for (size_t i = 0; i < 3 * bh; i++) u[i] = (T)(2.0 * rand() / RAND_MAX - 1);                               \
    for (size_t i = 0; i < G * H; i++) bias[i] = (T)0.1;                                                       \
    for (size_t i = 0; i < bh; i++) c[i] = (T)0.3, h_prev[i] = (T)0.2;                                         \
    long calls = (long)(2e7 / n) + 1;                                                                          \
    double best = 1e9, copy = 1e9;                                                                             \
    for (int r = 0; r < rounds; r++) {                                                                         \
        double t0 = now();                                                                                     \
        for (long i = 0; i < calls; i++) {                                                                     \
            memcpy(a, a0, n * sizeof(T));                                                                      \
            __asm__ volatile("" : : "r"(a) : "memory");                                                        \
        }                                                                                                      \
        double t1 = now();                                                                                     \
        for (long i = 0; i < calls; i++) {                                                                     \
            memcpy(a, a0, n * sizeof(T));                                                                      \
            if (cell == 0)                                                                                     \
                fr_lstm_forward_##S##W(0, b, H, a, bias, c, y, train ? s1 : NULL, train ? s2 : NULL,           \
                                       train ? h_next : NULL, H, b, nan_sum);                                  \
            else                                                                                               \
                fr_gru_forward_##S##W(0, b, H, a, bias, u, b_hn, h_prev, y, train ? s1 : NULL,                 \
                                      train ? s2 : NULL, nan_sum);                                             \
        }                                                                                                      \
        double t2 = now();                                                                                     \
        copy = t1 - t0 < copy ? t1 - t0 : copy;                                                                \
        best = t2 - t1 < best ? t2 - t1 : best;                                                                \
    }                                                                                                          \
    return (best - copy) / calls * 1e9 / bh;                                                                   \
}

BENCH(double, d, 16)
BENCH(float, f, 16)
#ifdef FR_WIDTHS
BENCH(double, d, 32)
BENCH(float, f, 32)
BENCH(double, d, 64)
BENCH(float, f, 64)
#endif

/* argv: widths | cell train double width b H rounds */
int main(int argc, char **argv) {
    if (argc == 2) {
        printf("%d\n", fr_vector_bytes());
        return 0;
    }
    int cell = atoi(argv[1]), train = atoi(argv[2]), dbl = atoi(argv[3]), width = atoi(argv[4]);
    int b = atoi(argv[5]), H = atoi(argv[6]), rounds = atoi(argv[7]);
    double ns = -1;
#ifdef FR_WIDTHS
    if (width == 64) ns = dbl ? bench_d64(cell, train, b, H, rounds) : bench_f64(cell, train, b, H, rounds);
    if (width == 32) ns = dbl ? bench_d32(cell, train, b, H, rounds) : bench_f32(cell, train, b, H, rounds);
#endif
    if (width == 16) ns = dbl ? bench_d16(cell, train, b, H, rounds) : bench_f16(cell, train, b, H, rounds);
    printf("%.2f\n", ns);
    return 0;
}
"""


def main(b, H, rounds, headers):
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = os.path.join(tmp, "pointwise.c"), os.path.join(tmp, "pointwise")
        with open(src, "w") as f:
            f.write(HARNESS)
        cc = os.environ.get("CC", "cc")
        subprocess.run([cc, *FLAGS, "-I", headers, src, "-o", exe, "-lm"], check=True)

        def run(*args):
            return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, check=True).stdout.strip()

        widest = int(run("widths"))
        widths = [w for w in (64, 32, 16) if w <= widest]
        print(f"b {b}, H {H}: ns a hidden unit, min of {rounds} rounds (vector width in bytes)")
        print(f"{'cell':6s}{'mode':11s}{'dtype':9s}" + "".join(f"{w:>8d}" for w in widths))
        for cell, name in ((0, "lstm"), (1, "gru")):
            for train, mode in ((0, "inference"), (1, "training")):
                for dbl, dtype in ((1, "float64"), (0, "float32")):
                    times = [run(cell, train, dbl, w, b, H, rounds) for w in widths]
                    print(f"{name:6s}{mode:11s}{dtype:9s}" + "".join(f"{t:>8s}" for t in times))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--b", type=int, default=32, help="rows (live sequences)")
    parser.add_argument("--H", type=int, default=64, help="hidden units")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--src", default=SRC_C, help="the directory of the headers (default: this checkout's)")
    args = parser.parse_args()
    main(args.b, args.H, args.rounds, args.src)
