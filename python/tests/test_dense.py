"""embed, attention, segment: equal to `vitc embed --out`, `vitc attention --npy` and `vitc segment`
bit for bit."""
import numpy as np
import pytest
import vitc
from conftest import DEFAULT, IMAGES, SCENES, SEGMENT, SHIRT, SNEAKER, cli, cli_json


def test_embed_matches_cli(model, tmp_path, wide):
    imgs = IMAGES[:4] + [wide]
    cli("embed", DEFAULT, *imgs, "--out", tmp_path / "f.npy")
    ref = np.load(tmp_path / "f.npy")
    got = model.embed(imgs)
    assert got.dtype == np.float32 and got.shape == (5, 128)
    assert np.array_equal(got, ref)
    assert np.array_equal(model.embed(imgs, batch=1), ref)


def test_embed_tokens_matches_cli(model, tmp_path):
    cli("embed", DEFAULT, SHIRT, SNEAKER, "--tokens", "--out", tmp_path / "t.npy")
    ref = np.load(tmp_path / "t.npy")
    got = model.embed([SHIRT, SNEAKER], tokens=True)
    assert got.shape == (2, 197, 128) and np.array_equal(got, ref)
    with pytest.raises(vitc.Error, match="one input size"):
        model.embed([SHIRT, np.zeros((3, 64, 64), np.float32)], tokens=True)
    assert model.embed([SHIRT, np.zeros((3, 64, 64), np.float32)]).shape == (2, 128)


@pytest.mark.parametrize("head,rollout,args", [(None, False, []), (2, False, ["--head", "2"]),
                                               (None, True, ["--rollout"]), (0, True, ["--rollout", "--head", "0"])])
def test_attention_matches_cli(model, tmp_path, wide, head, rollout, args):
    cli("attention", DEFAULT, wide, "--out", tmp_path, "--npy", *args)
    ref = np.load(tmp_path / "wide.attention.npy")
    got = model.attention(wide, head=head, rollout=rollout)
    assert got.dtype == np.float32 and got.shape == (14, 14)
    assert np.array_equal(got, ref)
    assert np.array_equal(model.attention(model.preprocess(wide), head=head, rollout=rollout), ref)


def test_attention_other_size(model):
    x = np.random.default_rng(1).standard_normal((3, 32, 64)).astype(np.float32)
    assert model.attention(x).shape == (8, 16)
    assert np.array_equal(model.attention(x[None]), model.attention(x))


def test_segment_matches_cli(seg_model, tmp_path, wide_scene):
    from PIL import Image
    imgs = SCENES[:3] + [wide_scene]
    ref = cli_json("segment", SEGMENT, *imgs, "--out", tmp_path, "--json")
    for img, r in zip(imgs, ref):
        got = seg_model.segment(img)
        want = np.asarray(Image.open(r["mask"]))
        assert got["mask"].dtype == np.uint8 and got["mask"].shape == (r["height"], r["width"]) == want.shape
        assert np.array_equal(got["mask"], want)
        assert (got["width"], got["height"]) == (r["width"], r["height"])
        assert [(c["class"], c["label"], c["pixels"]) for c in got["classes"]] == \
               [(c["class"], c["label"], c["pixels"]) for c in r["classes"]]
        assert ["%.6f" % c["fraction"] for c in got["classes"]] == ["%.6f" % c["fraction"] for c in r["classes"]]
    assert seg_model.segment(wide_scene)["mask"].shape == (100, 150)


def test_segment_scores_and_tensor(seg_model):
    r = seg_model.segment(SCENES[0], scores=True)
    sc = r["scores"]
    assert sc.dtype == np.float32 and sc.shape == (11, 96, 96)
    assert np.array_equal(np.argmax(sc, axis=0).astype(np.uint8), r["mask"])
    x = seg_model.preprocess(SCENES[0])
    t = seg_model.segment(x)
    assert t["mask"].shape == (96, 96) and (t["width"], t["height"]) == (96, 96)
    # a scene at the model's own size (crop_pct 1): the tensor's mask is the image's
    assert np.array_equal(t["mask"], r["mask"])
    assert sum(c["pixels"] for c in t["classes"]) == 96 * 96
