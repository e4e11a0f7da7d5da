"""classify / logits / preprocess: equal to `vitc classify --json --logits` and `vitc preprocess`
bit for bit, whatever form the image comes in."""
import io

import numpy as np
import pytest
import vitc
from conftest import DEFAULT, IMAGES, SNEAKER, cli, cli_json


def test_classify_matches_cli(model):
    ref = cli_json("classify", DEFAULT, *IMAGES, "--json", "--logits", "--top", "10")
    got = model.classify(IMAGES, top=10)
    lg = model.logits(IMAGES)
    assert len(got) == len(ref) == len(IMAGES) and lg.shape == (len(IMAGES), 10) and lg.dtype == np.float32
    for g, r, row in zip(got, ref, lg):
        assert [t["index"] for t in g] == [t["index"] for t in r["top"]]
        assert [t["label"] for t in g] == [t["label"] for t in r["top"]]
        assert ["%.6g" % t["score"] for t in g] == ["%.6g" % t["prob"] for t in r["top"]]
        # the CLI prints logits with %.9g: each float32 comes back exactly
        assert np.array_equal(row, np.array(r["logits"], dtype=np.float32))


def test_top_and_single_image(model):
    one = model.classify(SNEAKER)
    assert len(one) == 1 and len(one[0]) == 5 and one[0][0]["label"] == "Sneaker"
    assert one[0] == model.classify([SNEAKER], top=5)[0]
    assert len(model.classify(SNEAKER, top=1)[0]) == 1
    assert len(model.classify(SNEAKER, top=50)[0]) == 10  # clipped to the classes, as the CLI
    scores = [t["score"] for t in model.classify(SNEAKER, top=10)[0]]
    assert scores == sorted(scores, reverse=True) and abs(sum(scores) - 1) < 1e-5
    assert model.classify([]) == [] and model.logits([]).shape == (0, 10)


def test_image_forms_agree(model):
    from PIL import Image
    data = open(SNEAKER, "rb").read()
    pil = Image.open(SNEAKER)
    arr = np.asarray(pil.convert("RGB"))
    pre = model.preprocess(SNEAKER)
    forms = [SNEAKER, __import__("pathlib").Path(SNEAKER), data, bytearray(data), memoryview(data), pil, arr, pre, pre[None]]
    lg = model.logits(forms)
    assert lg.shape == (len(forms), 10)
    for row in lg[1:]:
        assert np.array_equal(row, lg[0])
    # JPEG bytes decode in the library too
    buf = io.BytesIO()
    pil.convert("RGB").save(buf, "JPEG", quality=95)
    jpg = buf.getvalue()
    assert np.array_equal(model.logits(jpg), model.logits(np.asarray(Image.open(io.BytesIO(jpg)).convert("RGB"))))


def test_preprocess_matches_cli(model, tmp_path, wide):
    for img in (SNEAKER, wide):
        out = tmp_path / "x.npy"
        cli("preprocess", img, "--model", DEFAULT, "--out", out)
        ref = np.load(out)
        x = model.preprocess(img)
        assert x.dtype == np.float32 and x.shape == (3, 56, 56)
        assert np.array_equal(x, ref)


def test_batches_are_bitwise_equal(model):
    full = model.logits(IMAGES, batch=8)
    for b in (1, 3, 16):
        assert np.array_equal(model.logits(IMAGES, batch=b), full)
    single = np.concatenate([model.logits(p) for p in IMAGES])
    assert np.array_equal(single, full)


def test_preprocessed_other_size_matches_cli(model, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 64, 48)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    ref = cli_json("classify", DEFAULT, tmp_path / "x.npy", "--json", "--logits")
    lg = model.logits(x)
    assert np.array_equal(lg, np.array([r["logits"] for r in ref], dtype=np.float32))
    # an image and a tensor of another size in one call: batched by size, order kept
    mixed = model.logits([SNEAKER, x, SNEAKER])
    assert np.array_equal(mixed[0], mixed[3]) and np.array_equal(mixed[1:3], lg)


def test_threads_option_gives_same_numbers():
    a = vitc.Model(DEFAULT, threads=1).logits(IMAGES)
    b = vitc.Model(DEFAULT, threads=2).logits(IMAGES)
    assert np.array_equal(a, b)


def test_int8_matches_cli_and_quantized_file(tmp_path):
    q8 = str(tmp_path / "q8.safetensors")
    cli("quantize", DEFAULT, "--out", q8)
    ref = cli_json("classify", DEFAULT, *IMAGES, "--json", "--logits", "--int8")
    m = vitc.Model(DEFAULT, int8=True)
    f = vitc.Model(q8)
    assert m.int8 == 1 and f.int8 == 1 and vitc.Model(DEFAULT).int8 == 0
    lg, lf = m.logits(IMAGES), f.logits(IMAGES)
    assert np.array_equal(lg, lf)
    for row, r in zip(lg, ref):
        assert np.array_equal(row, np.array(r["logits"], dtype=np.float32))
    fp = vitc.Model(DEFAULT).logits(IMAGES)
    cos = (fp * lg).sum(1) / np.linalg.norm(fp, axis=1) / np.linalg.norm(lg, axis=1)
    assert cos.min() > 0.999 and (fp.argmax(1) == lg.argmax(1)).all()
