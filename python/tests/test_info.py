"""Model.info against `vitc info --json`; versions against `vitc --version`."""
import math

import pytest
import vitc
from conftest import DEFAULT, SEGMENT, cli, cli_json


def same(a, b, path=""):
    if isinstance(b, dict):
        assert isinstance(a, dict), path
        for k in b:
            same(a[k], b[k], path + "." + k)
    elif isinstance(b, list):
        assert isinstance(a, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, "%s[%d]" % (path, i))
    elif isinstance(b, float) or isinstance(a, float):
        assert math.isclose(a, b, rel_tol=1e-5), (path, a, b)
    else:
        assert a == b, (path, a, b)


@pytest.mark.parametrize("path", [DEFAULT, SEGMENT])
def test_info_matches_cli(path):
    ref = cli_json("info", path, "--json")[0]
    del ref["file"]
    m = vitc.Model(path, threads=1)
    info = m.info
    assert set(ref) <= set(info), set(ref) - set(info)
    same(info, ref)
    assert info["num_prefix_tokens"] == info["class_token"] + info["dist_token"] + info["reg_tokens"]
    assert m.labels == ref["labels"] and m.label(0) == ref["labels"][0] and m.label(10 ** 6) is None
    info["labels"].append("changed")  # info is a copy
    assert m.info["labels"] == ref["labels"]
    m.close()


def test_versions():
    v = cli("--version").split()[1]
    assert vitc.__version__ == v and vitc.library_version() == v
    major, minor, patch = (int(p) for p in v.split("."))
    assert major >= 0 and minor >= 0 and patch >= 0


def test_task(model, seg_model):
    assert model.info["task"] == "classify" and "decoder" not in model.info
    assert seg_model.info["task"] == "segment" and seg_model.info["decoder"]["type"] == "linear"
    assert "vit_fashion-mnist" in repr(model)


def test_labels_file(tmp_path):
    lab = tmp_path / "labels.txt"
    lab.write_text("".join("class %d\n" % i for i in range(10)))
    m = vitc.Model(DEFAULT, threads=1, labels=str(lab))
    assert m.labels[3] == "class 3"
    assert m.classify(DEFAULT.replace("models/default.safetensors", "examples/images/0009_sneaker.png"))[0][0]["label"] == "class 7"
