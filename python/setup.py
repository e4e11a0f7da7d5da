"""Builds the vitc Python package: the ctypes layer plus a copy of libvitc.so inside it.

The library is the one `make` built: $VITC_BUILD/libvitc.so (VITC_BUILD defaults to build/ in the
repository root, the folder above this one). The version is read from include/vitc.h.
    make && python3 -m pip install --no-build-isolation --no-index ./python   (in a venv; see README.md)
"""
import os
import re
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def version():
    header = os.path.join(ROOT, "include", "vitc.h")
    with open(header) as f:
        text = f.read()
    parts = []
    for part in ("MAJOR", "MINOR", "PATCH"):
        m = re.search(r"^#define VITC_VERSION_%s (\d+)$" % part, text, re.M)
        if not m:
            raise SystemExit("setup.py: VITC_VERSION_%s not found in %s" % (part, header))
        parts.append(m.group(1))
    return ".".join(parts)


def library():
    build = os.environ.get("VITC_BUILD") or os.path.join(ROOT, "build")
    lib = os.path.join(build if os.path.isabs(build) else os.path.join(ROOT, build), "libvitc.so")
    if not os.path.exists(lib):
        raise SystemExit("setup.py: %s not found: build the library first (`make` in %s)" % (lib, ROOT))
    return os.path.realpath(lib)


class BuildPyWithLibrary(build_py):
    """The usual build_py, then libvitc.so copied into the package (vitc/libvitc.so)."""

    def run(self):
        super().run()
        dest = os.path.join(self.build_lib, "vitc", "libvitc.so")
        shutil.copyfile(library(), dest)
        os.chmod(dest, 0o755)


class BinaryDistribution(Distribution):
    """The package carries a native library: a platform wheel, not a pure-Python one."""

    def has_ext_modules(self):
        return True


setup(
    name="vitc",
    version=version(),
    description="Vision Transformers in C (ViT, DeiT): classify, segment, attention maps, embeddings",
    long_description=open(os.path.join(HERE, "README.md")).read(),
    long_description_content_type="text/markdown",
    packages=["vitc"],
    python_requires=">=3.9",
    install_requires=["numpy"],
    cmdclass={"build_py": BuildPyWithLibrary},
    distclass=BinaryDistribution,
    zip_safe=False,
)
