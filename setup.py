"""Build the compiled core: every ``src_c/<name>.pyx`` becomes ``fastrnn._<name>``."""
from glob import glob
from os.path import basename, splitext

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup


def extension(path):
    name = splitext(basename(path))[0]
    return Extension(
        "fastrnn._" + name.lstrip("_"),
        [path],
        include_dirs=[numpy.get_include(), "src_c"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        # GCC's partial redundancy elimination precomputes exp at the clamp bounds of _fastmath.h and branches to
        # the constants, which stops the pointwise loops from vectorising.
        extra_compile_args=["-O3", "-fno-tree-pre"],
    )


setup(
    ext_modules=cythonize(
        [extension(p) for p in sorted(glob("src_c/*.pyx"))],
        include_path=["src_c"],
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
)
