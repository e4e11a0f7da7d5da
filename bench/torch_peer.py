#!/usr/bin/env python3
"""PyTorch peer for bench/run.sh: times one checkpoint in several execution modes in one process.

Reads the same safetensors file vitc runs (timm names) into tests/ref/vit_ref.py's RefViT. Prints one
JSON object: per mode the timed passes (ms per batch), the build time, and the largest logit
difference from eager mode on the same input.
Modes: eager (no_grad), inference (inference_mode), jit_freeze (trace + freeze), jit_opt (trace +
optimize_for_inference, which moves convolutions/linears to oneDNN), jit_opt_cl (jit_opt with a
channels-last input).
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
from vit_ref import Cfg, RefViT  # noqa: E402

MODES = ["eager", "inference", "jit_freeze", "jit_opt", "jit_opt_cl"]


def read_safetensors(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", name
        a, b = t["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=np.float32).reshape(t["shape"]).copy())
    return out


class Logits(torch.nn.Module):
    """RefViT returning only the logits (traceable, exportable)."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x)[0]


def load(path, cfg):
    m = RefViT(Cfg(**cfg))
    m.load_state_dict(read_safetensors(path))
    return Logits(m).eval()


def build(mode, model, x):
    if mode in ("eager", "inference"):
        return model
    with torch.no_grad():
        tr = torch.jit.trace(model, x)
        if mode == "jit_freeze":
            return torch.jit.freeze(tr.eval())
        return torch.jit.optimize_for_inference(tr.eval())


def blas_info():
    """Which BLAS this process's torch calls (the shared library mapped for sgemm_) and a 512^3 matmul
    probe: Debian's torch is built against the generic libblas.so.3, whose alternative is the
    reference (netlib) BLAS unless OpenBLAS is installed."""
    a = torch.rand(512, 512)
    b = torch.rand(512, 512)
    best = float("inf")
    for _ in range(5):
        s = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - s)
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                if "blas" in os.path.basename(path) or "mkl" in os.path.basename(path):
                    libs.add(os.path.realpath(path))
    except OSError:
        pass
    lib = ",".join(sorted(libs)) or "?"
    if "openblas" in lib:
        name = "OpenBLAS"
    elif "mkl" in lib:
        name = "MKL"
    elif "/blas/" in lib:
        name = "reference BLAS (netlib)"
    else:
        name = "unknown"
    return {"name": name, "library": lib, "matmul512_gflops": round(2 * 512 ** 3 / best / 1e9, 2)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--cfg", required=True, help="Cfg keyword arguments as JSON")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--logits-out", help="also save eager logits of --input here (.npy)")
    ap.add_argument("--input", help="float32 .npy input to run instead of random data")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    model = load(a.model, json.loads(a.cfg))
    load_ms = (time.perf_counter() - t0) * 1e3
    if a.input:
        x = torch.from_numpy(np.load(a.input))
    else:
        x = torch.rand(a.batch, 3, a.size, a.size) * 2 - 1  # normalized with mean = std = 0.5
    with torch.no_grad():
        ref = model(x)
    if a.logits_out:
        np.save(a.logits_out, ref.numpy())
    res = {"torch": torch.__version__, "load_ms": load_ms, "batch": x.shape[0], "threads": a.threads, "modes": {}}
    for mode in a.modes.split(","):
        if mode not in MODES:
            sys.exit(f"torch_peer: unknown mode {mode}")
        xin = x.contiguous(memory_format=torch.channels_last) if mode.endswith("_cl") else x
        t0 = time.perf_counter()
        fn = build(mode, model, xin)
        build_ms = (time.perf_counter() - t0) * 1e3
        ctx = torch.inference_mode if mode == "inference" else torch.no_grad
        times = []
        with ctx():
            y = fn(xin)
            diff = float((y - ref).abs().max())
            warm = a.warmup + (2 if mode.startswith("jit") else 0)  # the profiling executor optimizes after 2 runs
            for i in range(warm + a.iters):
                s = time.perf_counter()
                fn(xin)
                if i >= warm:
                    times.append((time.perf_counter() - s) * 1e3)
        res["modes"][mode] = {"times_ms": times, "build_ms": build_ms, "max_abs_diff_vs_eager": diff}
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    res["blas"] = blas_info()
    print(json.dumps(res))


if __name__ == "__main__":
    main()
