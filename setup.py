"""Build the compiled core: every ``src_c/<name>.pyx`` becomes ``fastrnn._<name>``."""
import os
import subprocess
from glob import glob
from os.path import basename, splitext

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# GCC only, so that the kernels' pointwise loops vectorise: partial redundancy elimination would precompute exp at
# the clamp bounds of _fastmath.h and branch to the constants, and a backward loop reads more arrays than GCC's
# default number of runtime alias checks allows.
GCC_FLAGS = ["-fno-tree-pre", "--param", "vect-max-version-for-alias-checks=64"]


class BuildExt(build_ext):
    def finalize_options(self):
        super().finalize_options()
        # The modules compile independently; one at a time, a fresh install spent 2.5 minutes on them.
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        cc = getattr(self.compiler, "compiler_so", None)
        version = subprocess.run([cc[0], "--version"], capture_output=True, text=True).stdout if cc else ""
        if "Free Software Foundation" in version:
            for ext in self.extensions:
                ext.extra_compile_args += GCC_FLAGS
        super().build_extensions()


def extension(path):
    name = splitext(basename(path))[0]
    return Extension(
        "fastrnn._" + name.lstrip("_"),
        [path],
        include_dirs=[numpy.get_include(), "src_c"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        extra_compile_args=["-O3"],
    )


setup(
    cmdclass={"build_ext": BuildExt},
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
