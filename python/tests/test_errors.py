"""Bad input raises vitc.Error with a message naming the problem (the C library's where it comes
from there), never a crash."""
import numpy as np
import pytest
import vitc
from conftest import DEFAULT, SEGMENT, SNEAKER


def raises(match, fn, *args, **kw):
    with pytest.raises(vitc.Error, match=match) as e:
        fn(*args, **kw)
    assert str(e.value) and "\n" not in str(e.value)
    return e.value


def test_missing_model(tmp_path):
    e = raises("nope.safetensors", vitc.Model, str(tmp_path / "nope.safetensors"))
    assert e.status_name == "I/O error"


def test_corrupt_model(tmp_path):
    p = tmp_path / "bad.safetensors"
    p.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    e = raises("bad.safetensors", vitc.Model, str(p))
    assert e.status == 3  # VITC_ERR_FORMAT


def test_missing_image(model, tmp_path):
    e = raises("nope.png", model.classify, str(tmp_path / "nope.png"))
    assert e.status_name == "I/O error"
    raises("nope.png", model.classify, [SNEAKER, str(tmp_path / "nope.png")])


def test_corrupt_image_bytes(model, seg_model):
    data = open(SNEAKER, "rb").read()
    e = raises("<memory>", model.classify, b"this is not an image")
    assert e.status_name == "format error"
    raises("<memory>", model.embed, data[: len(data) // 2])  # truncated PNG
    raises("<memory>", model.attention, b"")
    raises("<memory>", seg_model.segment, b"\xff\xd8\xff\xe0 truncated jpeg")


def test_corrupt_image_file(model, tmp_path):
    p = tmp_path / "bad.png"
    p.write_bytes(b"not an image")
    raises("bad.png", model.classify, str(p))


def test_wrong_arrays(model):
    raises("float32, not float64", model.classify, np.zeros((1, 3, 56, 56)))
    raises("uint8 H x W x 3", model.classify, np.zeros((56, 56), np.uint8))
    raises("uint8 H x W x 3", model.classify, np.zeros((56, 56, 4), np.uint8))
    raises("N x 3 x H x W", model.classify, np.zeros((1, 1, 56, 56), np.float32))
    raises("N x 3 x H x W", model.classify, np.zeros((56, 56), np.float32))
    raises("N x 3 x H x W", model.embed, np.zeros((3, 0, 56), np.float32))
    raises("multiple of the patch", model.classify, np.zeros((3, 30, 30), np.float32))  # the C library's check
    raises("multiple of the patch", model.attention, np.zeros((3, 30, 30), np.float32))
    raises("float32, not int64", model.embed, np.zeros((3, 56, 56), np.int64))
    raises("not an object of type int", model.classify, 42)
    raises("type NoneType", model.classify, [None])
    raises("takes one image", model.attention, [SNEAKER])
    raises("takes one image", model.attention, np.zeros((2, 3, 56, 56), np.float32))


def test_bad_arguments(model, seg_model):
    raises("top must be", model.classify, SNEAKER, top=0)
    raises("batch must be", model.classify, SNEAKER, batch=0)
    raises("0..3", model.attention, SNEAKER, head=4)  # the C library's range check
    raises("head must be", model.attention, SNEAKER, head=-1)
    raises("head must be", model.attention, SNEAKER, head="2")
    raises("threads must be", vitc.Model, DEFAULT, threads=0)
    raises("heads must be", vitc.Model, DEFAULT, heads=-2)


def test_task_mismatch(model, seg_model):
    e = raises("segmentation model", seg_model.classify, SNEAKER)
    assert e.status_name == "unsupported"
    raises("classifier", model.segment, SNEAKER)


def test_closed_model():
    m = vitc.Model(DEFAULT, threads=1)
    with m:
        assert m.classify(SNEAKER)
    raises("closed", m.classify, SNEAKER)
    m.close()  # twice is fine


def test_error_is_an_exception():
    assert issubclass(vitc.Error, Exception)
    e = vitc.Error("x", 4)
    assert e.status == 4 and e.status_name == "shape mismatch"


def test_huge_array_refused(model):
    # 40000 pixels wide: over the library's side limit, refused before any allocation of that size
    big = np.lib.stride_tricks.as_strided(np.zeros(3, np.uint8), shape=(2, 40000, 3), strides=(0, 0, 1))
    raises("limit", model.classify, big)


def test_library_not_found(tmp_path):
    """$VITC_LIBRARY naming a missing file: vitc.Error at first use, naming it (import still works)."""
    import os
    import subprocess
    import sys
    from conftest import ROOT
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import vitc\n"
            "try:\n    vitc.Model(sys.argv[2])\nexcept vitc.Error as e:\n    print('Error:', e, '|', e.status_name)")
    env = dict(os.environ, VITC_LIBRARY=str(tmp_path / "nope.so"))
    p = subprocess.run([sys.executable, "-c", code, os.path.join(ROOT, "python"), DEFAULT], capture_output=True,
                       text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("Error: libvitc not found in $VITC_LIBRARY") and "nope.so" in p.stdout, p.stdout
