"""The kernels' own products (src_c/_gemm.h) against BLAS's, one thread, on the shapes the backward hands them.

    python benchmarks/products.py [--dtypes float32,float64] [--features 1,2,3,4,6,8,12] [--calls N]

For each dtype, shape (P packed rows, G gate columns: a small LSTM's 3200 by 256 and a tiny one's 1600 by 200) and
feature count F, the ratio own time / BLAS time (below 1: the own product is faster) of

- dX = da (P, G) @ W_ih (G, F): the own product on W_ih laid out for the call (fastrnn._blas_check.step_gemm_check,
  as the kernels' gemm_nn does where _blas.pxd's wide_product lets it), against BLAS's GEMM, at every F;
- dW = da^T (G, P) @ X (P, F): fr_gemm_tn (gemm_tn_check), against BLAS's GEMM; where F fills less than
  wide_product asks, both sides run BLAS and the ratio is 1.

Each figure is the min of N calls (default 150) of each side in turn, at the vector width this process runs
(FASTRNN_VECTOR_BYTES=16 or 32 for a narrower one). This sets the rule of _blas.pxd's wide_product: which of the
backward's narrow products the kernels leave to BLAS.
"""
import argparse
import timeit

import numpy as np
from threadpoolctl import threadpool_limits

from fastrnn._blas_check import gemm_tn_check, step_gemm_check, vector_bytes

SHAPES = [(3200, 256), (1600, 200)]


def ratios(dtype, P, G, F, calls):
    """(own / BLAS for dX, own / BLAS for dW) at one shape."""
    rng = np.random.default_rng(0)
    da, W, X = (rng.standard_normal(s).astype(dtype) for s in [(P, G), (G, F), (P, F)])
    dX, dW = np.zeros((P, F), dtype), np.zeros((G, F), dtype)
    with threadpool_limits(1, "blas"):
        dx = [min(timeit.repeat(lambda own=own: step_gemm_check(False, da, W, 0.0, dX, own), number=1, repeat=calls))
              for own in (True, False)]
        dw = [min(timeit.repeat(lambda own=own: gemm_tn_check(own, da, X, False, dW), number=1, repeat=calls))
              for own in (True, False)]
    return dx[0] / dx[1], dw[0] / dw[1]


def main(dtypes, features, calls):
    print(f"vector width {vector_bytes()} bytes; own / BLAS, min of {calls} calls a side")
    for dtype in dtypes:
        for P, G in SHAPES:
            cells = []
            for F in features:
                dx, dw = ratios(dtype, P, G, F, calls)
                cells.append(f"F {F}: dX {dx:.2f} dW {dw:.2f}")
            print(f"{dtype} P {P} G {G}  " + " | ".join(cells))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--features", default="1,2,3,4,6,8,12")
    parser.add_argument("--calls", type=int, default=150)
    args = parser.parse_args()
    main(args.dtypes.split(","), [int(f) for f in args.features.split(",")], args.calls)
