"""Shared fixtures: the repository's models and images, and the `vitc` command line to compare with.

Run from the repository root (tests/run.sh does it):
    PYTHONPATH=python VITC_LIBRARY=build/libvitc.so /usr/bin/python3 -m pytest -q python/tests
$VITC names the CLI binary (default build/vitc beside the library)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))

import vitc  # noqa: E402

DEFAULT = os.path.join(ROOT, "models", "default.safetensors")
SEGMENT = os.path.join(ROOT, "models", "segment.safetensors")
IMAGES = sorted(os.path.join(ROOT, "examples", "images", f) for f in os.listdir(os.path.join(ROOT, "examples", "images")))
SCENES = sorted(os.path.join(ROOT, "examples", "scenes", f) for f in os.listdir(os.path.join(ROOT, "examples", "scenes"))
                if f.endswith(".png"))
SHIRT = os.path.join(ROOT, "examples", "images", "0004_shirt.png")
SNEAKER = os.path.join(ROOT, "examples", "images", "0009_sneaker.png")


def vitc_bin():
    return os.environ.get("VITC") or os.path.join(os.path.dirname(os.path.abspath(vitc.library_path())), "vitc")


def sanitized():
    """True when the library is an AddressSanitizer build (tests/run.sh preloads its runtimes)."""
    out = subprocess.run(["ldd", os.path.realpath(vitc.library_path())], capture_output=True, text=True).stdout
    return "libasan" in out


def cli(*args):
    """Runs the vitc CLI; returns stdout (fails the test on a non-zero exit)."""
    p = subprocess.run([vitc_bin()] + [str(a) for a in args], capture_output=True, text=True)
    assert p.returncode == 0, "vitc %s: %s" % (" ".join(map(str, args)), p.stderr)
    return p.stdout


def cli_json(*args):
    return [json.loads(line) for line in cli(*args).splitlines() if line.strip()]


@pytest.fixture(scope="session")
def model():
    m = vitc.Model(DEFAULT, threads=2)
    yield m
    m.close()


@pytest.fixture(scope="session")
def seg_model():
    m = vitc.Model(SEGMENT, threads=2)
    yield m
    m.close()


@pytest.fixture(scope="session")
def wide(tmp_path_factory):
    """A non-square image (121 x 61) made from the shirt: preprocessing resizes and crops it."""
    from PIL import Image
    p = tmp_path_factory.mktemp("img") / "wide.png"
    Image.open(SHIRT).convert("RGB").resize((121, 61), Image.BILINEAR).save(p)
    return str(p)


@pytest.fixture(scope="session")
def wide_scene(tmp_path_factory):
    """A scene stretched to 150 x 100: the mask comes back at that size, through the resize and crop."""
    from PIL import Image
    p = tmp_path_factory.mktemp("img") / "scene_wide.png"
    Image.open(SCENES[1]).convert("RGB").resize((150, 100), Image.BILINEAR).save(p)
    return str(p)
