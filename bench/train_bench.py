#!/usr/bin/env python3
"""Training speed of PyTorch eager on the model `vitc train` builds (timm-style ViT, AdamW,
label-smoothed cross-entropy, gradient clipping): images per second over forward + backward +
optimizer step, with the same batch and thread count. With --vitc, `vitc train` (Fashion-MNIST,
same model, batch and threads; its data loader and augmentation included) is timed too, the two
interleaved over --rounds rounds so that load from elsewhere on the machine hits both alike; each
round prints both rates and their ratio, and the last line the medians.

Usage: bench/train_bench.py [--dim 128 --depth 6 --heads 4 --mlp-dim 256 --patch 4 --img-size 28
       --batch 128 --threads 2 --steps 20 --rounds 3] [--vitc 'PATH [TRAIN OPTIONS]']... [--torch-bf16]
OMP_WAIT_POLICY (default PASSIVE, as `vitc train` sets it) applies to both.
"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--mlp-dim", type=int, default=256)
    ap.add_argument("--patch", type=int, default=4)
    ap.add_argument("--img-size", type=int, default=28)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds (PyTorch, then vitc)")
    ap.add_argument("--vitc", action="append", default=[],
                    help="also time `vitc train` (Fashion-MNIST, same model) with this binary, optionally followed by "
                         "extra train options in the same string, e.g. 'build/vitc --bf16' (repeatable: each is timed "
                         "in every round)")
    ap.add_argument("--torch-bf16", action="store_true",
                    help="PyTorch under torch.autocast('cpu', dtype=torch.bfloat16) (its mixed precision)")
    ap.add_argument("--openblas-threads", type=int, default=1,
                    help="OPENBLAS_NUM_THREADS for PyTorch (default 1: Debian's torch runs its matmuls through "
                         "OpenBLAS, whose own pthreads then compete with torch's threads; on the 2-core Zen 3 VM "
                         "(2026-12-07) 1 gave 74.5 img/s against 25.0 with 2, so 1 is PyTorch's best)")
    a = ap.parse_args()
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[k] = str(a.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(a.openblas_threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch
    import torch.nn.functional as F
    from vit_ref import Cfg, RefViT

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = Cfg(dim=a.dim, depth=a.depth, heads=a.heads, mlp_ratio=a.mlp_dim / a.dim, patch=a.patch,
              img_size=a.img_size, num_classes=a.classes)
    model = RefViT(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    x = torch.randn(a.batch, 3, a.img_size, a.img_size)
    y = torch.randint(0, a.classes, (a.batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.torch_bf16):
            logits, _ = model(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=0.1)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for _ in range(3):
        step()

    def time_torch():
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        return a.steps * a.batch / (time.perf_counter() - t0)

    def time_vitc(binary):
        # steps + 1 steps: vitc's rate leaves out the first step (activation layout, page faults)
        n = a.batch * (a.steps + 1)
        binary, *extra = binary.split()
        out = subprocess.run([binary, "train", *extra, "--data", "fashion-mnist", "--dim", str(a.dim), "--depth", str(a.depth),
                              "--heads", str(a.heads), "--mlp-dim", str(a.mlp_dim), "--patch", str(a.patch),
                              "--batch", str(a.batch), "--threads", str(a.threads), "--limit", str(n),
                              "--val-limit", "1", "--epochs", "1", "--out", "/tmp/vitc_train_bench.safetensors"],
                             capture_output=True, text=True)
        rates = re.findall(r"([0-9.]+) img/s", out.stderr)
        if not rates:
            sys.exit("vitc train failed: %s" % (out.stderr.strip().splitlines()[-1:] or out.returncode))
        return float(rates[-1])

    print(f"pytorch {torch.__version__} eager{' (autocast bf16)' if a.torch_bf16 else ''} vs vitc train: batch {a.batch}, {a.threads} threads, dim {a.dim} "
          f"depth {a.depth} heads {a.heads} mlp {a.mlp_dim} patch {a.patch} {a.img_size}x{a.img_size}, "
          f"{a.steps} steps per measurement, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}", flush=True)
    pt, vt = [], [[] for _ in a.vitc]
    names = a.vitc if len(a.vitc) > 1 else ["vitc"]
    for r in range(a.rounds):
        pt.append(time_torch())
        line = f"round {r + 1}: pytorch {pt[-1]:.1f} img/s"
        for i, b in enumerate(a.vitc):
            vt[i].append(time_vitc(b))
            line += f", {names[i]} {vt[i][-1]:.1f} img/s (x{vt[i][-1] / pt[-1]:.2f})"
        print(line, flush=True)
    med = lambda v: sorted(v)[len(v) // 2]
    line = f"median: pytorch {med(pt):.1f} img/s"
    for i in range(len(a.vitc)):
        ratios = [v / p for v, p in zip(vt[i], pt)]
        line += (f", {names[i]} {med(vt[i]):.1f} img/s, vitc/pytorch {med(vt[i]) / med(pt):.2f}x "
                 f"(median of ratios {med(ratios):.2f}x)")
    print(line)


if __name__ == "__main__":
    main()
