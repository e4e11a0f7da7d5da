#!/usr/bin/env python3
"""Writes broken checkpoints for the bad-input tests: DIR/bad/<problem>.safetensors.

Each file starts from a valid small timm checkpoint and breaks one thing, so the C side must name
that thing in a one-line error. Usage: make_bad_fixtures.py --out DIR
"""
import argparse
import json
import os
import struct

import numpy as np
import torch

from vit_ref import Cfg, RefViT, randomize


def tensors():
    torch.manual_seed(0)
    m = RefViT(Cfg(dim=64, depth=1, heads=1, num_classes=3))
    randomize(m, 0)
    return {k: v.detach().numpy().astype(np.float32) for k, v in m.state_dict().items()}


def layout(ts, dtypes=None):
    header, blobs, off = {}, [], 0
    for name in sorted(ts):
        b = ts[name].tobytes()
        dt = (dtypes or {}).get(name, "F32")
        header[name] = {"dtype": dt, "shape": list(ts[name].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    return header, b"".join(blobs)


def pack(header, data, raw_header=None):
    h = raw_header if raw_header is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    out = os.path.join(ap.parse_args().out, "bad")
    os.makedirs(out, exist_ok=True)
    ts = tensors()
    header, data = layout(ts)
    good = pack(header, data)
    cases = {}
    cases["truncated"] = good[: len(good) // 2]
    cases["header_past_end"] = struct.pack("<Q", 10 ** 9) + good[8:100]
    cases["bad_json"] = pack(None, data, raw_header=b'{"pos_embed": {"dtype": "F32", "shape": [1,2')
    h = json.loads(json.dumps(header))
    h["head.weight"]["data_offsets"][1] += 4 * 10 ** 6
    cases["offset_out_of_range"] = pack(h, data)
    h = json.loads(json.dumps(header))
    h["head.bias"]["data_offsets"] = list(h["head.weight"]["data_offsets"])
    h["head.bias"]["shape"] = [int(np.prod(ts["head.weight"].shape))]
    cases["overlapping"] = pack(h, data)
    t2 = dict(ts)
    del t2["blocks.0.mlp.fc1.bias"]
    cases["missing_tensor"] = pack(*layout(t2))
    t2 = dict(ts)
    t2["head.weight"] = np.ascontiguousarray(ts["head.weight"].T)
    cases["wrong_shape"] = pack(*layout(t2))
    t2 = dict(ts)
    t2["blocks.0.norm1.weight"] = ts["blocks.0.norm1.weight"].astype(np.int32)
    cases["wrong_dtype"] = pack(*layout(t2, {"blocks.0.norm1.weight": "I32"}))
    cases["empty"] = b""
    cases["not_vit"] = pack(*layout({"foo": np.zeros(4, np.float32)}))
    for name, blob in cases.items():
        with open(os.path.join(out, name + ".safetensors"), "wb") as f:
            f.write(blob)
    with open(os.path.join(out, "good.safetensors"), "wb") as f:
        f.write(good)
    print(f"bad fixtures: {len(cases)} broken checkpoints in {out}")


if __name__ == "__main__":
    main()
