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
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        extra_compile_args=["-O3"],
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
