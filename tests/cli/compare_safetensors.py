#!/usr/bin/env python3
"""Compares the float tensors of two safetensors files: prints the largest absolute difference and
the largest difference relative to the tensor's largest magnitude; exits 1 when the names or shapes
differ or a difference exceeds --atol + --rtol * max|a| of its tensor.
Usage: compare_safetensors.py A B [--atol X] [--rtol Y]"""
import json, struct, sys
import numpy as np

DT = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8}


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, t in head.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(raw[base + a:base + b], dtype=DT[t["dtype"]]).reshape(t["shape"])
    return out


def main():
    args = sys.argv[1:]
    atol = rtol = 0.0
    if "--atol" in args:
        i = args.index("--atol"); atol = float(args[i + 1]); del args[i:i + 2]
    if "--rtol" in args:
        i = args.index("--rtol"); rtol = float(args[i + 1]); del args[i:i + 2]
    a, b = load(args[0]), load(args[1])
    if sorted(a) != sorted(b):
        print("different tensor names"); return 1
    worst_abs = worst_rel = 0.0
    worst = ""
    ok = True
    for k in sorted(a):
        x, y = a[k].astype(np.float64), b[k].astype(np.float64)
        if x.shape != y.shape:
            print(f"{k}: shapes {x.shape} {y.shape}"); return 1
        if x.size == 0:
            continue
        d = float(np.max(np.abs(x - y)))
        scale = float(np.max(np.abs(x)))
        rel = d / scale if scale > 0 else d
        if d > worst_abs:
            worst_abs, worst = d, k
        worst_rel = max(worst_rel, rel)
        if d > atol + rtol * scale:
            ok = False
            print(f"{k}: max abs difference {d:.3g} (max |a| {scale:.3g})")
    print(f"max abs difference {worst_abs:.3g} ({worst or '-'}), max relative to the tensor's scale {worst_rel:.3g}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
